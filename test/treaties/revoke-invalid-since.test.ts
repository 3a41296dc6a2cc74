// Revocations with `invalid_since` over HTTP: validation bounds, the record, the log entry, the published feed, an importer.
import { describe, expect, it } from 'vitest';
import { startFeedJobs } from '../../src/feeds/scheduler.ts';
import { createTestAuthority, dbDigest, lastAudit, type TestAuthority } from '../helpers/authority.ts';
import { attestationInput, treatyInput } from './fixtures.ts';

type Json = Record<string, any>;

const KINDS = [
  {
    kind: 'treaty',
    issue: '/admin/recognition-treaties',
    body: () => treatyInput(),
    id: (o: Json) => o.treaty_id as string,
    revoke: (id: string) => `/admin/recognition-treaties/${id}/revoke`,
  },
  {
    kind: 'attestation',
    issue: '/admin/attestations',
    body: () => attestationInput(),
    id: (o: Json) => o.attestation_id as string,
    revoke: (id: string) => `/admin/attestations/${id}/revoke`,
  },
] as const;

async function issued(a: TestAuthority, k: (typeof KINDS)[number]): Promise<string> {
  const res = await a.admin('POST', k.issue, k.body());
  expect(res.status).toBe(201);
  return k.id((await res.json()) as Json);
}

function logEntry(a: TestAuthority, index: number): Json {
  return JSON.parse((a.db.sqlite.prepare('SELECT entry FROM revocation_log WHERE idx = ?').get(index) as Json).entry) as Json;
}

describe.each(KINDS)('$kind revoke with invalid_since', (k) => {
  it('is recorded, answered, shown, audited and carried in the log entry and the published feed', async () => {
    const a = createTestAuthority();
    const id = await issued(a, k);
    a.clock.advance(6 * 3600);
    const res = await a.admin('POST', k.revoke(id), { reason: 'key_compromise', invalid_since: '2026-03-01T02:00:00Z', incident: 'INC-9' });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as Json;
    expect(answer).toMatchObject({
      reason: 'key_compromise',
      revoked_at: '2026-03-01T06:00:00Z',
      invalid_since: '2026-03-01T02:00:00Z',
      incident: 'INC-9',
      log_index: 0,
    });
    expect(logEntry(a, 0)).toMatchObject({
      id,
      revoked_at: '2026-03-01T06:00:00Z',
      invalid_since: '2026-03-01T02:00:00Z',
      incident: 'INC-9',
    });
    expect(lastAudit(a.db).details).toMatchObject({ invalid_since: '2026-03-01T02:00:00Z' });

    const shownPath = k.kind === 'treaty' ? `/recognition-treaties/${id}` : `/admin/attestations/${id}`;
    const shown = (await (
      await (k.kind === 'treaty' ? Promise.resolve(a.app.request(shownPath)) : a.admin('GET', shownPath))
    ).json()) as Json;
    expect(shown.revocation).toMatchObject({ invalid_since: '2026-03-01T02:00:00Z' });

    // A second revoke is refused; the standing revocation in the details keeps its invalid_since.
    const again = await a.admin('POST', k.revoke(id), { reason: 'unspecified' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as Json).error.details.revocation.invalid_since).toBe('2026-03-01T02:00:00Z');

    expect((await a.admin('POST', '/admin/revocation-feeds/publish')).status).toBe(200);
    const feed = (await (await a.app.request('/revocation-feeds/latest')).json()) as Json;
    expect(feed.entries).toEqual([expect.objectContaining({ index: 0, id, invalid_since: '2026-03-01T02:00:00Z' })]);
  });

  it('accepts the bounds: the issuance instant and now', async () => {
    const a = createTestAuthority();
    const first = await issued(a, k);
    const second = await issued(a, k);
    a.clock.advance(60);
    expect((await a.admin('POST', k.revoke(first), { reason: 'unspecified', invalid_since: '2026-03-01T00:00:00Z' })).status).toBe(200);
    expect((await a.admin('POST', k.revoke(second), { reason: 'unspecified', invalid_since: '2026-03-01T00:01:00Z' })).status).toBe(200);
    expect([logEntry(a, 0).invalid_since, logEntry(a, 1).invalid_since]).toEqual(['2026-03-01T00:00:00Z', '2026-03-01T00:01:00Z']);
  });

  it('without invalid_since the entry has no such field (never null)', async () => {
    const a = createTestAuthority();
    const id = await issued(a, k);
    expect((await a.admin('POST', k.revoke(id), { reason: 'unspecified' })).status).toBe(200);
    expect(Object.keys(logEntry(a, 0))).not.toContain('invalid_since');
  });

  it.each([
    ['a date without time', '2026-03-01', 'invalid_revocation_request'],
    ['an offset instead of Z', '2026-03-01T01:00:00+01:00', 'invalid_revocation_request'],
    ['fractional seconds', '2026-03-01T00:30:00.5Z', 'invalid_revocation_request'],
    ['an impossible date', '2026-02-30T00:00:00Z', 'invalid_revocation_request'],
    ['a number', 1772323200, 'invalid_revocation_request'],
    ['null', null, 'invalid_revocation_request'],
    ['one second in the future', '2026-03-01T01:00:01Z', 'invalid_since_out_of_range'],
    ['far in the future', '2099-01-01T00:00:00Z', 'invalid_since_out_of_range'],
    ['one second before issuance', '2026-02-28T23:59:59Z', 'invalid_since_out_of_range'],
  ])('refuses %s (%s) with %s and changes nothing', async (_name, value, code) => {
    const a = createTestAuthority();
    const id = await issued(a, k);
    a.clock.advance(3600);
    const before = dbDigest(a.db);
    const res = await a.admin('POST', k.revoke(id), { reason: 'unspecified', invalid_since: value });
    expect(res.status).toBe(422);
    const error = ((await res.json()) as Json).error;
    expect(error.code).toBe(code);
    if (code === 'invalid_revocation_request') expect(error.details.issues.map((i: Json) => i.path)).toEqual(['invalid_since']);
    else expect(error.details).toEqual({ invalid_since: value, not_before: '2026-03-01T00:00:00Z', not_after: '2026-03-01T01:00:00Z' });
    expect(dbDigest(a.db)).toBe(before);
  });
});

describe('an importer keeps the invalid_since of a revocation it imports', () => {
  it('A revokes with invalid_since, B imports A’s feed and stores it', async () => {
    const a = createTestAuthority({ sovereignId: 'na-a' });
    const b = createTestAuthority({ sovereignId: 'na-b' });
    expect(
      (
        await b.admin(
          'POST',
          '/admin/recognition-treaties',
          treatyInput({ subject_sovereign_id: 'na-a', subject_public_keys: [a.signingKey.publicKey] }),
        )
      ).status,
    ).toBe(201);
    const attestation = await issued(a, KINDS[1]);
    a.clock.advance(3600);
    b.clock.advance(3600);
    expect(
      (await a.admin('POST', KINDS[1].revoke(attestation), { reason: 'key_compromise', invalid_since: '2026-03-01T00:30:00Z' })).status,
    ).toBe(200);
    expect((await a.admin('POST', '/admin/revocation-feeds/publish')).status).toBe(200);
    const feed = await (await a.app.request('/revocation-feeds/latest')).json();
    const imported = await b.admin('POST', '/admin/revocation-feeds/import', { feed });
    expect(imported.status).toBe(200);
    const row = b.db.sqlite.prepare('SELECT id, invalid_since FROM imported_revocations WHERE issuer_sovereign_id = ?').get('na-a') as Json;
    expect(row).toEqual({ id: attestation, invalid_since: '2026-03-01T00:30:00Z' });
  });
});

describe('the revoke answer says when the revocation will be published', () => {
  it('pending with no schedule when this process runs no publishing jobs', async () => {
    const a = createTestAuthority();
    const id = await issued(a, KINDS[0]);
    const answer = (await (await a.admin('POST', KINDS[0].revoke(id), { reason: 'unspecified' })).json()) as Json;
    expect(answer).toMatchObject({ publish: 'pending', next_scheduled_run: null });
    expect(answer).not.toHaveProperty('expected_publication');
  });

  it('scheduled, at the debounce after the revocation, when the publishing jobs run', async () => {
    const a = createTestAuthority();
    startFeedJobs(a.deps);
    try {
      const treaty = await issued(a, KINDS[0]);
      const attestation = await issued(a, KINDS[1]);
      for (const [k, id] of [
        [KINDS[0], treaty],
        [KINDS[1], attestation],
      ] as const) {
        const answer = (await (await a.admin('POST', k.revoke(id), { reason: 'unspecified' })).json()) as Json;
        // 2 s after the revocation on the authority's clock (rounded up to the second).
        expect(answer).toMatchObject({ publish: 'scheduled', expected_publication: '2026-03-01T00:00:02Z' });
        expect(answer).not.toHaveProperty('next_scheduled_run');
      }
    } finally {
      for (const job of a.deps.background) await job.stop();
    }
  });

  it('pending until the next run of the publish schedule when nothing is debounced', async () => {
    const a = createTestAuthority({ config: { feedPublishCron: '0 0 1 1 *' } });
    startFeedJobs(a.deps);
    try {
      // Nothing in the window: nothing revoked, so no publish is debounced.
      const none = (await (
        await a.admin('POST', '/admin/attestations/revoke-by-operator', { key_id: `sha256:${'0'.repeat(64)}`, reason: 'key_compromise' })
      ).json()) as Json;
      expect(none.revoked).toEqual([]);
      expect(none.publish).toBe('pending');
      // The schedule runs once a year (1 January, 00:00): stated on the authority's clock, within that year.
      expect(none.next_scheduled_run).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      const ahead = Date.parse(none.next_scheduled_run) - a.clock().getTime();
      expect(ahead).toBeGreaterThan(0);
      expect(ahead).toBeLessThanOrEqual(366 * 86400 * 1000 + 1000);
    } finally {
      for (const job of a.deps.background) await job.stop();
    }
  });
});
