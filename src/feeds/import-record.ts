// What every feed import writes, whatever its wire profile: an accepted feed, a rejection, an equivocation.
import { appendAudit, originOf, type RequestOrigin } from '../authority/audit.ts';
import type { Clock } from '../authority/clock.ts';
import type { Sqlite } from '../db/database.ts';
import {
  insertEquivocationEvidence,
  pauseIssuerRow,
  readIssuerHead,
  recordImportedFeed,
  type EquivocationEvidence,
  type ImportedFeedRecord,
} from './imported-store.ts';

/*
 * The native importer (import.ts) and the Genesis Mesh snapshot importer (gm-import.ts) decide
 * differently whether a feed is acceptable; what they write once they have decided is this.
 * Every function runs in the caller's transaction (or, for an audit alone, commits on its own).
 * `extra` are the profile's own audit fields (where the feed came from, its profile, its counts).
 */

export interface FeedOutcome {
  issuer: string | null;
  sequence: number | null;
  feedHash: string | null;
}

/** Records an accepted feed and its audit event, in the caller's import transaction. */
export function recordAcceptedFeed(
  sqlite: Sqlite,
  clock: Clock,
  origin: RequestOrigin,
  record: ImportedFeedRecord,
  revokedCount: number,
  extra: Record<string, unknown>,
): void {
  recordImportedFeed(sqlite, record);
  auditImported(
    sqlite,
    clock,
    origin,
    { issuer: record.issuer, sequence: record.sequence, feedHash: record.feedHash },
    'imported',
    revokedCount,
    extra,
  );
}

/** Audits an import that changed nothing because the feed is already held (or an import, with `imported`). */
export function auditImported(
  sqlite: Sqlite,
  clock: Clock,
  origin: RequestOrigin,
  feed: { issuer: string; sequence: number; feedHash: string },
  status: 'imported' | 'already_imported',
  revokedCount: number,
  extra: Record<string, unknown>,
): void {
  appendAudit(sqlite, clock, {
    eventType: 'sovereign_revocation_feed_imported',
    ...originOf(origin),
    details: { issuer: feed.issuer, sequence: feed.sequence, feed_hash: feed.feedHash, status, revoked_count: revokedCount, ...extra },
  });
}

/** Audits a rejected feed: inside the import transaction, or on its own for a rejection decided before it. */
export function auditRejection(
  sqlite: Sqlite,
  clock: Clock,
  origin: RequestOrigin,
  feed: FeedOutcome,
  reason: string,
  extra: Record<string, unknown>,
): void {
  appendAudit(sqlite, clock, {
    eventType: 'sovereign_revocation_feed_rejected',
    ...originOf(origin),
    details: { issuer: feed.issuer, sequence: feed.sequence, reason, feed_hash: feed.feedHash, ...extra },
  });
}

/**
 * Records an equivocation: the conflicting feed as evidence, the issuer paused, and both audited, in
 * the caller's transaction, which must commit (the rejection is raised after it).
 */
export function recordEquivocation(
  sqlite: Sqlite,
  clock: Clock,
  origin: RequestOrigin,
  evidence: EquivocationEvidence,
  extra: Record<string, unknown>,
): void {
  const { issuer, sequence, knownFeedHash, conflictingFeedHash } = evidence;
  insertEquivocationEvidence(sqlite, evidence);
  pauseIssuerRow(sqlite, issuer, 'equivocation', evidence.detectedAt);
  appendAudit(sqlite, clock, {
    eventType: 'feed_equivocation_detected',
    ...originOf(origin),
    details: { issuer, sequence, known_feed_hash: knownFeedHash, conflicting_feed_hash: conflictingFeedHash, ...extra },
  });
  appendAudit(sqlite, clock, { eventType: 'feed_issuer_paused', ...originOf(origin), details: { issuer, reason: 'equivocation' } });
}

/**
 * Pauses an issuer for evidence found outside an import (a split view of its log), with its
 * `feed_issuer_paused` event, in the caller's transaction; false when it was paused already. Works
 * for an issuer nothing was imported from yet (its import state is created paused).
 */
export function recordIssuerPause(
  sqlite: Sqlite,
  clock: Clock,
  origin: RequestOrigin,
  issuer: string,
  reason: 'split_view',
  at: string,
): boolean {
  if (readIssuerHead(sqlite, issuer)?.paused) return false;
  pauseIssuerRow(sqlite, issuer, reason, at);
  appendAudit(sqlite, clock, { eventType: 'feed_issuer_paused', ...originOf(origin), details: { issuer, reason } });
  return true;
}
