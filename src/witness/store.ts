// All SQL of witnessing: witnessed logs, their cosigned state and conflict evidence; this log's witnesses and cosignatures.
//
// What a second backend must guarantee to implement this store:
// - One writer at a time (serving lock, BEGIN IMMEDIATE). Every write runs inside the caller's
//   transaction, with the audit event that records it.
// - Cosigning is a serializable read-then-write: the stored checkpoint of a log
//   (`readWitnessCheckpoint`) is compared with the submitted one and replaced
//   (`writeWitnessCheckpoint`) in one transaction, so two submissions of one log cannot both advance
//   from the same old size, and a conflict is recorded against the state the decision read.
// - A witness's failure count is read and updated in one transaction (`readLogWitness`, then
//   `recordWitnessFailure` / `recordWitnessSuccess`).
// - Inserting evidence or a cosignature already stored is not an error and changes nothing
//   (INSERT OR IGNORE); `insertWitnessConflict` reports whether it stored a row.
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';

export interface WitnessLogRow {
  sovereign_id: string;
  origin: string;
  enabled: number;
  enabled_at: string;
  updated_at: string;
}

export interface WitnessCheckpointRow {
  origin: string;
  sovereign_id: string;
  size: number;
  root_hash: string;
  note: string;
  timestamp: number;
  cosigned_at: string;
}

export interface WitnessConflictRow {
  evidence_hash: string;
  origin: string;
  sovereign_id: string;
  problem: 'root_mismatch' | 'inconsistent';
  cosigned_size: number;
  cosigned_root: string;
  cosigned_note: string;
  old_size: number;
  submitted_size: number;
  submitted_root: string;
  submitted_note: string;
  proof: string;
  detected_at: string;
}

export interface LogWitnessRow {
  name: string;
  known_size: number | null;
  last_attempt_at: string | null;
  last_success_at: string | null;
  last_reason: string | null;
  last_error: string | null;
  consecutive_failures: number;
  next_attempt_at: string | null;
}

export interface LogCosignatureRow {
  sequence: number;
  witness: string;
  key_id: string;
  timestamp: number;
  line: string;
  received_at: string;
}

interface Statements {
  logBySovereign: Statement<unknown[]>;
  logByOrigin: Statement<unknown[]>;
  logs: Statement<unknown[]>;
  insertLog: Statement<unknown[]>;
  setLogEnabled: Statement<unknown[]>;
  checkpoint: Statement<unknown[]>;
  checkpoints: Statement<unknown[]>;
  upsertCheckpoint: Statement<unknown[]>;
  insertConflict: Statement<unknown[]>;
  conflicts: Statement<unknown[]>;
  conflictCount: Statement<unknown[]>;
  logWitness: Statement<unknown[]>;
  ensureLogWitness: Statement<unknown[]>;
  witnessSuccess: Statement<unknown[]>;
  witnessFailure: Statement<unknown[]>;
  witnessKnownSize: Statement<unknown[]>;
  insertCosignature: Statement<unknown[]>;
  hasCosignature: Statement<unknown[]>;
  lastCosigned: Statement<unknown[]>;
}

const statements = perConnection(
  (sqlite): Statements => ({
    logBySovereign: sqlite.prepare('SELECT * FROM witness_logs WHERE sovereign_id = ?'),
    logByOrigin: sqlite.prepare('SELECT * FROM witness_logs WHERE origin = ?'),
    logs: sqlite.prepare('SELECT * FROM witness_logs ORDER BY sovereign_id'),
    insertLog: sqlite.prepare('INSERT INTO witness_logs (sovereign_id, origin, enabled, enabled_at, updated_at) VALUES (?, ?, 1, ?, ?)'),
    setLogEnabled: sqlite.prepare(
      'UPDATE witness_logs SET enabled = ?, updated_at = ?, enabled_at = CASE WHEN ? = 1 THEN ? ELSE enabled_at END WHERE sovereign_id = ?',
    ),
    checkpoint: sqlite.prepare('SELECT * FROM witness_checkpoints WHERE origin = ?'),
    checkpoints: sqlite.prepare('SELECT * FROM witness_checkpoints ORDER BY origin'),
    upsertCheckpoint: sqlite.prepare(
      `INSERT INTO witness_checkpoints (origin, sovereign_id, size, root_hash, note, timestamp, cosigned_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (origin) DO UPDATE SET sovereign_id = excluded.sovereign_id, size = excluded.size, root_hash = excluded.root_hash,
       note = excluded.note, timestamp = excluded.timestamp, cosigned_at = excluded.cosigned_at`,
    ),
    insertConflict: sqlite.prepare(
      `INSERT OR IGNORE INTO witness_conflicts (evidence_hash, origin, sovereign_id, problem, cosigned_size, cosigned_root, cosigned_note, old_size,
       submitted_size, submitted_root, submitted_note, proof, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    conflicts: sqlite.prepare('SELECT * FROM witness_conflicts ORDER BY detected_at, evidence_hash LIMIT ?'),
    conflictCount: sqlite.prepare('SELECT count(*) FROM witness_conflicts WHERE origin = ?').pluck(),
    logWitness: sqlite.prepare('SELECT * FROM log_witnesses WHERE name = ?'),
    ensureLogWitness: sqlite.prepare('INSERT OR IGNORE INTO log_witnesses (name) VALUES (?)'),
    witnessSuccess: sqlite.prepare(
      'UPDATE log_witnesses SET known_size = ?, last_attempt_at = ?, last_success_at = ?, last_reason = NULL, last_error = NULL, consecutive_failures = 0, next_attempt_at = NULL WHERE name = ?',
    ),
    witnessFailure: sqlite.prepare(
      'UPDATE log_witnesses SET last_attempt_at = ?, last_reason = ?, last_error = ?, consecutive_failures = ?, next_attempt_at = ? WHERE name = ?',
    ),
    witnessKnownSize: sqlite.prepare('UPDATE log_witnesses SET known_size = ? WHERE name = ?'),
    insertCosignature: sqlite.prepare(
      'INSERT OR IGNORE INTO log_cosignatures (sequence, witness, key_id, timestamp, line, received_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    hasCosignature: sqlite.prepare('SELECT 1 FROM log_cosignatures WHERE sequence = ? AND witness = ? LIMIT 1').pluck(),
    lastCosigned: sqlite.prepare(
      'SELECT sequence, timestamp FROM log_cosignatures WHERE witness = ? ORDER BY sequence DESC, timestamp DESC LIMIT 1',
    ),
  }),
);

// ---- Witnessed logs.

export function readWitnessLog(sqlite: Sqlite, sovereignId: string): WitnessLogRow | undefined {
  return statements(sqlite).logBySovereign.get(sovereignId) as WitnessLogRow | undefined;
}

export function readWitnessLogByOrigin(sqlite: Sqlite, origin: string): WitnessLogRow | undefined {
  return statements(sqlite).logByOrigin.get(origin) as WitnessLogRow | undefined;
}

export function readWitnessLogs(sqlite: Sqlite): WitnessLogRow[] {
  return statements(sqlite).logs.all() as WitnessLogRow[];
}

export function insertWitnessLog(sqlite: Sqlite, sovereignId: string, origin: string, at: string): void {
  statements(sqlite).insertLog.run(sovereignId, origin, at, at);
}

export function setWitnessLogEnabled(sqlite: Sqlite, sovereignId: string, enabled: boolean, at: string): void {
  const flag = enabled ? 1 : 0;
  statements(sqlite).setLogEnabled.run(flag, at, flag, at, sovereignId);
}

export function readWitnessCheckpoint(sqlite: Sqlite, origin: string): WitnessCheckpointRow | undefined {
  return statements(sqlite).checkpoint.get(origin) as WitnessCheckpointRow | undefined;
}

export function readWitnessCheckpoints(sqlite: Sqlite): WitnessCheckpointRow[] {
  return statements(sqlite).checkpoints.all() as WitnessCheckpointRow[];
}

export function writeWitnessCheckpoint(sqlite: Sqlite, row: WitnessCheckpointRow): void {
  statements(sqlite).upsertCheckpoint.run(row.origin, row.sovereign_id, row.size, row.root_hash, row.note, row.timestamp, row.cosigned_at);
}

/** Stores conflict evidence; false when the same evidence was already stored. */
export function insertWitnessConflict(sqlite: Sqlite, row: WitnessConflictRow): boolean {
  const r = row;
  return (
    statements(sqlite).insertConflict.run(
      r.evidence_hash,
      r.origin,
      r.sovereign_id,
      r.problem,
      r.cosigned_size,
      r.cosigned_root,
      r.cosigned_note,
      r.old_size,
      r.submitted_size,
      r.submitted_root,
      r.submitted_note,
      r.proof,
      r.detected_at,
    ).changes === 1
  );
}

export function readWitnessConflicts(sqlite: Sqlite, limit: number): WitnessConflictRow[] {
  return statements(sqlite).conflicts.all(limit) as WitnessConflictRow[];
}

export function countWitnessConflicts(sqlite: Sqlite, origin: string): number {
  return statements(sqlite).conflictCount.get(origin) as number;
}

// ---- This log's witnesses.

/** The submission state of a configured witness (created on first use). */
export function readLogWitness(sqlite: Sqlite, name: string): LogWitnessRow {
  const s = statements(sqlite);
  const row = s.logWitness.get(name) as LogWitnessRow | undefined;
  if (row) return row;
  return {
    name,
    known_size: null,
    last_attempt_at: null,
    last_success_at: null,
    last_reason: null,
    last_error: null,
    consecutive_failures: 0,
    next_attempt_at: null,
  };
}

export function recordWitnessSuccess(sqlite: Sqlite, name: string, size: number, at: string): void {
  const s = statements(sqlite);
  s.ensureLogWitness.run(name);
  s.witnessSuccess.run(size, at, at, name);
}

export function recordWitnessFailure(
  sqlite: Sqlite,
  name: string,
  failure: { reason: string; message: string; failures: number; nextAttemptAt: string; at: string },
): void {
  const s = statements(sqlite);
  s.ensureLogWitness.run(name);
  s.witnessFailure.run(failure.at, failure.reason, failure.message, failure.failures, failure.nextAttemptAt, name);
}

export function recordWitnessKnownSize(sqlite: Sqlite, name: string, size: number): void {
  const s = statements(sqlite);
  s.ensureLogWitness.run(name);
  s.witnessKnownSize.run(size, name);
}

export function insertLogCosignature(sqlite: Sqlite, row: LogCosignatureRow): void {
  statements(sqlite).insertCosignature.run(row.sequence, row.witness, row.key_id, row.timestamp, row.line, row.received_at);
}

export function hasLogCosignature(sqlite: Sqlite, sequence: number, witness: string): boolean {
  return statements(sqlite).hasCosignature.get(sequence, witness) !== undefined;
}

/** The newest checkpoint sequence a witness cosigned, and the cosignature's timestamp. */
export function readLastCosigned(sqlite: Sqlite, witness: string): { sequence: number; timestamp: number } | undefined {
  return statements(sqlite).lastCosigned.get(witness) as { sequence: number; timestamp: number } | undefined;
}
