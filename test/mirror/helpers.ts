// Helpers for mirror tests: every file of a mirror directory as URL paths, and the comparison with the live routes.
import fs from 'node:fs';
import path from 'node:path';
import { routeOfPath, TEMP_DIR } from '../../src/mirror/paths.ts';

/** URL paths of every file under a mirror directory (temporary files left out). */
export function mirroredPaths(dir: string): string[] {
  const out: string[] = [];
  const walk = (sub: string) => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.posix.join(sub, entry.name);
      if (rel === TEMP_DIR) continue;
      if (entry.isDirectory()) walk(rel);
      else out.push(`/${rel}`);
    }
  };
  walk('');
  return out.sort();
}

export type Fetcher = (urlPath: string, headers?: Record<string, string>) => Promise<Response>;

/**
 * Differences between a mirror directory and the live routes: for every file, the live GET of its
 * path (with `Accept-Encoding: gzip` for a `.gz` copy, whose bytes are the gzip answer's) must be 200
 * with the same bytes. Returns one line per difference.
 */
export async function differencesFromLive(dir: string, get: Fetcher): Promise<string[]> {
  const problems: string[] = [];
  for (const urlPath of mirroredPaths(dir)) {
    const route = routeOfPath(urlPath);
    if (!route) {
      problems.push(`${urlPath}: not a mirrored route`);
      continue;
    }
    const gz = urlPath.endsWith('.gz');
    const res = await get(gz ? urlPath.slice(0, -3) : urlPath, gz ? { 'accept-encoding': 'gzip' } : {});
    const live = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) problems.push(`${urlPath}: live route answered ${res.status}`);
    else if (!live.equals(fs.readFileSync(path.join(dir, urlPath)))) problems.push(`${urlPath}: bytes differ from the live route`);
    else if (!gz && res.headers.get('content-type') !== route.contentType)
      problems.push(`${urlPath}: live content type ${res.headers.get('content-type')}, mirror table ${route.contentType}`);
  }
  return problems;
}
