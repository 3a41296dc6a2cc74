// Tables of the authority domain: identity metadata, signing keys, the audit log, admin nonces.
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const authorityMeta = sqliteTable('authority_meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

export const authoritySigningKeys = sqliteTable('authority_signing_keys', {
  keyId: text('key_id').primaryKey(),
  publicKey: text('public_key').notNull(),
  createdAt: text('created_at').notNull(),
  notAfter: text('not_after'),
  retiredAt: text('retired_at'),
});

export const auditEvents = sqliteTable(
  'audit_events',
  {
    seq: integer('seq').primaryKey(),
    eventId: text('event_id').notNull().unique(),
    eventType: text('event_type').notNull(),
    occurredAt: text('occurred_at').notNull(),
    actorType: text('actor_type').notNull(),
    actorKeyId: text('actor_key_id'),
    requestId: text('request_id'),
    /** The whole event, hash included, as JCS text: exports and the admin API return exactly this. */
    canonical: text('canonical').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('audit_events_type_seq').on(t.eventType, t.seq),
    index('audit_events_occurred_at').on(t.occurredAt),
    index('audit_events_actor_key').on(t.actorKeyId, t.seq),
  ],
);

export const adminNonces = sqliteTable(
  'admin_nonces',
  {
    keyId: text('key_id').notNull(),
    nonce: text('nonce').notNull(),
    seenAt: text('seen_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.nonce] }), index('admin_nonces_seen_at').on(t.seenAt)],
);
