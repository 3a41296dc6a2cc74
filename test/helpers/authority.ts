// Test authorities: a migrated database, fixed keys, an injected clock and the assembled app.
import { createHash } from 'node:crypto';
import pino from 'pino';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { createApp, type AuthorityApp } from '../../src/server/app.ts';
import { fixedClock, toTimestamp } from '../../src/authority/clock.ts';
import { defaultConfig, type Config } from '../../src/authority/config.ts';
import { signingKeyFromSeed, type SigningKey } from '../../src/authority/crypto.ts';
import { appendAudit, SYSTEM_ACTOR } from '../../src/authority/audit.ts';
import { OperatorKeyring, type OperatorKey } from '../../src/authority/operator-keys.ts';
import { parsePublicKey } from '../../src/authority/crypto.ts';
import { openMemoryDatabase, openDatabase, type Database } from '../../src/db/database.ts';

export const T0 = '2026-03-01T00:00:00Z';

/** Deterministic 32-byte seed from a label (tests and vectors only). */
export function seedFor(label: string): Buffer {
  return createHash('sha256').update(`accord-test-seed:${label}`).digest();
}

export function testKey(label: string): SigningKey {
  return signingKeyFromSeed(seedFor(label));
}

export interface TestOperator {
  label: string;
  key: SigningKey;
  scopes: string[];
}

export interface TestAuthority extends AuthorityApp {
  db: Database;
  clock: ReturnType<typeof fixedClock>;
  config: Config;
  sovereignId: string;
  signingKey: SigningKey;
  operator: TestOperator;
  /** Operator keys currently configured; change it and call `deps.operatorKeys.reload()`. */
  operatorKeys: OperatorKey[];
  /** Sends a signed admin request through `app.request`. */
  admin(
    method: string,
    path: string,
    body?: unknown,
    options?: { operator?: TestOperator; headers?: Record<string, string> },
  ): Promise<Response>;
}

export interface TestAuthorityOptions {
  sovereignId?: string;
  now?: string;
  config?: Partial<Config>;
  dbPath?: string;
  operators?: TestOperator[];
  /** A clock shared with other authorities (default: its own, starting at `now`). */
  clock?: ReturnType<typeof fixedClock>;
}

export function testOperator(label = 'ops', scopes = ['*']): TestOperator {
  return { label, key: testKey(`operator:${label}`), scopes };
}

/** Initializes identity rows exactly as `initAuthority` does, without touching the filesystem. */
function seedIdentity(db: Database, clock: () => Date, sovereignId: string, key: SigningKey): void {
  db.sqlite.transaction(() => {
    const meta = db.sqlite.prepare('INSERT INTO authority_meta (key, value) VALUES (?, ?)');
    meta.run('application', 'accord');
    meta.run('sovereign_id', sovereignId);
    meta.run('created_at', toTimestamp(clock()));
    db.sqlite
      .prepare('INSERT INTO authority_signing_keys (key_id, public_key, created_at) VALUES (?, ?, ?)')
      .run(key.keyId, key.publicKey, toTimestamp(clock()));
    appendAudit(db.sqlite, clock, {
      eventType: 'authority_initialized',
      actor: SYSTEM_ACTOR,
      details: { sovereign_id: sovereignId, signing_key_id: key.keyId, protocol_version: 1 },
    });
  })();
}

export function createTestAuthority(options: TestAuthorityOptions = {}): TestAuthority {
  const sovereignId = options.sovereignId ?? 'sovereign-test';
  const clock = options.clock ?? fixedClock(options.now ?? T0);
  const config = defaultConfig({ logLevel: 'silent', sovereignId, ...options.config });
  const db = options.dbPath ? openDatabase(options.dbPath) : openMemoryDatabase();
  const signingKey = testKey(`authority:${sovereignId}`);
  seedIdentity(db, clock, sovereignId, signingKey);
  const operators = options.operators ?? [testOperator()];
  const operatorKeys: OperatorKey[] = operators.map((o) => {
    const parsed = parsePublicKey(o.key.publicKey);
    if (!parsed.ok) throw new Error('bad test key');
    return { label: o.label, key: parsed.key, scopes: o.scopes, notAfter: null };
  });
  const keyring = new OperatorKeyring(() => operatorKeys);
  const authority = createApp({
    db,
    clock,
    config,
    identity: { sovereignId, signingKeys: [signingKey], publishedKeys: [{ key_id: signingKey.keyId, public_key: signingKey.publicKey }] },
    operatorKeys: keyring,
    logger: pino({ level: 'silent' }),
  });
  const operator = operators[0]!;
  const result: TestAuthority = {
    ...authority,
    db,
    clock,
    config,
    sovereignId,
    signingKey,
    operator,
    operatorKeys,
    admin: (method, path, body, opts = {}) => {
      const op = opts.operator ?? operator;
      const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
      const headers: Record<string, string> = {
        ...signAdminRequest({
          authority: sovereignId,
          method,
          path,
          body: text,
          label: op.label,
          key: op.key,
          timestamp: toTimestamp(clock()),
        }),
        ...(text ? { 'Content-Type': 'application/json' } : {}),
        ...opts.headers,
      };
      return Promise.resolve(authority.app.request(path, { method, headers, ...(text ? { body: text } : {}) }));
    },
  };
  return result;
}

/**
 * Digest of every table except the audit log (and the nonce store, which admin auth writes by
 * design): the "database unchanged" check after a rejected request.
 */
export function dbDigest(db: Database, exclude: string[] = ['audit_events', 'admin_nonces']): string {
  const tables = (
    db.sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{
      name: string;
    }>
  )
    .map((t) => t.name)
    .filter((n) => !exclude.includes(n));
  const hash = createHash('sha256');
  for (const table of tables) {
    hash.update(`table:${table}\n`);
    for (const row of db.sqlite.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).iterate()) hash.update(`${JSON.stringify(row)}\n`);
  }
  return hash.digest('hex');
}

export function auditCount(db: Database, eventType?: string): number {
  const row = (
    eventType
      ? db.sqlite.prepare('SELECT count(*) AS n FROM audit_events WHERE event_type = ?').get(eventType)
      : db.sqlite.prepare('SELECT count(*) AS n FROM audit_events').get()
  ) as { n: number };
  return row.n;
}

export function lastAudit(db: Database): Record<string, unknown> {
  const row = db.sqlite.prepare('SELECT canonical FROM audit_events ORDER BY seq DESC LIMIT 1').get() as { canonical: string };
  return JSON.parse(row.canonical) as Record<string, unknown>;
}
