// Publishing this authority's revocation log as sequence-numbered, hash-chained, signed feeds (SPEC §5).
import { randomUUID } from 'node:crypto';
import { appendAudit, SYSTEM_ACTOR, type Actor } from '../authority/audit.ts';
import { canonicalJson } from '../authority/canonical-json.ts';
import { addSeconds, parseTimestamp, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { hashRef, signBytes, type SignatureEntry } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';
import type { RequestNonce } from '../authority/request-nonces.ts';
import type { Sqlite } from '../db/database.ts';
import { appendLeaves, emptyFrontier, frontierRoot, type Frontier } from '../log/merkle.ts';
import { FEED_TYPE, FEED_VERSION, MAX_FEED_ENTRIES, signedPartHash, spliceEntries, type RevocationFeed } from './model.ts';
import { frontierAt, readLogEntryTexts, readLogHead } from '../log/store.ts';
import {
  insertPublishedFeed,
  readLastPublished,
  readLatestPublishedSequence,
  readPublishedFeed,
  readPublishedFeedsSince,
  type PublishedRow,
  type StoredFeed,
} from './published-store.ts';
import { recordCheckpoint } from '../transparency/service.ts';

export type PublishTrigger = 'revocation' | 'schedule' | 'admin';

export interface PublishOptions {
  trigger: PublishTrigger;
  /** `if_due` (default): a heartbeat only when next_update is near; `force`: a heartbeat even if not due. */
  heartbeat?: 'if_due' | 'force';
  /** Who asked (the system's scheduler when absent). */
  actor?: Actor;
  requestId?: string | null;
  nonce?: RequestNonce | undefined;
}

export interface PublishedFeedSummary {
  sequence: number;
  feed_id: string;
  feed_hash: string;
  issued_at: string;
  next_update: string;
  first_index: number;
  entry_count: number;
  log_size: number;
  root_hash: string;
}

export interface PublishResult {
  published: PublishedFeedSummary[];
  latest_sequence: number;
}

/** Seconds before next_update at which a scheduled run publishes a heartbeat: half the update interval. */
export function heartbeatLeadSeconds(nextUpdateSeconds: number): number {
  return Math.floor(nextUpdateSeconds / 2);
}

/** A feed without its entries and signatures: what publishing assembles before signing. */
export type FeedHeader = Omit<RevocationFeed, 'entries' | 'signatures'>;

/**
 * Signs a feed (header + entry texts) with every signing key: the canonical signed text, and the hash
 * of what was signed (the next version 2 feed chains to it).
 */
export function signFeed(
  header: FeedHeader,
  entryTexts: readonly string[],
  keys: AppDeps['identity']['signingKeys'],
): { body: string; signedHash: string } {
  const payload = spliceEntries(canonicalJson({ ...header, entries: [] }), entryTexts);
  const bytes = Buffer.from(payload, 'utf8');
  const signatures: SignatureEntry[] = keys.map((key) => ({ key_id: key.keyId, sig: signBytes(key, bytes).toString('base64') }));
  return { body: spliceEntries(canonicalJson({ ...header, entries: [], signatures }), entryTexts), signedHash: hashRef(bytes) };
}

/** Signs a feed; returns the canonical signed text. */
export function signFeedText(header: FeedHeader, entryTexts: readonly string[], keys: AppDeps['identity']['signingKeys']): string {
  return signFeed(header, entryTexts, keys).body;
}

function lastPublished(sqlite: Sqlite): PublishedRow | undefined {
  return readLastPublished(sqlite);
}

/**
 * Publishes every unpublished log entry (at most 10,000 per feed) and, when none are pending and
 * next_update is near (or forced), one heartbeat feed. One IMMEDIATE transaction decides, so two
 * racing triggers never publish the same sequence twice or skip one; a trigger with nothing to do
 * publishes nothing.
 */
export function publishFeeds(deps: AppDeps, options: PublishOptions): PublishResult {
  if (deps.identity.signingKeys.length === 0) throw new AppError('no_signing_key', 'this authority has no signing key loaded');
  const sqlite = deps.db.sqlite;
  const actor = options.actor ?? SYSTEM_ACTOR;

  const result = sqlite
    .transaction((): PublishResult => {
      const now = deps.clock();
      const last = lastPublished(sqlite);
      const head = readLogHead(sqlite);
      const publishedSize = last?.log_size ?? 0;
      if (head.size < publishedSize) {
        // The log lost entries that were already published (a restore that did not carry them forward):
        // publishing now would sign a different history under a known tree size.
        throw new AppError(
          'revocation_log_behind_published',
          'the revocation log is shorter than the published feeds; restore the missing entries first',
          {
            log_size: head.size,
            published_log_size: publishedSize,
          },
        );
      }
      let frontier: Frontier = last
        ? last.frontier
          ? { size: last.log_size, hashes: JSON.parse(last.frontier) as string[] }
          : frontierAt(sqlite, last.log_size)
        : emptyFrontier();
      let previousHash = last ? (last.signed_hash ?? signedPartHash(last.body)) : null;
      let sequence = (last?.sequence ?? 0) + 1;
      const lastIssued = last ? parseTimestamp(last.issued_at) : null;
      const issuedAtDate = lastIssued && lastIssued.getTime() > now.getTime() ? lastIssued : now;
      const issuedAt = toTimestamp(issuedAtDate);
      const nextUpdate = toTimestamp(addSeconds(issuedAtDate, deps.config.feedNextUpdateSeconds));
      const lastNextUpdate = last ? parseTimestamp(last.next_update) : null;
      const heartbeatDue =
        options.heartbeat === 'force' ||
        !last ||
        !lastNextUpdate ||
        lastNextUpdate.getTime() - now.getTime() <= heartbeatLeadSeconds(deps.config.feedNextUpdateSeconds) * 1000;

      const published: PublishedFeedSummary[] = [];
      let from = publishedSize;
      while (from < head.size || (published.length === 0 && heartbeatDue)) {
        const rows = readLogEntryTexts(sqlite, from, MAX_FEED_ENTRIES);
        if (rows.length === 0 && from < head.size)
          throw new AppError('revocation_log_corrupt', 'the revocation log has a gap', { missing_index: from });
        const texts: string[] = new Array(rows.length);
        const leaves: string[] = new Array(rows.length);
        for (let i = 0; i < rows.length; i++) {
          const [idx, text, leaf] = rows[i]!;
          if (idx !== from + i) throw new AppError('revocation_log_corrupt', 'the revocation log has a gap', { missing_index: from + i });
          texts[i] = text;
          leaves[i] = leaf;
        }
        frontier = appendLeaves(frontier, leaves);
        const rootHash = `sha256:${frontierRoot(frontier)}`;
        const header: FeedHeader = {
          type: FEED_TYPE,
          version: FEED_VERSION,
          feed_id: randomUUID(),
          issuer_sovereign_id: deps.identity.sovereignId,
          sequence,
          previous_feed_hash: previousHash,
          issued_at: issuedAt,
          next_update: nextUpdate,
          log: { size: frontier.size, root_hash: rootHash },
          issued_by: deps.identity.signingKeys[0]!.keyId,
        };
        const { body, signedHash } = signFeed(header, texts, deps.identity.signingKeys);
        const feedHash = hashRef(body);
        insertPublishedFeed(sqlite, {
          sequence,
          feed_id: header.feed_id,
          feed_hash: feedHash,
          signed_hash: signedHash,
          issued_at: issuedAt,
          next_update: nextUpdate,
          first_index: from,
          entry_count: rows.length,
          log_size: frontier.size,
          root_hash: rootHash,
          body,
          frontier: JSON.stringify(frontier.hashes),
        });
        const summary: PublishedFeedSummary = {
          sequence,
          feed_id: header.feed_id,
          feed_hash: feedHash,
          issued_at: issuedAt,
          next_update: nextUpdate,
          first_index: from,
          entry_count: rows.length,
          log_size: frontier.size,
          root_hash: rootHash,
        };
        appendAudit(sqlite, deps.clock, {
          eventType: 'revocation_feed_published',
          actor,
          requestId: options.requestId ?? null,
          nonce: options.nonce,
          details: { ...summary, heartbeat: rows.length === 0, trigger: options.trigger },
        });
        recordCheckpoint(deps, { sequence, size: frontier.size, rootHash });
        published.push(summary);
        previousHash = signedHash;
        sequence++;
        from += rows.length;
      }
      if (published.length > 0 && from === head.size && `sha256:${frontierRoot(frontier)}` !== head.rootHash) {
        throw new AppError('revocation_log_corrupt', 'the published tree head does not match the stored log head');
      }
      return { published, latest_sequence: sequence - 1 };
    })
    .immediate();

  deps.metrics.feedPublishedSequence.set(result.latest_sequence);
  if (result.published.length > 0) {
    deps.logger.info({ sequences: result.published.map((p) => p.sequence), trigger: options.trigger }, 'revocation feeds published');
    // Listeners (derived caches such as the Genesis Mesh snapshot) run after this call returns, so a
    // slow listener never holds up the publishing trigger.
    const event = { latest_sequence: result.latest_sequence };
    setImmediate(() => deps.changes.emit('feed-published', event));
  }
  return result;
}

export type { StoredFeed };

export function latestPublishedFeed(sqlite: Sqlite): StoredFeed | null {
  const row = lastPublished(sqlite);
  return row ? { sequence: row.sequence, feed_hash: row.feed_hash, body: row.body } : null;
}

export function latestPublishedSequence(sqlite: Sqlite): number {
  return readLatestPublishedSequence(sqlite);
}

export function publishedFeed(sqlite: Sqlite, sequence: number): StoredFeed | null {
  return readPublishedFeed(sqlite, sequence) ?? null;
}

/** Feeds after `since`, at most `limit` of them and about `byteBudget` bytes (always at least one). */
export function publishedFeedsSince(
  sqlite: Sqlite,
  since: number,
  limit: number,
  byteBudget: number,
): { feeds: StoredFeed[]; more: boolean } {
  const rows = readPublishedFeedsSince(sqlite, since, limit + 1);
  const feeds: StoredFeed[] = [];
  let bytes = 0;
  for (const row of rows.slice(0, limit)) {
    const size = Buffer.byteLength(row.body, 'utf8');
    if (feeds.length > 0 && bytes + size > byteBudget) break;
    feeds.push(row);
    bytes += size;
  }
  return { feeds, more: rows.length > feeds.length };
}
