// This authority's revocation log: entries appended in the transaction of the revocation they record.
import type { Sqlite } from '../db/database.ts';
import { canonicalJson } from '../authority/canonical-json.ts';
import { appendLeaves, emptyFrontier, frontierRoot, leafHash, type Frontier } from './merkle.ts';

export const REVOCATION_KINDS = ['membership_attestation', 'recognition_treaty', 'public_key'] as const;
export type RevocationKind = (typeof REVOCATION_KINDS)[number];

export const REVOCATION_REASONS = [
  'unspecified',
  'key_compromise',
  'affiliation_changed',
  'superseded',
  'cessation_of_operation',
  'privilege_withdrawn',
  'policy_violation',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** A revocation-log entry as published in feeds (SPEC §5). Optional fields are omitted, never null. */
export interface RevocationEntry {
  index: number;
  kind: RevocationKind;
  id: string;
  reason: RevocationReason;
  revoked_at: string;
  subject_sovereign_id?: string;
  invalid_since?: string;
  incident?: string;
}

export type NewRevocationEntry = Omit<RevocationEntry, 'index'>;

export interface LogHead {
  size: number;
  rootHash: string;
  frontier: Frontier;
}

export function readLogHead(sqlite: Sqlite): LogHead {
  const row = sqlite.prepare('SELECT size, frontier, root_hash FROM revocation_log_state WHERE id = 1').get() as
    | { size: number; frontier: string; root_hash: string }
    | undefined;
  if (!row) {
    const frontier = emptyFrontier();
    return { size: 0, rootHash: `sha256:${frontierRoot(frontier)}`, frontier };
  }
  return { size: row.size, rootHash: row.root_hash, frontier: { size: row.size, hashes: JSON.parse(row.frontier) as string[] } };
}

/**
 * Appends entries to the log and advances the stored Merkle frontier. Must run inside the caller's
 * transaction so the revocation and its log entry commit together.
 */
export function appendRevocations(sqlite: Sqlite, entries: NewRevocationEntry[]): RevocationEntry[] {
  if (!sqlite.inTransaction) throw new Error('appendRevocations must run inside a transaction');
  const head = readLogHead(sqlite);
  const insert = sqlite.prepare('INSERT INTO revocation_log (idx, kind, id, reason, revoked_at, entry, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const written: RevocationEntry[] = [];
  const leaves: string[] = [];
  entries.forEach((input, i) => {
    const entry: RevocationEntry = { index: head.size + i, ...input };
    const text = canonicalJson(entry);
    const leaf = leafHash(Buffer.from(text, 'utf8'));
    insert.run(entry.index, entry.kind, entry.id, entry.reason, entry.revoked_at, text, leaf);
    leaves.push(leaf);
    written.push(entry);
  });
  const frontier = appendLeaves(head.frontier, leaves);
  sqlite
    .prepare(
      `INSERT INTO revocation_log_state (id, size, frontier, root_hash) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier, root_hash = excluded.root_hash`,
    )
    .run(frontier.size, JSON.stringify(frontier.hashes), `sha256:${frontierRoot(frontier)}`);
  return written;
}

export function appendRevocation(sqlite: Sqlite, entry: NewRevocationEntry): RevocationEntry {
  return appendRevocations(sqlite, [entry])[0]!;
}
