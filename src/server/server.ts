// Runs an authority as a server: lock, open and migrate the database, load keys, serve, reload, shut down.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { acquireDatabaseLock, openDatabase, type Database, type DatabaseLock } from '../db/database.ts';
import { createApp, type AuthorityApp } from './app.ts';
import { appendAudit, SYSTEM_ACTOR } from '../authority/audit.ts';
import { systemClock, type Clock } from '../authority/clock.ts';
import type { Config } from '../authority/config.ts';
import type { AppDeps } from '../authority/context.ts';
import { IdentityError, initAuthority, loadIdentity, operatorKeysFor, type InitResult } from '../authority/identity.ts';
import { OperatorKeyring } from '../authority/operator-keys.ts';
import {
  attachFollower,
  DEFAULT_PULL_INTERVAL_MS,
  followerIdentity,
  prepareFollower,
  startFollowing,
  type Follower,
} from '../follow/follower.ts';
import { readFollowerState } from '../follow/store.ts';
import { startBackgroundJobs } from './background.ts';
import { serveHttp } from './http-server.ts';

export interface RunningAuthority {
  authority: AuthorityApp;
  db: Database;
  url: string;
  port: number;
  init: InitResult;
  reloadOperatorKeys(): void;
  close(): Promise<void>;
}

/** Re-reads operator keys; a failed reload keeps the previous keys and is logged, a success is audited. */
export function reloadOperatorKeys(deps: AppDeps): void {
  try {
    const result = deps.operatorKeys.reload();
    appendAudit(deps.db.sqlite, deps.clock, {
      eventType: 'operator_keys_reloaded',
      actor: SYSTEM_ACTOR,
      details: { added: result.added, removed: result.removed, changed: result.changed, count: result.count },
    });
    deps.logger.info({ ...result }, 'operator keys reloaded');
  } catch (err) {
    deps.logger.error({ err: (err as Error).message }, 'operator key reload failed; keeping the previous keys');
  }
}

/**
 * Where a started server answers, and how to stop it: the app's background work, then the server
 * and its connections, then the database and its lock — once, however often it is called.
 */
function served(
  config: Config,
  server: Server,
  authority: AuthorityApp,
  db: Database,
  lock: DatabaseLock,
): { url: string; port: number; close(): Promise<void> } {
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    close: async () => {
      if (closed) return;
      closed = true;
      await authority.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      db.close();
      lock.release();
    },
  };
}

export interface FollowOptions {
  /** The primary's base URL (or a static mirror of it). */
  url: string;
  /** The primary's public keys to pin (standard base64); none: the keys its declaration names, trusted on first use. */
  keys?: string[] | undefined;
  pullIntervalMs?: number | undefined;
  /** Start the pull loop (default true); false leaves pulling to `follower.pullOnce()`. */
  pull?: boolean;
}

export interface RunningFollower {
  authority: AuthorityApp;
  db: Database;
  url: string;
  port: number;
  follower: Follower;
  /** Whether this start pinned the primary's keys from its declaration (first start without --key). */
  pinnedOnFirstUse: boolean;
  close(): Promise<void>;
}

/**
 * Runs a read-only follower: its own database (locked, migrated), the primary's keys pinned, no
 * signing key, the public read and verify routes, and a loop that pulls and applies the primary's
 * follower updates. It serves the copy it holds even while the primary cannot be reached.
 */
export async function startFollower(
  config: Config,
  follow: FollowOptions,
  options: { clock?: Clock; logger?: Logger } = {},
): Promise<RunningFollower> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: config.logLevel });
  let lock: DatabaseLock | undefined;
  let db: Database | undefined;
  let app: AuthorityApp | undefined;
  try {
    lock = acquireDatabaseLock(config.dbPath);
    db = openDatabase(config.dbPath, { backgroundCheckpoints: true });
    const { state, pinnedOnFirstUse } = await prepareFollower(db.sqlite, { url: follow.url, keys: follow.keys, now: clock() });
    if (pinnedOnFirstUse)
      logger.warn(
        { primary: state.primary_url, sovereign_id: state.sovereign_id, pinned_keys: JSON.parse(state.pinned_keys) },
        'pinned the keys the primary declares, trusted on first use: compare them with the primary operator (or start with --key)',
      );
    const identity = followerIdentity(state);
    const operatorKeys = new OperatorKeyring(() => []);
    const authority = createApp({ db, clock, config, identity, operatorKeys, logger });
    app = authority;
    const server = await serveHttp(authority.app.fetch, config.port, config.host);
    const interval = follow.pullIntervalMs ?? DEFAULT_PULL_INTERVAL_MS;
    const follower = follow.pull === false ? attachFollower(authority.deps, interval) : startFollowing(authority.deps, interval);
    return { authority, db, ...served(config, server, authority, db, lock), follower, pinnedOnFirstUse };
  } catch (err) {
    await app?.close();
    db?.close();
    lock?.release();
    throw err;
  }
}

export async function startAuthority(
  config: Config,
  options: { clock?: Clock; logger?: Logger; background?: boolean } = {},
): Promise<RunningAuthority> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: config.logLevel });
  let lock: DatabaseLock | undefined;
  let db: Database | undefined;
  let app: AuthorityApp | undefined;
  try {
    lock = acquireDatabaseLock(config.dbPath);
    db = openDatabase(config.dbPath, { backgroundCheckpoints: true });
    const following = readFollowerState(db.sqlite);
    if (following)
      throw new IdentityError(
        `this database is a follower's copy of ${following.primary_url}; serve it with \`accord serve --follow ${following.primary_url}\``,
      );
    const init = initAuthority(config, db, clock);
    const identity = loadIdentity(config, db);
    const operatorKeys = operatorKeysFor(config);
    const authority = createApp({ db, clock, config, identity, operatorKeys, logger });
    app = authority;
    // Background jobs start only once the port is ours: a failed listen leaves nothing running.
    const server = await serveHttp(authority.app.fetch, config.port, config.host);
    if (options.background ?? true) startBackgroundJobs(authority.deps);
    return {
      authority,
      db,
      ...served(config, server, authority, db, lock),
      init,
      reloadOperatorKeys: () => reloadOperatorKeys(authority.deps),
    };
  } catch (err) {
    await app?.close();
    db?.close();
    lock?.release();
    throw err;
  }
}
