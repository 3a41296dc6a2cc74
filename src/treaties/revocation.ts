// Revoking what this authority signed, one routine for treaties and attestations: one by id, or all
// that an operator key authorized in a window. Each revocation is a record beside the signed object
// (never an edit of it) plus a revocation-log entry and an audit event, in one transaction.
import { operatorActor } from '../authority/admin-auth.ts';
import { appendAudit, type AuditEventType } from '../authority/audit.ts';
import { parseTimestamp, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { validate } from '../authority/http.ts';
import { checkReason } from './issuance-checks.ts';
import { OPERATOR_REVOCATION_REASONS, revokeByOperatorInputSchema, revokeInputSchema } from './model.ts';
import type { Operator, RevocationWithInvalidSince, ServiceOptions } from './service.ts';

/** What one revocation writes, before its log index is known. */
export interface RevocationSpec {
  reason: string;
  incident?: string | undefined;
  invalidSince?: string | undefined;
}

/** What differs between revoking a treaty and revoking an attestation. */
export interface RevocableKind<Row, Rec, Subject extends Record<string, string> = Record<string, string>> {
  /** For messages: "treaty", "attestation". */
  noun: string;
  eventType: AuditEventType;
  /** The object (this authority's own), or a 404. */
  load(deps: AppDeps, id: string): Row & { issued_at: string };
  /** Its revocation, if it has one. */
  existing(deps: AppDeps, id: string): RevocationWithInvalidSince | undefined;
  /** The public record of a revocation. */
  record(id: string, revocation: RevocationWithInvalidSince): Rec;
  /** Writes the revocations of `rows` (records and log entries); the caller holds the transaction. */
  write(deps: AppDeps, rows: Row[], spec: RevocationSpec, revokedAt: string, operator: Operator | undefined): Rec[];
  /** The subject fields that go into audit details and bulk results. */
  subject(row: Row): Subject;
  /** Objects whose issuance this operator key authorized in [since, until], revoked or not. */
  byOperator(deps: AppDeps, keyId: string, since: string, until: string): Array<Row & { id: string; revoked_reason: string | null }>;
}

export interface BulkRevocationResult<R> {
  key_id: string;
  since: string | null;
  until: string;
  reason: string;
  revoked: R[];
  /** Items in the window that were already revoked (their first revocation stands). */
  already_revoked: string[];
}

/**
 * `invalid_since` says since when the revoked object must not be relied on. It lies between the
 * object's issuance (nothing relied on it before it existed) and the revocation itself (a future
 * instant would say the object is still good until then, which a revocation cannot say).
 */
export function checkInvalidSince(invalidSince: string | undefined, issuedAt: string, revokedAt: string): void {
  if (invalidSince === undefined) return;
  const at = Date.parse(invalidSince);
  if (at < Date.parse(issuedAt) || at > Date.parse(revokedAt)) {
    throw new AppError('invalid_since_out_of_range', 'invalid_since must lie between the issuance of the revoked object and now', {
      invalid_since: invalidSince,
      not_before: issuedAt,
      not_after: revokedAt,
    });
  }
}

/** Window of a bulk revocation: issued_at in [since, until], both inclusive; until defaults to now. */
export function bulkWindow(deps: AppDeps, since: string | undefined, until: string | undefined): { since: string; until: string } {
  const untilTs = until ?? toTimestamp(deps.clock());
  const sinceTs = since ?? '0000-01-01T00:00:00Z';
  if (since !== undefined && parseTimestamp(since)!.getTime() > parseTimestamp(untilTs)!.getTime()) {
    throw new AppError('invalid_time_range', 'since must not be after until', { since, until: untilTs });
  }
  return { since: sinceTs, until: untilTs };
}

/** The 409 for a second revocation: the first one stands, and is shown. */
export function alreadyRevoked<Rec>(
  kind: Pick<RevocableKind<never, Rec>, 'noun' | 'record'>,
  id: string,
  existing: RevocationWithInvalidSince,
): AppError {
  return new AppError('already_revoked', `${kind.noun} is already revoked; the first revocation stands`, {
    revocation: kind.record(id, existing),
  });
}

const origin = (operator: Operator | undefined, options: ServiceOptions) => ({
  actor: operatorActor(operator),
  nonce: operator?.nonce,
  requestId: options.requestId ?? null,
});

/** Revokes one object by id. */
export function revokeOne<Row, Rec, Subject extends Record<string, string>>(
  kind: RevocableKind<Row, Rec, Subject>,
  deps: AppDeps,
  id: string,
  rawInput: unknown,
  operator?: Operator,
  options: ServiceOptions = {},
): Rec {
  const input = validate(revokeInputSchema, rawInput, 'invalid_revocation_request');
  const reason = checkReason(input.reason, OPERATOR_REVOCATION_REASONS);
  const result = deps.db.sqlite
    .transaction(() => {
      const row = kind.load(deps, id);
      const existing = kind.existing(deps, id);
      if (existing) throw alreadyRevoked(kind, id, existing);
      const revokedAt = toTimestamp(deps.clock());
      checkInvalidSince(input.invalid_since, row.issued_at, revokedAt);
      const [record] = kind.write(
        deps,
        [row],
        { reason, incident: input.incident, invalidSince: input.invalid_since },
        revokedAt,
        operator,
      );
      appendAudit(deps.db.sqlite, deps.clock, {
        eventType: kind.eventType,
        ...origin(operator, options),
        details: { ...record!, ...kind.subject(row), revoked_by: operator?.keyId ?? null },
      });
      return record!;
    })
    .immediate();
  deps.changes.emit('revocation');
  return result;
}

/** Revokes every object whose issuance this operator key authorized in the window (key compromise response). */
export function revokeAllByOperator<Row, Rec, Subject extends Record<string, string>>(
  kind: RevocableKind<Row, Rec, Subject>,
  deps: AppDeps,
  rawInput: unknown,
  operator?: Operator,
  options: ServiceOptions = {},
): BulkRevocationResult<Rec & Subject> {
  const input = validate(revokeByOperatorInputSchema, rawInput, 'invalid_revocation_request');
  const reason = checkReason(input.reason, OPERATOR_REVOCATION_REASONS);
  const window = bulkWindow(deps, input.since, input.until);
  const result = deps.db.sqlite
    .transaction(() => {
      const rows = kind.byOperator(deps, input.key_id, window.since, window.until);
      const open = rows.filter((r) => r.revoked_reason === null);
      const records = kind.write(deps, open, { reason, incident: input.incident }, toTimestamp(deps.clock()), operator);
      const bulk = { operator_key_id: input.key_id, since: input.since ?? null, until: window.until };
      records.forEach((record, i) => {
        appendAudit(deps.db.sqlite, deps.clock, {
          eventType: kind.eventType,
          ...origin(operator, options),
          details: { ...record, ...kind.subject(open[i]!), revoked_by: operator?.keyId ?? null, bulk },
        });
      });
      return {
        key_id: input.key_id,
        since: input.since ?? null,
        until: window.until,
        reason,
        revoked: records.map((r, i) => ({ ...r, ...kind.subject(open[i]!) })),
        already_revoked: rows.filter((r) => r.revoked_reason !== null).map((r) => r.id),
      };
    })
    .immediate();
  if (result.revoked.length > 0) deps.changes.emit('revocation');
  return result;
}
