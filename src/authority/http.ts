// HTTP plumbing shared by every route: request ids, the error envelope, strict JSON bodies, validation.
import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ZodType, z } from 'zod';
import { decodeUtf8Strict, parseJsonStrict, type JsonValue, type StrictJsonOptions } from './canonical-json.ts';
import type { AppEnv } from './context.ts';
import { AppError, errorEnvelope, type ErrorCode } from './errors.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Default request body limit; routes that take larger documents (feed import) set their own. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export function requestId(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const given = c.req.header('x-request-id');
    const id = given && REQUEST_ID.test(given) ? given : randomUUID();
    c.set('requestId', id);
    c.header('X-Request-ID', id);
    await next();
  };
}

export function errorResponse(c: Context<AppEnv>, err: AppError): Response {
  for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
  c.header('Cache-Control', 'no-store');
  return c.json(errorEnvelope(err, c.get('requestId') ?? null), err.status as 400);
}

/**
 * The answer to a request the HTTP server refuses before any route sees it (a backslash in the path,
 * a malformed or missing Host header, an invalid target): the error envelope, never a bare 400.
 * Passed to @hono/node-server as its `errorHandler`.
 */
export function requestErrorResponse(err: unknown): Response {
  const message = err instanceof Error ? err.message : '';
  const error = /backslash/i.test(message)
    ? new AppError('non_canonical_path', NON_CANONICAL_PATH_MESSAGE)
    : /host/i.test(message)
      ? new AppError('invalid_host', 'the Host header is missing or does not match the request')
      : new AppError('malformed_request', 'the request target or Host header could not be parsed');
  const id = randomUUID();
  return new Response(JSON.stringify(errorEnvelope(error, id)), {
    status: error.status,
    headers: { 'Content-Type': 'application/json', 'X-Request-ID': id, 'Cache-Control': 'no-store' },
  });
}

/** Maps anything thrown to an AppError; unknown errors become a bare 500 with no internals. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 413) return new AppError('body_too_large', 'request body is too large');
    return AppError.httpLayer(err.status, err.message || 'request failed');
  }
  return new AppError('internal_error', 'internal error');
}

/** Raw request body bytes (read once; Hono caches them). */
export async function rawBody(c: Context<AppEnv>): Promise<Uint8Array> {
  return new Uint8Array(await c.req.arrayBuffer());
}

/**
 * Raw body bytes of a request that must be application/json (415 otherwise). For routes that parse
 * the bytes themselves, e.g. feed imports that audit a malformed body.
 */
export async function jsonRawBody(c: Context<AppEnv>): Promise<Uint8Array> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new AppError('unsupported_media_type', 'request body must be application/json');
  }
  return rawBody(c);
}

/** Parses the request body as strict JSON (UTF-8, no duplicate keys); 400 `malformed_json` otherwise. */
export async function jsonBody(c: Context<AppEnv>, options: StrictJsonOptions = {}): Promise<JsonValue> {
  const bytes = await jsonRawBody(c);
  if (bytes.length === 0) throw new AppError('malformed_json', 'request body is empty');
  return parseJsonStrict(decodeUtf8Strict(bytes), options);
}

/** Validation issues in a stable, path-based form for error details. */
export function issueList(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.length ? i.path.join('.') : '(root)', message: i.message }));
}

/** Validates with a zod schema; 422 with the route's validation code on failure. */
export function validate<S extends ZodType>(schema: S, value: unknown, code: ErrorCode, message = 'request failed validation'): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError(code, message, { issues: issueList(parsed.error) });
  return parsed.data;
}

/** Reads and validates an optional JSON body: an empty body means `{}`. */
export async function optionalBody<S extends ZodType>(c: Context<AppEnv>, schema: S, code: ErrorCode): Promise<z.infer<S>> {
  if ((await rawBody(c)).length === 0) return validate(schema, {}, code);
  return validatedBody(c, schema, code);
}

/** Whether any of the If-None-Match entity tags matches (weak comparison, RFC 9110 §13.1.2). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag));
}

/** Reads and validates a JSON body in one step. */
export async function validatedBody<S extends ZodType>(c: Context<AppEnv>, schema: S, code: ErrorCode): Promise<z.infer<S>> {
  return validate(schema, await jsonBody(c), code);
}

/** Validates query parameters (all strings) with a zod schema; 422 `invalid_query` on failure. */
export function validatedQuery<S extends ZodType>(c: Context<AppEnv>, schema: S): z.infer<S> {
  return validate(schema, c.req.query(), 'invalid_query', 'query parameters failed validation');
}

/** The path and query exactly as the client sent them (what admin signatures bind). */
export function pathAndQuery(c: Context<AppEnv>): string {
  const incoming = c.env?.incoming;
  if (incoming?.url) return incoming.url;
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^#]*)/i.exec(c.req.url);
  return match?.[1] || '/';
}

export const NON_CANONICAL_PATH_MESSAGE =
  'the request path must be in normalized form: no dot segments (plain or percent-encoded), backslashes, encoded slashes or empty segments';

const URL_BASE = 'http://accord.invalid';

/**
 * Whether a request target's path is already in the form URL parsing and routing give it, so the
 * path that is routed is byte for byte the path that was sent (and signed).
 */
export function isCanonicalTarget(target: string): boolean {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (!path.startsWith('/') || path.includes('\\') || path.includes('//')) return false;
  if (/%(?:2f|5c)/i.test(path)) return false;
  for (const segment of path.split('/')) {
    if (/^(?:\.|%2e){1,2}$/i.test(segment)) return false;
  }
  try {
    return new URL(path, URL_BASE).pathname === path;
  } catch {
    return false;
  }
}

/** Admin targets are stricter: no percent-encoding at all in the path (routing decodes it, signing does not). */
export function isCanonicalAdminTarget(target: string): boolean {
  const q = target.indexOf('?');
  return isCanonicalTarget(target) && !(q < 0 ? target : target.slice(0, q)).includes('%');
}

/** The connecting client's address (for per-client limits). */
export function clientAddress(c: Context<AppEnv>): string {
  return c.env?.incoming?.socket?.remoteAddress ?? 'local';
}
