// Admin request signatures (SPEC §7): signing for clients, verification middleware for the server.
import { randomBytes } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { Actor, RequestOrigin } from './audit.ts';
import { canonicalBytes } from './canonical-json.ts';
import { parseTimestamp, toTimestamp } from './clock.ts';
import type { AppDeps, AppEnv } from './context.ts';
import { decodeBase64Strict, sha256Hex, signBytes, verifyWithKeyAsync, type SigningKey } from './crypto.ts';
import { AppError, type ErrorCode } from './errors.ts';
import type { AdminFailureGuard } from './admin-failures.ts';
import { clientAddress, isCanonicalAdminTarget, isCanonicalTarget, NON_CANONICAL_PATH_MESSAGE, pathAndQuery, rawBody } from './http.ts';
import { scopeAllows } from './operator-keys.ts';
import { nonceSeen, pruneNonces, storeNonce } from './nonce-store.ts';
import type { RequestNonce } from './request-nonces.ts';

export const NONCE_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

export interface AdminSigningInput {
  /** The sovereign id of the authority the request is for: a signature is valid at that authority only. */
  authority: string;
  method: string;
  /** Path plus query string, exactly as it will be sent. */
  path: string;
  body: Uint8Array | string;
  /** The operator key's configured label (X-Admin-Key-Id). */
  label: string;
  key: SigningKey;
  timestamp: string;
  nonce?: string;
}

export interface AdminHeaders {
  'X-Admin-Key-Id': string;
  'X-Admin-Timestamp': string;
  'X-Admin-Nonce': string;
  'X-Admin-Signature': string;
}

export function newNonce(): string {
  return randomBytes(24).toString('base64url');
}

/** Version of the signed admin payload: 2 binds the request to one authority's sovereign id. */
export const ADMIN_AUTH_VERSION = 2;

interface PayloadFields {
  method: string;
  path: string;
  bodySha256: string;
  keyId: string;
  timestamp: string;
  nonce: string;
}

/**
 * The bytes an admin signature covers: UTF-8 JCS of the bound fields. Version 2 adds `authority`
 * (the sovereign id of the authority the request is for) and `v`; without `authority` this is the
 * version 1 payload, which is refused (a v1 signature is valid at every authority that trusts the key).
 */
export function adminSigningPayload(fields: PayloadFields & { authority?: string }): Buffer {
  return canonicalBytes({
    ...(fields.authority === undefined ? {} : { authority: fields.authority, v: ADMIN_AUTH_VERSION }),
    method: fields.method.toUpperCase(),
    path: fields.path,
    body_sha256: fields.bodySha256,
    key_id: fields.keyId,
    timestamp: fields.timestamp,
    nonce: fields.nonce,
  });
}

export function signAdminRequest(input: AdminSigningInput): AdminHeaders {
  const nonce = input.nonce ?? newNonce();
  const body = typeof input.body === 'string' ? Buffer.from(input.body, 'utf8') : input.body;
  const payload = adminSigningPayload({
    authority: input.authority,
    method: input.method,
    path: input.path,
    bodySha256: sha256Hex(body),
    keyId: input.label,
    timestamp: input.timestamp,
    nonce,
  });
  return {
    'X-Admin-Key-Id': input.label,
    'X-Admin-Timestamp': input.timestamp,
    'X-Admin-Nonce': nonce,
    'X-Admin-Signature': signBytes(input.key, payload).toString('base64'),
  };
}

export type AdminAuthFailure =
  | 'missing_header'
  | 'unknown_key'
  | 'key_expired'
  | 'malformed_timestamp'
  | 'timestamp_out_of_window'
  | 'malformed_nonce'
  | 'malformed_signature'
  | 'bad_signature'
  | 'nonce_replayed'
  | 'unbound_signature'
  | 'non_canonical_path'
  | 'insufficient_scope';

/** Failures with a code of their own (and so their own status); every other one is `admin_auth_failed`. */
const CODE_FOR: Partial<Record<AdminAuthFailure, ErrorCode>> = {
  insufficient_scope: 'insufficient_scope',
  non_canonical_path: 'non_canonical_path',
};
const MESSAGE_FOR: Partial<Record<AdminAuthFailure, string>> = {
  insufficient_scope: 'operator key lacks the scope for this route',
  non_canonical_path: NON_CANONICAL_PATH_MESSAGE,
};

/** Area of a routed admin path for scopes: the first segment after /admin/. */
function adminArea(routedPath: string): string {
  return routedPath.replace(/^\/admin\/?/, '').split('/')[0] || 'admin';
}

/**
 * Verifies the four X-Admin-* headers against the request's authority, method, path+query and body.
 * Every failure is a 401 `admin_auth_failed` (403 for scope, 400 for a non-canonical path) with a
 * reason, counted and audited through the failure guard; a client over the failure limit gets 429
 * unless its request names a configured key.
 */
export function adminAuth(deps: AppDeps, guard: AdminFailureGuard): MiddlewareHandler<AppEnv> {
  const inFlight = new Set<string>();
  let lastPrune = 0;

  return async (c, next) => {
    const now = deps.clock();
    const nowMs = now.getTime();
    const client = clientAddress(c);
    const method = c.req.method.toUpperCase();
    const path = pathAndQuery(c);
    const label = c.req.header('x-admin-key-id');
    const configured = label ? deps.operatorKeys.get(label) : undefined;

    guard.flushIfDue(nowMs);
    const admission = guard.admission(client, configured ? label! : null, nowMs);
    if (!admission.allowed) {
      deps.metrics.adminAuthFailures.inc({ reason: 'rate_limited' });
      throw new AppError(
        'too_many_auth_failures',
        'too many failed admin authentications; try again later',
        { retry_after_seconds: admission.retryAfter },
        { 'Retry-After': String(admission.retryAfter) },
      );
    }

    const fail = (reason: AdminAuthFailure, keyId?: string): never => {
      deps.metrics.adminAuthFailures.inc({ reason });
      guard.record(
        {
          reason,
          client,
          method,
          path,
          ...(label ? { label } : {}),
          actor: keyId ? { type: 'operator', key_id: keyId, ...(label ? { label } : {}) } : { type: 'anonymous' },
          requestId: c.get('requestId'),
        },
        nowMs,
      );
      throw new AppError(CODE_FOR[reason] ?? 'admin_auth_failed', MESSAGE_FOR[reason] ?? 'admin request authentication failed', { reason });
    };

    // The signed path must be the routed path: nothing that URL parsing or routing would rewrite.
    if (!isCanonicalAdminTarget(path) || path.split('?')[0] !== c.req.path) return fail('non_canonical_path');

    const timestamp = c.req.header('x-admin-timestamp');
    const nonce = c.req.header('x-admin-nonce');
    const signature = c.req.header('x-admin-signature');
    if (!label || !timestamp || !nonce || !signature) return fail('missing_header');

    const operator = configured;
    if (!operator) return fail('unknown_key');
    if (operator.notAfter && operator.notAfter.getTime() <= nowMs) return fail('key_expired', operator.key.keyId);

    const at = parseTimestamp(timestamp);
    if (!at) return fail('malformed_timestamp', operator.key.keyId);
    if (Math.abs(at.getTime() - nowMs) > deps.config.adminWindowSeconds * 1000) return fail('timestamp_out_of_window', operator.key.keyId);
    if (!NONCE_PATTERN.test(nonce)) return fail('malformed_nonce', operator.key.keyId);
    const sig = decodeBase64Strict(signature, 64);
    if (!sig) return fail('malformed_signature', operator.key.keyId);

    const body = await rawBody(c);
    const fields = { method, path, bodySha256: sha256Hex(body), keyId: label, timestamp, nonce };
    // On the thread pool: the event loop serves other requests while the signature is checked.
    if (!(await verifyWithKeyAsync(operator.key, adminSigningPayload({ ...fields, authority: deps.identity.sovereignId }), sig))) {
      deps.metrics.signatureVerificationFailures.inc({ surface: 'admin_request', reason: 'bad_signature' });
      // A version 1 signature (not bound to an authority) gets its own reason, so clients know to upgrade.
      const legacy = await verifyWithKeyAsync(operator.key, adminSigningPayload(fields), sig);
      return fail(legacy ? 'unbound_signature' : 'bad_signature', operator.key.keyId);
    }

    const access = method === 'GET' || method === 'HEAD' ? 'read' : 'write';
    const area = adminArea(c.req.path);
    if (!scopeAllows(operator.scopes, area, access)) return fail('insufficient_scope', operator.key.keyId);

    // Single use. A nonce is taken when it is stored or while its request is in flight (this process
    // is the only writer: the serving lock). It is stored with the request's change, in the same
    // transaction (appendAudit), or after the request when it changed nothing.
    const keyId = operator.key.keyId;
    const flightKey = `${keyId} ${nonce}`;
    if (inFlight.has(flightKey) || nonceSeen(deps.db.sqlite, keyId, nonce)) return fail('nonce_replayed', keyId);
    if (nowMs - lastPrune > 60_000) {
      lastPrune = nowMs;
      // Nonces older than twice the window can never be replayed: their timestamps are out of window.
      pruneNonces(deps.db.sqlite, toTimestamp(new Date(nowMs - 2 * deps.config.adminWindowSeconds * 1000)));
    }

    const requestNonce: RequestNonce = { keyId, nonce, seenAt: toTimestamp(now) };
    c.set('operator', { label, keyId, scopes: operator.scopes, nonce: requestNonce });
    inFlight.add(flightKey);
    try {
      await next();
    } finally {
      inFlight.delete(flightKey);
      if (!nonceSeen(deps.db.sqlite, keyId, nonce)) storeNonce(deps.db.sqlite, requestNonce);
    }
  };
}

/**
 * Refuses, before routing, a request target that URL parsing would rewrite (dot segments in any
 * encoding, backslashes, empty segments): the routed path is then always the path as sent, which is
 * what admin signatures and scopes are checked against. Attempts at /admin are failed admin
 * authentications (counted and audited).
 */
export function canonicalTargets(deps: AppDeps, guard: AdminFailureGuard): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const target = pathAndQuery(c);
    if (isCanonicalTarget(target)) return next();
    if (/^\/+admin(?:[/\\?]|%2f|%5c|$)/i.test(target)) {
      const label = c.req.header('x-admin-key-id');
      const configured = label ? deps.operatorKeys.get(label) : undefined;
      deps.metrics.adminAuthFailures.inc({ reason: 'non_canonical_path' });
      guard.record(
        {
          reason: 'non_canonical_path',
          client: clientAddress(c),
          method: c.req.method.toUpperCase(),
          path: target,
          ...(label ? { label } : {}),
          actor: configured ? { type: 'operator', key_id: configured.key.keyId, label: label! } : { type: 'anonymous' },
          requestId: c.get('requestId'),
        },
        deps.clock().getTime(),
      );
    }
    throw new AppError('non_canonical_path', NON_CANONICAL_PATH_MESSAGE);
  };
}

/** The audit actor for the operator of an admin request (the system when there is none). */
export function operatorActor(operator: { label: string; keyId: string } | undefined): Actor {
  return operator ? { type: 'operator', key_id: operator.keyId, label: operator.label } : { type: 'system' };
}

/** Who asked for the change an admin route makes: the operator, the request id and the request's nonce. */
export function adminOrigin(c: Context<AppEnv>): RequestOrigin {
  const operator = c.get('operator');
  return { actor: operatorActor(operator), requestId: c.get('requestId'), nonce: operator?.nonce };
}
