// Ed25519 edge-case material for entry-point tests: keys refused at the door (small order, non-canonical
// encodings) and signature variants a permissive (ZIP-215, cofactored) verifier would accept but strict
// RFC 8032 verification must not: non-canonical S, a mixed-order R, a small-order R.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { ed25519, ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { verifyBytes, verifyBytesNoble } from '../../src/authority/crypto.ts';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

/** Public keys that must be refused wherever a key enters: all eight small-order points and non-canonical encodings. */
export function refusedPublicKeys(): Array<{ name: string; base64: string; problem: string }> {
  const file = path.join(import.meta.dirname, '..', 'vectors', 'authority-ed25519-edge-cases.json');
  const cases = (
    JSON.parse(fs.readFileSync(file, 'utf8')) as { cases: Array<{ name: string; public_key: string; key_problem: string | null }> }
  ).cases;
  const fromVectors = cases
    .filter((c) => c.key_problem !== null)
    .map((c) => ({ name: c.name, base64: Buffer.from(c.public_key, 'hex').toString('base64'), problem: c.key_problem! }));
  const torsion = ED25519_TORSION_SUBGROUP.map((hex, i) => ({
    name: `torsion-${i}`,
    base64: Buffer.from(hex, 'hex').toString('base64'),
    problem: 'small_order',
  }));
  const seen = new Set<string>();
  return [...fromVectors, ...torsion].filter((k) => {
    if (seen.has(k.base64)) return false;
    seen.add(k.base64);
    return true;
  });
}

function sha512(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The secret scalar and public key bytes of a 32-byte seed (RFC 8032 §5.1.5). */
function expand(seed: Uint8Array): { a: bigint; A: Uint8Array } {
  const h = sha512(seed);
  const head = Buffer.from(h.subarray(0, 32));
  head[0]! &= 248;
  head[31]! &= 127;
  head[31]! |= 64;
  const a = bytesToNumberLE(head) % L;
  return { a, A: ed25519.getPublicKey(seed) };
}

/** A torsion point of order 8 (adding it to R gives a mixed-order R). */
function order8Point() {
  for (const hex of ED25519_TORSION_SUBGROUP) {
    const p = ed25519.Point.fromHex(hex, true);
    if (!p.multiply(4n).is0() && p.multiply(8n).is0()) return p;
  }
  throw new Error('no order-8 point');
}

export type SignatureVariant = 'non_canonical_s' | 'mixed_order_r' | 'small_order_r';
export const SIGNATURE_VARIANTS: SignatureVariant[] = ['non_canonical_s', 'mixed_order_r', 'small_order_r'];

/**
 * A 64-byte signature of `message` under `seed` that strict verification rejects:
 * - non_canonical_s: the real signature with S + L (same group element, non-canonical encoding);
 * - mixed_order_r: R = rB + T (T of order 8), S = r + k·a — passes only the cofactored equation;
 * - small_order_r: R = T, S = k·a — passes only the cofactored equation.
 */
export function edgeSignature(seed: Uint8Array, message: Uint8Array, variant: SignatureVariant): Buffer {
  const { a, A } = expand(seed);
  if (variant === 'non_canonical_s') {
    const real = ed25519.sign(message, seed);
    const s = bytesToNumberLE(real.subarray(32));
    return Buffer.concat([Buffer.from(real.subarray(0, 32)), Buffer.from(numberToBytesLE(s + L, 32))]);
  }
  const T = order8Point();
  const r = (bytesToNumberLE(sha512(Buffer.from('accord-edge-r'), seed, message)) % (L - 1n)) + 1n;
  const R = variant === 'mixed_order_r' ? ed25519.Point.BASE.multiply(r).add(T) : T;
  const Rb = R.toBytes();
  const k = bytesToNumberLE(sha512(Rb, A, message)) % L;
  const s = ((variant === 'mixed_order_r' ? r : 0n) + k * a) % L;
  return Buffer.concat([Buffer.from(Rb), Buffer.from(numberToBytesLE(s, 32))]);
}

/** Verdicts of the three verifiers on one vector (the two strict ones must agree; the permissive one shows why the vector matters). */
export function verdicts(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): { node: boolean; noble: boolean; permissive: boolean } {
  let permissive = false;
  try {
    permissive = ed25519.verify(signature, message, publicKey, { zip215: true });
  } catch {
    permissive = false;
  }
  return { node: verifyBytes(publicKey, message, signature), noble: verifyBytesNoble(publicKey, message, signature), permissive };
}
