// Checks an audit export against the audit head a signed log checkpoint commits to, so deleting the newest audit events shows.
import fs from 'node:fs';
import type { PublicKeyInfo } from '../authority/crypto.ts';
import type { TrustAnchor } from './checkpoint.ts';
import { AppError } from '../authority/errors.ts';
import { parseCheckpoint, type AuditHead } from '../transparency/checkpoint.ts';
import { MAX_NOTE_BYTES, openNote, parseNote, parseVerifierKey, verifierFor, type NoteVerifier } from '../authority/signed-note.ts';

/** Keys an auditor trusts for the checkpoint: vkeys, or raw authority keys (paired with the note's key names). */
export interface NoteTrust {
  vkeys: string[];
  publicKeys: PublicKeyInfo[];
}

export interface AuditAnchorReport {
  file: string;
  signature: { status: 'valid' | 'untrusted_key' | 'invalid' | 'malformed'; detail?: string };
  origin: string | null;
  size: number | null;
  root_hash: string | null;
  audit_head: AuditHead | null;
  /** The export holds the event at the audit head's seq, with the committed hash. */
  audit_head_matches: boolean;
}

export function readCheckpointNote(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new AppError('checkpoint_unreadable', `cannot read checkpoint note ${file}`);
  }
  if (bytes.length > MAX_NOTE_BYTES)
    throw new AppError('checkpoint_malformed', `checkpoint note ${file} is larger than ${MAX_NOTE_BYTES} bytes`);
  return bytes.toString('utf8');
}

/** Parses the vkeys given on the command line; a bad one is an error, not a silently ignored key. */
export function parseNoteKeys(vkeys: string[]): NoteVerifier[] {
  return vkeys.map((vkey) => {
    const verifier = parseVerifierKey(vkey);
    if (!verifier)
      throw new AppError(
        'invalid_note_key',
        `--note-key ${JSON.stringify(vkey)} is not an Ed25519 note verifier key (<name>+<hex id>+<base64 key>)`,
      );
    return verifier;
  });
}

/**
 * Watches the events of an export go by and, at the end, says whether the export reaches the
 * checkpoint's audit head with the same event: a truncated log (or export) ends before it, a
 * rewritten one has another hash there.
 */
export class AuditAnchorCheck {
  private readonly head: AuditHead | null;
  private seen: string | null = null;
  private readonly report: AuditAnchorReport;
  private readonly failures: string[] = [];

  constructor(file: string, note: string, trust: NoteTrust) {
    this.report = {
      file,
      signature: { status: 'malformed' },
      origin: null,
      size: null,
      root_hash: null,
      audit_head: null,
      audit_head_matches: false,
    };
    const parsed = parseNote(note);
    const names = 'signatures' in parsed ? [...new Set(parsed.signatures.map((s) => s.name))] : [];
    const verifiers = [
      ...parseNoteKeys(trust.vkeys),
      ...trust.publicKeys.flatMap((key) => names.map((name) => verifierFor(name, key.raw))),
    ];
    const opened = openNote(note, verifiers);
    const body = opened.ok ? parseCheckpoint(opened.text) : 'signatures' in parsed ? parseCheckpoint(parsed.text) : null;
    if (opened.ok) this.report.signature = { status: body ? 'valid' : 'malformed' };
    else if (opened.problem === 'no_known_signature') {
      this.report.signature = {
        status: 'untrusted_key',
        detail:
          verifiers.length === 0
            ? 'no trusted key given: pass --note-key (a vkey of GET /log/keys, confirmed out of band), --public-key or --authority-url'
            : 'not signed by a trusted key',
      };
    } else this.report.signature = { status: opened.problem === 'invalid_signature' ? 'invalid' : 'malformed', detail: opened.detail };
    if (this.report.signature.status !== 'valid')
      this.failures.push(`checkpoint note: ${this.report.signature.detail ?? 'not a log checkpoint'}`);
    this.head = body?.auditHead ?? null;
    if (body) Object.assign(this.report, { origin: body.origin, size: body.size, root_hash: body.rootHash, audit_head: this.head });
    if (body && !this.head) this.failures.push('checkpoint note: it carries no audit head (accord-audit-head extension line)');
  }

  push(event: unknown): void {
    const e = event as { seq?: unknown; hash?: unknown } | null;
    if (this.head && e && e.seq === this.head.seq && typeof e.hash === 'string') this.seen = e.hash;
  }

  /** The report and its failures, given the last seq the export reached. */
  result(lastSeq: number | null): { report: AuditAnchorReport; failures: string[] } {
    const failures = [...this.failures];
    if (this.head) {
      if (this.seen === this.head.hash) this.report.audit_head_matches = true;
      else if (this.seen !== null)
        failures.push(`audit event ${this.head.seq} is not the one the checkpoint committed to (the audit history was rewritten)`);
      else if (lastSeq === null || lastSeq < this.head.seq) {
        failures.push(
          `the export ends at seq ${lastSeq ?? 'none'}, before the checkpoint's audit head ${this.head.seq}: newer events were deleted, or the export is cut short`,
        );
      } else failures.push(`the export does not contain event ${this.head.seq} (filtered out?); check an unfiltered export`);
    }
    return { report: { ...this.report }, failures };
  }
}

/** The check `audit-verify --checkpoint-note` runs: the note's signature under the given vkeys or the auditor's trusted authority keys. */
export function logCheckpointCheck(input: { file: string; noteKeys: string[] }, anchors: readonly TrustAnchor[]): AuditAnchorCheck {
  const publicKeys = anchors.flatMap((a) => (a.key ? [a.key] : []));
  return new AuditAnchorCheck(input.file, readCheckpointNote(input.file), { vkeys: input.noteKeys, publicKeys });
}
