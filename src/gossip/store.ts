// All SQL of split-view gossip: the evidence recorded, and its delivery to each peer.
//
// What a second backend must guarantee to implement this store:
// - One writer at a time (serving lock, BEGIN IMMEDIATE). Every write runs inside the caller's
//   transaction, with the audit event that records it (evidence, the issuer's pause and the
//   deliveries to schedule commit together).
// - Inserting evidence already stored is not an error and changes nothing (INSERT OR IGNORE);
//   `insertEvidence` reports whether it stored a row, so each evidence is acted on once.
// - A delivery's attempt count is read and updated in one transaction (`readDelivery`, then
//   `recordDeliveryAttempt`), so the retry bound holds when two rounds overlap.
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';

export interface EvidenceRow {
  evidence_hash: string;
  issuer_sovereign_id: string;
  origin: string;
  problem: 'root_mismatch' | 'inconsistent';
  first_size: number;
  first_root: string;
  first_note: string;
  second_size: number;
  second_root: string;
  second_note: string;
  /** JSON array of "sha256:<hex>". */
  proof: string;
  implied_root: string | null;
  source: 'pull' | 'witness' | 'peer';
  source_detail: string | null;
  detected_at: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'refused' | 'abandoned';

export interface DeliveryRow {
  evidence_hash: string;
  peer_sovereign_id: string;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  last_error: string | null;
  answer: string | null;
}

interface Statements {
  insertEvidence: Statement<unknown[]>;
  evidence: Statement<unknown[]>;
  evidenceList: Statement<unknown[]>;
  evidenceByIssuer: Statement<unknown[]>;
  insertDelivery: Statement<unknown[]>;
  delivery: Statement<unknown[]>;
  deliveriesOf: Statement<unknown[]>;
  pendingDeliveries: Statement<unknown[]>;
  updateDelivery: Statement<unknown[]>;
}

const statements = perConnection(
  (sqlite): Statements => ({
    insertEvidence: sqlite.prepare(
      `INSERT OR IGNORE INTO split_view_evidence (evidence_hash, issuer_sovereign_id, origin, problem, first_size, first_root, first_note,
       second_size, second_root, second_note, proof, implied_root, source, source_detail, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    evidence: sqlite.prepare('SELECT * FROM split_view_evidence WHERE evidence_hash = ?'),
    evidenceList: sqlite.prepare('SELECT * FROM split_view_evidence ORDER BY detected_at DESC, evidence_hash LIMIT ?'),
    evidenceByIssuer: sqlite.prepare(
      'SELECT * FROM split_view_evidence WHERE issuer_sovereign_id = ? ORDER BY detected_at DESC, evidence_hash LIMIT ?',
    ),
    insertDelivery: sqlite.prepare(
      `INSERT OR IGNORE INTO split_view_deliveries (evidence_hash, peer_sovereign_id, url, status, attempts, next_attempt_at)
       VALUES (?, ?, ?, 'pending', 0, ?)`,
    ),
    delivery: sqlite.prepare('SELECT * FROM split_view_deliveries WHERE evidence_hash = ? AND peer_sovereign_id = ?'),
    deliveriesOf: sqlite.prepare('SELECT * FROM split_view_deliveries WHERE evidence_hash = ? ORDER BY peer_sovereign_id'),
    pendingDeliveries: sqlite.prepare(
      "SELECT * FROM split_view_deliveries WHERE status = 'pending' ORDER BY next_attempt_at, evidence_hash, peer_sovereign_id LIMIT ?",
    ),
    updateDelivery: sqlite.prepare(
      `UPDATE split_view_deliveries SET status = ?, attempts = ?, last_attempt_at = ?, next_attempt_at = ?, last_error = ?, answer = ?
       WHERE evidence_hash = ? AND peer_sovereign_id = ?`,
    ),
  }),
);

/** Stores evidence; false when the same evidence (its hash) was already stored. */
export function insertEvidence(sqlite: Sqlite, r: EvidenceRow): boolean {
  return (
    statements(sqlite).insertEvidence.run(
      r.evidence_hash,
      r.issuer_sovereign_id,
      r.origin,
      r.problem,
      r.first_size,
      r.first_root,
      r.first_note,
      r.second_size,
      r.second_root,
      r.second_note,
      r.proof,
      r.implied_root,
      r.source,
      r.source_detail,
      r.detected_at,
    ).changes === 1
  );
}

export function readEvidence(sqlite: Sqlite, hash: string): EvidenceRow | undefined {
  return statements(sqlite).evidence.get(hash) as EvidenceRow | undefined;
}

/** The newest evidence first, of one issuer or of all. */
export function readEvidenceList(sqlite: Sqlite, options: { issuer?: string | undefined; limit: number }): EvidenceRow[] {
  const s = statements(sqlite);
  return (
    options.issuer === undefined ? s.evidenceList.all(options.limit) : s.evidenceByIssuer.all(options.issuer, options.limit)
  ) as EvidenceRow[];
}

/** Schedules the delivery of evidence to a peer (once per evidence and peer). */
export function insertDelivery(sqlite: Sqlite, row: { evidence_hash: string; peer_sovereign_id: string; url: string; at: string }): void {
  statements(sqlite).insertDelivery.run(row.evidence_hash, row.peer_sovereign_id, row.url, row.at);
}

export function readDelivery(sqlite: Sqlite, hash: string, peer: string): DeliveryRow | undefined {
  return statements(sqlite).delivery.get(hash, peer) as DeliveryRow | undefined;
}

export function readDeliveries(sqlite: Sqlite, hash: string): DeliveryRow[] {
  return statements(sqlite).deliveriesOf.all(hash) as DeliveryRow[];
}

/** Deliveries not yet done or given up, soonest due first. */
export function readPendingDeliveries(sqlite: Sqlite, limit: number): DeliveryRow[] {
  return statements(sqlite).pendingDeliveries.all(limit) as DeliveryRow[];
}

export function recordDeliveryAttempt(
  sqlite: Sqlite,
  row: Pick<
    DeliveryRow,
    'evidence_hash' | 'peer_sovereign_id' | 'status' | 'attempts' | 'last_attempt_at' | 'next_attempt_at' | 'last_error' | 'answer'
  >,
): void {
  statements(sqlite).updateDelivery.run(
    row.status,
    row.attempts,
    row.last_attempt_at,
    row.next_attempt_at,
    row.last_error,
    row.answer,
    row.evidence_hash,
    row.peer_sovereign_id,
  );
}
