// Golden vectors of RecognitionTreaty and MembershipAttestation: a missing or changed file fails, never skips.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { parsePublicKey, signingKeyFromSeed, signObject, verifyBytesNoble, verifySignedObject } from '../../src/authority/crypto.ts';
import { membershipAttestationSchema, recognitionTreatySchema } from '../../src/treaties/model.ts';

const VECTORS = path.join(import.meta.dirname, '..', 'vectors');

/**
 * SHA-256 of each vector file as committed. Changing canonical form or signing is a protocol-version
 * change: regenerate with `npx tsx test/treaties/generate-vectors.ts --force` and update these on purpose.
 */
const PINNED: Record<string, string> = {
  'treaty.json': '2ec00366cef6f0a23e00816817dc5a6cc4fb555085515e27732258f7001087c4',
  'attestation.json': '307533e3f4a9ec2de7068d6f5b143ae22f4601390d42b860bc3773223cd47464',
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function load(name: string): { text: string; value: any } {
  const file = path.join(VECTORS, name);
  if (!fs.existsSync(file)) throw new Error(`golden vector ${name} is missing from test/vectors/`);
  const text = fs.readFileSync(file, 'utf8');
  return { text, value: JSON.parse(text) };
}

const schemas = { 'treaty.json': recognitionTreatySchema, 'attestation.json': membershipAttestationSchema } as const;

describe.each(Object.keys(PINNED))('golden vectors %s', (name) => {
  it('exists and is byte-for-byte the pinned file', () => {
    const { text } = load(name);
    expect(createHash('sha256').update(text).digest('hex')).toBe(PINNED[name]);
  });

  it('covers non-ASCII strings, empty arrays and objects, nested objects and multi-key signing', () => {
    const { value } = load(name);
    const all = value.vectors.map((v: { canonical: string }) => v.canonical).join('\n');
    expect(all).toMatch(/[^\x00-\x7f]/);
    expect(all).toContain('[]');
    expect(all).toContain('{}');
    expect(all).toMatch(/\{[^{}]*\{[^{}]*\{/);
    expect(value.vectors.some((v: { signers: string[] }) => v.signers.length > 1)).toBe(true);
    expect(value.keys.map((k: { public_key: string }) => k.public_key)).toEqual([
      'A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=',
      'Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=',
    ]);
  });

  it('every vector: canonical bytes, deterministic signatures, strict schema, verification', () => {
    const { value } = load(name);
    const keys = Object.fromEntries(
      value.keys.map((k: { name: string; seed_hex: string; public_key: string; key_id: string }) => {
        const key = signingKeyFromSeed(Buffer.from(k.seed_hex, 'hex'));
        expect([key.publicKey, key.keyId]).toEqual([k.public_key, k.key_id]);
        return [k.name, key];
      }),
    );
    expect(value.vectors.length).toBeGreaterThanOrEqual(3);
    for (const v of value.vectors) {
      const canonical = canonicalJson(v.unsigned);
      expect(canonical, v.name).toBe(v.canonical);
      expect(Buffer.from(canonical, 'utf8').toString('hex'), v.name).toBe(v.canonical_hex);
      expect(createHash('sha256').update(canonical).digest('hex'), v.name).toBe(v.canonical_sha256);
      const signers = v.signers.map((s: string) => keys[s]);
      expect(signObject(v.unsigned, signers), v.name).toEqual(v.signed);
      expect(schemas[name as keyof typeof schemas].safeParse(v.signed).success, v.name).toBe(true);
      for (const [i, key] of signers.entries()) {
        expect(verifyBytesNoble(key.raw, Buffer.from(v.canonical, 'utf8'), Buffer.from(v.signed.signatures[i].sig, 'base64')), v.name).toBe(
          true,
        );
        const info = parsePublicKey(key.publicKey);
        if (!info.ok) throw new Error('vector key does not parse');
        expect(verifySignedObject(v.signed, [info.key]), v.name).toEqual({ valid: true, keyId: key.keyId });
      }
    }
  });
});
