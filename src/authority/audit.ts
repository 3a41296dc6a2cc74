// The one audit writer: an append-only, hash-chained log written in the transaction of the change it records.
import { randomUUID } from 'node:crypto';
import type { Sqlite } from '../db/database.ts';
import { insertAuditEvent, iterateAuditRows, listAuditPage, readAuditHead } from './audit-store.ts';
import { canonicalJson } from './canonical-json.ts';
import { toTimestamp, type Clock } from './clock.ts';
import { hashRef } from './crypto.ts';
import { storeNonce } from './nonce-store.ts';
import type { RequestNonce } from './request-nonces.ts';

export type ActorType = 'operator' | 'system' | 'peer' | 'anonymous';

export interface Actor {
  type: ActorType;
  /** key_id (sha256:…) of the operator or peer key that acted. */
  key_id?: string;
  /** The operator key's configured label. */
  label?: string;
  /** Peer sovereign id, for peer actors. */
  sovereign_id?: string;
}

export const SYSTEM_ACTOR: Actor = { type: 'system' };

export interface AuditEvent {
  seq: number;
  event_id: string;
  event_type: string;
  occurred_at: string;
  actor: Actor;
  request_id?: string;
  details: Record<string, unknown>;
  prev_hash: string | null;
  hash: string;
}

/** The stable contract of event types (docs/audit-events.md describes each). */
export const AUDIT_EVENT_TYPES = [
  'authority_initialized',
  'admin_auth_failed',
  'admin_auth_failures_summarized',
  'operator_keys_reloaded',
  'recognition_treaty_issued',
  'recognition_treaty_revoked',
  'recognition_treaty_superseded',
  'membership_attestation_issued',
  'membership_attestation_revoked',
  'revocation_feed_published',
  'sovereign_revocation_feed_imported',
  'sovereign_revocation_feed_rejected',
  'feed_equivocation_detected',
  'feed_issuer_paused',
  'feed_issuer_resumed',
  'feed_import_rolled_back',
  'feed_pull_failing',
  'feed_pull_recovered',
  'feed_receipt_recorded',
  'peer_registered',
  'peer_removed',
  'peer_key_changed',
  'peer_key_rotation_announced',
  'peer_contained',
  'peer_evidence_exported',
  'peer_repinned',
  'peer_test_pulled',
  'peer_containment_lifted',
  'peer_mirrors_changed',
  'database_restored',
  'signing_key_rotated',
  'signing_key_retired',
  'witness_log_enabled',
  'witness_log_disabled',
  'witness_checkpoint_cosigned',
  'witness_conflict_detected',
  'witness_cosigning_failing',
  'witness_cosigning_recovered',
  'witness_quorum_policy_set',
  'witness_quorum_policy_cleared',
  'feed_awaiting_quorum',
  'feed_quorum_met',
  'split_view_detected',
  'split_view_evidence_forwarded',
  'split_view_evidence_undelivered',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/**
 * Who asked for a change: the actor, the request's id and, for a signed admin request, its nonce
 * (stored in the transaction of the change, so a request that changed something can never be replayed).
 */
export interface RequestOrigin {
  actor: Actor;
  requestId?: string | null;
  nonce?: RequestNonce | undefined;
}

/** The origin fields of a context that carries more (an import's source, say). */
export function originOf(context: RequestOrigin): RequestOrigin {
  return { actor: context.actor, requestId: context.requestId ?? null, nonce: context.nonce };
}

export interface AuditInput extends RequestOrigin {
  eventType: AuditEventType;
  details?: Record<string, unknown>;
}

/** Hash of an event: "sha256:" + hex SHA-256 of JCS(event without `hash`). */
export function auditEventHash(event: Omit<AuditEvent, 'hash'> & { hash?: string }): string {
  const { hash: _hash, ...rest } = event;
  return hashRef(canonicalJson(rest));
}

/**
 * Appends one event. Call it inside the transaction of the change it records so both commit or
 * neither does; outside a transaction it commits on its own.
 */
export function appendAudit(sqlite: Sqlite, clock: Clock, input: AuditInput): AuditEvent {
  // The head read and the insert that extends it share one write transaction (the store's contract).
  const write = () => {
    const head = readAuditHead(sqlite);
    const event: Omit<AuditEvent, 'hash'> = {
      seq: head ? head.seq + 1 : 1,
      event_id: randomUUID(),
      event_type: input.eventType,
      occurred_at: toTimestamp(clock()),
      actor: input.actor,
      ...(input.requestId ? { request_id: input.requestId } : {}),
      details: input.details ?? {},
      prev_hash: head ? head.hash : null,
    };
    const full: AuditEvent = { ...event, hash: auditEventHash(event) };
    insertAuditEvent(sqlite, {
      seq: full.seq,
      event_id: full.event_id,
      event_type: full.event_type,
      occurred_at: full.occurred_at,
      actor_type: full.actor.type,
      actor_key_id: full.actor.key_id ?? null,
      request_id: full.request_id ?? null,
      canonical: canonicalJson(full),
      hash: full.hash,
    });
    if (input.nonce) storeNonce(sqlite, input.nonce);
    return full;
  };
  return sqlite.inTransaction ? write() : sqlite.transaction(write).immediate();
}

export interface AuditQuery {
  afterSeq?: number;
  limit?: number;
  eventTypes?: string[];
}

/** A page of events in stored (JCS) form, ordered by seq. */
export function listAuditCanonical(sqlite: Sqlite, query: AuditQuery): { rows: string[]; lastSeq: number | null } {
  const afterSeq = query.afterSeq ?? 0;
  const limit = query.limit ?? 100;
  const types = query.eventTypes ?? [];
  const rows = listAuditPage(sqlite, afterSeq, types, limit);
  return { rows: rows.map((r) => r.canonical), lastSeq: rows.length > 0 ? rows[rows.length - 1]!.seq : null };
}

export interface ChainBreak {
  seq: number | null;
  line?: number;
  reason:
    | 'hash_mismatch'
    | 'prev_hash_mismatch'
    | 'seq_not_increasing'
    | 'malformed_event'
    | 'first_event_has_prev_hash'
    | 'missing_events'
    | 'stored_columns_mismatch';
}

export interface ChainReport {
  ok: boolean;
  count: number;
  firstSeq: number | null;
  lastSeq: number | null;
  lastHash: string | null;
  /** Places where events are missing (a filtered export); links across them cannot be checked. */
  gaps: Array<{ after_seq: number; next_seq: number }>;
  breaks: ChainBreak[];
  /** Gaps counted but not listed (only with `maxListedGaps`). */
  omittedGaps?: number;
}

export interface ChainOptions {
  /**
   * The events are the whole log (the database, an unfiltered export from seq 1): a missing event
   * or a first event other than seq 1 is a break, not a gap.
   */
  complete?: boolean;
  /** Keep at most this many gaps in the report (the rest are only counted in `omittedGaps`), so verifying a huge filtered export stays in constant memory. */
  maxListedGaps?: number;
}

/**
 * Incremental verifier of a sequence of audit events: recomputes each hash and checks each link.
 * Events missing in between (filtered exports) are reported as gaps, not failures, unless the
 * sequence claims to be complete.
 */
export class AuditChainVerifier {
  private report: ChainReport = { ok: true, count: 0, firstSeq: null, lastSeq: null, lastHash: null, gaps: [], breaks: [] };
  private line = 0;
  private readonly complete: boolean;
  private readonly maxListedGaps: number;
  private omittedGaps = 0;

  constructor(options: ChainOptions = {}) {
    this.complete = options.complete ?? false;
    this.maxListedGaps = options.maxListedGaps ?? Number.POSITIVE_INFINITY;
  }

  push(event: unknown): void {
    this.line++;
    const r = this.report;
    const e = event as Partial<AuditEvent> | null;
    if (!e || typeof e !== 'object' || typeof e.seq !== 'number' || typeof e.hash !== 'string' || !('prev_hash' in e)) {
      r.breaks.push({ seq: typeof e?.seq === 'number' ? e.seq : null, line: this.line, reason: 'malformed_event' });
      r.ok = false;
      return;
    }
    let recomputed: string | null = null;
    try {
      recomputed = auditEventHash(e as AuditEvent);
    } catch {
      recomputed = null;
    }
    if (recomputed !== e.hash) {
      r.breaks.push({ seq: e.seq, line: this.line, reason: 'hash_mismatch' });
      r.ok = false;
    }
    if (r.lastSeq === null) {
      if (e.seq === 1 && e.prev_hash !== null) {
        r.breaks.push({ seq: e.seq, line: this.line, reason: 'first_event_has_prev_hash' });
        r.ok = false;
      } else if (this.complete && e.seq !== 1) {
        r.breaks.push({ seq: e.seq, line: this.line, reason: 'missing_events' });
        r.ok = false;
      }
    } else if (e.seq <= r.lastSeq) {
      r.breaks.push({ seq: e.seq, line: this.line, reason: 'seq_not_increasing' });
      r.ok = false;
    } else if (e.seq === r.lastSeq + 1) {
      if (e.prev_hash !== r.lastHash) {
        r.breaks.push({ seq: e.seq, line: this.line, reason: 'prev_hash_mismatch' });
        r.ok = false;
      }
    } else if (this.complete) {
      r.breaks.push({ seq: e.seq, line: this.line, reason: 'missing_events' });
      r.ok = false;
    } else {
      if (r.gaps.length < this.maxListedGaps) r.gaps.push({ after_seq: r.lastSeq, next_seq: e.seq });
      else this.omittedGaps++;
    }
    r.count++;
    r.firstSeq ??= e.seq;
    r.lastSeq = e.seq;
    r.lastHash = e.hash;
  }

  result(): ChainReport {
    return {
      ...this.report,
      gaps: [...this.report.gaps],
      breaks: [...this.report.breaks],
      ...(this.omittedGaps > 0 ? { omittedGaps: this.omittedGaps } : {}),
    };
  }
}

export function verifyAuditChain(events: Iterable<unknown>, options: ChainOptions = {}): ChainReport {
  const verifier = new AuditChainVerifier(options);
  for (const event of events) verifier.push(event);
  return verifier.result();
}

/**
 * Verifies the audit log stored in a database, in seq order, as a complete chain: every hash, every
 * link, no missing sequence numbers, and the indexed columns agree with the stored event. Streams
 * rows, so memory stays constant. Deleting the newest events cannot be detected from the log alone;
 * a signed export checkpoint anchors that.
 */
export function verifyStoredAuditChain(sqlite: Sqlite): ChainReport {
  const verifier = new AuditChainVerifier({ complete: true });
  const columnBreaks: ChainBreak[] = [];
  for (const row of iterateAuditRows(sqlite)) {
    let event: Partial<AuditEvent> | null = null;
    try {
      event = JSON.parse(row.canonical) as Partial<AuditEvent>;
    } catch {
      event = null;
    }
    if (event && (event.seq !== row.seq || event.hash !== row.hash || event.event_type !== row.event_type)) {
      columnBreaks.push({ seq: row.seq, reason: 'stored_columns_mismatch' });
    }
    verifier.push(event);
  }
  const report = verifier.result();
  if (columnBreaks.length > 0) return { ...report, ok: false, breaks: [...report.breaks, ...columnBreaks] };
  return report;
}
