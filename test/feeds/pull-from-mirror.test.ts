// Pulling a peer's feeds from its static mirrors: the peer first, then each mirror, only while the one
// before cannot be read (unreachable, timeout, 5xx). Everything from a mirror is checked as from the
// peer — signatures, chain, log root, consistency proofs computed from the mirror's tiles — so a
// tampered mirror imports nothing, a stale one shows nothing new, and a check that fails at the peer
// is never handed to a mirror to be "fixed".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { authorityMirrorInputs } from '../../src/mirror/inputs.ts';
import { MirrorWriter } from '../../src/mirror/mirror.ts';
import { createTestAuthority, dbDigest, type TestAuthority } from '../helpers/authority.ts';
import { publishAtSizes, serveDirectory } from '../transparency/helpers.ts';
import { listen } from './network.ts';
import { recognize } from './simulated-issuer.ts';

const ISSUER = 'issuer-a';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

type Mode = 'live' | '503' | 'tampered';

interface Setup {
  a: TestAuthority;
  b: TestAuthority;
  /** How the issuer's own server answers. */
  mode: { current: Mode };
  issuerUrl: string;
  stopIssuer(): Promise<void>;
  mirrorDir: string;
  mirror: { url: string; requests: string[]; stop(): Promise<void> };
  syncMirror(): Promise<void>;
  pull(): Promise<Record<string, any>>;
}

/** Flips one character inside the first revocation entry's id of a feed text (its signature no longer verifies). */
function tamper(text: string): string {
  return text.replace(/"id":"([0-9a-f])/, (_m, c: string) => `"id":"${c === '0' ? '1' : '0'}`);
}

async function setup(): Promise<Setup> {
  const a = createTestAuthority({ sovereignId: ISSUER });
  const b = createTestAuthority({ sovereignId: 'importer-b' });
  const mode = { current: 'live' as Mode };
  const front = await listen(async (req) => {
    if (mode.current === '503') return new Response('overloaded', { status: 503 });
    const res = await a.app.fetch(req);
    if (mode.current === 'tampered' && new URL(req.url).pathname.startsWith('/revocation-feeds'))
      return new Response(tamper(await res.text()), { status: res.status, headers: res.headers });
    return res;
  });
  let frontStopped = false;
  const mirrorDir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-pull-mirror-'));
  const mirror = await serveDirectory(mirrorDir);
  cleanup.push(async () => {
    if (!frontStopped) await front.stop();
    await mirror.stop();
    fs.rmSync(mirrorDir, { recursive: true, force: true });
    for (const x of [a, b]) {
      await x.close();
      x.db.close();
    }
  });
  recognize(b, ISSUER, [a.signingKey]);
  const res = await b.admin('POST', '/admin/peers', { sovereign_id: ISSUER, base_url: front.url, mirror_urls: [mirror.url] });
  expect(res.status).toBe(201);
  const writer = new MirrorWriter(mirrorDir, authorityMirrorInputs(a.deps));
  return {
    a,
    b,
    mode,
    issuerUrl: front.url,
    stopIssuer: async () => {
      frontStopped = true;
      await front.stop();
    },
    mirrorDir,
    mirror,
    syncMirror: async () => {
      await writer.sync();
    },
    pull: async () => (await (await b.admin('POST', `/admin/peers/${ISSUER}/pull`)).json()) as Record<string, any>,
  };
}

function proofState(b: TestAuthority): { last_verified_size: number | null; failures: number } {
  const row = b.db.sqlite.prepare('SELECT last_verified_size FROM issuer_log_proofs WHERE issuer_sovereign_id = ?').get(ISSUER) as
    | { last_verified_size: number }
    | undefined;
  const failures = (b.db.sqlite.prepare('SELECT count(*) AS n FROM log_consistency_failures').get() as { n: number }).n;
  return { last_verified_size: row?.last_verified_size ?? null, failures };
}

describe('pull from a mirror', () => {
  it('imports through the mirror while the issuer is down, proving each new head from the mirror’s tiles', async () => {
    const s = await setup();
    publishAtSizes(s.a, [3, 300]);
    // From the issuer itself: its JSON consistency proof makes proofs required for it from now on.
    expect(await s.pull()).toMatchObject({ outcome: 'ok', imported: 2, imported_sequence: 2 });
    expect(proofState(s.b)).toEqual({ last_verified_size: 300, failures: 0 });

    publishAtSizes(s.a, [600, 600, 700]);
    await s.syncMirror();
    await s.stopIssuer();
    const result = await s.pull();
    expect(result).toMatchObject({
      outcome: 'ok',
      imported: 3,
      imported_sequence: 5,
      source: s.mirror.url,
      fell_through: [{ url: s.issuerUrl, reason: 'unreachable' }],
      receipt: 'failed',
    });
    expect(proofState(s.b)).toEqual({ last_verified_size: 700, failures: 0 });
    expect(s.mirror.requests).toContain('/log/tile/0/002.p/188');
    // The same feeds as the issuer published, byte for byte.
    for (let n = 1; n <= 5; n++) {
      const stored = s.b.db.sqlite
        .prepare('SELECT feed_hash FROM imported_feeds WHERE issuer_sovereign_id = ? AND sequence = ?')
        .pluck()
        .get(ISSUER, n);
      const published = s.a.db.sqlite.prepare('SELECT feed_hash FROM published_feeds WHERE sequence = ?').pluck().get(n);
      expect(stored).toBe(published);
    }
  });

  it('falls through on a 5xx from the issuer, and reads nothing from a mirror while the issuer answers', async () => {
    const s = await setup();
    publishAtSizes(s.a, [3]);
    await s.syncMirror();
    expect(await s.pull()).toMatchObject({ outcome: 'ok', imported: 1 });
    expect(s.mirror.requests).toEqual([]);

    publishAtSizes(s.a, [40]);
    await s.syncMirror();
    s.mode.current = '503';
    expect(await s.pull()).toMatchObject({
      outcome: 'ok',
      imported: 1,
      source: s.mirror.url,
      fell_through: [{ url: s.issuerUrl, reason: 'http_error' }],
    });
  });

  it('never hands a failed check to a mirror: a tampered feed from the issuer fails the pull, the mirror is not asked', async () => {
    const s = await setup();
    publishAtSizes(s.a, [3]);
    await s.syncMirror();
    s.mode.current = 'tampered';
    const tables = () => dbDigest(s.b.db, ['audit_events', 'admin_nonces', 'peers']);
    const before = tables();
    const result = await s.pull();
    expect(result).toMatchObject({ outcome: 'failed', reason: 'invalid_signature', imported_sequence: 0 });
    expect(result.fell_through).toBeUndefined();
    expect(s.mirror.requests).toEqual([]);
    expect(tables()).toBe(before);
  });

  it('imports nothing from a tampered mirror: a changed feed fails its signature, a changed tile its consistency proof', async () => {
    const s = await setup();
    publishAtSizes(s.a, [3, 300]);
    expect(await s.pull()).toMatchObject({ outcome: 'ok', imported_sequence: 2 });
    publishAtSizes(s.a, [700]);
    await s.syncMirror();
    await s.stopIssuer();

    const feedFile = path.join(s.mirrorDir, 'revocation-feeds', '3');
    const original = fs.readFileSync(feedFile, 'utf8');
    fs.writeFileSync(feedFile, tamper(original));
    const tables = () => dbDigest(s.b.db, ['audit_events', 'admin_nonces', 'peers', 'log_consistency_failures']);
    const before = tables();
    expect(await s.pull()).toMatchObject({ outcome: 'failed', reason: 'invalid_signature', imported_sequence: 2, source: s.mirror.url });
    expect(tables()).toBe(before);

    fs.writeFileSync(feedFile, original);
    const tileFile = path.join(s.mirrorDir, 'log', 'tile', '0', '001');
    const tile = fs.readFileSync(tileFile);
    tile[5] = tile[5]! ^ 0xff;
    fs.writeFileSync(tileFile, tile);
    expect(await s.pull()).toMatchObject({ outcome: 'failed', reason: 'consistency_proof_invalid', imported_sequence: 2 });
    expect(tables()).toBe(before);

    // A tile the mirror does not have: the mirror is broken, nothing is imported, no evidence against the issuer.
    fs.rmSync(tileFile);
    const failures = proofState(s.b).failures;
    expect(await s.pull()).toMatchObject({ outcome: 'failed', reason: 'http_error', imported_sequence: 2 });
    expect(proofState(s.b).failures).toBe(failures);
    expect(tables()).toBe(before);
  });

  it('a stale mirror shows nothing new: no import, no failure, no evidence', async () => {
    const s = await setup();
    publishAtSizes(s.a, [3, 300]);
    await s.syncMirror();
    publishAtSizes(s.a, [600, 700]);
    expect(await s.pull()).toMatchObject({ outcome: 'ok', imported_sequence: 4 });
    await s.stopIssuer();
    const before = dbDigest(s.b.db, ['audit_events', 'admin_nonces', 'peers']);
    expect(await s.pull()).toMatchObject({ outcome: 'ok', imported: 0, imported_sequence: 4, source: s.mirror.url });
    expect(dbDigest(s.b.db, ['audit_events', 'admin_nonces', 'peers'])).toBe(before);
    expect(proofState(s.b).failures).toBe(0);
  });

  it('when every source is down the pull fails with the last one’s reason, naming what it tried', async () => {
    const s = await setup();
    publishAtSizes(s.a, [3]);
    await s.stopIssuer();
    // The mirror is up but empty (nothing written to it yet): nothing published there, nothing to import.
    expect(await s.pull()).toMatchObject({ outcome: 'ok', imported: 0, source: s.mirror.url });
    await s.mirror.stop();
    const result = await s.pull();
    expect(result).toMatchObject({
      outcome: 'failed',
      reason: 'unreachable',
      source: s.mirror.url,
      fell_through: [{ url: s.issuerUrl, reason: 'unreachable' }],
    });
    const peer = (await (await s.b.admin('GET', `/admin/peers/${ISSUER}`)).json()) as Record<string, unknown>;
    expect(peer).toMatchObject({ consecutive_failures: 1, mirror_urls: [s.mirror.url] });
    expect(String(peer.last_error)).toMatch(/^unreachable: /);
  });
});
