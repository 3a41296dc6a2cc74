// Membership attestations issued by this authority: issue, revoke, bulk revoke by operator key, read.
import { randomUUID } from 'node:crypto';
import { operatorActor } from '../authority/admin-auth.ts';
import { appendAudit } from '../authority/audit.ts';
import { canonicalJson } from '../authority/canonical-json.ts';
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { canonicalHash, signObject } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';
import { validate } from '../authority/http.ts';
import { appendRevocations, firstLogEntryFor, type NewRevocationEntry } from '../log/store.ts';
import { checkIssuer, checkPublicKey, checkRoles, resolveWindow } from './issuance-checks.ts';
import { lifecycleAt, type Lifecycle } from './lifecycle.ts';
import { issueAttestationInputSchema, UUID_V4_PATTERN, type MembershipAttestation, type UnsignedMembershipAttestation } from './model.ts';
import { withInvalidSince, type Operator, type RevocationWithInvalidSince, type ServiceOptions } from './service.ts';
import { revokeAllByOperator, revokeOne, type BulkRevocationResult, type RevocableKind } from './revocation.ts';
import { statements, type AttestationRow, type RevocationRow } from './store.ts';

export interface AttestationRevocation {
  attestation_id: string;
  reason: string;
  revoked_at: string;
  invalid_since?: string;
  incident?: string;
  log_index: number;
}

export interface AttestationView {
  attestation: MembershipAttestation;
  revocation: AttestationRevocation | null;
  lifecycle: Lifecycle;
}

function record(
  id: string,
  row: Pick<RevocationWithInvalidSince, 'reason' | 'revoked_at' | 'invalid_since' | 'incident' | 'log_index'>,
): AttestationRevocation {
  return {
    attestation_id: id,
    reason: row.reason,
    revoked_at: row.revoked_at,
    ...(row.invalid_since ? { invalid_since: row.invalid_since } : {}),
    ...(row.incident ? { incident: row.incident } : {}),
    log_index: row.log_index,
  };
}

function notFound(id: string): AppError {
  return new AppError('attestation_not_found', 'no attestation with this id', { attestation_id: id.slice(0, 64) });
}

/** Issues and stores a signed attestation, audited with the authorizing operator key, in one transaction. */
export function issueAttestation(
  deps: AppDeps,
  rawInput: unknown,
  operator?: Operator,
  options: ServiceOptions = {},
): MembershipAttestation {
  const input = validate(issueAttestationInputSchema, rawInput, 'invalid_attestation_request');
  checkIssuer(deps, input.issuer_sovereign_id);
  const roles = checkRoles(input.roles, 'roles');
  const subjectKey = input.subject_public_key !== undefined ? checkPublicKey(input.subject_public_key, 'subject_public_key') : undefined;
  const now = deps.clock();
  const window = resolveWindow(deps, input, now);
  const signing = deps.identity.signingKeys;
  if (signing.length === 0) throw new AppError('no_signing_key', 'the authority has no signing key loaded');
  const unsigned: UnsignedMembershipAttestation = {
    attestation_id: randomUUID(),
    issuer_sovereign_id: deps.identity.sovereignId,
    subject_id: input.subject_id,
    // Written out as null when absent: a Genesis Mesh verifier adds that default before checking.
    subject_public_key: subjectKey ? subjectKey.base64 : null,
    roles,
    status: 'active',
    issued_at: toTimestamp(now),
    valid_from: window.validFrom,
    expires_at: window.expiresAt,
    issued_by: signing[0]!.keyId,
    claims: input.claims ?? {},
  };
  canonicalJson(unsigned);
  const attestation = signObject(unsigned, signing) as MembershipAttestation;
  deps.db.sqlite
    .transaction(() => {
      statements(deps.db.sqlite).insertAttestation.run({
        attestation_id: attestation.attestation_id,
        issuer_sovereign_id: attestation.issuer_sovereign_id,
        subject_id: attestation.subject_id,
        issued_at: attestation.issued_at,
        valid_from: attestation.valid_from,
        expires_at: attestation.expires_at,
        issued_by: attestation.issued_by,
        authorized_by: operator?.keyId ?? null,
        body: canonicalJson(attestation),
      });
      // The audit log is exported to auditors: it names the attestation, not the private claims.
      appendAudit(deps.db.sqlite, deps.clock, {
        eventType: 'membership_attestation_issued',
        actor: operatorActor(operator),
        nonce: operator?.nonce,
        requestId: options.requestId ?? null,
        details: {
          attestation_id: attestation.attestation_id,
          subject_id: attestation.subject_id,
          roles,
          valid_from: attestation.valid_from,
          expires_at: attestation.expires_at,
          issued_by: attestation.issued_by,
          authorized_by: operator?.keyId ?? null,
          attestation_hash: canonicalHash(attestation),
        },
      });
    })
    .immediate();
  return attestation;
}

function loadRow(deps: AppDeps, id: string): AttestationRow {
  if (!UUID_V4_PATTERN.test(id)) throw notFound(id);
  const row = statements(deps.db.sqlite).attestation.get(id) as AttestationRow | undefined;
  if (!row || row.issuer_sovereign_id !== deps.identity.sovereignId) throw notFound(id);
  return row;
}

function revocationRow(deps: AppDeps, id: string): RevocationRow | undefined {
  return statements(deps.db.sqlite).attestationRevocation.get(id) as RevocationRow | undefined;
}

function writeRevocations(
  deps: AppDeps,
  rows: Array<Pick<AttestationRow, 'attestation_id'>>,
  reason: string,
  incident: string | undefined,
  operator: Operator | undefined,
  revokedAt: string = toTimestamp(deps.clock()),
  invalidSince?: string,
): AttestationRevocation[] {
  const entries: NewRevocationEntry[] = rows.map((r) => ({
    kind: 'membership_attestation',
    id: r.attestation_id,
    reason: reason as NewRevocationEntry['reason'],
    revoked_at: revokedAt,
    ...(invalidSince ? { invalid_since: invalidSince } : {}),
    ...(incident ? { incident } : {}),
  }));
  const written = appendRevocations(deps.db.sqlite, entries);
  const insert = statements(deps.db.sqlite).insertAttestationRevocation;
  return rows.map((r, i) => {
    const logIndex = written[i]!.index;
    insert.run(r.attestation_id, reason, revokedAt, incident ?? null, operator?.keyId ?? null, logIndex);
    return record(r.attestation_id, {
      reason,
      revoked_at: revokedAt,
      invalid_since: invalidSince,
      incident: incident ?? null,
      log_index: logIndex,
    });
  });
}

/** Attestations as a kind of revocable object (see revocation.ts). */
const ATTESTATIONS: RevocableKind<Pick<AttestationRow, 'attestation_id' | 'subject_id'>, AttestationRevocation, { subject_id: string }> = {
  noun: 'attestation',
  eventType: 'membership_attestation_revoked',
  load: loadRow,
  existing: (deps, id) => {
    const row = revocationRow(deps, id);
    return row ? withInvalidSince(deps, row) : undefined;
  },
  record,
  write: (deps, rows, spec, revokedAt, operator) =>
    writeRevocations(deps, rows, spec.reason, spec.incident, operator, revokedAt, spec.invalidSince),
  subject: (row) => ({ subject_id: row.subject_id }),
  byOperator: (deps, keyId, since, until) =>
    (
      statements(deps.db.sqlite).attestationsByOperator.all(keyId, deps.identity.sovereignId, since, until) as Array<{
        attestation_id: string;
        subject_id: string;
        revoked_reason: string | null;
      }>
    ).map((r) => ({ ...r, id: r.attestation_id })),
};

/** Revokes one attestation: its own record plus a revocation-log entry, in one transaction. */
export function revokeAttestation(
  deps: AppDeps,
  id: string,
  rawInput: unknown,
  operator?: Operator,
  options: ServiceOptions = {},
): AttestationRevocation {
  return revokeOne(ATTESTATIONS, deps, id, rawInput, operator, options);
}

/** Revokes every attestation whose issuance this operator key authorized in the window. */
export function revokeAttestationsByOperator(
  deps: AppDeps,
  rawInput: unknown,
  operator?: Operator,
  options: ServiceOptions = {},
): BulkRevocationResult<AttestationRevocation & { subject_id: string }> {
  return revokeAllByOperator(ATTESTATIONS, deps, rawInput, operator, options);
}

export function getAttestation(deps: AppDeps, id: string): AttestationView {
  const row = loadRow(deps, id);
  const attestation = JSON.parse(row.body) as MembershipAttestation;
  const revocation = revocationRow(deps, id);
  return {
    attestation,
    revocation: revocation ? record(id, withInvalidSince(deps, revocation)) : null,
    lifecycle: lifecycleAt(
      { valid_from: attestation.valid_from, expires_at: attestation.expires_at, revocation: revocation ?? null },
      deps.clock(),
    ),
  };
}

/**
 * The revocation of one of this authority's attestations, if any (prepared lookup; verify's hot path: no
 * `invalid_since`). A follower holds no attestations, only its primary's published log: it looks there.
 */
export function ownAttestationRevocation(deps: AppDeps, id: string): AttestationRevocation | null {
  const row = revocationRow(deps, id);
  if (row) return record(id, row);
  if (deps.identity.primaryUrl === undefined) return null;
  const entry = firstLogEntryFor(deps.db.sqlite, 'membership_attestation', id);
  return entry
    ? record(id, { reason: entry.reason, revoked_at: entry.revoked_at, incident: entry.incident ?? null, log_index: entry.index })
    : null;
}
