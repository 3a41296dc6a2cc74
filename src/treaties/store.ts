// All SQL of the treaties domain: prepared statements over treaties, attestations and their revocations, the treaty list and its counts by lifecycle.
//
// What a second backend must guarantee to implement this store:
// - One writer at a time (serving lock, BEGIN IMMEDIATE). Every insert runs inside the caller's
//   transaction, with the audit event and, for a revocation, the revocation log entry it records
//   (`log_index` comes from the log append in that transaction).
// - Issuance checks read then write in one serializable transaction: the checks (`unexpiredUnrevoked`,
//   `anyTreatyFor`, an existing revocation) see every earlier commit and no concurrent one, so two
//   revocations of one object or two overlapping treaties cannot both commit.
// - Timestamps are fixed-width UTC text and compare as text (`LIFECYCLE_SQL`, the list cursor).
// - Reads (`listTreatyRows`, `treatyLifecycleCounts`) need one consistent snapshot and no lock.
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';
import type { LifecycleState } from './lifecycle.ts';

type Stmt = Statement<unknown[]>;

export interface TreatyRow {
  treaty_id: string;
  issuer_sovereign_id: string;
  subject_sovereign_id: string;
  issued_at: string;
  valid_from: string;
  expires_at: string;
  issued_by: string;
  authorized_by: string | null;
  subject_profile: string;
  body: string;
}

export interface RevocationRow {
  reason: string;
  revoked_at: string;
  incident: string | null;
  replaced_by: string | null;
  revoked_by_key_id: string | null;
  log_index: number;
}

export interface AttestationRow {
  attestation_id: string;
  issuer_sovereign_id: string;
  subject_id: string;
  issued_at: string;
  valid_from: string;
  expires_at: string;
  issued_by: string;
  authorized_by: string | null;
  body: string;
}

function build(sqlite: Sqlite) {
  const prepare = (sql: string): Stmt => sqlite.prepare(sql);
  return {
    selfId: prepare("SELECT value FROM authority_meta WHERE key = 'sovereign_id'"),
    insertTreaty: prepare(
      `INSERT INTO treaties (treaty_id, issuer_sovereign_id, subject_sovereign_id, issued_at, valid_from, expires_at, issued_by, authorized_by, subject_profile, body)
       VALUES (@treaty_id, @issuer_sovereign_id, @subject_sovereign_id, @issued_at, @valid_from, @expires_at, @issued_by, @authorized_by, @subject_profile, @body)`,
    ),
    treaty: prepare('SELECT * FROM treaties WHERE treaty_id = ?'),
    treatyRevocation: prepare(
      'SELECT reason, revoked_at, incident, replaced_by, revoked_by_key_id, log_index FROM treaty_revocations WHERE treaty_id = ?',
    ),
    insertTreatyRevocation: prepare(
      `INSERT INTO treaty_revocations (treaty_id, reason, revoked_at, incident, replaced_by, revoked_by_key_id, log_index)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    treatiesByOperator: prepare(
      `SELECT t.treaty_id, t.subject_sovereign_id, t.issued_at, r.reason AS revoked_reason FROM treaties t
       LEFT JOIN treaty_revocations r ON r.treaty_id = t.treaty_id
       WHERE t.authorized_by = ? AND t.issuer_sovereign_id = ? AND t.issued_at >= ? AND t.issued_at <= ?
       ORDER BY t.issued_at, t.treaty_id`,
    ),
    /** Own, unrevoked treaties of a subject that have not expired at the given time (any start). */
    unexpiredUnrevoked: prepare(
      `SELECT t.treaty_id, t.valid_from, t.expires_at, t.issued_at, t.subject_profile, t.body FROM treaties t
       LEFT JOIN treaty_revocations r ON r.treaty_id = t.treaty_id
       WHERE t.subject_sovereign_id = ? AND t.issuer_sovereign_id = ? AND r.treaty_id IS NULL AND t.expires_at > ?
       ORDER BY t.issued_at, t.treaty_id`,
    ),
    anyTreatyFor: prepare('SELECT 1 FROM treaties WHERE subject_sovereign_id = ? AND issuer_sovereign_id = ? LIMIT 1'),
    insertAttestation: prepare(
      `INSERT INTO attestations (attestation_id, issuer_sovereign_id, subject_id, issued_at, valid_from, expires_at, issued_by, authorized_by, body)
       VALUES (@attestation_id, @issuer_sovereign_id, @subject_id, @issued_at, @valid_from, @expires_at, @issued_by, @authorized_by, @body)`,
    ),
    attestation: prepare('SELECT * FROM attestations WHERE attestation_id = ?'),
    attestationRevocation: prepare(
      'SELECT reason, revoked_at, incident, NULL AS replaced_by, revoked_by_key_id, log_index FROM attestation_revocations WHERE attestation_id = ?',
    ),
    insertAttestationRevocation: prepare(
      `INSERT INTO attestation_revocations (attestation_id, reason, revoked_at, incident, revoked_by_key_id, log_index) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    treatiesAfter: prepare(
      'SELECT rowid, treaty_id, issuer_sovereign_id, subject_sovereign_id, issued_at, valid_from, expires_at, issued_by, subject_profile, body FROM treaties WHERE rowid > ? ORDER BY rowid LIMIT ?',
    ),
    replacementsBetween: prepare(
      'SELECT treaty_id, replaced_by FROM treaty_revocations WHERE replaced_by IS NOT NULL AND log_index >= ? AND log_index < ? ORDER BY log_index',
    ),
    treatyExists: prepare('SELECT 1 FROM treaties WHERE treaty_id = ?').pluck(),
    attestationsByOperator: prepare(
      `SELECT a.attestation_id, a.subject_id, a.issued_at, r.reason AS revoked_reason FROM attestations a
       LEFT JOIN attestation_revocations r ON r.attestation_id = a.attestation_id
       WHERE a.authorized_by = ? AND a.issuer_sovereign_id = ? AND a.issued_at >= ? AND a.issued_at <= ?
       ORDER BY a.issued_at, a.attestation_id`,
    ),
  };
}

export type TreatyStatements = ReturnType<typeof build>;

/** Prepared statements of one database, prepared once. */
export const statements = perConnection(build);

/** This database's sovereign id (from its identity rows). */
export function selfSovereignId(sqlite: Sqlite): string | undefined {
  return (statements(sqlite).selfId.get() as { value: string } | undefined)?.value;
}

/** A treaty as a follower receives it: the stored row less who authorized it (an operator key is the primary's business). */
export type TreatyCopy = Omit<TreatyRow, 'authorized_by'>;

/** Treaties stored after row `afterRowid`, in the order they were stored, at most `limit`, each with its row id. */
export function readTreatiesAfter(sqlite: Sqlite, afterRowid: number, limit: number): Array<TreatyCopy & { rowid: number }> {
  return statements(sqlite).treatiesAfter.all(afterRowid, limit) as Array<TreatyCopy & { rowid: number }>;
}

/** Treaties revoked at log indexes [from, to) that were superseded, with their replacement. */
export function readReplacementsBetween(sqlite: Sqlite, from: number, to: number): Array<{ treaty_id: string; replaced_by: string }> {
  return statements(sqlite).replacementsBetween.all(from, to) as Array<{ treaty_id: string; replaced_by: string }>;
}

export function treatyExists(sqlite: Sqlite, id: string): boolean {
  return statements(sqlite).treatyExists.get(id) === 1;
}

/** Stores a follower's copy of a treaty. In the caller's transaction. */
export function insertTreatyCopy(sqlite: Sqlite, row: TreatyCopy): void {
  statements(sqlite).insertTreaty.run({ ...row, authorized_by: null });
}

/** Stores a follower's copy of a treaty revocation, as its published log entry states it. In the caller's transaction. */
export function insertTreatyRevocationCopy(
  sqlite: Sqlite,
  r: { treaty_id: string; reason: string; revoked_at: string; incident: string | null; replaced_by: string | null; log_index: number },
): void {
  statements(sqlite).insertTreatyRevocation.run(r.treaty_id, r.reason, r.revoked_at, r.incident, r.replaced_by, null, r.log_index);
}

const everyTreaty = perConnection((sqlite) =>
  sqlite
    .prepare(
      `SELECT t.treaty_id, t.issuer_sovereign_id, t.subject_sovereign_id, t.valid_from, t.expires_at,
              json_extract(t.body, '$.scope.allowed_roles'), r.replaced_by, t.body
       FROM treaties t LEFT JOIN treaty_revocations r ON r.treaty_id = t.treaty_id`,
    )
    .raw(true),
);

/** A treaty this authority issued, with its roles (JSON text) and the replacement of a superseded one. */
export type TreatySummaryRow = [
  treatyId: string,
  issuer: string,
  subject: string,
  validFrom: string,
  expiresAt: string,
  roles: string | null,
  replacedBy: string | null,
  body: string,
];

/** Every treaty this authority issued, as summary rows. */
export function readTreatySummaries(sqlite: Sqlite): TreatySummaryRow[] {
  return everyTreaty(sqlite).all() as TreatySummaryRow[];
}

/**
 * The classification of `lifecycleAt` (lifecycle.ts) as a SQL CASE over columns of treaties `t` and
 * revocations `r`, for filtering and counting without parsing bodies. Timestamps compare as text:
 * they share one fixed-width UTC form. Parameters: now, now + 72 h (both as timestamps).
 */
const LIFECYCLE_SQL = `CASE
  WHEN r.replaced_by IS NOT NULL THEN 'replaced'
  WHEN r.reason IS NOT NULL THEN 'revoked'
  WHEN t.expires_at <= :now THEN 'expired'
  WHEN t.valid_from > :now THEN 'not_yet_valid'
  WHEN t.expires_at <= :soon THEN 'expiring_soon'
  ELSE 'active' END`;

export interface TreatyListFilter {
  issuer?: string | undefined;
  subject?: string | undefined;
  state?: LifecycleState | undefined;
  /** The last item of the previous page (issued_at, treaty_id). */
  after?: readonly [string, string] | undefined;
}

/** A treaty of the list with its revocation columns (all null when it is not revoked). */
export type TreatyListRow = { treaty_id: string; issued_at: string; body: string } & {
  [K in keyof RevocationRow]: RevocationRow[K] | null;
};

// One prepared statement per filter combination (at most 16), per database.
const listStatements = perConnection(() => new Map<string, Stmt>());

/**
 * Treaties oldest first by (issued_at, treaty_id), at most `limit`; `now` and `soon` (now + 72 h)
 * are the timestamps the lifecycle filter classifies at.
 */
export function listTreatyRows(
  sqlite: Sqlite,
  filter: TreatyListFilter,
  at: { now: string; soon: string },
  limit: number,
): TreatyListRow[] {
  const where: string[] = [];
  const params: Record<string, unknown> = { now: at.now, soon: at.soon, limit };
  if (filter.issuer !== undefined) {
    where.push('t.issuer_sovereign_id = :issuer');
    params.issuer = filter.issuer;
  }
  if (filter.subject !== undefined) {
    where.push('t.subject_sovereign_id = :subject');
    params.subject = filter.subject;
  }
  if (filter.state !== undefined) {
    where.push(`(${LIFECYCLE_SQL}) = :state`);
    params.state = filter.state;
  }
  if (filter.after !== undefined) {
    where.push('(t.issued_at > :c_at OR (t.issued_at = :c_at AND t.treaty_id > :c_id))');
    params.c_at = filter.after[0];
    params.c_id = filter.after[1];
  }
  const sql = `SELECT t.treaty_id, t.issued_at, t.body, r.reason, r.revoked_at, r.incident, r.replaced_by, r.revoked_by_key_id, r.log_index
    FROM treaties t LEFT JOIN treaty_revocations r ON r.treaty_id = t.treaty_id
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY t.issued_at, t.treaty_id LIMIT :limit`;
  const bySql = listStatements(sqlite);
  let stmt = bySql.get(sql);
  if (!stmt) {
    stmt = sqlite.prepare(sql);
    bySql.set(sql, stmt);
  }
  return stmt.all(params) as TreatyListRow[];
}

/** The treaties issued by `self`, counted by lifecycle state at `now`, with each state's soonest expiry. */
export function treatyLifecycleCounts(
  sqlite: Sqlite,
  self: string,
  at: { now: string; soon: string },
): Array<{ state: LifecycleState; n: number; soonest: string }> {
  return sqlite
    .prepare(
      `SELECT state, count(*) AS n, min(expires_at) AS soonest FROM (
         SELECT ${LIFECYCLE_SQL} AS state, t.expires_at FROM treaties t LEFT JOIN treaty_revocations r ON r.treaty_id = t.treaty_id
         WHERE t.issuer_sovereign_id = :self) GROUP BY state`,
    )
    .all({ now: at.now, soon: at.soon, self }) as Array<{ state: LifecycleState; n: number; soonest: string }>;
}
