// Row access for the treaties domain: prepared statements over treaties, attestations and their revocations.
import type { Statement } from 'better-sqlite3';
import { perConnection, type Sqlite } from '../db/database.ts';

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
    treatyRevocation: prepare('SELECT reason, revoked_at, incident, replaced_by, revoked_by_key_id, log_index FROM treaty_revocations WHERE treaty_id = ?'),
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
    attestationRevocation: prepare('SELECT reason, revoked_at, incident, NULL AS replaced_by, revoked_by_key_id, log_index FROM attestation_revocations WHERE attestation_id = ?'),
    insertAttestationRevocation: prepare(
      `INSERT INTO attestation_revocations (attestation_id, reason, revoked_at, incident, revoked_by_key_id, log_index) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
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

const everyTreaty = perConnection((sqlite) =>
  sqlite
    .prepare(
      `SELECT t.treaty_id, t.issuer_sovereign_id, t.subject_sovereign_id, t.valid_from, t.expires_at,
              json_extract(t.body, '$.scope.allowed_roles'), r.replaced_by, t.body
       FROM treaties t LEFT JOIN treaty_revocations r ON r.treaty_id = t.treaty_id`,
    )
    .raw(true),
);

/** Every treaty this authority issued, with its roles (JSON text) and the replacement of a superseded one. */
export function readTreatySummaries(
  sqlite: Sqlite,
): Array<[treatyId: string, issuer: string, subject: string, validFrom: string, expiresAt: string, roles: string | null, replacedBy: string | null, body: string]> {
  return everyTreaty(sqlite).all() as ReturnType<typeof readTreatySummaries>;
}
