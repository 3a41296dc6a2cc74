// Tables of following: the updates a primary publishes for its followers, and a follower's own state.
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Every follower update this authority signed, as the exact bytes served. Never updated except to drop
 * the watermark of an update that is no longer the latest.
 */
export const followerUpdates = sqliteTable('follower_updates', {
  sequence: integer('sequence').primaryKey(),
  /** "sha256:" + hex SHA-256 of `body`; the next update chains to it. */
  updateHash: text('update_hash').notNull(),
  issuedAt: text('issued_at').notNull(),
  nextUpdate: text('next_update').notNull(),
  /** The signed update as JCS text. */
  body: text('body').notNull(),
  /** JSON: how far this update brought followers (treaty row, feed sequence, each issuer's import); kept on the latest row only. */
  watermark: text('watermark'),
});

/** One row (id = 1) on a follower: whom it follows, the keys it pinned, and the last update it applied. */
export const followerState = sqliteTable('follower_state', {
  id: integer('id').primaryKey(),
  primaryUrl: text('primary_url').notNull(),
  sovereignId: text('sovereign_id').notNull(),
  /** JSON array of the primary's public keys (standard base64) that updates must be signed by. */
  pinnedKeys: text('pinned_keys').notNull(),
  /** 'command_line' (--key) or 'first_use' (the declaration the primary served at the first start). */
  pinnedBy: text('pinned_by').notNull(),
  pinnedAt: text('pinned_at').notNull(),
  appliedSequence: integer('applied_sequence').notNull().default(0),
  appliedHash: text('applied_hash'),
  appliedIssuedAt: text('applied_issued_at'),
  nextUpdate: text('next_update'),
  /** The primary's signed declaration exactly as it serves it. */
  declaration: text('declaration'),
  appliedAt: text('applied_at'),
});
