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
// - The reads (`listAuditPage`, `iterateAuditRows`) need one consistent snapshot each; they take no
//   lock and may run outside a transaction.
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
  statements(sqlite).insert.run(row.seq, row.event_id, row.event_type, row.occurred_at, row.actor_type, row.actor_key_id, row.request_id, row.canonical, row.hash);
}

/** Events after `afterSeq` (of the given types, when any), in seq order, at most `limit`. */
export function listAuditPage(sqlite: Sqlite, afterSeq: number, eventTypes: readonly string[], limit: number): Array<{ seq: number; canonical: string }> {
  const where = eventTypes.length > 0 ? `AND event_type IN (${eventTypes.map(() => '?').join(',')})` : '';
  return sqlite
    .prepare(`SELECT seq, canonical FROM audit_events WHERE seq > ? ${where} ORDER BY seq LIMIT ?`)
    .all(afterSeq, ...eventTypes, limit) as Array<{ seq: number; canonical: string }>;
}

/** Every event in seq order, streamed (constant memory); a statement of its own, so two walks may overlap. */
export function iterateAuditRows(sqlite: Sqlite): Iterable<{ seq: number; event_type: string; hash: string; canonical: string }> {
  return sqlite.prepare('SELECT seq, event_type, hash, canonical FROM audit_events ORDER BY seq').iterate() as Iterable<{ seq: number; event_type: string; hash: string; canonical: string }>;
}
