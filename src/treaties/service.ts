// Recognition treaties issued by this authority: issue, revoke, supersede, bulk revoke by operator key, read.
import { randomUUID } from 'node:crypto';
import { operatorActor } from '../authority/admin-auth.ts';
import type { RequestNonce } from '../authority/request-nonces.ts';
import { appendAudit } from '../authority/audit.ts';
import { canonicalJson } from '../authority/canonical-json.ts';
import { parseTimestamp, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { canonicalHash, signObject } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';
import { validate } from '../authority/http.ts';
import { appendRevocations, revocationEntryAt, type NewRevocationEntry } from '../log/store.ts';
import { checkIssuer, checkRoles, checkSubjectKeys, resolveWindow } from './issuance-checks.ts';
import { lifecycleAt, type Lifecycle, type LifecycleState } from './lifecycle.ts';
import {
  issueTreatyInputSchema,
  supersedeTreatyInputSchema,
  UUID_V4_PATTERN,
  type IssueTreatyInput,
  type RecognitionTreaty,
  type SubjectProfile,
  type UnsignedRecognitionTreaty,
} from './model.ts';
import { listTreatyRows, statements, type RevocationRow, type TreatyRow } from './store.ts';
import { alreadyRevoked, revokeAllByOperator, revokeOne, type BulkRevocationResult, type RevocableKind } from './revocation.ts';

/** The operator behind an admin request (label and key_id); absent for system actions. */
export interface Operator {
  label: string;
  keyId: string;
  /** The nonce of the signed request, stored in the transaction of the change it makes. */
  nonce?: RequestNonce | undefined;
}

export interface ServiceOptions {
  requestId?: string | null;
}

export interface TreatyRevocation {
  treaty_id: string;
  reason: string;
  revoked_at: string;
  invalid_since?: string;
  incident?: string;
  replaced_by?: string;
  log_index: number;
}

export interface TreatyView {
  treaty: RecognitionTreaty;
  revocation: TreatyRevocation | null;
  lifecycle: Lifecycle;
}

/** A stored revocation with the `invalid_since` its published log entry carries, if any. */
export type RevocationWithInvalidSince = RevocationRow & { invalid_since?: string | undefined };

export function revocationRecord(treatyId: string, row: RevocationWithInvalidSince): TreatyRevocation {
  return {
    treaty_id: treatyId,
    reason: row.reason,
    revoked_at: row.revoked_at,
    ...(row.invalid_since ? { invalid_since: row.invalid_since } : {}),
    ...(row.incident ? { incident: row.incident } : {}),
    ...(row.replaced_by ? { replaced_by: row.replaced_by } : {}),
    log_index: row.log_index,
  };
}

function treatyNotFound(id: string): AppError {
  return new AppError('treaty_not_found', 'no treaty with this id', { treaty_id: id.slice(0, 64) });
}

/** Validates issue terms and builds the signed treaty (no storage). */
function buildTreaty(deps: AppDeps, input: IssueTreatyInput, now: Date): { treaty: RecognitionTreaty; profile: SubjectProfile } {
  checkIssuer(deps, input.issuer_sovereign_id);
  if (input.subject_sovereign_id === deps.identity.sovereignId) {
    throw new AppError('self_recognition', 'an authority does not issue a treaty recognizing itself', {
      subject_sovereign_id: input.subject_sovereign_id,
    });
  }
  const roles = checkRoles(input.scope.allowed_roles, 'scope.allowed_roles');
  const keys = checkSubjectKeys(input.subject_public_keys);
  const window = resolveWindow(deps, input, now);
  const signing = deps.identity.signingKeys;
  if (signing.length === 0) throw new AppError('no_signing_key', 'the authority has no signing key loaded');
  const unsigned: UnsignedRecognitionTreaty = {
    treaty_id: randomUUID(),
    issuer_sovereign_id: deps.identity.sovereignId,
    subject_sovereign_id: input.subject_sovereign_id,
    subject_public_keys: keys.map((k) => k.base64),
    scope: {
      allowed_roles: roles,
      accepted_statuses: input.scope.accepted_statuses ?? ['active'],
      claims: input.scope.claims ?? {},
    },
    status: 'active',
    issued_at: toTimestamp(now),
    valid_from: window.validFrom,
    expires_at: window.expiresAt,
    issued_by: signing[0]!.keyId,
    metadata: input.metadata ?? {},
  };
  // canonicalJson refuses anything unsignable (floats in claims) before a signature exists.
  canonicalJson(unsigned);
  return { treaty: signObject(unsigned, signing) as RecognitionTreaty, profile: input.profile ?? 'accord/1' };
}

function storeTreaty(deps: AppDeps, treaty: RecognitionTreaty, profile: SubjectProfile, operator: Operator | undefined): void {
  statements(deps.db.sqlite).insertTreaty.run({
    treaty_id: treaty.treaty_id,
    issuer_sovereign_id: treaty.issuer_sovereign_id,
    subject_sovereign_id: treaty.subject_sovereign_id,
    issued_at: treaty.issued_at,
    valid_from: treaty.valid_from,
    expires_at: treaty.expires_at,
    issued_by: treaty.issued_by,
    authorized_by: operator?.keyId ?? null,
    subject_profile: profile,
    body: canonicalJson(treaty),
  });
}

function issuedDetails(treaty: RecognitionTreaty, operator: Operator | undefined, extra: Record<string, unknown> = {}) {
  return {
    treaty_id: treaty.treaty_id,
    issuer_sovereign_id: treaty.issuer_sovereign_id,
    subject_sovereign_id: treaty.subject_sovereign_id,
    allowed_roles: treaty.scope.allowed_roles,
    valid_from: treaty.valid_from,
    expires_at: treaty.expires_at,
    issued_by: treaty.issued_by,
    authorized_by: operator?.keyId ?? null,
    treaty_hash: canonicalHash(treaty),
    ...extra,
  };
}

/** Issues and stores a signed treaty, audited with the authorizing operator key, in one transaction. */
export function issueTreaty(deps: AppDeps, rawInput: unknown, operator?: Operator, options: ServiceOptions = {}): RecognitionTreaty {
  const input = validate(issueTreatyInputSchema, rawInput, 'invalid_treaty_request');
  const now = deps.clock();
  const { treaty, profile } = buildTreaty(deps, input, now);
  deps.db.sqlite
    .transaction(() => {
      storeTreaty(deps, treaty, profile, operator);
      appendAudit(deps.db.sqlite, deps.clock, {
        eventType: 'recognition_treaty_issued',
        actor: operatorActor(operator),
        nonce: operator?.nonce,
        requestId: options.requestId ?? null,
        details: issuedDetails(treaty, operator),
      });
    })
    .immediate();
  deps.changes.emit('treaties');
  return treaty;
}

function loadTreatyRow(deps: AppDeps, id: string): TreatyRow {
  if (!UUID_V4_PATTERN.test(id)) throw treatyNotFound(id);
  const row = statements(deps.db.sqlite).treaty.get(id) as TreatyRow | undefined;
  if (!row || row.issuer_sovereign_id !== deps.identity.sovereignId) throw treatyNotFound(id);
  return row;
}

/** The log entry is the one place `invalid_since` is kept: it is what the feed publishes. */
export function withInvalidSince(deps: AppDeps, row: RevocationRow): RevocationWithInvalidSince {
  const invalidSince = revocationEntryAt(deps.db.sqlite, row.log_index)?.invalid_since;
  return invalidSince ? { ...row, invalid_since: invalidSince } : row;
}

function existingRevocation(deps: AppDeps, id: string): RevocationWithInvalidSince | undefined {
  const row = statements(deps.db.sqlite).treatyRevocation.get(id) as RevocationRow | undefined;
  return row ? withInvalidSince(deps, row) : undefined;
}

interface RevokeStep {
  row: Pick<TreatyRow, 'treaty_id' | 'subject_sovereign_id'>;
  reason: string;
  invalidSince?: string | undefined;
  incident?: string | undefined;
  replacedBy?: string;
}

/** Records revocations and their log entries; the caller holds the transaction. */
function writeRevocations(deps: AppDeps, steps: RevokeStep[], revokedAt: string, operator: Operator | undefined): TreatyRevocation[] {
  const entries: NewRevocationEntry[] = steps.map((s) => ({
    kind: 'recognition_treaty',
    id: s.row.treaty_id,
    reason: s.reason as NewRevocationEntry['reason'],
    revoked_at: revokedAt,
    subject_sovereign_id: s.row.subject_sovereign_id,
    ...(s.invalidSince ? { invalid_since: s.invalidSince } : {}),
    ...(s.incident ? { incident: s.incident } : {}),
  }));
  const written = appendRevocations(deps.db.sqlite, entries);
  const insert = statements(deps.db.sqlite).insertTreatyRevocation;
  return steps.map((s, i) => {
    const logIndex = written[i]!.index;
    insert.run(s.row.treaty_id, s.reason, revokedAt, s.incident ?? null, s.replacedBy ?? null, operator?.keyId ?? null, logIndex);
    return revocationRecord(s.row.treaty_id, {
      reason: s.reason,
      revoked_at: revokedAt,
      invalid_since: s.invalidSince,
      incident: s.incident ?? null,
      replaced_by: s.replacedBy ?? null,
      revoked_by_key_id: operator?.keyId ?? null,
      log_index: logIndex,
    });
  });
}

/** Treaties as a kind of revocable object (see revocation.ts). */
const TREATIES: RevocableKind<Pick<TreatyRow, 'treaty_id' | 'subject_sovereign_id'>, TreatyRevocation, { subject_sovereign_id: string }> = {
  noun: 'treaty',
  eventType: 'recognition_treaty_revoked',
  load: loadTreatyRow,
  existing: existingRevocation,
  record: revocationRecord,
  write: (deps, rows, spec, revokedAt, operator) =>
    writeRevocations(
      deps,
      rows.map((row) => ({ row, ...spec })),
      revokedAt,
      operator,
    ),
  subject: (row) => ({ subject_sovereign_id: row.subject_sovereign_id }),
  byOperator: (deps, keyId, since, until) =>
    (
      statements(deps.db.sqlite).treatiesByOperator.all(keyId, deps.identity.sovereignId, since, until) as Array<{
        treaty_id: string;
        subject_sovereign_id: string;
        revoked_reason: string | null;
      }>
    ).map((r) => ({ ...r, id: r.treaty_id })),
};

/** Revokes one treaty: a separate record plus a revocation-log entry; the signed treaty is never edited. */
export function revokeTreaty(
  deps: AppDeps,
  id: string,
  rawInput: unknown,
  operator?: Operator,
  options: ServiceOptions = {},
): TreatyRevocation {
  return revokeOne(TREATIES, deps, id, rawInput, operator, options);
}

/**
 * Replaces a treaty with new terms in one transaction: the old one is revoked with reason
 * `superseded` and `replaced_by`, the new one is issued. Audits revoked, issued and superseded.
 */
export function supersedeTreaty(
  deps: AppDeps,
  id: string,
  rawInput: unknown,
  operator?: Operator,
  options: ServiceOptions = {},
): { treaty: RecognitionTreaty; revocation: TreatyRevocation } {
  const input = validate(supersedeTreatyInputSchema, rawInput, 'invalid_treaty_request');
  const result = deps.db.sqlite
    .transaction(() => {
      const old = loadTreatyRow(deps, id);
      const existing = existingRevocation(deps, id);
      if (existing) throw alreadyRevoked(TREATIES, id, existing);
      if (input.subject_sovereign_id !== undefined && input.subject_sovereign_id !== old.subject_sovereign_id) {
        throw new AppError('subject_mismatch', 'a superseding treaty keeps the subject of the treaty it replaces', {
          subject_sovereign_id: old.subject_sovereign_id,
        });
      }
      const { incident, ...terms } = input;
      const now = deps.clock();
      // The subject's wire profile carries over unless the new terms name one.
      const profile = (terms.profile ?? old.subject_profile) as SubjectProfile;
      const { treaty } = buildTreaty(deps, { ...terms, subject_sovereign_id: old.subject_sovereign_id, profile }, now);
      const origin = { actor: operatorActor(operator), requestId: options.requestId ?? null, nonce: operator?.nonce };
      const [revocation] = writeRevocations(
        deps,
        [{ row: old, reason: 'superseded', incident, replacedBy: treaty.treaty_id }],
        toTimestamp(now),
        operator,
      );
      appendAudit(deps.db.sqlite, deps.clock, {
        eventType: 'recognition_treaty_revoked',
        ...origin,
        details: { ...revocation!, subject_sovereign_id: old.subject_sovereign_id, revoked_by: operator?.keyId ?? null },
      });
      storeTreaty(deps, treaty, profile, operator);
      appendAudit(deps.db.sqlite, deps.clock, {
        eventType: 'recognition_treaty_issued',
        ...origin,
        details: issuedDetails(treaty, operator, { supersedes: old.treaty_id }),
      });
      appendAudit(deps.db.sqlite, deps.clock, {
        eventType: 'recognition_treaty_superseded',
        ...origin,
        details: {
          old_treaty_id: old.treaty_id,
          new_treaty_id: treaty.treaty_id,
          subject_sovereign_id: old.subject_sovereign_id,
          log_index: revocation!.log_index,
        },
      });
      return { treaty, revocation: revocation! };
    })
    .immediate();
  deps.changes.emit('treaties');
  deps.changes.emit('revocation');
  return result;
}

/** Revokes every treaty whose issuance this operator key authorized in the window (key compromise response). */
export function revokeTreatiesByOperator(
  deps: AppDeps,
  rawInput: unknown,
  operator?: Operator,
  options: ServiceOptions = {},
): BulkRevocationResult<TreatyRevocation & { subject_sovereign_id: string }> {
  return revokeAllByOperator(TREATIES, deps, rawInput, operator, options);
}

export function treatyView(
  row: Pick<TreatyRow, 'treaty_id' | 'body'>,
  revocation: RevocationWithInvalidSince | undefined,
  at: Date,
): TreatyView {
  const treaty = JSON.parse(row.body) as RecognitionTreaty;
  return {
    treaty,
    revocation: revocation ? revocationRecord(row.treaty_id, revocation) : null,
    lifecycle: lifecycleAt({ valid_from: treaty.valid_from, expires_at: treaty.expires_at, revocation: revocation ?? null }, at),
  };
}

export function getTreaty(deps: AppDeps, id: string): TreatyView {
  const row = loadTreatyRow(deps, id);
  return treatyView(row, existingRevocation(deps, id), deps.clock());
}

export interface ListTreatiesQuery {
  issuer?: string | undefined;
  subject?: string | undefined;
  state?: LifecycleState | undefined;
  cursor?: string | undefined;
  limit: number;
}

function encodeCursor(issuedAt: string, id: string): string {
  return Buffer.from(JSON.stringify([issuedAt, id]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      parseTimestamp(value[0]) &&
      typeof value[1] === 'string' &&
      UUID_V4_PATTERN.test(value[1])
    ) {
      return [value[0], value[1]];
    }
  } catch {
    // fall through
  }
  throw new AppError('invalid_cursor', 'cursor is not one this server returned');
}

/**
 * Pages through treaties oldest first by (issued_at, treaty_id): a cursor names the last item seen,
 * so pages stay stable while new treaties are issued.
 */
export function listTreaties(deps: AppDeps, query: ListTreatiesQuery): { treaties: TreatyView[]; next_cursor: string | null } {
  const now = deps.clock();
  const at = { now: toTimestamp(now), soon: toTimestamp(new Date(now.getTime() + 72 * 3600 * 1000)) };
  const after = query.cursor !== undefined ? decodeCursor(query.cursor) : undefined;
  const rows = listTreatyRows(
    deps.db.sqlite,
    { issuer: query.issuer, subject: query.subject, state: query.state, after },
    at,
    query.limit + 1,
  );
  const page = rows.slice(0, query.limit);
  const treaties = page.map((r) =>
    treatyView(r, r.reason === null ? undefined : withInvalidSince(deps, r as unknown as RevocationRow), now),
  );
  const last = page[page.length - 1];
  return { treaties, next_cursor: rows.length > query.limit && last ? encodeCursor(last.issued_at, last.treaty_id) : null };
}
