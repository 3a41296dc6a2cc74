// All SQL of peers: the sovereigns this authority pulls, their pull health, their mirrored treaties, and the receipts importers send us.
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';

/*
 * What a second backend must guarantee to implement this store:
 *
 * - One writer. Every write runs in the caller's write transaction (`.immediate()`: BEGIN IMMEDIATE
 *   under the serving lock), with the audit event that records it where there is one.
 * - Read-then-write in one transaction: registering a peer checks it is absent, recording a pull
 *   outcome reads the failure count it increments, recording a receipt reads the stored sequence it
 *   must exceed. A backend without a single writer locks the row (SELECT … FOR UPDATE) or runs
 *   SERIALIZABLE.
 * - `replacePeerTreaties` swaps a peer's whole mirror; it must be in one transaction so readers never
 *   see a half-replaced mirror.
 * - `recordReceiptSent` only raises the stored sequence (a conditional UPDATE), so it may run outside
 *   a transaction.
 */

export interface PeerRow {
  sovereign_id: string;
  base_url: string;
  profile: string | null;
  created_at: string;
  last_attempt_at: string | null;
  last_success_at: string | null;
  last_error: string | null;
  consecutive_failures: number;
  next_attempt_at: string | null;
  receipt_sequence: number;
  treaties_synced_at: string | null;
  /** JSON array of the peer's mirror base URLs, in the order they are tried. */
  mirror_urls: string;
}

export interface MirroredTreaty {
  treaty_id: string;
  subject: string;
  valid_from: string;
  expires_at: string;
  /** Canonical JSON of the treaty as the peer served it. */
  body: string;
}

/** A mirrored treaty as the connectome reads it (raw row, in this column order). */
export type MirroredTreatyRow = [
  treatyId: string,
  peer: string,
  subject: string,
  validFrom: string,
  expiresAt: string,
  roles: string | null,
  replacedBy: null,
  body: string,
];

export interface StoredReceipt {
  importer_sovereign_id: string;
  sequence: number;
  feed_hash: string;
  received_at: string;
  recorded_at: string;
}

type Stmt = Statement<unknown[]>;

function build(sqlite: Sqlite) {
  const prepare = (sql: string): Stmt => sqlite.prepare(sql);
  return {
    peer: prepare('SELECT * FROM peers WHERE sovereign_id = ?'),
    peers: prepare('SELECT * FROM peers ORDER BY sovereign_id'),
    peerIds: prepare('SELECT sovereign_id FROM peers ORDER BY sovereign_id').pluck(),
    insertPeer: prepare('INSERT INTO peers (sovereign_id, base_url, profile, created_at, mirror_urls) VALUES (?, ?, ?, ?, ?)'),
    setMirrors: prepare('UPDATE peers SET mirror_urls = ? WHERE sovereign_id = ?'),
    deletePeer: prepare('DELETE FROM peers WHERE sovereign_id = ?'),
    profiles: prepare('SELECT sovereign_id, profile FROM peers ORDER BY sovereign_id'),
    upsertProfile: prepare(
      `INSERT INTO peers (sovereign_id, base_url, profile, created_at) VALUES (?, '', ?, ?)
       ON CONFLICT (sovereign_id) DO UPDATE SET profile = excluded.profile`,
    ),
    clearBackoff: prepare('UPDATE peers SET next_attempt_at = NULL WHERE sovereign_id = ?'),
    failures: prepare('SELECT consecutive_failures FROM peers WHERE sovereign_id = ?').pluck(),
    pullSucceeded: prepare(
      'UPDATE peers SET last_attempt_at = ?, last_success_at = ?, last_error = NULL, consecutive_failures = 0, next_attempt_at = NULL WHERE sovereign_id = ?',
    ),
    pullFailed: prepare(
      'UPDATE peers SET last_attempt_at = ?, last_error = ?, consecutive_failures = ?, next_attempt_at = ? WHERE sovereign_id = ?',
    ),
    receiptSent: prepare('UPDATE peers SET receipt_sequence = ? WHERE sovereign_id = ? AND receipt_sequence < ?'),
    deleteTreaties: prepare('DELETE FROM peer_treaties WHERE peer_sovereign_id = ?'),
    insertTreaty: prepare(
      'INSERT OR REPLACE INTO peer_treaties (peer_sovereign_id, treaty_id, subject_sovereign_id, valid_from, expires_at, body, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    treatiesSynced: prepare('UPDATE peers SET treaties_synced_at = ? WHERE sovereign_id = ?'),
    mirroredTreaties: prepare(
      `SELECT treaty_id, peer_sovereign_id, subject_sovereign_id, valid_from, expires_at,
              json_extract(body, '$.scope.allowed_roles'), NULL, body
       FROM peer_treaties`,
    ).raw(true),
    receiptSequence: prepare('SELECT sequence FROM feed_receipts WHERE importer_sovereign_id = ?').pluck(),
    upsertReceipt: prepare(
      `INSERT INTO feed_receipts (importer_sovereign_id, sequence, feed_hash, received_at, recorded_at, body) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (importer_sovereign_id) DO UPDATE SET sequence = excluded.sequence, feed_hash = excluded.feed_hash,
         received_at = excluded.received_at, recorded_at = excluded.recorded_at, body = excluded.body`,
    ),
    receipts: prepare(
      'SELECT importer_sovereign_id, sequence, feed_hash, received_at, recorded_at FROM feed_receipts ORDER BY importer_sovereign_id',
    ),
  };
}

const statements = perConnection(build);

// ---- Peers.

export function readPeer(sqlite: Sqlite, id: string): PeerRow | undefined {
  return statements(sqlite).peer.get(id) as PeerRow | undefined;
}

/** Every peer, ordered by sovereign id. */
export function readPeers(sqlite: Sqlite): PeerRow[] {
  return statements(sqlite).peers.all() as PeerRow[];
}

/** Sovereign ids of the configured peers, in order. */
export function readPeerIds(sqlite: Sqlite): string[] {
  return statements(sqlite).peerIds.all() as string[];
}

export function insertPeer(
  sqlite: Sqlite,
  peer: { sovereign_id: string; base_url: string; profile: string | null; created_at: string; mirror_urls: string },
): void {
  statements(sqlite).insertPeer.run(peer.sovereign_id, peer.base_url, peer.profile, peer.created_at, peer.mirror_urls);
}

/** Replaces a peer's mirror URLs (a JSON array). In the caller's transaction. */
export function setPeerMirrorUrls(sqlite: Sqlite, id: string, mirrorUrls: string): void {
  statements(sqlite).setMirrors.run(mirrorUrls, id);
}

/** Every peer's id and chosen wire profile, ordered by id (what a follower needs of the peers). */
export function readPeerProfiles(sqlite: Sqlite): Array<{ sovereign_id: string; profile: string | null }> {
  return statements(sqlite).profiles.all() as Array<{ sovereign_id: string; profile: string | null }>;
}

/**
 * Makes the peers a follower knows exactly `peers`: ids and wire profiles only (its base URL stays
 * empty: a follower never pulls a peer). In the caller's transaction.
 */
export function replacePeerProfiles(
  sqlite: Sqlite,
  peers: ReadonlyArray<{ sovereign_id: string; profile: string | null }>,
  at: string,
): void {
  const s = statements(sqlite);
  const keep = new Set(peers.map((p) => p.sovereign_id));
  for (const id of s.peerIds.all() as string[]) if (!keep.has(id)) deletePeer(sqlite, id);
  for (const p of peers) s.upsertProfile.run(p.sovereign_id, p.profile, at);
}

/** Removes a peer and its mirrored treaties. In the caller's transaction. */
export function deletePeer(sqlite: Sqlite, id: string): void {
  const s = statements(sqlite);
  s.deleteTreaties.run(id);
  s.deletePeer.run(id);
}

/** Lets the next pull of a peer run at once. */
export function clearPeerBackoff(sqlite: Sqlite, id: string): void {
  statements(sqlite).clearBackoff.run(id);
}

/** The peer's consecutive pull failures, undefined when the peer is gone. */
export function readPeerFailures(sqlite: Sqlite, id: string): number | undefined {
  return statements(sqlite).failures.get(id) as number | undefined;
}

export function recordPullSuccess(sqlite: Sqlite, id: string, at: string): void {
  statements(sqlite).pullSucceeded.run(at, at, id);
}

export function recordPullFailure(
  sqlite: Sqlite,
  id: string,
  failure: { at: string; error: string; failures: number; nextAttemptAt: string },
): void {
  statements(sqlite).pullFailed.run(failure.at, failure.error, failure.failures, failure.nextAttemptAt, id);
}

/** Notes that the peer has our receipt up to `sequence` (never lowers it). */
export function recordReceiptSent(sqlite: Sqlite, id: string, sequence: number): void {
  statements(sqlite).receiptSent.run(sequence, id, sequence);
}

// ---- Mirrored treaties.

/** Replaces a peer's mirrored treaties and notes when. In the caller's transaction. */
export function replacePeerTreaties(sqlite: Sqlite, peer: string, treaties: readonly MirroredTreaty[], at: string): void {
  const s = statements(sqlite);
  s.deleteTreaties.run(peer);
  for (const t of treaties) s.insertTreaty.run(peer, t.treaty_id, t.subject, t.valid_from, t.expires_at, t.body, at);
  s.treatiesSynced.run(at, peer);
}

/** Every mirrored treaty, with its roles as JSON text. */
export function readMirroredTreaties(sqlite: Sqlite): MirroredTreatyRow[] {
  return statements(sqlite).mirroredTreaties.all() as MirroredTreatyRow[];
}

// ---- Receipts importers sent us.

/** The sequence of the importer's stored receipt, undefined when none. */
export function readReceiptSequence(sqlite: Sqlite, importer: string): number | undefined {
  return statements(sqlite).receiptSequence.get(importer) as number | undefined;
}

/** Stores an importer's latest receipt. In the caller's transaction, after `readReceiptSequence`. */
export function storeReceipt(sqlite: Sqlite, r: StoredReceipt & { body: string }): void {
  statements(sqlite).upsertReceipt.run(r.importer_sovereign_id, r.sequence, r.feed_hash, r.received_at, r.recorded_at, r.body);
}

/** The latest receipt of each importer, ordered by importer id. */
export function readReceipts(sqlite: Sqlite): StoredReceipt[] {
  return statements(sqlite).receipts.all() as StoredReceipt[];
}
