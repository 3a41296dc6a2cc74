// The authority's identity: first-run initialization (keys, sovereign id, database) and loading it again.
import fs from 'node:fs';
import path from 'node:path';
import type { Database } from '../db/database.ts';
import { appendAudit, SYSTEM_ACTOR } from './audit.ts';
import { insertAuthorityMeta, insertSigningKey, listSigningKeys, readAuthorityMeta, type SigningKeyRow } from './identity-store.ts';
import { toTimestamp, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { AuthorityIdentity, PublishedKey } from './context.ts';
import type { SigningKey } from './crypto.ts';
import { createOperatorKeyFile, createSigningKeyFile, readOperatorKeyFile, readSigningKeyDir, readSigningKeyFile } from './key-files.ts';
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
  return readAuthorityMeta(db.sqlite, key);
}

export interface InitResult {
  created: boolean;
  sovereignId: string;
  signingKeyId: string;
  signingKeyFile: string;
  /** The signing key file was written on this run. */
  signingKeyCreated?: boolean;
  /** Set when a dev operator key was created (or re-allowed) on this run. */
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
  const storedId = readMeta(db, 'sovereign_id');
  // A missing key file is only created for a new identity: an existing authority whose key file
  // has gone must not silently get a different key.
  const signingKeyCreated = !fs.existsSync(config.signingKeyFile);
  if (signingKeyCreated && storedId !== undefined) {
    throw new IdentityError(
      `the signing key file ${config.signingKeyFile} of sovereign "${storedId}" is missing; restore it or set ACCORD_SIGNING_KEY_FILE`,
    );
  }
  const signingKey = signingKeyCreated ? createSigningKeyFile(config.signingKeyFile, now) : readSigningKeyFile(config.signingKeyFile);

  let created = false;
  if (storedId === undefined) {
    const sovereignId = config.sovereignId ?? DEFAULT_SOVEREIGN_ID;
    db.sqlite
      .transaction(() => {
        insertAuthorityMeta(db.sqlite, 'application', 'accord');
        insertAuthorityMeta(db.sqlite, 'sovereign_id', sovereignId);
        insertAuthorityMeta(db.sqlite, 'created_at', now);
        insertSigningKey(db.sqlite, { keyId: signingKey.keyId, publicKey: signingKey.publicKey, createdAt: now });
        appendAudit(db.sqlite, clock, {
          eventType: 'authority_initialized',
          actor: SYSTEM_ACTOR,
          details: { sovereign_id: sovereignId, signing_key_id: signingKey.keyId, protocol_version: 1 },
        });
      })
      .immediate();
    created = true;
  }
  const identity = loadIdentity(config, db);

  let devOperatorKey: InitResult['devOperatorKey'];
  const keysConfigured = config.operatorPublicKeysJson || config.operatorKeysFile || fs.existsSync(defaultOperatorKeysFile(config));
  if ((options.devOperatorKey ?? true) && !keysConfigured) {
    const file = devOperatorKeyPath(config);
    // A dev key left behind by an earlier run (its keys file deleted) is allowed again, not replaced.
    const material = fs.existsSync(file) ? readOperatorKeyFile(file) : createOperatorKeyFile(file, 'dev');
    const keysFile = defaultOperatorKeysFile(config);
    fs.writeFileSync(
      keysFile,
      `${JSON.stringify({ keys: { [material.label]: { public_key: material.key.publicKey, scopes: ['*'] } } }, null, 2)}\n`,
      { mode: 0o600, flag: 'wx' },
    );
    devOperatorKey = { file, label: material.label, keyId: material.key.keyId, keysFile };
  }
  return {
    created,
    sovereignId: identity.sovereignId,
    signingKeyId: identity.signingKeys[0]!.keyId,
    signingKeyFile: config.signingKeyFile,
    signingKeyCreated,
    ...(devOperatorKey ? { devOperatorKey } : {}),
  };
}

/** Directory of signing keys created by rotation: one file per key, named by the key_id's hex. */
export function signingKeysDir(config: Config): string {
  return path.join(config.dataDir, 'signing-keys');
}

export function rotatedSigningKeyFile(config: Config, keyId: string): string {
  return path.join(signingKeysDir(config), `${keyId.replace(/^sha256:/, '')}.json`);
}

export type { SigningKeyRow };

/** The authority's signing keys as recorded in the database, oldest first. */
export function listSigningKeyRows(db: Database): SigningKeyRow[] {
  return listSigningKeys(db.sqlite);
}

/** Keys the well-known declaration announces: every key not yet retired (with not_after when set). */
export function publishedKeysOf(rows: SigningKeyRow[]): PublishedKey[] {
  return rows
    .filter((k) => !k.retired_at)
    .map((k) => ({ key_id: k.key_id, public_key: k.public_key, ...(k.not_after ? { not_after: k.not_after } : {}) }));
}

/**
 * Private keys found on disk: the configured signing key file (when it exists) and every file in
 * the rotated keys directory, by key_id.
 */
export function availableSigningKeys(config: Config): Map<string, SigningKey> {
  const found = new Map<string, SigningKey>();
  if (fs.existsSync(config.signingKeyFile)) {
    const key = readSigningKeyFile(config.signingKeyFile);
    found.set(key.keyId, key);
  }
  for (const { key } of readSigningKeyDir(signingKeysDir(config))) found.set(key.keyId, key);
  return found;
}

/**
 * The keys that sign: every key of the database that is not retired and whose private key file is
 * present, newest first (the first one is `issued_by` of new objects; during a rotation overlap
 * feeds carry a signature of each).
 */
export function activeSigningKeys(rows: SigningKeyRow[], available: Map<string, SigningKey>): SigningKey[] {
  return rows
    .filter((k) => !k.retired_at && available.has(k.key_id))
    .reverse()
    .map((k) => available.get(k.key_id)!);
}

/**
 * Loads the identity of an initialized database: every non-retired signing key whose file exists
 * (the configured file and the rotated keys directory). The configured file must hold a key of
 * this sovereign (a retired one is tolerated after a rotation) and at least one key must be active.
 */
export function loadIdentity(config: Config, db: Database): AuthorityIdentity {
  const sovereignId = readMeta(db, 'sovereign_id');
  if (!sovereignId) throw new IdentityError('the database has no authority identity; run `accord init`');
  if (config.sovereignId && config.sovereignId !== sovereignId) {
    throw new IdentityError(`ACCORD_SOVEREIGN_ID is "${config.sovereignId}" but the database belongs to "${sovereignId}"`);
  }
  let configured: SigningKey;
  let available: Map<string, SigningKey>;
  try {
    configured = readSigningKeyFile(config.signingKeyFile);
    available = availableSigningKeys(config);
  } catch (err) {
    throw new IdentityError((err as Error).message);
  }
  const rows = listSigningKeyRows(db);
  const current = rows.find((k) => k.key_id === configured.keyId);
  const signingKeys = activeSigningKeys(rows, available);
  if (!current || signingKeys.length === 0) {
    throw new IdentityError(
      `signing key ${configured.keyId} in ${config.signingKeyFile} is not an active key of sovereign "${sovereignId}"`,
    );
  }
  return { sovereignId, signingKeys, publishedKeys: publishedKeysOf(rows) };
}
