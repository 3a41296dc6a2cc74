// Liveness, readiness, metrics and the well-known declaration: the unauthenticated operational surface.
import { Hono, type Context } from 'hono';
import { migrationStatus } from '../db/database.ts';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { probeDatabase } from '../authority/identity-store.ts';
import { constantTimeEqual } from '../authority/crypto.ts';
import { currentDeclaration } from '../authority/declaration.ts';
import { AppError } from '../authority/errors.ts';
import { attachFollower, followerOf, type Follower } from '../follow/follower.ts';
import { followerDeclaration } from '../follow/store.ts';

/**
 * A follower is ready once it holds a copy (an update applied) that is not stale (its next_update has
 * not passed). It keeps answering either way; the body says how far behind it is.
 */
function followerReadiness(c: Context<AppEnv>, deps: AppDeps, follower: Follower): Response {
  const checks: Record<string, string> = { database: 'ok', migrations: 'ok', replication: 'ok' };
  try {
    probeDatabase(deps.db.sqlite);
    if (!migrationStatus(deps.db.sqlite).atHead) checks.migrations = 'failing';
  } catch {
    return c.json({ status: 'not_ready', checks: { database: 'failing', migrations: 'failing', replication: 'failing' } }, 503);
  }
  const follow = follower.refreshGauges();
  if (follow.applied_sequence === 0) checks.replication = 'no_copy_yet';
  else if (follow.stale) checks.replication = 'stale';
  const ready = Object.values(checks).every((v) => v === 'ok');
  return c.json({ status: ready ? 'ready' : 'not_ready', role: 'follower', checks, follow }, ready ? 200 : 503);
}

export function healthRoutes(deps: AppDeps) {
  const isFollower = deps.identity.primaryUrl !== undefined;
  // The follower object is attached when following starts (after the app is built): looked up per request.
  const followerNow = () => (isFollower ? (followerOf(deps) ?? attachFollower(deps)) : undefined);
  // Signed once and reused: serving never signs per request. A follower serves its primary's, as received.
  if (!isFollower) currentDeclaration(deps);

  return new Hono<AppEnv>()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', (c) => {
      const follower = followerNow();
      if (follower) return followerReadiness(c, deps, follower);
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
      followerNow()?.refreshGauges();
      c.header('Content-Type', deps.metrics.registry.contentType);
      return c.body(await deps.metrics.registry.metrics());
    })
    .get('/.well-known/network-authority', (c) => {
      c.header('Cache-Control', 'public, max-age=300');
      if (isFollower) {
        return c.body(followerDeclaration(deps) ?? '{}', 200, { 'Content-Type': 'application/json' });
      }
      return c.json(currentDeclaration(deps));
    });
}
