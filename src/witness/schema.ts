// Tables of witnessing: the logs this authority witnesses (and what it cosigned), and the witnesses of its own log.
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * The logs this authority witnesses: one per recognized sovereign the operator enabled, identified by
 * its origin line. Configuration, like peers: a restore takes the backup's rows.
 */
export const witnessLogs = sqliteTable('witness_logs', {
  sovereignId: text('sovereign_id').primaryKey(),
  origin: text('origin').notNull().unique(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull(),
  enabledAt: text('enabled_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});

/**
 * The latest checkpoint this authority cosigned for each log origin: the size and root every later
 * cosignature must be consistent with. Never moves backwards, not even across a restore (carried
 * forward when the replaced database has a larger size).
 */
export const witnessCheckpoints = sqliteTable('witness_checkpoints', {
  origin: text('origin').primaryKey(),
  sovereignId: text('sovereign_id').notNull(),
  size: integer('size').notNull(),
  /** "sha256:" + hex. */
  rootHash: text('root_hash').notNull(),
  /** The cosigned checkpoint: its text, the log signatures that verified, and this authority's cosignature lines. */
  note: text('note').notNull(),
  /** The cosignature timestamp (POSIX seconds). */
  timestamp: integer('timestamp').notNull(),
  cosignedAt: text('cosigned_at').notNull(),
});

/**
 * Evidence of a log showing two histories: a validly signed checkpoint with another root at the
 * cosigned size, or one a consistency proof failed to connect to the cosigned checkpoint. Kept once
 * per distinct evidence (its hash), never deleted, carried forward by a restore.
 */
export const witnessConflicts = sqliteTable(
  'witness_conflicts',
  {
    /** "sha256:" + hex of the cosigned note, the submitted note and the proof: one row per distinct conflict. */
    evidenceHash: text('evidence_hash').primaryKey(),
    origin: text('origin').notNull(),
    sovereignId: text('sovereign_id').notNull(),
    /** 'root_mismatch' (same size, other root) | 'inconsistent' (the proof does not connect the two). */
    problem: text('problem').notNull(),
    cosignedSize: integer('cosigned_size').notNull(),
    cosignedRoot: text('cosigned_root').notNull(),
    cosignedNote: text('cosigned_note').notNull(),
    oldSize: integer('old_size').notNull(),
    submittedSize: integer('submitted_size').notNull(),
    submittedRoot: text('submitted_root').notNull(),
    submittedNote: text('submitted_note').notNull(),
    /** JSON array of the proof hashes as sent (base64). */
    proof: text('proof').notNull(),
    detectedAt: text('detected_at').notNull(),
  },
  (t) => [index('witness_conflicts_origin').on(t.origin, t.detectedAt)],
);

/** Each configured witness of this authority's log: the size it last cosigned or reported, and submission health. */
export const logWitnesses = sqliteTable('log_witnesses', {
  /** The witness's key name, as configured. */
  name: text('name').primaryKey(),
  /** The size the witness last cosigned for this log (learned from its answers); null until known. */
  knownSize: integer('known_size'),
  lastAttemptAt: text('last_attempt_at'),
  lastSuccessAt: text('last_success_at'),
  lastReason: text('last_reason'),
  lastError: text('last_error'),
  consecutiveFailures: integer('consecutive_failures').notNull().default(0),
  nextAttemptAt: text('next_attempt_at'),
});

/** Cosignatures this authority's checkpoints received, verified under the configured witness key, as the exact lines served. */
export const logCosignatures = sqliteTable(
  'log_cosignatures',
  {
    /** The checkpoint's (feed) sequence. */
    sequence: integer('sequence').notNull(),
    witness: text('witness').notNull(),
    /** The cosigner key id (8 hex digits). */
    keyId: text('key_id').notNull(),
    timestamp: integer('timestamp').notNull(),
    /** The signature line, without its newline. */
    line: text('line').notNull(),
    receivedAt: text('received_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sequence, t.witness, t.keyId] })],
);

/**
 * An importer's quorum policy, per issuer: a feed of the issuer is imported only when its log head is
 * in a checkpoint of the issuer cosigned by `quorum` of these witnesses. Also whether the pull job is
 * holding the issuer's next feed back for want of that quorum. Configuration, like peers: a restore
 * takes the backup's rows.
 */
export const witnessQuorumPolicies = sqliteTable('witness_quorum_policies', {
  issuerSovereignId: text('issuer_sovereign_id').primaryKey(),
  /** How many of the listed witnesses must have cosigned (1 to the number listed). */
  quorum: integer('quorum').notNull(),
  /** JSON array of {"name", "vkey"}: the witnesses' cosignature/v1 verifier keys, as the operator gave them. */
  witnesses: text('witnesses').notNull(),
  updatedAt: text('updated_at').notNull(),
  /** When the pull job first held back a feed of the issuer for want of the quorum; null while it is not. */
  awaitingSince: text('awaiting_since'),
  /** The sequence of the feed first held back. */
  awaitingSequence: integer('awaiting_sequence'),
});
