// Tables of the feeds domain: this authority's revocation log (RFC 6962 Merkle tree) and its state.
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const revocationLog = sqliteTable('revocation_log', {
  /** 0-based index in the log; also the Merkle leaf position. */
  idx: integer('idx').primaryKey(),
  kind: text('kind').notNull(),
  subjectId: text('id').notNull(),
  reason: text('reason').notNull(),
  revokedAt: text('revoked_at').notNull(),
  /** The entry exactly as published (JCS text). */
  entry: text('entry').notNull(),
  /** Hex SHA-256(0x00 ‖ entry). */
  leafHash: text('leaf_hash').notNull(),
});

/** One row (id = 1): the Merkle frontier after the last entry, so appending costs O(log n). */
export const revocationLogState = sqliteTable('revocation_log_state', {
  id: integer('id').primaryKey(),
  size: integer('size').notNull(),
  /** JSON array of hex subtree roots, largest first (the compact range of [0, size)). */
  frontier: text('frontier').notNull(),
  rootHash: text('root_hash').notNull(),
});

/** Import state of each sovereign whose feed this authority imports. */
export const feedIssuers = sqliteTable('feed_issuers', {
  issuerSovereignId: text('issuer_sovereign_id').primaryKey(),
  lastSequence: integer('last_sequence').notNull().default(0),
  lastFeedHash: text('last_feed_hash'),
  lastIssuedAt: text('last_issued_at'),
  nextUpdate: text('next_update'),
  logSize: integer('log_size').notNull().default(0),
  /** JSON array of hex subtree roots of the issuer's log (its Merkle frontier). */
  frontier: text('frontier').notNull().default('[]'),
  lastImportAt: text('last_import_at'),
  paused: integer('paused', { mode: 'boolean' }).notNull().default(false),
  pausedReason: text('paused_reason'),
});

/** Revocations learned from other sovereigns' feeds; (issuer, kind, id) answers "is this revoked?". */
export const importedRevocations = sqliteTable(
  'imported_revocations',
  {
    issuerSovereignId: text('issuer_sovereign_id').notNull(),
    logIndex: integer('log_index').notNull(),
    kind: text('kind').notNull(),
    subjectId: text('id').notNull(),
    reason: text('reason').notNull(),
    revokedAt: text('revoked_at').notNull(),
    subjectSovereignId: text('subject_sovereign_id'),
    invalidSince: text('invalid_since'),
    incident: text('incident'),
    feedSequence: integer('feed_sequence').notNull(),
  },
  (t) => [primaryKey({ columns: [t.issuerSovereignId, t.logIndex] }), index('imported_revocations_lookup').on(t.issuerSovereignId, t.kind, t.subjectId)],
);
