// Tables of the transparency domain: checkpoints and tiles of this authority's log, and what importing others' logs proved.
import { blob, index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Every checkpoint this authority signed, one per published feed (same sequence), as the exact note
 * bytes served. Never updated or deleted: witnesses and auditors need the history.
 */
export const logCheckpoints = sqliteTable('log_checkpoints', {
  /** The sequence of the published feed whose tree head this checkpoint signs. */
  sequence: integer('sequence').primaryKey(),
  treeSize: integer('tree_size').notNull(),
  /** "sha256:" + hex, the feed's `log.root_hash`. */
  rootHash: text('root_hash').notNull(),
  /** The audit chain head the checkpoint commits to (extension line); null only for an empty audit log. */
  auditSeq: integer('audit_seq'),
  auditHash: text('audit_hash'),
  /** The signed note (C2SP signed-note) exactly as served. */
  note: text('note').notNull(),
  signedAt: text('signed_at').notNull(),
});

/**
 * Full tiles (C2SP tlog-tiles, height 8) of the published part of the log. Level 0 holds leaf
 * hashes; level L holds the roots of full tiles of level L-1. Partial tiles are assembled on request
 * from the rows below them, so only immutable data is stored.
 */
export const logTiles = sqliteTable(
  'log_tiles',
  {
    level: integer('level').notNull(),
    idx: integer('idx').notNull(),
    /** The tile's Merkle root (32 bytes); first so reading it alone never touches the large columns. */
    root: blob('root', { mode: 'buffer' }).notNull(),
    /** The 256 hashes (8,192 bytes) exactly as served. */
    hashes: blob('hashes', { mode: 'buffer' }).notNull(),
    /** The 255 interior hashes above them, level by level (128, 64, …, 1; the last is `root`), so proofs never rehash a tile. */
    interior: blob('interior', { mode: 'buffer' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.level, t.idx] })],
);

/**
 * Full entry bundles (C2SP tlog-tiles `tile/entries/N`) of the published part of the log, written
 * with the level-0 tile of the same index, so serving one is one row read instead of 256 entries
 * framed again. Partial bundles are assembled on request from the log entries.
 */
export const logEntryBundles = sqliteTable('log_entry_bundles', {
  /** The bundle index N: entries [256·N, 256·N + 256). */
  idx: integer('idx').primaryKey(),
  /** Each entry's JCS bytes behind a big-endian uint16 length, exactly as served. */
  bundle: blob('bundle', { mode: 'buffer' }).notNull(),
});

/** Issuers whose feeds this authority imports only with a consistency proof (set by the first proof or checkpoint that verifies), with the last checkpoint seen. */
export const issuerLogProofs = sqliteTable('issuer_log_proofs', {
  issuerSovereignId: text('issuer_sovereign_id').primaryKey(),
  requiredSince: text('required_since').notNull(),
  /** The last tree size a proof was verified to, and when. */
  lastVerifiedSize: integer('last_verified_size').notNull(),
  lastVerifiedAt: text('last_verified_at').notNull(),
  /** The issuer's latest checkpoint this authority verified (note text) and its size: a later one may not be smaller. */
  lastCheckpoint: text('last_checkpoint'),
  lastCheckpointSize: integer('last_checkpoint_size'),
});

/** Evidence of an issuer whose consistency proof did not show its new tree head extends the last imported one. */
export const logConsistencyFailures = sqliteTable(
  'log_consistency_failures',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    issuerSovereignId: text('issuer_sovereign_id').notNull(),
    sequence: integer('sequence').notNull(),
    fromSize: integer('from_size').notNull(),
    fromRoot: text('from_root').notNull(),
    toSize: integer('to_size').notNull(),
    toRoot: text('to_root').notNull(),
    /** JSON array of the proof as received; null when none came. */
    proof: text('proof'),
    /** The issuer's checkpoint note, for failures of its checkpoint. */
    checkpoint: text('checkpoint'),
    /** 'invalid' | 'missing' (a feed's proof); 'checkpoint_signature' | 'checkpoint_rollback' | 'checkpoint_inconsistent' (the issuer's checkpoint). */
    problem: text('problem').notNull(),
    detectedAt: text('detected_at').notNull(),
  },
  (t) => [index('log_consistency_failures_issuer').on(t.issuerSovereignId, t.sequence)],
);
