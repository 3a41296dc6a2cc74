// `accord init | serve | keygen | admin | sign-request | doctor`: running an authority and talking to it.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../authority/config.ts';
import type { RunningAuthority } from '../server/server.ts';
import { action, CliError, printJson } from './output.ts';

// Modules are loaded inside each action, so `--help` and the thin client commands start quickly.
const load = {
  adminAuth: () => import('../authority/admin-auth.ts'),
  adminClient: () => import('./admin-client.ts'),
  audit: () => import('../authority/audit.ts'),
  clock: () => import('../authority/clock.ts'),
  config: () => import('../authority/config.ts'),
  database: () => import('../db/database.ts'),
  identity: () => import('../authority/identity.ts'),
  keyFiles: () => import('../authority/key-files.ts'),
  server: () => import('../server/server.ts'),
};

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

function method(value: string): string {
  const m = value.toUpperCase();
  if (!METHODS.includes(m)) throw new CliError(`METHOD must be one of ${METHODS.join(', ')}`);
  return m;
}

/** `KEY=value` prefixes a client needs to reach this server and find its key, for the printed example. */
function clientEnvPrefix(config: Config, port: number): string {
  const env: string[] = [];
  if (config.dataDir !== path.resolve('data')) env.push(`ACCORD_DATA_DIR=${shellQuote(config.dataDir)}`);
  if (config.host !== '127.0.0.1') env.push(`ACCORD_HOST=${shellQuote(config.host)}`);
  if (port !== 8443) env.push(`ACCORD_PORT=${port}`);
  return env.length > 0 ? `${env.join(' ')} ` : '';
}

function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * This very command as the operator can type it again: `accord` when it was found on PATH (`npm
 * link`, a global install), else `node <path to bin/accord.mjs>`, relative when under the working
 * directory. Never `npx accord`, which resolves the package again on every call.
 */
function selfCommand(): string {
  const script = process.argv[1];
  if (!script?.endsWith('.mjs')) return 'accord';
  const absolute = path.resolve(script);
  const relative = path.relative(process.cwd(), absolute);
  return `node ${shellQuote(relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : absolute)}`;
}

function startMessage(config: Config, running: RunningAuthority): string {
  const lines = [`accord: sovereign "${running.init.sovereignId}" serving on ${running.url}`];
  if (running.init.signingKeyCreated) lines.push(`accord: created the authority signing key at ${running.init.signingKeyFile}`);
  const devKey = running.init.devOperatorKey;
  if (devKey) {
    lines.push(`accord: dev operator key "${devKey.label}" is ${devKey.file} (keep it private; allowed keys are in ${devKey.keysFile})`);
    lines.push(`accord: try: ${clientEnvPrefix(config, running.port)}${selfCommand()} admin GET /admin/audit`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerAuthorityCommands(program: Command): void {
  program
    .command('init')
    .description('create the authority identity (signing key, sovereign id, dev operator key) and migrate the database')
    .option('--no-dev-operator-key', 'do not create a dev operator key when none is configured')
    .action(
      action(async (opts: { devOperatorKey: boolean }) => {
        const [{ loadConfig }, { acquireDatabaseLock, openDatabase }, { initAuthority }] = await Promise.all([
          load.config(),
          load.database(),
          load.identity(),
        ]);
        const config = loadConfig();
        const lock = acquireDatabaseLock(config.dbPath);
        try {
          const db = openDatabase(config.dbPath);
          try {
            const result = initAuthority(config, db, () => new Date(), { devOperatorKey: opts.devOperatorKey });
            printJson({
              created: result.created,
              sovereign_id: result.sovereignId,
              signing_key_id: result.signingKeyId,
              signing_key_file: result.signingKeyFile,
              database: config.dbPath,
              dev_operator_key: result.devOperatorKey
                ? {
                    file: result.devOperatorKey.file,
                    label: result.devOperatorKey.label,
                    key_id: result.devOperatorKey.keyId,
                    keys_file: result.devOperatorKey.keysFile,
                  }
                : null,
            });
          } finally {
            db.close();
          }
        } finally {
          lock.release();
        }
      }),
    );

  program
    .command('serve')
    .description(
      'run the authority: initialize on first start, migrate, and serve HTTP (SIGHUP reloads operator keys); with --follow, a read-only follower of another',
    )
    .option(
      '--follow <url>',
      'run a read-only follower of the authority at URL (or a static mirror of it): it copies what the primary publishes, answers reads and verification, signs nothing',
    )
    .option(
      '--key <base64>',
      "with --follow: a public key of the primary to pin (repeatable); without it, the first start pins the keys the primary's declaration names",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--pull-interval <ms>', 'with --follow: milliseconds between pulls of the primary (default 1000)')
    .action(
      action(async (opts: { follow?: string; key: string[]; pullInterval?: string }) => {
        const [{ loadConfig }, { startAuthority, startFollower }] = await Promise.all([load.config(), load.server()]);
        if (opts.follow === undefined && (opts.key.length > 0 || opts.pullInterval !== undefined))
          throw new CliError('--key and --pull-interval go with --follow');
        let pullIntervalMs: number | undefined;
        if (opts.pullInterval !== undefined) {
          if (!/^[1-9][0-9]{0,6}$/.test(opts.pullInterval) || Number(opts.pullInterval) < 100)
            throw new CliError('--pull-interval must be a whole number of milliseconds from 100 to 9999999');
          pullIntervalMs = Number(opts.pullInterval);
        }
        const config = loadConfig();
        // Signal handlers come first: a SIGTERM that arrives while starting, or just after the
        // banner, must still shut down cleanly rather than kill the process.
        let running: { close(): Promise<void> } | undefined;
        let reload: (() => void) | undefined;
        let stopping = false;
        const shutdown = (signal: string) => {
          if (stopping) return;
          stopping = true;
          process.stderr.write(`accord: ${signal}: shutting down\n`);
          if (!running) return; // start-up finishes, then closes at once
          running.close().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
        process.on('SIGHUP', () => reload?.());
        let message: string;
        try {
          if (opts.follow !== undefined) {
            const follower = await startFollower(config, { url: opts.follow, keys: opts.key, pullIntervalMs });
            running = follower;
            const identity = follower.authority.deps.identity;
            message =
              `accord: read-only follower of "${identity.sovereignId}" at ${identity.primaryUrl}, serving on ${follower.url}\n` +
              (follower.pinnedOnFirstUse
                ? `accord: pinned the primary's declared keys on first use: ${identity.publishedKeys.map((k) => k.key_id).join(', ')}\n`
                : '');
          } else {
            const authority: RunningAuthority = await startAuthority(config);
            running = authority;
            reload = () => authority.reloadOperatorKeys();
            message = startMessage(config, authority);
          }
        } catch (err) {
          // Nothing was left running (the start released the port, jobs, database and lock):
          // one line and a non-zero exit, so a supervisor sees a failed start.
          process.stderr.write(`accord: ${(err as Error).message.split('\n')[0]}\n`);
          process.exit(1);
        }
        if (stopping) {
          await running.close();
          process.exit(0);
        }
        process.stderr.write(message);
      }),
    );

  program
    .command('keygen')
    .description('create an operator key pair file (0600) and print its public key and key_id')
    .requiredOption('--label <label>', 'the label the authority will know this key by (X-Admin-Key-Id)')
    .requiredOption('--output <file>', 'where to write the private key file (must not exist)')
    .action(
      action(async (opts: { label: string; output: string }) => {
        const { createOperatorKeyFile } = await load.keyFiles();
        if (!/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(opts.label))
          throw new CliError('--label must match ^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$');
        const file = path.resolve(opts.output);
        if (fs.existsSync(file)) throw new CliError(`refusing to overwrite ${file}`);
        const material = createOperatorKeyFile(file, opts.label);
        printJson({
          label: opts.label,
          public_key: material.key.publicKey,
          key_id: material.key.keyId,
          file,
          operator_keys_file_entry: { [opts.label]: { public_key: material.key.publicKey, scopes: ['*'] } },
        });
      }),
    );

  program
    .command('admin')
    .description('sign and send an admin request; prints the JSON response (non-zero exit on HTTP errors)')
    .argument('<method>', 'HTTP method')
    .argument('<path>', 'path and query, e.g. /admin/audit?limit=10')
    .option('--data <json>', 'request body: JSON text, @file, or @- for stdin')
    .option('--key <file>', 'operator key file (default: $ACCORD_ADMIN_KEY_FILE or <data dir>/operator-dev.key)')
    .option('--url <url>', 'authority base URL (default: $ACCORD_URL or http://ACCORD_HOST:ACCORD_PORT)')
    .action(
      action(async (m: string, p: string, opts: { data?: string; key?: string; url?: string }) => {
        const { adminCall, readData } = await load.adminClient();
        await adminCall({
          method: method(m),
          path: p,
          body: readData(opts.data),
          ...(opts.key ? { key: opts.key } : {}),
          ...(opts.url ? { url: opts.url } : {}),
        });
      }),
    );

  program
    .command('sign-request')
    .description('print the four X-Admin-* headers for a request, for use with curl')
    .argument('<method>', 'HTTP method')
    .argument('<path>', 'path and query exactly as it will be sent')
    .option('--data <json>', 'the exact request body: JSON text, @file, or @- for stdin')
    .option('--key <file>', 'operator key file')
    .option(
      '--authority <id>',
      'sovereign id of the authority the request is for (default: $ACCORD_ADMIN_AUTHORITY, ACCORD_SOVEREIGN_ID, or its declaration)',
    )
    .option('--url <url>', 'authority base URL, to read its declared sovereign id when no id is configured')
    .option('--timestamp <ts>', 'RFC 3339 UTC timestamp (default: now)')
    .option('--format <format>', 'headers | curl | json', 'headers')
    .action(
      action(
        async (
          m: string,
          p: string,
          opts: { data?: string; key?: string; url?: string; authority?: string; timestamp?: string; format: string },
        ) => {
          const [
            { readData, resolveClient, resolveAuthority },
            { readOperatorKeyFile },
            { parseTimestamp, toTimestamp },
            { signAdminRequest },
          ] = await Promise.all([load.adminClient(), load.keyFiles(), load.clock(), load.adminAuth()]);
          const verb = method(m);
          if (!['headers', 'curl', 'json'].includes(opts.format)) throw new CliError('--format must be headers, curl or json');
          const { keyFile, url } = resolveClient({ ...(opts.key ? { key: opts.key } : {}), ...(opts.url ? { url: opts.url } : {}) });
          const operator = readOperatorKeyFile(keyFile);
          if (opts.timestamp && !parseTimestamp(opts.timestamp)) throw new CliError('--timestamp must look like 2026-01-01T00:00:00Z');
          const headers = signAdminRequest({
            authority: await resolveAuthority(url, opts.authority),
            method: verb,
            path: p,
            body: readData(opts.data),
            label: operator.label,
            key: operator.key,
            timestamp: opts.timestamp ?? toTimestamp(new Date()),
          });
          if (opts.format === 'json') printJson(headers);
          else if (opts.format === 'curl')
            process.stdout.write(
              `${Object.entries(headers)
                .map(([k, v]) => `-H '${k}: ${v}'`)
                .join(' ')}\n`,
            );
          else
            process.stdout.write(
              `${Object.entries(headers)
                .map(([k, v]) => `${k}: ${v}`)
                .join('\n')}\n`,
            );
        },
      ),
    );

  program
    .command('doctor')
    .description('check configuration, keys, file permissions, database, migrations and clock')
    .action(
      action(async () => {
        const [
          { loadConfig },
          { isDatabaseLocked, migrationStatus, openDatabase, quickCheck },
          { devOperatorKeyPath, loadIdentity, operatorKeysFor, readMeta },
          { fileMode },
          { verifyStoredAuditChain },
          { toTimestamp },
        ] = await Promise.all([load.config(), load.database(), load.identity(), load.keyFiles(), load.audit(), load.clock()]);
        const checks: Array<{ check: string; ok: boolean; detail: string }> = [];
        const add = (check: string, ok: boolean, detail: string) => checks.push({ check, ok, detail });
        let config: Config;
        try {
          config = loadConfig();
          add('config', true, 'environment is valid');
        } catch (err) {
          add('config', false, (err as Error).message);
          printJson({ ok: false, checks });
          throw new CliError('doctor found problems');
        }
        const dataMode = fileMode(config.dataDir);
        add(
          'data_dir',
          dataMode !== null && (dataMode & 0o077) === 0,
          dataMode === null ? `${config.dataDir} does not exist (run accord init)` : `${config.dataDir} mode ${dataMode.toString(8)}`,
        );
        const keyMode = fileMode(config.signingKeyFile);
        add(
          'signing_key_file',
          keyMode === 0o600,
          keyMode === null
            ? `${config.signingKeyFile} is missing`
            : `mode ${keyMode.toString(8)}${keyMode === 0o600 ? '' : ' (should be 600)'}`,
        );
        const devKey = devOperatorKeyPath(config);
        const devMode = fileMode(devKey);
        if (devMode !== null) add('dev_operator_key_file', devMode === 0o600, `${devKey} mode ${devMode.toString(8)}`);
        try {
          const keys = operatorKeysFor(config);
          add('operator_keys', keys.size > 0, `${keys.size} operator key(s) configured`);
        } catch (err) {
          add('operator_keys', false, (err as Error).message);
        }
        if (fs.existsSync(config.dbPath)) {
          add('server', true, isDatabaseLocked(config.dbPath) ? 'an accord server holds the database' : 'no server holds the database');
          try {
            const db = openDatabase(config.dbPath, { readonly: true });
            try {
              const integrity = quickCheck(db.sqlite);
              add('database', integrity === 'ok', `quick_check: ${integrity}`);
              const status = migrationStatus(db.sqlite);
              add(
                'migrations',
                status.atHead,
                `${status.applied} of ${status.head} applied${status.ahead ? ' (database is newer than this build)' : ''}`,
              );
              const sovereign = readMeta(db, 'sovereign_id');
              try {
                loadIdentity(config, db);
                add('identity', true, `sovereign ${sovereign}`);
              } catch (err) {
                add('identity', false, (err as Error).message);
              }
              if (status.applied > 0) {
                const chain = verifyStoredAuditChain(db.sqlite);
                const first = chain.breaks[0];
                add(
                  'audit_chain',
                  chain.ok,
                  chain.ok
                    ? `${chain.count} event(s), hashes and links verified`
                    : `broken at seq ${first?.seq ?? '?'} (${first?.reason ?? 'unknown'})`,
                );
              }
            } finally {
              db.close();
            }
          } catch (err) {
            add('database', false, `cannot open database: ${(err as Error).message}`);
          }
        } else {
          add('database', false, `${config.dbPath} does not exist (run accord init)`);
        }
        const year = new Date().getUTCFullYear();
        add('clock', year >= 2025 && year < 2100, `system clock reads ${toTimestamp(new Date())}`);
        const ok = checks.every((c) => c.ok);
        printJson({ ok, checks });
        if (!ok) throw new CliError('doctor found problems');
      }),
    );
}
