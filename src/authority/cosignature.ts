// C2SP tlog-cosignature, Ed25519 (cosignature/v1): cosigner key ids and vkeys, the signed message, signature lines.
import { decodeBase64Strict, publicKeyProblem, sha256, signBytes, signBytesAsync, verifyBytes, type SigningKey } from './crypto.ts';
import { isValidKeyName } from './signed-note.ts';

/** Signature type byte of timestamped Ed25519 checkpoint cosignatures (c2sp.org/signed-note). */
export const COSIGNATURE_V1_TYPE = 0x04;

/** First line of the signed message: the domain separation of cosignature/v1. */
export const COSIGNATURE_V1_HEADER = 'cosignature/v1';

/** 4-byte key id ‖ 8-byte big-endian timestamp ‖ 64-byte Ed25519 signature. */
const SIGNATURE_BYTES = 4 + 8 + 64;

/** A cosigner as a verifier knows it: the name in its signature lines, its key id, its Ed25519 key. */
export interface Cosigner {
  name: string;
  keyId: number;
  publicKey: Buffer;
}

/** key ID = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ 32-byte Ed25519 public key)[:4], big-endian. */
export function cosignerKeyId(name: string, publicKey: Uint8Array): number {
  return sha256(Buffer.concat([Buffer.from(`${name}\n`, 'utf8'), Buffer.from([COSIGNATURE_V1_TYPE]), publicKey])).readUInt32BE(0);
}

const hex8 = (id: number) => id.toString(16).padStart(8, '0');

export function cosignerFor(name: string, publicKey: Uint8Array): Cosigner {
  return { name, keyId: cosignerKeyId(name, publicKey), publicKey: Buffer.from(publicKey) };
}

/** `<name>+<hex key id>+<base64(0x04 ‖ public key)>`. */
export function formatCosignerKey(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new Error(`invalid cosigner name ${JSON.stringify(name)}`);
  return `${name}+${hex8(cosignerKeyId(name, publicKey))}+${Buffer.concat([Buffer.from([COSIGNATURE_V1_TYPE]), publicKey]).toString('base64')}`;
}

/**
 * Parses a cosigner vkey; null unless it is a cosignature/v1 (type 0x04) Ed25519 key whose id matches
 * its name and key (a note key, type 0x01, is refused: its id would never match a cosignature line).
 */
export function parseCosignerKey(vkey: string): Cosigner | null {
  const first = vkey.indexOf('+');
  const second = vkey.indexOf('+', first + 1);
  if (first < 0 || second < 0) return null;
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex)) return null;
  const bytes = decodeBase64Strict(vkey.slice(second + 1), 33);
  if (!bytes || bytes[0] !== COSIGNATURE_V1_TYPE) return null;
  const publicKey = bytes.subarray(1);
  if (publicKeyProblem(publicKey) !== null) return null;
  if (cosignerKeyId(name, publicKey) !== Number.parseInt(idHex, 16)) return null;
  return { name, keyId: Number.parseInt(idHex, 16), publicKey: Buffer.from(publicKey) };
}

/** The bytes a cosignature/v1 signs: the header line, `time <t>`, then the checkpoint note text (final newline included). */
export function cosignedMessage(noteText: string, timestamp: number): Buffer {
  if (!noteText.endsWith('\n')) throw new Error('note text must end with a newline');
  if (!Number.isSafeInteger(timestamp) || timestamp < 0)
    throw new Error('a cosignature timestamp is a non-negative whole number of seconds');
  return Buffer.from(`${COSIGNATURE_V1_HEADER}\ntime ${timestamp}\n${noteText}`, 'utf8');
}

/** One cosignature line (with its newline) over checkpoint note text, by `key` under `name`, at `timestamp` (POSIX seconds). */
export function cosignatureLine(noteText: string, name: string, key: SigningKey, timestamp: number): string {
  return formatCosignatureLine(name, key, timestamp, signBytes(key, cosignedMessage(noteText, timestamp)));
}

/** `cosignatureLine` with the signature made on libuv's thread pool. */
export async function cosignatureLineAsync(noteText: string, name: string, key: SigningKey, timestamp: number): Promise<string> {
  return formatCosignatureLine(name, key, timestamp, await signBytesAsync(key, cosignedMessage(noteText, timestamp)));
}

function formatCosignatureLine(name: string, key: SigningKey, timestamp: number, sig: Buffer): string {
  const head = Buffer.alloc(12);
  head.writeUInt32BE(cosignerKeyId(name, key.raw), 0);
  head.writeBigUInt64BE(BigInt(timestamp), 4);
  return `\u2014 ${name} ${Buffer.concat([head, sig]).toString('base64')}\n`;
}

export interface ParsedCosignature {
  name: string;
  keyId: number;
  timestamp: number;
  signature: Buffer;
  /** The line as received, without its newline. */
  line: string;
}

/** Reads one signature line as a cosignature/v1; null when it is not one (wrong shape, length, or a timestamp past 2^53). */
export function parseCosignatureLine(line: string): ParsedCosignature | null {
  const match = /^\u2014 (\S+) (\S+)$/u.exec(line);
  if (!match || !isValidKeyName(match[1]!)) return null;
  const bytes = decodeBase64Strict(match[2]!, SIGNATURE_BYTES);
  if (!bytes) return null;
  const timestamp = bytes.readBigUInt64BE(4);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return { name: match[1]!, keyId: bytes.readUInt32BE(0), timestamp: Number(timestamp), signature: Buffer.from(bytes.subarray(12)), line };
}

/** Whether a parsed cosignature is by `cosigner` (name and key id) and verifies over `noteText`. */
export function verifyCosignature(cosignature: ParsedCosignature, noteText: string, cosigner: Cosigner): boolean {
  if (cosignature.name !== cosigner.name || cosignature.keyId !== cosigner.keyId) return false;
  return verifyBytes(cosigner.publicKey, cosignedMessage(noteText, cosignature.timestamp), cosignature.signature);
}
