// Tables of the feeds domain: the revocation log, published and imported feeds, peers, receipts.
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const revocationLog = sqliteTable(
  'revocation_log',
  {
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
    // The index answers GET /log/entries/{id} (inclusion proof by revoked id) without scanning the log.
  },
  (t) => [index('revocation_log_id').on(t.subjectId, t.idx)],
);

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
  /** "sha256:" + hex SHA-256 of the last imported feed without `signatures`: what a version 2 feed chains to. */
  lastSignedHash: text('last_signed_hash'),
  lastIssuedAt: text('last_issued_at'),
  nextUpdate: text('next_update'),
  logSize: integer('log_size').notNull().default(0),
  /** JSON array of hex subtree roots of the issuer's log (its Merkle frontier). */
  frontier: text('frontier').notNull().default('[]'),
  lastImportAt: text('last_import_at'),
  paused: integer('paused', { mode: 'boolean' }).notNull().default(false),
  pausedReason: text('paused_reason'),
  pausedAt: text('paused_at'),
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
  // log_index ends the lookup index so "earliest revocation of (issuer, kind, id)" is one index seek; without
  // it the planner prefers the primary key for the ORDER BY and scans every revocation of the issuer.
  (t) => [
    primaryKey({ columns: [t.issuerSovereignId, t.logIndex] }),
    index('imported_revocations_lookup').on(t.issuerSovereignId, t.kind, t.subjectId, t.logIndex),
  ],
);

/**
 * Feeds this authority published, each stored as the exact signed bytes it serves. A restore carries
 * these rows forward, so the next sequence (MAX(sequence) + 1) is never reused.
 */
export const publishedFeeds = sqliteTable('published_feeds', {
  sequence: integer('sequence').primaryKey(),
  feedId: text('feed_id').notNull().unique(),
  /** "sha256:" + hex SHA-256 of `body`. */
  feedHash: text('feed_hash').notNull().unique(),
  /** "sha256:" + hex SHA-256 of the signed part (`body` without `signatures`); null on older rows, derivable from `body`. */
  signedHash: text('signed_hash'),
  issuedAt: text('issued_at').notNull(),
  nextUpdate: text('next_update').notNull(),
  firstIndex: integer('first_index').notNull(),
  entryCount: integer('entry_count').notNull(),
  logSize: integer('log_size').notNull(),
  rootHash: text('root_hash').notNull(),
  /** The signed feed as JCS text: the exact bytes served. */
  body: text('body').notNull(),
  /** JSON array of the log's Merkle frontier at `log_size` (null on rows carried in from elsewhere; recomputable). */
  frontier: text('frontier'),
});

/** Feeds imported from other sovereigns, byte-exact, for idempotent re-import, equivocation evidence and rollback. */
export const importedFeeds = sqliteTable(
  'imported_feeds',
  {
    issuerSovereignId: text('issuer_sovereign_id').notNull(),
    sequence: integer('sequence').notNull(),
    feedHash: text('feed_hash').notNull(),
    /** "sha256:" + hex SHA-256 of the signed part (`body` without `signatures`); null on older rows, derivable from `body`. */
    signedHash: text('signed_hash'),
    /** The feed as JCS text (signatures included). */
    body: text('body').notNull(),
    importedAt: text('imported_at').notNull(),
    issuedAt: text('issued_at'),
    nextUpdate: text('next_update'),
    logSize: integer('log_size'),
    /** JSON array: the issuer's Merkle frontier after this feed (what a rollback resets to). */
    frontier: text('frontier'),
  },
  (t) => [primaryKey({ columns: [t.issuerSovereignId, t.sequence] })],
);

/** Evidence of equivocation: a validly signed feed that conflicts with one already imported at the same sequence. */
export const feedEquivocations = sqliteTable(
  'feed_equivocations',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    issuerSovereignId: text('issuer_sovereign_id').notNull(),
    sequence: integer('sequence').notNull(),
    knownFeedHash: text('known_feed_hash'),
    conflictingFeedHash: text('conflicting_feed_hash').notNull(),
    /** The conflicting signed feed as JCS text. */
    conflictingBody: text('conflicting_body').notNull(),
    detectedAt: text('detected_at').notNull(),
  },
  (t) => [index('feed_equivocations_issuer').on(t.issuerSovereignId, t.sequence)],
);

/** Sovereigns whose feeds this authority pulls, with the health of the last pulls. */
export const peers = sqliteTable('peers', {
  sovereignId: text('sovereign_id').primaryKey(),
  baseUrl: text('base_url').notNull(),
  /** Wire profile chosen when registering the peer ('accord/1' | 'genesis-mesh'); null: the recognizing treaty's profile. */
  profile: text('profile'),
  createdAt: text('created_at').notNull(),
  lastAttemptAt: text('last_attempt_at'),
  lastSuccessAt: text('last_success_at'),
  lastError: text('last_error'),
  consecutiveFailures: integer('consecutive_failures').notNull().default(0),
  /** Backoff: no scheduled pull before this time. */
  nextAttemptAt: text('next_attempt_at'),
  /** Highest sequence a receipt was delivered for. */
  receiptSequence: integer('receipt_sequence').notNull().default(0),
  treatiesSyncedAt: text('treaties_synced_at'),
  /** Static mirrors of the peer's public files (JSON array of base URLs), tried in order when the peer itself cannot be reached. */
  mirrorUrls: text('mirror_urls').notNull().default('[]'),
});

/** A mirror of each recognized peer's published treaties (verified with that peer's keys), for the connectome. */
export const peerTreaties = sqliteTable(
  'peer_treaties',
  {
    peerSovereignId: text('peer_sovereign_id').notNull(),
    treatyId: text('treaty_id').notNull(),
    subjectSovereignId: text('subject_sovereign_id').notNull(),
    validFrom: text('valid_from').notNull(),
    expiresAt: text('expires_at').notNull(),
    /** The signed treaty as JCS text. */
    body: text('body').notNull(),
    fetchedAt: text('fetched_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.peerSovereignId, t.treatyId] }), index('peer_treaties_subject').on(t.subjectSovereignId)],
);

/** The latest signed receipt from each importer of this authority's feed. */
export const feedReceipts = sqliteTable('feed_receipts', {
  importerSovereignId: text('importer_sovereign_id').primaryKey(),
  sequence: integer('sequence').notNull(),
  feedHash: text('feed_hash').notNull(),
  receivedAt: text('received_at').notNull(),
  recordedAt: text('recorded_at').notNull(),
  /** The signed receipt as JCS text. */
  body: text('body').notNull(),
});

/**
 * Declarations observed from peers (`/.well-known/network-authority`, or `/sovereign.json` for the
 * genesis-mesh profile): the first one and each one whose keys differ from the one before, byte-exact,
 * as evidence of what the peer stated and when.
 */
export const peerDeclarations = sqliteTable(
  'peer_declarations',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    peerSovereignId: text('peer_sovereign_id').notNull(),
    profile: text('profile').notNull(),
    url: text('url').notNull(),
    /** The response body exactly as received. */
    body: text('body').notNull(),
    /** "sha256:" + hex SHA-256 of `body`. */
    bodyHash: text('body_hash').notNull(),
    /** JSON array of the declared keys: {key_id, public_key, not_after?}. */
    keys: text('keys').notNull(),
    /** JSON array of key_ids whose signature on the declaration verifies ([] for an unsigned document). */
    signedBy: text('signed_by').notNull(),
    observedAt: text('observed_at').notNull(),
    /** The last poll that saw the same keys. */
    lastSeenAt: text('last_seen_at').notNull(),
  },
  (t) => [index('peer_declarations_peer').on(t.peerSovereignId, t.id)],
);

/** Keys that appeared in or disappeared from a peer's declaration, with how each change was explained. */
export const peerKeyChanges = sqliteTable(
  'peer_key_changes',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    peerSovereignId: text('peer_sovereign_id').notNull(),
    /** 'unannounced' (a key change no treaty or announced rotation explains) | 'announced' (a rotation the peer announced). */
    kind: text('kind').notNull(),
    /** The declaration compared with (null: the first one seen, compared with the pin). */
    previousDeclarationId: integer('previous_declaration_id'),
    declarationId: integer('declaration_id').notNull(),
    /** JSON arrays of {key_id, public_key, explanation}. */
    appeared: text('appeared').notNull(),
    disappeared: text('disappeared').notNull(),
    /** JSON array of the key_ids this authority pinned for the peer at detection. */
    pinnedKeyIds: text('pinned_key_ids').notNull(),
    detectedAt: text('detected_at').notNull(),
  },
  (t) => [index('peer_key_changes_peer').on(t.peerSovereignId, t.id)],
);

/** Per peer: the declaration watch, the open key mismatch, containment, and the last verified test pull. */
export const peerWatch = sqliteTable('peer_watch', {
  peerSovereignId: text('peer_sovereign_id').primaryKey(),
  declarationCheckedAt: text('declaration_checked_at'),
  /** Why the last declaration poll failed (`reason: message`); null after a successful poll. */
  declarationError: text('declaration_error'),
  /** JSON array of key_ids of unannounced changes not resolved yet (by a repin or by the peer reverting). */
  unresolvedKeys: text('unresolved_keys').notNull().default('[]'),
  containedAt: text('contained_at'),
  containedReason: text('contained_reason'),
  /** key_id of the operator key that contained the peer. */
  containedBy: text('contained_by'),
  repinnedAt: text('repinned_at'),
  /** Set by containment and repin; cleared by a verified test pull. While set, the peer is not resumed. */
  verificationRequired: integer('verification_required', { mode: 'boolean' }).notNull().default(false),
  verifiedPullAt: text('verified_pull_at'),
});
