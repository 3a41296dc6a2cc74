import { describe, expect, it } from 'vitest';
import { auditCount, createTestAuthority, dbDigest, lastAudit, testOperator } from '../helpers/authority.ts';
import { attestationInput, subjectKey } from './fixtures.ts';

type Json = Record<string, any>;

const SMALL_ORDER_KEY = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]).toString('base64');

describe('attestations (admin)', () => {
  it('issue → 201 signed attestation; GET shows it with lifecycle; revoke appends to the log', async () => {
    const a = createTestAuthority({ sovereignId: 'na-a' });
    const res = await a.admin(
      'POST',
      '/admin/attestations',
      attestationInput({ subject_public_key: subjectKey.publicKey, claims: { team: 'Zürich', levels: [1, 2], nested: {} } }),
    );
    expect(res.status).toBe(201);
    const att = (await res.json()) as Json;
    expect(Object.keys(att).sort()).toEqual(
      [
        'attestation_id',
        'issuer_sovereign_id',
        'subject_id',
        'subject_public_key',
        'roles',
        'status',
        'issued_at',
        'valid_from',
        'expires_at',
        'issued_by',
        'claims',
        'signatures',
      ].sort(),
    );
    expect(att).toMatchObject({
      issuer_sovereign_id: 'na-a',
      subject_id: 'node-17',
      roles: ['role:client'],
      status: 'active',
      expires_at: '2026-03-08T00:00:00Z',
      issued_by: a.signingKey.keyId,
    });
    const audit = lastAudit(a.db);
    expect(audit).toMatchObject({ event_type: 'membership_attestation_issued', actor: { key_id: a.operator.key.keyId } });
    expect(JSON.stringify(audit)).not.toContain('Zürich'); // claims are private: not in the exported audit log
    expect((a.db.sqlite.prepare('SELECT authorized_by FROM attestations').get() as Json).authorized_by).toBe(a.operator.key.keyId);

    const shown = (await (await a.admin('GET', `/admin/attestations/${att.attestation_id}`)).json()) as Json;
    expect(shown).toEqual({
      attestation: att,
      revocation: null,
      lifecycle: { state: 'active', expiry_risk: 'low', seconds_until_expiry: 7 * 86400 },
    });

    let notified = 0;
    a.deps.changes.on('revocation', () => notified++);
    const rev = await a.admin('POST', `/admin/attestations/${att.attestation_id}/revoke`, { reason: 'affiliation_changed' });
    expect(rev.status).toBe(200);
    expect(await rev.json()).toEqual({
      attestation_id: att.attestation_id,
      reason: 'affiliation_changed',
      revoked_at: '2026-03-01T00:00:00Z',
      log_index: 0,
      publish: 'pending',
      next_scheduled_run: null,
    });
    expect(JSON.parse((a.db.sqlite.prepare('SELECT entry FROM revocation_log').get() as Json).entry)).toEqual({
      index: 0,
      kind: 'membership_attestation',
      id: att.attestation_id,
      reason: 'affiliation_changed',
      revoked_at: '2026-03-01T00:00:00Z',
    });
    expect(lastAudit(a.db).event_type).toBe('membership_attestation_revoked');
    expect(notified).toBe(1);

    const before = dbDigest(a.db);
    const again = await a.admin('POST', `/admin/attestations/${att.attestation_id}/revoke`, { reason: 'unspecified' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as Json).error.code).toBe('already_revoked');
    expect(dbDigest(a.db)).toBe(before);
  });

  it('is not listed publicly', async () => {
    const a = createTestAuthority();
    const att = (await (await a.admin('POST', '/admin/attestations', attestationInput())).json()) as Json;
    expect((await a.app.request(`/attestations/${att.attestation_id}`)).status).toBe(404);
    expect((await a.app.request('/attestations')).status).toBe(404);
    expect((await a.app.request(`/admin/attestations/${att.attestation_id}`)).status).toBe(401);
  });

  it.each([
    ['no roles', { roles: [] }, 422, 'no_roles'],
    ['bad role', { roles: ['client'] }, 422, 'invalid_role'],
    ['small-order subject key', { subject_public_key: SMALL_ORDER_KEY }, 422, 'small_order_public_key'],
    ['malformed subject key', { subject_public_key: 'not base64' }, 422, 'malformed_public_key'],
    ['bad subject id', { subject_id: '' }, 422, 'invalid_attestation_request'],
    ['unknown field', { color: 'red' }, 422, 'invalid_attestation_request'],
    ['other issuer', { issuer_sovereign_id: 'na-z' }, 403, 'issuer_not_self'],
    ['too long', { validity_hours: 400 * 24 }, 422, 'validity_too_long'],
    ['float claim', { claims: { score: 0.1 } }, 422, 'invalid_attestation_request'],
  ])('issue with %s → %s', async (_n, overrides, status, code) => {
    const a = createTestAuthority();
    const before = dbDigest(a.db);
    const res = await a.admin('POST', '/admin/attestations', attestationInput(overrides));
    expect(res.status).toBe(status);
    expect(((await res.json()) as Json).error.code).toBe(code);
    expect(dbDigest(a.db)).toBe(before);
    expect(auditCount(a.db, 'membership_attestation_issued')).toBe(0);
  });

  it('unknown ids are 404 attestation_not_found', async () => {
    const a = createTestAuthority();
    for (const [method, path, body] of [
      ['GET', '/admin/attestations/2b1f0a3c-9d4e-4f60-8a7b-1c2d3e4f5a6b', undefined],
      ['POST', '/admin/attestations/2b1f0a3c-9d4e-4f60-8a7b-1c2d3e4f5a6b/revoke', { reason: 'unspecified' }],
    ] as const) {
      const res = await a.admin(method, path, body);
      expect(res.status).toBe(404);
      expect(((await res.json()) as Json).error.code).toBe('attestation_not_found');
    }
  });

  it('revoke-by-operator revokes exactly that key\u2019s attestations in the window', async () => {
    const alice = testOperator('alice');
    const bob = testOperator('bob');
    const a = createTestAuthority({ operators: [alice, bob] });
    const issue = async (op: typeof alice) =>
      ((await (await a.admin('POST', '/admin/attestations', attestationInput(), { operator: op })).json()) as Json)
        .attestation_id as string;
    const before = await issue(alice);
    a.clock.advance(600);
    const a1 = await issue(alice);
    const b1 = await issue(bob);
    const a2 = await issue(alice);
    const res = await a.admin(
      'POST',
      '/admin/attestations/revoke-by-operator',
      { key_id: alice.key.keyId, since: '2026-03-01T00:10:00Z', reason: 'key_compromise' },
      { operator: bob },
    );
    expect(res.status).toBe(200);
    const out = (await res.json()) as Json;
    expect(out.revoked.map((r: Json) => r.attestation_id).sort()).toEqual([a1, a2].sort());
    expect(out.until).toBe('2026-03-01T00:10:00Z');
    const revoked = (a.db.sqlite.prepare('SELECT attestation_id FROM attestation_revocations').all() as Json[])
      .map((r) => r.attestation_id)
      .sort();
    expect(revoked).toEqual([a1, a2].sort());
    expect(revoked).not.toContain(before);
    expect(revoked).not.toContain(b1);
    expect(auditCount(a.db, 'membership_attestation_revoked')).toBe(2);
  });
});
