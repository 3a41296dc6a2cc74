// Verifies an audit export offline: every event hash, every chain link, and the signed checkpoint. Streams the file.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import readline from 'node:readline';
import { Transform } from 'node:stream';
import { AuditChainVerifier, type ChainBreak } from '../authority/audit.ts';
import { parseJsonStrict } from '../authority/canonical-json.ts';
import { AppError } from '../authority/errors.ts';
import { JSON_FORMAT_CLOSE, JSON_FORMAT_OPEN, type ExportFormat } from './audit-export.ts';
import { filtersAllowGaps, readCheckpoint, verifyCheckpointSignature, type CheckpointSignature, type TrustAnchor } from './checkpoint.ts';
import { logCheckpointCheck, type AuditAnchorReport } from '../transparency/audit-anchor.ts';

export interface VerifyOptions {
  checkpointFile?: string;
  anchors?: TrustAnchor[];
  /** The file claims to be an unfiltered export from seq 1: a gap is a deletion, not a filter. */
  complete?: boolean;
  /** A signed revocation-log checkpoint (and vkeys trusted for it) whose audit head the export must reach. */
  checkpointNote?: { file: string; noteKeys: string[] };
}

export interface AuditVerifyReport {
  ok: boolean;
  file: string;
  format: ExportFormat;
  file_sha256: string;
  count: number;
  first_seq: number | null;
  last_seq: number | null;
  last_hash: string | null;
  /** Missing sequence numbers a filter explains; not failures. */
  gaps: { count: number; first: Array<{ after_seq: number; next_seq: number }> };
  breaks: ChainBreak[];
  checkpoint: null | {
    file: string;
    signature: CheckpointSignature;
    file_sha256_matches: boolean;
    mismatched_fields: string[];
    filters: Record<string, unknown>;
  };
  /** Present with `checkpointNote`. */
  checkpoint_note?: AuditAnchorReport;
  /** One line per failure; empty when everything holds. */
  failures: string[];
}

const LISTED = 100;

/** Reads events from an export in either format, line by line, hashing the bytes as they pass. */
async function* exportEvents(file: string, hash: ReturnType<typeof createHash>, onFormat: (f: ExportFormat) => void): AsyncGenerator<{ event: unknown; line: number }> {
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  input.on('error', (err) => hasher.destroy(err));
  const lines = readline.createInterface({ input: input.pipe(hasher), crlfDelay: Infinity });
  let lineNo = 0;
  let format: ExportFormat | null = null;
  let closed = false;
  for await (const line of lines) {
    lineNo++;
    if (format === null) {
      format = line === JSON_FORMAT_OPEN ? 'json' : 'jsonl';
      onFormat(format);
      if (format === 'json') continue;
    }
    if (format === 'json') {
      if (closed) {
        if (line.trim() !== '') throw new AppError('export_malformed', 422, `line ${lineNo}: text after the end of the json export`);
        continue;
      }
      if (line === JSON_FORMAT_CLOSE) {
        closed = true;
        continue;
      }
      yield { event: parseLine(line.endsWith(',') ? line.slice(0, -1) : line), line: lineNo };
    } else {
      yield { event: parseLine(line), line: lineNo };
    }
  }
  if (format === null) onFormat('jsonl');
  if (format === 'json' && !closed) throw new AppError('export_malformed', 422, 'the json export is truncated (no closing "]}" line)');
}

function parseLine(line: string): unknown {
  try {
    return parseJsonStrict(line);
  } catch {
    return null;
  }
}

function describeBreak(b: ChainBreak): string {
  return `${b.seq === null ? 'event' : `seq ${b.seq}`}${b.line !== undefined ? ` (line ${b.line})` : ''}: ${b.reason.replace(/_/g, ' ')}`;
}

/**
 * Verifies an export. Gaps (missing sequence numbers) are failures only when the export is known to
 * be unfiltered: `complete`, or a checkpoint whose filters cannot explain a gap. With a checkpoint,
 * its signature must verify under a trusted key and every field must match the file.
 */
export async function verifyAuditExport(file: string, options: VerifyOptions = {}): Promise<AuditVerifyReport> {
  if (!fs.existsSync(file)) throw new AppError('export_not_found', 404, `export file ${file} does not exist`);
  const checkpoint = options.checkpointFile ? readCheckpoint(options.checkpointFile) : null;
  const filters = checkpoint?.filters ?? {};
  const noFilters = checkpoint !== null && Object.keys(filters).length === 0;
  const complete = options.complete === true || noFilters;
  const verifier = new AuditChainVerifier({ complete: complete && filters.after_seq === undefined, maxListedGaps: LISTED });
  const hash = createHash('sha256');
  let format: ExportFormat = 'jsonl';
  const anchor = options.checkpointNote ? logCheckpointCheck(options.checkpointNote, options.anchors ?? []) : null;
  for await (const { event } of exportEvents(file, hash, (f) => (format = f))) {
    verifier.push(event);
    anchor?.push(event);
  }
  const report = verifier.result();
  const firstGaps = report.gaps;
  const gapCount = report.gaps.length + (report.omittedGaps ?? 0);
  const fileSha256 = hash.digest('hex');
  const failures = report.breaks.slice(0, LISTED).map(describeBreak);
  if (report.breaks.length > LISTED) failures.push(`… and ${report.breaks.length - LISTED} more chain breaks`);
  const afterSeqOnly = checkpoint !== null && !filtersAllowGaps(filters) && filters.after_seq !== undefined;
  if (afterSeqOnly && gapCount > 0) failures.push(`${gapCount} gap(s) in an export whose filters cannot skip events (first after seq ${firstGaps[0]!.after_seq}): events were deleted`);
  if (afterSeqOnly && report.firstSeq !== null && report.firstSeq !== filters.after_seq! + 1) {
    failures.push(`the export starts at seq ${report.firstSeq} but --after-seq ${filters.after_seq} means it must start at ${filters.after_seq! + 1}`);
  }

  let checkpointReport: AuditVerifyReport['checkpoint'] = null;
  if (checkpoint) {
    const signature = verifyCheckpointSignature(checkpoint, options.anchors ?? []);
    if (signature.status !== 'valid') failures.push(`checkpoint signature: ${signature.detail}`);
    const fileMatches = checkpoint.file_sha256 === fileSha256;
    if (!fileMatches) failures.push('checkpoint: file_sha256 does not match the file (the file was altered or is not the one exported)');
    const mismatched: string[] = [];
    const expect: Array<[string, unknown, unknown]> = [
      ['count', checkpoint.count, report.count],
      ['first_seq', checkpoint.first_seq, report.firstSeq],
      ['last_seq', checkpoint.last_seq, report.lastSeq],
      ['last_hash', checkpoint.last_hash, report.lastHash],
      ['format', checkpoint.format, format],
    ];
    for (const [field, claimed, actual] of expect) {
      if (claimed !== actual) {
        mismatched.push(field);
        failures.push(`checkpoint: ${field} is ${JSON.stringify(claimed)} but the file has ${JSON.stringify(actual)}`);
      }
    }
    checkpointReport = { file: options.checkpointFile!, signature, file_sha256_matches: fileMatches, mismatched_fields: mismatched, filters };
  }
  const anchored = anchor?.result(report.lastSeq);
  if (anchored) failures.push(...anchored.failures);
  return {
    ok: failures.length === 0 && report.ok,
    file,
    format,
    file_sha256: fileSha256,
    count: report.count,
    first_seq: report.firstSeq,
    last_seq: report.lastSeq,
    last_hash: report.lastHash,
    gaps: { count: gapCount, first: firstGaps },
    breaks: report.breaks.slice(0, LISTED),
    checkpoint: checkpointReport,
    ...(anchored ? { checkpoint_note: anchored.report } : {}),
    failures,
  };
}
