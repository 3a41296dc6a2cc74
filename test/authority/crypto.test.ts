// The crypto module: strict base64, key ids, public key validation, signed objects, and the
// differential test of the node:crypto hot path against @noble/curves over edge-case vectors.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import {
  canonicalHash,
  constantTimeEqual,
  decodeBase64Strict,
  hashRef,
  keyIdOf,
  parsePublicKey,
  publicKeyProblem,
  signBytes,
  signingKeyFromSeed,
  signObject,
  verifyBytes,
  verifyBytesNoble,
  verifySignedObject,
  verifyWithKey,
  type PublicKeyInfo,
} from '../../src/authority/crypto.ts';
import { seedFor, testKey } from '../helpers/authority.ts';

const EDGE = path.join(import.meta.dirname, '..', 'vectors', 'authority-ed25519-edge-cases.json');

function allowed(publicKey: string): PublicKeyInfo {
  const parsed = parsePublicKey(publicKey);
  if (!parsed.ok) throw new Error(`key rejected: ${parsed.reason}`);
  return parsed.key;
}

describe('decodeBase64Strict', () => {
  const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x00, 0x01]);
  const standard = bytes.toString('base64'); // "+/+/AAE="

  it('accepts standard padded base64 and checks the length', () => {
    expect(decodeBase64Strict(standard)).toEqual(bytes);
    expect(decodeBase64Strict(standard, 5)).toEqual(bytes);
    expect(decodeBase64Strict(standard, 6)).toBeNull();
    expect(decodeBase64Strict('')).toEqual(Buffer.alloc(0));
  });

  it.each([
    ['URL-safe alphabet', standard.replace(/\+/g, '-').replace(/\//g, '_')],
    ['missing padding', standard.replace(/=+$/, '')],
    ['extra padding', `${standard}=`],
    ['whitespace', ` ${standard}`],
    ['line break', `${standard.slice(0, 4)}\n${standard.slice(4)}`],
    ['non-zero padding bits', 'AB=='],
    ['non-zero padding bits (one pad)', 'AAB='],
    ['padding in the middle', 'AA==AAAA'],
    ['not base64 at all', 'not base64!'],
  ])('rejects %s', (_name, text) => {
    expect(decodeBase64Strict(text)).toBeNull();
  });
});

describe('keys', () => {
  it('key_id is sha256: + lowercase hex of the raw public key', () => {
    const key = testKey('k');
    expect(key.keyId).toBe(keyIdOf(key.raw));
    expect(key.keyId).toBe(hashRef(key.raw));
    expect(key.keyId).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('hash references are sha256: + hex, canonicalHash hashes the JCS form', () => {
    expect(hashRef('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(canonicalHash({ b: 1, a: 2 })).toBe(hashRef('{"a":2,"b":1}'));
  });

  it('signing keys derive from 32-byte seeds only', () => {
    expect(() => signingKeyFromSeed(Buffer.alloc(31))).toThrow();
    expect(signingKeyFromSeed(seedFor('x')).publicKey).toBe(signingKeyFromSeed(seedFor('x')).publicKey);
  });

  it('parsePublicKey accepts a real key and reports why others are refused', () => {
    const key = testKey('ok');
    expect(parsePublicKey(key.publicKey)).toEqual({ ok: true, key: { raw: key.raw, base64: key.publicKey, keyId: key.keyId } });
    expect(parsePublicKey(key.publicKey.replace(/=$/, ''))).toEqual({ ok: false, reason: 'malformed_base64' });
    expect(parsePublicKey(Buffer.alloc(31, 1).toString('base64'))).toEqual({ ok: false, reason: 'wrong_length' });
    expect(parsePublicKey(Buffer.alloc(33, 1).toString('base64'))).toEqual({ ok: false, reason: 'wrong_length' });
  });

  it.each(ED25519_TORSION_SUBGROUP.map((hex, i) => [i, hex] as const))('small-order point %i is refused at the door', (_i, hex) => {
    const raw = Buffer.from(hex, 'hex');
    expect(publicKeyProblem(raw)).toBe('small_order');
    expect(parsePublicKey(raw.toString('base64'))).toEqual({ ok: false, reason: 'small_order' });
  });

  it('a y that is not on the curve is refused', () => {
    // y = 2 has no matching x on edwards25519.
    const raw = Buffer.alloc(32);
    raw[0] = 2;
    expect(publicKeyProblem(raw)).toBe('non_canonical_point');
  });

  it('constantTimeEqual compares whole strings', () => {
    expect(constantTimeEqual('Bearer abc', 'Bearer abc')).toBe(true);
    expect(constantTimeEqual('Bearer abc', 'Bearer abd')).toBe(false);
    expect(constantTimeEqual('Bearer abc', 'Bearer abcd')).toBe(false);
    expect(constantTimeEqual('', 'x')).toBe(false);
  });
});

describe('signed objects', () => {
  const k1 = testKey('signer-1');
  const k2 = testKey('signer-2');
  const k3 = testKey('signer-3');
  const object = { id: 'x', roles: ['role:client'], n: 1, name: 'Zoë' };

  it('signs the JCS form without signatures, with one entry per key', () => {
    const signed = signObject(object, [k1, k2]);
    expect(signed.signatures.map((s) => s.key_id)).toEqual([k1.keyId, k2.keyId]);
    expect(verifySignedObject(signed, [allowed(k1.publicKey)])).toEqual({ valid: true, keyId: k1.keyId });
    expect(verifySignedObject(signed, [allowed(k2.publicKey)])).toEqual({ valid: true, keyId: k2.keyId });
    // Field order and the position of `signatures` do not matter.
    const reordered = { signatures: signed.signatures, name: 'Zoë', n: 1, roles: ['role:client'], id: 'x' };
    expect(verifySignedObject(reordered, [allowed(k1.publicKey)]).valid).toBe(true);
  });

  it('rejects a changed field, an extra field, and keys that policy does not allow', () => {
    const signed = signObject(object, [k1]);
    const changed: typeof signed = { ...signed, n: 2 };
    const extra: typeof signed & { extra: string } = { ...signed, extra: '' };
    expect(verifySignedObject(changed, [allowed(k1.publicKey)])).toEqual({ valid: false, reason: 'invalid_signature' });
    expect(verifySignedObject(extra, [allowed(k1.publicKey)])).toEqual({ valid: false, reason: 'invalid_signature' });
    expect(verifySignedObject(signed, [allowed(k3.publicKey)])).toEqual({ valid: false, reason: 'no_allowed_key' });
    expect(verifySignedObject({ ...object, signatures: [] }, [allowed(k1.publicKey)])).toEqual({ valid: false, reason: 'no_signatures' });
    expect(verifySignedObject(object as { signatures?: unknown }, [allowed(k1.publicKey)])).toEqual({
      valid: false,
      reason: 'no_signatures',
    });
  });

  it('a key_id is only a hint: a signature by another key under an allowed key_id fails', () => {
    const byK3 = signObject(object, [k3]);
    const forged = { ...byK3, signatures: [{ key_id: k1.keyId, sig: byK3.signatures[0]!.sig }] };
    expect(verifySignedObject(forged, [allowed(k1.publicKey)])).toEqual({ valid: false, reason: 'invalid_signature' });
  });

  it('a key signs once: a repeated key_id makes the list malformed, even when one entry is valid', () => {
    const signed = signObject(object, [k1]);
    const bad = { key_id: k1.keyId, sig: Buffer.alloc(64).toString('base64') };
    expect(verifySignedObject({ ...signed, signatures: [bad, signed.signatures[0]!] }, [allowed(k1.publicKey)])).toEqual({
      valid: false,
      reason: 'malformed_signature',
    });
    expect(verifySignedObject({ ...signed, signatures: [signed.signatures[0]!, signed.signatures[0]!] }, [allowed(k1.publicKey)])).toEqual({
      valid: false,
      reason: 'malformed_signature',
    });
  });

  it('reports malformed entries, and accepts one valid signature among several keys', () => {
    const signed = signObject(object, [k1]);
    expect(verifySignedObject({ ...signed, signatures: [{ key_id: k1.keyId, sig: 'not base64' }] }, [allowed(k1.publicKey)])).toEqual({
      valid: false,
      reason: 'malformed_signature',
    });
    expect(verifySignedObject({ ...signed, signatures: [{ key_id: 1 }] }, [allowed(k1.publicKey)])).toEqual({
      valid: false,
      reason: 'malformed_signature',
    });
    // During a rotation overlap, one valid signature under an allowed key is enough.
    const both = signObject(object, [k3, k1]);
    expect(verifySignedObject(both, [allowed(k1.publicKey)])).toEqual({ valid: true, keyId: k1.keyId });
    // An allowed key whose signature fails does not stop another allowed key from verifying.
    const broken = { ...both, signatures: [{ key_id: k3.keyId, sig: Buffer.alloc(64).toString('base64') }, both.signatures[1]!] };
    expect(verifySignedObject(broken, [allowed(k3.publicKey), allowed(k1.publicKey)])).toEqual({ valid: true, keyId: k1.keyId });
  });

  it('refuses to sign objects that have no canonical form', () => {
    expect(() => signObject({ x: 1.5 }, [k1])).toThrow(expect.objectContaining({ code: 'non_canonical_value' }));
    expect(() => signObject({ x: undefined }, [k1])).toThrow(expect.objectContaining({ code: 'non_canonical_value' }));
  });
});

describe('Ed25519: node:crypto hot path and @noble/curves agree', () => {
  const cases = (
    JSON.parse(fs.readFileSync(EDGE, 'utf8')) as {
      cases: Array<{ name: string; public_key: string; message: string; signature: string; key_problem: string | null; valid: boolean }>;
    }
  ).cases;

  it('the edge-case vectors cover every small-order point, non-canonical keys, S ≥ L and a mixed-order R', () => {
    expect(
      cases
        .filter((c) => c.key_problem === 'small_order')
        .map((c) => c.public_key)
        .sort(),
    ).toEqual([...ED25519_TORSION_SUBGROUP].sort());
    expect(cases.filter((c) => c.key_problem === 'non_canonical_point').length).toBeGreaterThanOrEqual(4);
    expect(cases.map((c) => c.name)).toEqual(expect.arrayContaining(['non-canonical-s', 's-equals-l', 'mixed-order-r', 'valid']));
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const pk = Buffer.from(c.public_key, 'hex');
    const msg = Buffer.from(c.message, 'hex');
    const sig = Buffer.from(c.signature, 'hex');
    expect(publicKeyProblem(pk)).toBe(c.key_problem);
    expect(verifyBytes(pk, msg, sig)).toBe(c.valid);
    expect(verifyBytesNoble(pk, msg, sig)).toBe(c.valid);
    if (c.key_problem === null) {
      // The cached-key hot path gives the same verdict.
      expect(verifyWithKey(allowed(pk.toString('base64')), msg, sig)).toBe(c.valid);
    } else {
      expect(parsePublicKey(pk.toString('base64')).ok).toBe(false);
    }
  });

  it('random keys and messages: both accept real signatures and both reject any flipped bit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), fc.nat(), (seed, message, flip) => {
        const key = signingKeyFromSeed(seed);
        const sig = signBytes(key, message);
        expect(verifyBytes(key.raw, message, sig)).toBe(true);
        expect(verifyBytesNoble(key.raw, message, sig)).toBe(true);
        // Flip one bit of the signature, the message or the key.
        const target = flip % 3;
        const mutate = (b: Uint8Array) => {
          const copy = Buffer.from(b);
          if (copy.length === 0) return Buffer.from([1]);
          const bit = Math.floor(flip / 3) % (copy.length * 8);
          copy[bit >> 3] = copy[bit >> 3]! ^ (1 << (bit & 7));
          return copy;
        };
        const [pk, m, s] =
          target === 0 ? [key.raw, message, mutate(sig)] : target === 1 ? [key.raw, mutate(message), sig] : [mutate(key.raw), message, sig];
        const fast = verifyBytes(pk, m, s);
        expect(fast).toBe(false);
        expect(verifyBytesNoble(pk, m, s)).toBe(fast);
      }),
      { seed: 20260301, numRuns: 40 },
    );
  });

  it('rejects wrong lengths without throwing', () => {
    const key = testKey('len');
    const sig = signBytes(key, Buffer.from('m'));
    expect(verifyBytes(key.raw, Buffer.from('m'), sig.subarray(0, 63))).toBe(false);
    expect(verifyBytes(key.raw.subarray(0, 31), Buffer.from('m'), sig)).toBe(false);
    expect(verifyBytesNoble(key.raw, Buffer.from('m'), Buffer.concat([sig, Buffer.alloc(1)]))).toBe(false);
  });
});
