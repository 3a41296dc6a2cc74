// First start and restart of an authority on disk: identity, key files and modes, the serving lock, reload.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { toTimestamp } from '../../src/authority/clock.ts';
import { loadConfig, type Config } from '../../src/authority/config.ts';
import { devOperatorKeyPath, IdentityError, loadIdentity } from '../../src/authority/identity.ts';
import {
  createOperatorKeyFile,
  createSigningKeyFile,
  fileMode,
  readOperatorKeyFile,
  readSigningKeyFile,
} from '../../src/authority/key-files.ts';
import { startAuthority, type RunningAuthority } from '../../src/server/server.ts';
import { DatabaseLockedError, openDatabase } from '../../src/db/database.ts';
import { auditCount } from '../helpers/authority.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function tempConfig(env: Record<string, string> = {}): Config {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-server-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return loadConfig({ ACCORD_DATA_DIR: path.join(dir, 'data'), ACCORD_PORT: '0', LOG_LEVEL: 'silent', ...env });
}

async function start(config: Config): Promise<RunningAuthority> {
  const running = await startAuthority(config, { logger: pino({ level: 'silent' }), background: false });
  cleanup.push(() => running.close());
  return running;
}

async function adminGet(running: RunningAuthority, keyFile: string, pathAndQuery: string): Promise<Response> {
  const operator = readOperatorKeyFile(keyFile);
  const headers = signAdminRequest({
    authority: running.authority.deps.identity.sovereignId,
    method: 'GET',
    path: pathAndQuery,
    body: '',
    label: operator.label,
    key: operator.key,
    timestamp: toTimestamp(new Date()),
  });
  return fetch(`${running.url}${pathAndQuery}`, { headers: { ...headers } });
}

describe('first start', () => {
  it('creates the identity, a 0600 signing key, a dev operator key, and serves', async () => {
    const config = tempConfig();
    const running = await start(config);
    expect(running.init).toMatchObject({
      created: true,
      signingKeyCreated: true,
      sovereignId: 'local-authority',
      signingKeyFile: config.signingKeyFile,
    });
    expect(running.init.devOperatorKey).toMatchObject({ file: devOperatorKeyPath(config), label: 'dev' });
    expect(fileMode(config.dataDir)).toBe(0o700);
    expect(fileMode(config.signingKeyFile)).toBe(0o600);
    expect(fileMode(devOperatorKeyPath(config))).toBe(0o600);
    expect(fileMode(running.init.devOperatorKey!.keysFile)).toBe(0o600);
    expect(readSigningKeyFile(config.signingKeyFile).keyId).toBe(running.init.signingKeyId);

    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    const res = await adminGet(running, devOperatorKeyPath(config), '/admin/audit?limit=10');
    expect(res.status).toBe(200);
    const page = (await res.json()) as { events: Array<{ event_type: string; details: Record<string, unknown> }> };
    expect(page.events.map((e) => e.event_type)).toEqual(['authority_initialized']);
    expect(page.events[0]!.details).toEqual({
      sovereign_id: 'local-authority',
      signing_key_id: running.init.signingKeyId,
      protocol_version: 1,
    });
  });

  it('uses ACCORD_SOVEREIGN_ID when set', async () => {
    const running = await start(tempConfig({ ACCORD_SOVEREIGN_ID: 'sovereign-north' }));
    const declaration = (await (await fetch(`${running.url}/.well-known/network-authority`)).json()) as { sovereign_id: string };
    expect(declaration.sovereign_id).toBe('sovereign-north');
  });

  it('creates no dev operator key when operator keys are configured', async () => {
    const config = tempConfig({ OPERATOR_PUBLIC_KEYS_JSON: JSON.stringify({ alice: readyKey().publicKey }) });
    const running = await start(config);
    expect(running.init.devOperatorKey).toBeUndefined();
    expect(fs.existsSync(devOperatorKeyPath(config))).toBe(false);
  });
});

function readyKey() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-key-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return createOperatorKeyFile(path.join(dir, 'k.key'), 'alice').key;
}

describe('restart', () => {
  it('reuses the identity, keys and database; nothing is created twice', async () => {
    const config = tempConfig();
    const first = await start(config);
    const keyFileBefore = fs.readFileSync(config.signingKeyFile, 'utf8');
    const devBefore = fs.readFileSync(devOperatorKeyPath(config), 'utf8');
    await first.close();

    const second = await start(config);
    expect(second.init).toMatchObject({
      created: false,
      signingKeyCreated: false,
      sovereignId: 'local-authority',
      signingKeyId: first.init.signingKeyId,
    });
    expect(second.init.devOperatorKey).toBeUndefined();
    expect(fs.readFileSync(config.signingKeyFile, 'utf8')).toBe(keyFileBefore);
    expect(fs.readFileSync(devOperatorKeyPath(config), 'utf8')).toBe(devBefore);
    expect(auditCount(second.db, 'authority_initialized')).toBe(1);
    expect((await adminGet(second, devOperatorKeyPath(config), '/admin/audit')).status).toBe(200);
  });

  it('refuses a database that belongs to another sovereign', async () => {
    const config = tempConfig({ ACCORD_SOVEREIGN_ID: 'north' });
    await (await start(config)).close();
    await expect(
      startAuthority({ ...config, sovereignId: 'south' }, { logger: pino({ level: 'silent' }), background: false }),
    ).rejects.toThrow(IdentityError);
  });

  it('refuses to start when the signing key file of an existing authority is missing, creating nothing', async () => {
    const config = tempConfig();
    await (await start(config)).close();
    fs.rmSync(config.signingKeyFile);
    await expect(startAuthority(config, { logger: pino({ level: 'silent' }), background: false })).rejects.toThrow(
      `the signing key file ${config.signingKeyFile} of sovereign "local-authority" is missing`,
    );
    expect(fs.existsSync(config.signingKeyFile)).toBe(false);
  });

  it('re-allows a leftover dev operator key when its keys file was deleted', async () => {
    const config = tempConfig();
    const first = await start(config);
    const devKey = fs.readFileSync(devOperatorKeyPath(config), 'utf8');
    await first.close();
    fs.rmSync(first.init.devOperatorKey!.keysFile);
    const second = await start(config);
    expect(second.init.devOperatorKey).toMatchObject({ label: 'dev', keyId: first.init.devOperatorKey!.keyId });
    expect(fs.readFileSync(devOperatorKeyPath(config), 'utf8')).toBe(devKey);
    expect((await adminGet(second, devOperatorKeyPath(config), '/admin/audit')).status).toBe(200);
  });

  it('refuses a signing key file that is not this authority’s key', async () => {
    const config = tempConfig();
    await (await start(config)).close();
    fs.rmSync(config.signingKeyFile);
    const db = openDatabase(config.dbPath);
    cleanup.push(() => db.close());
    createSigningKeyFile(config.signingKeyFile, '2026-01-01T00:00:00Z');
    expect(() => loadIdentity(config, db)).toThrow(/is not an active key of sovereign "local-authority"/);
  });
});

describe('the serving lock', () => {
  it('a second server on the same database is refused with a clear message, and can start once the first is closed', async () => {
    const config = tempConfig();
    const first = await start(config);
    const attempt = startAuthority(config, { logger: pino({ level: 'silent' }), background: false });
    await expect(attempt).rejects.toThrow(DatabaseLockedError);
    await expect(attempt).rejects.toThrow(`database is in use by another accord process: ${config.dbPath}`);
    // The refused start left the running one intact.
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    await first.close();
    const second = await start(config);
    expect((await fetch(`${second.url}/healthz`)).status).toBe(200);
  });
});

describe('operator key reload', () => {
  it('a key removed from the keys file fails at once after reload, and the reload is audited', async () => {
    const config = tempConfig();
    const running = await start(config);
    const keysFile = running.init.devOperatorKey!.keysFile;
    const second = createOperatorKeyFile(path.join(config.dataDir, 'ops-2.key'), 'ops-2');
    const keys = JSON.parse(fs.readFileSync(keysFile, 'utf8')) as { keys: Record<string, unknown> };
    keys.keys['ops-2'] = { public_key: second.key.publicKey, scopes: ['*'] };
    fs.writeFileSync(keysFile, JSON.stringify(keys));
    running.reloadOperatorKeys();
    const opsKey = path.join(config.dataDir, 'ops-2.key');
    expect((await adminGet(running, opsKey, '/admin/audit')).status).toBe(200);

    delete keys.keys['ops-2'];
    fs.writeFileSync(keysFile, JSON.stringify(keys));
    running.reloadOperatorKeys();
    const refused = await adminGet(running, opsKey, '/admin/audit');
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { details: { reason: string } } }).error.details.reason).toBe('unknown_key');
    const page = (await (await adminGet(running, devOperatorKeyPath(config), '/admin/audit?event_type=operator_keys_reloaded')).json()) as {
      events: Array<{ details: { added: string[]; removed: string[] } }>;
    };
    expect(page.events.map((e) => e.details)).toEqual([
      { added: ['ops-2'], removed: [], changed: [], count: 2 },
      { added: [], removed: ['ops-2'], changed: [], count: 1 },
    ]);
  });

  it('a damaged keys file keeps the previous keys', async () => {
    const config = tempConfig();
    const running = await start(config);
    fs.writeFileSync(running.init.devOperatorKey!.keysFile, '{ not json');
    running.reloadOperatorKeys();
    expect((await adminGet(running, devOperatorKeyPath(config), '/admin/audit')).status).toBe(200);
  });
});
