// Accord's own treaties and attestations as a Genesis Mesh verifier sees them: GM fills its model defaults, then checks its canonical form.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePublicKey, signObject } from '../../src/authority/crypto.ts';
import { verifyGmSignature } from '../../src/interop/gm-model.ts';
import { createTestAuthority, testKey, type TestAuthority } from '../helpers/authority.ts';
import { gmModelVerify } from './gm-reference.ts';

let acc: TestAuthority;
beforeEach(() => {
  acc = createTestAuthority({ sovereignId: 'sovereign-acc', now: '2026-03-01T00:00:00Z' });
});
afterEach(async () => {
  await acc.close();
  acc.db.close();
});

async function issueAttestation(body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await acc.admin('POST', '/admin/attestations', { subject_id: 'node-1', roles: ['role:client'], validity_hours: 24, ...body });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as Record<string, unknown>;
}

describe('Accord-issued attestations verify in Genesis Mesh', () => {
  const subjectKey = testKey('gm-subject').publicKey;

  it.each([
    ['without a subject key (written as null)', {}],
    ['with a subject key', { subject_public_key: subjectKey }],
    [
      'with nested claims',
      { subject_public_key: subjectKey, claims: { team: 'North', seats: 12, tags: ['a', 'b'], nested: { ok: true, none: null } } },
    ],
  ])('%s', async (_name, body) => {
    const attestation = await issueAttestation(body);
    expect(Object.hasOwn(attestation, 'subject_public_key')).toBe(true);
    // An independent GM verifier (model defaults, Python dump, any key of the treaty).
    expect(gmModelVerify(attestation, 'attestation', [acc.signingKey.publicKey])).toBe(true);
    // Accord's own GM canonical form agrees.
    const key = parsePublicKey(acc.signingKey.publicKey);
    if (!key.ok) throw new Error('key');
    expect(verifyGmSignature(attestation, 'membership_attestation', [key.key])).toMatchObject({ valid: true });
    // And it still verifies here.
    const verified = await acc.app.request('/attestations/verify', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ attestation }),
    });
    expect(await verified.json()).toMatchObject({ accepted: true, reason: 'accepted' });
  });

  it('why null is written: signed without the field, GM (which fills null in) checks other bytes and refuses it', async () => {
    const attestation = await issueAttestation({});
    const { subject_public_key: _k, signatures: _s, ...omitted } = attestation;
    const signedWithout = signObject(omitted, [acc.signingKey]);
    expect(gmModelVerify(signedWithout, 'attestation', [acc.signingKey.publicKey])).toBe(false);
    const { signatures: _s2, ...unsigned } = attestation;
    expect(gmModelVerify(signObject(unsigned, [acc.signingKey]), 'attestation', [acc.signingKey.publicKey])).toBe(true);
  });

  it('an attestation that omits subject_public_key (as Accord wrote them before) still verifies in Accord', async () => {
    const attestation = await issueAttestation({});
    expect(attestation.subject_public_key).toBeNull();
    const { subject_public_key: _k, signatures: _s, ...omitted } = attestation;
    const res = await acc.app.request('/attestations/verify', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ attestation: signObject(omitted, [acc.signingKey]) }),
    });
    expect(await res.json()).toMatchObject({ accepted: true, reason: 'accepted' });
  });
});

describe('Accord-issued treaties verify in Genesis Mesh', () => {
  it('a treaty with metadata and claims verifies under GM’s model and dump', async () => {
    const res = await acc.admin('POST', '/admin/recognition-treaties', {
      subject_sovereign_id: 'sovereign-gm',
      subject_public_keys: [testKey('gm-subject').publicKey],
      scope: { allowed_roles: ['role:client'], claims: { region: 'Zurich', tiers: [1, 2] } },
      metadata: { ticket: 'CHG-1', note: 'east' },
      validity_hours: 48,
      profile: 'genesis-mesh',
    });
    expect(res.status).toBe(201);
    const treaty = (await res.json()) as Record<string, unknown>;
    expect(gmModelVerify(treaty, 'treaty', [acc.signingKey.publicKey])).toBe(true);
  });
});

describe('what GM cannot verify (docs/interop.md)', () => {
  it('Accord signs RFC 8785 JCS: text outside ASCII is raw UTF-8 there and \\u-escaped in GM’s form, so GM refuses it', async () => {
    const attestation = await issueAttestation({ claims: { team: 'Équipe Nord' } });
    expect(gmModelVerify(attestation, 'attestation', [acc.signingKey.publicKey])).toBe(false);
  });
});
