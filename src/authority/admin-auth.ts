// Admin request signatures (SPEC §7): signing for clients, verification middleware for the server.
import { randomBytes } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { appendAudit } from './audit.ts';
import { canonicalBytes } from './canonical-json.ts';
import { parseTimestamp, toTimestamp } from './clock.ts';
import type { AppDeps, AppEnv } from './context.ts';
import { decodeBase64Strict, sha256Hex, signBytes, verifyWithKeyAsync, type SigningKey } from './crypto.ts';
import { AppError } from './errors.ts';
import { clientAddress, pathAndQuery, rawBody } from './http.ts';
import { scopeAllows } from './operator-keys.ts';
import { bindNonce, nonceSeen, storeNonce, type RequestNonce } from './request-nonces.ts';

export const NONCE_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

export interface AdminSigningInput {
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

/** The bytes an admin signature covers: UTF-8 JCS of the six bound fields. */
export function adminSigningPayload(fields: { method: string; path: string; bodySha256: string; keyId: string; timestamp: string; nonce: string }): Buffer {
  return canonicalBytes({
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
  | 'insufficient_scope';

/** Per-client count of failed admin authentications in a sliding minute, on the injected clock. */
class FailureLimiter {
  private failures = new Map<string, number[]>();
  constructor(private readonly limit: number, private readonly windowMs = 60_000) {}

  private recent(client: string, nowMs: number): number[] {
    const list = (this.failures.get(client) ?? []).filter((t) => t > nowMs - this.windowMs);
    if (list.length === 0) this.failures.delete(client);
    else this.failures.set(client, list);
    return list;
  }

  blockedForSeconds(client: string, nowMs: number): number {
    const list = this.recent(client, nowMs);
    if (list.length < this.limit) return 0;
    return Math.max(1, Math.ceil((list[list.length - this.limit]! + this.windowMs - nowMs) / 1000));
  }

  record(client: string, nowMs: number): void {
    const list = this.recent(client, nowMs);
    list.push(nowMs);
    this.failures.set(client, list.slice(-this.limit));
    if (this.failures.size > 10_000) this.failures.clear();
  }
}

const STATUS_FOR: Partial<Record<AdminAuthFailure, number>> = { insufficient_scope: 403 };

/** Area of an admin path for scopes: the first segment after /admin/. */
function adminArea(path: string): string {
  return path.replace(/^\/admin\/?/, '').split(/[/?]/)[0] || 'admin';
}

/**
 * Verifies the four X-Admin-* headers against the request's method, path+query and body. Every
 * failure is a 401 `admin_auth_failed` (403 for scope) with a reason and an audit event; a client
 * with too many failures in a minute gets 429 until the minute has passed.
 */
export function adminAuth(deps: AppDeps): MiddlewareHandler<AppEnv> {
  const limiter = new FailureLimiter(deps.config.adminFailureLimit);
  const inFlight = new Set<string>();
  const pruneNonces = deps.db.sqlite.prepare('DELETE FROM admin_nonces WHERE seen_at < ?');
  let lastPrune = 0;

  return async (c, next) => {
    const now = deps.clock();
    const nowMs = now.getTime();
    const client = clientAddress(c);
    const method = c.req.method.toUpperCase();
    const path = pathAndQuery(c);
    const label = c.req.header('x-admin-key-id');

    const retryAfter = limiter.blockedForSeconds(client, nowMs);
    if (retryAfter > 0) {
      deps.metrics.adminAuthFailures.inc({ reason: 'rate_limited' });
      throw new AppError('too_many_auth_failures', 429, 'too many failed admin authentications; try again later', { retry_after_seconds: retryAfter }, { 'Retry-After': String(retryAfter) });
    }

    const fail = (reason: AdminAuthFailure, keyId?: string): never => {
      limiter.record(client, nowMs);
      deps.metrics.adminAuthFailures.inc({ reason });
      appendAudit(deps.db.sqlite, deps.clock, {
        eventType: 'admin_auth_failed',
        actor: keyId ? { type: 'operator', key_id: keyId, ...(label ? { label } : {}) } : { type: 'anonymous' },
        requestId: c.get('requestId'),
        details: { reason, method, path: path.slice(0, 512), client, ...(label && !keyId ? { claimed_key: label.slice(0, 128) } : {}) },
      });
      const status = STATUS_FOR[reason] ?? 401;
      throw new AppError(status === 403 ? 'insufficient_scope' : 'admin_auth_failed', status, status === 403 ? 'operator key lacks the scope for this route' : 'admin request authentication failed', { reason });
    };

    const timestamp = c.req.header('x-admin-timestamp');
    const nonce = c.req.header('x-admin-nonce');
    const signature = c.req.header('x-admin-signature');
    if (!label || !timestamp || !nonce || !signature) return fail('missing_header');

    const operator = deps.operatorKeys.get(label);
    if (!operator) return fail('unknown_key');
    if (operator.notAfter && operator.notAfter.getTime() <= nowMs) return fail('key_expired', operator.key.keyId);

    const at = parseTimestamp(timestamp);
    if (!at) return fail('malformed_timestamp', operator.key.keyId);
    if (Math.abs(at.getTime() - nowMs) > deps.config.adminWindowSeconds * 1000) return fail('timestamp_out_of_window', operator.key.keyId);
    if (!NONCE_PATTERN.test(nonce)) return fail('malformed_nonce', operator.key.keyId);
    const sig = decodeBase64Strict(signature, 64);
    if (!sig) return fail('malformed_signature', operator.key.keyId);

    const body = await rawBody(c);
    const payload = adminSigningPayload({ method, path, bodySha256: sha256Hex(body), keyId: label, timestamp, nonce });
    // On the thread pool: the event loop serves other requests while the signature is checked.
    if (!(await verifyWithKeyAsync(operator.key, payload, sig))) {
      deps.metrics.signatureVerificationFailures.inc({ surface: 'admin_request', reason: 'bad_signature' });
      return fail('bad_signature', operator.key.keyId);
    }

    const access = method === 'GET' || method === 'HEAD' ? 'read' : 'write';
    const area = adminArea(path);
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
      pruneNonces.run(toTimestamp(new Date(nowMs - 2 * deps.config.adminWindowSeconds * 1000)));
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

/** The audit actor for the operator of the current admin request. */
export function operatorActor(operator: { label: string; keyId: string; nonce?: RequestNonce } | undefined) {
  if (!operator) return { type: 'system' as const };
  const actor = { type: 'operator' as const, key_id: operator.keyId, label: operator.label };
  // Events this actor appends store the request's nonce in their transaction.
  bindNonce(actor, operator.nonce);
  return actor;
}
