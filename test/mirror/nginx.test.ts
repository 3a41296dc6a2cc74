// The mirror behind a real nginx with the shipped ops/nginx/accord-mirror.conf: a running authority keeps
// ACCORD_MIRROR_DIR up to date; every file nginx serves is byte for byte the live route's answer, with the
// route's content type and the designed Cache-Control; and a second authority imports the first one's
// feeds through nginx with the first authority stopped.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { toTimestamp } from '../../src/authority/clock.ts';
import { loadConfig } from '../../src/authority/config.ts';
import { routeOfPath } from '../../src/mirror/paths.ts';
import { startAuthority, type RunningAuthority } from '../../src/server/server.ts';
import { freePort } from '../cli/run.ts';
import { testKey, type TestAuthority } from '../helpers/authority.ts';
import { NGINX_AVAILABLE, needNginx, startNginx, type RunningNginx } from '../helpers/nginx.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import { differencesFromLive, mirroredPaths } from './helpers.ts';

const operator = { label: 'mirror-ops', key: testKey('operator:mirror') };
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-nginx-mirror-'));
// nginx's worker user reads the mirror: the temp dir is made private by mkdtemp.
fs.chmodSync(root, 0o755);
const mirrorDir = path.join(root, 'mirror');

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A GET whose body is read as sent (no decompression). */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function boot(id: string, extra: Record<string, string> = {}): Promise<RunningAuthority> {
  const config = loadConfig({
    ACCORD_DATA_DIR: path.join(root, id),
    ACCORD_SOVEREIGN_ID: id,
    ACCORD_PORT: String(await freePort()),
    OPERATOR_PUBLIC_KEYS_JSON: JSON.stringify({ [operator.label]: operator.key.publicKey }),
    LOG_LEVEL: 'silent',
    ...extra,
  });
  return startAuthority(config);
}

async function admin(
  node: RunningAuthority,
  id: string,
  method: string,
  p: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const text = body === undefined ? '' : JSON.stringify(body);
  const headers = {
    ...signAdminRequest({
      authority: id,
      method,
      path: p,
      body: text,
      label: operator.label,
      key: operator.key,
      timestamp: toTimestamp(new Date()),
    }),
    ...(text ? { 'Content-Type': 'application/json' } : {}),
  };
  const res = await fetch(`${node.url}${p}`, { method, headers, ...(text ? { body: text } : {}) });
  return { status: res.status, body: await res.json() };
}

/** Waits (bounded) until the mirror shows the authority's latest feed and every file equals its live route. */
async function mirrorCaughtUp(node: RunningAuthority): Promise<void> {
  const deadline = Date.now() + 30_000;
  let problems: string[] = ['not checked'];
  for (;;) {
    const latest = await rawGet(`${node.url}/revocation-feeds/latest`);
    const file = path.join(mirrorDir, 'revocation-feeds', 'latest');
    const documents = ['connectome.json', 'connectome.json.gz', '.well-known/network-authority'].every((f) =>
      fs.existsSync(path.join(mirrorDir, f)),
    );
    if (documents && latest.status === 200 && fs.existsSync(file) && fs.readFileSync(file).equals(latest.body)) {
      problems = await differencesFromLive(mirrorDir, async (p, headers = {}) => {
        // As sent: fetch would decompress the gzip answer a `.gz` copy is compared with.
        const raw = await rawGet(`${node.url}${p}`, headers);
        return new Response(new Uint8Array(raw.body), {
          status: raw.status,
          headers: { 'content-type': String(raw.headers['content-type']) },
        });
      });
      if (problems.length === 0) return;
    }
    if (Date.now() > deadline) throw new Error(`the mirror did not catch up: ${problems.slice(0, 5).join('; ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The running authority as publishAtSizes needs it (its database and dependencies, in this process). */
const asTestAuthority = (node: RunningAuthority) => ({ db: node.db, deps: node.authority.deps }) as unknown as TestAuthority;

describe('the mirror behind nginx', () => {
  let north: RunningAuthority | null = null;
  let south: RunningAuthority | null = null;
  let nginx: RunningNginx | null = null;

  beforeAll(async () => {
    if (!NGINX_AVAILABLE) return;
    north = await boot('north', { ACCORD_MIRROR_DIR: mirrorDir });
    south = await boot('south');
    nginx = await startNginx(mirrorDir);
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await north?.close();
    await south?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('serves every mirrored file byte for byte as the live route, with its content type and Cache-Control', async (ctx) => {
    needNginx(ctx);
    const n = north!;
    publishAtSizes(asTestAuthority(n), [3, 300, 700]);
    await mirrorCaughtUp(n);
    const paths = mirroredPaths(mirrorDir);
    expect(paths).toContain('/log/tile/0/002.p/188');
    expect(paths).toContain('/connectome.json.gz');
    expect(paths).toContain('/follower/updates/latest');
    for (const urlPath of paths) {
      const route = routeOfPath(urlPath)!;
      const gz = urlPath.endsWith('.gz');
      const target = gz ? urlPath.slice(0, -3) : urlPath;
      const headers: Record<string, string> = gz ? { 'accept-encoding': 'gzip' } : {};
      const [live, served] = await Promise.all([rawGet(`${n.url}${target}`, headers), rawGet(`${nginx!.url}${target}`, headers)]);
      expect(served.status, urlPath).toBe(200);
      expect(served.body.equals(live.body), `${urlPath}: nginx's bytes differ from the live route's`).toBe(true);
      expect(served.headers['content-type'], urlPath).toBe(route.contentType);
      expect(served.headers['content-type'], urlPath).toBe(live.headers['content-type']);
      expect(served.headers['cache-control'], urlPath).toBe(route.cacheControl);
      if (gz) expect([served.headers['content-encoding'], live.headers['content-encoding']]).toEqual(['gzip', 'gzip']);
    }
    // The connectome without gzip is the plain file; the Genesis Mesh snapshot answers with its query string too.
    const plain = await rawGet(`${nginx!.url}/connectome.json`);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(fs.readFileSync(path.join(mirrorDir, 'connectome.json')))).toBe(true);
    const gm = await rawGet(`${nginx!.url}/sovereign-revocation-feed?issuer_sovereign_id=north`);
    expect(gm.body.equals((await rawGet(`${n.url}/sovereign-revocation-feed?issuer_sovereign_id=north`)).body)).toBe(true);
    // Nothing else is served; a 404 is never cached as immutable.
    for (const missing of [
      '/revocation-feeds/99',
      '/revocation-feeds/',
      '/revocation-feeds',
      '/log/tile/0/',
      '/.accord-tmp/x',
      '/admin/peers',
      '/connectome.json.gz',
      '/log/tile/0/009',
    ]) {
      const res = await rawGet(`${nginx!.url}${missing}`);
      expect(res.status, missing).toBe(404);
      expect(res.headers['cache-control'], missing).toBeUndefined();
    }
    fs.writeFileSync(path.join(mirrorDir, '.accord-tmp', 'leftover'), 'x');
    expect((await rawGet(`${nginx!.url}/.accord-tmp/leftover`)).status).toBe(404);
    fs.rmSync(path.join(mirrorDir, '.accord-tmp', 'leftover'));
  }, 120_000);

  it('a second authority imports the feeds through nginx while the first is stopped', async (ctx) => {
    needNginx(ctx);
    const n = north!;
    const s = south!;
    // South recognizes north's keys (read from its declaration) and pulls it, with the nginx mirror as a fallback.
    const declaration = (await (await fetch(`${n.url}/.well-known/network-authority`)).json()) as {
      public_keys: Array<{ public_key: string }>;
    };
    const treaty = await admin(s, 'south', 'POST', '/admin/recognition-treaties', {
      subject_sovereign_id: 'north',
      subject_public_keys: declaration.public_keys.map((k) => k.public_key),
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 720,
    });
    expect(treaty.status).toBe(201);
    const peer = await admin(s, 'south', 'POST', '/admin/peers', { sovereign_id: 'north', base_url: n.url, mirror_urls: [nginx!.url] });
    expect(peer.status).toBe(201);
    const published = () => n.db.sqlite.prepare('SELECT max(sequence) FROM published_feeds').pluck().get() as number;
    const before = published();
    const first = await admin(s, 'south', 'POST', '/admin/peers/north/pull');
    expect(first.body).toMatchObject({ outcome: 'ok', imported_sequence: before });
    expect(first.body.source).toBeUndefined();

    publishAtSizes(asTestAuthority(n), [900, 900, 1000]);
    await mirrorCaughtUp(n);
    const northUrl = n.url;
    const last = published();
    expect(last).toBe(before + 3);
    const latest = (await rawGet(`${northUrl}/revocation-feeds/latest`)).body;
    await n.close();
    north = null;
    await expect(fetch(`${northUrl}/readyz`)).rejects.toThrow();

    const pulled = await admin(s, 'south', 'POST', '/admin/peers/north/pull');
    expect(pulled.body).toMatchObject({
      outcome: 'ok',
      imported: 3,
      imported_sequence: last,
      source: nginx!.url,
      fell_through: [{ url: northUrl, reason: 'unreachable' }],
    });
    const issuers = await admin(s, 'south', 'GET', '/admin/revocation-feeds/issuers');
    expect(issuers.body.issuers).toEqual(
      expect.arrayContaining([expect.objectContaining({ issuer_sovereign_id: 'north', imported_sequence: last, stale: false })]),
    );
    const stored = s.db.sqlite
      .prepare("SELECT body FROM imported_feeds WHERE issuer_sovereign_id = 'north' AND sequence = ?")
      .pluck()
      .get(last) as string;
    expect(Buffer.from(stored).equals(latest)).toBe(true);
    // Each new log head was proved from the tiles nginx served.
    const proofs = s.db.sqlite
      .prepare("SELECT last_verified_size FROM issuer_log_proofs WHERE issuer_sovereign_id = 'north'")
      .pluck()
      .get();
    expect(proofs).toBe(1000);
    expect(nginx!.errorLog()).not.toMatch(/\[(?:crit|alert|emerg)\]/);
  }, 120_000);
});
