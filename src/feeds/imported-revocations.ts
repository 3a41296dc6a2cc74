// Read side of imported feeds: "did this issuer revoke that?" and "is this issuer's feed fresh?".
import { statementOnce, type Sqlite } from '../db/database.ts';
import type { RevocationKind } from '../log/revocation-log.ts';

export interface ImportedRevocation {
  issuer_sovereign_id: string;
  kind: RevocationKind;
  id: string;
  reason: string;
  revoked_at: string;
  feed_sequence: number;
  invalid_since?: string;
}

const revocationLookup = statementOnce(
  `SELECT issuer_sovereign_id, kind, id, reason, revoked_at, feed_sequence, invalid_since FROM imported_revocations
   WHERE issuer_sovereign_id = ? AND kind = ? AND id = ? ORDER BY log_index LIMIT 1`,
);

/** The earliest imported revocation of `id` by `issuer`, or null (indexed lookup; hot path of verify). */
export function findImportedRevocation(sqlite: Sqlite, issuer: string, kind: RevocationKind, id: string): ImportedRevocation | null {
  const row = revocationLookup(sqlite).get(issuer, kind, id) as (Omit<ImportedRevocation, 'invalid_since'> & { invalid_since: string | null }) | undefined;
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

const FEED_ROW_COLUMNS = 'issuer_sovereign_id, last_sequence, last_import_at, next_update, paused';
const feedRowLookup = statementOnce(`SELECT ${FEED_ROW_COLUMNS} FROM feed_issuers WHERE issuer_sovereign_id = ?`);
const feedRowList = statementOnce(`SELECT ${FEED_ROW_COLUMNS} FROM feed_issuers ORDER BY issuer_sovereign_id`);
const kindPresence = statementOnce('SELECT EXISTS (SELECT 1 FROM imported_revocations WHERE issuer_sovereign_id = ? AND kind = ?)', { pluck: true });
const revokedIdList = statementOnce('SELECT DISTINCT id FROM imported_revocations WHERE issuer_sovereign_id = ? AND kind = ?', { pluck: true });

/** One issuer's import state at `now`. */
export function issuerFeedStatus(sqlite: Sqlite, issuer: string, now: Date): IssuerFeedStatus | null {
  const row = issuerFeedRow(sqlite, issuer);
  return row ? feedStatusAt(row, now) : null;
}

export type IssuerFeedRow = { issuer_sovereign_id: string; last_sequence: number; last_import_at: string | null; next_update: string | null; paused: number };

/** One issuer's stored import state, or null when nothing was imported from it (nor paused). */
export function issuerFeedRow(sqlite: Sqlite, issuer: string): IssuerFeedRow | null {
  return (feedRowLookup(sqlite).get(issuer) as IssuerFeedRow | undefined) ?? null;
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
  return kindPresence(sqlite).get(issuer, kind) === 1;
}

/** Every id of one kind the issuer revoked in its imported feeds (for small kinds: its keys). */
export function importedRevokedIds(sqlite: Sqlite, issuer: string, kind: RevocationKind): Set<string> {
  return new Set(revokedIdList(sqlite).all(issuer, kind) as string[]);
}

/** Import state of every issuer this authority has imported from (or paused), ordered by issuer id. */
export function listIssuerFeedStatuses(sqlite: Sqlite, now: Date): IssuerFeedStatus[] {
  // Prepared once per connection: every import refreshes the staleness gauge through this.
  const rows = feedRowList(sqlite).all() as IssuerFeedRow[];
  return rows.map((row) => feedStatusAt(row, now));
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
  const rows = sqlite
    .prepare(
      `SELECT issuer_sovereign_id, log_index, kind, id, reason, revoked_at, feed_sequence, subject_sovereign_id, invalid_since, incident
       FROM imported_revocations ${options.issuer !== undefined ? 'WHERE issuer_sovereign_id = ?' : ''} ORDER BY issuer_sovereign_id, log_index`,
    )
    .all(...(options.issuer !== undefined ? [options.issuer] : [])) as Array<
    Omit<ImportedRevocationRecord, 'subject_sovereign_id' | 'incident' | 'invalid_since'> & { subject_sovereign_id: string | null; incident: string | null; invalid_since: string | null }
  >;
  return rows.map(({ subject_sovereign_id, incident, invalid_since, ...rest }) => ({
    ...rest,
    ...(subject_sovereign_id ? { subject_sovereign_id } : {}),
    ...(invalid_since ? { invalid_since } : {}),
    ...(incident ? { incident } : {}),
  }));
}
