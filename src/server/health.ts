// Liveness, readiness, metrics and the well-known declaration: the unauthenticated operational surface.
import { Hono } from 'hono';
import { migrationStatus } from '../db/database.ts';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { probeDatabase } from '../authority/identity-store.ts';
import { constantTimeEqual } from '../authority/crypto.ts';
import { buildDeclaration, type Declaration } from '../authority/declaration.ts';
import { AppError } from '../authority/errors.ts';

export function healthRoutes(deps: AppDeps) {
  // Signed once and reused: serving never signs per request.
  let declaration: Declaration = buildDeclaration(deps);
  deps.changes.on('signing-keys', () => {
    declaration = buildDeclaration(deps);
  });

  return new Hono<AppEnv>()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', (c) => {
      const checks: Record<string, 'ok' | 'failing'> = { database: 'ok', migrations: 'ok', keys: 'ok' };
      try {
        probeDatabase(deps.db.sqlite);
        if (!migrationStatus(deps.db.sqlite).atHead) checks.migrations = 'failing';
      } catch {
        checks.database = 'failing';
        checks.migrations = 'failing';
      }
      if (deps.identity.signingKeys.length === 0) checks.keys = 'failing';
      const ready = Object.values(checks).every((v) => v === 'ok');
      return c.json({ status: ready ? 'ready' : 'not_ready', checks }, ready ? 200 : 503);
    })
    .get('/metrics', async (c) => {
      const token = deps.config.metricsToken;
      if (token && !constantTimeEqual(c.req.header('authorization') ?? '', `Bearer ${token}`)) {
        throw new AppError('metrics_auth_required', 'metrics require the configured bearer token', {}, { 'WWW-Authenticate': 'Bearer' });
      }
      c.header('Content-Type', deps.metrics.registry.contentType);
      return c.body(await deps.metrics.registry.metrics());
    })
    .get('/.well-known/network-authority', (c) => {
      c.header('Cache-Control', 'public, max-age=300');
      return c.json(declaration);
    });
}
