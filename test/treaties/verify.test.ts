import { describe, expect, it } from 'vitest';
import { signObject } from '../../src/authority/crypto.ts';
import { publishFeeds, latestPublishedFeed } from '../../src/feeds/publish.ts';
import { importFeed } from '../../src/feeds/import.ts';
import { issueAttestation, revokeAttestation } from '../../src/treaties/attestations.ts';
import { issueTreaty, revokeTreaty } from '../../src/treaties/service.ts';
import { verifyAttestation } from '../../src/verification/verification.ts';
import { createTestAuthority, dbDigest, testKey, type TestAuthority } from '../helpers/authority.ts';
import { attestationInput, subjectKey, treatyInput } from './fixtures.ts';

type Json = Record<string, any>;

/** Two authorities: A (the verifier) recognizes B for role:client with B's signing key. */
function pair(treatyOverrides: Record<string, unknown> = {}) {
  const a = createTestAuthority({ sovereignId: 'na-a' });
  const b = createTestAuthority({ sovereignId: 'na-b' });
  const treaty = issueTreaty(
    a.deps,
    treatyInput({ subject_sovereign_id: 'na-b', subject_public_keys: [b.signingKey.publicKey], ...treatyOverrides }),
  );
  return { a, b, treaty };
}

async function post(a: TestAuthority, path: string, body: unknown): Promise<{ status: number; body: Json }> {
  const res = await a.app.request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  return { status: res.status, body: (await res.json()) as Json };
}

const verifyTreatyHttp = (a: TestAuthority, body: unknown) => post(a, '/recognition-treaties/verify', body);
const verifyAttestationHttp = (a: TestAuthority, body: unknown) => post(a, '/attestations/verify', body);

function tamperSig(obj: Json): Json {
  const sig = Buffer.from(obj.signatures[0].sig, 'base64');
  sig[10] = sig[10]! ^ 0x01;
  return { ...obj, signatures: [{ ...obj.signatures[0], sig: sig.toString('base64') }] };
}

/** Records that `issuer`'s feed revoked something, as a feed import would (test setup of the imported-revocations table). */
function importedRevocation(a: TestAuthority, issuer: string, kind: string, id: string, nextUpdate = '2026-03-02T00:00:00Z'): void {
  a.db.sqlite
    .prepare('INSERT OR IGNORE INTO feed_issuers (issuer_sovereign_id, last_sequence, next_update, last_import_at) VALUES (?, 1, ?, ?)')
    .run(issuer, nextUpdate, '2026-03-01T00:00:00Z');
  const n = (a.db.sqlite.prepare('SELECT count(*) AS n FROM imported_revocations WHERE issuer_sovereign_id = ?').get(issuer) as Json).n;
  a.db.sqlite
    .prepare(
      'INSERT INTO imported_revocations (issuer_sovereign_id, log_index, kind, id, reason, revoked_at, feed_sequence) VALUES (?, ?, ?, ?, ?, ?, 1)',
    )
    .run(issuer, n, kind, id, 'key_compromise', '2026-03-01T00:00:00Z');
  // Rows written here stand for an import; every import announces itself to the caches.
  a.deps.changes.emit('feed-imported', { issuer, sequence: 1 });
}

describe('POST /recognition-treaties/verify', () => {
  it('accepts an own treaty with own keys', async () => {
    const a = createTestAuthority({ sovereignId: 'na-a' });
    const t = issueTreaty(a.deps, treatyInput());
    const r = await verifyTreatyHttp(a, { treaty: t, expected_issuer: 'na-a', expected_subject: 'peer-b' });
    expect(r).toEqual({
      status: 200,
      body: {
        accepted: true,
        reason: 'accepted',
        warnings: [],
        treaty_id: t.treaty_id,
        issuer_sovereign_id: 'na-a',
        subject_sovereign_id: 'peer-b',
        signed_by: a.signingKey.keyId,
      },
    });
  });

  it('accepts a foreign treaty with the issuer keys this authority recognizes, flagging unrestricted scope', async () => {
    const { a, b } = pair();
    const foreign = issueTreaty(b.deps, treatyInput({ subject_sovereign_id: 'na-c' }));
    const ok = await verifyTreatyHttp(a, { treaty: foreign });
    expect(ok.body).toMatchObject({ accepted: true, reason: 'accepted', warnings: ['issuer_feed_unknown'] });
    // A foreign treaty with empty allowed_roles (reference "any role"), signed by B's key.
    const { signatures: _s, ...unsigned } = foreign;
    const open = signObject({ ...unsigned, scope: { ...foreign.scope, allowed_roles: [] } }, [b.signingKey]);
    const flagged = await verifyTreatyHttp(a, { treaty: open });
    expect(flagged.body.accepted).toBe(true);
    expect(flagged.body.warnings).toContain('scope_unrestricted');
  });

  it.each([
    ['tampered signature', (t: Json) => ({ treaty: tamperSig(t) }), 'invalid_signature'],
    ['wrong key given', (t: Json) => ({ treaty: t, issuer_public_keys: [subjectKey.publicKey] }), 'invalid_signature'],
    ['tampered field', (t: Json) => ({ treaty: { ...t, expires_at: '2027-01-01T00:00:00Z' } }), 'invalid_signature'],
    ['expected issuer differs', (t: Json) => ({ treaty: t, expected_issuer: 'na-z' }), 'wrong_issuer'],
    ['expected subject differs', (t: Json) => ({ treaty: t, expected_subject: 'peer-z' }), 'wrong_subject'],
  ])('%s → %s', async (_n, body, reason) => {
    const a = createTestAuthority({ sovereignId: 'na-a' });
    const t = issueTreaty(a.deps, treatyInput());
    const r = await verifyTreatyHttp(a, body(t as Json));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: false, reason });
  });

  it('rejects expired, not yet valid and revoked treaties, in clock time', async () => {
    const a = createTestAuthority({ sovereignId: 'na-a' });
    const t = issueTreaty(
      a.deps,
      treatyInput({ validity_hours: undefined, valid_from: '2026-03-02T00:00:00Z', expires_at: '2026-03-03T00:00:00Z' }),
    );
    expect((await verifyTreatyHttp(a, { treaty: t })).body.reason).toBe('not_yet_valid');
    a.clock.set('2026-03-02T00:00:00Z');
    expect((await verifyTreatyHttp(a, { treaty: t })).body.reason).toBe('accepted');
    a.clock.set('2026-03-03T00:00:00Z');
    expect((await verifyTreatyHttp(a, { treaty: t })).body.reason).toBe('expired');
    a.clock.set('2026-03-02T12:00:00Z');
    revokeTreaty(a.deps, t.treaty_id, { reason: 'policy_violation' });
    expect((await verifyTreatyHttp(a, { treaty: t })).body).toMatchObject({ accepted: false, reason: 'revoked' });
  });

  it('unknown issuer; issuer recognized only by an expired treaty; foreign treaty revoked in the issuer feed', async () => {
    const { a, b, treaty } = pair({ validity_hours: 24 });
    const stranger = createTestAuthority({ sovereignId: 'na-x' });
    const strangers = issueTreaty(stranger.deps, treatyInput({ subject_sovereign_id: 'na-c' }));
    expect((await verifyTreatyHttp(a, { treaty: strangers })).body).toMatchObject({ accepted: false, reason: 'unknown_issuer' });

    const foreign = issueTreaty(b.deps, treatyInput({ subject_sovereign_id: 'na-c' }));
    importedRevocation(a, 'na-b', 'recognition_treaty', foreign.treaty_id);
    expect((await verifyTreatyHttp(a, { treaty: foreign })).body).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });

    a.clock.advance(24 * 3600);
    expect((await verifyTreatyHttp(a, { treaty: foreign })).body).toMatchObject({ accepted: false, reason: 'issuer_not_recognized' });
    expect(treaty.expires_at).toBe('2026-03-02T00:00:00Z');
  });

  it('malformed treaties are 422 invalid_treaty and change nothing', async () => {
    const a = createTestAuthority({ sovereignId: 'na-a' });
    const t = issueTreaty(a.deps, treatyInput()) as Json;
    const before = dbDigest(a.db);
    for (const body of [
      {},
      { treaty: { ...t, extra: 1 } },
      { treaty: { ...t, treaty_id: 'x' } },
      { treaty: t, unknown: true },
      { treaty: { ...t, signatures: [] } },
    ]) {
      const r = await verifyTreatyHttp(a, body);
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('invalid_treaty');
    }
    const r = await verifyTreatyHttp(a, { treaty: t, issuer_public_keys: ['AAAA'] });
    expect([r.status, r.body.error.code]).toEqual([422, 'malformed_public_key']);
    expect(dbDigest(a.db)).toBe(before);
  });
});

describe('POST /attestations/verify', () => {
  it('accepts an attestation of a recognized issuer within the treaty scope', async () => {
    const { a, b, treaty } = pair();
    const att = issueAttestation(b.deps, attestationInput());
    const r = await verifyAttestationHttp(a, { attestation: att });
    expect(r).toEqual({
      status: 200,
      body: {
        accepted: true,
        reason: 'accepted',
        warnings: ['issuer_feed_unknown'],
        treaty_id: treaty.treaty_id,
        attestation_id: att.attestation_id,
        issuer_sovereign_id: 'na-b',
        subject_id: 'node-17',
        signed_by: b.signingKey.keyId,
      },
    });
  });

  it('accepts this authority\u2019s own attestation and rejects it once revoked here', async () => {
    const a = createTestAuthority({ sovereignId: 'na-a' });
    const att = issueAttestation(a.deps, attestationInput());
    expect((await verifyAttestationHttp(a, { attestation: att })).body).toMatchObject({
      accepted: true,
      reason: 'accepted',
      treaty_id: null,
    });
    revokeAttestation(a.deps, att.attestation_id, { reason: 'affiliation_changed' });
    expect((await verifyAttestationHttp(a, { attestation: att })).body).toMatchObject({ accepted: false, reason: 'revoked' });
  });

  it('rejects a tampered signature, a wrong key, a role outside the scope and an unaccepted status', async () => {
    const { a, b } = pair({ scope: { allowed_roles: ['role:client'], accepted_statuses: ['active'] } });
    const att = issueAttestation(b.deps, attestationInput()) as Json;
    expect((await verifyAttestationHttp(a, { attestation: tamperSig(att) })).body).toMatchObject({
      accepted: false,
      reason: 'invalid_signature',
    });
    const { signatures: _s, ...unsigned } = att;
    const byOtherKey = signObject(unsigned, [testKey('not-b')]);
    expect((await verifyAttestationHttp(a, { attestation: byOtherKey })).body).toMatchObject({
      accepted: false,
      reason: 'invalid_signature',
    });
    const bridge = issueAttestation(b.deps, attestationInput({ roles: ['role:client', 'role:bridge'] }));
    expect((await verifyAttestationHttp(a, { attestation: bridge })).body).toMatchObject({ accepted: false, reason: 'role_not_in_scope' });
    const probation = signObject({ ...unsigned, status: 'probation' }, [b.signingKey]);
    expect((await verifyAttestationHttp(a, { attestation: probation })).body).toMatchObject({
      accepted: false,
      reason: 'status_not_accepted',
    });
  });

  it('rejects attestations outside their window', async () => {
    const { a, b } = pair({ validity_hours: 24 * 60 });
    const att = issueAttestation(
      b.deps,
      attestationInput({ validity_hours: undefined, valid_from: '2026-03-05T00:00:00Z', expires_at: '2026-03-06T00:00:00Z' }),
    );
    expect((await verifyAttestationHttp(a, { attestation: att })).body.reason).toBe('not_yet_valid');
    a.clock.set('2026-03-05T00:00:00Z');
    expect((await verifyAttestationHttp(a, { attestation: att })).body.reason).toBe('accepted');
    a.clock.set('2026-03-06T00:00:00Z');
    expect((await verifyAttestationHttp(a, { attestation: att })).body.reason).toBe('expired');
  });

  it('unknown issuer, and an issuer recognized only by an expired treaty', async () => {
    const { a, b } = pair({ validity_hours: 24 });
    const x = createTestAuthority({ sovereignId: 'na-x' });
    expect((await verifyAttestationHttp(a, { attestation: issueAttestation(x.deps, attestationInput()) })).body).toMatchObject({
      accepted: false,
      reason: 'unknown_issuer',
    });
    const att = issueAttestation(b.deps, attestationInput({ validity_hours: 24 * 7 }));
    expect((await verifyAttestationHttp(a, { attestation: att })).body.reason).toBe('accepted');
    a.clock.advance(24 * 3600); // the treaty expires; the cached recognition must not outlive it
    expect((await verifyAttestationHttp(a, { attestation: att })).body).toMatchObject({ accepted: false, reason: 'issuer_not_recognized' });
  });

  it('follows treaty changes at once: revoked treaty, new treaty, treaty that starts later', async () => {
    const { a, b, treaty } = pair();
    const att = issueAttestation(b.deps, attestationInput({ validity_hours: 24 * 30 }));
    expect((await verifyAttestationHttp(a, { attestation: att })).body.reason).toBe('accepted');
    revokeTreaty(a.deps, treaty.treaty_id, { reason: 'privilege_withdrawn' });
    expect((await verifyAttestationHttp(a, { attestation: att })).body.reason).toBe('issuer_not_recognized');
    const later = issueTreaty(
      a.deps,
      treatyInput({
        subject_sovereign_id: 'na-b',
        subject_public_keys: [b.signingKey.publicKey],
        validity_hours: undefined,
        valid_from: '2026-03-01T00:00:30Z',
        expires_at: '2026-04-01T00:00:00Z',
      }),
    );
    expect((await verifyAttestationHttp(a, { attestation: att })).body.reason).toBe('issuer_not_recognized');
    a.clock.advance(30);
    expect((await verifyAttestationHttp(a, { attestation: att })).body).toMatchObject({ reason: 'accepted', treaty_id: later.treaty_id });
  });

  it('rejects what the issuer\u2019s imported feed revoked: the attestation, or the signing key; warns when the feed is stale', async () => {
    const { a, b } = pair();
    const att = issueAttestation(b.deps, attestationInput());
    importedRevocation(a, 'na-b', 'membership_attestation', att.attestation_id);
    expect((await verifyAttestationHttp(a, { attestation: att })).body).toMatchObject({
      accepted: false,
      reason: 'revoked_by_issuer_feed',
      warnings: [],
    });
    const other = issueAttestation(b.deps, attestationInput());
    expect((await verifyAttestationHttp(a, { attestation: other })).body).toMatchObject({ accepted: true, warnings: [] });
    a.clock.set('2026-03-02T00:00:01Z'); // past next_update with no newer feed
    expect((await verifyAttestationHttp(a, { attestation: other })).body).toMatchObject({
      accepted: true,
      warnings: ['issuer_feed_stale'],
    });
    importedRevocation(a, 'na-b', 'public_key', b.signingKey.keyId);
    expect((await verifyAttestationHttp(a, { attestation: other })).body).toMatchObject({ accepted: false, reason: 'signing_key_revoked' });
  });

  it('end to end: B revokes, publishes its feed, A imports it, A rejects the attestation', async () => {
    const { a, b } = pair();
    const att = issueAttestation(b.deps, attestationInput());
    revokeAttestation(b.deps, att.attestation_id, { reason: 'affiliation_changed' });
    publishFeeds(b.deps, { trigger: 'admin' });
    const feed = JSON.parse(latestPublishedFeed(b.db.sqlite)!.body);
    importFeed(a.deps, feed, { actor: { type: 'system' }, via: 'admin' });
    expect((await verifyAttestationHttp(a, { attestation: att })).body).toMatchObject({
      accepted: false,
      reason: 'revoked_by_issuer_feed',
      warnings: [],
    });
  });

  it('the route (signatures checked on the thread pool) and the service (inline) give the same answer in every case', async () => {
    const { a, b } = pair();
    const att = issueAttestation(b.deps, attestationInput()) as Json;
    const stranger = testKey('stranger');
    const second = signObject({ ...att, signatures: undefined } as Json, [stranger]).signatures[0];
    const cases: Json[] = [
      att,
      tamperSig(att),
      { ...att, roles: ['role:anchor'] },
      { ...att, signatures: [second, ...att.signatures] },
      { ...att, signatures: [...att.signatures, ...att.signatures] },
      { ...att, signatures: [{ key_id: att.signatures[0].key_id, sig: 'AAAA' }] },
      { ...att, issuer_sovereign_id: 'na-z' },
      issueAttestation(a.deps, attestationInput()),
    ];
    for (const attestation of cases) {
      const http = await verifyAttestationHttp(a, { attestation });
      let inline: Json;
      try {
        inline = { status: 200, body: verifyAttestation(a.deps, { attestation }) };
      } catch (error) {
        inline = { status: (error as Json).status, body: { error: { code: (error as Json).code } } };
      }
      expect(http.status).toBe(inline.status);
      if (http.status === 200) expect(http.body).toEqual(inline.body);
      else expect(http.body.error.code).toBe(inline.body.error.code);
    }
  });

  it('an import after verification answered from its caches is seen by the next verification', async () => {
    const { a, b } = pair();
    const att = issueAttestation(b.deps, attestationInput());
    expect((await verifyAttestationHttp(a, { attestation: att })).body).toMatchObject({
      accepted: true,
      warnings: ['issuer_feed_unknown'],
    });
    revokeAttestation(b.deps, att.attestation_id, { reason: 'affiliation_changed' });
    publishFeeds(b.deps, { trigger: 'admin' });
    importFeed(a.deps, JSON.parse(latestPublishedFeed(b.db.sqlite)!.body), { actor: { type: 'system' }, via: 'admin' });
    expect((await verifyAttestationHttp(a, { attestation: att })).body).toMatchObject({
      accepted: false,
      reason: 'revoked_by_issuer_feed',
      warnings: [],
    });
  });

  it('with a presented treaty: it must be this authority\u2019s in-force treaty for the issuer', async () => {
    const { a, b, treaty } = pair();
    const att = issueAttestation(b.deps, attestationInput());
    expect((await verifyAttestationHttp(a, { attestation: att, treaty })).body).toMatchObject({
      accepted: true,
      treaty_id: treaty.treaty_id,
    });
    const bsTreaty = issueTreaty(b.deps, treatyInput({ subject_sovereign_id: 'na-a' }));
    expect((await verifyAttestationHttp(a, { attestation: att, treaty: bsTreaty })).body).toMatchObject({
      accepted: false,
      reason: 'treaty_not_recognized',
    });
    const otherSubject = issueTreaty(a.deps, treatyInput({ subject_sovereign_id: 'na-c' }));
    expect((await verifyAttestationHttp(a, { attestation: att, treaty: otherSubject })).body).toMatchObject({
      accepted: false,
      reason: 'treaty_subject_mismatch',
    });
    revokeTreaty(a.deps, treaty.treaty_id, { reason: 'unspecified' });
    expect((await verifyAttestationHttp(a, { attestation: att, treaty })).body).toMatchObject({
      accepted: false,
      reason: 'treaty_not_in_force',
    });
  });

  it('malformed input is 422 invalid_attestation / invalid_treaty and changes nothing', async () => {
    const { a, b } = pair();
    const att = issueAttestation(b.deps, attestationInput()) as Json;
    const before = dbDigest(a.db);
    for (const body of [
      {},
      { attestation: { ...att, extra: true } },
      { attestation: { ...att, roles: [] } },
      { attestation: att, other: 1 },
      { attestation: { ...att, claims: { f: 0.5 } } },
    ]) {
      const r = await verifyAttestationHttp(a, body);
      expect([r.status, r.body.error.code]).toEqual([422, 'invalid_attestation']);
    }
    const r = await verifyAttestationHttp(a, { attestation: att, treaty: { nope: 1 } });
    expect([r.status, r.body.error.code]).toEqual([422, 'invalid_treaty']);
    expect(dbDigest(a.db)).toBe(before);
  });
});
