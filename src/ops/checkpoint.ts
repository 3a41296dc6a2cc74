// The signed checkpoint of an audit export (FILE.checkpoint.json) and the trust decision for its key.
import fs from 'node:fs';
import { z } from 'zod';
import { parseJsonStrict } from '../authority/canonical-json.ts';
import { TIMESTAMP_PATTERN, toTimestamp } from '../authority/clock.ts';
import { parsePublicKey, signObject, verifySignedObject, type PublicKeyInfo, type SigningKey } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';
import type { AuditExportSummary } from './audit-export.ts';
import { EXPORT_FORMATS, exportFiltersSchema } from './export-format.ts';
import { refuseOverwrite, writeFileDurably } from './files.ts';

export const CHECKPOINT_TYPE = 'audit_export_checkpoint';

const timestamp = z.string().regex(TIMESTAMP_PATTERN);
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const checkpointSchema = z.strictObject({
  type: z.literal(CHECKPOINT_TYPE),
  version: z.literal(1),
  sovereign_id: z.string().min(1).max(128),
  format: z.enum(EXPORT_FORMATS),
  filters: exportFiltersSchema,
  count: seq,
  first_seq: seq.nullable(),
  last_seq: seq.nullable(),
  last_hash: z.string().nullable(),
  file_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  exported_at: timestamp,
  /** key_id of the signing key; with `public_key` a hint for the auditor, never a reason to trust. */
  issued_by: z.string(),
  public_key: z.string(),
  signatures: z.array(z.strictObject({ key_id: z.string(), sig: z.string() })).min(1),
});

export type Checkpoint = z.infer<typeof checkpointSchema>;

export function checkpointPath(exportFile: string): string {
  return `${exportFile}.checkpoint.json`;
}

export function buildCheckpoint(summary: AuditExportSummary, key: SigningKey, exportedAt: Date): Checkpoint {
  return signObject(
    {
      type: CHECKPOINT_TYPE,
      version: 1 as const,
      sovereign_id: summary.sovereign_id,
      format: summary.format,
      filters: summary.filters,
      count: summary.count,
      first_seq: summary.first_seq,
      last_seq: summary.last_seq,
      last_hash: summary.last_hash,
      file_sha256: summary.file_sha256,
      exported_at: toTimestamp(exportedAt),
      issued_by: key.keyId,
      public_key: key.publicKey,
    },
    [key],
  );
}

export function writeCheckpoint(exportFile: string, checkpoint: Checkpoint, force?: boolean): string {
  const file = checkpointPath(exportFile);
  refuseOverwrite(file, force);
  writeFileDurably(file, `${JSON.stringify(checkpoint, null, 2)}\n`);
  return file;
}

export function readCheckpoint(file: string): Checkpoint {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new AppError('checkpoint_unreadable', `cannot read checkpoint ${file}`);
  }
  let value: unknown;
  try {
    value = parseJsonStrict(text);
  } catch {
    throw new AppError('checkpoint_malformed', `checkpoint ${file} is not valid JSON`);
  }
  const parsed = checkpointSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError('checkpoint_malformed', `checkpoint ${file} is malformed: ${issue.path.join('.') || 'root'} ${issue.message}`);
  }
  return parsed.data;
}

/**
 * A key the auditor trusts, learned outside the checkpoint: a public key or key_id given on the
 * command line, or a key of the authority's well-known declaration.
 */
export interface TrustAnchor {
  source: 'public_key' | 'key_id' | 'well_known';
  keyId: string;
  /** Absent for a key_id pin: then the checkpoint's embedded key is used only if it hashes to that key_id. */
  key?: PublicKeyInfo;
  /** The sovereign the anchor speaks for (well-known declarations); must match the checkpoint's. */
  sovereignId?: string;
}

/** Parses `--public-key`: a base64 Ed25519 public key or a key_id (`sha256:<64 hex>`). */
export function parseTrustAnchor(value: string): TrustAnchor {
  if (/^sha256:[0-9a-f]{64}$/.test(value)) return { source: 'key_id', keyId: value };
  const parsed = parsePublicKey(value);
  if (!parsed.ok)
    throw new AppError(
      'invalid_public_key',
      `--public-key is neither a key_id (sha256:…) nor a valid base64 Ed25519 public key (${parsed.reason})`,
    );
  return { source: 'public_key', keyId: parsed.key.keyId, key: parsed.key };
}

export type CheckpointSignature =
  | { status: 'valid'; key_id: string; trusted_by: TrustAnchor['source'] }
  | { status: 'invalid' | 'untrusted_key' | 'sovereign_mismatch'; key_id: string; detail: string };

/**
 * Verifies the checkpoint signature against keys the auditor trusts. The key carried inside the
 * checkpoint is never trusted on its own (anyone can sign a document and embed their key): it is
 * used only when a trust anchor pins the same key_id.
 */
export function verifyCheckpointSignature(
  checkpoint: Pick<Checkpoint, 'issued_by' | 'public_key' | 'sovereign_id' | 'signatures'>,
  anchors: TrustAnchor[],
): CheckpointSignature {
  const keyId = checkpoint.issued_by;
  const mismatched = anchors.find((a) => a.sovereignId !== undefined && a.sovereignId !== checkpoint.sovereign_id);
  const applicable = anchors.filter((a) => a.sovereignId === undefined || a.sovereignId === checkpoint.sovereign_id);
  const embedded = parsePublicKey(checkpoint.public_key);
  const trusted: Array<{ key: PublicKeyInfo; source: TrustAnchor['source'] }> = [];
  for (const anchor of applicable) {
    if (anchor.key) trusted.push({ key: anchor.key, source: anchor.source });
    else if (embedded.ok && embedded.key.keyId === anchor.keyId) trusted.push({ key: embedded.key, source: anchor.source });
  }
  if (trusted.length === 0) {
    if (mismatched) {
      return {
        status: 'sovereign_mismatch',
        key_id: keyId,
        detail: `the checkpoint is for sovereign "${checkpoint.sovereign_id}" but the trusted authority is "${mismatched.sovereignId}"`,
      };
    }
    return {
      status: 'untrusted_key',
      key_id: keyId,
      detail:
        anchors.length === 0
          ? 'no trusted key given: pass --public-key (key or key_id confirmed out of band) or --authority-url'
          : `signing key ${keyId} is not among the trusted keys`,
    };
  }
  const check = verifySignedObject(
    checkpoint,
    trusted.map((t) => t.key),
  );
  if (!check.valid) {
    const byId = trusted.some((t) => t.key.keyId === keyId);
    return byId
      ? { status: 'invalid', key_id: keyId, detail: `signature does not verify (${check.reason})` }
      : { status: 'untrusted_key', key_id: keyId, detail: `signing key ${keyId} is not among the trusted keys` };
  }
  return { status: 'valid', key_id: check.keyId, trusted_by: trusted.find((t) => t.key.keyId === check.keyId)!.source };
}
