// Rolling back a bad import: an issuer's imports above N are removed, its chain state reset to N, the issuer paused.
import { describe, expect, it } from 'vitest';
import { canonicalHash } from '../../src/authority/crypto.ts';
import { findImportedRevocation, issuerFeedStatus } from '../../src/feeds/imported-revocations.ts';
import { auditCount, createTestAuthority, dbDigest, lastAudit, testKey, type TestAuthority } from '../helpers/authority.ts';
import { importVia, recognize, SimulatedIssuer } from './simulated-issuer.ts';

const ISSUER = 'issuer-b';

const rollback = (a: TestAuthority, body: unknown) => a.admin('POST', '/admin/revocation-feeds/rollback-import', body);
const issuerRow = (a: TestAuthority) =>
  a.db.sqlite.prepare('SELECT * FROM feed_issuers WHERE issuer_sovereign_id = ?').get(ISSUER) as Record<string, unknown>;

/** An authority that imported one feed per element of `feeds` (its entry count); `states[i]` is the issuer row after feed i+1. */
async function setup(feeds: number[]): Promise<{ a: TestAuthority; sim: SimulatedIssuer; states: Array<Record<string, unknown>> }> {
  const a = createTestAuthority({ sovereignId: 'authority-a' });
  recognize(a, ISSUER, [testKey(ISSUER)]);
  const sim = new SimulatedIssuer(ISSUER, [testKey(ISSUER)], a.clock);
  const states: Array<Record<string, unknown>> = [];
  for (const n of feeds) {
    a.clock.advance(60);
    expect((await importVia(a, sim.next({ entries: n }))).status).toBe(200);
    states.push(issuerRow(a));
  }
  return { a, sim, states };
}

describe('rollback of an import', () => {
  it('removes revocations above N, resets sequence, hash, frontier, log size and timestamps to feed N, pauses and audits', async () => {
    const { a, sim, states } = await setup([2, 3, 1]);
    const stateAfterOne = states[0]!;
    const res = await rollback(a, { issuer_sovereign_id: ISSUER, to_sequence: 1 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      issuer_sovereign_id: ISSUER,
      from_sequence: 3,
      to_sequence: 1,
      removed_feeds: 2,
      removed_revocations: 4,
      paused: true,
    });

    const row = issuerRow(a);
    for (const column of ['last_sequence', 'last_issued_at', 'next_update', 'log_size', 'frontier'])
      expect(row[column], column).toEqual(stateAfterOne[column]);
    expect(row.last_feed_hash).toBe(canonicalHash(sim.feeds[0]));
    expect(row).toMatchObject({ paused: 1, paused_reason: 'rollback' });
    expect(findImportedRevocation(a.db.sqlite, ISSUER, 'membership_attestation', sim.feeds[0]!.entries[1]!.id)).not.toBeNull();
    expect(findImportedRevocation(a.db.sqlite, ISSUER, 'membership_attestation', sim.feeds[1]!.entries[0]!.id)).toBeNull();
    expect(a.db.sqlite.prepare('SELECT sequence FROM imported_feeds ORDER BY sequence').all()).toEqual([{ sequence: 1 }]);

    expect(auditCount(a.db, 'feed_import_rolled_back')).toBe(1);
    expect(auditCount(a.db, 'feed_issuer_paused')).toBe(1);
    const event = a.db.sqlite.prepare("SELECT canonical FROM audit_events WHERE event_type = 'feed_import_rolled_back'").get() as {
      canonical: string;
    };
    expect(JSON.parse(event.canonical)).toMatchObject({
      actor: { type: 'operator', key_id: a.operator.key.keyId },
      details: {
        issuer: ISSUER,
        from_sequence: 3,
        to_sequence: 1,
        removed_feeds: 2,
        removed_revocations: 4,
        removed_feed_hashes: [
          { sequence: 2, feed_hash: canonicalHash(sim.feeds[1]) },
          { sequence: 3, feed_hash: canonicalHash(sim.feeds[2]) },
        ],
      },
    });
  });

  it('after resuming, the chain continues from N: the original feeds re-import, and so does a corrected feed N+1', async () => {
    const { a, sim } = await setup([2, 3]);
    await rollback(a, { issuer_sovereign_id: ISSUER, to_sequence: 1 });
    expect((await importVia(a, sim.feeds[1])).status).toBe(423);
    expect((await a.admin('POST', `/admin/peers/${ISSUER}/resume`)).status).toBe(200);
    expect(await (await importVia(a, sim.feeds[1])).json()).toMatchObject({ status: 'imported', sequence: 2, revoked_count: 3 });

    const corrected = await setup([2, 3]);
    await rollback(corrected.a, { issuer_sovereign_id: ISSUER, to_sequence: 1 });
    await corrected.a.admin('POST', `/admin/peers/${ISSUER}/resume`);
    // The issuer's replacement for its bad feed 2, on the same chain after feed 1.
    const replacement = new SimulatedIssuer(ISSUER, [testKey(ISSUER)], corrected.a.clock);
    replacement.next({
      entries: corrected.sim.feeds[0]!.entries.map(({ index: _i, ...e }) => e),
      mutate: (f) => Object.assign(f, corrected.sim.feeds[0]),
    });
    replacement.previousHash = canonicalHash(corrected.sim.feeds[0]);
    expect(await (await importVia(corrected.a, replacement.next({ entries: 1 }))).json()).toMatchObject({
      status: 'imported',
      sequence: 2,
      revoked_count: 1,
    });
  });

  it('rolling back to 0 removes everything from the issuer and restarts at sequence 1', async () => {
    const { a, sim } = await setup([1, 1]);
    const res = await rollback(a, { issuer_sovereign_id: ISSUER, to_sequence: 0 });
    expect(await res.json()).toMatchObject({ removed_feeds: 2, removed_revocations: 2 });
    expect(issuerRow(a)).toMatchObject({ last_sequence: 0, last_feed_hash: null, log_size: 0, frontier: '[]', next_update: null });
    expect(issuerFeedStatus(a.db.sqlite, ISSUER, a.clock())).toMatchObject({ imported_sequence: 0, stale: false, paused: true });
    await a.admin('POST', `/admin/peers/${ISSUER}/resume`);
    expect((await importVia(a, sim.feeds[0])).status).toBe(200);
  });

  it('refuses unknown issuers, targets beyond the last import and malformed requests, changing nothing', async () => {
    const { a } = await setup([1, 1]);
    const digest = dbDigest(a.db);
    const audits = auditCount(a.db);
    const cases: Array<[unknown, number, string]> = [
      [{ issuer_sovereign_id: 'nobody', to_sequence: 0 }, 404, 'issuer_not_found'],
      [{ issuer_sovereign_id: ISSUER, to_sequence: 3 }, 409, 'rollback_target_ahead'],
      [{ issuer_sovereign_id: ISSUER, to_sequence: -1 }, 422, 'invalid_rollback_request'],
      [{ issuer_sovereign_id: ISSUER }, 422, 'invalid_rollback_request'],
      [{ issuer_sovereign_id: ISSUER, to_sequence: 1, extra: true }, 422, 'invalid_rollback_request'],
    ];
    for (const [body, status, code] of cases) {
      const res = await rollback(a, body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    expect(dbDigest(a.db)).toBe(digest);
    expect(auditCount(a.db)).toBe(audits);
    expect(lastAudit(a.db).event_type).toBe('sovereign_revocation_feed_imported');
  });
});
