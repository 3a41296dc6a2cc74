// Surgical undo of a bad import: drop one issuer's imported feeds above a sequence and pause the issuer.
import { appendAudit, type RequestOrigin } from '../authority/audit.ts';
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { refreshIssuerStaleness } from './freshness.ts';
import { pauseIssuerRow } from './import.ts';

export interface RollbackInput {
  issuer_sovereign_id: string;
  to_sequence: number;
}

export interface RollbackResult {
  issuer_sovereign_id: string;
  from_sequence: number;
  to_sequence: number;
  removed_feeds: number;
  removed_revocations: number;
  paused: true;
}

/**
 * Removes the issuer's imported revocations and feeds above `to_sequence`, resets its chain state
 * (sequence, hash, Merkle frontier, log size, issued_at, next_update) to feed `to_sequence` (or to
 * nothing for 0), and pauses the issuer so the pull job does not simply re-import the same feeds.
 */
export function rollbackImport(deps: AppDeps, input: RollbackInput, origin: RequestOrigin): RollbackResult {
  const sqlite = deps.db.sqlite;
  const issuer = input.issuer_sovereign_id;
  const result = sqlite.transaction((): RollbackResult => {
    const state = sqlite.prepare('SELECT last_sequence FROM feed_issuers WHERE issuer_sovereign_id = ?').get(issuer) as { last_sequence: number } | undefined;
    if (!state) throw new AppError('issuer_not_found', 'nothing has been imported from this issuer', { issuer_sovereign_id: issuer });
    if (input.to_sequence > state.last_sequence) {
      throw new AppError('rollback_target_ahead', 'to_sequence is beyond the last imported sequence', { last_sequence: state.last_sequence });
    }
    const target =
      input.to_sequence === 0
        ? null
        : (sqlite
            .prepare('SELECT feed_hash, signed_hash, issued_at, next_update, log_size, frontier FROM imported_feeds WHERE issuer_sovereign_id = ? AND sequence = ?')
            .get(issuer, input.to_sequence) as { feed_hash: string; signed_hash: string | null; issued_at: string | null; next_update: string | null; log_size: number | null; frontier: string | null } | undefined);
    if (input.to_sequence > 0 && (!target || target.log_size === null || target.frontier === null)) {
      throw new AppError('rollback_target_missing', 'the feed at to_sequence is not stored; roll back further', { to_sequence: input.to_sequence });
    }
    const removed = sqlite
      .prepare('SELECT sequence, feed_hash FROM imported_feeds WHERE issuer_sovereign_id = ? AND sequence > ? ORDER BY sequence')
      .all(issuer, input.to_sequence) as Array<{ sequence: number; feed_hash: string }>;
    const removedRevocations = sqlite.prepare('DELETE FROM imported_revocations WHERE issuer_sovereign_id = ? AND feed_sequence > ?').run(issuer, input.to_sequence).changes;
    sqlite.prepare('DELETE FROM imported_feeds WHERE issuer_sovereign_id = ? AND sequence > ?').run(issuer, input.to_sequence);
    sqlite
      .prepare(
        `UPDATE feed_issuers SET last_sequence = ?, last_feed_hash = ?, last_signed_hash = ?, last_issued_at = ?, next_update = ?, log_size = ?, frontier = ?
         WHERE issuer_sovereign_id = ?`,
      )
      .run(input.to_sequence, target?.feed_hash ?? null, target?.signed_hash ?? null, target?.issued_at ?? null, target?.next_update ?? null, target?.log_size ?? 0, target?.frontier ?? '[]', issuer);
    const at = toTimestamp(deps.clock());
    pauseIssuerRow(sqlite, issuer, 'rollback', at);
    const details = {
      issuer,
      from_sequence: state.last_sequence,
      to_sequence: input.to_sequence,
      removed_feeds: removed.length,
      removed_revocations: removedRevocations,
      // The hashes identify exactly what was undone; bounded so one event stays small.
      removed_feed_hashes: removed.slice(0, 100).map((r) => ({ sequence: r.sequence, feed_hash: r.feed_hash })),
    };
    appendAudit(sqlite, deps.clock, { eventType: 'feed_import_rolled_back', ...origin, details });
    appendAudit(sqlite, deps.clock, { eventType: 'feed_issuer_paused', ...origin, details: { issuer, reason: 'rollback' } });
    return {
      issuer_sovereign_id: issuer,
      from_sequence: state.last_sequence,
      to_sequence: input.to_sequence,
      removed_feeds: removed.length,
      removed_revocations: removedRevocations,
      paused: true,
    };
  }).immediate();
  refreshIssuerStaleness(deps, issuer);
  deps.changes.emit('feed-imported', { issuer, sequence: input.to_sequence, rolled_back: true });
  return result;
}
