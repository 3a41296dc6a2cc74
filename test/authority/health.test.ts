// The unauthenticated operational surface: /healthz, /readyz, /metrics and the well-known declaration.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestAuthority } from '../helpers/authority.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('/healthz and /readyz', () => {
  it('/healthz answers while the process runs', async () => {
    const a = createTestAuthority();
    const res = await a.app.request('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is ready with a reachable database at the migration head and keys loaded, and names no paths', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-ready-'));
    dirs.push(dir);
    const a = createTestAuthority({ dbPath: path.join(dir, 'accord.db') });
    const res = await a.app.request('/readyz');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok', keys: 'ok' } });
    expect(text).not.toContain(dir);
    expect(text).not.toContain('accord.db');
    a.db.close();
  });

  it('/readyz is 503 when migrations are behind', async () => {
    const a = createTestAuthority();
    a.db.sqlite.prepare('DELETE FROM __drizzle_migrations').run();
    const res = await a.app.request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not_ready', checks: { database: 'ok', migrations: 'failing', keys: 'ok' } });
  });

  it('/readyz is 503 when the database cannot be reached', async () => {
    const a = createTestAuthority();
    a.db.close();
    const res = await a.app.request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not_ready', checks: { database: 'failing', migrations: 'failing', keys: 'ok' } });
  });

  it('/readyz is 503 without a signing key', async () => {
    const a = createTestAuthority();
    a.deps.identity.signingKeys = [];
    const res = await a.app.request('/readyz');
    expect(res.status).toBe(503);
    expect(((await res.json()) as { checks: { keys: string } }).checks.keys).toBe('failing');
  });
});

describe('/metrics', () => {
  it('exposes the spec metrics in Prometheus text, with the HTTP histogram labelled by route pattern', async () => {
    const a = createTestAuthority();
    await a.admin('GET', '/admin/audit?limit=1');
    await a.app.request('/admin/audit');
    await a.app.request('/nope');
    const res = await a.app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    for (const name of [
      'accord_signature_verification_failures_total',
      'accord_admin_auth_failures_total',
      'accord_feed_imports_total',
      'accord_feed_issuer_stale',
      'accord_feed_published_sequence',
      'accord_treaties',
      'accord_treaty_min_seconds_to_expiry',
      'accord_http_request_duration_seconds',
    ]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('accord_http_request_duration_seconds_count{method="GET",route="/admin/audit",status="200"} 1');
    // Refused before routing: labelled by the pattern of the middleware that answered.
    expect(text).toContain('accord_http_request_duration_seconds_count{method="GET",route="/admin/*",status="401"} 1');
    expect(text).toContain('accord_http_request_duration_seconds_count{method="GET",route="/*",status="404"} 1');
    expect(text).toContain('accord_admin_auth_failures_total{reason="missing_header"} 1');
    // Raw paths and query strings never become labels.
    expect(text).not.toContain('limit=1');
    expect(text).not.toContain('route="/nope"');
  });

  it('each app has its own registry', async () => {
    const a = createTestAuthority();
    const b = createTestAuthority();
    await a.app.request('/admin/audit');
    expect(await (await a.app.request('/metrics')).text()).toContain('accord_admin_auth_failures_total{reason="missing_header"} 1');
    expect(await (await b.app.request('/metrics')).text()).not.toContain('reason="missing_header"');
  });

  it('requires the bearer token when ACCORD_METRICS_TOKEN is set', async () => {
    const token = 'metrics-token-0123456789';
    const a = createTestAuthority({ config: { metricsToken: token } });
    for (const auth of [undefined, 'Bearer wrong-token-0123456789', token, `bearer ${token}`, `Bearer ${token}x`]) {
      const res = await a.app.request('/metrics', { headers: auth ? { Authorization: auth } : {} });
      expect(res.status, String(auth)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('metrics_auth_required');
    }
    expect((await a.app.request('/metrics', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
  });
});

describe('/.well-known/network-authority', () => {
  it('serves the signed declaration with the sovereign id, published keys, endpoints and protocol version', async () => {
    const a = createTestAuthority({ sovereignId: 'sovereign-x' });
    const res = await a.app.request('/.well-known/network-authority');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      type: 'network_authority_declaration',
      sovereign_id: 'sovereign-x',
      protocol_version: 1,
      issued_at: '2026-03-01T00:00:00Z',
      public_keys: [{ key_id: a.signingKey.keyId, public_key: a.signingKey.publicKey }],
      signatures: [{ key_id: a.signingKey.keyId, sig: expect.any(String) }],
    });
    expect(Object.keys(body.endpoints as object)).toEqual(expect.arrayContaining(['revocation_feed_latest', 'connectome']));
  });
});
