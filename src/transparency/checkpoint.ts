// C2SP tlog-checkpoint note bodies: origin, tree size, root hash, and Accord's audit-head extension line.
import { decodeBase64Strict } from '../authority/crypto.ts';

/** The extension line that commits a checkpoint to the authority's audit chain: `accord-audit-head <seq> sha256:<hex>`. */
export const AUDIT_HEAD_EXTENSION = 'accord-audit-head';

export interface AuditHead {
  seq: number;
  /** "sha256:" + hex, the `hash` of the audit event at `seq`. */
  hash: string;
}

export interface CheckpointBody {
  origin: string;
  size: number;
  /** "sha256:" + hex, the form feeds carry. */
  rootHash: string;
  /** Present when the checkpoint carries the audit-head extension line. */
  auditHead?: AuditHead;
  /** Every extension line, as written (the audit head among them). */
  extensions: string[];
}

const HASH_REF = /^sha256:[0-9a-f]{64}$/;
const SIZE = /^(0|[1-9][0-9]{0,15})$/;
const AUDIT_LINE = new RegExp(`^${AUDIT_HEAD_EXTENSION} ([1-9][0-9]{0,15}) (sha256:[0-9a-f]{64})$`);

export function rootHashToBase64(rootHash: string): string {
  if (!HASH_REF.test(rootHash)) throw new Error(`not a sha256 hash reference: ${rootHash}`);
  return Buffer.from(rootHash.slice(7), 'hex').toString('base64');
}

/** The note text of a checkpoint (ends with a newline, ready to sign). */
export function formatCheckpoint(body: { origin: string; size: number; rootHash: string; auditHead?: AuditHead | null }): string {
  const lines = [body.origin, String(body.size), rootHashToBase64(body.rootHash)];
  if (body.auditHead) lines.push(`${AUDIT_HEAD_EXTENSION} ${body.auditHead.seq} ${body.auditHead.hash}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Parses checkpoint note text (as returned by `openNote`): at least three non-empty lines, a decimal
 * size without leading zeros, a base64 SHA-256 root, non-empty extension lines. Null when malformed.
 */
export function parseCheckpoint(text: string): CheckpointBody | null {
  if (!text.endsWith('\n')) return null;
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3 || lines.some((l) => l.length === 0)) return null;
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (!SIZE.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) return null;
  const root = decodeBase64Strict(rootText, 32);
  if (!root) return null;
  const body: CheckpointBody = { origin, size: Number(sizeText), rootHash: `sha256:${root.toString('hex')}`, extensions };
  for (const line of extensions) {
    const match = AUDIT_LINE.exec(line);
    if (match && !body.auditHead && Number.isSafeInteger(Number(match[1]))) body.auditHead = { seq: Number(match[1]), hash: match[2]! };
  }
  return body;
}
