// C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures: key ids, verifier keys (vkeys), signing and opening.
import { decodeBase64Strict, publicKeyProblem, sha256, signBytes, verifyBytes, verifyBytesAsync, type SigningKey } from './crypto.ts';

/** Signature type byte of plain Ed25519 note signatures. */
export const ED25519_NOTE_TYPE = 0x01;

/** Larger than any checkpoint note a reader should accept (text and signature lines). */
export const MAX_NOTE_BYTES = 64 * 1024;

/** More signatures than any honest note carries (the spec asks verifiers to accept at least 16). */
export const MAX_NOTE_SIGNATURES = 64;

/** A verifier's idea of one signer: the name and id in signature lines, and the key that must have signed. */
export interface NoteVerifier {
  name: string;
  /** The 32-bit key id. */
  keyId: number;
  publicKey: Buffer;
}

/** Key names must be non-empty, with no Unicode space (JavaScript's \s and U+0085, a superset of Go's unicode.IsSpace) and no plus sign. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+\u0085]/u.test(name) && name.isWellFormed();
}

/** key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4], big-endian. */
export function noteKeyId(name: string, publicKey: Uint8Array): number {
  return sha256(Buffer.concat([Buffer.from(`${name}\n`, 'utf8'), Buffer.from([ED25519_NOTE_TYPE]), publicKey])).readUInt32BE(0);
}

const hex8 = (id: number) => id.toString(16).padStart(8, '0');

/** `<name>+<hex key id>+<base64(0x01 ‖ public key)>`. */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new Error(`invalid note key name ${JSON.stringify(name)}`);
  return `${name}+${hex8(noteKeyId(name, publicKey))}+${Buffer.concat([Buffer.from([ED25519_NOTE_TYPE]), publicKey]).toString('base64')}`;
}

/**
 * Parses a vkey; null unless it is an Ed25519 key whose id matches its name and key (a vkey whose id
 * was altered would otherwise silently match nothing).
 */
export function parseVerifierKey(vkey: string): NoteVerifier | null {
  // The base64 key material may itself contain '+': only the first two separate fields.
  const first = vkey.indexOf('+');
  const second = vkey.indexOf('+', first + 1);
  if (first < 0 || second < 0) return null;
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  const material = vkey.slice(second + 1);
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex)) return null;
  const bytes = decodeBase64Strict(material, 33);
  if (!bytes || bytes[0] !== ED25519_NOTE_TYPE) return null;
  const publicKey = bytes.subarray(1);
  if (publicKeyProblem(publicKey) !== null) return null;
  const keyId = Number.parseInt(idHex, 16);
  if (noteKeyId(name, publicKey) !== keyId) return null;
  return { name, keyId, publicKey: Buffer.from(publicKey) };
}

/** The verifier for a raw Ed25519 public key under a key name. */
export function verifierFor(name: string, publicKey: Uint8Array): NoteVerifier {
  return { name, keyId: noteKeyId(name, publicKey), publicKey: Buffer.from(publicKey) };
}

/** One signature line (with its newline) by an authority key under `name`. */
export function signatureLine(text: string, name: string, key: SigningKey): string {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(noteKeyId(name, key.raw));
  const sig = signBytes(key, Buffer.from(text, 'utf8'));
  return `\u2014 ${name} ${Buffer.concat([id, sig]).toString('base64')}\n`;
}

/** Signs note text (which must end in a newline) with every key, all under one key name. */
export function signNote(text: string, name: string, keys: readonly SigningKey[]): string {
  if (!text.endsWith('\n')) throw new Error('note text must end with a newline');
  if (keys.length === 0) throw new Error('a note needs at least one signature');
  return `${text}\n${keys.map((key) => signatureLine(text, name, key)).join('')}`;
}

export interface NoteSignature {
  name: string;
  keyId: number;
  /** The signature bytes after the 4-byte key id. */
  signature: Buffer;
}

export interface ParsedNote {
  /** The signed text, final newline included. */
  text: string;
  signatures: NoteSignature[];
}

export type NoteProblem = 'malformed_note' | 'too_many_signatures';

const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;

/** Splits a note into text and signature lines; the reason instead when it is not a well-formed note. */
export function parseNote(note: string): ParsedNote | { problem: NoteProblem } {
  if (!note.isWellFormed() || CONTROL.test(note) || !note.endsWith('\n')) return { problem: 'malformed_note' };
  // The text is separated from the signatures by the last blank line.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return { problem: 'malformed_note' };
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) return { problem: 'too_many_signatures' };
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    const match = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (!match || !isValidKeyName(match[1]!)) return { problem: 'malformed_note' };
    const bytes = decodeBase64Strict(match[2]!);
    if (!bytes || bytes.length < 5) return { problem: 'malformed_note' };
    signatures.push({ name: match[1]!, keyId: bytes.readUInt32BE(0), signature: bytes.subarray(4) });
  }
  return { text, signatures };
}

export type OpenedNote =
  | { ok: true; text: string; verifiedBy: NoteVerifier[] }
  | { ok: false; problem: NoteProblem | 'no_known_signature' | 'invalid_signature'; detail: string };

/**
 * Opens a note as the spec asks: signatures from unknown keys (name and id not both known) are
 * ignored; a signature by a known key that fails to verify rejects the whole note; at least one
 * known key must have signed.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  const matched = matchSignatures(note, verifiers);
  if ('ok' in matched) return matched;
  const message = Buffer.from(matched.text, 'utf8');
  return concludeOpen(
    matched,
    matched.known.map(({ sig, verifier }) => verifyBytes(verifier.publicKey, message, sig.signature)),
  );
}

/** `openNote` with the signatures checked on libuv's thread pool, all at once. */
export async function openNoteAsync(note: string, verifiers: readonly NoteVerifier[]): Promise<OpenedNote> {
  const matched = matchSignatures(note, verifiers);
  if ('ok' in matched) return matched;
  const message = Buffer.from(matched.text, 'utf8');
  return concludeOpen(
    matched,
    await Promise.all(matched.known.map(({ sig, verifier }) => verifyBytesAsync(verifier.publicKey, message, sig.signature))),
  );
}

interface MatchedNote {
  text: string;
  /** The signatures by known keys, in line order, each with its verifier. */
  known: Array<{ sig: NoteSignature; verifier: NoteVerifier }>;
}

function matchSignatures(note: string, verifiers: readonly NoteVerifier[]): MatchedNote | (OpenedNote & { ok: false }) {
  const parsed = parseNote(note);
  if ('problem' in parsed)
    return {
      ok: false,
      problem: parsed.problem,
      detail:
        parsed.problem === 'too_many_signatures' ? `more than ${MAX_NOTE_SIGNATURES} signature lines` : 'not a well-formed signed note',
    };
  const known: MatchedNote['known'] = [];
  for (const sig of parsed.signatures) {
    const verifier = verifiers.find((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (verifier) known.push({ sig, verifier });
  }
  return { text: parsed.text, known };
}

/** The first known signature (in line order) that failed rejects the note; otherwise the keys that signed. */
function concludeOpen(matched: MatchedNote, valid: readonly boolean[]): OpenedNote {
  const verifiedBy: NoteVerifier[] = [];
  for (const [i, { sig, verifier }] of matched.known.entries()) {
    if (!valid[i])
      return { ok: false, problem: 'invalid_signature', detail: `the signature of ${sig.name}+${hex8(sig.keyId)} does not verify` };
    if (!verifiedBy.includes(verifier)) verifiedBy.push(verifier);
  }
  if (verifiedBy.length === 0) return { ok: false, problem: 'no_known_signature', detail: 'no signature by a trusted key' };
  return { ok: true, text: matched.text, verifiedBy };
}
