// Audit export for auditors: streams stored events (JCS, one per line, after a header recording the filters) from a read-only connection in constant memory.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AUDIT_EVENT_TYPES } from '../authority/audit.ts';
import { iterateAuditExport, type AuditExportFilter } from '../authority/audit-store.ts';
import { parseTimestamp } from '../authority/clock.ts';
import { readAuthorityMetaIfPresent } from '../authority/identity-store.ts';
import { AppError } from '../authority/errors.ts';
import { openDatabase, type Database } from '../db/database.ts';
import { EXPORT_FORMATS, exportHeaderLine, JSON_FORMAT_CLOSE, type ExportFilters, type ExportFormat } from './export-format.ts';
import { fsyncDirectory, refuseOverwrite, temporaryPath } from './files.ts';

export interface ExportFilterInput {
  eventTypes?: string[];
  since?: string;
  until?: string;
  actorKey?: string;
  afterSeq?: number;
}

export interface AuditExportSummary {
  output: string;
  format: ExportFormat;
  count: number;
  first_seq: number | null;
  last_seq: number | null;
  last_hash: string | null;
  /** Hex SHA-256 of the exported file's bytes. */
  file_sha256: string;
  bytes: number;
  filters: ExportFilters;
  sovereign_id: string;
}

/** Validates and normalizes filters: known event types (sorted, unique), strict timestamps, a non-negative seq. */
export function normalizeFilters(input: ExportFilterInput): ExportFilters {
  const filters: ExportFilters = {};
  if (input.eventTypes && input.eventTypes.length > 0) {
    const unknown = input.eventTypes.filter((t) => !(AUDIT_EVENT_TYPES as readonly string[]).includes(t));
    if (unknown.length > 0) throw new AppError('invalid_filter', `unknown event type ${unknown[0]} (see docs/audit-events.md)`);
    filters.event_types = [...new Set(input.eventTypes)].sort();
  }
  for (const [name, value] of [
    ['since', input.since],
    ['until', input.until],
  ] as const) {
    if (value === undefined) continue;
    if (!parseTimestamp(value))
      throw new AppError('invalid_filter', `--${name} must be an RFC 3339 UTC timestamp like 2026-01-01T00:00:00Z`);
    filters[name] = value;
  }
  if (filters.since && filters.until && filters.since >= filters.until)
    throw new AppError('invalid_filter', '--since must be before --until');
  if (input.actorKey !== undefined) {
    if (input.actorKey.length === 0 || input.actorKey.length > 200)
      throw new AppError('invalid_filter', '--actor-key must be an operator key_id (sha256:…) or label');
    filters.actor_key = input.actorKey;
  }
  if (input.afterSeq !== undefined) {
    if (!Number.isSafeInteger(input.afterSeq) || input.afterSeq < 0)
      throw new AppError('invalid_filter', '--after-seq must be a whole number ≥ 0');
    filters.after_seq = input.afterSeq;
  }
  return filters;
}

/** The store's filter for an export's filters. */
function exportFilter(filters: ExportFilters): AuditExportFilter {
  return {
    afterSeq: filters.after_seq,
    eventTypes: filters.event_types,
    since: filters.since,
    until: filters.until,
    actorKey: filters.actor_key,
  };
}

/** Opens a database read-only and checks it is an accord database (the export never writes). */
export function openAccordReadOnly(dbPath: string): { db: Database; sovereignId: string } {
  if (!fs.existsSync(dbPath)) throw new AppError('database_not_found', `database ${dbPath} does not exist`);
  let db: Database;
  try {
    db = openDatabase(dbPath, { readonly: true });
  } catch (err) {
    throw new AppError('database_unreadable', `cannot open ${dbPath}: ${(err as Error).message}`);
  }
  try {
    const app = readAuthorityMetaIfPresent(db.sqlite, 'application');
    const sovereignId = readAuthorityMetaIfPresent(db.sqlite, 'sovereign_id');
    if (app !== 'accord' || !sovereignId) throw new AppError('not_accord_database', `${dbPath} is not an accord database`);
    return { db, sovereignId };
  } catch (err) {
    db.close();
    if (err instanceof AppError) throw err;
    throw new AppError('not_accord_database', `${dbPath} is not an accord database (${(err as Error).message})`);
  }
}

/** Size of each of the two output buffers: one is filled while the other is being written. */
const CHUNK_BYTES = 256 * 1024;
/** The most UTF-8 bytes one UTF-16 code unit can take (a surrogate pair is 2 units and 4 bytes). */
const MAX_UTF8_PER_UNIT = 3;

/**
 * Appends text to a file through two fixed buffers, hashing the bytes on the way: text is encoded
 * straight into the buffer being filled while the other one is written, so memory stays two buffers
 * whatever the size of the export. `fits` + `put` is the synchronous fast path; `append` flushes first.
 */
class ChunkedFileWriter {
  readonly hash = createHash('sha256');
  bytes = 0;
  private readonly buffers = [Buffer.allocUnsafe(CHUNK_BYTES), Buffer.allocUnsafe(CHUNK_BYTES)] as const;
  private current = 0;
  private used = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly handle: fs.promises.FileHandle) {}

  /** True when `text` and `extraBytes` more bytes certainly fit in the buffer being filled. */
  fits(text: string, extraBytes = 0): boolean {
    return this.used + text.length * MAX_UTF8_PER_UNIT + extraBytes <= CHUNK_BYTES;
  }

  put(text: string): void {
    this.used += this.buffers[this.current]!.write(text, this.used, 'utf8');
  }

  async append(text: string): Promise<void> {
    if (this.fits(text)) return this.put(text);
    await this.flush();
    if (this.fits(text)) return this.put(text);
    // Longer than a whole buffer: written on its own, in order.
    await this.writing;
    await this.writeOut(Buffer.from(text, 'utf8'));
  }

  /** Starts writing the filled buffer and switches to the other one once its own write is done. */
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const chunk = this.buffers[this.current]!.subarray(0, this.used);
    await this.writing;
    this.writing = this.writeOut(chunk);
    this.writing.catch(() => {});
    this.current = 1 - this.current;
    this.used = 0;
  }

  /** Flushes what is buffered and waits for every write. */
  async finish(): Promise<void> {
    await this.flush();
    await this.writing;
  }

  private async writeOut(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    const position = this.bytes;
    this.bytes += chunk.length;
    for (let done = 0; done < chunk.length; ) {
      const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done, position + done);
      done += bytesWritten;
    }
  }
}

/**
 * Writes the matching events to `output`. Rows are read with an iterator from a read-only
 * connection (one consistent snapshot; a serving authority keeps writing), encoded into fixed
 * buffers that are written while the next one fills, and hashed on the way, so memory does not
 * grow with the count. The file appears under its name only when complete.
 */
export async function exportAudit(input: {
  dbPath: string;
  output: string;
  filters?: ExportFilterInput;
  format?: ExportFormat;
  force?: boolean;
}): Promise<AuditExportSummary> {
  const format = input.format ?? 'jsonl';
  if (!EXPORT_FORMATS.includes(format)) throw new AppError('invalid_filter', '--format must be jsonl or json');
  const filters = normalizeFilters(input.filters ?? {});
  const output = path.resolve(input.output);
  refuseOverwrite(output, input.force);
  const { db, sovereignId } = openAccordReadOnly(input.dbPath);
  const tmp = temporaryPath(output);
  let count = 0;
  let firstSeq: number | null = null;
  let lastSeq: number | null = null;
  let lastHash: string | null = null;
  let handle: fs.promises.FileHandle | null = null;
  let writer: ChunkedFileWriter;
  try {
    handle = await fs.promises.open(tmp, 'wx', 0o600);
    writer = new ChunkedFileWriter(handle);
    const rows = iterateAuditExport(db.sqlite, exportFilter(filters));
    const json = format === 'json';
    // The header records the filters, so a verifier can tell a gap a filter explains from a deleted event.
    await writer.append(`${exportHeaderLine(format, { sovereign_id: sovereignId, filters })}\n`);
    for (const [seq, eventHash, canonical] of rows) {
      // jsonl: the event and a newline; json: a separator before every event but the first.
      const before = json && count > 0 ? ',\n' : '';
      const after = json ? '' : '\n';
      if (writer.fits(canonical, before.length + after.length)) {
        writer.put(before);
        writer.put(canonical);
        writer.put(after);
      } else {
        await writer.append(`${before}${canonical}${after}`);
      }
      count++;
      firstSeq ??= seq;
      lastSeq = seq;
      lastHash = eventHash;
    }
    if (json) await writer.append(`${count === 0 ? '' : '\n'}${JSON_FORMAT_CLOSE}\n`);
    await writer.finish();
    await handle.sync();
    await handle.close();
    handle = null;
    if (!input.force && fs.existsSync(output)) throw new AppError('output_exists', `refusing to overwrite ${output} (use --force)`);
    fs.renameSync(tmp, output);
    fsyncDirectory(path.dirname(output));
  } catch (err) {
    await handle?.close().catch(() => {});
    fs.rmSync(tmp, { force: true });
    throw err;
  } finally {
    db.close();
  }
  return {
    output,
    format,
    count,
    first_seq: firstSeq,
    last_seq: lastSeq,
    last_hash: lastHash,
    file_sha256: writer.hash.digest('hex'),
    bytes: writer.bytes,
    filters,
    sovereign_id: sovereignId,
  };
}
