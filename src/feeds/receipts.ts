// Feed receipts: importers tell the issuer, in a signed statement, which feed they have caught up to.
import { appendAudit } from '../authority/audit.ts';
import { canonicalJson, signableProblem } from '../authority/canonical-json.ts';
import { parseTimestamp, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { signObject, verifySignedObject } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';
import { issueList } from '../authority/http.ts';
import type { Sqlite } from '../db/database.ts';
import { recognizedIssuer } from '../treaties/recognition.ts';
import { countPeerReplay } from './peer-signals.ts';
import { feedReceiptSchema, RECEIPT_TYPE, RECEIPT_VERSION, type FeedReceipt } from './model.ts';
import { readReceipts, readReceiptSequence, storeReceipt, type StoredReceipt } from './peer-store.ts';
import { publishedFeed } from './publish.ts';

export type { StoredReceipt };

/** A receipt this authority (the importer) signs for a feed it imported from `issuer`. */
export function buildReceipt(deps: Pick<AppDeps, 'identity' | 'clock'>, issuer: string, sequence: number, feedHash: string): FeedReceipt {
  return signObject(
    {
      type: RECEIPT_TYPE,
      version: RECEIPT_VERSION,
      importer_sovereign_id: deps.identity.sovereignId,
      issuer_sovereign_id: issuer,
      sequence,
      feed_hash: feedHash,
      received_at: toTimestamp(deps.clock()),
      issued_by: deps.identity.signingKeys[0]!.keyId,
    },
    deps.identity.signingKeys,
  ) as FeedReceipt;
}

export interface ReceiptOutcome {
  recorded: boolean;
  /** `recorded`, or `not_newer` when a receipt for this or a later sequence is already stored. */
  status: 'recorded' | 'not_newer';
  importer_sovereign_id: string;
  sequence: number;
}

/**
 * Accepts a receipt from an importer this authority recognizes (verified with the keys of its own
 * in-force treaties for that importer), for a feed this authority published with exactly that hash.
 * Stores only the latest per importer. Rejections change nothing and are not audited: the route is
 * unauthenticated until the signature verifies, and must not let strangers write the audit log.
 */
export function recordReceipt(deps: AppDeps, input: unknown, requestId?: string | null): ReceiptOutcome {
  const sqlite = deps.db.sqlite;
  if (signableProblem(input) !== null) throw new AppError('invalid_feed_receipt', 'the receipt does not match the feed receipt schema');
  const parsed = feedReceiptSchema.safeParse(input);
  if (!parsed.success)
    throw new AppError('invalid_feed_receipt', 'the receipt does not match the feed receipt schema', { issues: issueList(parsed.error) });
  const receipt = parsed.data;
  if (receipt.issuer_sovereign_id !== deps.identity.sovereignId) {
    throw new AppError('receipt_wrong_issuer', 'the receipt is for another issuer', { issuer_sovereign_id: deps.identity.sovereignId });
  }
  const now = deps.clock();
  const keys =
    receipt.importer_sovereign_id === deps.identity.sovereignId ? [] : recognizedIssuer(sqlite, receipt.importer_sovereign_id, now).keys;
  if (keys.length === 0) throw new AppError('importer_not_recognized', 'this authority does not recognize the importer');
  const check = verifySignedObject(receipt, keys);
  if (!check.valid) {
    deps.metrics.signatureVerificationFailures.inc({ surface: 'feed_receipt', reason: check.reason });
    throw new AppError('invalid_signature', 'the receipt is not signed by a key recognized for the importer', { reason: check.reason });
  }
  const receivedAt = parseTimestamp(receipt.received_at)!;
  if (receivedAt.getTime() > now.getTime() + deps.config.clockSkewSeconds * 1000) {
    countPeerReplay(deps, receipt.importer_sovereign_id, 'receipt_out_of_window');
    throw new AppError('invalid_timestamps', 'received_at is in the future', { problem: 'received_at_in_future' });
  }
  const feed = publishedFeed(sqlite, receipt.sequence);
  if (!feed || feed.feed_hash !== receipt.feed_hash) {
    throw new AppError('receipt_feed_mismatch', 'the receipt names a feed this authority did not publish', {
      sequence: receipt.sequence,
      published_feed_hash: feed?.feed_hash ?? null,
    });
  }
  const outcome = sqlite
    .transaction((): ReceiptOutcome => {
      const stored = readReceiptSequence(sqlite, receipt.importer_sovereign_id);
      const base = { importer_sovereign_id: receipt.importer_sovereign_id, sequence: receipt.sequence };
      if (stored !== undefined && stored >= receipt.sequence) return { recorded: false, status: 'not_newer', ...base };
      storeReceipt(sqlite, {
        importer_sovereign_id: receipt.importer_sovereign_id,
        sequence: receipt.sequence,
        feed_hash: receipt.feed_hash,
        received_at: receipt.received_at,
        recorded_at: toTimestamp(now),
        body: canonicalJson(receipt),
      });
      appendAudit(sqlite, deps.clock, {
        eventType: 'feed_receipt_recorded',
        actor: { type: 'peer', sovereign_id: receipt.importer_sovereign_id, key_id: check.keyId },
        requestId: requestId ?? null,
        details: {
          importer: receipt.importer_sovereign_id,
          sequence: receipt.sequence,
          feed_hash: receipt.feed_hash,
          received_at: receipt.received_at,
        },
      });
      return { recorded: true, status: 'recorded', ...base };
    })
    .immediate();
  // A signed receipt for a sequence already acknowledged is the importer's old message sent again.
  if (!outcome.recorded) countPeerReplay(deps, outcome.importer_sovereign_id, 'receipt_replayed');
  if (outcome.recorded) deps.changes.emit('feed-receipt', { importer: outcome.importer_sovereign_id, sequence: outcome.sequence });
  return outcome;
}

/** The latest receipt of each importer, ordered by importer id (the connectome's "who has caught up"). */
export function receiptsByImporter(sqlite: Sqlite): StoredReceipt[] {
  return readReceipts(sqlite);
}
