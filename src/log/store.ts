// This authority's revocation log and its store: entries appended in the transaction of the revocation
// they record, the log's Merkle head, and all of the log's SQL.
/*
 * What a second backend must guarantee to implement this store:
 *
 * - One writer, and every append inside the caller's write transaction (with the revocation it
 *   records and its audit event). Only `rebuildLogState` (recovery at start) opens its own.
 * - Serializable read-then-write of the head: `appendRevocations` reads the size and frontier, writes
 *   the entries at the next indexes and the new head in the same transaction. A backend without a
 *   single writer must lock the head row (SELECT … FOR UPDATE) or run SERIALIZABLE.
 * - Entries are immutable once written: publishing signs their Merkle root, and tiles are built from them.
 */
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';
import { canonicalJson } from '../authority/canonical-json.ts';
import { appendLeaves, emptyFrontier, frontierRoot, leafHash, type Frontier } from './merkle.ts';

export const REVOCATION_KINDS = ['membership_attestation', 'recognition_treaty', 'public_key'] as const;
export type RevocationKind = (typeof REVOCATION_KINDS)[number];

export const REVOCATION_REASONS = [
  'unspecified',
  'key_compromise',
  'affiliation_changed',
  'superseded',
  'cessation_of_operation',
  'privilege_withdrawn',
  'policy_violation',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** A revocation-log entry as published in feeds (SPEC §5). Optional fields are omitted, never null. */
export interface RevocationEntry {
  index: number;
  kind: RevocationKind;
  id: string;
  reason: RevocationReason;
  revoked_at: string;
  subject_sovereign_id?: string;
  invalid_since?: string;
  incident?: string;
}

export type NewRevocationEntry = Omit<RevocationEntry, 'index'>;

export interface LogHead {
  size: number;
  rootHash: string;
  frontier: Frontier;
}

interface LogStatements {
  entry: Statement<unknown[]>;
  head: Statement<unknown[]>;
  insert: Statement<unknown[]>;
  saveHead: Statement<unknown[]>;
  entriesFrom: Statement<unknown[]>;
  revokedAttestations: Statement<unknown[]>;
  summaries: Statement<unknown[]>;
  firstFor: Statement<unknown[]>;
}

const prepared = perConnection(
  (sqlite): LogStatements => ({
    entry: sqlite.prepare('SELECT entry FROM revocation_log WHERE idx = ?'),
    head: sqlite.prepare('SELECT size, frontier, root_hash FROM revocation_log_state WHERE id = 1'),
    insert: sqlite.prepare('INSERT INTO revocation_log (idx, kind, id, reason, revoked_at, entry, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    saveHead: sqlite.prepare(
      `INSERT INTO revocation_log_state (id, size, frontier, root_hash) VALUES (1, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier, root_hash = excluded.root_hash`,
    ),
    entriesFrom: sqlite.prepare('SELECT idx, entry, leaf_hash FROM revocation_log WHERE idx >= ? ORDER BY idx LIMIT ?').raw(true),
    revokedAttestations: sqlite.prepare(
      "SELECT id, reason FROM revocation_log WHERE kind = 'membership_attestation' AND idx < ? ORDER BY idx",
    ),
    firstFor: sqlite.prepare('SELECT entry FROM revocation_log WHERE id = ? AND kind = ? ORDER BY idx LIMIT 1').pluck(),
    summaries: sqlite
      .prepare(`SELECT idx, kind, id, reason, revoked_at, json_extract(entry, '$.subject_sovereign_id') FROM revocation_log ORDER BY idx`)
      .raw(true),
  }),
);

/** Up to `limit` stored entries from index `from` on, in order, as [index, canonical entry text, leaf hash]. */
export function readLogEntryTexts(sqlite: Sqlite, from: number, limit: number): Array<[index: number, text: string, leafHash: string]> {
  return prepared(sqlite).entriesFrom.all(from, limit) as Array<[number, string, string]>;
}

/** The membership attestations revoked in the first `size` entries (in log order, with repeats). */
export function readRevokedAttestations(sqlite: Sqlite, size: number): Array<{ id: string; reason: string }> {
  return prepared(sqlite).revokedAttestations.all(size) as Array<{ id: string; reason: string }>;
}

/** Every entry's index, kind, id, reason, revoked_at and subject (null when absent), in log order. */
export function readLogSummaries(
  sqlite: Sqlite,
): Array<[index: number, kind: RevocationKind, id: string, reason: string, revokedAt: string, subject: string | null]> {
  return prepared(sqlite).summaries.all() as Array<[number, RevocationKind, string, string, string, string | null]>;
}

export function readLogHead(sqlite: Sqlite): LogHead {
  const row = prepared(sqlite).head.get() as { size: number; frontier: string; root_hash: string } | undefined;
  if (!row) {
    const frontier = emptyFrontier();
    return { size: 0, rootHash: `sha256:${frontierRoot(frontier)}`, frontier };
  }
  return { size: row.size, rootHash: row.root_hash, frontier: { size: row.size, hashes: JSON.parse(row.frontier) as string[] } };
}

/**
 * Appends entries to the log and advances the stored Merkle frontier. Must run inside the caller's
 * transaction so the revocation and its log entry commit together.
 */
export function appendRevocations(sqlite: Sqlite, entries: NewRevocationEntry[]): RevocationEntry[] {
  if (!sqlite.inTransaction) throw new Error('appendRevocations must run inside a transaction');
  const s = prepared(sqlite);
  const head = readLogHead(sqlite);
  const written: RevocationEntry[] = [];
  const leaves: string[] = [];
  entries.forEach((input, i) => {
    const entry: RevocationEntry = { index: head.size + i, ...input };
    const text = canonicalJson(entry);
    const leaf = leafHash(text);
    s.insert.run(entry.index, entry.kind, entry.id, entry.reason, entry.revoked_at, text, leaf);
    leaves.push(leaf);
    written.push(entry);
  });
  const frontier = appendLeaves(head.frontier, leaves);
  s.saveHead.run(frontier.size, JSON.stringify(frontier.hashes), `sha256:${frontierRoot(frontier)}`);
  return written;
}

/**
 * Appends entries given as their exact published texts (a follower copying its primary's log), each
 * at the index it states, which must continue the log. In the caller's transaction. Returns the new head.
 */
export function appendLogEntryTexts(sqlite: Sqlite, texts: readonly string[]): LogHead {
  if (!sqlite.inTransaction) throw new Error('appendLogEntryTexts must run inside a transaction');
  const s = prepared(sqlite);
  const head = readLogHead(sqlite);
  const leaves: string[] = [];
  texts.forEach((text, i) => {
    const entry = JSON.parse(text) as RevocationEntry;
    if (entry.index !== head.size + i) throw new Error(`log entry ${entry.index} does not continue the log at ${head.size + i}`);
    const leaf = leafHash(text);
    s.insert.run(entry.index, entry.kind, entry.id, entry.reason, entry.revoked_at, text, leaf);
    leaves.push(leaf);
  });
  const frontier = appendLeaves(head.frontier, leaves);
  const rootHash = `sha256:${frontierRoot(frontier)}`;
  s.saveHead.run(frontier.size, JSON.stringify(frontier.hashes), rootHash);
  return { size: frontier.size, rootHash, frontier };
}

/** The earliest entry revoking `id` as `kind`, or undefined (indexed by id). */
export function firstLogEntryFor(sqlite: Sqlite, kind: RevocationKind, id: string): RevocationEntry | undefined {
  const text = prepared(sqlite).firstFor.get(id, kind) as string | undefined;
  return text === undefined ? undefined : (JSON.parse(text) as RevocationEntry);
}

/** One entry as published (its stored JCS text, parsed), e.g. to show a revocation's `invalid_since`. */
export function revocationEntryAt(sqlite: Sqlite, index: number): RevocationEntry | undefined {
  const row = prepared(sqlite).entry.get(index) as { entry: string } | undefined;
  return row ? (JSON.parse(row.entry) as RevocationEntry) : undefined;
}

export function appendRevocation(sqlite: Sqlite, entry: NewRevocationEntry): RevocationEntry {
  return appendRevocations(sqlite, [entry])[0]!;
}

/** The frontier of the first `size` leaves, recomputed from stored leaf hashes (O(size); for repair paths). */
export function frontierAt(sqlite: Sqlite, size: number): Frontier {
  const rows = sqlite.prepare('SELECT idx, leaf_hash FROM revocation_log WHERE idx < ? ORDER BY idx').iterate(size) as IterableIterator<{
    idx: number;
    leaf_hash: string;
  }>;
  let expected = 0;
  const leaves = (function* () {
    for (const row of rows) {
      if (row.idx !== expected) throw new Error(`revocation log is missing entry ${expected}`);
      expected++;
      yield row.leaf_hash;
    }
  })();
  const frontier = appendLeaves(emptyFrontier(), leaves);
  if (frontier.size !== size) throw new Error(`revocation log has ${frontier.size} entries, expected at least ${size}`);
  return frontier;
}

/**
 * Recomputes the stored log head from the entries themselves (after a restore carried entries
 * forward). Checks every stored leaf hash against its entry text. Runs in its own transaction
 * unless the caller already holds one.
 */
export function rebuildLogState(sqlite: Sqlite): LogHead {
  const run = () => {
    const count = (sqlite.prepare('SELECT count(*) AS n FROM revocation_log').get() as { n: number }).n;
    for (const row of sqlite.prepare('SELECT idx, entry, leaf_hash FROM revocation_log ORDER BY idx').iterate() as IterableIterator<{
      idx: number;
      entry: string;
      leaf_hash: string;
    }>) {
      if (leafHash(row.entry) !== row.leaf_hash) throw new Error(`revocation log entry ${row.idx} does not match its leaf hash`);
    }
    const frontier = frontierAt(sqlite, count);
    const rootHash = `sha256:${frontierRoot(frontier)}`;
    prepared(sqlite).saveHead.run(frontier.size, JSON.stringify(frontier.hashes), rootHash);
    return { size: frontier.size, rootHash, frontier };
  };
  return sqlite.inTransaction ? run() : sqlite.transaction(run).immediate();
}
