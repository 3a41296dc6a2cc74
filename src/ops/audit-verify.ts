// Verifies an audit export offline: every event hash, every chain link, gaps against the export's own filters, and the signed checkpoint. Streams the file.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import readline from 'node:readline';
import { Transform } from 'node:stream';
import { AuditChainVerifier, type ChainBreak } from '../authority/audit.ts';
import { canonicalJson, parseJsonStrict } from '../authority/canonical-json.ts';
import { AppError } from '../authority/errors.ts';
import { readCheckpoint, verifyCheckpointSignature, type CheckpointSignature, type TrustAnchor } from './checkpoint.ts';
import {
  filterMismatch,
  filtersAllowGaps,
  JSON_FORMAT_CLOSE,
  readFirstLine,
  type ExportFilters,
  type ExportFormat,
  type ExportHeader,
} from './export-format.ts';
import { logCheckpointCheck, type AuditAnchorReport } from './audit-anchor.ts';

export interface VerifyOptions {
  checkpointFile?: string;
  anchors?: TrustAnchor[];
  /** The file claims to be an unfiltered export from seq 1: a gap is a deletion, not a filter. */
  complete?: boolean;
  /**
   * For a file that records no filters (no header: written by a version before exports had one)
   * and has no checkpoint: report gaps instead of failing on them.
   */
  allowGaps?: boolean;
  /** A signed revocation-log checkpoint (and vkeys trusted for it) whose audit head the export must reach. */
  checkpointNote?: { file: string; noteKeys: string[] };
}

export interface AuditVerifyReport {
  ok: boolean;
  file: string;
  format: ExportFormat;
  file_sha256: string;
  /** The export's header (null for a file written before exports had one). */
  header: ExportHeader | null;
  /** The filters that decide which gaps a filter explains, and where they were read. */
  filters: { source: 'header' | 'checkpoint' | 'none'; value: ExportFilters | null };
  count: number;
  first_seq: number | null;
  last_seq: number | null;
  last_hash: string | null;
  /** Missing sequence numbers; failures unless the export's filters explain them. */
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
  /** One line per failure, checkpoint mismatches first; empty when everything holds. */
  failures: string[];
}

const LISTED = 100;

type ExportLine = { kind: 'first'; format: ExportFormat; header: ExportHeader | null } | { kind: 'event'; event: unknown; line: number };

/** Reads an export in either format, line by line, hashing the bytes as they pass: first what the first line says, then the events. */
async function* exportLines(file: string, hash: ReturnType<typeof createHash>): AsyncGenerator<ExportLine> {
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
      const first = readFirstLine(line);
      format = first.format;
      yield { kind: 'first', format: first.format, header: first.header };
      if (!first.isEvent) continue;
    }
    if (format === 'json') {
      if (closed) {
        if (line.trim() !== '') throw new AppError('export_malformed', `line ${lineNo}: text after the end of the json export`);
        continue;
      }
      if (line === JSON_FORMAT_CLOSE) {
        closed = true;
        continue;
      }
      yield { kind: 'event', event: parseLine(line.endsWith(',') ? line.slice(0, -1) : line), line: lineNo };
    } else {
      yield { kind: 'event', event: parseLine(line), line: lineNo };
    }
  }
  if (format === null) yield { kind: 'first', format: 'jsonl', header: null };
  if (format === 'json' && !closed) throw new AppError('export_malformed', 'the json export is truncated (no closing "]}" line)');
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

/** How gaps are judged, from the filters the export recorded (header, else checkpoint) and the options. */
interface GapPolicy {
  /** A complete log from seq 1: the chain verifier treats a missing event as a break. */
  complete: boolean;
  /** No filter explains a gap: each one is a deleted event. */
  noGaps: boolean;
  /** Why a gap is a deletion, for the failure line. */
  because: string;
}

function gapPolicy(filters: ExportFilters | null, options: VerifyOptions): GapPolicy {
  if (options.complete)
    return { complete: filters?.after_seq === undefined, noGaps: true, because: '--complete says the export is unfiltered' };
  if (filters === null) {
    return {
      complete: false,
      noGaps: !options.allowGaps,
      because:
        'the export records no filters (no header line, no checkpoint); a filtered export written by an older version can be checked with its checkpoint or --allow-gaps',
    };
  }
  if (Object.keys(filters).length === 0) return { complete: true, noGaps: true, because: 'the export was made without filters' };
  if (!filtersAllowGaps(filters)) return { complete: false, noGaps: true, because: 'its only filter, --after-seq, cannot skip events' };
  return { complete: false, noGaps: false, because: '' };
}

/**
 * Verifies an export. Gaps (missing sequence numbers) are acceptable only where the export's own
 * filters explain them: the filters come from its header line (else its checkpoint); an export
 * made without filters, or only with `--after-seq`, must have none, and so must a file that
 * records no filters at all (unless `allowGaps`). Every event must match the recorded filters.
 * With a checkpoint, its signature must verify under a trusted key and every field must match the
 * file (checkpoint failures are listed first: with the wrong checkpoint, that is the news).
 */
export async function verifyAuditExport(file: string, options: VerifyOptions = {}): Promise<AuditVerifyReport> {
  if (!fs.existsSync(file)) throw new AppError('export_not_found', `export file ${file} does not exist`);
  const checkpoint = options.checkpointFile ? readCheckpoint(options.checkpointFile) : null;
  const hash = createHash('sha256');
  let format: ExportFormat = 'jsonl';
  let header: ExportHeader | null = null;
  let filters: ExportFilters | null = null;
  let policy: GapPolicy | null = null;
  let verifier: AuditChainVerifier | null = null;
  /** Lines before the first event (the header, or the json opener): the verifier counts events, the report counts lines. */
  let lineOffset: number | null = null;
  const filterFailures: string[] = [];
  let filterMismatches = 0;
  const anchor = options.checkpointNote ? logCheckpointCheck(options.checkpointNote, options.anchors ?? []) : null;
  for await (const item of exportLines(file, hash)) {
    if (item.kind === 'first') {
      format = item.format;
      header = item.header;
      filters = header?.filters ?? checkpoint?.filters ?? null;
      policy = gapPolicy(filters, options);
      verifier = new AuditChainVerifier({ complete: policy.complete, maxListedGaps: LISTED });
      continue;
    }
    lineOffset ??= item.line - 1;
    verifier!.push(item.event);
    anchor?.push(item.event);
    if (filters !== null && typeof item.event === 'object' && item.event !== null) {
      const mismatch = filterMismatch(item.event as Parameters<typeof filterMismatch>[0], filters);
      if (mismatch !== null) {
        filterMismatches++;
        if (filterFailures.length < LISTED)
          filterFailures.push(
            `seq ${String((item.event as { seq?: unknown }).seq)} (line ${item.line}): outside the export's filters (${mismatch})`,
          );
      }
    }
  }
  const report = verifier!.result();
  const breaks = report.breaks.map((b) => (b.line !== undefined ? { ...b, line: b.line + (lineOffset ?? 0) } : b));
  const firstGaps = report.gaps;
  const gapCount = report.gaps.length + (report.omittedGaps ?? 0);
  const fileSha256 = hash.digest('hex');

  const checkpointFailures: string[] = [];
  let checkpointReport: AuditVerifyReport['checkpoint'] = null;
  if (checkpoint) {
    const fileMatches = checkpoint.file_sha256 === fileSha256;
    if (!fileMatches)
      checkpointFailures.push('checkpoint: file_sha256 does not match the file (the file was altered or is not the one exported)');
    const mismatched: string[] = [];
    const expect: Array<[string, unknown, unknown]> = [
      ['count', checkpoint.count, report.count],
      ['first_seq', checkpoint.first_seq, report.firstSeq],
      ['last_seq', checkpoint.last_seq, report.lastSeq],
      ['last_hash', checkpoint.last_hash, report.lastHash],
      ['format', checkpoint.format, format],
      ...(header
        ? ([
            ['filters', canonicalJson(checkpoint.filters), canonicalJson(header.filters)],
            ['sovereign_id', checkpoint.sovereign_id, header.sovereign_id],
          ] as Array<[string, unknown, unknown]>)
        : []),
    ];
    for (const [field, claimed, actual] of expect) {
      if (claimed !== actual) {
        mismatched.push(field);
        checkpointFailures.push(
          `checkpoint: ${field} is ${field === 'filters' ? claimed : JSON.stringify(claimed)} but the file has ${field === 'filters' ? actual : JSON.stringify(actual)}`,
        );
      }
    }
    const signature = verifyCheckpointSignature(checkpoint, options.anchors ?? []);
    if (signature.status !== 'valid') checkpointFailures.push(`checkpoint signature: ${signature.detail}`);
    checkpointReport = {
      file: options.checkpointFile!,
      signature,
      file_sha256_matches: fileMatches,
      mismatched_fields: mismatched,
      filters: checkpoint.filters,
    };
  }

  const failures = [...checkpointFailures, ...breaks.slice(0, LISTED).map(describeBreak)];
  if (breaks.length > LISTED) failures.push(`… and ${breaks.length - LISTED} more chain breaks`);
  // A complete verifier already reported each gap as a break; otherwise a forbidden gap is named here.
  if (policy!.noGaps && gapCount > 0) {
    failures.push(
      `${gapCount} gap(s) (first after seq ${firstGaps[0]!.after_seq}, next ${firstGaps[0]!.next_seq}) but ${policy!.because}: events were deleted`,
    );
  }
  const afterSeq = filters?.after_seq;
  if (
    filters !== null &&
    !filtersAllowGaps(filters) &&
    afterSeq !== undefined &&
    report.firstSeq !== null &&
    report.firstSeq !== afterSeq + 1
  ) {
    failures.push(
      `the export starts at seq ${report.firstSeq} but --after-seq ${afterSeq} means it must start at ${afterSeq + 1}: events were deleted`,
    );
  }
  failures.push(...filterFailures);
  if (filterMismatches > filterFailures.length)
    failures.push(`… and ${filterMismatches - filterFailures.length} more events outside the export's filters`);
  const anchored = anchor?.result(report.lastSeq);
  if (anchored) failures.push(...anchored.failures);

  return {
    ok: failures.length === 0 && report.ok,
    file,
    format,
    file_sha256: fileSha256,
    header,
    filters: { source: header ? 'header' : checkpoint ? 'checkpoint' : 'none', value: filters },
    count: report.count,
    first_seq: report.firstSeq,
    last_seq: report.lastSeq,
    last_hash: report.lastHash,
    gaps: { count: gapCount, first: firstGaps },
    breaks,
    checkpoint: checkpointReport,
    ...(anchored ? { checkpoint_note: anchored.report } : {}),
    failures,
  };
}
