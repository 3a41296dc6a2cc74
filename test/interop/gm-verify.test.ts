// Verifying treaties and attestations issued by genesis-mesh-profile sovereigns, with the same reason codes as native objects.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';
import { GM_SEED_A, GM_SEED_B, gmFeed, gmKeyFromSeed, gmSign } from './gm-reference.ts';

const vector = JSON.parse(readFileSync(new URL('../vectors/gm-treaty-001.json', import.meta.url), 'utf8')) as {
  signed: Record<string, unknown>;
  unsigned: Record<string, unknown>;
};
const keyA = gmKeyFromSeed(GM_SEED_A);
const keyB = gmKeyFromSeed(GM_SEED_B);
const GM = 'sovereign-a';
const ATT = '44444444-4444-4444-8444-444444444444';

async function recognize(a: TestAuthority, sovereign: string, publicKey: string, profile?: 'genesis-mesh'): Promise<void> {
  const res = await a.admin('POST', '/admin/recognition-treaties', {
    subject_sovereign_id: sovereign,
    subject_public_keys: [publicKey],
    scope: { allowed_roles: ['role:client'] },
    validity_hours: 24 * 90,
    ...(profile ? { profile } : {}),
  });
  expect(res.status, await res.clone().text()).toBe(201);
}

async function post(a: TestAuthority, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await a.app.request(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A membership attestation as the reference issues it (timestamps in pydantic's form, claims default filled). */
function gmAttestation(over: Record<string, unknown> = {}) {
  return gmSign(
    {
      attestation_id: ATT,
      issuer_sovereign_id: GM,
      subject_id: 'node-7',
      subject_public_key: null,
      roles: ['role:client'],
      status: 'active',
      issued_at: '2026-02-01T00:00:00.123456Z',
      valid_from: '2026-02-01T00:00:00.123456Z',
      expires_at: '2026-06-01T00:00:00Z',
      issued_by: 'na-key-1',
      claims: {},
      ...over,
    },
    keyA,
    'na-key-1',
  );
}

let acc: TestAuthority;
beforeEach(async () => {
  acc = createTestAuthority({ sovereignId: 'sovereign-acc', now: '2026-03-01T00:00:00Z' });
  await recognize(acc, GM, keyA.publicKey, 'genesis-mesh');
});
afterEach(async () => {
  await acc.close();
  acc.db.close();
});

describe('POST /recognition-treaties/verify with genesis-mesh issuers', () => {
  it('accepts GM vector treaty-001 (flags its empty allowed_roles)', async () => {
    const { status, body } = await post(acc, '/recognition-treaties/verify', { treaty: vector.signed });
    expect(status).toBe(200);
    expect(body).toMatchObject({ accepted: true, reason: 'accepted', treaty_id: '00000000-0000-4000-8000-000000000001' });
    expect(body.warnings).toContain('scope_unrestricted');
  });

  it('accepts a treaty with fractional-second and offset timestamps, signed in GM normalized form', async () => {
    const treaty = gmSign(
      {
        ...vector.unsigned,
        issued_at: '2026-01-01T00:00:00.500000Z',
        valid_from: '2026-01-01T02:00:00.250000+02:00',
        expires_at: '2027-01-01T00:00:00Z',
      },
      keyA,
    );
    const { body } = await post(acc, '/recognition-treaties/verify', { treaty });
    expect(body).toMatchObject({ accepted: true, reason: 'accepted' });
  });

  it('accepts the same treaty sent with unnormalized timestamps (.5, 7 digits): the signature covers the normalized form', async () => {
    const signed = gmSign(
      { ...vector.unsigned, issued_at: '2026-01-01T00:00:00.500000Z', valid_from: '2026-01-01T00:00:00.123456Z' },
      keyA,
    );
    const sent = { ...signed, issued_at: '2026-01-01T00:00:00.5Z', valid_from: '2026-01-01T00:00:00.1234569Z' };
    const { body } = await post(acc, '/recognition-treaties/verify', { treaty: sent });
    expect(body).toMatchObject({ accepted: true, reason: 'accepted' });
  });

  it('a treaty with non-ASCII metadata verifies (ensure_ascii canonical form)', async () => {
    const treaty = gmSign({ ...vector.unsigned, metadata: { note: 'café 日本 😀', del: 'a\u007fb' } }, keyA);
    const { body } = await post(acc, '/recognition-treaties/verify', { treaty });
    expect(body).toMatchObject({ accepted: true, reason: 'accepted' });
  });

  const reasons: Array<[string, () => Record<string, unknown>, string]> = [
    ['tampered content', () => ({ ...vector.signed, subject_sovereign_id: 'sovereign-c' }), 'invalid_signature'],
    ['signed by another key', () => gmSign(vector.unsigned, keyB), 'invalid_signature'],
    [
      'expired',
      () => gmSign({ ...vector.unsigned, valid_from: '2025-01-01T00:00:00Z', expires_at: '2026-02-01T00:00:00Z' }, keyA),
      'expired',
    ],
    ['not yet valid', () => gmSign({ ...vector.unsigned, valid_from: '2026-06-01T00:00:00Z' }, keyA), 'not_yet_valid'],
  ];
  it.each(reasons)('%s → %s', async (_name, make, reason) => {
    const { status, body } = await post(acc, '/recognition-treaties/verify', { treaty: make() });
    expect(status).toBe(200);
    expect(body).toMatchObject({ accepted: false, reason });
  });

  it('an unknown field is rejected with invalid_treaty and reason unknown_field', async () => {
    const { status, body } = await post(acc, '/recognition-treaties/verify', { treaty: { ...vector.signed, extra: 1 } });
    expect(status).toBe(422);
    expect(body.error).toMatchObject({ code: 'invalid_treaty', details: { reason: 'unknown_field', profile: 'genesis-mesh' } });
  });

  it('a timestamp without a zone is rejected with reason timestamp_without_zone', async () => {
    const { status, body } = await post(acc, '/recognition-treaties/verify', {
      treaty: { ...vector.signed, issued_at: '2026-01-01T00:00:00' },
    });
    expect(status).toBe(422);
    expect(body.error).toMatchObject({ code: 'invalid_treaty', details: { reason: 'timestamp_without_zone' } });
  });

  it('the same GM treaty from an issuer recognized under accord/1 is read as accord/1 and refused (nothing guesses)', async () => {
    const other = createTestAuthority({ sovereignId: 'sovereign-other', now: '2026-03-01T00:00:00Z' });
    await recognize(other, GM, keyA.publicKey);
    const { status, body } = await post(other, '/recognition-treaties/verify', { treaty: vector.signed });
    expect(status).toBe(422);
    expect(body.error).toMatchObject({ code: 'invalid_treaty' });
    await other.close();
    other.db.close();
  });
});

describe('POST /attestations/verify with genesis-mesh issuers', () => {
  it('accepts a GM attestation, then flips to revoked_by_issuer_feed after the issuer snapshot feed is imported', async () => {
    const attestation = gmAttestation({ claims: { site: 'Zürich ☃' } });
    const first = await post(acc, '/attestations/verify', { attestation });
    expect(first.body).toMatchObject({ accepted: true, reason: 'accepted', attestation_id: ATT });

    const imported = await acc.admin('POST', '/admin/sovereign-revocation-feeds/import', {
      feed: gmFeed(keyA, { issuer: GM, sequence: 1, issuedAt: '2026-02-28T12:00:00.000001Z', revoked: { [ATT]: 'key_compromise' } }),
    });
    expect(imported.status, await imported.clone().text()).toBe(200);

    const second = await post(acc, '/attestations/verify', { attestation });
    expect(second.body).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });
  });

  const reasons: Array<[string, () => Record<string, unknown>, string]> = [
    ['tampered', () => ({ ...gmAttestation(), subject_id: 'node-8' }), 'invalid_signature'],
    ['role outside the treaty scope', () => gmAttestation({ roles: ['role:anchor'] }), 'role_not_in_scope'],
    ['expired', () => gmAttestation({ expires_at: '2026-02-15T00:00:00+01:00' }), 'expired'],
  ];
  it.each(reasons)('%s → %s', async (_name, make, reason) => {
    const { status, body } = await post(acc, '/attestations/verify', { attestation: make() });
    expect(status).toBe(200);
    expect(body).toMatchObject({ accepted: false, reason });
  });

  it('accepts subject_public_key as a key or as null (the reference serializes an absent key as null)', async () => {
    for (const subject_public_key of [keyB.publicKey, null]) {
      const { body } = await post(acc, '/attestations/verify', { attestation: gmAttestation({ subject_public_key }) });
      expect(body).toMatchObject({ accepted: true, reason: 'accepted' });
    }
  });

  it('an attestation with a malformed subject key is rejected with reason malformed_public_key', async () => {
    const { status, body } = await post(acc, '/attestations/verify', {
      attestation: gmAttestation({ subject_public_key: Buffer.alloc(32).toString('base64') }),
    });
    expect(status).toBe(422);
    expect(body.error).toMatchObject({ code: 'invalid_attestation', details: { reason: 'malformed_public_key' } });
  });
});

describe('a genesis-mesh sovereign whose treaty is revoked keeps its profile', () => {
  async function revokeAllTreatiesFor(a: TestAuthority, sovereign: string): Promise<void> {
    const ids = a.db.sqlite.prepare('SELECT treaty_id FROM treaties WHERE subject_sovereign_id = ?').pluck().all(sovereign) as string[];
    for (const id of ids) {
      const res = await a.admin('POST', `/admin/recognition-treaties/${id}/revoke`, { reason: 'cessation_of_operation' });
      expect(res.status, await res.clone().text()).toBe(200);
    }
  }

  it('its next attestation gets the answer of a recognized-then-revoked issuer, not accord/1 schema errors', async () => {
    await revokeAllTreatiesFor(acc, GM);
    const { status, body } = await post(acc, '/attestations/verify', { attestation: gmAttestation() });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ accepted: false, reason: 'issuer_not_recognized', signed_by: null });

    // The same answer an accord/1 sovereign gets once its only treaty is revoked.
    const native = createTestAuthority({ sovereignId: 'sovereign-native', now: '2026-03-01T00:00:00Z' });
    await recognize(acc, 'sovereign-native', native.signingKey.publicKey);
    const nativeAttestation = await (
      await native.admin('POST', '/admin/attestations', { subject_id: 'node-1', roles: ['role:client'], validity_hours: 24 })
    ).json();
    await revokeAllTreatiesFor(acc, 'sovereign-native');
    const nativeAnswer = await post(acc, '/attestations/verify', { attestation: nativeAttestation });
    expect(nativeAnswer.body).toMatchObject({ accepted: false, reason: 'issuer_not_recognized' });
    await native.close();
    native.db.close();
  });

  it('its treaties and snapshot feeds get the recognized-then-revoked answers too', async () => {
    await revokeAllTreatiesFor(acc, GM);
    const treaty = await post(acc, '/recognition-treaties/verify', { treaty: vector.signed });
    expect(treaty.body).toMatchObject({ accepted: false, reason: 'issuer_not_recognized' });
    const feed = await acc.admin('POST', '/admin/sovereign-revocation-feeds/import', {
      feed: gmFeed(keyA, { issuer: GM, sequence: 0, issuedAt: '2026-02-28T12:00:00Z', revoked: {} }),
    });
    expect(feed.status).toBe(403);
    expect(await feed.json()).toMatchObject({ error: { code: 'issuer_not_recognized' } });
  });

  it('re-recognizing the sovereign under accord/1 is the operator’s new word: its profile follows the newest treaty', async () => {
    await revokeAllTreatiesFor(acc, GM);
    await recognize(acc, GM, keyA.publicKey);
    const { status, body } = await post(acc, '/attestations/verify', { attestation: gmAttestation() });
    expect(status).toBe(422);
    expect(body.error).toMatchObject({ code: 'invalid_attestation' });
  });
});
