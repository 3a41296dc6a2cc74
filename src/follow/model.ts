// The follower update: a signed, sequence-numbered, hash-chained document by which a primary hands its followers what verification reads.
import { z } from 'zod';
import { identifier } from '../authority/identifiers.ts';
import { hashRefSchema, signatureSchema, timestamp } from '../feeds/model.ts';
import { REVOCATION_KINDS, REVOCATION_REASONS } from '../log/store.ts';
import { SUBJECT_PROFILES } from '../treaties/model.ts';
import { WIRE_PROFILES } from '../interop/gm-model.ts';

export const FOLLOWER_UPDATE_TYPE = 'follower_update';
export const FOLLOWER_UPDATE_VERSION = 1;

/** Where updates are served, under the primary's base URL (and in a static mirror's directory). */
export const FOLLOWER_UPDATES_PATH = '/follower/updates';

/** At most this many treaties, imported revocations and own log entries (each) ride in one update; a larger backlog becomes several. */
export const MAX_UPDATE_TREATIES = 2_000;
export const MAX_UPDATE_IMPORTED = 10_000;
export const MAX_UPDATE_LOG_ENTRIES = 10_000;
/** A follower refuses an update larger than this (the limits above keep real ones far below it). */
export const MAX_UPDATE_BYTES = 48 * 1024 * 1024;

const safeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const nullableText = (max: number) => z.string().max(max).nullable();

/** An issuer's import state as the primary holds it (see feeds/imported-store.ts `IssuerCopy`). */
export const issuerStateSchema = z.strictObject({
  last_sequence: safeInt,
  last_feed_hash: hashRefSchema.nullable(),
  last_signed_hash: hashRefSchema.nullable(),
  last_issued_at: timestamp.nullable(),
  next_update: timestamp.nullable(),
  log_size: safeInt,
  last_import_at: timestamp.nullable(),
  paused: z.boolean(),
  paused_reason: nullableText(512),
  paused_at: timestamp.nullable(),
});

export const importedRevocationSchema = z.strictObject({
  log_index: safeInt,
  kind: z.enum(REVOCATION_KINDS),
  id: z.string().min(1).max(256),
  reason: z.enum(REVOCATION_REASONS),
  revoked_at: timestamp,
  feed_sequence: safeInt,
  subject_sovereign_id: nullableText(256),
  invalid_since: timestamp.nullable(),
  incident: nullableText(256),
});

export const followerUpdateSchema = z.strictObject({
  type: z.literal(FOLLOWER_UPDATE_TYPE),
  version: z.literal(FOLLOWER_UPDATE_VERSION),
  sovereign_id: identifier,
  sequence: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  /** SHA-256 of the previous update's exact bytes (signatures included); null for sequence 1. */
  previous_update_hash: hashRefSchema.nullable(),
  issued_at: timestamp,
  /** The primary publishes again before this, even with nothing new: past it, a follower's copy is stale. */
  next_update: timestamp,
  /** The primary's signed declaration exactly as it serves it (JSON text), when it changed. */
  declaration: z
    .string()
    .max(64 * 1024)
    .nullable(),
  /** Treaties the primary issued since the previous update, each as its exact signed text. */
  treaties: z
    .array(z.strictObject({ treaty: z.string().max(256 * 1024), subject_profile: z.enum(SUBJECT_PROFILES) }))
    .max(MAX_UPDATE_TREATIES),
  /** The primary's revocation feeds published since, each as its exact signed text: they carry its own revocations. */
  feeds: z.array(z.string().max(16 * 1024 * 1024)).max(MAX_UPDATE_LOG_ENTRIES),
  /** The signed checkpoint (C2SP signed note) of each of those feeds. */
  checkpoints: z
    .array(
      z.strictObject({
        sequence: safeInt,
        note: z.string().max(64 * 1024),
        signed_at: timestamp,
        audit_seq: safeInt.nullable(),
        audit_hash: hashRefSchema.nullable(),
      }),
    )
    .max(MAX_UPDATE_LOG_ENTRIES),
  /** Superseded treaties among those feeds' treaty revocations, with their replacement. */
  replacements: z
    .array(z.strictObject({ treaty_id: z.string().min(1).max(128), replaced_by: z.string().min(1).max(128) }))
    .max(MAX_UPDATE_LOG_ENTRIES),
  /**
   * Each issuer whose imported feed state changed: its state (null: the primary no longer has one), whether
   * the follower drops what it holds of the issuer first (`reset`), and the revocations to add.
   */
  issuers: z
    .array(
      z.strictObject({
        issuer_sovereign_id: identifier,
        reset: z.boolean(),
        state: issuerStateSchema.nullable(),
        revocations: z.array(importedRevocationSchema).max(MAX_UPDATE_IMPORTED),
      }),
    )
    .max(100_000),
  /** Every peer's id and chosen wire profile, when they changed (null: unchanged). */
  peers: z
    .array(z.strictObject({ sovereign_id: identifier, profile: z.enum(WIRE_PROFILES).nullable() }))
    .max(100_000)
    .nullable(),
  issued_by: hashRefSchema,
  signatures: z.array(signatureSchema).min(1).max(16),
});

export type FollowerUpdate = z.infer<typeof followerUpdateSchema>;
export type UnsignedFollowerUpdate = Omit<FollowerUpdate, 'signatures'>;
export type IssuerDelta = FollowerUpdate['issuers'][number];
