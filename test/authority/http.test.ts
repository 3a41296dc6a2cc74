// HTTP basics every route shares: one error envelope, request ids, strict JSON bodies, body limits, 404/405.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonBody, validatedBody, validatedQuery } from '../../src/authority/http.ts';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';

type Envelope = { error: { code: string; message: string; details: Record<string, unknown>; request_id: string | null } };

/**
 * A test authority with three extra public routes built from the shared helpers, added before the
 * first request: the real middleware, error handler and body limits apply to them.
 */
function withEchoRoutes(): TestAuthority {
  const a = createTestAuthority();
  const item = z.strictObject({ name: z.string().min(1), count: z.number().int().min(0) });
  a.app.post('/test/echo', async (c) => c.json({ received: await jsonBody(c) }));
  a.app.post('/test/items', async (c) => c.json(await validatedBody(c, item, 'invalid_treaty_request'), 201));
  a.app.get('/test/query', (c) => c.json(validatedQuery(c, z.strictObject({ n: z.string().regex(/^\d+$/) }))));
  a.app.get('/test/crash', () => {
    throw new Error('database at /var/lib/accord/secret.db exploded');
  });
  return a;
}

async function envelope(res: Response): Promise<Envelope> {
  const body = (await res.json()) as Envelope;
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'details', 'message', 'request_id']);
  expect(body.error.request_id).toBe(res.headers.get('x-request-id'));
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return body;
}

const post = (
  a: TestAuthority,
  path: string,
  body: string | Uint8Array | undefined,
  type: string | null = 'application/json',
  extra: Record<string, string> = {},
) =>
  Promise.resolve(
    a.app.request(path, {
      method: 'POST',
      headers: { ...(type ? { 'Content-Type': type } : {}), ...extra },
      ...(body !== undefined ? { body } : {}),
    }),
  );

describe('JSON request bodies', () => {
  it('accepts JSON with a JSON media type (parameters and +json suffixes included)', async () => {
    const a = withEchoRoutes();
    for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/merge-patch+json']) {
      const res = await post(a, '/test/echo', '{"a":[1,"ë"]}', type);
      expect(res.status, type).toBe(200);
      expect(await res.json()).toEqual({ received: { a: [1, 'ë'] } });
    }
  });

  it.each([
    ['truncated JSON', '{"a":'],
    ['a trailing comma', '{"a":1,}'],
    ['single quotes', "{'a':1}"],
    ['an empty body', ''],
    ['a duplicate key', '{"a":1,"a":2}'],
    ['keys equal after unescaping', '{"a":1,"\\u0061":2}'],
  ])('refuses %s with 400 malformed_json', async (_name, text) => {
    const a = withEchoRoutes();
    const res = await post(a, '/test/echo', text);
    expect(res.status).toBe(400);
    expect((await envelope(res)).error.code).toBe('malformed_json');
  });

  it('refuses invalid UTF-8 with 400 malformed_json', async () => {
    const a = withEchoRoutes();
    const res = await post(a, '/test/echo', new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]));
    expect(res.status).toBe(400);
    expect((await envelope(res)).error.code).toBe('malformed_json');
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['form data', 'application/x-www-form-urlencoded'],
    ['no content type', null],
    ['a json look-alike', 'application/jsonp'],
  ])('refuses %s with 415 unsupported_media_type', async (_name, type) => {
    const a = withEchoRoutes();
    const res = await post(a, '/test/echo', '{"a":1}', type);
    expect(res.status).toBe(415);
    expect((await envelope(res)).error.code).toBe('unsupported_media_type');
  });

  it('refuses a body over the limit with 413 body_too_large, with and without Content-Length', async () => {
    const a = withEchoRoutes();
    const big = `{"a":"${'x'.repeat(1024 * 1024)}"}`;
    const declared = await post(a, '/test/echo', big);
    expect(declared.status).toBe(413);
    const body = await envelope(declared);
    expect(body.error.code).toBe('body_too_large');
    expect(body.error.details).toEqual({ max_bytes: 1024 * 1024 });

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.subarray(i, i + 64 * 1024));
        controller.close();
      },
    });
    const streamed = await Promise.resolve(
      a.app.request('/test/echo', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit),
    );
    expect(streamed.status).toBe(413);
    expect((await envelope(streamed)).error.code).toBe('body_too_large');

    // Just under the limit is fine.
    const fits = `{"a":"${'x'.repeat(1024 * 1024 - 10)}"}`;
    expect((await post(a, '/test/echo', fits)).status).toBe(200);
  });

  it('applies the body limit before admin authentication reads the body', async () => {
    const a = createTestAuthority();
    const res = await a.admin('POST', '/admin/audit', `"${'x'.repeat(1024 * 1024 + 1)}"`);
    expect(res.status).toBe(413);
  });
});

describe('validation errors', () => {
  it('are 422 with the route code and a list of issues; unknown fields are refused', async () => {
    const a = withEchoRoutes();
    expect((await post(a, '/test/items', '{"name":"x","count":1}')).status).toBe(201);
    const wrongType = await post(a, '/test/items', '{"name":"x","count":"1"}');
    expect(wrongType.status).toBe(422);
    const body = await envelope(wrongType);
    expect(body.error.code).toBe('invalid_treaty_request');
    expect(body.error.details.issues).toEqual([expect.objectContaining({ path: 'count' })]);

    const extra = await post(a, '/test/items', '{"name":"x","count":1,"admin":true}');
    expect(extra.status).toBe(422);
    expect((await envelope(extra)).error.code).toBe('invalid_treaty_request');

    const notObject = await post(a, '/test/items', '[]');
    expect(notObject.status).toBe(422);
    expect((await envelope(notObject)).error.details.issues).toEqual([expect.objectContaining({ path: '(root)' })]);
  });

  it('query validation errors are 422 invalid_query', async () => {
    const a = withEchoRoutes();
    expect((await a.app.request('/test/query?n=12')).status).toBe(200);
    const res = await a.app.request('/test/query?n=x');
    expect(res.status).toBe(422);
    expect((await envelope(res)).error.code).toBe('invalid_query');
  });
});

describe('routing errors and request ids', () => {
  it('404 not_found for unknown paths, in the envelope', async () => {
    const a = createTestAuthority();
    for (const path of ['/nope', '/.well-known/other', '/healthz/extra']) {
      const res = await a.app.request(path);
      expect(res.status, path).toBe(404);
      expect((await envelope(res)).error.code).toBe('not_found');
    }
  });

  it('under /admin/, authentication comes first: unsigned requests never learn which routes exist', async () => {
    const a = createTestAuthority();
    expect((await a.app.request('/admin/no-such-thing')).status).toBe(401);
    const signed = await a.admin('GET', '/admin/no-such-thing');
    expect(signed.status).toBe(404);
    expect((await envelope(signed)).error.code).toBe('not_found');
  });

  it('405 method_not_allowed with an Allow header for known paths', async () => {
    const a = createTestAuthority();
    for (const [method, path] of [
      ['POST', '/healthz'],
      ['DELETE', '/readyz'],
      ['PUT', '/.well-known/network-authority'],
      ['POST', '/metrics'],
    ] as const) {
      const res = await a.app.request(path, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe('GET');
      const body = await envelope(res);
      expect(body.error.code).toBe('method_not_allowed');
      expect(body.error.details).toEqual({ allowed: ['GET'] });
    }
  });

  it('echoes a well-formed X-Request-ID and replaces anything else with a fresh id', async () => {
    const a = createTestAuthority();
    const echoed = await a.app.request('/nope', { headers: { 'X-Request-ID': 'client-req.42:a_b-c' } });
    expect(echoed.headers.get('x-request-id')).toBe('client-req.42:a_b-c');
    expect((await envelope(echoed)).error.request_id).toBe('client-req.42:a_b-c');
    expect((await a.app.request('/healthz', { headers: { 'X-Request-ID': 'ok-1' } })).headers.get('x-request-id')).toBe('ok-1');
    for (const bad of ['has space', 'x'.repeat(129), 'semi;colon', '<script>']) {
      const res = await a.app.request('/healthz', { headers: { 'X-Request-ID': bad } });
      expect(res.headers.get('x-request-id'), bad).toMatch(/^[0-9a-f-]{36}$/);
    }
    const generated = await a.app.request('/healthz');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('an unexpected error is a bare 500 internal_error without internals', async () => {
    const a = withEchoRoutes();
    const res = await a.app.request('/test/crash');
    expect(res.status).toBe(500);
    const text = await res.clone().text();
    expect(text).not.toContain('/var/lib');
    expect(text).not.toContain('exploded');
    expect(text).not.toMatch(/at .*\.ts/);
    expect((await envelope(res)).error).toMatchObject({ code: 'internal_error', message: 'internal error', details: {} });
  });
});
