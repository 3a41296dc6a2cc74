// What a reader of a static mirror directory could see that is wrong after a crash of its writer: a file
// that is not a mirrored path, a file under its own name that is not whole, a head (checkpoint, latest
// feed, latest follower update) pointing at files that are not there.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { parsePublicKey, verifySignedObject } from '../../src/authority/crypto.ts';
import type { Sqlite } from '../../src/db/database.ts';
import { routeOfPath, TEMP_DIR } from '../../src/mirror/paths.ts';
import { mirroredPaths } from '../mirror/helpers.ts';
import { logFilePaths } from '../transparency/helpers.ts';

/** Documents the writer builds itself (signed or generated at its own time): checked whole, not byte for byte. */
export const DOCUMENTS = new Set(['/.well-known/network-authority', '/connectome.json', '/connectome.json.gz']);
/** Replaced as the authority publishes: after a kill they may show an older head than the live routes. */
export const HEADS = new Set(['/log/checkpoint', '/revocation-feeds/latest', '/sovereign-revocation-feed', '/follower/updates/latest']);

/** The authority whose mirror is checked: its live routes and its database. */
export interface MirrorSource {
  request(urlPath: string): Promise<Response>;
  sqlite: Sqlite;
}

export interface CheckFigures {
  filesSeen: number;
  headsChecked: number;
}

/**
 * Every problem a reader of `output` could meet, one line each. `immutable` remembers the live bytes of
 * files that never change under their name, across calls (and across restarts of the authority).
 */
export async function mirrorInconsistencies(
  output: string,
  source: MirrorSource,
  immutable: Map<string, Buffer>,
  figures: CheckFigures,
): Promise<string[]> {
  const problems: string[] = [];
  const paths = mirroredPaths(output);
  figures.filesSeen += paths.length;
  for (const p of paths) if (!routeOfPath(p)) problems.push(`${p}: not a mirrored path (a temporary file outside ${TEMP_DIR}?)`);
  // Files that never change under their name: the live route's bytes (heads and documents checked below).
  for (const p of paths) {
    if (DOCUMENTS.has(p) || HEADS.has(p) || !routeOfPath(p)) continue;
    let expected = immutable.get(p);
    if (!expected) {
      const res = await source.request(p);
      expected = res.status === 200 ? Buffer.from(await res.arrayBuffer()) : Buffer.from(`HTTP ${res.status}`);
      immutable.set(p, expected);
    }
    if (!expected.equals(fs.readFileSync(path.join(output, p)))) problems.push(`${p}: not the live route's bytes`);
  }
  const file = (p: string) => path.join(output, p);
  // Documents of the run: whole.
  if (fs.existsSync(file('/.well-known/network-authority'))) {
    try {
      const declaration = JSON.parse(fs.readFileSync(file('/.well-known/network-authority'), 'utf8'));
      const keys = declaration.public_keys.map((k: { public_key: string }) => {
        const parsed = parsePublicKey(k.public_key);
        if (!parsed.ok) throw new Error('bad key');
        return parsed.key;
      });
      if (!verifySignedObject(declaration, keys).valid) problems.push('the declaration does not verify');
    } catch (err) {
      problems.push(`the declaration is not whole: ${(err as Error).message}`);
    }
  }
  for (const [p, read] of [
    ['/sovereign-revocation-feed', (b: Buffer) => b],
    ['/connectome.json', (b: Buffer) => b],
    ['/connectome.json.gz', (b: Buffer) => zlib.gunzipSync(b)],
  ] as const) {
    if (!fs.existsSync(file(p))) continue;
    try {
      JSON.parse(read(fs.readFileSync(file(p))).toString('utf8'));
    } catch (err) {
      problems.push(`${p} is not whole: ${(err as Error).message}`);
    }
  }
  // The checkpoint: one the authority signed, and every tile and bundle of its tree present.
  if (fs.existsSync(file('/log/checkpoint'))) {
    figures.headsChecked++;
    const note = fs.readFileSync(file('/log/checkpoint'), 'utf8');
    const treeSize = Number(note.split('\n')[1]);
    const stored = (
      source.sqlite.prepare('SELECT note FROM log_checkpoints WHERE tree_size = ?').pluck().all(treeSize) as string[]
    ).includes(note);
    if (!stored) problems.push(`/log/checkpoint is not a checkpoint the authority signed (size ${treeSize})`);
    for (const p of logFilePaths(treeSize).slice(1))
      if (!fs.existsSync(file(`/log/${p}`))) problems.push(`/log/checkpoint (size ${treeSize}) points at missing /log/${p}`);
  }
  // The latest feed: a published one, with every feed and stored checkpoint before it.
  if (fs.existsSync(file('/revocation-feeds/latest'))) {
    const latest = JSON.parse(fs.readFileSync(file('/revocation-feeds/latest'), 'utf8')) as { sequence: number };
    const bytes = fs.readFileSync(file('/revocation-feeds/latest'));
    if (
      !fs.existsSync(file(`/revocation-feeds/${latest.sequence}`)) ||
      !bytes.equals(fs.readFileSync(file(`/revocation-feeds/${latest.sequence}`)))
    )
      problems.push(`/revocation-feeds/latest (${latest.sequence}) is not the feed at its sequence`);
    for (let n = 1; n <= latest.sequence; n++) {
      if (!fs.existsSync(file(`/revocation-feeds/${n}`)))
        problems.push(`/revocation-feeds/latest (${latest.sequence}) but feed ${n} is missing`);
      if (!fs.existsSync(file(`/log/checkpoints/${n}`)))
        problems.push(`/revocation-feeds/latest (${latest.sequence}) but checkpoint ${n} is missing`);
    }
  }
  // The latest follower update: a stored one, with every update before it.
  if (fs.existsSync(file('/follower/updates/latest'))) {
    figures.headsChecked++;
    const bytes = fs.readFileSync(file('/follower/updates/latest'));
    const latest = JSON.parse(bytes.toString('utf8')) as { sequence: number };
    const stored = source.sqlite.prepare('SELECT body FROM follower_updates WHERE sequence = ?').pluck().get(latest.sequence) as
      | string
      | undefined;
    if (stored !== bytes.toString('utf8'))
      problems.push(`/follower/updates/latest (${latest.sequence}) is not an update the authority signed`);
    for (let n = 1; n <= latest.sequence; n++)
      if (!fs.existsSync(file(`/follower/updates/${n}`)))
        problems.push(`/follower/updates/latest (${latest.sequence}) but update ${n} is missing`);
  }
  return problems;
}
