// All SQL of watching peers: the declarations they served, the key changes seen in them, and each peer's watch and incident state.
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';

/*
 * What a second backend must guarantee to implement this store:
 *
 * - One writer. Every write runs in the caller's write transaction (`.immediate()`: BEGIN IMMEDIATE
 *   under the serving lock) together with the audit event that records it, where there is one.
 * - Read-then-write in one transaction: a declaration poll reads the peer's latest stored declaration
 *   and its watch row, decides, and writes the next declaration, the key change and the watch row;
 *   containment, repin, a test pull and resume read the watch row they rewrite. A backend without a
 *   single writer locks the peer's watch row (SELECT … FOR UPDATE) or runs SERIALIZABLE.
 * - Declarations and key changes are only ever inserted (evidence); `touchDeclaration` moves only
 *   `last_seen_at` forward.
 */

export interface DeclaredKey {
  key_id: string;
  public_key: string;
  not_after?: string;
}

export interface StoredDeclaration {
  id: number;
  peer_sovereign_id: string;
  profile: string;
  url: string;
  body: string;
  body_hash: string;
  /** JSON array of DeclaredKey. */
  keys: string;
  /** JSON array of key_ids. */
  signed_by: string;
  observed_at: string;
  last_seen_at: string;
}

export interface StoredKeyChange {
  id: number;
  peer_sovereign_id: string;
  kind: 'unannounced' | 'announced';
  previous_declaration_id: number | null;
  declaration_id: number;
  /** JSON arrays. */
  appeared: string;
  disappeared: string;
  pinned_key_ids: string;
  detected_at: string;
}

export interface PeerWatchRow {
  peer_sovereign_id: string;
  declaration_checked_at: string | null;
  declaration_error: string | null;
  /** JSON array of key_ids. */
  unresolved_keys: string;
  contained_at: string | null;
  contained_reason: string | null;
  contained_by: string | null;
  repinned_at: string | null;
  verification_required: number;
  verified_pull_at: string | null;
}

type Stmt = Statement<unknown[]>;

function build(sqlite: Sqlite) {
  const prepare = (sql: string): Stmt => sqlite.prepare(sql);
  return {
    latestDeclaration: prepare('SELECT * FROM peer_declarations WHERE peer_sovereign_id = ? ORDER BY id DESC LIMIT 1'),
    declaration: prepare('SELECT * FROM peer_declarations WHERE id = ?'),
    declarations: prepare('SELECT * FROM peer_declarations WHERE peer_sovereign_id = ? ORDER BY id'),
    declarationKeys: prepare('SELECT keys FROM peer_declarations WHERE peer_sovereign_id = ? ORDER BY id').pluck(),
    insertDeclaration: prepare(
      `INSERT INTO peer_declarations (peer_sovereign_id, profile, url, body, body_hash, keys, signed_by, observed_at, last_seen_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    touchDeclaration: prepare('UPDATE peer_declarations SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?'),
    insertKeyChange: prepare(
      `INSERT INTO peer_key_changes (peer_sovereign_id, kind, previous_declaration_id, declaration_id, appeared, disappeared, pinned_key_ids, detected_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    keyChanges: prepare('SELECT * FROM peer_key_changes WHERE peer_sovereign_id = ? ORDER BY id'),
    watch: prepare('SELECT * FROM peer_watch WHERE peer_sovereign_id = ?'),
    watches: prepare('SELECT * FROM peer_watch ORDER BY peer_sovereign_id'),
    ensureWatch: prepare('INSERT INTO peer_watch (peer_sovereign_id) VALUES (?) ON CONFLICT (peer_sovereign_id) DO NOTHING'),
    polled: prepare(
      'UPDATE peer_watch SET declaration_checked_at = ?, declaration_error = NULL, unresolved_keys = ? WHERE peer_sovereign_id = ?',
    ),
    pollFailed: prepare('UPDATE peer_watch SET declaration_checked_at = ?, declaration_error = ? WHERE peer_sovereign_id = ?'),
    unresolved: prepare('UPDATE peer_watch SET unresolved_keys = ? WHERE peer_sovereign_id = ?'),
    contained: prepare(
      `UPDATE peer_watch SET contained_at = ?, contained_reason = ?, contained_by = ?, verification_required = 1, verified_pull_at = NULL
       WHERE peer_sovereign_id = ?`,
    ),
    repinned: prepare(
      'UPDATE peer_watch SET repinned_at = ?, verification_required = 1, verified_pull_at = NULL WHERE peer_sovereign_id = ?',
    ),
    verified: prepare('UPDATE peer_watch SET verification_required = 0, verified_pull_at = ? WHERE peer_sovereign_id = ?'),
    released: prepare(
      'UPDATE peer_watch SET contained_at = NULL, contained_reason = NULL, contained_by = NULL WHERE peer_sovereign_id = ?',
    ),
  };
}

const statements = perConnection(build);

// ---- Declarations.

export function readLatestDeclaration(sqlite: Sqlite, peer: string): StoredDeclaration | undefined {
  return statements(sqlite).latestDeclaration.get(peer) as StoredDeclaration | undefined;
}

export function readDeclaration(sqlite: Sqlite, id: number): StoredDeclaration | undefined {
  return statements(sqlite).declaration.get(id) as StoredDeclaration | undefined;
}

/** Every stored declaration of a peer, oldest first. */
export function readDeclarations(sqlite: Sqlite, peer: string): StoredDeclaration[] {
  return statements(sqlite).declarations.all(peer) as StoredDeclaration[];
}

/** The key lists (JSON) of every stored declaration of a peer, oldest first. */
export function readDeclaredKeyLists(sqlite: Sqlite, peer: string): string[] {
  return statements(sqlite).declarationKeys.all(peer) as string[];
}

/** Stores a declaration; returns its id. In the caller's transaction. */
export function insertDeclaration(sqlite: Sqlite, d: Omit<StoredDeclaration, 'id'>): number {
  const s = statements(sqlite);
  return Number(
    s.insertDeclaration.run(d.peer_sovereign_id, d.profile, d.url, d.body, d.body_hash, d.keys, d.signed_by, d.observed_at, d.last_seen_at)
      .lastInsertRowid,
  );
}

/** Notes that a stored declaration's keys were seen again at `at`. */
export function touchDeclaration(sqlite: Sqlite, id: number, at: string): void {
  statements(sqlite).touchDeclaration.run(at, id, at);
}

// ---- Key changes.

export function insertKeyChange(sqlite: Sqlite, c: Omit<StoredKeyChange, 'id'>): number {
  return Number(
    statements(sqlite).insertKeyChange.run(
      c.peer_sovereign_id,
      c.kind,
      c.previous_declaration_id,
      c.declaration_id,
      c.appeared,
      c.disappeared,
      c.pinned_key_ids,
      c.detected_at,
    ).lastInsertRowid,
  );
}

/** Every key change seen for a peer, oldest first. */
export function readKeyChanges(sqlite: Sqlite, peer: string): StoredKeyChange[] {
  return statements(sqlite).keyChanges.all(peer) as StoredKeyChange[];
}

// ---- Watch state.

export function readPeerWatch(sqlite: Sqlite, peer: string): PeerWatchRow | undefined {
  return statements(sqlite).watch.get(peer) as PeerWatchRow | undefined;
}

export function readPeerWatches(sqlite: Sqlite): PeerWatchRow[] {
  return statements(sqlite).watches.all() as PeerWatchRow[];
}

/** Creates the peer's watch row if it has none. In the caller's transaction. */
export function ensurePeerWatch(sqlite: Sqlite, peer: string): void {
  statements(sqlite).ensureWatch.run(peer);
}

/** A successful declaration poll: when, and the unannounced key changes still open. */
export function recordDeclarationPolled(sqlite: Sqlite, peer: string, at: string, unresolvedKeys: string): void {
  statements(sqlite).polled.run(at, unresolvedKeys, peer);
}

export function recordDeclarationPollFailed(sqlite: Sqlite, peer: string, at: string, error: string): void {
  statements(sqlite).pollFailed.run(at, error, peer);
}

export function setUnresolvedKeys(sqlite: Sqlite, peer: string, unresolvedKeys: string): void {
  statements(sqlite).unresolved.run(unresolvedKeys, peer);
}

export function recordContained(sqlite: Sqlite, peer: string, at: string, reason: string, by: string | null): void {
  statements(sqlite).contained.run(at, reason, by, peer);
}

export function recordRepinned(sqlite: Sqlite, peer: string, at: string): void {
  statements(sqlite).repinned.run(at, peer);
}

export function recordVerifiedPull(sqlite: Sqlite, peer: string, at: string): void {
  statements(sqlite).verified.run(at, peer);
}

/** Ends a containment (the peer was resumed); the audit log keeps its history. */
export function recordReleased(sqlite: Sqlite, peer: string): void {
  statements(sqlite).released.run(peer);
}
