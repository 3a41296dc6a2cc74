// Tables of the treaties domain: signed treaties and attestations as issued, and their revocations.
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const treaties = sqliteTable(
  'treaties',
  {
    treatyId: text('treaty_id').primaryKey(),
    issuerSovereignId: text('issuer_sovereign_id').notNull(),
    subjectSovereignId: text('subject_sovereign_id').notNull(),
    issuedAt: text('issued_at').notNull(),
    validFrom: text('valid_from').notNull(),
    expiresAt: text('expires_at').notNull(),
    issuedBy: text('issued_by').notNull(),
    /** key_id of the operator key that authorized the issuance (for revoke-by-operator). */
    authorizedBy: text('authorized_by'),
    /** Wire profile of the subject sovereign: a local setting, never part of the signed object. */
    subjectProfile: text('subject_profile').notNull().default('accord/1'),
    /** The signed treaty exactly as issued (JCS text). */
    body: text('body').notNull(),
  },
  (t) => [
    index('treaties_subject').on(t.subjectSovereignId, t.expiresAt),
    index('treaties_issuer').on(t.issuerSovereignId),
    index('treaties_issued_order').on(t.issuedAt, t.treatyId),
    index('treaties_authorized_by').on(t.authorizedBy, t.issuedAt),
  ],
);

export const treatyRevocations = sqliteTable('treaty_revocations', {
  treatyId: text('treaty_id')
    .primaryKey()
    .references(() => treaties.treatyId),
  reason: text('reason').notNull(),
  revokedAt: text('revoked_at').notNull(),
  incident: text('incident'),
  replacedBy: text('replaced_by'),
  revokedByKeyId: text('revoked_by_key_id'),
  logIndex: integer('log_index').notNull(),
});

export const attestations = sqliteTable(
  'attestations',
  {
    attestationId: text('attestation_id').primaryKey(),
    issuerSovereignId: text('issuer_sovereign_id').notNull(),
    subjectId: text('subject_id').notNull(),
    issuedAt: text('issued_at').notNull(),
    validFrom: text('valid_from').notNull(),
    expiresAt: text('expires_at').notNull(),
    issuedBy: text('issued_by').notNull(),
    authorizedBy: text('authorized_by'),
    body: text('body').notNull(),
  },
  (t) => [index('attestations_subject').on(t.subjectId), index('attestations_authorized_by').on(t.authorizedBy, t.issuedAt)],
);

export const attestationRevocations = sqliteTable('attestation_revocations', {
  attestationId: text('attestation_id')
    .primaryKey()
    .references(() => attestations.attestationId),
  reason: text('reason').notNull(),
  revokedAt: text('revoked_at').notNull(),
  incident: text('incident'),
  revokedByKeyId: text('revoked_by_key_id'),
  logIndex: integer('log_index').notNull(),
});
