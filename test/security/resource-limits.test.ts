// Resource limits: a body limit on every route that takes a body (declared or streamed), pagination
// bounds, the per-client limit on failed admin authentication, and truncated or oversized bodies over
// a real socket that neither hang the server nor take it down.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { toTimestamp } from '../../src/authority/clock.ts';
import { DEFAULT_BODY_LIMIT } from '../../src/authority/http.ts';
import { auditCount, createTestAuthority, dbDigest } from '../helpers/authority.ts';
import { listen } from '../feeds/network.ts';
import { errorCode, populatedAuthority, send, type Populated } from './fixture.ts';

let p: Populated;
beforeAll(() => {
  p = populatedAuthority({ config: { adminFailureLimit: 20 } });
});
afterAll(() => p.cleanup());

const MiB = 1024 * 1024;
/** Routes that take larger signed documents; everything else has the default limit. */
const LARGE = new Set(['/admin/revocation-feeds/import', '/admin/sovereign-revocation-feeds/import']);
const limitOf = (path: string) => (LARGE.has(path) ? 8 * MiB : DEFAULT_BODY_LIMIT);

/** Routes are enumerated at collection time from a fresh app (the same createApp). */
function bodyRoutes(): Array<{ method: string; path: string }> {
  const probe = createTestAuthority();
  const seen = new Map<string, { method: string; path: string }>();
  for (const r of probe.app.routes)
    if (r.method !== 'ALL' && r.method !== 'GET' && r.method !== 'HEAD')
      seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path.replace(/:[A-Za-z_]+/g, 'x') });
  probe.db.close();
  return [...seen.values()];
}

describe('body size limits on every route that takes a body', () => {
  it('there are body-taking routes to check (enumerated from app.routes)', () => {
    expect(bodyRoutes().length).toBeGreaterThan(20);
  });

  it.each(bodyRoutes().map((r) => [`${r.method} ${r.path}`, r] as const))(
    '%s: limit + 1 bytes → 413 body_too_large, declared or streamed; nothing changes',
    async (_n, route) => {
      const size = limitOf(route.path) + 1;
      const body = new Uint8Array(size).fill(0x20);
      const before = dbDigest(p.a.db);
      const declared = await send(p.a, {
        method: route.method,
        path: route.path,
        body,
        headers: { 'Content-Type': 'application/json', 'Content-Length': String(size) },
        sign: route.path.startsWith('/admin/'),
      });
      expect(declared.status).toBe(413);
      expect(await errorCode(declared)).toBe('body_too_large');
      // The same bytes as a stream with no Content-Length: counted while reading.
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let off = 0; off < size; off += 64 * 1024) controller.enqueue(body.subarray(off, Math.min(size, off + 64 * 1024)));
          controller.close();
        },
      });
      const headers = {
        ...(route.path.startsWith('/admin/')
          ? signAdminRequest({
              authority: p.a.sovereignId,
              method: route.method,
              path: route.path,
              body,
              label: p.a.operator.label,
              key: p.a.operator.key,
              timestamp: toTimestamp(p.a.clock()),
            })
          : {}),
        'Content-Type': 'application/json',
      };
      const streamed = await p.a.app.request(`http://localhost${route.path}`, {
        method: route.method,
        headers,
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(413);
      expect(await errorCode(streamed)).toBe('body_too_large');
      expect(dbDigest(p.a.db)).toBe(before);
    },
  );
});

describe('pagination limits', () => {
  const cases: Array<[string, string]> = [
    ['/revocation-feeds?limit=101', 'invalid_query'],
    ['/revocation-feeds?limit=0', 'invalid_query'],
    ['/recognition-treaties?limit=501', 'invalid_query'],
    ['/admin/audit?limit=1001', 'invalid_query'],
    ['/admin/audit?limit=0', 'invalid_query'],
  ];
  it.each(cases)('%s → 422 %s', async (path, code) => {
    const res = await send(p.a, { method: 'GET', path, sign: path.startsWith('/admin/') });
    expect(res.status).toBe(422);
    expect(await errorCode(res)).toBe(code);
  });

  it('pages never exceed their limit, and say when there is more', async () => {
    for (let i = 0; i < 5; i++)
      await p.a.admin('POST', '/admin/attestations', { subject_id: `page-${i}`, roles: ['role:client'], validity_hours: 1 });
    const audit = (await (await send(p.a, { method: 'GET', path: '/admin/audit?limit=3', sign: true })).json()) as {
      events: unknown[];
      next_after_seq: number | null;
    };
    expect(audit.events).toHaveLength(3);
    expect(audit.next_after_seq).not.toBeNull();
    const treaties = (await (await send(p.a, { method: 'GET', path: '/recognition-treaties?limit=1' })).json()) as {
      treaties: unknown[];
      next_cursor: string | null;
    };
    expect(treaties.treaties).toHaveLength(1);
    expect(treaties.next_cursor).not.toBeNull();
    const feeds = (await (await send(p.a, { method: 'GET', path: '/revocation-feeds?since=0&limit=1' })).json()) as {
      feeds: unknown[];
      more: boolean;
      latest_sequence: number;
    };
    expect(feeds.feeds.length).toBeLessThanOrEqual(1);
    expect(feeds.more).toBe(feeds.latest_sequence > 1);
  });
});

describe('per-client limit on failed admin authentication', () => {
  /** A request as if from `address` (the limiter keys on the socket's remote address). */
  function from(address: string, path: string, headers: Record<string, string>) {
    return p.a.app.request(path, { method: 'GET', headers }, { incoming: { url: path, socket: { remoteAddress: address } } as never });
  }
  const signed = (path: string): Record<string, string> => ({
    ...signAdminRequest({
      authority: p.a.sovereignId,
      method: 'GET',
      path,
      body: '',
      label: p.a.operator.label,
      key: p.a.operator.key,
      timestamp: toTimestamp(p.a.clock()),
    }),
  });

  it('after 20 failures in a minute a client gets 429 for unsigned noise, but a valid signature is still served; others are unaffected; it recovers after the minute', async () => {
    const attacker = '203.0.113.7';
    const failures = auditCount(p.a.db, 'admin_auth_failed');
    for (let i = 0; i < 20; i++) {
      const res = await from(attacker, '/admin/peers', {
        ...signed('/admin/peers'),
        'X-Admin-Signature': Buffer.alloc(64, i).toString('base64'),
      });
      expect(res.status).toBe(401);
    }
    expect(auditCount(p.a.db, 'admin_auth_failed')).toBe(failures + 20);
    const blocked = await from(attacker, '/admin/peers', { 'X-Admin-Key-Id': 'intruder' });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await errorCode(blocked)).toBe('too_many_auth_failures');
    // Blocked requests are not audited one by one: an attacker cannot grow the audit log past the limit.
    for (let i = 0; i < 50; i++) expect((await from(attacker, '/admin/peers', {})).status).toBe(429);
    expect(auditCount(p.a.db, 'admin_auth_failed')).toBe(failures + 20);
    // The operator behind the same address, with a valid signature, is not locked out by the noise.
    expect((await from(attacker, '/admin/peers', signed('/admin/peers'))).status).toBe(200);
    expect((await from(attacker, '/admin/peers', {})).status).toBe(429);

    expect((await from('198.51.100.1', '/admin/peers', signed('/admin/peers'))).status).toBe(200);
    p.a.clock.advance(61);
    expect((await from(attacker, '/admin/peers', {})).status).toBe(401);
  });
});

describe('hostile bodies over a real socket', () => {
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    server = await listen(p.a.app.fetch);
  });
  afterAll(() => server.stop());

  /** Writes raw bytes, half-closes, and collects what comes back (or nothing) within `ms`. */
  function raw(bytes: Buffer | string, ms = 5000): Promise<{ text: string; ended: boolean }> {
    const { port } = new URL(server.url);
    return new Promise((resolve) => {
      const socket = net.connect(Number(port), '127.0.0.1');
      let text = '';
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ text, ended: false });
      }, ms);
      socket.on('data', (d) => (text += d.toString('latin1')));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ text, ended: true });
      });
      socket.on('error', () => {});
      socket.write(bytes, () => socket.end());
    });
  }
  const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

  it('a truncated body (Content-Length larger than what is sent) ends without a 5xx and without a hang', async () => {
    const body = '{"treaty": {"treaty_id": "';
    const r = await raw(
      `POST /recognition-treaties/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n${body}`,
    );
    expect(r.ended).toBe(true);
    if (r.text) expect(statusOf(r.text)).toBeLessThan(500);
  });

  it('a declared body over the limit is refused with 413 before it is read', async () => {
    const r = await raw(
      `POST /recognition-treaties/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${64 * MiB}\r\nConnection: close\r\n\r\n{`,
    );
    expect(statusOf(r.text)).toBe(413);
  });

  it('a chunked body that never ends is cut at the limit with 413', async () => {
    const { port } = new URL(server.url);
    const status = await new Promise<number>((resolve) => {
      const socket = net.connect(Number(port), '127.0.0.1');
      let text = '';
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
      let timer: NodeJS.Timeout | undefined;
      const done = (s: number) => {
        clearInterval(timer);
        socket.destroy();
        resolve(s);
      };
      socket.on('data', (d) => {
        text += d.toString('latin1');
        if (/^HTTP\/1\.1 \d{3}/.test(text)) done(statusOf(text));
      });
      socket.on('error', () => done(statusOf(text)));
      socket.on('close', () => done(statusOf(text)));
      socket.write('POST /attestations/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
      let sent = 0;
      timer = setInterval(() => {
        if (sent > 16 * MiB) return done(0);
        for (let i = 0; i < 16; i++) socket.write(frame);
        sent += 16 * chunk.length;
      }, 5);
    });
    expect(status).toBe(413);
  });

  it('invalid percent-encoding, NUL bytes and huge headers in the request line never give a 5xx', async () => {
    for (const target of [
      '/recognition-treaties/%ff',
      '/revocation-feeds/%00',
      '/admin/peers/%c0%af',
      `/recognition-treaties?cursor=${'%'.repeat(3000)}`,
    ]) {
      const r = await raw(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const status = statusOf(r.text);
      expect(status, target).toBeGreaterThanOrEqual(400);
      expect(status, target).toBeLessThan(500);
    }
  });

  it('the server still answers afterwards', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
  });
});
