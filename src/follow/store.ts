// All SQL of following: the follower updates a primary signed, and a follower's state (whom it follows, pinned keys, what it applied).
//
// What a second backend must guarantee to implement this store:
// - One writer (serving lock, BEGIN IMMEDIATE). A primary reads the latest update and its watermark, and
//   writes the next one, in one serializable transaction, so two publishing triggers never sign the same
//   sequence twice. A follower writes its state in the transaction that applies an update's rows.
// - Updates are never changed once written, except that the watermark of all but the latest is dropped.
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';

type Stmt = Statement<unknown[]>;

export interface UpdateRow {
  sequence: number;
  update_hash: string;
  issued_at: string;
  next_update: string;
  body: string;
  watermark: string | null;
}

export interface FollowerStateRow {
  primary_url: string;
  sovereign_id: string;
  /** JSON array of base64 public keys. */
  pinned_keys: string;
  pinned_by: 'command_line' | 'first_use';
  pinned_at: string;
  applied_sequence: number;
  applied_hash: string | null;
  applied_issued_at: string | null;
  next_update: string | null;
  declaration: string | null;
  applied_at: string | null;
}

function build(sqlite: Sqlite) {
  const prepare = (sql: string): Stmt => sqlite.prepare(sql);
  return {
    latest: prepare('SELECT * FROM follower_updates ORDER BY sequence DESC LIMIT 1'),
    bySequence: prepare('SELECT sequence, update_hash, body FROM follower_updates WHERE sequence = ?'),
    all: prepare('SELECT sequence, update_hash, body FROM follower_updates ORDER BY sequence'),
    insert: prepare(
      'INSERT INTO follower_updates (sequence, update_hash, issued_at, next_update, body, watermark) VALUES (@sequence, @update_hash, @issued_at, @next_update, @body, @watermark)',
    ),
    dropWatermarks: prepare('UPDATE follower_updates SET watermark = NULL WHERE sequence < ? AND watermark IS NOT NULL'),
    state: prepare('SELECT * FROM follower_state WHERE id = 1'),
    insertState: prepare(
      `INSERT INTO follower_state (id, primary_url, sovereign_id, pinned_keys, pinned_by, pinned_at, declaration)
       VALUES (1, @primary_url, @sovereign_id, @pinned_keys, @pinned_by, @pinned_at, @declaration)`,
    ),
    setUrl: prepare('UPDATE follower_state SET primary_url = ? WHERE id = 1'),
    applied: prepare(
      `UPDATE follower_state SET applied_sequence = @applied_sequence, applied_hash = @applied_hash, applied_issued_at = @applied_issued_at,
         next_update = @next_update, applied_at = @applied_at, declaration = COALESCE(@declaration, declaration),
         pinned_keys = COALESCE(@pinned_keys, pinned_keys) WHERE id = 1`,
    ),
  };
}

const statements = perConnection(build);

// ---- A primary's updates.

export function readLatestUpdate(sqlite: Sqlite): UpdateRow | undefined {
  return statements(sqlite).latest.get() as UpdateRow | undefined;
}

export function readUpdate(sqlite: Sqlite, sequence: number): { sequence: number; update_hash: string; body: string } | undefined {
  return statements(sqlite).bySequence.get(sequence) as { sequence: number; update_hash: string; body: string } | undefined;
}

/** Every update, oldest first, one at a time. */
export function* iterateUpdates(sqlite: Sqlite): Generator<{ sequence: number; update_hash: string; body: string }> {
  for (const row of statements(sqlite).all.iterate()) yield row as { sequence: number; update_hash: string; body: string };
}

/** Stores a newly signed update and drops the watermarks of the ones before it. In the caller's transaction. */
export function insertUpdate(sqlite: Sqlite, row: UpdateRow): void {
  const s = statements(sqlite);
  s.insert.run(row);
  s.dropWatermarks.run(row.sequence);
}

// ---- A follower's state.

export function readFollowerState(sqlite: Sqlite): FollowerStateRow | undefined {
  return statements(sqlite).state.get() as FollowerStateRow | undefined;
}

export function insertFollowerState(
  sqlite: Sqlite,
  row: Pick<FollowerStateRow, 'primary_url' | 'sovereign_id' | 'pinned_keys' | 'pinned_by' | 'pinned_at' | 'declaration'>,
): void {
  statements(sqlite).insertState.run(row);
}

export function setFollowerPrimaryUrl(sqlite: Sqlite, url: string): void {
  statements(sqlite).setUrl.run(url);
}

/** Records an applied update (and, when they changed, the declaration and pinned keys). In the caller's transaction. */
export function recordApplied(
  sqlite: Sqlite,
  r: {
    applied_sequence: number;
    applied_hash: string;
    applied_issued_at: string;
    next_update: string;
    applied_at: string;
    declaration: string | null;
    pinned_keys: string | null;
  },
): void {
  statements(sqlite).applied.run(r);
}

/** The primary's declaration as a follower received it (exact text), or null before the first. */
export function followerDeclaration(deps: { db: { sqlite: Sqlite } }): string | null {
  return readFollowerState(deps.db.sqlite)?.declaration ?? null;
}
