// Attacks on admin authentication found against running authorities: path normalization around
// scopes, signatures replayed to another authority, floods from rotating addresses and shared
// addresses, and requests the HTTP server refuses before routing.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminSigningPayload, signAdminRequest } from '../../src/authority/admin-auth.ts';
import { INDIVIDUAL_FAILURES_PER_WINDOW, MAX_TRACKED, SlidingCounts } from '../../src/authority/admin-failures.ts';
import { toTimestamp } from '../../src/authority/clock.ts';
import { sha256Hex, signBytes } from '../../src/authority/crypto.ts';
import { listen, startNode, type Node } from '../feeds/network.ts';
import {
  auditCount,
  createTestAuthority,
  dbDigest,
  lastAudit,
  testOperator,
  type TestAuthority,
  type TestOperator,
} from '../helpers/authority.ts';
import { errorCode } from './fixture.ts';

const peersOnly = testOperator('peers-only', ['peers:*']);
const auditor = testOperator('auditor', ['*:read']);

/** An admin request as the server sees it when `target` is the raw request target on the wire. */
function onTheWire(
  a: TestAuthority,
  method: string,
  target: string,
  op: TestOperator,
  body = '',
  address = '192.0.2.10',
): Promise<Response> {
  const headers: Record<string, string> = {
    ...signAdminRequest({
      authority: a.sovereignId,
      method,
      path: target,
      body,
      label: op.label,
      key: op.key,
      timestamp: toTimestamp(a.clock()),
    }),
    ...(body ? { 'Content-Type': 'application/json' } : {}),
  };
  // app.request resolves dot segments in its URL, as node's server does; `incoming.url` keeps the raw target.
  return Promise.resolve(
    a.app.request(
      target,
      { method, headers, ...(body ? { body } : {}) },
      { incoming: { url: target, socket: { remoteAddress: address } } as never },
    ),
  );
}

/** Raw bytes over a socket; resolves with the whole response text. */
function rawHttp(url: string, request: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(request));
    let text = '';
    socket.on('data', (d) => (text += d.toString('utf8')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 5000);
  });
}

function jsonOf(response: string): { status: number; body: { error: { code: string } } } {
  const [head, ...rest] = response.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head!)![1]), body: JSON.parse(rest.join('\r\n\r\n')) };
}

describe('scoped keys cannot leave their area through path normalization', () => {
  let a: TestAuthority;
  let attestationId: string;
  beforeAll(async () => {
    a = createTestAuthority({ operators: [testOperator(), peersOnly, auditor] });
    const issued = await a.admin('POST', '/admin/attestations', { subject_id: 'worker-1', roles: ['role:client'], validity_hours: 24 });
    expect(issued.status).toBe(201);
    attestationId = ((await issued.json()) as { attestation_id: string }).attestation_id;
  });

  const treaty = JSON.stringify({
    subject_sovereign_id: 'peer-x',
    subject_public_keys: [testOperator('x').key.publicKey],
    scope: { allowed_roles: ['role:client'] },
    validity_hours: 24,
  });

  it.each([
    ['POST', '/admin/peers/../recognition-treaties', () => peersOnly, treaty],
    ['POST', '/admin/peers/%2e%2e/recognition-treaties', () => peersOnly, treaty],
    ['POST', '/admin/peers/%2E%2E/signing-keys/rotate', () => peersOnly, '{}'],
    ['POST', '/admin/peers/.%2e/signing-keys/rotate', () => peersOnly, '{}'],
    ['POST', '/admin/peers/./../recognition-treaties', () => peersOnly, treaty],
    ['POST', '/admin//recognition-treaties', () => peersOnly, treaty],
    ['POST', '/admin/peers%2f..%2frecognition-treaties', () => peersOnly, treaty],
    ['POST', '/admin/%70eers', () => peersOnly, '{}'],
    ['GET', '/admin/audit/../attestations/ID', () => auditor, ''],
  ])('%s %s is refused before anything runs, audited, and changes nothing', async (method, target, op, body) => {
    const path = target.replace('ID', attestationId);
    const digest = dbDigest(a.db);
    const failures = auditCount(a.db, 'admin_auth_failed');
    const res = await onTheWire(a, method, path, op(), body);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('non_canonical_path');
    expect(dbDigest(a.db)).toBe(digest);
    expect(auditCount(a.db, 'admin_auth_failed')).toBe(failures + 1);
    expect(lastAudit(a.db)).toMatchObject({ event_type: 'admin_auth_failed', details: { reason: 'non_canonical_path' } });
  });

  it('the same keys still work in their own area with canonical paths', async () => {
    expect((await onTheWire(a, 'GET', '/admin/peers', peersOnly)).status).toBe(200);
    expect((await onTheWire(a, 'GET', `/admin/attestations/${attestationId}`, auditor)).status).toBe(200);
    expect((await onTheWire(a, 'POST', '/admin/recognition-treaties', peersOnly, treaty)).status).toBe(403);
  });

  it('a public path with dot segments is refused too (it would route elsewhere than it reads)', async () => {
    const res = await a.app.request(
      '/connectome/../healthz',
      {},
      { incoming: { url: '/connectome/../healthz', socket: { remoteAddress: '192.0.2.1' } } as never },
    );
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('non_canonical_path');
  });
});

describe('admin signatures are bound to one authority', () => {
  const shared = testOperator('shared-ops');
  let alpha: TestAuthority;
  let beta: TestAuthority;
  beforeAll(() => {
    alpha = createTestAuthority({ sovereignId: 'alpha', operators: [shared] });
    beta = createTestAuthority({ sovereignId: 'beta', operators: [shared] });
  });

  it('a rotation signed for alpha and replayed to beta is refused, and beta is unchanged', async () => {
    const headers = signAdminRequest({
      authority: 'alpha',
      method: 'POST',
      path: '/admin/signing-keys/rotate',
      body: '{}',
      label: shared.label,
      key: shared.key,
      timestamp: toTimestamp(alpha.clock()),
    });
    const init = { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: '{}' };
    const digest = dbDigest(beta.db);
    const replayed = await beta.app.request('/admin/signing-keys/rotate', init);
    expect(replayed.status).toBe(401);
    expect(((await replayed.json()) as { error: { details: { reason: string } } }).error.details.reason).toBe('bad_signature');
    expect(dbDigest(beta.db)).toBe(digest);
    expect((await alpha.app.request('/admin/signing-keys/rotate', init)).status).toBe(201);
  });

  it('a version 1 signature (not bound to any authority) is refused with its own reason', async () => {
    const timestamp = toTimestamp(beta.clock());
    const nonce = 'bGVnYWN5LW5vbmNlLTAwMDAwMDAx';
    const payload = adminSigningPayload({
      method: 'GET',
      path: '/admin/audit',
      bodySha256: sha256Hex(''),
      keyId: shared.label,
      timestamp,
      nonce,
    });
    const res = await beta.app.request('/admin/audit', {
      headers: {
        'X-Admin-Key-Id': shared.label,
        'X-Admin-Timestamp': timestamp,
        'X-Admin-Nonce': nonce,
        'X-Admin-Signature': signBytes(shared.key, payload).toString('base64'),
      },
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { details: { reason: string } } }).error.details.reason).toBe('unbound_signature');
  });
});

describe('failure bookkeeping under a flood', () => {
  const as = (a: TestAuthority, address: string, headers: Record<string, string>) =>
    a.app.request('/admin/audit', { headers }, { incoming: { url: '/admin/audit', socket: { remoteAddress: address } } as never });

  it('rotating through fresh addresses never resets the worst offender', async () => {
    const a = createTestAuthority({ config: { adminFailureLimit: 20 } });
    for (let i = 0; i < 20; i++) await as(a, '203.0.113.66', { 'X-Admin-Key-Id': 'nobody' });
    expect((await as(a, '203.0.113.66', {})).status).toBe(429);
    // Each of these addresses fails once: far more addresses than are tracked.
    for (let i = 0; i < MAX_TRACKED + 2_000; i++) await as(a, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, {});
    const still = await as(a, '203.0.113.66', {});
    expect(still.status).toBe(429);
    expect(Number(still.headers.get('retry-after'))).toBeGreaterThan(0);
  }, 120_000);

  it('keeps at most the configured number of addresses, forgetting the least failing first', () => {
    const counts = new SlidingCounts(5, 60_000, 100);
    for (let i = 0; i < 5; i++) counts.record('worst', 0);
    for (let i = 0; i < 1_000; i++) counts.record(`fresh-${i}`, 1);
    expect(counts.size).toBeLessThanOrEqual(100);
    expect(counts.blockedForSeconds('worst', 2)).toBeGreaterThan(0);
  });

  it('audit rows stay bounded: the first failures of a window one by one, the rest in one summary', async () => {
    const a = createTestAuthority({ config: { adminFailureLimit: 1_000_000 } });
    const before = auditCount(a.db);
    const flood = 5_000;
    for (let i = 0; i < flood; i++)
      await as(a, `198.18.${(i >> 8) & 255}.${i & 255}`, { 'X-Admin-Key-Id': `attacker-chosen-${'x'.repeat(500)}-${i}` });
    expect(auditCount(a.db, 'admin_auth_failed')).toBe(INDIVIDUAL_FAILURES_PER_WINDOW);
    const sample = lastAudit(a.db) as { details: { claimed_key: string; path: string } };
    expect(sample.details.claimed_key.length).toBeLessThanOrEqual(129);
    // The window passes: the next failure writes the summary of the previous window first.
    a.clock.advance(61);
    await as(a, '198.18.0.1', {});
    expect(auditCount(a.db, 'admin_auth_failures_summarized')).toBe(1);
    const summary = (
      a.db.sqlite.prepare("SELECT canonical FROM audit_events WHERE event_type = 'admin_auth_failures_summarized'").get() as {
        canonical: string;
      }
    ).canonical;
    const details = (JSON.parse(summary) as { details: { counted: number; audited_individually: number; top: unknown[] } }).details;
    expect(details.counted).toBe(flood - INDIVIDUAL_FAILURES_PER_WINDOW);
    expect(details.audited_individually).toBe(INDIVIDUAL_FAILURES_PER_WINDOW);
    expect(details.top.length).toBeLessThanOrEqual(20);
    expect(auditCount(a.db) - before).toBeLessThanOrEqual(INDIVIDUAL_FAILURES_PER_WINDOW + 2);
  }, 120_000);

  it('unsigned noise from a shared address never locks out the operator with a valid signature', async () => {
    const a = createTestAuthority({ config: { adminFailureLimit: 5 } });
    for (let i = 0; i < 40; i++) await as(a, '127.0.0.1', {});
    expect((await as(a, '127.0.0.1', {})).status).toBe(429);
    const signed = signAdminRequest({
      authority: a.sovereignId,
      method: 'GET',
      path: '/admin/audit',
      body: '',
      label: a.operator.label,
      key: a.operator.key,
      timestamp: toTimestamp(a.clock()),
    });
    expect((await as(a, '127.0.0.1', { ...signed })).status).toBe(200);
  });
});

describe('requests the HTTP server refuses before routing get the error envelope', () => {
  let node: Node;
  let bare: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    node = await startNode('envelope-test');
    bare = await listen(node.app.fetch);
  });
  afterAll(async () => {
    await bare.stop();
    await node.stop();
  });

  it('a malformed Host header', async () => {
    const res = jsonOf(await rawHttp(node.url, 'GET /healthz HTTP/1.1\r\nHost: bad host:99999\r\nConnection: close\r\n\r\n'));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('malformed_request');
  });

  it('a backslash in the path', async () => {
    const res = jsonOf(await rawHttp(node.url, 'GET /admin\\..\\healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('non_canonical_path');
  });

  it('dot segments over a real socket, for a scoped key', async () => {
    const target = '/admin/peers/../recognition-treaties';
    const headers = signAdminRequest({
      authority: node.sovereignId,
      method: 'POST',
      path: target,
      body: '{}',
      label: node.operator.label,
      key: node.operator.key,
      timestamp: toTimestamp(node.clock()),
    });
    const lines = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n');
    const res = jsonOf(
      await rawHttp(
        node.url,
        `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n${lines}\r\nConnection: close\r\n\r\n{}`,
      ),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('non_canonical_path');
  });
});
