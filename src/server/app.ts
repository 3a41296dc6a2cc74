// Assembles one authority's Hono app from explicit dependencies (db, clock, keys, config).
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import pino, { type Logger } from 'pino';
import { ChangeBus } from '../authority/changes.ts';
import type { Database } from '../db/database.ts';
import { adminAuth, canonicalTargets } from '../authority/admin-auth.ts';
import { AdminFailureGuard } from '../authority/admin-failures.ts';
import { auditRoutes } from './audit-routes.ts';
import type { Clock } from '../authority/clock.ts';
import type { Config } from '../authority/config.ts';
import type { AppDeps, AppEnv, AuthorityIdentity } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { feedRoutes } from '../feeds/routes.ts';
import { healthRoutes } from './health.ts';
import { signingKeyRoutes } from '../ops/routes.ts';
import { peerIncidentRoutes } from '../ops/peer-routes.ts';
import { DEFAULT_BODY_LIMIT, errorResponse, requestId, toAppError } from '../authority/http.ts';
import { createMetrics, type Metrics } from '../authority/metrics.ts';
import type { OperatorKeyring } from '../authority/operator-keys.ts';
import { treatyRoutes } from '../treaties/routes.ts';
import { verificationRoutes } from '../verification/routes.ts';
import { gmFeedRoutes } from '../feeds/gm-routes.ts';
import { connectomeRoutes } from '../connectome/routes.ts';
import { transparencyRoutes } from '../transparency/routes.ts';
import { witnessRoutes } from '../witness/routes.ts';
import { MAX_ADD_CHECKPOINT_BYTES } from '../witness/request-body.ts';
import { followerUpdateRoutes } from '../follow/routes.ts';
import { gossipRoutes } from '../gossip/routes.ts';
import { MAX_EVIDENCE_BYTES } from '../gossip/evidence.ts';

export interface CreateAppInput {
  db: Database;
  clock: Clock;
  config: Config;
  identity: AuthorityIdentity;
  operatorKeys: OperatorKeyring;
  logger?: Logger;
  metrics?: Metrics;
}

export interface AuthorityApp {
  app: Hono<AppEnv>;
  deps: AppDeps;
  /** Stops background work. The database is the caller's to close. */
  close(): Promise<void>;
}

/** Body limits of routes that take larger signed documents (feed imports) or only small ones (witness requests). */
const BODY_LIMITS: Array<[RegExp, number]> = [
  [/^\/admin\/(?:sovereign-)?revocation-feeds\/import$/, 8 * 1024 * 1024],
  [/^\/witness\/add-checkpoint$/, MAX_ADD_CHECKPOINT_BYTES],
  [/^\/log\/evidence$/, MAX_EVIDENCE_BYTES],
];

function routePatternRegex(pattern: string): RegExp {
  const source = pattern
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

/** What a follower serves with a POST: verification only. */
const FOLLOWER_POSTS = new Set(['/attestations/verify', '/recognition-treaties/verify']);
/** Reads only the primary can answer: they need what a follower does not copy (the connectome's mirrored treaties and receipts, witness state, the signing key rows, the Genesis Mesh snapshot it signs). */
const PRIMARY_ONLY_READS = /^\/(?:connectome(?:\.json)?(?:\/|$)|witness(?:\/|$)|sovereign-revocation-feed$|follower\/|log\/keys$)/;

/** Why a follower refuses a request, or null when it serves it. */
export function followerRefusal(method: string, path: string): string | null {
  if (path === '/admin' || path.startsWith('/admin/')) return 'admin requests go to the primary';
  if (method !== 'GET' && method !== 'HEAD' && !FOLLOWER_POSTS.has(path)) return 'it changes nothing; writes go to the primary';
  if (PRIMARY_ONLY_READS.test(path)) return 'only the primary serves this';
  return null;
}

export function createApp(input: CreateAppInput): AuthorityApp {
  const deps: AppDeps = {
    db: input.db,
    clock: input.clock,
    config: input.config,
    identity: input.identity,
    operatorKeys: input.operatorKeys,
    logger: input.logger ?? pino({ level: input.config.logLevel }),
    metrics: input.metrics ?? createMetrics(),
    changes: new ChangeBus(),
    background: [],
  };

  const adminFailures = new AdminFailureGuard(deps.db.sqlite, deps.clock, deps.config.adminFailureLimit);
  const app = new Hono<AppEnv>();
  app.use('*', requestId());
  app.use('*', canonicalTargets(deps, adminFailures));
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.req.routePath || 'unmatched';
    deps.metrics.httpRequestDuration.observe(
      { method: c.req.method, route, status: String(c.res.status) },
      (performance.now() - started) / 1000,
    );
    deps.logger.debug({ request_id: c.get('requestId'), method: c.req.method, route, status: c.res.status }, 'request');
  });
  const limiters = new Map<number, ReturnType<typeof bodyLimit>>();
  const limiterFor = (size: number) => {
    let l = limiters.get(size);
    if (!l) {
      l = bodyLimit({
        maxSize: size,
        onError: () => {
          throw new AppError('body_too_large', 'request body is too large', { max_bytes: size });
        },
      });
      limiters.set(size, l);
    }
    return l;
  };
  app.use('*', (c, next) => {
    // No route reads the body of a GET or HEAD.
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const limit = BODY_LIMITS.find(([re]) => re.test(c.req.path))?.[1] ?? DEFAULT_BODY_LIMIT;
    // A declared length is judged without touching the body, so the handler reads it straight from the
    // socket; a body without one (chunked) is counted as it arrives and cut off at the limit.
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number.parseInt(length, 10) > limit) throw new AppError('body_too_large', 'request body is too large', { max_bytes: limit });
      return next();
    }
    return limiterFor(limit)(c, next);
  });
  const primary = deps.identity.primaryUrl;
  if (primary !== undefined) {
    // A read-only follower: it answers reads and verification from its copy, and sends everything else to its primary.
    app.use('*', (c, next) => {
      const refusal = followerRefusal(c.req.method, c.req.path);
      if (refusal) throw new AppError('read_only_follower', `this is a read-only follower: ${refusal} (${primary})`, { primary });
      return next();
    });
    app.route('/', healthRoutes(deps));
    app.route('/', verificationRoutes(deps));
    app.route('/', treatyRoutes(deps));
    app.route('/', feedRoutes(deps));
    app.route('/', transparencyRoutes(deps));
  } else {
    app.use('/admin/*', adminAuth(deps, adminFailures));

    app.route('/', healthRoutes(deps));
    app.route('/', auditRoutes(deps));
    app.route('/', signingKeyRoutes(deps));
    app.route('/', verificationRoutes(deps));
    app.route('/', treatyRoutes(deps));
    app.route('/', gmFeedRoutes(deps));
    app.route('/', feedRoutes(deps));
    app.route('/', peerIncidentRoutes(deps));
    app.route('/', connectomeRoutes(deps));
    app.route('/', transparencyRoutes(deps));
    app.route('/', witnessRoutes(deps));
    app.route('/', gossipRoutes(deps));
    app.route('/', followerUpdateRoutes(deps));
  }

  app.notFound((c) => {
    const path = c.req.path;
    const allowed = [
      ...new Set(
        app.routes.filter((r) => r.method !== 'ALL' && r.path !== '/*' && routePatternRegex(r.path).test(path)).map((r) => r.method),
      ),
    ];
    if (allowed.length > 0) {
      return errorResponse(
        c,
        new AppError('method_not_allowed', `method ${c.req.method} is not allowed here`, { allowed }, { Allow: allowed.join(', ') }),
      );
    }
    return errorResponse(c, new AppError('not_found', 'no such route'));
  });
  app.onError((err, c) => {
    const appError = toAppError(err);
    if (appError.status >= 500) deps.logger.error({ err, request_id: c.get('requestId') }, 'unhandled error');
    return errorResponse(c, appError);
  });

  return {
    app,
    deps,
    close: async () => {
      for (const task of deps.background.splice(0)) await task.stop();
      if (deps.db.sqlite.open) adminFailures.flush();
    },
  };
}
