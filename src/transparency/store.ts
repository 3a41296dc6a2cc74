// All SQL of the transparency domain: tiles, entry bundles, checkpoints, cosignature lines, and the reads it makes of the revocation log, feeds and issuer log proofs.
//
// What a second backend must guarantee to implement this store:
// - One writer at a time (serving lock, BEGIN IMMEDIATE). Tiles and a checkpoint are written inside
//   the caller's transaction, the one that publishes the feed: `insertTile`, `insertCheckpoint` and
//   the log origin (`insertMetaValue`) must not commit on their own.
// - The log index is read then extended serializably: the checkpoint of a feed reads the log
//   entries, the full tile count and the audit head (`readAuditHead`, from the audit store) in the
//   transaction that writes the checkpoint, so it commits to exactly the log and audit chain that
//   transaction sees.
// - Full tiles and full entry bundles are immutable once written; (level, idx), a bundle's idx and a
//   checkpoint's sequence are unique. Bundles are written in the same transaction as the tiles.
// - `readDataVersion` changes whenever another connection commits (SQLite's PRAGMA data_version);
//   another backend needs an equivalent change counter, or the latest checkpoint is not cached.
// - Reads outside a transaction need one consistent snapshot each and take no lock.
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';
import { readAuditHead } from '../authority/audit-store.ts';
import { insertAuthorityMeta, readAuthorityMeta } from '../authority/identity-store.ts';

export { readAuditHead };

export interface CheckpointRow {
  sequence: number;
  tree_size: number;
  root_hash: string;
  audit_seq: number | null;
  audit_hash: string | null;
  note: string;
  signed_at: string;
}

export interface TileRow {
  hashes: Buffer;
  interior: Buffer;
}

interface Statements {
  fullTileCount: Statement<unknown[]>;
  insertTile: Statement<unknown[]>;
  tile: Statement<unknown[]>;
  tileHashes: Statement<unknown[]>;
  tilePath: Statement<unknown[]>;
  tileRoots: Statement<unknown[]>;
  leafHashes: Statement<unknown[]>;
  entryTexts: Statement<unknown[]>;
  leafTileSource: Statement<unknown[]>;
  fullBundleCount: Statement<unknown[]>;
  insertBundle: Statement<unknown[]>;
  bundle: Statement<unknown[]>;
  entriesById: Statement<unknown[]>;
  insertCheckpoint: Statement<unknown[]>;
  latestCheckpoint: Statement<unknown[]>;
  dataVersion: Statement<unknown[]>;
  checkpoint: Statement<unknown[]>;
  checkpointsSince: Statement<unknown[]>;
  uncheckpointedFeeds: Statement<unknown[]>;
  latestPublishedSize: Statement<unknown[]>;
  importedHead: Statement<unknown[]>;
  proofsRequired: Statement<unknown[]>;
  proofVerified: Statement<unknown[]>;
  checkpointVerified: Statement<unknown[]>;
  insertFailure: Statement<unknown[]>;
  cosignatureLines: Statement<unknown[]>;
}

const statements = perConnection(
  (sqlite): Statements => ({
    fullTileCount: sqlite.prepare('SELECT COALESCE(MAX(idx) + 1, 0) FROM log_tiles WHERE level = ?').pluck(),
    insertTile: sqlite.prepare('INSERT INTO log_tiles (level, idx, root, hashes, interior) VALUES (?, ?, ?, ?, ?)'),
    tile: sqlite.prepare('SELECT hashes, interior FROM log_tiles WHERE level = ? AND idx = ?'),
    tileHashes: sqlite.prepare('SELECT hashes FROM log_tiles WHERE level = ? AND idx = ?').pluck(),
    // Nine hashes of a tile as hex, cut out by SQLite: no 16 KB row crosses into JavaScript.
    tilePath: sqlite
      .prepare(
        `SELECT lower(hex(substr(hashes, ?, 64))), ${Array.from({ length: 7 }, () => 'lower(hex(substr(interior, ?, 32)))').join(', ')}
         FROM log_tiles WHERE level = ? AND idx = ?`,
      )
      .raw(true),
    tileRoots: sqlite.prepare('SELECT root FROM log_tiles WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx').pluck(),
    leafHashes: sqlite.prepare('SELECT leaf_hash FROM revocation_log WHERE idx >= ? AND idx < ? ORDER BY idx').pluck(),
    // Text, not CAST(entry AS BLOB): a string per row costs a third of a Buffer per row.
    entryTexts: sqlite.prepare('SELECT entry FROM revocation_log WHERE idx >= ? AND idx < ? ORDER BY idx').pluck(),
    // One row for a whole level-0 tile: two blobs instead of 512 values. JCS text never holds a raw
    // newline, so newlines separate the entries' UTF-8 bytes. The rows reach both aggregates one by
    // one in index order (the ordered subquery is not flattened into the aggregate), so entry i and
    // leaf hash i are of the same row; the tree built from these leaves is checked against its signed
    // root (recordCheckpoint, catchUpLog), so a different order could not go unnoticed.
    leafTileSource: sqlite
      .prepare(
        `SELECT count(*), CAST(string_agg(entry, char(10)) AS BLOB), unhex(string_agg(leaf_hash, ''))
         FROM (SELECT entry, leaf_hash FROM revocation_log WHERE idx >= ? AND idx < ? ORDER BY idx)`,
      )
      .raw(true),
    fullBundleCount: sqlite.prepare('SELECT COALESCE(MAX(idx) + 1, 0) FROM log_entry_bundles').pluck(),
    insertBundle: sqlite.prepare('INSERT INTO log_entry_bundles (idx, bundle) VALUES (?, ?)'),
    bundle: sqlite.prepare('SELECT bundle FROM log_entry_bundles WHERE idx = ?').pluck(),
    entriesById: sqlite.prepare('SELECT idx, entry, leaf_hash FROM revocation_log WHERE id = ? AND idx < ? ORDER BY idx LIMIT ?'),
    insertCheckpoint: sqlite.prepare(
      'INSERT INTO log_checkpoints (sequence, tree_size, root_hash, audit_seq, audit_hash, note, signed_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    latestCheckpoint: sqlite.prepare('SELECT * FROM log_checkpoints ORDER BY sequence DESC LIMIT 1'),
    dataVersion: sqlite.prepare('PRAGMA data_version').pluck(),
    checkpoint: sqlite.prepare('SELECT * FROM log_checkpoints WHERE sequence = ?'),
    checkpointsSince: sqlite.prepare('SELECT * FROM log_checkpoints WHERE sequence > ? ORDER BY sequence LIMIT ?'),
    // Feeds published before their checkpoint was recorded (a database from before checkpoints existed).
    uncheckpointedFeeds: sqlite.prepare(
      'SELECT p.sequence, p.log_size, p.root_hash FROM published_feeds p WHERE NOT EXISTS (SELECT 1 FROM log_checkpoints c WHERE c.sequence = p.sequence) ORDER BY p.sequence',
    ),
    latestPublishedSize: sqlite.prepare('SELECT log_size FROM published_feeds ORDER BY sequence DESC LIMIT 1').pluck(),
    // The importer's record of an issuer's log (kept by the feed import): its size and frontier.
    importedHead: sqlite.prepare('SELECT last_sequence, log_size, frontier FROM feed_issuers WHERE issuer_sovereign_id = ?'),
    proofsRequired: sqlite.prepare('SELECT last_checkpoint_size FROM issuer_log_proofs WHERE issuer_sovereign_id = ?'),
    proofVerified: sqlite.prepare(
      `INSERT INTO issuer_log_proofs (issuer_sovereign_id, required_since, last_verified_size, last_verified_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (issuer_sovereign_id) DO UPDATE SET last_verified_size = excluded.last_verified_size, last_verified_at = excluded.last_verified_at`,
    ),
    checkpointVerified: sqlite.prepare(
      `INSERT INTO issuer_log_proofs (issuer_sovereign_id, required_since, last_verified_size, last_verified_at, last_checkpoint, last_checkpoint_size) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (issuer_sovereign_id) DO UPDATE SET last_verified_size = excluded.last_verified_size, last_verified_at = excluded.last_verified_at,
       last_checkpoint = excluded.last_checkpoint, last_checkpoint_size = excluded.last_checkpoint_size`,
    ),
    insertFailure: sqlite.prepare(
      `INSERT INTO log_consistency_failures (issuer_sovereign_id, sequence, from_size, from_root, to_size, to_root, proof, checkpoint, problem, detected_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Written by the witness submission (witness/store.ts); read here to serve the cosigned checkpoint.
    cosignatureLines: sqlite.prepare('SELECT line FROM log_cosignatures WHERE sequence = ? ORDER BY witness, key_id').pluck(),
  }),
);

const readTransactions = perConnection((sqlite) => sqlite.transaction((read: () => unknown) => read()));

/**
 * Runs `read` in one read transaction: its statements see one snapshot, and the snapshot (in WAL
 * mode, a read lock and a look at the log's index) is taken once rather than once per statement.
 */
export function inReadTransaction<T>(sqlite: Sqlite, read: () => T): T {
  return sqlite.inTransaction ? read() : (readTransactions(sqlite)(read) as T);
}

/** Number of full tiles stored at a level (they are built in order, so also the next index to build). */
export function fullTileCount(sqlite: Sqlite, level: number): number {
  return statements(sqlite).fullTileCount.get(level) as number;
}

export function insertTile(sqlite: Sqlite, level: number, idx: number, root: Buffer, hashes: Buffer, interior: Buffer): void {
  statements(sqlite).insertTile.run(level, idx, root, hashes, interior);
}

export function readTile(sqlite: Sqlite, level: number, idx: number): TileRow | undefined {
  return statements(sqlite).tile.get(level, idx) as TileRow | undefined;
}

/** The served bytes of a full tile, without its interior hashes. */
export function readTileHashes(sqlite: Sqlite, level: number, idx: number): Buffer | undefined {
  return statements(sqlite).tileHashes.get(level, idx) as Buffer | undefined;
}

/**
 * Hex hashes of full tile (level, idx) at the given byte offsets: 64 bytes of its hashes (a position
 * and its neighbour), then 32 bytes of its interior at each of seven offsets.
 */
export function readTilePath(
  sqlite: Sqlite,
  level: number,
  idx: number,
  pairAt: number,
  interiorAt: readonly number[],
): string[] | undefined {
  return statements(sqlite).tilePath.get(pairAt + 1, ...interiorAt.map((at) => at + 1), level, idx) as string[] | undefined;
}

/** Roots of the full tiles [from, to) of a level, in order (fewer when some are not built). */
export function readTileRoots(sqlite: Sqlite, level: number, from: number, to: number): Buffer[] {
  return statements(sqlite).tileRoots.all(level, from, to) as Buffer[];
}

/** Hex leaf hashes of log entries [from, to), in index order (fewer when entries are missing). */
export function readLeafHashes(sqlite: Sqlite, from: number, to: number): string[] {
  return statements(sqlite).leafHashes.all(from, to) as string[];
}

/** JCS texts of log entries [from, to), in index order (fewer when entries are missing). */
export function readEntryTexts(sqlite: Sqlite, from: number, to: number): string[] {
  return statements(sqlite).entryTexts.all(from, to) as string[];
}

/** Log entries [from, to) at once: how many there are, their JCS texts (UTF-8) joined by newlines, and their leaf hashes as bytes, in index order. */
export function readLeafTileSource(sqlite: Sqlite, from: number, to: number): { count: number; entries: Buffer; leafHashes: Buffer } {
  const [count, entries, leafHashes] = statements(sqlite).leafTileSource.get(from, to) as [number, Buffer | null, Buffer | null];
  return { count, entries: entries ?? Buffer.alloc(0), leafHashes: leafHashes ?? Buffer.alloc(0) };
}

/** Number of full entry bundles stored (they are built in order, so also the next index to build). */
export function fullBundleCount(sqlite: Sqlite): number {
  return statements(sqlite).fullBundleCount.get() as number;
}

export function insertBundle(sqlite: Sqlite, idx: number, bundle: Buffer): void {
  statements(sqlite).insertBundle.run(idx, bundle);
}

/** The stored bytes of the full entry bundle `idx`. */
export function readBundle(sqlite: Sqlite, idx: number): Buffer | undefined {
  return statements(sqlite).bundle.get(idx) as Buffer | undefined;
}

export interface LogEntryRow {
  idx: number;
  entry: string;
  leaf_hash: string;
}

/** Log entries revoking `id` below index `size`, oldest first. */
export function readEntriesById(sqlite: Sqlite, id: string, size: number, limit: number): LogEntryRow[] {
  return statements(sqlite).entriesById.all(id, size, limit) as LogEntryRow[];
}

export function insertCheckpoint(sqlite: Sqlite, row: CheckpointRow): void {
  statements(sqlite).insertCheckpoint.run(
    row.sequence,
    row.tree_size,
    row.root_hash,
    row.audit_seq,
    row.audit_hash,
    row.note,
    row.signed_at,
  );
}

export function readLatestCheckpoint(sqlite: Sqlite): CheckpointRow | undefined {
  return statements(sqlite).latestCheckpoint.get() as CheckpointRow | undefined;
}

/** Changes when another connection commits to the database (this connection's own commits do not change it). */
export function readDataVersion(sqlite: Sqlite): number {
  return statements(sqlite).dataVersion.get() as number;
}

export function readCheckpoint(sqlite: Sqlite, sequence: number): CheckpointRow | undefined {
  return statements(sqlite).checkpoint.get(sequence) as CheckpointRow | undefined;
}

export function readCheckpointsSince(sqlite: Sqlite, since: number, limit: number): CheckpointRow[] {
  return statements(sqlite).checkpointsSince.all(since, limit) as CheckpointRow[];
}

export function readUncheckpointedFeeds(sqlite: Sqlite): Array<{ sequence: number; log_size: number; root_hash: string }> {
  return statements(sqlite).uncheckpointedFeeds.all() as Array<{ sequence: number; log_size: number; root_hash: string }>;
}

/** The log size of the newest published feed (0 before the first). */
export function readPublishedSize(sqlite: Sqlite): number {
  return (statements(sqlite).latestPublishedSize.get() as number | undefined) ?? 0;
}

/** A meta row of the authority (the log origin is one), kept by the identity store. */
export function readMetaValue(sqlite: Sqlite, key: string): string | undefined {
  return readAuthorityMeta(sqlite, key);
}

export function insertMetaValue(sqlite: Sqlite, key: string, value: string): void {
  insertAuthorityMeta(sqlite, key, value);
}

/** The last sequence, size and frontier (JSON) of an issuer's log as this authority imported it; size 0 before the first import. */
export function readImportedHead(sqlite: Sqlite, issuer: string): { last_sequence: number; log_size: number; frontier: string } {
  return (
    (statements(sqlite).importedHead.get(issuer) as { last_sequence: number; log_size: number; frontier: string } | undefined) ?? {
      last_sequence: 0,
      log_size: 0,
      frontier: '[]',
    }
  );
}

/** Whether the issuer has proved its log before (so proofs are required), and the size of its last verified checkpoint. */
export function readIssuerLogState(sqlite: Sqlite, issuer: string): { required: boolean; lastCheckpointSize: number | null } {
  const row = statements(sqlite).proofsRequired.get(issuer) as { last_checkpoint_size: number | null } | undefined;
  return { required: row !== undefined, lastCheckpointSize: row?.last_checkpoint_size ?? null };
}

export function issuerRequiresProofs(sqlite: Sqlite, issuer: string): boolean {
  return readIssuerLogState(sqlite, issuer).required;
}

export function recordCheckpointVerified(sqlite: Sqlite, issuer: string, size: number, note: string, at: string): void {
  statements(sqlite).checkpointVerified.run(issuer, at, size, at, note, size);
}

export function recordProofVerified(sqlite: Sqlite, issuer: string, size: number, at: string): void {
  statements(sqlite).proofVerified.run(issuer, at, size, at);
}

export interface ConsistencyFailureRow {
  issuer: string;
  sequence: number;
  fromSize: number;
  fromRoot: string;
  toSize: number;
  toRoot: string;
  proof: readonly string[] | null;
  checkpoint?: string | null;
  problem: 'invalid' | 'missing' | 'checkpoint_signature' | 'checkpoint_rollback' | 'checkpoint_inconsistent';
  at: string;
}

export function insertConsistencyFailure(sqlite: Sqlite, row: ConsistencyFailureRow): void {
  statements(sqlite).insertFailure.run(
    row.issuer,
    row.sequence,
    row.fromSize,
    row.fromRoot,
    row.toSize,
    row.toRoot,
    row.proof === null ? null : JSON.stringify(row.proof),
    row.checkpoint ?? null,
    row.problem,
    row.at,
  );
}

/** The witnesses' cosignature lines on a checkpoint, in a stable order (witness name, then key id). */
export function readCosignatureLines(sqlite: Sqlite, sequence: number): string[] {
  return statements(sqlite).cosignatureLines.all(sequence) as string[];
}

/** The issuer's latest checkpoint note this authority verified after a pull (null before the first). */
export function readIssuerLastCheckpoint(sqlite: Sqlite, issuer: string): string | null {
  return (
    (sqlite.prepare('SELECT last_checkpoint FROM issuer_log_proofs WHERE issuer_sovereign_id = ?').pluck().get(issuer) as
      | string
      | null
      | undefined) ?? null
  );
}
