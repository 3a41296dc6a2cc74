// The explicit dependencies an authority runs on, and the Hono environment its routes share.
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Database } from '../db/database.ts';
import type { Clock } from './clock.ts';
import type { ChangeBus } from './changes.ts';
import type { Config } from './config.ts';
import type { SigningKey } from './crypto.ts';
import type { Metrics } from './metrics.ts';
import type { OperatorKeyring } from './operator-keys.ts';
import type { RequestNonce } from './request-nonces.ts';

export interface PublishedKey {
  key_id: string;
  public_key: string;
  not_after?: string;
}

export interface AuthorityIdentity {
  sovereignId: string;
  /** Keys that sign new objects and feeds (more than one during a rotation overlap). */
  signingKeys: SigningKey[];
  /** Keys announced in the well-known declaration. */
  publishedKeys: PublishedKey[];
  /** Set on a read-only follower (`accord serve --follow`): the URL of the primary (or its mirror) it copies. It has no signing keys. */
  primaryUrl?: string;
}

export type { ChangeBus } from './changes.ts';

export interface Stoppable {
  stop(): void | Promise<void>;
}

export interface AppDeps {
  db: Database;
  clock: Clock;
  config: Config;
  identity: AuthorityIdentity;
  operatorKeys: OperatorKeyring;
  logger: Logger;
  metrics: Metrics;
  changes: ChangeBus;
  /** Background work (cron tasks, timers) stopped on shutdown. */
  background: Stoppable[];
}

export interface OperatorContext {
  label: string;
  keyId: string;
  scopes: string[];
  /** The request's nonce, stored with the change the request makes. */
  nonce?: RequestNonce;
}

export type AppEnv = {
  Bindings: { incoming?: IncomingMessage };
  Variables: { requestId: string; operator: OperatorContext | undefined };
};
