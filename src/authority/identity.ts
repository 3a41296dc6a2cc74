// The authority's identity: first-run initialization (keys, sovereign id, database) and loading it again.
import fs from 'node:fs';
import path from 'node:path';
import type { Database } from '../db/database.ts';
import { appendAudit, SYSTEM_ACTOR } from './audit.ts';
import { toTimestamp, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { AuthorityIdentity } from './context.ts';
import type { SigningKey } from './crypto.ts';
import { createOperatorKeyFile, createSigningKeyFile, readSigningKeyFile } from './key-files.ts';
import { operatorKeySource, OperatorKeyring } from './operator-keys.ts';

export const DEFAULT_SOVEREIGN_ID = 'local-authority';

export class IdentityError extends Error {
  override name = 'IdentityError';
}

export function devOperatorKeyPath(config: Config): string {
  return path.join(config.dataDir, 'operator-dev.key');
}

export function defaultOperatorKeysFile(config: Config): string {
  return path.join(config.dataDir, 'operator-keys.json');
}

/** Where operator public keys come from: the environment, else the data dir's keys file. */
export function operatorKeysFor(config: Config): OperatorKeyring {
  const file = config.operatorKeysFile ?? (config.operatorPublicKeysJson ? undefined : existing(defaultOperatorKeysFile(config)));
  return new OperatorKeyring(operatorKeySource({ json: config.operatorPublicKeysJson, file }));
}

function existing(file: string): string | undefined {
  return fs.existsSync(file) ? file : undefined;
}

export function readMeta(db: Database, key: string): string | undefined {
  const row = db.sqlite.prepare('SELECT value FROM authority_meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

export interface InitResult {
  created: boolean;
  sovereignId: string;
  signingKeyId: string;
  signingKeyFile: string;
  /** Set when a dev operator key was created on this run. */
  devOperatorKey?: { file: string; label: string; keyId: string; keysFile: string };
}

/**
 * Creates what is missing: the signing key (0600), the sovereign identity in the database with its
 * `authority_initialized` event, and — when no operator keys are configured — a dev operator key.
 * Safe to run again: existing keys and identity are reused, never replaced.
 */
export function initAuthority(config: Config, db: Database, clock: Clock, options: { devOperatorKey?: boolean } = {}): InitResult {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const now = toTimestamp(clock());
  const signingKey = fs.existsSync(config.signingKeyFile) ? readSigningKeyFile(config.signingKeyFile) : createSigningKeyFile(config.signingKeyFile, now);

  const storedId = readMeta(db, 'sovereign_id');
  let created = false;
  if (storedId === undefined) {
    const sovereignId = config.sovereignId ?? DEFAULT_SOVEREIGN_ID;
    db.sqlite.transaction(() => {
      const meta = db.sqlite.prepare('INSERT INTO authority_meta (key, value) VALUES (?, ?)');
      meta.run('application', 'accord');
      meta.run('sovereign_id', sovereignId);
      meta.run('created_at', now);
      db.sqlite
        .prepare('INSERT INTO authority_signing_keys (key_id, public_key, created_at) VALUES (?, ?, ?)')
        .run(signingKey.keyId, signingKey.publicKey, now);
      appendAudit(db.sqlite, clock, {
        eventType: 'authority_initialized',
        actor: SYSTEM_ACTOR,
        details: { sovereign_id: sovereignId, signing_key_id: signingKey.keyId, protocol_version: 1 },
      });
    })();
    created = true;
  }
  const identity = loadIdentity(config, db);

  let devOperatorKey: InitResult['devOperatorKey'];
  const keysConfigured = config.operatorPublicKeysJson || config.operatorKeysFile || fs.existsSync(defaultOperatorKeysFile(config));
  if ((options.devOperatorKey ?? true) && !keysConfigured) {
    const file = devOperatorKeyPath(config);
    const material = createOperatorKeyFile(file, 'dev');
    const keysFile = defaultOperatorKeysFile(config);
    fs.writeFileSync(keysFile, `${JSON.stringify({ keys: { dev: { public_key: material.key.publicKey, scopes: ['*'] } } }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    devOperatorKey = { file, label: 'dev', keyId: material.key.keyId, keysFile };
  }
  return {
    created,
    sovereignId: identity.sovereignId,
    signingKeyId: identity.signingKeys[0]!.keyId,
    signingKeyFile: config.signingKeyFile,
    ...(devOperatorKey ? { devOperatorKey } : {}),
  };
}

/** Loads the identity of an initialized database and checks the signing key file belongs to it. */
export function loadIdentity(config: Config, db: Database): AuthorityIdentity {
  const sovereignId = readMeta(db, 'sovereign_id');
  if (!sovereignId) throw new IdentityError('the database has no authority identity; run `accord init`');
  if (config.sovereignId && config.sovereignId !== sovereignId) {
    throw new IdentityError(`ACCORD_SOVEREIGN_ID is "${config.sovereignId}" but the database belongs to "${sovereignId}"`);
  }
  let signingKey: SigningKey;
  try {
    signingKey = readSigningKeyFile(config.signingKeyFile);
  } catch (err) {
    throw new IdentityError((err as Error).message);
  }
  const keys = db.sqlite
    .prepare('SELECT key_id, public_key, not_after, retired_at FROM authority_signing_keys ORDER BY created_at, key_id')
    .all() as Array<{ key_id: string; public_key: string; not_after: string | null; retired_at: string | null }>;
  const current = keys.find((k) => k.key_id === signingKey.keyId);
  if (!current || current.retired_at) {
    throw new IdentityError(`signing key ${signingKey.keyId} in ${config.signingKeyFile} is not an active key of sovereign "${sovereignId}"`);
  }
  return {
    sovereignId,
    signingKeys: [signingKey],
    publishedKeys: keys
      .filter((k) => !k.retired_at)
      .map((k) => ({ key_id: k.key_id, public_key: k.public_key, ...(k.not_after ? { not_after: k.not_after } : {}) })),
  };
}
