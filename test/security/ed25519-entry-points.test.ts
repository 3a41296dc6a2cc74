// Ed25519 edge cases at every entry point: small-order and non-canonical keys are refused where keys
// enter (treaty issue/supersede, attestation subject, operator key configuration, verify with given
// keys); signatures only a permissive verifier accepts (non-canonical S, mixed-order or small-order R)
// are rejected by treaty/attestation verify, feed import (native and Genesis Mesh), receipts and admin
// request authentication. node:crypto and @noble/curves (zip215: false) agree on every vector here.
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { loadConfig } from '../../src/authority/config.ts';
import { signingPayload } from '../../src/authority/crypto.ts';
import { toTimestamp } from '../../src/authority/clock.ts';
import { parseOperatorKeysFile, parseOperatorPublicKeysJson } from '../../src/authority/operator-keys.ts';
import { pythonJsonDumps, GM_SEED_A } from '../interop/gm-reference.ts';
import { auditCount, dbDigest, seedFor, testKey } from '../helpers/authority.ts';
import { refusedPublicKeys, edgeSignature, SIGNATURE_VARIANTS, verdicts, type SignatureVariant } from './ed25519-edge.ts';
import { errorCode, populatedAuthority, send, type Populated } from './fixture.ts';

let p: Populated;
beforeAll(() => {
  p = populatedAuthority();
});
afterAll(() => p.cleanup());

const KEYS = refusedPublicKeys();
const vectorsChecked: string[] = [];

/** Asserts a request is refused with a 4xx envelope and changes nothing; returns the code. */
async function refused(req: Parameters<typeof send>[1], statuses: number[] = [422]): Promise<string> {
  const before = dbDigest(p.a.db);
  const res = await send(p.a, req);
  const code = res.status >= 400 ? await errorCode(res) : `status ${res.status}: ${await res.text()}`;
  expect(statuses, `${req.method} ${req.path} → ${res.status} ${code}`).toContain(res.status);
  expect(dbDigest(p.a.db)).toBe(before);
  return code;
}

const json = (v: unknown) => new Uint8Array(Buffer.from(JSON.stringify(v), 'utf8'));
const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** Replaces every signature of a signed object by an edge-case signature of its payload under `seed`. */
function resign(
  object: Record<string, unknown>,
  seed: Uint8Array,
  variant: SignatureVariant,
  payload: Uint8Array = signingPayload(object),
): Record<string, unknown> {
  const sig = edgeSignature(seed, payload, variant);
  recordVector(seed, payload, sig, variant);
  const entries = object.signatures as Array<{ key_id: string; sig: string }>;
  return { ...object, signatures: entries.map((e) => ({ ...e, sig: sig.toString('base64') })) };
}

function recordVector(seed: Uint8Array, message: Uint8Array, sig: Uint8Array, variant: SignatureVariant): void {
  const pub = Buffer.from(testKeyFromSeed(seed));
  const v = verdicts(pub, message, sig);
  expect(v.node, `${variant}: node:crypto accepted`).toBe(false);
  expect(v.noble, `${variant}: noble (zip215: false) disagrees with node:crypto`).toBe(v.node);
  // Mixed-order and small-order R pass the cofactored (ZIP-215) check: the vectors are meaningful.
  if (variant !== 'non_canonical_s') expect(v.permissive, `${variant}: expected a permissive verifier to accept`).toBe(true);
  vectorsChecked.push(variant);
}

function testKeyFromSeed(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}

describe('keys refused at the door', () => {
  it('the edge vectors include all eight small-order points and several non-canonical encodings', () => {
    expect(KEYS.filter((k) => k.problem === 'small_order').length).toBe(8);
    expect(KEYS.filter((k) => k.problem === 'non_canonical_point').length).toBeGreaterThanOrEqual(4);
  });

  it.each(KEYS.map((k) => [k.name, k] as const))('treaty issue, supersede, attestation subject, verify keys: %s', async (_n, key) => {
    const issue = {
      subject_sovereign_id: 'peer-z',
      subject_public_keys: [testKey('z').publicKey, key.base64],
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 24,
    };
    expect(
      await refused({ method: 'POST', path: '/admin/recognition-treaties', body: json(issue), headers: JSON_HEADERS, sign: true }),
    ).not.toBe('internal_error');
    await refused({
      method: 'POST',
      path: `/admin/recognition-treaties/${p.treatyId}/supersede`,
      body: json({ ...issue, subject_sovereign_id: 'peer-d' }),
      headers: JSON_HEADERS,
      sign: true,
    });
    await refused({
      method: 'POST',
      path: '/admin/attestations',
      body: json({ subject_id: 'node-z', subject_public_key: key.base64, roles: ['role:client'], validity_hours: 1 }),
      headers: JSON_HEADERS,
      sign: true,
    });
    // Verify with caller-given issuer keys: a refused key is an input error, never an acceptance.
    const before = dbDigest(p.a.db);
    const res = await send(p.a, {
      method: 'POST',
      path: '/recognition-treaties/verify',
      body: json({ treaty: p.ownTreaty, issuer_public_keys: [key.base64] }),
      headers: JSON_HEADERS,
    });
    expect(res.status).toBeLessThan(500);
    if (res.status === 200) expect(((await res.json()) as { accepted: boolean }).accepted).toBe(false);
    else await errorCode(res);
    expect(dbDigest(p.a.db)).toBe(before);
  });

  it.each(KEYS.map((k) => [k.name, k] as const))('operator key configuration (env JSON, keys file, config load): %s', (_n, key) => {
    expect(() => parseOperatorPublicKeysJson(JSON.stringify({ ops: key.base64 }))).toThrow(/public key rejected/);
    expect(() => parseOperatorKeysFile(JSON.stringify({ keys: { ops: { public_key: key.base64 } } }), 'keys.json')).toThrow(
      /public key rejected/,
    );
    expect(() => loadConfig({ OPERATOR_PUBLIC_KEYS_JSON: JSON.stringify({ good: testKey('ok').publicKey, ops: key.base64 }) })).toThrow(
      /invalid configuration/,
    );
  });
});

describe('signatures only a permissive verifier accepts are rejected at every entry point', () => {
  const issuerSeed = seedFor('security:issuer');
  const authoritySeed = seedFor('authority:na-main');

  it.each(SIGNATURE_VARIANTS)('treaty verify: %s', async (variant) => {
    const forged = resign(p.ownTreaty, authoritySeed, variant);
    const res = await send(p.a, {
      method: 'POST',
      path: '/recognition-treaties/verify',
      body: json({ treaty: forged }),
      headers: JSON_HEADERS,
    });
    expect(res.status).toBeLessThan(500);
    const body = (await res.json()) as { accepted?: boolean };
    expect(body.accepted).not.toBe(true);
    // The real signature is accepted (the control).
    const control = await send(p.a, {
      method: 'POST',
      path: '/recognition-treaties/verify',
      body: json({ treaty: p.ownTreaty }),
      headers: JSON_HEADERS,
    });
    expect(((await control.json()) as { accepted: boolean }).accepted).toBe(true);
  });

  it.each(SIGNATURE_VARIANTS)('attestation verify (own and foreign issuer): %s', async (variant) => {
    for (const [attestation, seed] of [
      [p.ownAttestation, authoritySeed],
      [p.foreignAttestation, issuerSeed],
    ] as const) {
      const forged = resign(attestation, seed, variant);
      const res = await send(p.a, {
        method: 'POST',
        path: '/attestations/verify',
        body: json({ attestation: forged }),
        headers: JSON_HEADERS,
      });
      expect(res.status).toBeLessThan(500);
      expect(((await res.json()) as { accepted?: boolean }).accepted).not.toBe(true);
      const control = await send(p.a, { method: 'POST', path: '/attestations/verify', body: json({ attestation }), headers: JSON_HEADERS });
      expect(((await control.json()) as { accepted: boolean }).accepted).toBe(true);
    }
  });

  it.each(SIGNATURE_VARIANTS)('feed import: %s → 422 invalid_signature, audited, nothing imported', async (variant) => {
    const forged = resign(p.nextFeed, issuerSeed, variant);
    const rejected = auditCount(p.a.db, 'sovereign_revocation_feed_rejected');
    expect(
      await refused({
        method: 'POST',
        path: '/admin/revocation-feeds/import',
        body: json({ feed: forged }),
        headers: JSON_HEADERS,
        sign: true,
      }),
    ).toBe('invalid_signature');
    expect(auditCount(p.a.db, 'sovereign_revocation_feed_rejected')).toBe(rejected + 1);
  });

  it.each(SIGNATURE_VARIANTS)('Genesis Mesh feed import: %s → rejected, audited', async (variant) => {
    const { signatures: _s, ...unsigned } = p.gmFeed;
    const forged = resign(p.gmFeed, GM_SEED_A, variant, Buffer.from(pythonJsonDumps(unsigned), 'utf8'));
    const rejected = auditCount(p.a.db, 'sovereign_revocation_feed_rejected');
    await refused({
      method: 'POST',
      path: '/admin/sovereign-revocation-feeds/import',
      body: json({ feed: forged }),
      headers: JSON_HEADERS,
      sign: true,
    });
    expect(auditCount(p.a.db, 'sovereign_revocation_feed_rejected')).toBe(rejected + 1);
  });

  it.each(SIGNATURE_VARIANTS)('feed receipt: %s → 422 invalid_signature, nothing recorded', async (variant) => {
    const forged = resign(p.receipt, seedFor(`authority:${p.importer.sovereignId}`), variant);
    expect(await refused({ method: 'POST', path: '/revocation-feeds/receipts', body: json(forged), headers: JSON_HEADERS })).toBe(
      'invalid_signature',
    );
  });

  it.each(SIGNATURE_VARIANTS)('admin request signature: %s → 401 bad_signature, audited', async (variant) => {
    const body = JSON.stringify({ subject_id: 'node-e', roles: ['role:client'], validity_hours: 1 });
    const headers = signAdminRequest({
      authority: p.a.sovereignId,
      method: 'POST',
      path: '/admin/attestations',
      body,
      label: p.a.operator.label,
      key: p.a.operator.key,
      timestamp: toTimestamp(p.a.clock()),
    });
    const { adminSigningPayload } = await import('../../src/authority/admin-auth.ts');
    const { sha256Hex } = await import('../../src/authority/crypto.ts');
    const payload = adminSigningPayload({
      authority: p.a.sovereignId,
      method: 'POST',
      path: '/admin/attestations',
      bodySha256: sha256Hex(body),
      keyId: p.a.operator.label,
      timestamp: headers['X-Admin-Timestamp'],
      nonce: headers['X-Admin-Nonce'],
    });
    const sig = edgeSignature(seedFor('operator:ops'), payload, variant);
    recordVector(seedFor('operator:ops'), payload, sig, variant);
    const failures = auditCount(p.a.db, 'admin_auth_failed');
    const res = await refusedRaw({
      method: 'POST',
      path: '/admin/attestations',
      body: new Uint8Array(Buffer.from(body)),
      headers: { ...headers, 'X-Admin-Signature': sig.toString('base64'), ...JSON_HEADERS },
    });
    expect(res).toEqual({ status: 401, code: 'admin_auth_failed', reason: 'bad_signature' });
    expect(auditCount(p.a.db, 'admin_auth_failed')).toBe(failures + 1);
  });

  it('every vector above was checked by node:crypto and @noble/curves', () => {
    expect(vectorsChecked.length).toBeGreaterThanOrEqual(SIGNATURE_VARIANTS.length * 7);
  });
});

async function refusedRaw(req: Parameters<typeof send>[1]): Promise<{ status: number; code: string; reason: unknown }> {
  const before = dbDigest(p.a.db);
  const res = await send(p.a, req);
  const text = await res.clone().text();
  const code = await errorCode(res);
  expect(dbDigest(p.a.db)).toBe(before);
  return { status: res.status, code, reason: (JSON.parse(text) as { error: { details: { reason?: unknown } } }).error.details.reason };
}
