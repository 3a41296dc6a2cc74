// Read side of imported feeds: "did this issuer revoke that?" and "is this issuer's feed fresh?".
import type { Sqlite } from '../db/database.ts';
import type { RevocationKind } from '../log/store.ts';
import {
  hasImportedRevocationOfKind,
  readImportedRevocation,
  readImportedRevocations,
  readImportedRevokedIds,
  readIssuerFeedRow,
  readIssuerFeedRows,
  type IssuerFeedRow,
} from './imported-store.ts';

export type { IssuerFeedRow };

export interface ImportedRevocation {
  issuer_sovereign_id: string;
  kind: RevocationKind;
  id: string;
  reason: string;
  revoked_at: string;
  feed_sequence: number;
  invalid_since?: string;
}

/** The earliest imported revocation of `id` by `issuer`, or null (indexed lookup; hot path of verify). */
export function findImportedRevocation(sqlite: Sqlite, issuer: string, kind: RevocationKind, id: string): ImportedRevocation | null {
  const row = readImportedRevocation(sqlite, issuer, kind, id);
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

/** One issuer's import state at `now`. */
export function issuerFeedStatus(sqlite: Sqlite, issuer: string, now: Date): IssuerFeedStatus | null {
  const row = issuerFeedRow(sqlite, issuer);
  return row ? feedStatusAt(row, now) : null;
}

/** One issuer's stored import state, or null when nothing was imported from it (nor paused). */
export function issuerFeedRow(sqlite: Sqlite, issuer: string): IssuerFeedRow | null {
  return readIssuerFeedRow(sqlite, issuer) ?? null;
}

/** The status of a stored import state at `now` (stale once past its `next_update`). */
export function feedStatusAt(row: IssuerFeedRow, now: Date): IssuerFeedStatus {
  return {
    issuer_sovereign_id: row.issuer_sovereign_id,
    imported_sequence: row.last_sequence,
    last_import_at: row.last_import_at,
    next_update: row.next_update,
    stale: row.next_update !== null && new Date(row.next_update).getTime() < now.getTime(),
    paused: row.paused === 1,
  };
}

/** Whether the issuer revoked anything of this kind in its imported feeds (one index seek). */
export function hasImportedRevocations(sqlite: Sqlite, issuer: string, kind: RevocationKind): boolean {
  return hasImportedRevocationOfKind(sqlite, issuer, kind);
}

/** Every id of one kind the issuer revoked in its imported feeds (for small kinds: its keys). */
export function importedRevokedIds(sqlite: Sqlite, issuer: string, kind: RevocationKind): Set<string> {
  return new Set(readImportedRevokedIds(sqlite, issuer, kind));
}

/** Import state of every issuer this authority has imported from (or paused), ordered by issuer id. */
export function listIssuerFeedStatuses(sqlite: Sqlite, now: Date): IssuerFeedStatus[] {
  // Prepared once per connection: every import refreshes the staleness gauge through this.
  return readIssuerFeedRows(sqlite).map((row) => feedStatusAt(row, now));
}

export interface ImportedRevocationRecord extends ImportedRevocation {
  log_index: number;
  subject_sovereign_id?: string;
  incident?: string;
}

/**
 * Every imported revocation (attestations, treaties and keys: revoked trust material), ordered by
 * issuer and log index; optionally one issuer's only.
 */
export function listImportedRevocations(sqlite: Sqlite, options: { issuer?: string } = {}): ImportedRevocationRecord[] {
  const rows = readImportedRevocations(sqlite, options.issuer);
  return rows.map(({ subject_sovereign_id, incident, invalid_since, ...rest }) => ({
    ...rest,
    ...(subject_sovereign_id ? { subject_sovereign_id } : {}),
    ...(invalid_since ? { invalid_since } : {}),
    ...(incident ? { incident } : {}),
  }));
}
