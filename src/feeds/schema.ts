// Tables of the feeds domain: this authority's revocation log (RFC 6962 Merkle tree) and its state.
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

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
