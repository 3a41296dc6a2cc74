// Tables of split-view gossip: evidence that a log showed two histories, and its delivery to peers.
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Evidence that an issuer's log showed two histories: two checkpoints of one origin, both validly
 * signed by the issuer, that no single log can have signed (another root at the same size, or a
 * consistency proof that leads to the larger one's root from another root of the smaller one). Kept
 * once per distinct evidence (its hash), never deleted, carried forward by a restore.
 */
export const splitViewEvidence = sqliteTable(
  'split_view_evidence',
  {
    /** "sha256:" + hex of the evidence's canonical JSON form (the one served and forwarded). */
    evidenceHash: text('evidence_hash').primaryKey(),
    issuerSovereignId: text('issuer_sovereign_id').notNull(),
    origin: text('origin').notNull(),
    /** 'root_mismatch' (same size, other root) | 'inconsistent' (the proof leads to the larger root from another smaller root). */
    problem: text('problem').notNull(),
    /** The first checkpoint: the smaller one (of two of one size, the one whose note sorts first). */
    firstSize: integer('first_size').notNull(),
    firstRoot: text('first_root').notNull(),
    firstNote: text('first_note').notNull(),
    secondSize: integer('second_size').notNull(),
    secondRoot: text('second_root').notNull(),
    secondNote: text('second_note').notNull(),
    /** JSON array of "sha256:<hex>": the consistency proof in the second checkpoint's tree (empty for one size). */
    proof: text('proof').notNull(),
    /** For 'inconsistent': the root of the first size that the proof shows inside the second tree. */
    impliedRoot: text('implied_root'),
    /** Where it was detected: 'pull' | 'witness' | 'peer'. */
    source: text('source').notNull(),
    /** The peer URL (pull) or request id (witness, peer) it came with. */
    sourceDetail: text('source_detail'),
    detectedAt: text('detected_at').notNull(),
  },
  (t) => [index('split_view_evidence_issuer').on(t.issuerSovereignId, t.detectedAt)],
);

/** Forwarding of each evidence to each peer: bounded retries, then given up. */
export const splitViewDeliveries = sqliteTable(
  'split_view_deliveries',
  {
    evidenceHash: text('evidence_hash').notNull(),
    peerSovereignId: text('peer_sovereign_id').notNull(),
    /** `<peer base URL>/log/evidence`, as it was when the evidence was detected. */
    url: text('url').notNull(),
    /** 'pending' | 'delivered' | 'refused' (the peer answered 4xx) | 'abandoned' (retries used up). */
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastAttemptAt: text('last_attempt_at'),
    nextAttemptAt: text('next_attempt_at'),
    lastError: text('last_error'),
    /** The peer's answer on delivery: 'recorded' | 'already_known'. */
    answer: text('answer'),
  },
  (t) => [
    primaryKey({ columns: [t.evidenceHash, t.peerSovereignId] }),
    index('split_view_deliveries_status').on(t.status, t.nextAttemptAt),
  ],
);
