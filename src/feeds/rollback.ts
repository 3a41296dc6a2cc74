// Surgical undo of a bad import: drop one issuer's imported feeds above a sequence and pause the issuer.
import { appendAudit, type RequestOrigin } from '../authority/audit.ts';
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { refreshIssuerStaleness } from './freshness.ts';
import { pauseIssuerRow, readImportedFeedHead, readIssuerHead, rollbackImportedFeeds } from './imported-store.ts';

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
  const result = sqlite
    .transaction((): RollbackResult => {
      const state = readIssuerHead(sqlite, issuer);
      if (!state) throw new AppError('issuer_not_found', 'nothing has been imported from this issuer', { issuer_sovereign_id: issuer });
      if (input.to_sequence > state.last_sequence) {
        throw new AppError('rollback_target_ahead', 'to_sequence is beyond the last imported sequence', {
          last_sequence: state.last_sequence,
        });
      }
      const target = input.to_sequence === 0 ? null : readImportedFeedHead(sqlite, issuer, input.to_sequence);
      if (input.to_sequence > 0 && (!target || target.log_size === null || target.frontier === null)) {
        throw new AppError('rollback_target_missing', 'the feed at to_sequence is not stored; roll back further', {
          to_sequence: input.to_sequence,
        });
      }
      const { feeds: removed, revocations: removedRevocations } = rollbackImportedFeeds(sqlite, issuer, input.to_sequence, target ?? null);
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
    })
    .immediate();
  refreshIssuerStaleness(deps, issuer);
  deps.changes.emit('feed-imported', { issuer, sequence: input.to_sequence, rolled_back: true });
  return result;
}
