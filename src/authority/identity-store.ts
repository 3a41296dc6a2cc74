// All SQL of the authority's identity: its meta rows (application, sovereign id) and its signing keys.
//
// What a second backend must guarantee to implement this store:
// - One writer at a time (serving lock, BEGIN IMMEDIATE). The writes (`insertAuthorityMeta`,
//   `insertSigningKey`, `setSigningKeyNotAfter`, `markSigningKeyRetired`) must run inside the
//   caller's transaction, together with the audit event and, for a retirement, the revocation log
//   entry that records them.
// - A rotation reads the current keys and then writes the new one in one serializable transaction
//   (`listSigningKeys` inside it sees every earlier commit and no concurrent one).
// - `listSigningKeys` returns keys in insertion order (created_at, then insertion), oldest first:
//   the newest key is `issued_by` of new objects.
// - `key` of authority_meta and `key_id` of signing keys are unique; a meta row is written once.
import { statementOnce, type Sqlite } from '../db/database.ts';

export interface SigningKeyRow {
  key_id: string;
  public_key: string;
  created_at: string;
  not_after: string | null;
  retired_at: string | null;
}

const metaValue = statementOnce('SELECT value FROM authority_meta WHERE key = ?', { pluck: true });
const metaInsert = statementOnce('INSERT INTO authority_meta (key, value) VALUES (?, ?)');
const signingKeys = statementOnce(
  'SELECT key_id, public_key, created_at, not_after, retired_at FROM authority_signing_keys ORDER BY created_at, rowid',
);
const signingKeyInsert = statementOnce('INSERT INTO authority_signing_keys (key_id, public_key, created_at) VALUES (?, ?, ?)');
const signingKeyNotAfter = statementOnce('UPDATE authority_signing_keys SET not_after = ? WHERE key_id = ?');
const signingKeyRetired = statementOnce('UPDATE authority_signing_keys SET retired_at = ? WHERE key_id = ? AND retired_at IS NULL');
const ping = statementOnce('SELECT 1');
const metaTable = statementOnce("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'authority_meta'");

export function readAuthorityMeta(sqlite: Sqlite, key: string): string | undefined {
  return metaValue(sqlite).get(key) as string | undefined;
}

/** As `readAuthorityMeta`, on a database that may not be an accord database at all (no meta table: undefined). */
export function readAuthorityMetaIfPresent(sqlite: Sqlite, key: string): string | undefined {
  if (!metaTable(sqlite).get()) return undefined;
  return readAuthorityMeta(sqlite, key);
}

export function insertAuthorityMeta(sqlite: Sqlite, key: string, value: string): void {
  metaInsert(sqlite).run(key, value);
}

/** The signing keys as recorded, oldest first. */
export function listSigningKeys(sqlite: Sqlite): SigningKeyRow[] {
  return signingKeys(sqlite).all() as SigningKeyRow[];
}

export function insertSigningKey(sqlite: Sqlite, key: { keyId: string; publicKey: string; createdAt: string }): void {
  signingKeyInsert(sqlite).run(key.keyId, key.publicKey, key.createdAt);
}

export function setSigningKeyNotAfter(sqlite: Sqlite, keyId: string, notAfter: string): void {
  signingKeyNotAfter(sqlite).run(notAfter, keyId);
}

/** Marks a key retired at `at`; a key already retired keeps its first retirement time. */
export function markSigningKeyRetired(sqlite: Sqlite, keyId: string, at: string): void {
  signingKeyRetired(sqlite).run(at, keyId);
}

/** The readiness probe's question: does the database answer a query? Throws when it does not. */
export function probeDatabase(sqlite: Sqlite): void {
  ping(sqlite).get();
}
