// All SQL of admin request nonces: storing one, asking whether one was seen, pruning old ones.
//
// What a second backend must guarantee to implement this store:
// - `storeNonce` runs inside the caller's transaction (the change the request makes, through the
//   audit writer), so the nonce commits with the change or not at all; storing a nonce already
//   stored is not an error (ON CONFLICT DO NOTHING).
// - (key_id, nonce) is unique, so a replay that races past `nonceSeen` still cannot store twice.
// - One writer at a time (serving lock, BEGIN IMMEDIATE): `nonceSeen` then `storeNonce` on a request
//   that changed nothing runs in the request's own commit.
// - `pruneNonces` may run outside a transaction; it only deletes nonces older than the replay window.
import { statementOnce, type Sqlite } from '../db/database.ts';
import type { RequestNonce } from './request-nonces.ts';

const nonceInsert = statementOnce('INSERT INTO admin_nonces (key_id, nonce, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
const nonceLookup = statementOnce('SELECT 1 FROM admin_nonces WHERE key_id = ? AND nonce = ?', { pluck: true });
const nonceDelete = statementOnce('DELETE FROM admin_nonces WHERE seen_at < ?');

export function storeNonce(sqlite: Sqlite, nonce: RequestNonce): void {
  nonceInsert(sqlite).run(nonce.keyId, nonce.nonce, nonce.seenAt);
}

export function nonceSeen(sqlite: Sqlite, keyId: string, nonce: string): boolean {
  return nonceLookup(sqlite).get(keyId, nonce) !== undefined;
}

/** Deletes nonces seen before `before` (a timestamp): requests that old are refused by their date. */
export function pruneNonces(sqlite: Sqlite, before: string): void {
  nonceDelete(sqlite).run(before);
}
