import { describe, expect, it } from 'vitest';
import { auditCount, createTestAuthority, dbDigest, lastAudit, testKey, testOperator, type TestAuthority } from '../helpers/authority.ts';
import { supersedeTreaty } from '../../src/treaties/service.ts';
import { subjectKey, subjectKey2, treatyInput } from './fixtures.ts';

type Json = Record<string, any>;

async function issue(a: TestAuthority, overrides: Record<string, unknown> = {}): Promise<Json> {
  const res = await a.admin('POST', '/admin/recognition-treaties', treatyInput(overrides));
  expect(res.status).toBe(201);
  return (await res.json()) as Json;
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as Json).error.code;
}

// A small-order point (the identity element) and a y-coordinate ≥ p (non-canonical encoding).
const SMALL_ORDER_KEY = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]).toString('base64');
// A valid key written in the URL-safe alphabet.
const urlSafeKey = Array.from({ length: 50 }, (_, i) => testKey(`urlsafe:${i}`).publicKey)
  .find((k) => /[+/]/.test(k))!
  .replace(/\+/g, '-')
  .replace(/\//g, '_');
const NON_CANONICAL_KEY = Buffer.from('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'hex').toString('base64');

describe('issue a treaty (POST /admin/recognition-treaties)', () => {
  it('returns 201 with the signed treaty, stores authorized_by, audits and notifies', async () => {
    const a = createTestAuthority({ sovereignId: 'na-a' });
    let notified = 0;
    a.deps.changes.on('treaties', () => notified++);
    const res = await a.admin(
      'POST',
      '/admin/recognition-treaties',
      treatyInput({ metadata: { region: 'eu' }, scope: { allowed_roles: ['role:client', 'role:service:relay'] } }),
    );
    expect(res.status).toBe(201);
    const treaty = (await res.json()) as Json;
    expect(res.headers.get('location')).toBe(`/recognition-treaties/${treaty.treaty_id}`);
    expect(Object.keys(treaty).sort()).toEqual(
      [
        'treaty_id',
        'issuer_sovereign_id',
        'subject_sovereign_id',
        'subject_public_keys',
        'scope',
        'status',
        'issued_at',
        'valid_from',
        'expires_at',
        'issued_by',
        'metadata',
        'signatures',
      ].sort(),
    );
    expect(treaty).toMatchObject({
      issuer_sovereign_id: 'na-a',
      subject_sovereign_id: 'peer-b',
      subject_public_keys: [subjectKey.publicKey],
      scope: { allowed_roles: ['role:client', 'role:service:relay'], accepted_statuses: ['active'], claims: {} },
      status: 'active',
      issued_at: '2026-03-01T00:00:00Z',
      valid_from: '2026-03-01T00:00:00Z',
      expires_at: '2026-03-31T00:00:00Z',
      issued_by: a.signingKey.keyId,
      metadata: { region: 'eu' },
    });
    expect(treaty.signatures).toEqual([{ key_id: a.signingKey.keyId, sig: expect.any(String) }]);
    const row = a.db.sqlite.prepare('SELECT authorized_by, issued_by FROM treaties WHERE treaty_id = ?').get(treaty.treaty_id) as Json;
    expect(row).toEqual({ authorized_by: a.operator.key.keyId, issued_by: a.signingKey.keyId });
    const audit = lastAudit(a.db);
    expect(audit).toMatchObject({
      event_type: 'recognition_treaty_issued',
      actor: { type: 'operator', key_id: a.operator.key.keyId, label: 'ops' },
    });
    expect((audit.details as Json).treaty_id).toBe(treaty.treaty_id);
    expect(notified).toBe(1);
  });

  it('accepts valid_from + expires_at and explicit accepted_statuses and claims', async () => {
    const a = createTestAuthority();
    const t = await issue(a, {
      validity_hours: undefined,
      valid_from: '2026-03-02T00:00:00Z',
      expires_at: '2026-04-02T00:00:00Z',
      scope: {
        allowed_roles: ['role:bridge'],
        accepted_statuses: ['active', 'probation'],
        claims: { tier: 2, tags: ['a'], nested: { ok: true } },
      },
    });
    expect(t.valid_from).toBe('2026-03-02T00:00:00Z');
    expect(t.scope).toEqual({
      allowed_roles: ['role:bridge'],
      accepted_statuses: ['active', 'probation'],
      claims: { tier: 2, tags: ['a'], nested: { ok: true } },
    });
  });

  const invalid: Array<[string, Record<string, unknown>, number, string]> = [
    ['unknown field', { extra: 1 }, 422, 'invalid_treaty_request'],
    ['bad subject identifier', { subject_sovereign_id: '-bad' }, 422, 'invalid_treaty_request'],
    ['issuer in another name', { issuer_sovereign_id: 'someone-else' }, 403, 'issuer_not_self'],
    ['self recognition', { subject_sovereign_id: 'sovereign-test' }, 422, 'self_recognition'],
    ['no roles', { scope: { allowed_roles: [] } }, 422, 'no_roles'],
    ['bad role', { scope: { allowed_roles: ['role:admin'] } }, 422, 'invalid_role'],
    ['bad service role', { scope: { allowed_roles: ['role:service:'] } }, 422, 'invalid_role'],
    ['duplicate role', { scope: { allowed_roles: ['role:client', 'role:client'] } }, 422, 'duplicate_role'],
    ['no keys', { subject_public_keys: [] }, 422, 'invalid_public_key_count'],
    ['17 keys', { subject_public_keys: Array.from({ length: 17 }, () => subjectKey.publicKey) }, 422, 'invalid_public_key_count'],
    ['duplicate keys', { subject_public_keys: [subjectKey.publicKey, subjectKey.publicKey] }, 422, 'duplicate_public_key'],
    ['url-safe base64 key', { subject_public_keys: [urlSafeKey] }, 422, 'malformed_public_key'],
    ['short key', { subject_public_keys: ['AAAA'] }, 422, 'malformed_public_key'],
    ['non-canonical key', { subject_public_keys: [NON_CANONICAL_KEY] }, 422, 'malformed_public_key'],
    ['small-order key', { subject_public_keys: [SMALL_ORDER_KEY] }, 422, 'small_order_public_key'],
    ['no validity', { validity_hours: undefined }, 422, 'invalid_validity_window'],
    ['hours and expires_at', { expires_at: '2026-04-01T00:00:00Z' }, 422, 'invalid_validity_window'],
    [
      'expires before valid_from',
      { validity_hours: undefined, valid_from: '2026-03-05T00:00:00Z', expires_at: '2026-03-04T00:00:00Z' },
      422,
      'invalid_validity_window',
    ],
    [
      'backdated',
      { validity_hours: undefined, valid_from: '2026-02-01T00:00:00Z', expires_at: '2026-04-01T00:00:00Z' },
      422,
      'invalid_validity_window',
    ],
    ['fractional timestamp', { validity_hours: undefined, expires_at: '2026-04-01T00:00:00.5Z' }, 422, 'invalid_timestamp'],
    ['offset timestamp', { validity_hours: undefined, expires_at: '2026-04-01T00:00:00+01:00' }, 422, 'invalid_timestamp'],
    ['too long', { validity_hours: 399 * 24 }, 422, 'validity_too_long'],
    ['float claim', { scope: { allowed_roles: ['role:client'], claims: { x: 1.5 } } }, 422, 'invalid_treaty_request'],
    ['non-string metadata', { metadata: { a: 1 } }, 422, 'invalid_treaty_request'],
    ['profile unknown', { subject_profile: 'x/9' }, 422, 'invalid_treaty_request'],
  ];
  it.each(invalid)('rejects %s with its code and leaves the database unchanged', async (_name, overrides, status, code) => {
    const a = createTestAuthority();
    await issue(a);
    const before = dbDigest(a.db);
    const audits = auditCount(a.db, 'recognition_treaty_issued');
    const res = await a.admin('POST', '/admin/recognition-treaties', treatyInput(overrides));
    expect(res.status).toBe(status);
    expect(await errorCode(res)).toBe(code);
    expect(dbDigest(a.db)).toBe(before);
    expect(auditCount(a.db, 'recognition_treaty_issued')).toBe(audits);
  });

  it('honours a configured maximum validity', async () => {
    const a = createTestAuthority({ config: { maxTreatyValidityDays: 10 } });
    const res = await a.admin('POST', '/admin/recognition-treaties', treatyInput({ validity_hours: 11 * 24 }));
    expect(await errorCode(res)).toBe('validity_too_long');
    expect((await a.admin('POST', '/admin/recognition-treaties', treatyInput({ validity_hours: 10 * 24 }))).status).toBe(201);
  });

  it('rejects malformed JSON and unsigned admin requests without changes', async () => {
    const a = createTestAuthority();
    const before = dbDigest(a.db);
    expect((await a.admin('POST', '/admin/recognition-treaties', '{"subject_sovereign_id":')).status).toBe(400);
    expect(
      (
        await a.app.request('/admin/recognition-treaties', {
          method: 'POST',
          body: JSON.stringify(treatyInput()),
          headers: { 'Content-Type': 'application/json' },
        })
      ).status,
    ).toBe(401);
    expect(dbDigest(a.db)).toBe(before);
  });
});

describe('revoke a treaty (POST /admin/recognition-treaties/{id}/revoke)', () => {
  it('records the revocation and its log entry in one step; the signed body is never edited', async () => {
    const a = createTestAuthority();
    const t = await issue(a);
    const body = (a.db.sqlite.prepare('SELECT body FROM treaties WHERE treaty_id = ?').get(t.treaty_id) as Json).body;
    let notified = 0;
    a.deps.changes.on('revocation', () => notified++);
    a.clock.advance(3600);
    const res = await a.admin('POST', `/admin/recognition-treaties/${t.treaty_id}/revoke`, { reason: 'key_compromise', incident: 'INC-7' });
    expect(res.status).toBe(200);
    const { publish, next_scheduled_run, ...rev } = (await res.json()) as Json;
    expect(rev).toEqual({
      treaty_id: t.treaty_id,
      reason: 'key_compromise',
      revoked_at: '2026-03-01T01:00:00Z',
      incident: 'INC-7',
      log_index: 0,
    });
    // No publishing jobs run in this test authority: only an explicit publish will carry it.
    expect({ publish, next_scheduled_run }).toEqual({ publish: 'pending', next_scheduled_run: null });
    const entry = JSON.parse((a.db.sqlite.prepare('SELECT entry FROM revocation_log WHERE idx = 0').get() as Json).entry);
    expect(entry).toEqual({
      index: 0,
      kind: 'recognition_treaty',
      id: t.treaty_id,
      reason: 'key_compromise',
      revoked_at: '2026-03-01T01:00:00Z',
      subject_sovereign_id: 'peer-b',
      incident: 'INC-7',
    });
    expect((a.db.sqlite.prepare('SELECT body FROM treaties WHERE treaty_id = ?').get(t.treaty_id) as Json).body).toBe(body);
    expect(lastAudit(a.db)).toMatchObject({ event_type: 'recognition_treaty_revoked', actor: { key_id: a.operator.key.keyId } });
    expect(notified).toBe(1);
    const view = (await (await a.app.request(`/recognition-treaties/${t.treaty_id}`)).json()) as Json;
    expect(view.revocation).toEqual(rev);
    expect(view.lifecycle).toEqual({ state: 'revoked', expiry_risk: 'none', seconds_until_expiry: null });
  });

  it('a second revoke is 409 already_revoked and the first reason stands', async () => {
    const a = createTestAuthority();
    const t = await issue(a);
    await a.admin('POST', `/admin/recognition-treaties/${t.treaty_id}/revoke`, { reason: 'policy_violation' });
    const before = dbDigest(a.db);
    const res = await a.admin('POST', `/admin/recognition-treaties/${t.treaty_id}/revoke`, { reason: 'key_compromise' });
    expect(res.status).toBe(409);
    const err = ((await res.json()) as Json).error;
    expect(err.code).toBe('already_revoked');
    expect(err.details.revocation.reason).toBe('policy_violation');
    expect(dbDigest(a.db)).toBe(before);
  });

  it.each([
    ['unknown id', '2b1f0a3c-9d4e-4f60-8a7b-1c2d3e4f5a6b', { reason: 'unspecified' }, 404, 'treaty_not_found'],
    ['non-uuid id', 'not-a-uuid', { reason: 'unspecified' }, 404, 'treaty_not_found'],
    ['unknown reason', null, { reason: 'bored' }, 422, 'invalid_reason'],
    ['superseded by hand', null, { reason: 'superseded' }, 422, 'invalid_reason'],
    ['unknown field', null, { reason: 'unspecified', note: 'x' }, 422, 'invalid_revocation_request'],
    ['bad incident label', null, { reason: 'unspecified', incident: ' spaced out' }, 422, 'invalid_revocation_request'],
  ])('%s → %s', async (_n, id, body, status, code) => {
    const a = createTestAuthority();
    const t = await issue(a);
    const before = dbDigest(a.db);
    const res = await a.admin('POST', `/admin/recognition-treaties/${id ?? t.treaty_id}/revoke`, body);
    expect(res.status).toBe(status);
    expect(await errorCode(res)).toBe(code);
    expect(dbDigest(a.db)).toBe(before);
  });
});

describe('supersede (POST /admin/recognition-treaties/{id}/supersede)', () => {
  it('revokes the old treaty as superseded with replaced_by and issues the new one', async () => {
    const a = createTestAuthority();
    const old = await issue(a);
    a.clock.advance(86400);
    const res = await a.admin('POST', `/admin/recognition-treaties/${old.treaty_id}/supersede`, {
      subject_public_keys: [subjectKey.publicKey, subjectKey2.publicKey],
      scope: { allowed_roles: ['role:client', 'role:bridge'] },
      validity_hours: 24 * 90,
    });
    expect(res.status).toBe(201);
    const { treaty, revocation } = (await res.json()) as Json;
    expect(treaty.subject_sovereign_id).toBe('peer-b');
    expect(treaty.subject_public_keys).toEqual([subjectKey.publicKey, subjectKey2.publicKey]);
    expect(revocation).toMatchObject({ treaty_id: old.treaty_id, reason: 'superseded', replaced_by: treaty.treaty_id });
    const oldView = (await (await a.app.request(`/recognition-treaties/${old.treaty_id}`)).json()) as Json;
    expect(oldView.lifecycle).toMatchObject({ state: 'replaced', replaced_by: treaty.treaty_id });
    const newView = (await (await a.app.request(`/recognition-treaties/${treaty.treaty_id}`)).json()) as Json;
    expect(newView.lifecycle.state).toBe('active');
    const events = (a.db.sqlite.prepare('SELECT event_type FROM audit_events ORDER BY seq DESC LIMIT 3').all() as Json[])
      .map((e) => e.event_type)
      .reverse();
    expect(events).toEqual(['recognition_treaty_revoked', 'recognition_treaty_issued', 'recognition_treaty_superseded']);
    const entry = JSON.parse((a.db.sqlite.prepare('SELECT entry FROM revocation_log WHERE idx = 0').get() as Json).entry);
    expect(entry).toMatchObject({ kind: 'recognition_treaty', id: old.treaty_id, reason: 'superseded' });
  });

  it('refuses a different subject, a revoked treaty and an unknown treaty without changes', async () => {
    const a = createTestAuthority();
    const old = await issue(a);
    const other = await issue(a);
    await a.admin('POST', `/admin/recognition-treaties/${other.treaty_id}/revoke`, { reason: 'unspecified' });
    const before = dbDigest(a.db);
    const terms = treatyInput();
    const r1 = await a.admin('POST', `/admin/recognition-treaties/${old.treaty_id}/supersede`, {
      ...terms,
      subject_sovereign_id: 'peer-c',
    });
    expect([r1.status, await errorCode(r1)]).toEqual([422, 'subject_mismatch']);
    const r2 = await a.admin('POST', `/admin/recognition-treaties/${other.treaty_id}/supersede`, terms);
    expect([r2.status, await errorCode(r2)]).toEqual([409, 'already_revoked']);
    const r3 = await a.admin('POST', '/admin/recognition-treaties/2b1f0a3c-9d4e-4f60-8a7b-1c2d3e4f5a6b/supersede', terms);
    expect([r3.status, await errorCode(r3)]).toEqual([404, 'treaty_not_found']);
    const r4 = await a.admin('POST', `/admin/recognition-treaties/${old.treaty_id}/supersede`, { ...terms, scope: { allowed_roles: [] } });
    expect([r4.status, await errorCode(r4)]).toEqual([422, 'no_roles']);
    expect(dbDigest(a.db)).toBe(before);
  });

  it('is atomic: a fault between revoking the old and storing the new leaves neither (service call)', async () => {
    const a = createTestAuthority();
    const old = await issue(a);
    // The fault fires only once the old treaty's revocation and its log entry are written, inside the
    // supersede transaction, as the new treaty is stored.
    a.db.sqlite.exec(`CREATE TRIGGER fault_after_revocation BEFORE INSERT ON treaties
      WHEN (SELECT count(*) FROM treaty_revocations) = 1 AND (SELECT count(*) FROM revocation_log) = 1
      BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);
    const before = dbDigest(a.db);
    const audits = auditCount(a.db);
    expect(() => supersedeTreaty(a.deps, old.treaty_id, treatyInput(), undefined)).toThrow('injected fault');
    expect(dbDigest(a.db)).toBe(before);
    expect(auditCount(a.db)).toBe(audits);
  });

  it('is atomic: a database trigger refusing the new treaty rolls back the revocation (HTTP)', async () => {
    const a = createTestAuthority();
    const old = await issue(a);
    a.db.sqlite.exec(`CREATE TRIGGER refuse_new_treaty BEFORE INSERT ON treaties BEGIN SELECT RAISE(ABORT, 'injected'); END`);
    const before = dbDigest(a.db);
    const res = await a.admin('POST', `/admin/recognition-treaties/${old.treaty_id}/supersede`, treatyInput());
    expect(res.status).toBe(500);
    expect(dbDigest(a.db)).toBe(before);
    expect(a.db.sqlite.prepare('SELECT count(*) AS n FROM revocation_log').get()).toEqual({ n: 0 });
    const view = (await (await a.app.request(`/recognition-treaties/${old.treaty_id}`)).json()) as Json;
    expect(view.revocation).toBeNull();
  });
});

describe('revoke-by-operator', () => {
  it('revokes exactly the treaties that operator key authorized in the window', async () => {
    const alice = testOperator('alice');
    const bob = testOperator('bob');
    const a = createTestAuthority({ operators: [alice, bob] });
    const by = async (op: typeof alice) => {
      const res = await a.admin('POST', '/admin/recognition-treaties', treatyInput(), { operator: op });
      expect(res.status).toBe(201);
      return ((await res.json()) as Json).treaty_id as string;
    };
    const early = await by(alice); // 00:00
    a.clock.advance(3600);
    const inWindow1 = await by(alice); // 01:00
    const bobs = await by(bob);
    a.clock.advance(3600);
    const inWindow2 = await by(alice); // 02:00
    const alreadyRevoked = await by(alice);
    await a.admin('POST', `/admin/recognition-treaties/${alreadyRevoked}/revoke`, { reason: 'unspecified' }, { operator: bob });
    a.clock.advance(3600);
    const late = await by(alice); // 03:00
    a.clock.advance(60);

    const res = await a.admin(
      'POST',
      '/admin/recognition-treaties/revoke-by-operator',
      {
        key_id: alice.key.keyId,
        since: '2026-03-01T01:00:00Z',
        until: '2026-03-01T02:00:00Z',
        reason: 'key_compromise',
        incident: 'INC-alice',
      },
      { operator: bob },
    );
    expect(res.status).toBe(200);
    const out = (await res.json()) as Json;
    expect(out.revoked.map((r: Json) => r.treaty_id).sort()).toEqual([inWindow1, inWindow2].sort());
    expect(out.already_revoked).toEqual([alreadyRevoked]);
    expect(out.revoked.every((r: Json) => r.reason === 'key_compromise' && r.incident === 'INC-alice')).toBe(true);
    const revokedNow = (a.db.sqlite.prepare("SELECT treaty_id FROM treaty_revocations WHERE reason = 'key_compromise'").all() as Json[])
      .map((r) => r.treaty_id)
      .sort();
    expect(revokedNow).toEqual([inWindow1, inWindow2].sort());
    for (const untouched of [early, bobs, late]) {
      expect(((await (await a.app.request(`/recognition-treaties/${untouched}`)).json()) as Json).revocation).toBeNull();
    }
    expect(a.db.sqlite.prepare("SELECT count(*) AS n FROM revocation_log WHERE reason = 'key_compromise'").get()).toEqual({ n: 2 });

    // Without a window it takes everything of that key still standing.
    const all = (await (
      await a.admin(
        'POST',
        '/admin/recognition-treaties/revoke-by-operator',
        { key_id: alice.key.keyId, reason: 'key_compromise' },
        { operator: bob },
      )
    ).json()) as Json;
    expect(all.revoked.map((r: Json) => r.treaty_id).sort()).toEqual([early, late].sort());
  });

  it('rejects a bad window or key id without changes', async () => {
    const a = createTestAuthority();
    await issue(a);
    const before = dbDigest(a.db);
    const r1 = await a.admin('POST', '/admin/recognition-treaties/revoke-by-operator', {
      key_id: a.operator.key.keyId,
      since: '2026-03-02T00:00:00Z',
      until: '2026-03-01T00:00:00Z',
      reason: 'key_compromise',
    });
    expect([r1.status, await errorCode(r1)]).toEqual([422, 'invalid_time_range']);
    const r2 = await a.admin('POST', '/admin/recognition-treaties/revoke-by-operator', { key_id: 'ops', reason: 'key_compromise' });
    expect([r2.status, await errorCode(r2)]).toEqual([422, 'invalid_revocation_request']);
    expect(dbDigest(a.db)).toBe(before);
  });
});

describe('read (GET /recognition-treaties, GET /recognition-treaties/{id})', () => {
  it('pages with a stable cursor and filters by issuer, subject and state', async () => {
    const a = createTestAuthority();
    const ids: string[] = [];
    const order: Array<[string, string]> = [];
    const track = (t: Json) => {
      ids.push(t.treaty_id);
      order.push([t.issued_at, t.treaty_id]);
    };
    for (let i = 0; i < 5; i++) {
      track(await issue(a, { subject_sovereign_id: i % 2 ? 'peer-c' : 'peer-b', validity_hours: i === 4 ? 48 : 24 * 30 }));
      a.clock.advance(i === 2 ? 0 : 1); // two treaties share an issued_at second: order falls back to id
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Response = await a.app.request(`/recognition-treaties?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as Json;
      seen.push(...page.treaties.map((t: Json) => t.treaty.treaty_id));
      cursor = page.next_cursor;
      pages++;
      if (pages === 1) track(await issue(a)); // issued mid-walk: appears at the end, nothing skipped
    } while (cursor);
    expect(pages).toBe(3);
    const expected = [...order].sort((x, y) => (x[0] === y[0] ? (x[1] < y[1] ? -1 : 1) : x[0] < y[0] ? -1 : 1)).map((x) => x[1]);
    expect(seen).toEqual(expected);
    expect(seen[5]).toBe(ids[5]);

    const subjectC = (await (await a.app.request('/recognition-treaties?subject=peer-c')).json()) as Json;
    expect(subjectC.treaties.map((t: Json) => t.treaty.subject_sovereign_id)).toEqual(['peer-c', 'peer-c']);
    const soon = (await (await a.app.request('/recognition-treaties?state=expiring_soon')).json()) as Json;
    expect(soon.treaties.map((t: Json) => t.treaty.treaty_id)).toEqual([ids[4]]);
    expect(soon.treaties[0].lifecycle.expiry_risk).toBe('medium');
    const none = (await (await a.app.request('/recognition-treaties?issuer=other')).json()) as Json;
    expect(none).toEqual({ treaties: [], next_cursor: null });
  });

  it.each([
    ['/recognition-treaties?limit=0', 'invalid_query'],
    ['/recognition-treaties?state=bogus', 'invalid_query'],
    ['/recognition-treaties?unknown=1', 'invalid_query'],
    ['/recognition-treaties?cursor=garbage', 'invalid_cursor'],
  ])('%s → 422 %s', async (path, code) => {
    const a = createTestAuthority();
    const res = await a.app.request(path);
    expect(res.status).toBe(422);
    expect(await errorCode(res)).toBe(code);
  });

  it('GET of an unknown id is 404 treaty_not_found', async () => {
    const a = createTestAuthority();
    const res = await a.app.request('/recognition-treaties/2b1f0a3c-9d4e-4f60-8a7b-1c2d3e4f5a6b');
    expect([res.status, await errorCode(res)]).toEqual([404, 'treaty_not_found']);
  });
});

describe('treaty metrics', () => {
  it('counts treaties by lifecycle state and the soonest expiry at scrape time', async () => {
    const a = createTestAuthority();
    await issue(a, { validity_hours: 48 });
    await issue(a, { validity_hours: 24 * 10 });
    const revoked = await issue(a);
    await a.admin('POST', `/admin/recognition-treaties/${revoked.treaty_id}/revoke`, { reason: 'unspecified' });
    const scrape = async () => (await (await a.app.request('/metrics')).text()).split('\n');
    let lines = await scrape();
    expect(lines).toContain('accord_treaties{lifecycle_state="expiring_soon"} 1');
    expect(lines).toContain('accord_treaties{lifecycle_state="active"} 1');
    expect(lines).toContain('accord_treaties{lifecycle_state="revoked"} 1');
    expect(lines).toContain('accord_treaty_min_seconds_to_expiry 172800');
    a.clock.advance(49 * 3600);
    lines = await scrape();
    expect(lines).toContain('accord_treaties{lifecycle_state="expired"} 1');
    expect(lines).toContain('accord_treaties{lifecycle_state="active"} 1');
    expect(lines).toContain(`accord_treaty_min_seconds_to_expiry ${10 * 86400 - 49 * 3600}`);
    a.clock.advance(10 * 86400);
    lines = await scrape();
    expect(lines).toContain('accord_treaty_min_seconds_to_expiry +Inf');
  });
});
