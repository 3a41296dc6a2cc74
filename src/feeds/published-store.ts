// All SQL of this authority's published feeds (the revocation log they carry is the log's store, src/log/store.ts).
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';

/*
 * What a second backend must guarantee to implement this store:
 *
 * - One writer. Publishing runs in one write transaction (`.immediate()`: BEGIN IMMEDIATE under the
 *   serving lock): it reads the last published feed and the log head, then inserts the next
 *   sequences, with their audit events and checkpoints. Two racing triggers must never both read the
 *   same last sequence; a backend without a single writer locks the head (SELECT … FOR UPDATE) or
 *   runs SERIALIZABLE.
 * - Sequences are dense (1, 2, 3, …) and a published row is never changed or deleted.
 * - Reads outside a transaction see one committed state each.
 */

/** A published feed as stored. */
export interface PublishedRow {
  sequence: number;
  feed_id: string;
  feed_hash: string;
  signed_hash: string | null;
  issued_at: string;
  next_update: string;
  first_index: number;
  entry_count: number;
  log_size: number;
  root_hash: string;
  body: string;
  /** JSON array of the log's Merkle frontier at `log_size` (null on rows carried in from elsewhere). */
  frontier: string | null;
}

export interface StoredFeed {
  sequence: number;
  feed_hash: string;
  body: string;
}

type Stmt = Statement<unknown[]>;

function build(sqlite: Sqlite) {
  const prepare = (sql: string): Stmt => sqlite.prepare(sql);
  return {
    last: prepare('SELECT * FROM published_feeds ORDER BY sequence DESC LIMIT 1'),
    insert: prepare(
      `INSERT INTO published_feeds (sequence, feed_id, feed_hash, signed_hash, issued_at, next_update, first_index, entry_count, log_size, root_hash, body, frontier)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    bySequence: prepare('SELECT sequence, feed_hash, body FROM published_feeds WHERE sequence = ?'),
    since: prepare('SELECT sequence, feed_hash, body FROM published_feeds WHERE sequence > ? ORDER BY sequence LIMIT ?'),
    spansSince: prepare(
      'SELECT sequence, feed_hash, body, entry_count, log_size FROM published_feeds WHERE sequence > ? ORDER BY sequence LIMIT ?',
    ),
    latestSequence: prepare('SELECT COALESCE(MAX(sequence), 0) FROM published_feeds').pluck(),
    spans: prepare('SELECT sequence, first_index, entry_count FROM published_feeds WHERE entry_count > 0 ORDER BY first_index').raw(true),
  };
}

const statements = perConnection(build);

export function readLastPublished(sqlite: Sqlite): PublishedRow | undefined {
  return statements(sqlite).last.get() as PublishedRow | undefined;
}

/** Stores a newly published feed. In the caller's publishing transaction (see the header). */
export function insertPublishedFeed(sqlite: Sqlite, r: PublishedRow): void {
  statements(sqlite).insert.run(
    r.sequence,
    r.feed_id,
    r.feed_hash,
    r.signed_hash,
    r.issued_at,
    r.next_update,
    r.first_index,
    r.entry_count,
    r.log_size,
    r.root_hash,
    r.body,
    r.frontier,
  );
}

export function readPublishedFeed(sqlite: Sqlite, sequence: number): StoredFeed | undefined {
  return statements(sqlite).bySequence.get(sequence) as StoredFeed | undefined;
}

/** Up to `limit` feeds after `since`, in order. */
export function readPublishedFeedsSince(sqlite: Sqlite, since: number, limit: number): StoredFeed[] {
  return statements(sqlite).since.all(since, limit) as StoredFeed[];
}

/** Up to `limit` feeds after `since`, in order, with how many entries each carried and the log size after it. */
export function readPublishedFeedSpansSince(
  sqlite: Sqlite,
  since: number,
  limit: number,
): Array<StoredFeed & { entry_count: number; log_size: number }> {
  return statements(sqlite).spansSince.all(since, limit) as Array<StoredFeed & { entry_count: number; log_size: number }>;
}

/** The latest published sequence, 0 when none. */
export function readLatestPublishedSequence(sqlite: Sqlite): number {
  return statements(sqlite).latestSequence.get() as number;
}

/** Which log indexes each non-empty feed carried, ordered by first index: [sequence, first index, entry count]. */
export function readPublishedSpans(sqlite: Sqlite): Array<[sequence: number, firstIndex: number, entryCount: number]> {
  return statements(sqlite).spans.all() as Array<[number, number, number]>;
}
