// Admin request authentication (SPEC §7): what is accepted, every way a request is refused, replay,
// reload and the per-client failure limit. Each refusal leaves the database unchanged but for its audit event.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { createApp } from '../../src/server/app.ts';
import { addSeconds, toTimestamp } from '../../src/authority/clock.ts';
import type { SigningKey } from '../../src/authority/crypto.ts';
import { OperatorKeyring } from '../../src/authority/operator-keys.ts';
import { reloadOperatorKeys } from '../../src/server/server.ts';
import { auditCount, createTestAuthority, dbDigest, lastAudit, testKey, testOperator, type TestAuthority } from '../helpers/authority.ts';

interface SignOptions {
  method?: string;
  path?: string;
  body?: string;
  label?: string;
  key?: SigningKey;
  timestamp?: string;
  nonce?: string;
  authority?: string;
}

function headersFor(a: TestAuthority, o: SignOptions = {}): Record<string, string> {
  return signAdminRequest({
    authority: o.authority ?? a.sovereignId,
    method: o.method ?? 'GET',
    path: o.path ?? '/admin/audit',
    body: o.body ?? '',
    label: o.label ?? a.operator.label,
    key: o.key ?? a.operator.key,
    timestamp: o.timestamp ?? toTimestamp(a.clock()),
    ...(o.nonce ? { nonce: o.nonce } : {}),
  }) as unknown as Record<string, string>;
}

function send(a: TestAuthority, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const method = init.method ?? 'GET';
  return Promise.resolve(
    a.app.request(path, {
      method,
      headers: { ...(init.body ? { 'Content-Type': 'application/json' } : {}), ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
    }),
  );
}

/** Runs a request that must be refused and checks the envelope, the audit event and that nothing else changed. */
async function expectRefused(a: TestAuthority, request: () => Promise<Response>, reason: string, status = 401) {
  const digest = dbDigest(a.db);
  const events = auditCount(a.db);
  const failures = auditCount(a.db, 'admin_auth_failed');
  const res = await request();
  const body = (await res.json()) as { error: { code: string; details: { reason: string }; request_id: string } };
  expect(res.status).toBe(status);
  expect(body.error.code).toBe(status === 403 ? 'insufficient_scope' : 'admin_auth_failed');
  expect(body.error.details.reason).toBe(reason);
  expect(body.error.request_id).toBe(res.headers.get('x-request-id'));
  expect(dbDigest(a.db)).toBe(digest);
  expect(auditCount(a.db)).toBe(events + 1);
  expect(auditCount(a.db, 'admin_auth_failed')).toBe(failures + 1);
  const event = lastAudit(a.db);
  expect(event.event_type).toBe('admin_auth_failed');
  expect((event.details as { reason: string }).reason).toBe(reason);
  expect(event.request_id).toBe(body.error.request_id);
  return event;
}

describe('admin request authentication', () => {
  it('accepts a correctly signed request and records the nonce', async () => {
    const a = createTestAuthority();
    const headers = headersFor(a, { path: '/admin/audit?limit=5', nonce: 'valid-nonce-0123456789ab' });
    const res = await send(a, '/admin/audit?limit=5', { headers });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { events: Array<{ event_type: string }> };
    expect(body.events[0]!.event_type).toBe('authority_initialized');
    const nonce = a.db.sqlite.prepare('SELECT key_id, nonce FROM admin_nonces').get();
    expect(nonce).toEqual({ key_id: a.operator.key.keyId, nonce: 'valid-nonce-0123456789ab' });
    expect(auditCount(a.db, 'admin_auth_failed')).toBe(0);
  });

  it('accepts timestamps at the edges of the window (±300 s)', async () => {
    const a = createTestAuthority();
    for (const offset of [-300, 300]) {
      const res = await send(a, '/admin/audit', { headers: headersFor(a, { timestamp: toTimestamp(addSeconds(a.clock(), offset)) }) });
      expect(res.status, `offset ${offset}`).toBe(200);
    }
  });

  it('refuses a request with any header missing', async () => {
    const a = createTestAuthority();
    for (const name of ['X-Admin-Key-Id', 'X-Admin-Timestamp', 'X-Admin-Nonce', 'X-Admin-Signature']) {
      const headers = headersFor(a);
      delete headers[name];
      await expectRefused(a, () => send(a, '/admin/audit', { headers }), 'missing_header');
    }
    const event = await expectRefused(a, () => send(a, '/admin/audit'), 'missing_header');
    expect(event.actor).toEqual({ type: 'anonymous' });
  });

  it('refuses a signature made by another key under a known label, recording that label and its key_id', async () => {
    const a = createTestAuthority();
    const headers = headersFor(a, { key: testKey('intruder') });
    const event = await expectRefused(a, () => send(a, '/admin/audit', { headers }), 'bad_signature');
    expect(event.actor).toEqual({ type: 'operator', key_id: a.operator.key.keyId, label: a.operator.label });
  });

  it('refuses an unknown key label', async () => {
    const a = createTestAuthority();
    const headers = headersFor(a, { label: 'stranger', key: testKey('stranger') });
    const event = await expectRefused(a, () => send(a, '/admin/audit', { headers }), 'unknown_key');
    expect(event.actor).toEqual({ type: 'anonymous' });
    expect((event.details as { claimed_key: string }).claimed_key).toBe('stranger');
  });

  it('refuses a tampered body, including a re-formatting of the same JSON', async () => {
    const a = createTestAuthority();
    const signed = '{"a":1}';
    await expectRefused(
      a,
      () => send(a, '/admin/audit', { method: 'POST', body: '{"a":2}', headers: headersFor(a, { method: 'POST', body: signed }) }),
      'bad_signature',
    );
    await expectRefused(
      a,
      () => send(a, '/admin/audit', { method: 'POST', body: '{"a": 1}', headers: headersFor(a, { method: 'POST', body: signed }) }),
      'bad_signature',
    );
    await expectRefused(
      a,
      () => send(a, '/admin/audit', { method: 'POST', headers: headersFor(a, { method: 'POST', body: signed }) }),
      'bad_signature',
    );
    // The untampered request passes authentication (and then meets the route's 405).
    const ok = await send(a, '/admin/audit', { method: 'POST', body: signed, headers: headersFor(a, { method: 'POST', body: signed }) });
    expect(ok.status).toBe(405);
  });

  it('refuses the same signature sent to another path, query, or method', async () => {
    const a = createTestAuthority();
    const headers = headersFor(a, { path: '/admin/audit?limit=1' });
    await expectRefused(a, () => send(a, '/admin/audit?limit=2', { headers }), 'bad_signature');
    await expectRefused(a, () => send(a, '/admin/audit', { headers }), 'bad_signature');
    await expectRefused(a, () => send(a, '/admin/other?limit=1', { headers }), 'bad_signature');
    await expectRefused(a, () => send(a, '/admin/audit?limit=1', { method: 'DELETE', headers }), 'bad_signature');
    // The path is bound exactly as sent: a percent-encoded equivalent is a different path.
    await expectRefused(a, () => send(a, '/admin/audit?limit=%31', { headers }), 'bad_signature');
    expect((await send(a, '/admin/audit?limit=1', { headers })).status).toBe(200);
  });

  it('refuses a replayed nonce, also under a fresh signature and after the app is rebuilt on the same database', async () => {
    const a = createTestAuthority();
    const headers = headersFor(a, { nonce: 'replayed-nonce-0123456789' });
    expect((await send(a, '/admin/audit', { headers })).status).toBe(200);
    await expectRefused(a, () => send(a, '/admin/audit', { headers }), 'nonce_replayed');
    a.clock.advance(10);
    await expectRefused(
      a,
      () => send(a, '/admin/audit', { headers: headersFor(a, { nonce: 'replayed-nonce-0123456789' }) }),
      'nonce_replayed',
    );
    // Nonces are persisted: a new app (as after a restart) on the same database still refuses it.
    const again = createApp({
      db: a.db,
      clock: a.clock,
      config: a.config,
      identity: a.deps.identity,
      operatorKeys: a.deps.operatorKeys,
      logger: pino({ level: 'silent' }),
    });
    const res = await again.app.request('/admin/audit', { headers: headersFor(a, { nonce: 'replayed-nonce-0123456789' }) });
    expect(res.status).toBe(401);
    // The same nonce under another operator key is that key's own first use.
    const b = createTestAuthority({ operators: [testOperator('ops'), testOperator('ops-2')] });
    const other = b.deps.operatorKeys.get('ops-2')!;
    expect(other).toBeDefined();
    expect((await send(b, '/admin/audit', { headers: headersFor(b, { nonce: 'shared-nonce-0123456789ab' }) })).status).toBe(200);
    expect(
      (
        await send(b, '/admin/audit', {
          headers: headersFor(b, { nonce: 'shared-nonce-0123456789ab', label: 'ops-2', key: testKey('operator:ops-2') }),
        })
      ).status,
    ).toBe(200);
  });

  it('stores the nonce of a write in the transaction of its change, and refuses the same nonce while the first request is in flight', async () => {
    const a = createTestAuthority();
    const body = JSON.stringify({
      subject_sovereign_id: 'peer-n',
      subject_public_keys: [testKey('subject:peer-n').publicKey],
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 24,
    });
    const headers = {
      ...headersFor(a, { method: 'POST', path: '/admin/recognition-treaties', body, nonce: 'write-nonce-0123456789ab' }),
      'Content-Type': 'application/json',
    };
    // Both requests are in flight at once: exactly one issues a treaty.
    const [first, second] = await Promise.all([
      send(a, '/admin/recognition-treaties', { method: 'POST', headers, body }),
      send(a, '/admin/recognition-treaties', { method: 'POST', headers, body }),
    ]);
    expect([first.status, second.status].sort()).toEqual([201, 401]);
    expect(a.db.sqlite.prepare('SELECT count(*) AS n FROM treaties').get()).toEqual({ n: 1 });
    // The change, its audit event and the nonce commit together: the event's transaction holds the nonce row.
    const stored = a.db.sqlite.prepare('SELECT key_id, nonce FROM admin_nonces').all();
    expect(stored).toEqual([{ key_id: a.operator.key.keyId, nonce: 'write-nonce-0123456789ab' }]);
    await expectRefused(a, () => send(a, '/admin/recognition-treaties', { method: 'POST', headers, body }), 'nonce_replayed');
  });

  it('a write that is rejected still uses up its nonce, so it cannot be replayed once it would succeed', async () => {
    const a = createTestAuthority();
    const body = JSON.stringify({
      subject_sovereign_id: 'peer-r',
      subject_public_keys: ['not-a-key'],
      scope: { allowed_roles: ['role:client'] },
    });
    const headers = {
      ...headersFor(a, { method: 'POST', path: '/admin/recognition-treaties', body, nonce: 'failed-nonce-0123456789ab' }),
      'Content-Type': 'application/json',
    };
    const res = await send(a, '/admin/recognition-treaties', { method: 'POST', headers, body });
    expect(res.status).toBe(422);
    expect(a.db.sqlite.prepare('SELECT nonce FROM admin_nonces').all()).toEqual([{ nonce: 'failed-nonce-0123456789ab' }]);
    await expectRefused(a, () => send(a, '/admin/recognition-treaties', { method: 'POST', headers, body }), 'nonce_replayed');
  });

  it('refuses stale and future timestamps', async () => {
    const a = createTestAuthority();
    await expectRefused(
      a,
      () => send(a, '/admin/audit', { headers: headersFor(a, { timestamp: toTimestamp(addSeconds(a.clock(), -301)) }) }),
      'timestamp_out_of_window',
    );
    await expectRefused(
      a,
      () => send(a, '/admin/audit', { headers: headersFor(a, { timestamp: toTimestamp(addSeconds(a.clock(), 301)) }) }),
      'timestamp_out_of_window',
    );
    await expectRefused(
      a,
      () => send(a, '/admin/audit', { headers: headersFor(a, { timestamp: '2020-01-01T00:00:00Z' }) }),
      'timestamp_out_of_window',
    );
  });

  it.each([
    ['without a zone', '2026-03-01T00:00:00'],
    ['with an offset', '2026-03-01T00:00:00+00:00'],
    ['with a fraction', '2026-03-01T00:00:00.000Z'],
    ['lowercase', '2026-03-01t00:00:00z'],
    ['as epoch seconds', '1772323200'],
    ['impossible', '2026-02-30T00:00:00Z'],
  ])('refuses a timestamp %s', async (_name, timestamp) => {
    const a = createTestAuthority();
    await expectRefused(a, () => send(a, '/admin/audit', { headers: headersFor(a, { timestamp }) }), 'malformed_timestamp');
  });

  it.each([
    ['too short (21 characters)', 'a'.repeat(21)],
    ['too long (129 characters)', 'a'.repeat(129)],
    ['with standard base64 characters', 'abcdefghijklmnopqrstu+/='],
    ['with a space', 'abcdefghijk lmnopqrstuvw'],
  ])('refuses a nonce %s', async (_name, nonce) => {
    const a = createTestAuthority();
    await expectRefused(a, () => send(a, '/admin/audit', { headers: headersFor(a, { nonce }) }), 'malformed_nonce');
  });

  it('accepts nonces of 22 and 128 characters', async () => {
    const a = createTestAuthority();
    for (const nonce of ['A'.repeat(22), `${'-'.repeat(64)}${'_'.repeat(64)}`]) {
      expect((await send(a, '/admin/audit', { headers: headersFor(a, { nonce }) })).status).toBe(200);
    }
  });

  it('refuses a signature that is not strict standard base64 of 64 bytes', async () => {
    const a = createTestAuthority();
    const headers = headersFor(a);
    const sig = headers['X-Admin-Signature']!;
    for (const bad of [
      sig.replace(/=+$/, ''),
      `${sig.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}A`,
      Buffer.alloc(63).toString('base64'),
      'x',
    ]) {
      if (bad === sig) continue;
      await expectRefused(a, () => send(a, '/admin/audit', { headers: { ...headers, 'X-Admin-Signature': bad } }), 'malformed_signature');
    }
  });

  it('refuses a key past its not_after', async () => {
    const a = createTestAuthority();
    const op = a.operatorKeys[0]!;
    op.notAfter = new Date(a.clock().getTime() + 60_000);
    a.deps.operatorKeys.reload();
    expect((await send(a, '/admin/audit', { headers: headersFor(a) })).status).toBe(200);
    a.clock.advance(60);
    await expectRefused(a, () => send(a, '/admin/audit', { headers: headersFor(a) }), 'key_expired');
  });

  it('refuses a key without the scope for the route with 403', async () => {
    const a = createTestAuthority({ operators: [testOperator('treaty-clerk', ['treaties:*'])] });
    await expectRefused(a, () => send(a, '/admin/audit', { headers: headersFor(a) }), 'insufficient_scope', 403);
    const reader = createTestAuthority({ operators: [testOperator('auditor', ['*:read'])] });
    expect((await send(reader, '/admin/audit', { headers: headersFor(reader) })).status).toBe(200);
    await expectRefused(
      reader,
      () => send(reader, '/admin/audit', { method: 'POST', body: '{}', headers: headersFor(reader, { method: 'POST', body: '{}' }) }),
      'insufficient_scope',
      403,
    );
  });

  it('a key removed from the configuration fails at once after a reload, which is audited', async () => {
    const a = createTestAuthority({ operators: [testOperator('ops'), testOperator('ops-2')] });
    expect((await send(a, '/admin/audit', { headers: headersFor(a) })).status).toBe(200);
    a.operatorKeys.splice(0, 1);
    reloadOperatorKeys(a.deps);
    const reloaded = lastAudit(a.db);
    expect(reloaded.event_type).toBe('operator_keys_reloaded');
    expect(reloaded.details).toEqual({ added: [], removed: ['ops'], changed: [], count: 1 });
    await expectRefused(a, () => send(a, '/admin/audit', { headers: headersFor(a) }), 'unknown_key');
    expect((await send(a, '/admin/audit', { headers: headersFor(a, { label: 'ops-2', key: testKey('operator:ops-2') }) })).status).toBe(
      200,
    );
  });

  it('a reload that fails keeps the previous keys and is not audited as a reload', async () => {
    const a = createTestAuthority();
    let broken = false;
    // A source that throws, as a damaged keys file would.
    const keyring = new OperatorKeyring(() => {
      if (broken) throw new Error('operator keys file is not valid JSON');
      return a.operatorKeys;
    });
    const b = createApp({
      db: a.db,
      clock: a.clock,
      config: a.config,
      identity: a.deps.identity,
      operatorKeys: keyring,
      logger: pino({ level: 'silent' }),
    });
    broken = true;
    const before = auditCount(a.db);
    reloadOperatorKeys(b.deps);
    expect(auditCount(a.db)).toBe(before);
    expect((await b.app.request('/admin/audit', { headers: headersFor(a) })).status).toBe(200);
  });

  it('answers 429 to unsigned requests after repeated failures from one client, serves a valid operator meanwhile, and recovers', async () => {
    const a = createTestAuthority({ config: { adminFailureLimit: 3 } });
    for (let i = 0; i < 3; i++)
      await expectRefused(
        a,
        () => send(a, '/admin/audit', { headers: headersFor(a, { key: testKey('intruder'), label: 'nobody' }) }),
        'unknown_key',
      );
    const digest = dbDigest(a.db);
    const events = auditCount(a.db);
    const limited = await send(a, '/admin/audit', { headers: { 'X-Admin-Key-Id': 'nobody' } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    const body = (await limited.json()) as { error: { code: string; details: { retry_after_seconds: number } } };
    expect(body.error.code).toBe('too_many_auth_failures');
    expect(body.error.details.retry_after_seconds).toBe(60);
    // Being limited writes nothing, not even audit events, so a flood cannot grow the log.
    expect(dbDigest(a.db)).toBe(digest);
    expect(auditCount(a.db)).toBe(events);
    // The operator's correctly signed request from the same client is still served.
    expect((await send(a, '/admin/audit', { headers: headersFor(a) })).status).toBe(200);
    a.clock.advance(30);
    const stillLimited = await send(a, '/admin/audit', { headers: {} });
    expect(stillLimited.status).toBe(429);
    expect(stillLimited.headers.get('retry-after')).toBe('30');
    a.clock.advance(31);
    await expectRefused(a, () => send(a, '/admin/audit', { headers: {} }), 'missing_header');
    const text = await a.deps.metrics.registry.getSingleMetricAsString('accord_admin_auth_failures_total');
    expect(text).toContain('reason="unknown_key"} 3');
    expect(text).toContain('reason="rate_limited"} 2');
  });
});
