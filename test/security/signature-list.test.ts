// Signature lists are not signed: anyone can add or drop an entry. Such a variant of an imported feed
// is the same statement by the issuer — it must never be taken for equivocation (which pauses the issuer).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signObject } from '../../src/authority/crypto.ts';
import { importFeed } from '../../src/feeds/import.ts';
import { auditCount, dbDigest, testKey } from '../helpers/authority.ts';
import { testKey as issuerKeyOf } from '../helpers/authority.ts';
import { SimulatedIssuer } from '../feeds/simulated-issuer.ts';
import { populatedAuthority, send, type Populated } from './fixture.ts';
import { GM_SEED_B, gmKeyFromSeed, gmSign } from '../interop/gm-reference.ts';

let p: Populated;
beforeEach(() => {
  p = populatedAuthority();
});
afterEach(() => p.cleanup());

const importBody = (feed: unknown) => new Uint8Array(Buffer.from(JSON.stringify({ feed }), 'utf8'));
const paused = () =>
  (p.a.db.sqlite.prepare('SELECT paused FROM feed_issuers WHERE issuer_sovereign_id = ?').get('peer-b') as { paused: number }).paused;

describe('a re-signed or padded copy of an imported feed is not equivocation', () => {
  it('an extra signature entry (a stranger\u2019s valid signature) → already_imported; no evidence, no pause', async () => {
    const feed = p.issuer.feeds[1]!;
    const padded = { ...feed, signatures: [...feed.signatures, signObject(feed, [testKey('stranger')]).signatures[0]!] };
    const before = dbDigest(p.a.db);
    const res = await send(p.a, {
      method: 'POST',
      path: '/admin/revocation-feeds/import',
      body: importBody(padded),
      headers: { 'Content-Type': 'application/json' },
      sign: true,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: true, status: 'already_imported', sequence: 2 });
    expect(dbDigest(p.a.db)).toBe(before);
    expect(paused()).toBe(0);
    expect(auditCount(p.a.db, 'feed_equivocation_detected')).toBe(0);
  });

  it('the same content signed by the issuer with a second key it holds → already_imported, not paused', () => {
    const feed = p.issuer.feeds[0]!;
    const { signatures: _s, ...unsigned } = feed;
    const twice = signObject(unsigned, [issuerKeyOf('security:issuer'), testKey('security:issuer:next')]);
    expect(importFeed(p.a.deps, twice, { actor: { type: 'system' }, via: 'pull' }).status).toBe('already_imported');
    expect(paused()).toBe(0);
  });

  it('a different feed validly signed at an imported sequence is still equivocation (the control)', () => {
    const fork = new SimulatedIssuer('peer-b', [issuerKeyOf('security:issuer')], p.a.clock).next({ entries: 3 });
    expect(() => importFeed(p.a.deps, fork, { actor: { type: 'system' }, via: 'pull' })).toThrow(
      expect.objectContaining({ code: 'equivocation' }),
    );
    expect(paused()).toBe(1);
    expect(auditCount(p.a.db, 'feed_equivocation_detected')).toBe(1);
  });

  it('Genesis Mesh snapshots too: an extra signature entry on an imported snapshot is not equivocation', async () => {
    const post = (feed: unknown) =>
      send(p.a, {
        method: 'POST',
        path: '/admin/sovereign-revocation-feeds/import',
        body: importBody(feed),
        headers: { 'Content-Type': 'application/json' },
        sign: true,
      });
    expect((await post(p.gmFeed)).status).toBe(200);
    const stranger = gmSign(p.gmFeed, gmKeyFromSeed(GM_SEED_B)).signatures[0]!;
    const before = dbDigest(p.a.db);
    const res = await post({ ...p.gmFeed, signatures: [...(p.gmFeed.signatures as unknown[]), stranger] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'already_imported' });
    expect(dbDigest(p.a.db)).toBe(before);
    expect(auditCount(p.a.db, 'feed_equivocation_detected')).toBe(0);
  });
});
