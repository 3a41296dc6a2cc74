// Admin peer routes (register, list, remove, pause, resume) and the receipt endpoint's acceptance rules.
import { describe, expect, it } from 'vitest';
import { signObject } from '../../src/authority/crypto.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { buildReceipt, receiptsByImporter } from '../../src/feeds/receipts.ts';
import { auditCount, createTestAuthority, dbDigest, testKey, type TestAuthority } from '../helpers/authority.ts';
import { recognize } from './simulated-issuer.ts';

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe('peers', () => {
  it('registers, lists, shows and removes peers, auditing each change', async () => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    recognize(a, 'peer-b', [testKey('peer-b')]);
    const created = await a.admin('POST', '/admin/peers', { sovereign_id: 'peer-b', base_url: 'https://b.example/accord/' });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      sovereign_id: 'peer-b',
      base_url: 'https://b.example/accord',
      recognized: true,
      imported_sequence: 0,
      consecutive_failures: 0,
      last_success_at: null,
      last_error: null,
      stale: false,
      paused: false,
    });
    await a.admin('POST', '/admin/peers', { sovereign_id: 'peer-c', base_url: 'http://127.0.0.1:9999' });
    const list = (await (await a.admin('GET', '/admin/peers')).json()) as { peers: Array<{ sovereign_id: string; recognized: boolean }> };
    expect(list.peers.map((p) => [p.sovereign_id, p.recognized])).toEqual([
      ['peer-b', true],
      ['peer-c', false],
    ]);
    expect((await a.admin('GET', '/admin/peers/peer-c')).status).toBe(200);
    const removed = await a.admin('DELETE', '/admin/peers/peer-c');
    expect(await removed.json()).toEqual({ removed: true, sovereign_id: 'peer-c' });
    expect((await a.admin('GET', '/admin/peers/peer-c')).status).toBe(404);
    expect(auditCount(a.db, 'peer_registered')).toBe(2);
    expect(auditCount(a.db, 'peer_removed')).toBe(1);
  });

  it('rejects bad peers without changing anything', async () => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    await a.admin('POST', '/admin/peers', { sovereign_id: 'peer-b', base_url: 'http://b.example' });
    const digest = dbDigest(a.db);
    const cases: Array<[unknown, number, string]> = [
      [{ sovereign_id: 'peer-b', base_url: 'http://b2.example' }, 409, 'peer_exists'],
      [{ sovereign_id: 'authority-a', base_url: 'http://self.example' }, 422, 'invalid_peer'],
      [{ sovereign_id: 'peer-d', base_url: 'ftp://d.example' }, 422, 'invalid_peer'],
      [{ sovereign_id: 'peer-d', base_url: 'http://user:pw@d.example' }, 422, 'invalid_peer'],
      [{ sovereign_id: 'peer-d', base_url: 'http://d.example/?x=1' }, 422, 'invalid_peer'],
      [{ sovereign_id: 'peer-d', base_url: 'not a url' }, 422, 'invalid_peer'],
      [{ sovereign_id: '-bad', base_url: 'http://d.example' }, 422, 'invalid_peer'],
      [{ sovereign_id: 'peer-d', base_url: 'http://d.example', enabled: true }, 422, 'invalid_peer'],
    ];
    for (const [body, status, code] of cases) {
      const res = await a.admin('POST', '/admin/peers', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(await errorCode(res)).toBe(code);
    }
    expect((await a.admin('DELETE', '/admin/peers/nobody')).status).toBe(404);
    expect(dbDigest(a.db)).toBe(digest);
  });

  it('pause and resume are audited state changes; repeating one changes nothing', async () => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    await a.admin('POST', '/admin/peers', { sovereign_id: 'peer-b', base_url: 'http://b.example' });
    expect(await (await a.admin('POST', '/admin/peers/peer-b/pause')).json()).toEqual({
      sovereign_id: 'peer-b',
      paused: true,
      changed: true,
    });
    expect(await (await a.admin('POST', '/admin/peers/peer-b/pause')).json()).toMatchObject({ changed: false });
    expect(await (await a.admin('GET', '/admin/peers/peer-b')).json()).toMatchObject({ paused: true, paused_reason: 'operator' });
    expect(await (await a.admin('POST', '/admin/peers/peer-b/resume')).json()).toEqual({
      sovereign_id: 'peer-b',
      paused: false,
      changed: true,
    });
    expect(await (await a.admin('POST', '/admin/peers/peer-b/resume')).json()).toMatchObject({ changed: false });
    expect(auditCount(a.db, 'feed_issuer_paused')).toBe(1);
    expect(auditCount(a.db, 'feed_issuer_resumed')).toBe(1);
    expect((await a.admin('POST', '/admin/peers/nobody/pause')).status).toBe(404);
  });
});

describe('receipts', () => {
  /** Issuer `b` that published feed 1 and recognizes importer `a` (whose key signs receipts). */
  function pair(): { a: TestAuthority; b: TestAuthority } {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    const b = createTestAuthority({ sovereignId: 'authority-b' });
    recognize(b, a.sovereignId, [a.signingKey]);
    publishFeeds(b.deps, { trigger: 'admin' });
    return { a, b };
  }

  const post = (b: TestAuthority, receipt: unknown) =>
    b.app.request('/revocation-feeds/receipts', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(receipt),
    });

  const feedHash = (b: TestAuthority, seq: number) =>
    (b.db.sqlite.prepare('SELECT feed_hash FROM published_feeds WHERE sequence = ?').get(seq) as { feed_hash: string }).feed_hash;

  it('records the latest signed receipt of a recognized importer, once per newer sequence', async () => {
    const { a, b } = pair();
    const res = await post(b, buildReceipt(a.deps, b.sovereignId, 1, feedHash(b, 1)));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      accepted: true,
      recorded: true,
      status: 'recorded',
      importer_sovereign_id: 'authority-a',
      sequence: 1,
    });
    expect(receiptsByImporter(b.db.sqlite)).toEqual([
      {
        importer_sovereign_id: 'authority-a',
        sequence: 1,
        feed_hash: feedHash(b, 1),
        received_at: '2026-03-01T00:00:00Z',
        recorded_at: '2026-03-01T00:00:00Z',
      },
    ]);
    expect(await (await post(b, buildReceipt(a.deps, b.sovereignId, 1, feedHash(b, 1)))).json()).toMatchObject({
      recorded: false,
      status: 'not_newer',
    });
    publishFeeds(b.deps, { trigger: 'admin', heartbeat: 'force' });
    expect(await (await post(b, buildReceipt(a.deps, b.sovereignId, 2, feedHash(b, 2)))).json()).toMatchObject({
      recorded: true,
      sequence: 2,
    });
    expect(auditCount(b.db, 'feed_receipt_recorded')).toBe(2);
    const event = b.db.sqlite
      .prepare("SELECT canonical FROM audit_events WHERE event_type = 'feed_receipt_recorded' ORDER BY seq DESC")
      .get() as { canonical: string };
    expect(JSON.parse(event.canonical)).toMatchObject({
      actor: { type: 'peer', sovereign_id: 'authority-a', key_id: a.signingKey.keyId },
      details: { importer: 'authority-a', sequence: 2 },
    });
  });

  it('refuses receipts from strangers, bad signatures, unknown feeds, other issuers and bad shapes, changing nothing', async () => {
    const { a, b } = pair();
    const stranger = createTestAuthority({ sovereignId: 'stranger' });
    const good = buildReceipt(a.deps, b.sovereignId, 1, feedHash(b, 1));
    const { signatures: _s, ...unsigned } = good;
    const cases: Array<[unknown, number, string]> = [
      [buildReceipt(stranger.deps, b.sovereignId, 1, feedHash(b, 1)), 403, 'importer_not_recognized'],
      [signObject(unsigned, [testKey('mallory')]), 422, 'invalid_signature'],
      [{ ...good, sequence: 2 }, 422, 'invalid_signature'],
      [buildReceipt(a.deps, b.sovereignId, 1, `sha256:${'00'.repeat(32)}`), 409, 'receipt_feed_mismatch'],
      [buildReceipt(a.deps, b.sovereignId, 7, feedHash(b, 1)), 409, 'receipt_feed_mismatch'],
      [buildReceipt(a.deps, 'authority-z', 1, feedHash(b, 1)), 422, 'receipt_wrong_issuer'],
      [{ ...good, note: 'x' }, 422, 'invalid_feed_receipt'],
      [{ ...good, sequence: 1.5 }, 422, 'invalid_feed_receipt'],
    ];
    const digest = dbDigest(b.db);
    const audits = auditCount(b.db);
    for (const [receipt, status, code] of cases) {
      const res = await post(b, receipt);
      expect(res.status, code).toBe(status);
      expect(await errorCode(res)).toBe(code);
    }
    // A whole number written with a fraction reads as the integer the importer signed: still refused.
    const written = JSON.stringify(good).replace('"sequence":1,', '"sequence":1.0,');
    expect(written).toContain('"sequence":1.0,');
    const fraction = await b.app.request('/revocation-feeds/receipts', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: written,
    });
    expect(fraction.status).toBe(422);
    expect(await errorCode(fraction)).toBe('invalid_feed_receipt');
    a.clock.advance(b.config.clockSkewSeconds + 60);
    const future = await post(b, buildReceipt(a.deps, b.sovereignId, 1, feedHash(b, 1)));
    expect(future.status).toBe(422);
    expect(await errorCode(future)).toBe('invalid_timestamps');
    expect(dbDigest(b.db)).toBe(digest);
    expect(auditCount(b.db)).toBe(audits);
  });
});
