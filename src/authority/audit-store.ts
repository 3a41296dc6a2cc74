// All SQL of the audit chain: its head, appending one event, and the reads of the audit routes and the chain check.
//
// What a second backend must guarantee to implement this store:
// - One writer at a time. The serving lock (db/database.ts) keeps a second process off the database,
//   and every write transaction starts with BEGIN IMMEDIATE (`.immediate()`), so no two writers
//   interleave.
// - The head read and the insert that extends it are one serializable read-then-write:
//   `readAuditHead` and `insertAuditEvent` must run inside the caller's transaction (the transaction
//   of the change the event records), and no other writer may append between them. With PostgreSQL:
//   SERIALIZABLE, or lock the head (`SELECT … FOR UPDATE` of the newest row, or an advisory lock).
// - `seq` is unique and the chain has no head of its own: the newest row is the head.
// - The reads (`listAuditPage`, `iterateAuditRows`, `iterateAuditExport`) need one consistent
//   snapshot each; they take no lock and may run outside a transaction (the export reads a
//   read-only connection).
// - `iterateAuditExport`'s actor filter by label reads the label inside the stored canonical JSON
//   (`json_extract`); another backend needs a JSON path query or an indexed label column.
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';

export interface AuditHeadRow {
  seq: number;
  hash: string;
}

/** One stored event: the indexed columns and the event's canonical (JCS) text. */
export interface AuditEventRow {
  seq: number;
  event_id: string;
  event_type: string;
  occurred_at: string;
  actor_type: string;
  actor_key_id: string | null;
  request_id: string | null;
  canonical: string;
  hash: string;
}

const statements = perConnection((sqlite): { head: Statement<unknown[]>; insert: Statement<unknown[]> } => ({
  head: sqlite.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1'),
  insert: sqlite.prepare(
    `INSERT INTO audit_events (seq, event_id, event_type, occurred_at, actor_type, actor_key_id, request_id, canonical, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ),
}));

/** The newest event's seq and hash; undefined for an empty chain. Inside the appending transaction. */
export function readAuditHead(sqlite: Sqlite): AuditHeadRow | undefined {
  return statements(sqlite).head.get() as AuditHeadRow | undefined;
}

/** Stores one event after the head read in the same transaction. */
export function insertAuditEvent(sqlite: Sqlite, row: AuditEventRow): void {
  statements(sqlite).insert.run(
    row.seq,
    row.event_id,
    row.event_type,
    row.occurred_at,
    row.actor_type,
    row.actor_key_id,
    row.request_id,
    row.canonical,
    row.hash,
  );
}

/** Events after `afterSeq` (of the given types, when any), in seq order, at most `limit`. */
export function listAuditPage(
  sqlite: Sqlite,
  afterSeq: number,
  eventTypes: readonly string[],
  limit: number,
): Array<{ seq: number; canonical: string }> {
  const where = eventTypes.length > 0 ? `AND event_type IN (${eventTypes.map(() => '?').join(',')})` : '';
  return sqlite
    .prepare(`SELECT seq, canonical FROM audit_events WHERE seq > ? ${where} ORDER BY seq LIMIT ?`)
    .all(afterSeq, ...eventTypes, limit) as Array<{ seq: number; canonical: string }>;
}

/** Every event in seq order, streamed (constant memory); a statement of its own, so two walks may overlap. */
export function iterateAuditRows(sqlite: Sqlite): Iterable<{ seq: number; event_type: string; hash: string; canonical: string }> {
  return sqlite.prepare('SELECT seq, event_type, hash, canonical FROM audit_events ORDER BY seq').iterate() as Iterable<{
    seq: number;
    event_type: string;
    hash: string;
    canonical: string;
  }>;
}

/** Filters of an audit export: `since` inclusive, `until` exclusive (on occurred_at). */
export interface AuditExportFilter {
  afterSeq?: number | undefined;
  eventTypes?: readonly string[] | undefined;
  since?: string | undefined;
  until?: string | undefined;
  /** An operator key_id (`sha256:…`), else the key label recorded in the event's actor. */
  actorKey?: string | undefined;
}

/** The events an export selects, in seq order, streamed as [seq, hash, canonical] (constant memory). */
export function iterateAuditExport(sqlite: Sqlite, filter: AuditExportFilter): IterableIterator<[number, string, string]> {
  const where: string[] = ['seq > ?'];
  const params: Array<string | number> = [filter.afterSeq ?? 0];
  if (filter.eventTypes) {
    where.push(`event_type IN (${filter.eventTypes.map(() => '?').join(',')})`);
    params.push(...filter.eventTypes);
  }
  if (filter.since) {
    where.push('occurred_at >= ?');
    params.push(filter.since);
  }
  if (filter.until) {
    where.push('occurred_at < ?');
    params.push(filter.until);
  }
  if (filter.actorKey) {
    if (filter.actorKey.startsWith('sha256:')) where.push('actor_key_id = ?');
    else where.push("json_extract(canonical, '$.actor.label') = ?");
    params.push(filter.actorKey);
  }
  const sql = `SELECT seq, hash, canonical FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq`;
  return sqlite
    .prepare(sql)
    .raw(true)
    .iterate(...params) as IterableIterator<[number, string, string]>;
}

/**
 * The events whose stored form contains `needle` (a JSON string literal, e.g. `"south"`: the events
 * that name that sovereign as a whole value anywhere), in seq order, streamed as [seq, canonical].
 */
export function iterateAuditMentioning(sqlite: Sqlite, needle: string): IterableIterator<[number, string]> {
  return sqlite
    .prepare('SELECT seq, canonical FROM audit_events WHERE instr(canonical, ?) > 0 ORDER BY seq')
    .raw(true)
    .iterate(needle) as IterableIterator<[number, string]>;
}
