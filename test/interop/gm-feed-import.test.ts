// Importing Genesis Mesh snapshot feeds (POST /admin/sovereign-revocation-feeds/import): happy path, snapshot rules, every rejection.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedIssuer, importVia, recognize as recognizeNative } from '../feeds/simulated-issuer.ts';
import { auditCount, createTestAuthority, dbDigest, lastAudit, testKey, type TestAuthority } from '../helpers/authority.ts';
import { GM_SEED_A, GM_SEED_B, gmFeed, gmKeyFromSeed, gmSign, type GmFeedInput } from './gm-reference.ts';

const GM = 'sovereign-gm';
const keyA = gmKeyFromSeed(GM_SEED_A);
const keyB = gmKeyFromSeed(GM_SEED_B);
const NOW = '2026-03-01T00:00:00Z';
const ATT1 = '11111111-1111-4111-8111-111111111111';
const ATT2 = '22222222-2222-4222-8222-222222222222';
const ATT3 = '33333333-3333-4333-8333-333333333333';

async function recognize(a: TestAuthority, sovereign: string, publicKey: string, profile?: 'accord/1' | 'genesis-mesh'): Promise<void> {
  const res = await a.admin('POST', '/admin/recognition-treaties', {
    subject_sovereign_id: sovereign,
    subject_public_keys: [publicKey],
    scope: { allowed_roles: ['role:client'] },
    validity_hours: 24 * 90,
    ...(profile ? { profile } : {}),
  });
  expect(res.status, await res.clone().text()).toBe(201);
}

const feed = (over: Partial<GmFeedInput> = {}) =>
  gmFeed(keyA, {
    issuer: GM,
    sequence: 1,
    issuedAt: '2026-02-28T23:00:00Z',
    revoked: { [ATT1]: 'key_compromise', [ATT2]: 'unspecified' },
    ...over,
  });

function importRequest(a: TestAuthority, body: unknown) {
  return a.admin('POST', '/admin/sovereign-revocation-feeds/import', { feed: body });
}

function importedIds(a: TestAuthority): string[] {
  return (
    a.db.sqlite
      .prepare("SELECT id FROM imported_revocations WHERE issuer_sovereign_id = ? AND kind = 'membership_attestation' ORDER BY id")
      .all(GM) as Array<{ id: string }>
  ).map((r) => r.id);
}

function importMetric(a: TestAuthority, outcome: string, issuer = GM): number {
  const metric = a.deps.metrics.feedImports as unknown as { hashMap: Record<string, { labels: Record<string, string>; value: number }> };
  return Object.values(metric.hashMap).find((v) => v.labels.outcome === outcome && v.labels.issuer === issuer)?.value ?? 0;
}

let acc: TestAuthority;
beforeEach(async () => {
  acc = createTestAuthority({ sovereignId: 'sovereign-acc', now: NOW });
  await recognize(acc, GM, keyA.publicKey, 'genesis-mesh');
});
afterEach(async () => {
  await acc.close();
  acc.db.close();
});

describe('GM snapshot import: accepted feeds', () => {
  it('imports a snapshot signed by a genesis-mesh-profile issuer, audited and counted', async () => {
    const res = await importRequest(acc, feed());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      accepted: true,
      status: 'imported',
      profile: 'genesis-mesh',
      issuer_sovereign_id: GM,
      sequence: 1,
      revoked_count: 2,
      snapshot_count: 2,
    });
    expect(importedIds(acc)).toEqual([ATT1, ATT2]);
    const audit = lastAudit(acc.db);
    expect(audit.event_type).toBe('sovereign_revocation_feed_imported');
    expect(audit.details).toMatchObject({ issuer: GM, sequence: 1, revoked_count: 2, profile: 'genesis-mesh', via: 'admin' });
    expect(audit.actor).toMatchObject({ type: 'operator' });
    expect(importMetric(acc, 'imported')).toBe(1);
    const reason = acc.db.sqlite.prepare('SELECT reason, feed_sequence FROM imported_revocations WHERE id = ?').get(ATT1);
    expect(reason).toEqual({ reason: 'key_compromise', feed_sequence: 1 });
  });

  it('re-importing the identical snapshot is idempotent (already_imported, nothing changes)', async () => {
    expect((await importRequest(acc, feed())).status).toBe(200);
    const before = dbDigest(acc.db);
    const res = await importRequest(acc, feed());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'already_imported', revoked_count: 0 });
    expect(dbDigest(acc.db)).toBe(before);
  });

  it('a later snapshot only adds revocations: ids it no longer lists stay revoked', async () => {
    await importRequest(acc, feed());
    const res = await importRequest(
      acc,
      feed({ sequence: 3, issuedAt: '2026-02-28T23:30:00Z', revoked: { [ATT2]: 'unspecified', [ATT3]: 'policy_violation' } }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'imported', sequence: 3, revoked_count: 1, snapshot_count: 2 });
    expect(importedIds(acc)).toEqual([ATT1, ATT2, ATT3]);
    const state = acc.db.sqlite.prepare('SELECT last_sequence FROM feed_issuers WHERE issuer_sovereign_id = ?').get(GM);
    expect(state).toEqual({ last_sequence: 3 });
  });

  it('accepts fractional seconds and offsets in issued_at (signed in GM normalized form)', async () => {
    const res = await importRequest(acc, feed({ issuedAt: '2026-03-01T01:00:00.250000+02:00' }));
    expect(res.status, await res.clone().text()).toBe(200);
    const row = acc.db.sqlite.prepare('SELECT revoked_at FROM imported_revocations WHERE id = ?').get(ATT1);
    expect(row).toEqual({ revoked_at: '2026-02-28T23:00:00Z' });
  });

  it('accepts a reference key_id label that is not an Accord key_id', async () => {
    const { signatures: _s, ...unsigned } = feed();
    const res = await importRequest(acc, gmSign(unsigned, keyA, 'na-2026-q1'));
    expect(res.status).toBe(200);
  });

  it.each([
    ['a configured label', 'north-na-2026a'],
    ['an Accord key_id', `sha256:${'ab'.repeat(32)}`],
    ["another sovereign's public key (it selects nothing)", keyB.publicKey],
  ])('issued_by is a key label, never used to pick the key: %s is accepted', async (_name, label) => {
    const res = await importRequest(acc, feed({ label }));
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it('unknown reason strings are recorded as unspecified', async () => {
    const res = await importRequest(acc, feed({ revoked: { [ATT1]: 'Compromised laptop' } }));
    expect(res.status).toBe(200);
    expect(acc.db.sqlite.prepare('SELECT reason FROM imported_revocations WHERE id = ?').get(ATT1)).toEqual({ reason: 'unspecified' });
  });
});

type Mutation = (f: Record<string, unknown>) => unknown;
const resign =
  (mutate: (unsigned: Record<string, unknown>) => Record<string, unknown>): Mutation =>
  (f) => {
    const { signatures: _s, ...unsigned } = f;
    return gmSign(mutate(unsigned), keyA);
  };

describe('GM snapshot import: rejections (stricter than GM where GM is loose)', () => {
  const rows: Array<[string, Mutation, number, string, string | undefined]> = [
    ['unknown field', resign((u) => ({ ...u, note: 'extra' })), 422, 'invalid_revocation_feed', 'unknown_field'],
    [
      'unknown field in a signature entry',
      (f) => ({ ...f, signatures: [{ ...(f.signatures as object[])[0], alg: 'ed25519' }] }),
      422,
      'invalid_revocation_feed',
      'unknown_field',
    ],
    [
      'reordered id list',
      resign((u) => ({ ...u, revoked_attestation_ids: [ATT2, ATT1] })),
      422,
      'invalid_revocation_feed',
      'unsorted_id_list',
    ],
    [
      'duplicated id',
      resign((u) => ({ ...u, revoked_attestation_ids: [ATT1, ATT1, ATT2] })),
      422,
      'invalid_revocation_feed',
      'duplicate_id',
    ],
    [
      'base64 signature with junk characters',
      (f) => ({
        ...f,
        signatures: [
          {
            key_id: 'k',
            sig: `${(f.signatures as Array<{ sig: string }>)[0]!.sig.slice(0, 10)}!${(f.signatures as Array<{ sig: string }>)[0]!.sig.slice(10)}`,
          },
        ],
      }),
      422,
      'invalid_revocation_feed',
      'malformed_base64',
    ],
    [
      'base64 signature with whitespace',
      (f) => ({ ...f, signatures: [{ key_id: 'k', sig: ` ${(f.signatures as Array<{ sig: string }>)[0]!.sig}` }] }),
      422,
      'invalid_revocation_feed',
      'malformed_base64',
    ],
    [
      'timestamp without a zone',
      resign((u) => ({ ...u, issued_at: '2026-02-28T23:00:00' })),
      422,
      'invalid_revocation_feed',
      'timestamp_without_zone',
    ],
    [
      'impossible timestamp',
      resign((u) => ({ ...u, issued_at: '2026-02-30T23:00:00Z' })),
      422,
      'invalid_revocation_feed',
      'invalid_timestamp',
    ],
    ['non-ASCII issued_by label', resign((u) => ({ ...u, issued_by: 'clé-1' })), 422, 'invalid_revocation_feed', 'invalid_field'],
    ['issued_by label with a space', resign((u) => ({ ...u, issued_by: 'na key' })), 422, 'invalid_revocation_feed', 'invalid_field'],
    ['sequence given as a string', resign((u) => ({ ...u, sequence: '1' })), 422, 'invalid_revocation_feed', 'invalid_field'],
    ['negative sequence', resign((u) => ({ ...u, sequence: -1 })), 422, 'invalid_revocation_feed', 'invalid_field'],
    [
      'reason for an id that is not revoked',
      resign((u) => ({ ...u, revocation_reasons: { [ATT3]: 'unspecified' } })),
      422,
      'invalid_revocation_feed',
      'reason_for_unlisted_id',
    ],
    ['float sequence', (f) => ({ ...f, sequence: 1.5 }), 422, 'invalid_revocation_feed', 'invalid_field'],
    [
      'lone surrogate in a reason',
      (f) => ({ ...f, revocation_reasons: { [ATT1]: 'x\ud800' } }),
      422,
      'invalid_revocation_feed',
      'non_canonical_value',
    ],
    [
      'signed by a key the issuer is not recognized with',
      (f) => {
        const { signatures: _s, ...u } = f;
        return gmSign(u, keyB);
      },
      422,
      'invalid_signature',
      undefined,
    ],
    ['content changed after signing', (f) => ({ ...f, sequence: 2 }), 422, 'invalid_signature', undefined],
    [
      'issued_at in the future beyond skew',
      resign((u) => ({ ...u, issued_at: '2026-03-01T00:05:01Z' })),
      422,
      'invalid_timestamps',
      undefined,
    ],
    ['issuer not recognized', resign((u) => ({ ...u, issuer_sovereign_id: 'sovereign-unknown' })), 403, 'issuer_not_recognized', undefined],
  ];

  it.each(rows)('%s', async (_name, mutate, status, code, reason) => {
    const before = dbDigest(acc.db);
    const rejected = auditCount(acc.db, 'sovereign_revocation_feed_rejected');
    const res = await importRequest(acc, mutate(feed()));
    const body = (await res.json()) as { error: { code: string; details: { reason?: string } } };
    expect(res.status, JSON.stringify(body)).toBe(status);
    expect(body.error.code).toBe(code);
    if (reason) expect(body.error.details.reason).toBe(reason);
    expect(dbDigest(acc.db)).toBe(before);
    expect(auditCount(acc.db, 'sovereign_revocation_feed_rejected')).toBe(rejected + 1);
    expect(lastAudit(acc.db).details).toMatchObject({ reason: code, profile: 'genesis-mesh' });
    // Metric labels name only recognized issuers.
    expect(importMetric(acc, code, ['invalid_revocation_feed', 'issuer_not_recognized'].includes(code) ? 'unrecognized' : GM)).toBe(1);
  });

  it('an issuer recognized under accord/1 cannot send a GM snapshot (nothing guesses the profile)', async () => {
    await recognize(acc, 'sovereign-native', keyA.publicKey);
    const before = dbDigest(acc.db);
    const res = await importRequest(acc, feed({ issuer: 'sovereign-native' }));
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('wire_profile_mismatch');
    expect(dbDigest(acc.db)).toBe(before);
  });

  it('sequence must be strictly greater than the last imported', async () => {
    await importRequest(acc, feed({ sequence: 5 }));
    const before = dbDigest(acc.db);
    const res = await importRequest(acc, feed({ sequence: 4, issuedAt: '2026-02-28T23:30:00Z' }));
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('sequence_not_increasing');
    expect(dbDigest(acc.db)).toBe(before);
  });

  it('issued_at older than the last imported snapshot is rejected', async () => {
    await importRequest(acc, feed({ sequence: 1, issuedAt: '2026-02-28T23:30:00Z' }));
    const before = dbDigest(acc.db);
    const res = await importRequest(acc, feed({ sequence: 2, issuedAt: '2026-02-28T23:00:00Z' }));
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_timestamps');
    expect(dbDigest(acc.db)).toBe(before);
  });

  it('a different snapshot at an imported sequence is equivocation: evidence kept, issuer paused, later imports 423', async () => {
    await importRequest(acc, feed());
    const res = await importRequest(acc, feed({ revoked: { [ATT1]: 'key_compromise' } }));
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('equivocation');
    expect(auditCount(acc.db, 'feed_equivocation_detected')).toBe(1);
    expect(acc.db.sqlite.prepare('SELECT count(*) AS n FROM feed_equivocations').get()).toEqual({ n: 1 });
    const next = await importRequest(acc, feed({ sequence: 2, issuedAt: '2026-02-28T23:30:00Z' }));
    expect(next.status).toBe(423);
    expect(importedIds(acc)).toEqual([ATT1, ATT2]);
  });

  it('the body is {feed}: unknown top-level fields are rejected', async () => {
    const res = await acc.admin('POST', '/admin/sovereign-revocation-feeds/import', { feed: feed(), extra: 1 });
    expect(res.status).toBe(422);
  });

  it('a malformed JSON body is the first check failing: 422 invalid_revocation_feed, audited', async () => {
    const before = dbDigest(acc.db);
    const res = await acc.admin('POST', '/admin/sovereign-revocation-feeds/import', '{"feed": {');
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_revocation_feed');
    expect(lastAudit(acc.db)).toMatchObject({
      event_type: 'sovereign_revocation_feed_rejected',
      details: { reason: 'invalid_revocation_feed' },
    });
    expect(dbDigest(acc.db)).toBe(before);
  });

  it('the native import route refuses a native feed from an issuer recognized under genesis-mesh (wire_profile_mismatch)', async () => {
    const key = testKey('gm-issuer-native-feed');
    recognizeNative(acc, 'sovereign-gm2', [key], { profile: 'genesis-mesh' });
    const issuer = new SimulatedIssuer('sovereign-gm2', [key], acc.clock);
    const before = dbDigest(acc.db);
    const res = await importVia(acc, issuer.next({ entries: 1 }));
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('wire_profile_mismatch');
    expect(dbDigest(acc.db)).toBe(before);
  });

  it('the route requires an admin signature', async () => {
    const res = await acc.app.request('/admin/sovereign-revocation-feeds/import', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ feed: feed() }),
    });
    expect(res.status).toBe(401);
  });
});
