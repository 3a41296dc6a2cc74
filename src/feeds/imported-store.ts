// All SQL of imported feeds: the feeds themselves, their revocations, each issuer's head and pause, equivocation evidence.
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';
import type { RevocationKind } from '../log/store.ts';

/*
 * What a second backend must guarantee to implement this store:
 *
 * - One writer. Every write below runs inside the caller's write transaction (`.immediate()`: BEGIN
 *   IMMEDIATE, and the serving lock keeps other processes out), together with the audit events that
 *   record it. Nothing here opens a transaction of its own.
 * - Serializable read-then-write of an issuer's head: an import reads `readIssuerHead` (sequence, chain
 *   hash, Merkle frontier, pause), checks the feed against it and then writes the next head with
 *   `recordImportedFeed` in the same transaction; a rollback reads and rewrites it likewise. A backend
 *   without a single writer must lock the issuer's row (SELECT … FOR UPDATE) or run SERIALIZABLE.
 * - The imported revocations of an issuer carry their log index; `maxImportedLogIndex` is read and the
 *   next indexes written in one transaction (snapshot feeds number their own additions).
 * - Reads outside a transaction see one committed state each; readers that need several tables at one
 *   instant (the connectome) wrap them in one read transaction.
 */

/** An issuer's import head: where its chain and its Merkle log stand, and whether it is paused. */
export interface IssuerHead {
  last_sequence: number;
  last_feed_hash: string | null;
  last_signed_hash: string | null;
  last_issued_at: string | null;
  log_size: number;
  /** JSON array of hex subtree roots. */
  frontier: string;
  paused: number;
}

/** An issuer's import state as listings show it. */
export interface IssuerFeedRow {
  issuer_sovereign_id: string;
  last_sequence: number;
  last_import_at: string | null;
  next_update: string | null;
  paused: number;
  paused_reason: string | null;
}

/** One stored imported feed. */
export interface StoredImportedFeed {
  feed_hash: string;
  signed_hash: string | null;
  body: string;
}

/** The chain state after one stored imported feed (what a rollback resets the head to). */
export interface ImportedFeedHead {
  feed_hash: string;
  signed_hash: string | null;
  issued_at: string | null;
  next_update: string | null;
  log_size: number | null;
  frontier: string | null;
}

/** One revocation as an issuer's feed states it. */
export interface ImportedEntry {
  index: number;
  kind: RevocationKind;
  id: string;
  reason: string;
  revoked_at: string;
  subject_sovereign_id?: string | undefined;
  invalid_since?: string | undefined;
  incident?: string | undefined;
}

/** Everything an accepted feed writes: its row, its revocations and the issuer's new head. */
export interface ImportedFeedRecord {
  issuer: string;
  sequence: number;
  feedHash: string;
  /** Hash of what the issuer signed; null for profiles whose chain does not link to it. */
  signedHash: string | null;
  body: string;
  importedAt: string;
  /** `issued_at` as the feed states it (the feed row). */
  issuedAt: string;
  /** `issued_at` the next feed is compared with (the issuer head). */
  headIssuedAt: string;
  nextUpdate: string | null;
  logSize: number;
  /** The issuer's Merkle frontier after this feed (JSON); null for profiles without one. */
  frontier: string | null;
  revocations: Iterable<ImportedEntry>;
}

export interface StoredImportedRevocation {
  issuer_sovereign_id: string;
  log_index: number;
  kind: RevocationKind;
  id: string;
  reason: string;
  revoked_at: string;
  feed_sequence: number;
  subject_sovereign_id: string | null;
  invalid_since: string | null;
  incident: string | null;
}

export interface EquivocationEvidence {
  issuer: string;
  sequence: number;
  knownFeedHash: string | null;
  conflictingFeedHash: string;
  conflictingBody: string;
  detectedAt: string;
}

export interface StoredEquivocation {
  id: number;
  issuer_sovereign_id: string;
  sequence: number;
  known_feed_hash: string | null;
  conflicting_feed_hash: string;
  conflicting_body: string;
  detected_at: string;
}

type Stmt = Statement<unknown[]>;

const FEED_ROW_COLUMNS = 'issuer_sovereign_id, last_sequence, last_import_at, next_update, paused, paused_reason';
const REVOCATION_COLUMNS =
  'issuer_sovereign_id, log_index, kind, id, reason, revoked_at, feed_sequence, subject_sovereign_id, invalid_since, incident';

function build(sqlite: Sqlite) {
  const prepare = (sql: string): Stmt => sqlite.prepare(sql);
  return {
    head: prepare(
      'SELECT last_sequence, last_feed_hash, last_signed_hash, last_issued_at, log_size, frontier, paused FROM feed_issuers WHERE issuer_sovereign_id = ?',
    ),
    feedRow: prepare(`SELECT ${FEED_ROW_COLUMNS} FROM feed_issuers WHERE issuer_sovereign_id = ?`),
    feedRows: prepare(`SELECT ${FEED_ROW_COLUMNS} FROM feed_issuers ORDER BY issuer_sovereign_id`),
    storedFeed: prepare('SELECT feed_hash, signed_hash, body FROM imported_feeds WHERE issuer_sovereign_id = ? AND sequence = ?'),
    feedHead: prepare(
      'SELECT feed_hash, signed_hash, issued_at, next_update, log_size, frontier FROM imported_feeds WHERE issuer_sovereign_id = ? AND sequence = ?',
    ),
    issuerFeeds: prepare(
      'SELECT sequence, feed_hash, imported_at, body FROM imported_feeds WHERE issuer_sovereign_id = ? ORDER BY sequence',
    ),
    issuerFeedCount: prepare('SELECT COUNT(*) FROM imported_feeds WHERE issuer_sovereign_id = ?').pluck(),
    feedsAbove: prepare('SELECT sequence, feed_hash FROM imported_feeds WHERE issuer_sovereign_id = ? AND sequence > ? ORDER BY sequence'),
    insertFeed: prepare(
      `INSERT INTO imported_feeds (issuer_sovereign_id, sequence, feed_hash, signed_hash, body, imported_at, issued_at, next_update, log_size, frontier)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // A profile without a signed-part hash, next_update or frontier (null) leaves the stored ones as they are.
    upsertHead: prepare(
      `INSERT INTO feed_issuers (issuer_sovereign_id, last_sequence, last_feed_hash, last_signed_hash, last_issued_at, next_update, log_size, frontier, last_import_at)
       VALUES (@issuer, @sequence, @feed_hash, @signed_hash, @issued_at, @next_update, @log_size, COALESCE(@frontier, '[]'), @imported_at)
       ON CONFLICT (issuer_sovereign_id) DO UPDATE SET last_sequence = excluded.last_sequence, last_feed_hash = excluded.last_feed_hash,
         last_signed_hash = COALESCE(excluded.last_signed_hash, feed_issuers.last_signed_hash), last_issued_at = excluded.last_issued_at,
         next_update = COALESCE(excluded.next_update, feed_issuers.next_update), log_size = excluded.log_size,
         frontier = COALESCE(@frontier, feed_issuers.frontier), last_import_at = excluded.last_import_at`,
    ),
    resetHead: prepare(
      `UPDATE feed_issuers SET last_sequence = ?, last_feed_hash = ?, last_signed_hash = ?, last_issued_at = ?, next_update = ?, log_size = ?, frontier = ?
       WHERE issuer_sovereign_id = ?`,
    ),
    pause: prepare(
      `INSERT INTO feed_issuers (issuer_sovereign_id, paused, paused_reason, paused_at) VALUES (?, 1, ?, ?)
       ON CONFLICT (issuer_sovereign_id) DO UPDATE SET paused = 1, paused_reason = excluded.paused_reason, paused_at = excluded.paused_at`,
    ),
    resume: prepare('UPDATE feed_issuers SET paused = 0, paused_reason = NULL, paused_at = NULL WHERE issuer_sovereign_id = ?'),
    insertRevocation: prepare(
      `INSERT INTO imported_revocations (issuer_sovereign_id, log_index, kind, id, reason, revoked_at, subject_sovereign_id, invalid_since, incident, feed_sequence)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteRevocationsAbove: prepare('DELETE FROM imported_revocations WHERE issuer_sovereign_id = ? AND feed_sequence > ?'),
    deleteFeedsAbove: prepare('DELETE FROM imported_feeds WHERE issuer_sovereign_id = ? AND sequence > ?'),
    revocation: prepare(
      `SELECT issuer_sovereign_id, kind, id, reason, revoked_at, feed_sequence, invalid_since FROM imported_revocations
       WHERE issuer_sovereign_id = ? AND kind = ? AND id = ? ORDER BY log_index LIMIT 1`,
    ),
    kindPresence: prepare('SELECT EXISTS (SELECT 1 FROM imported_revocations WHERE issuer_sovereign_id = ? AND kind = ?)').pluck(),
    revokedIds: prepare('SELECT DISTINCT id FROM imported_revocations WHERE issuer_sovereign_id = ? AND kind = ?').pluck(),
    maxIndex: prepare('SELECT COALESCE(MAX(log_index), -1) FROM imported_revocations WHERE issuer_sovereign_id = ?').pluck(),
    allRevocations: prepare(`SELECT ${REVOCATION_COLUMNS} FROM imported_revocations ORDER BY issuer_sovereign_id, log_index`),
    issuerRevocations: prepare(
      `SELECT ${REVOCATION_COLUMNS} FROM imported_revocations WHERE issuer_sovereign_id = ? ORDER BY issuer_sovereign_id, log_index`,
    ),
    issuerCopies: prepare(
      `SELECT issuer_sovereign_id, last_sequence, last_feed_hash, last_signed_hash, last_issued_at, next_update, log_size,
              last_import_at, paused, paused_reason, paused_at FROM feed_issuers ORDER BY issuer_sovereign_id`,
    ),
    revocationsAfter: prepare(
      `SELECT ${REVOCATION_COLUMNS} FROM imported_revocations WHERE issuer_sovereign_id = ? AND log_index > ? ORDER BY log_index LIMIT ?`,
    ),
    upsertIssuerCopy: prepare(
      `INSERT INTO feed_issuers (issuer_sovereign_id, last_sequence, last_feed_hash, last_signed_hash, last_issued_at, next_update, log_size,
         last_import_at, paused, paused_reason, paused_at)
       VALUES (@issuer_sovereign_id, @last_sequence, @last_feed_hash, @last_signed_hash, @last_issued_at, @next_update, @log_size,
         @last_import_at, @paused, @paused_reason, @paused_at)
       ON CONFLICT (issuer_sovereign_id) DO UPDATE SET last_sequence = excluded.last_sequence, last_feed_hash = excluded.last_feed_hash,
         last_signed_hash = excluded.last_signed_hash, last_issued_at = excluded.last_issued_at, next_update = excluded.next_update,
         log_size = excluded.log_size, last_import_at = excluded.last_import_at, paused = excluded.paused,
         paused_reason = excluded.paused_reason, paused_at = excluded.paused_at`,
    ),
    deleteIssuerRevocations: prepare('DELETE FROM imported_revocations WHERE issuer_sovereign_id = ?'),
    deleteIssuer: prepare('DELETE FROM feed_issuers WHERE issuer_sovereign_id = ?'),
    insertEquivocation: prepare(
      `INSERT INTO feed_equivocations (issuer_sovereign_id, sequence, known_feed_hash, conflicting_feed_hash, conflicting_body, detected_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    equivocations: prepare(
      'SELECT id, issuer_sovereign_id, sequence, known_feed_hash, conflicting_feed_hash, conflicting_body, detected_at FROM feed_equivocations ORDER BY id',
    ),
  };
}

const statements = perConnection(build);

// ---- Issuer heads.

/** The issuer's import head, or undefined when nothing was imported from it (nor paused). */
export function readIssuerHead(sqlite: Sqlite, issuer: string): IssuerHead | undefined {
  return statements(sqlite).head.get(issuer) as IssuerHead | undefined;
}

export function readIssuerFeedRow(sqlite: Sqlite, issuer: string): IssuerFeedRow | undefined {
  return statements(sqlite).feedRow.get(issuer) as IssuerFeedRow | undefined;
}

/** Every issuer's import state, ordered by issuer id. */
export function readIssuerFeedRows(sqlite: Sqlite): IssuerFeedRow[] {
  return statements(sqlite).feedRows.all() as IssuerFeedRow[];
}

/** Pauses imports from an issuer (creating its row if needed). In the caller's transaction. */
export function pauseIssuerRow(sqlite: Sqlite, issuer: string, reason: string, at: string): void {
  statements(sqlite).pause.run(issuer, reason, at);
}

/** Clears an issuer's pause. In the caller's transaction. */
export function resumeIssuerRow(sqlite: Sqlite, issuer: string): void {
  statements(sqlite).resume.run(issuer);
}

// ---- Imported feeds.

export function readImportedFeed(sqlite: Sqlite, issuer: string, sequence: number): StoredImportedFeed | undefined {
  return statements(sqlite).storedFeed.get(issuer, sequence) as StoredImportedFeed | undefined;
}

export function readImportedFeedHead(sqlite: Sqlite, issuer: string, sequence: number): ImportedFeedHead | undefined {
  return statements(sqlite).feedHead.get(issuer, sequence) as ImportedFeedHead | undefined;
}

/** Every feed imported from an issuer, oldest first, streamed (evidence bundles). */
export function iterateImportedFeeds(
  sqlite: Sqlite,
  issuer: string,
): IterableIterator<{ sequence: number; feed_hash: string; imported_at: string; body: string }> {
  return statements(sqlite).issuerFeeds.iterate(issuer) as IterableIterator<{
    sequence: number;
    feed_hash: string;
    imported_at: string;
    body: string;
  }>;
}

export function countImportedFeeds(sqlite: Sqlite, issuer: string): number {
  return statements(sqlite).issuerFeedCount.get(issuer) as number;
}

/**
 * Records an accepted feed: its row, its revocations and the issuer's new head. In the caller's
 * transaction, after it read the head it checked the feed against (see the header).
 */
export function recordImportedFeed(sqlite: Sqlite, r: ImportedFeedRecord): void {
  const s = statements(sqlite);
  s.insertFeed.run(
    r.issuer,
    r.sequence,
    r.feedHash,
    r.signedHash,
    r.body,
    r.importedAt,
    r.issuedAt,
    r.nextUpdate,
    r.logSize,
    r.frontier ?? '[]',
  );
  s.upsertHead.run({
    issuer: r.issuer,
    sequence: r.sequence,
    feed_hash: r.feedHash,
    signed_hash: r.signedHash,
    issued_at: r.headIssuedAt,
    next_update: r.nextUpdate,
    log_size: r.logSize,
    frontier: r.frontier,
    imported_at: r.importedAt,
  });
  const insert = s.insertRevocation;
  for (const e of r.revocations) {
    insert.run(
      r.issuer,
      e.index,
      e.kind,
      e.id,
      e.reason,
      e.revoked_at,
      e.subject_sovereign_id ?? null,
      e.invalid_since ?? null,
      e.incident ?? null,
      r.sequence,
    );
  }
}

/**
 * Drops an issuer's feeds and revocations above `toSequence` and resets its head to `target` (the
 * feed at `toSequence`, or nothing). In the caller's transaction. Returns what was removed.
 */
export function rollbackImportedFeeds(
  sqlite: Sqlite,
  issuer: string,
  toSequence: number,
  target: ImportedFeedHead | null,
): { feeds: Array<{ sequence: number; feed_hash: string }>; revocations: number } {
  const s = statements(sqlite);
  const feeds = s.feedsAbove.all(issuer, toSequence) as Array<{ sequence: number; feed_hash: string }>;
  const revocations = s.deleteRevocationsAbove.run(issuer, toSequence).changes;
  s.deleteFeedsAbove.run(issuer, toSequence);
  s.resetHead.run(
    toSequence,
    target?.feed_hash ?? null,
    target?.signed_hash ?? null,
    target?.issued_at ?? null,
    target?.next_update ?? null,
    target?.log_size ?? 0,
    target?.frontier ?? '[]',
    issuer,
  );
  return { feeds, revocations };
}

// ---- Imported revocations.

/** The earliest imported revocation of `id` by `issuer` (indexed lookup; hot path of verify). */
export function readImportedRevocation(
  sqlite: Sqlite,
  issuer: string,
  kind: RevocationKind,
  id: string,
):
  | {
      issuer_sovereign_id: string;
      kind: RevocationKind;
      id: string;
      reason: string;
      revoked_at: string;
      feed_sequence: number;
      invalid_since: string | null;
    }
  | undefined {
  return statements(sqlite).revocation.get(issuer, kind, id) as ReturnType<typeof readImportedRevocation>;
}

export function hasImportedRevocationOfKind(sqlite: Sqlite, issuer: string, kind: RevocationKind): boolean {
  return statements(sqlite).kindPresence.get(issuer, kind) === 1;
}

export function readImportedRevokedIds(sqlite: Sqlite, issuer: string, kind: RevocationKind): string[] {
  return statements(sqlite).revokedIds.all(issuer, kind) as string[];
}

/** The highest log index imported from an issuer, -1 when none. */
export function maxImportedLogIndex(sqlite: Sqlite, issuer: string): number {
  return statements(sqlite).maxIndex.get(issuer) as number;
}

/** Every imported revocation (or one issuer's), ordered by issuer and log index. */
export function readImportedRevocations(sqlite: Sqlite, issuer?: string): StoredImportedRevocation[] {
  const s = statements(sqlite);
  return (issuer === undefined ? s.allRevocations.all() : s.issuerRevocations.all(issuer)) as StoredImportedRevocation[];
}

// ---- Copies (a follower holds its primary's import state and imported revocations, not the feeds).

/** An issuer's import state as a follower copies it. */
export interface IssuerCopy {
  issuer_sovereign_id: string;
  last_sequence: number;
  last_feed_hash: string | null;
  last_signed_hash: string | null;
  last_issued_at: string | null;
  next_update: string | null;
  log_size: number;
  last_import_at: string | null;
  paused: number;
  paused_reason: string | null;
  paused_at: string | null;
}

/** Every issuer's import state, ordered by issuer id. */
export function readIssuerCopies(sqlite: Sqlite): IssuerCopy[] {
  return statements(sqlite).issuerCopies.all() as IssuerCopy[];
}

/** Up to `limit` of an issuer's imported revocations with a log index above `afterIndex`, in order. */
export function readImportedRevocationsAfter(
  sqlite: Sqlite,
  issuer: string,
  afterIndex: number,
  limit: number,
): StoredImportedRevocation[] {
  return statements(sqlite).revocationsAfter.all(issuer, afterIndex, limit) as StoredImportedRevocation[];
}

/** Writes a copy of an issuer's import state (the frontier stays empty: a follower never imports). In the caller's transaction. */
export function writeIssuerCopy(sqlite: Sqlite, state: IssuerCopy): void {
  statements(sqlite).upsertIssuerCopy.run(state);
}

/** Forgets an issuer's copied state and revocations (before a fresh copy, or when the primary forgot it). In the caller's transaction. */
export function deleteIssuerCopy(sqlite: Sqlite, issuer: string): void {
  const s = statements(sqlite);
  s.deleteIssuerRevocations.run(issuer);
  s.deleteIssuer.run(issuer);
}

/** Stores copied imported revocations. In the caller's transaction. */
export function insertImportedRevocationCopies(sqlite: Sqlite, rows: Iterable<StoredImportedRevocation>): void {
  const insert = statements(sqlite).insertRevocation;
  for (const r of rows)
    insert.run(
      r.issuer_sovereign_id,
      r.log_index,
      r.kind,
      r.id,
      r.reason,
      r.revoked_at,
      r.subject_sovereign_id,
      r.invalid_since,
      r.incident,
      r.feed_sequence,
    );
}

// ---- Equivocation evidence.

/** Stores the conflicting feed as evidence. In the caller's transaction (with the pause and its audit). */
export function insertEquivocationEvidence(sqlite: Sqlite, e: EquivocationEvidence): void {
  statements(sqlite).insertEquivocation.run(e.issuer, e.sequence, e.knownFeedHash, e.conflictingFeedHash, e.conflictingBody, e.detectedAt);
}

export function readEquivocations(sqlite: Sqlite): StoredEquivocation[] {
  return statements(sqlite).equivocations.all() as StoredEquivocation[];
}
