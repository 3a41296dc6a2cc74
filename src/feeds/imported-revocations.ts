// Read side of imported feeds: "did this issuer revoke that?" and "is this issuer's feed fresh?".
import type { Statement } from 'better-sqlite3';
import type { Sqlite } from '../db/database.ts';
import type { RevocationKind } from './revocation-log.ts';

export interface ImportedRevocation {
  issuer_sovereign_id: string;
  kind: RevocationKind;
  id: string;
  reason: string;
  revoked_at: string;
  feed_sequence: number;
  invalid_since?: string;
}

const lookups = new WeakMap<Sqlite, Statement<unknown[]>>();

/** The earliest imported revocation of `id` by `issuer`, or null (indexed lookup; hot path of verify). */
export function findImportedRevocation(sqlite: Sqlite, issuer: string, kind: RevocationKind, id: string): ImportedRevocation | null {
  let stmt = lookups.get(sqlite);
  if (!stmt) {
    stmt = sqlite.prepare(
      `SELECT issuer_sovereign_id, kind, id, reason, revoked_at, feed_sequence, invalid_since FROM imported_revocations
       WHERE issuer_sovereign_id = ? AND kind = ? AND id = ? ORDER BY log_index LIMIT 1`,
    );
    lookups.set(sqlite, stmt);
  }
  const row = stmt.get(issuer, kind, id) as (Omit<ImportedRevocation, 'invalid_since'> & { invalid_since: string | null }) | undefined;
  if (!row) return null;
  const { invalid_since, ...rest } = row;
  return { ...rest, ...(invalid_since ? { invalid_since } : {}) };
}

export interface IssuerFeedStatus {
  issuer_sovereign_id: string;
  imported_sequence: number;
  last_import_at: string | null;
  next_update: string | null;
  /** Past `next_update` with no newer feed. */
  stale: boolean;
  paused: boolean;
}

export function issuerFeedStatus(sqlite: Sqlite, issuer: string, now: Date): IssuerFeedStatus | null {
  const row = sqlite
    .prepare('SELECT issuer_sovereign_id, last_sequence, last_import_at, next_update, paused FROM feed_issuers WHERE issuer_sovereign_id = ?')
    .get(issuer) as { issuer_sovereign_id: string; last_sequence: number; last_import_at: string | null; next_update: string | null; paused: number } | undefined;
  if (!row) return null;
  return {
    issuer_sovereign_id: row.issuer_sovereign_id,
    imported_sequence: row.last_sequence,
    last_import_at: row.last_import_at,
    next_update: row.next_update,
    stale: row.next_update !== null && new Date(row.next_update).getTime() < now.getTime(),
    paused: row.paused === 1,
  };
}
