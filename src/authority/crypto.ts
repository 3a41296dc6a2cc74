// The one crypto module: Ed25519 keys and signatures, key ids, strict base64, hashes, signed objects.
// node:crypto (OpenSSL, strict RFC 8032) verifies and signs on the hot path; @noble/curves derives
// keys from seeds and validates points. Nothing else in the product touches either library.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as nodeSign,
  timingSafeEqual,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { canonicalBytes } from './canonical-json.ts';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface SignatureEntry {
  key_id: string;
  sig: string;
}

/** Decodes standard, padded, canonical base64; null for URL-safe, unpadded, whitespace or non-canonical input. */
export function decodeBase64Strict(text: string, expectedLength?: number): Buffer | null {
  if (typeof text !== 'string' || !STD_BASE64.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  // Non-zero padding bits decode to the same bytes; re-encoding tells them apart.
  if (bytes.toString('base64') !== text) return null;
  if (expectedLength !== undefined && bytes.length !== expectedLength) return null;
  return bytes;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

export function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `"sha256:" + hex`, the form of every hash reference. */
export function hashRef(data: Uint8Array | string): string {
  return `sha256:${sha256Hex(data)}`;
}

/** Hash reference of the JCS form of a value. */
export function canonicalHash(value: unknown): string {
  return hashRef(canonicalBytes(value));
}

export function keyIdOf(rawPublicKey: Uint8Array): string {
  return `sha256:${sha256Hex(rawPublicKey)}`;
}

export type PublicKeyProblem = 'malformed_base64' | 'wrong_length' | 'non_canonical_point' | 'small_order';

/** Why raw key bytes are unacceptable as an Ed25519 public key, or null when they are fine. */
export function publicKeyProblem(raw: Uint8Array): PublicKeyProblem | null {
  if (raw.length !== 32) return 'wrong_length';
  let point: ReturnType<typeof ed25519.Point.fromBytes>;
  try {
    point = ed25519.Point.fromBytes(raw, false);
  } catch {
    return 'non_canonical_point';
  }
  // fromBytes accepts y ≥ p in some encodings and "negative zero" x; re-encoding must round-trip.
  if (!Buffer.from(point.toBytes()).equals(Buffer.from(raw))) return 'non_canonical_point';
  if (point.isSmallOrder()) return 'small_order';
  return null;
}

export interface PublicKeyInfo {
  raw: Buffer;
  base64: string;
  keyId: string;
}

/** Parses a base64 public key and checks it is a canonical, non-small-order point. */
export function parsePublicKey(base64: string): { ok: true; key: PublicKeyInfo } | { ok: false; reason: PublicKeyProblem } {
  const raw = decodeBase64Strict(base64);
  if (!raw) return { ok: false, reason: 'malformed_base64' };
  if (!validatedKeys.has(base64)) {
    const problem = publicKeyProblem(raw);
    if (problem) return { ok: false, reason: problem };
    rememberValid(raw);
  }
  return { ok: true, key: { raw, base64, keyId: keyIdOf(raw) } };
}

const keyObjectCache = new Map<string, KeyObject>();
const KEY_CACHE_LIMIT = 50_000;

/** Cached node:crypto KeyObject for a raw public key (creating one costs more than a verify). */
function publicKeyObject(raw: Uint8Array, base64?: string): KeyObject {
  const cacheKey = base64 ?? Buffer.from(raw).toString('base64');
  let key = keyObjectCache.get(cacheKey);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    if (keyObjectCache.size >= KEY_CACHE_LIMIT) keyObjectCache.clear();
    keyObjectCache.set(cacheKey, key);
  }
  return key;
}

/** Strict Ed25519 verification (node:crypto). Small-order keys never verify. */
export function verifyBytes(rawPublicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || rawPublicKey.length !== 32) return false;
  if (!isCachedValid(rawPublicKey)) {
    if (publicKeyProblem(rawPublicKey) !== null) return false;
    rememberValid(rawPublicKey);
  }
  try {
    return nodeVerify(null, message, publicKeyObject(rawPublicKey), signature);
  } catch {
    return false;
  }
}

/** `verifyBytes` on libuv's thread pool: the calling thread serves other work meanwhile. */
export function verifyBytesAsync(rawPublicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (signature.length !== 64 || rawPublicKey.length !== 32) return Promise.resolve(false);
  if (!isCachedValid(rawPublicKey)) {
    if (publicKeyProblem(rawPublicKey) !== null) return Promise.resolve(false);
    rememberValid(rawPublicKey);
  }
  return new Promise((resolve) => {
    try {
      nodeVerify(null, message, publicKeyObject(rawPublicKey), signature, (error, valid) => resolve(!error && valid));
    } catch {
      resolve(false);
    }
  });
}

// Point validation uses noble (slow); remember keys already validated so the hot path stays on OpenSSL.
const validatedKeys = new Set<string>();
function isCachedValid(raw: Uint8Array): boolean {
  return validatedKeys.has(Buffer.from(raw).toString('base64'));
}
function rememberValid(raw: Uint8Array): void {
  if (validatedKeys.size >= KEY_CACHE_LIMIT) validatedKeys.clear();
  validatedKeys.add(Buffer.from(raw).toString('base64'));
}

/** Verification for keys already checked by `parsePublicKey` (the hot path). */
export function verifyWithKey(key: PublicKeyInfo, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return nodeVerify(null, message, publicKeyObject(key.raw, key.base64), signature);
  } catch {
    return false;
  }
}

/** `verifyWithKey` on libuv's thread pool: the calling thread serves other work meanwhile. */
export function verifyWithKeyAsync(key: PublicKeyInfo, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (signature.length !== 64) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      nodeVerify(null, message, publicKeyObject(key.raw, key.base64), signature, (error, valid) => resolve(!error && valid));
    } catch {
      resolve(false);
    }
  });
}

/** Order of the Ed25519 base point. */
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;

/**
 * Differential cross-check on @noble/curves: strict RFC 8032 decoding (`zip215: false`), canonical S,
 * no small-order keys, and — like OpenSSL — the cofactorless equation [S]B = R + [k]A, so both
 * implementations mean the same thing by "valid". Slow; never on a hot path.
 */
export function verifyBytesNoble(rawPublicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || publicKeyProblem(rawPublicKey) !== null) return false;
  try {
    // noble's own verification rejects non-canonical A, R and S and checks the cofactored equation.
    if (!ed25519.verify(signature, message, rawPublicKey, { zip215: false })) return false;
    // The cofactored equation also accepts an R with a small-order component; OpenSSL does not.
    const R = ed25519.Point.fromBytes(signature.subarray(0, 32), false);
    const A = ed25519.Point.fromBytes(rawPublicKey, false);
    const s = bytesToNumberLE(signature.subarray(32));
    const digest = createHash('sha512').update(signature.subarray(0, 32)).update(rawPublicKey).update(message).digest();
    const k = bytesToNumberLE(digest) % ED25519_L;
    return ed25519.Point.BASE.multiplyUnsafe(s).equals(R.add(A.multiplyUnsafe(k)));
  } catch {
    return false;
  }
}

/** Compares two secrets (tokens) in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = sha256(a);
  const right = sha256(b);
  return timingSafeEqual(left, right);
}

export interface SigningKey {
  keyId: string;
  publicKey: string;
  raw: Buffer;
  privateKey: KeyObject;
}

/**
 * Builds a signing key from a 32-byte seed. OpenSSL derives the public key and signs (noble's first
 * derivation builds precomputed tables: about a third of a second at start-up).
 */
export function signingKeyFromSeed(seed: Uint8Array): SigningKey {
  if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const raw = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x as string, 'base64url');
  rememberValid(raw);
  return { keyId: keyIdOf(raw), publicKey: raw.toString('base64'), raw, privateKey };
}

export function generateSeed(): Buffer {
  return randomBytes(32);
}

export function signBytes(key: SigningKey, message: Uint8Array): Buffer {
  return nodeSign(null, message, key.privateKey);
}

/** `signBytes` on libuv's thread pool. */
export function signBytesAsync(key: SigningKey, message: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => nodeSign(null, message, key.privateKey, (error, sig) => (error ? reject(error) : resolve(sig))));
}

/** The bytes a signature covers: UTF-8 JCS of the object without `signatures`. */
export function signingPayload<T extends Record<string, unknown>>(object: T): Buffer {
  const { signatures: _ignored, ...unsigned } = object as T & { signatures?: unknown };
  return canonicalBytes(unsigned);
}

/** Signs an object with one or more keys, returning it with `signatures`. */
export function signObject<T extends Record<string, unknown>>(object: T, keys: SigningKey[]): T & { signatures: SignatureEntry[] } {
  const payload = signingPayload(object);
  const signatures = keys.map((key) => ({ key_id: key.keyId, sig: signBytes(key, payload).toString('base64') }));
  return { ...object, signatures };
}

export type SignatureCheck =
  | { valid: true; keyId: string }
  | { valid: false; reason: 'no_signatures' | 'no_allowed_key' | 'invalid_signature' | 'malformed_signature' };

/**
 * Verifies a signed object: at least one signature must verify under an allowed key. A key_id is a
 * lookup hint only; each allowed key counts once, and a key_id repeated in `signatures` makes the
 * list malformed (a key signs once; a second entry is not a second vote).
 */
export function verifySignedObject(
  object: { signatures?: unknown },
  allowedKeys: PublicKeyInfo[] | ReadonlyMap<string, PublicKeyInfo>,
  payload: Uint8Array = signingPayload(object as Record<string, unknown>),
): SignatureCheck {
  const listed = signatureCandidates(object, allowedKeys);
  if ('reason' in listed) return { valid: false, reason: listed.reason };
  for (const { key, sig } of listed.candidates) if (verifyWithKey(key, payload, sig)) return { valid: true, keyId: key.keyId };
  if (listed.sawAllowed) return { valid: false, reason: listed.sawMalformed ? 'malformed_signature' : 'invalid_signature' };
  return { valid: false, reason: listed.sawMalformed ? 'malformed_signature' : 'no_allowed_key' };
}

export interface SignatureCandidates {
  /** Well-formed signatures by allowed keys, in signature order. */
  candidates: Array<{ key: PublicKeyInfo; sig: Buffer }>;
  /** Some entry names an allowed key. */
  sawAllowed: boolean;
  /** Some entry is not an object with string fields, or has a signature that is not 64 bytes of strict base64. */
  sawMalformed: boolean;
}

/**
 * The signatures of an object worth verifying, before any is verified. No signatures, or a key_id
 * listed twice (a key signs once; a second entry is not a second vote), is a reason instead.
 */
export function signatureCandidates(
  object: { signatures?: unknown },
  allowedKeys: PublicKeyInfo[] | ReadonlyMap<string, PublicKeyInfo>,
): SignatureCandidates | { reason: 'no_signatures' | 'malformed_signature' } {
  const signatures = object.signatures;
  if (!Array.isArray(signatures) || signatures.length === 0) return { reason: 'no_signatures' };
  const ids = signatures.map((entry: Partial<SignatureEntry> | null) => entry?.key_id);
  if (new Set(ids).size !== ids.length) return { reason: 'malformed_signature' };
  const byId = Array.isArray(allowedKeys) ? new Map(allowedKeys.map((k) => [k.keyId, k])) : allowedKeys;
  const listed: SignatureCandidates = { candidates: [], sawAllowed: false, sawMalformed: false };
  for (const entry of signatures as Array<Partial<SignatureEntry>>) {
    if (!entry || typeof entry.key_id !== 'string' || typeof entry.sig !== 'string') {
      listed.sawMalformed = true;
      continue;
    }
    const key = byId.get(entry.key_id);
    if (!key) continue;
    listed.sawAllowed = true;
    const sig = decodeBase64Strict(entry.sig, 64);
    if (sig) listed.candidates.push({ key, sig });
    else listed.sawMalformed = true;
  }
  return listed;
}
