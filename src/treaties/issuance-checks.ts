// Checks shared by treaty and attestation issuance, each failure with its own error code.
import { addSeconds, parseTimestamp, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { parsePublicKey, type PublicKeyInfo } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';
import { MAX_ROLES, MAX_SUBJECT_KEYS, ROLE_PATTERN } from './model.ts';

/** An admin issues only in this authority's name. */
export function checkIssuer(deps: AppDeps, issuer: string | undefined): void {
  if (issuer !== undefined && issuer !== deps.identity.sovereignId) {
    throw new AppError('issuer_not_self', 'an authority issues only in its own name', {
      issuer_sovereign_id: issuer,
      self: deps.identity.sovereignId,
    });
  }
}

export function checkRoles(roles: string[], field: string): string[] {
  if (roles.length === 0) throw new AppError('no_roles', 'at least one role is required', { field });
  if (roles.length > MAX_ROLES) throw new AppError('too_many_roles', `at most ${MAX_ROLES} roles`, { field, max: MAX_ROLES });
  roles.forEach((role, index) => {
    if (!ROLE_PATTERN.test(role)) {
      throw new AppError('invalid_role', 'roles are role:anchor, role:bridge, role:client, role:operator or role:service:<name>', {
        field,
        index,
        role: role.slice(0, 140),
      });
    }
  });
  if (new Set(roles).size !== roles.length) throw new AppError('duplicate_role', 'roles must be distinct', { field });
  return roles;
}

/** Parses one public key; small-order and malformed keys are refused at the door with distinct codes. */
export function checkPublicKey(text: string, field: string, index?: number): PublicKeyInfo {
  const parsed = parsePublicKey(text);
  if (parsed.ok) return parsed.key;
  const where = { field, ...(index !== undefined ? { index } : {}), reason: parsed.reason };
  if (parsed.reason === 'small_order') throw new AppError('small_order_public_key', 'public key is a small-order point', where);
  throw new AppError('malformed_public_key', 'public key must be standard base64 of a canonical 32-byte Ed25519 point', where);
}

export function checkSubjectKeys(keys: string[]): PublicKeyInfo[] {
  if (keys.length < 1 || keys.length > MAX_SUBJECT_KEYS) {
    throw new AppError('invalid_public_key_count', `a treaty names 1 to ${MAX_SUBJECT_KEYS} subject public keys`, {
      count: keys.length,
      min: 1,
      max: MAX_SUBJECT_KEYS,
    });
  }
  const parsed = keys.map((k, i) => checkPublicKey(k, 'subject_public_keys', i));
  const seen = new Set<string>();
  parsed.forEach((k, index) => {
    if (seen.has(k.keyId)) throw new AppError('duplicate_public_key', 'subject public keys must be distinct', { index, key_id: k.keyId });
    seen.add(k.keyId);
  });
  return parsed;
}

export interface WindowInput {
  validity_hours?: number | undefined;
  valid_from?: string | undefined;
  expires_at?: string | undefined;
}

function timestampField(value: string, field: string): Date {
  const date = parseTimestamp(value);
  if (!date)
    throw new AppError('invalid_timestamp', 'timestamps are RFC 3339 UTC with second precision, e.g. 2026-01-01T00:00:00Z', { field });
  return date;
}

/**
 * Resolves `validity_hours` or `valid_from`+`expires_at` into a sane window: starts no earlier than
 * now minus the clock skew (no backdating), ends after it starts and after now, lasts at most
 * `maxTreatyValidityDays`, and starts at most that far ahead.
 */
export function resolveWindow(deps: AppDeps, input: WindowInput, now: Date): { validFrom: string; expiresAt: string } {
  const maxSeconds = deps.config.maxTreatyValidityDays * 86400;
  if (input.validity_hours !== undefined && input.expires_at !== undefined) {
    throw new AppError('invalid_validity_window', 'give validity_hours or expires_at, not both');
  }
  if (input.validity_hours === undefined && input.expires_at === undefined) {
    throw new AppError('invalid_validity_window', 'give validity_hours, or valid_from and expires_at');
  }
  const nowSecond = parseTimestamp(toTimestamp(now))!;
  const validFrom = input.valid_from !== undefined ? timestampField(input.valid_from, 'valid_from') : nowSecond;
  const expiresAt =
    input.expires_at !== undefined ? timestampField(input.expires_at, 'expires_at') : addSeconds(validFrom, input.validity_hours! * 3600);
  const skewMs = deps.config.clockSkewSeconds * 1000;
  if (validFrom.getTime() < nowSecond.getTime() - skewMs) {
    throw new AppError('invalid_validity_window', 'valid_from may not be in the past', {
      valid_from: toTimestamp(validFrom),
      now: toTimestamp(nowSecond),
    });
  }
  if (expiresAt.getTime() <= validFrom.getTime()) {
    throw new AppError('invalid_validity_window', 'expires_at must be after valid_from', {
      valid_from: toTimestamp(validFrom),
      expires_at: toTimestamp(expiresAt),
    });
  }
  if (validFrom.getTime() - nowSecond.getTime() > maxSeconds * 1000) {
    throw new AppError('invalid_validity_window', `valid_from may be at most ${deps.config.maxTreatyValidityDays} days ahead`);
  }
  if (expiresAt.getTime() - validFrom.getTime() > maxSeconds * 1000) {
    throw new AppError('validity_too_long', `validity may not exceed ${deps.config.maxTreatyValidityDays} days`, {
      max_days: deps.config.maxTreatyValidityDays,
    });
  }
  return { validFrom: toTimestamp(validFrom), expiresAt: toTimestamp(expiresAt) };
}

export function checkReason<R extends string>(reason: string, allowed: readonly R[]): R {
  if (!(allowed as readonly string[]).includes(reason)) {
    throw new AppError('invalid_reason', `reason must be one of ${allowed.join(', ')}`, { reason: reason.slice(0, 64), allowed });
  }
  return reason as R;
}
