// All SQL of importers' quorum policies: which witnesses must have cosigned an issuer's checkpoint, and whether its feeds are held back.
//
// What a second backend must guarantee to implement this store:
// - One writer at a time (serving lock, BEGIN IMMEDIATE). Every write runs inside the caller's
//   transaction, with the audit event that records it.
// - The held-back state is a serializable read-then-write: a pull reads `readQuorumPolicy` and sets
//   `awaiting_since` only when it is null (`markQuorumAwaited`), and an import clears it
//   (`clearQuorumAwaited`) in the transaction that imports the feed, so the state is entered and
//   left exactly once each, with one audit event each.
// - Replacing a policy keeps its held-back state (`upsertQuorumPolicy` does not touch it).
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';

export interface QuorumPolicyRow {
  issuer_sovereign_id: string;
  quorum: number;
  /** JSON array of {"name", "vkey"}. */
  witnesses: string;
  updated_at: string;
  awaiting_since: string | null;
  awaiting_sequence: number | null;
}

interface Statements {
  policy: Statement<unknown[]>;
  policies: Statement<unknown[]>;
  upsert: Statement<unknown[]>;
  remove: Statement<unknown[]>;
  markAwaited: Statement<unknown[]>;
  clearAwaited: Statement<unknown[]>;
}

const statements = perConnection(
  (sqlite): Statements => ({
    policy: sqlite.prepare('SELECT * FROM witness_quorum_policies WHERE issuer_sovereign_id = ?'),
    policies: sqlite.prepare('SELECT * FROM witness_quorum_policies ORDER BY issuer_sovereign_id'),
    upsert: sqlite.prepare(
      `INSERT INTO witness_quorum_policies (issuer_sovereign_id, quorum, witnesses, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (issuer_sovereign_id) DO UPDATE SET quorum = excluded.quorum, witnesses = excluded.witnesses, updated_at = excluded.updated_at`,
    ),
    remove: sqlite.prepare('DELETE FROM witness_quorum_policies WHERE issuer_sovereign_id = ?'),
    markAwaited: sqlite.prepare(
      'UPDATE witness_quorum_policies SET awaiting_since = ?, awaiting_sequence = ? WHERE issuer_sovereign_id = ? AND awaiting_since IS NULL',
    ),
    clearAwaited: sqlite.prepare(
      'UPDATE witness_quorum_policies SET awaiting_since = NULL, awaiting_sequence = NULL WHERE issuer_sovereign_id = ? AND awaiting_since IS NOT NULL',
    ),
  }),
);

export function readQuorumPolicy(sqlite: Sqlite, issuer: string): QuorumPolicyRow | undefined {
  return statements(sqlite).policy.get(issuer) as QuorumPolicyRow | undefined;
}

export function readQuorumPolicies(sqlite: Sqlite): QuorumPolicyRow[] {
  return statements(sqlite).policies.all() as QuorumPolicyRow[];
}

/** Creates or replaces an issuer's policy (its held-back state stays). */
export function upsertQuorumPolicy(sqlite: Sqlite, row: { issuer: string; quorum: number; witnesses: string; at: string }): void {
  statements(sqlite).upsert.run(row.issuer, row.quorum, row.witnesses, row.at);
}

/** Removes an issuer's policy; false when it had none. */
export function deleteQuorumPolicy(sqlite: Sqlite, issuer: string): boolean {
  return statements(sqlite).remove.run(issuer).changes === 1;
}

/** Marks the issuer's feeds as held back since `at`; false when they already were (or there is no policy). */
export function markQuorumAwaited(sqlite: Sqlite, issuer: string, at: string, sequence: number): boolean {
  return statements(sqlite).markAwaited.run(at, sequence, issuer).changes === 1;
}

/** Ends the held-back state; false when the issuer's feeds were not held back. */
export function clearQuorumAwaited(sqlite: Sqlite, issuer: string): boolean {
  return statements(sqlite).clearAwaited.run(issuer).changes === 1;
}
