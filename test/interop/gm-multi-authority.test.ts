// Accord and a Genesis Mesh reference NA over real HTTP on 127.0.0.1: pull and import GM feeds, and serve a feed GM can import.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPullJob } from '../../src/feeds/pull.ts';
import { currentGmSnapshot } from '../../src/feeds/gm-publish.ts';
import { createTestAuthority, lastAudit, type TestAuthority } from '../helpers/authority.ts';
import { GM_SEED_A, gmFeed, gmKeyFromSeed, gmSign, gmVerify, pythonJsonDumps, startGmServer, type GmServer } from './gm-reference.ts';
import { ok } from '../helpers/http.ts';

const GM = 'sovereign-gm';
const keyA = gmKeyFromSeed(GM_SEED_A);
const ATT1 = '55555555-5555-4555-8555-555555555555';
const ATT2 = '66666666-6666-4666-8666-666666666666';
const NOW = '2026-03-01T00:00:00Z';

async function recognize(a: TestAuthority, sovereign: string, publicKey: string): Promise<void> {
  await ok(
    a.admin('POST', '/admin/recognition-treaties', {
      subject_sovereign_id: sovereign,
      subject_public_keys: [publicKey],
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 24 * 90,
      profile: 'genesis-mesh',
    }),
    201,
  );
}

function gmAttestation(id: string) {
  return gmSign(
    {
      attestation_id: id,
      issuer_sovereign_id: GM,
      subject_id: 'edge-node-1',
      subject_public_key: null,
      roles: ['role:client'],
      status: 'active',
      issued_at: '2026-02-01T00:00:00.500000Z',
      valid_from: '2026-02-01T00:00:00Z',
      expires_at: '2026-05-01T00:00:00Z',
      issued_by: 'gm-na-key',
      claims: {},
    },
    keyA,
    'gm-na-key',
  );
}

async function verifyAttestation(a: TestAuthority, attestation: unknown): Promise<Record<string, unknown>> {
  return ok(
    a.app.request('/attestations/verify', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ attestation }),
    }),
  );
}

async function listen(a: TestAuthority): Promise<{ url: string; close(): Promise<void> }> {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: a.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let gm: GmServer;
let acc: TestAuthority;
beforeEach(async () => {
  gm = await startGmServer(GM);
  acc = createTestAuthority({ sovereignId: 'sovereign-acc', now: NOW });
});
afterEach(async () => {
  await gm.close();
  await acc.close();
  acc.db.close();
});

describe('Accord pulls a genesis-mesh peer', () => {
  it('pulls GET /sovereign-revocation-feed?issuer_sovereign_id=…, imports, and attestation verify flips to revoked_by_issuer_feed', async () => {
    await recognize(acc, GM, keyA.publicKey);
    await ok(acc.admin('POST', '/admin/peers', { sovereign_id: GM, base_url: gm.url }), 201);
    const attestation1 = gmAttestation(ATT1);
    const attestation2 = gmAttestation(ATT2);
    expect(await verifyAttestation(acc, attestation1)).toMatchObject({ accepted: true, reason: 'accepted' });

    gm.current = gmFeed(keyA, { issuer: GM, sequence: 1, issuedAt: '2026-02-28T20:00:00.250000Z', revoked: { [ATT1]: 'key_compromise' } });
    const first = await runPullJob(acc.deps);
    expect(first.peers).toEqual([expect.objectContaining({ sovereign_id: GM, outcome: 'ok', imported: 1, imported_sequence: 1 })]);
    expect(gm.requests).toContain(`/sovereign-revocation-feed?issuer_sovereign_id=${GM}`);
    expect(lastAudit(acc.db)).toMatchObject({
      event_type: 'sovereign_revocation_feed_imported',
      actor: { type: 'system' },
      details: { via: 'pull', profile: 'genesis-mesh' },
    });
    expect(await verifyAttestation(acc, attestation1)).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });
    expect(await verifyAttestation(acc, attestation2)).toMatchObject({ accepted: true });

    // Unchanged snapshot: nothing imported. A newer snapshot that drops ATT1 and adds ATT2 only adds.
    acc.clock.advance(60);
    expect((await runPullJob(acc.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 0 });
    gm.current = gmFeed(keyA, { issuer: GM, sequence: 2, issuedAt: '2026-02-28T21:00:00Z', revoked: { [ATT2]: 'affiliation_changed' } });
    acc.clock.advance(60);
    expect((await runPullJob(acc.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 1, imported_sequence: 2 });
    expect(await verifyAttestation(acc, attestation1)).toMatchObject({ reason: 'revoked_by_issuer_feed' });
    expect(await verifyAttestation(acc, attestation2)).toMatchObject({ reason: 'revoked_by_issuer_feed' });
  });

  it('the profile can be chosen when registering the peer instead of on the treaty', async () => {
    await ok(
      acc.admin('POST', '/admin/recognition-treaties', {
        subject_sovereign_id: GM,
        subject_public_keys: [keyA.publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24 * 90,
      }),
      201,
    );
    const peer = await ok(acc.admin('POST', '/admin/peers', { sovereign_id: GM, base_url: gm.url, profile: 'genesis-mesh' }), 201);
    expect(peer).toMatchObject({ profile: 'genesis-mesh' });
    gm.current = gmFeed(keyA, { issuer: GM, sequence: 1, issuedAt: '2026-02-28T20:00:00Z', revoked: { [ATT1]: 'unspecified' } });
    expect((await runPullJob(acc.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 1 });
    expect(await verifyAttestation(acc, gmAttestation(ATT1))).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });
    expect(await verifyAttestation(acc, gmAttestation(ATT2))).toMatchObject({ accepted: true, reason: 'accepted' });
  });

  it('a peer registered with an unknown profile is refused', async () => {
    const res = await acc.admin('POST', '/admin/peers', { sovereign_id: GM, base_url: gm.url, profile: 'genesis-mesh/2' });
    expect(res.status).toBe(422);
  });

  it('a snapshot the import rejects makes the pull fail with that reason, and nothing is imported', async () => {
    await recognize(acc, GM, keyA.publicKey);
    await ok(acc.admin('POST', '/admin/peers', { sovereign_id: GM, base_url: gm.url }), 201);
    const good = gmFeed(keyA, { issuer: GM, sequence: 1, issuedAt: '2026-02-28T20:00:00Z', revoked: { [ATT1]: 'unspecified' } });
    gm.current = { ...good, revoked_attestation_ids: [ATT1, ATT1] };
    const report = await runPullJob(acc.deps);
    expect(report.peers[0]).toMatchObject({ outcome: 'failed', reason: 'invalid_revocation_feed', imported: 0 });
    expect(acc.db.sqlite.prepare('SELECT count(*) AS n FROM imported_revocations').get()).toEqual({ n: 0 });
  });
});

describe('GET /sovereign-revocation-feed: a feed a GM authority can import', () => {
  async function revokeOwnAttestation(a: TestAuthority): Promise<string> {
    const issued = await ok(
      a.admin('POST', '/admin/attestations', { subject_id: 'node-1', roles: ['role:client'], validity_hours: 24 }),
      201,
    );
    const id = issued.attestation_id as string;
    await ok(a.admin('POST', `/admin/attestations/${id}/revoke`, { reason: 'key_compromise' }));
    return id;
  }

  it('serves this authority revoked attestations as a GM snapshot, verified with an independent GM canonical form', async () => {
    const served = await listen(acc);
    try {
      const before = await fetch(`${served.url}/sovereign-revocation-feed?issuer_sovereign_id=sovereign-acc`);
      expect(before.status).toBe(404);
      expect(((await before.json()) as { error: { code: string } }).error.code).toBe('feed_not_published');

      const revoked1 = await revokeOwnAttestation(acc);
      const revoked2 = await revokeOwnAttestation(acc);
      const published = await ok(acc.admin('POST', '/admin/revocation-feeds/publish', {}));
      const res = await fetch(`${served.url}/sovereign-revocation-feed?issuer_sovereign_id=sovereign-acc`);
      expect(res.status).toBe(200);
      const text = await res.text();
      const feed = JSON.parse(text) as Record<string, unknown>;

      // The GM side: strict field set, sorted ids, a signature over Python's sort_keys + ensure_ascii dump.
      expect(Object.keys(feed).sort()).toEqual([
        'feed_id',
        'issued_at',
        'issued_by',
        'issuer_sovereign_id',
        'revocation_reasons',
        'revoked_attestation_ids',
        'sequence',
        'signatures',
      ]);
      expect(feed.revoked_attestation_ids).toEqual([revoked1, revoked2].sort());
      expect(feed.revocation_reasons).toEqual({ [revoked1]: 'key_compromise', [revoked2]: 'key_compromise' });
      // issued_by and key_id are key labels, as GM writes them (here this authority's key_id); the body is in GM's own form.
      expect(feed.issued_by).toBe(acc.signingKey.keyId);
      expect((feed.signatures as Array<{ key_id: string }>).map((sig) => sig.key_id)).toEqual([acc.signingKey.keyId]);
      expect(text).toBe(pythonJsonDumps(feed));
      expect(feed.sequence).toBe((published as { latest_sequence: number }).latest_sequence);
      expect(gmVerify(feed, [acc.signingKey.publicKey])).toBe(true);
      const { signatures: _s, ...unsigned } = feed;
      expect(gmVerify({ ...unsigned, sequence: 99, signatures: feed.signatures }, [acc.signingKey.publicKey])).toBe(false);
      expect(pythonJsonDumps(unsigned)).not.toContain(' ');

      // Signed once per publication: the same bytes and ETag until the next publication; 304 on If-None-Match.
      const etag = res.headers.get('etag')!;
      const again = await fetch(`${served.url}/sovereign-revocation-feed`);
      expect(await again.text()).toBe(text);
      expect((await fetch(`${served.url}/sovereign-revocation-feed`, { headers: { 'If-None-Match': etag } })).status).toBe(304);
      const cached = currentGmSnapshot(acc.deps);
      expect(cached?.body).toBe(text);
      expect(currentGmSnapshot(acc.deps)).toBe(cached); // the same signed object, not a re-signing
      const foreign = await fetch(`${served.url}/sovereign-revocation-feed?issuer_sovereign_id=someone-else`);
      expect(foreign.status).toBe(404);
      expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('issuer_not_served');

      // A new native publication moves the snapshot to the new sequence.
      const revoked3 = await revokeOwnAttestation(acc);
      acc.clock.advance(5);
      const next = await ok(acc.admin('POST', '/admin/revocation-feeds/publish', {}));
      const feed2 = (await (await fetch(`${served.url}/sovereign-revocation-feed`)).json()) as Record<string, unknown>;
      expect(feed2.sequence).toBe((next as { latest_sequence: number }).latest_sequence);
      expect(feed2.revoked_attestation_ids).toEqual([revoked1, revoked2, revoked3].sort());
      expect(gmVerify(feed2, [acc.signingKey.publicKey])).toBe(true);
    } finally {
      await served.close();
    }
  });

  it('another Accord that recognizes this sovereign under genesis-mesh pulls and imports the served snapshot', async () => {
    const served = await listen(acc);
    const other = createTestAuthority({ sovereignId: 'sovereign-other', now: NOW });
    try {
      const revoked = await revokeOwnAttestation(acc);
      await ok(acc.admin('POST', '/admin/revocation-feeds/publish', {}));
      await recognize(other, 'sovereign-acc', acc.signingKey.publicKey);
      await ok(other.admin('POST', '/admin/peers', { sovereign_id: 'sovereign-acc', base_url: served.url }), 201);
      const report = await runPullJob(other.deps);
      expect(report.peers[0]).toMatchObject({ outcome: 'ok', imported: 1 });
      expect(
        other.db.sqlite.prepare("SELECT id, kind FROM imported_revocations WHERE issuer_sovereign_id = 'sovereign-acc'").all(),
      ).toEqual([{ id: revoked, kind: 'membership_attestation' }]);
    } finally {
      await served.close();
      await other.close();
      other.db.close();
    }
  });
});
