// The `accord` command as a real subprocess: init, serve, admin, sign-request, keygen, doctor, signals.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { fixedClock, toTimestamp } from '../../src/authority/clock.ts';
import { loadConfig } from '../../src/authority/config.ts';
import { initAuthority } from '../../src/authority/identity.ts';
import { readOperatorKeyFile } from '../../src/authority/key-files.ts';
import { isDatabaseLocked, openDatabase } from '../../src/db/database.ts';
import { BIN, freePort, run, serve, tempDataDir, type RunResult, type Server } from './run.ts';

const oneLine = (text: string) => text.trim().split('\n').length === 1;

describe('accord init, serve and talking to it', () => {
  const dir = tempDataDir();
  const keyFile = path.join(dir.root, 'ops-2.key');
  let env: Record<string, string>;
  let server: Server;
  let initOutput: {
    created: boolean;
    sovereign_id: string;
    dev_operator_key: { file: string; keys_file: string; key_id: string; label: string };
  };
  // Client commands run side by side once the server is up; the tests below read their results.
  let admin: RunResult;
  let signed: RunResult;
  let adminError: RunResult;
  let doctor: RunResult;
  let secondServer: RunResult;
  let keygen: RunResult;

  beforeAll(async () => {
    env = { ACCORD_DATA_DIR: dir.dataDir, ACCORD_PORT: String(await freePort()) };
    const init = await run(['init'], env);
    expect(init.code, init.stderr).toBe(0);
    initOutput = JSON.parse(init.stdout);
    server = await serve(env);
    [admin, signed, adminError, doctor, secondServer, keygen] = await Promise.all([
      run(['admin', 'GET', '/admin/audit?limit=5'], env),
      run(['sign-request', 'GET', '/admin/audit?limit=1', '--format', 'json'], env),
      run(['admin', 'GET', '/admin/no-such-route'], env),
      run(['doctor'], env),
      run(['serve'], { ...env, ACCORD_PORT: String(await freePort()) }),
      run(['keygen', '--label', 'ops-2', '--output', keyFile], env),
    ]);
  }, 120_000);

  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exit.catch(() => undefined);
    }
    dir.remove();
  });

  it('init created the identity and a dev operator key, and serve reused them', () => {
    expect(initOutput).toMatchObject({
      created: true,
      sovereign_id: 'local-authority',
      dev_operator_key: {
        label: 'dev',
        file: path.join(dir.dataDir, 'operator-dev.key'),
        keys_file: path.join(dir.dataDir, 'operator-keys.json'),
        key_id: expect.stringMatching(/^sha256:/),
      },
    });
    expect(server.url).toBe(`http://127.0.0.1:${env.ACCORD_PORT}`);
    expect(server.banner).toContain('sovereign "local-authority" serving on');
    expect(server.banner).not.toContain('created');
  });

  it('accord admin GET /admin/audit round-trips with the dev key', () => {
    expect(admin.code, admin.stderr).toBe(0);
    const page = JSON.parse(admin.stdout) as { events: Array<{ event_type: string }>; next_after_seq: number | null };
    expect(page.events[0]!.event_type).toBe('authority_initialized');
    expect(page.next_after_seq).toBeNull();
  });

  it('sign-request prints headers the server accepts, once', async () => {
    expect(signed.code, signed.stderr).toBe(0);
    const headers = JSON.parse(signed.stdout) as Record<string, string>;
    expect(Object.keys(headers).sort()).toEqual(['X-Admin-Key-Id', 'X-Admin-Nonce', 'X-Admin-Signature', 'X-Admin-Timestamp']);
    const ok = await fetch(`${server.url}/admin/audit?limit=1`, { headers });
    expect(ok.status).toBe(200);
    const replay = await fetch(`${server.url}/admin/audit?limit=1`, { headers });
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: { details: { reason: string } } }).error.details.reason).toBe('nonce_replayed');
  });

  it('admin errors are one line on stderr with a non-zero exit', () => {
    expect(adminError.code).not.toBe(0);
    expect(oneLine(adminError.stderr)).toBe(true);
    expect(adminError.stderr).toMatch(/^accord: HTTP 404 not_found/);
  });

  it('doctor passes on the healthy, serving data directory', () => {
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    const report = JSON.parse(doctor.stdout) as { ok: boolean; checks: Array<{ check: string; ok: boolean; detail: string }> };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.check)).toEqual(
      expect.arrayContaining([
        'config',
        'data_dir',
        'signing_key_file',
        'operator_keys',
        'database',
        'migrations',
        'identity',
        'audit_chain',
        'clock',
      ]),
    );
    expect(report.checks.find((c) => c.check === 'server')!.detail).toBe('an accord server holds the database');
  });

  it('a second server on the same database is refused with a clear message', async () => {
    expect(secondServer.code).not.toBe(0);
    expect(oneLine(secondServer.stderr)).toBe(true);
    expect(secondServer.stderr).toContain(`accord: database is in use by another accord process: ${path.join(dir.dataDir, 'accord.db')}`);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('keygen + SIGHUP: an added key works after reload, a removed key fails at once after the next', async () => {
    expect(keygen.code, keygen.stderr).toBe(0);
    const generated = JSON.parse(keygen.stdout) as { key_id: string; operator_keys_file_entry: Record<string, unknown> };
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);

    const dev = readOperatorKeyFile(initOutput.dev_operator_key.file);
    const ops2 = readOperatorKeyFile(keyFile);
    const get = (operator: typeof dev, pathAndQuery: string) =>
      fetch(`${server.url}${pathAndQuery}`, {
        headers: {
          ...signAdminRequest({
            authority: 'local-authority',
            method: 'GET',
            path: pathAndQuery,
            body: '',
            label: operator.label,
            key: operator.key,
            timestamp: toTimestamp(new Date()),
          }),
        },
      });
    const reloads = async () =>
      ((await (await get(dev, '/admin/audit?event_type=operator_keys_reloaded')).json()) as { events: unknown[] }).events.length;
    /** Sends SIGHUP and waits until the server has recorded the reload. */
    const hangUp = async () => {
      const before = await reloads();
      server.child.kill('SIGHUP');
      for (let i = 0; i < 200 && (await reloads()) === before; i++) await new Promise((r) => setTimeout(r, 25));
      expect(await reloads()).toBe(before + 1);
    };

    const keysFile = initOutput.dev_operator_key.keys_file;
    const original = JSON.parse(fs.readFileSync(keysFile, 'utf8')) as { keys: Record<string, unknown> };
    fs.writeFileSync(keysFile, JSON.stringify({ keys: { ...original.keys, ...generated.operator_keys_file_entry } }));
    await hangUp();
    expect((await get(ops2, '/admin/audit?limit=1')).status).toBe(200);

    fs.writeFileSync(keysFile, JSON.stringify(original));
    await hangUp();
    const refused = await run(['admin', 'GET', '/admin/audit?limit=1', '--key', keyFile], env);
    expect(refused.code).not.toBe(0);
    expect(oneLine(refused.stderr)).toBe(true);
    expect(refused.stderr).toContain('HTTP 401 admin_auth_failed');
    expect(refused.stderr).toContain('(unknown_key)');
  }, 60_000);

  it('SIGTERM shuts down cleanly with exit code 0 and releases the database', async () => {
    server.child.kill('SIGTERM');
    const result = await server.exit;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('SIGTERM: shutting down');
    expect(isDatabaseLocked(path.join(dir.dataDir, 'accord.db'))).toBe(false);
  });
});

describe('first start without init (the README quick start)', () => {
  it('creates everything, prints the dev key and a working admin example, and restarts without creating anything', async () => {
    const dir = tempDataDir();
    try {
      const env = { ACCORD_DATA_DIR: dir.dataDir, ACCORD_PORT: String(await freePort()) };
      const first = await serve(env);
      expect(first.banner).toContain(`created the authority signing key at ${path.join(dir.dataDir, 'authority-signing-key.json')}`);
      expect(first.banner).toContain(`dev operator key "dev" is ${path.join(dir.dataDir, 'operator-dev.key')}`);
      // The command as it was started (node and this checkout's bin/accord.mjs), never `npx accord`.
      const example = /try: (.*)node (\S+) (admin GET \/admin\/audit)$/m.exec(first.banner);
      expect(example, first.banner).not.toBeNull();
      expect(first.banner).not.toContain('npx');
      expect(path.resolve(example![2]!)).toBe(BIN);
      // The printed example works as printed: its environment prefix points at this server.
      const exampleEnv = Object.fromEntries(
        example![1]!
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map((kv) => kv.split('=') as [string, string]),
      );
      expect(exampleEnv).toEqual(env);
      const res = await run(example![3]!.split(' '), exampleEnv);
      expect(res.code, res.stderr).toBe(0);
      first.child.kill('SIGTERM');
      expect((await first.exit).code).toBe(0);

      const second = await serve(env);
      expect(second.banner).not.toContain('created');
      expect(second.banner).not.toContain('dev operator key');
      second.child.kill('SIGTERM');
      expect((await second.exit).code).toBe(0);
    } finally {
      dir.remove();
    }
  });
});

describe('start-up and usage errors', () => {
  it('a bad environment value stops start-up with one line naming the variable', async () => {
    const dir = tempDataDir();
    try {
      const res = await run(['serve'], { ACCORD_DATA_DIR: dir.dataDir, ACCORD_PORT: 'eighty' });
      expect(res.code).not.toBe(0);
      expect(oneLine(res.stderr)).toBe(true);
      expect(res.stderr).toMatch(/^accord: invalid configuration: ACCORD_PORT /);
      // Nothing was created.
      expect(fs.existsSync(dir.dataDir)).toBe(false);
    } finally {
      dir.remove();
    }
  });

  it('serve on a port already in use exits non-zero at once with one line, and releases everything', async () => {
    const dir = tempDataDir();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as net.AddressInfo).port;
    try {
      // `run` kills and fails the test if the process does not exit by itself: a server that stays
      // up without serving is exactly the failure.
      const res = await run(['serve'], { ACCORD_DATA_DIR: dir.dataDir, ACCORD_PORT: String(port) });
      expect(res.code).not.toBe(0);
      expect(res.signal).toBeNull();
      expect(oneLine(res.stderr), res.stderr).toBe(true);
      expect(res.stderr).toBe(`accord: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`);
      expect(res.stdout).not.toMatch(/database connection is not open|TypeError/);
      // The database and its serving lock were released: a later start on a free port works.
      expect(isDatabaseLocked(path.join(dir.dataDir, 'accord.db'))).toBe(false);
      const later = await serve({ ACCORD_DATA_DIR: dir.dataDir, ACCORD_PORT: String(await freePort()) });
      later.child.kill('SIGTERM');
      expect((await later.exit).code).toBe(0);
    } finally {
      squatter.close();
      dir.remove();
    }
  });

  it('every command has --help; usage errors are one line with a non-zero exit', async () => {
    const commands = ['init', 'serve', 'keygen', 'admin', 'sign-request', 'doctor'];
    const existing = path.join(import.meta.dirname, 'run.ts');
    const [keygenOverwrite, badMethod, ...results] = await Promise.all([
      run(['keygen', '--label', 'x', '--output', existing], {}),
      run(['sign-request', 'FETCH', '/admin/audit', '--key', existing], {}),
      run(['--help'], {}),
      ...commands.map((c) => run([c, '--help'], {})),
    ]);
    for (const [r, pattern] of [
      [keygenOverwrite, /^accord: refusing to overwrite /],
      [badMethod, /^accord: METHOD must be one of GET, POST, PUT, PATCH, DELETE$/m],
    ] as const) {
      expect(r!.code, r!.stderr).not.toBe(0);
      expect(oneLine(r!.stderr), r!.stderr).toBe(true);
      expect(r!.stderr).toMatch(pattern);
    }
    expect(results[0]!.code).toBe(0);
    for (const c of commands) expect(results[0]!.stdout).toContain(c);
    commands.forEach((c, i) => {
      const r = results[i + 1]!;
      expect(r.stderr, c).toBe('');
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toContain(`Usage: accord ${c}`);
    });
  });

  it('doctor fails on a broken data directory and says which check failed', async () => {
    const dir = tempDataDir();
    try {
      const config = loadConfig({ ACCORD_DATA_DIR: dir.dataDir });
      const db = openDatabase(config.dbPath);
      initAuthority(config, db, fixedClock('2026-01-01T00:00:00Z'));
      db.close();
      fs.chmodSync(config.signingKeyFile, 0o644);
      fs.rmSync(path.join(dir.dataDir, 'operator-keys.json'));
      const res = await run(['doctor'], { ACCORD_DATA_DIR: dir.dataDir });
      expect(res.code).not.toBe(0);
      expect(res.stderr.trim()).toBe('accord: doctor found problems');
      const report = JSON.parse(res.stdout) as { ok: boolean; checks: Array<{ check: string; ok: boolean }> };
      expect(report.ok).toBe(false);
      const failed = report.checks.filter((c) => !c.ok).map((c) => c.check);
      expect(failed.sort()).toEqual(['operator_keys', 'signing_key_file']);
    } finally {
      dir.remove();
    }
  });
});
