// The nonce of a signed admin request is stored in the transaction of the change the request makes:
// one commit per request instead of two, and a request that changed something can never be replayed.
import { statementOnce, type Sqlite } from '../db/database.ts';

export interface RequestNonce {
  keyId: string;
  nonce: string;
  seenAt: string;
}

const nonceInsert = statementOnce('INSERT INTO admin_nonces (key_id, nonce, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
const nonceLookup = statementOnce('SELECT 1 FROM admin_nonces WHERE key_id = ? AND nonce = ?', { pluck: true });

export function storeNonce(sqlite: Sqlite, nonce: RequestNonce): void {
  nonceInsert(sqlite).run(nonce.keyId, nonce.nonce, nonce.seenAt);
}

export function nonceSeen(sqlite: Sqlite, keyId: string, nonce: string): boolean {
  return nonceLookup(sqlite).get(keyId, nonce) !== undefined;
}
