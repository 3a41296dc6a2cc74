// `accord init | serve | keygen | admin | sign-request | doctor`: running an authority and talking to it.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { signAdminRequest } from '../authority/admin-auth.ts';
import { parseTimestamp, toTimestamp } from '../authority/clock.ts';
import { loadConfig, type Config } from '../authority/config.ts';
import { devOperatorKeyPath, initAuthority, loadIdentity, operatorKeysFor, readMeta } from '../authority/identity.ts';
import { createOperatorKeyFile, fileMode, readOperatorKeyFile } from '../authority/key-files.ts';
import { startAuthority } from '../authority/server.ts';
import { acquireDatabaseLock, isDatabaseLocked, migrationStatus, openDatabase } from '../db/database.ts';
import { adminCall, readData, resolveClient } from './admin-client.ts';
import { action, CliError, printJson } from './output.ts';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

function method(value: string): string {
  const m = value.toUpperCase();
  if (!METHODS.includes(m)) throw new CliError(`METHOD must be one of ${METHODS.join(', ')}`);
  return m;
}

function firstStartMessage(config: Config, url: string, devKey: { file: string } | undefined): string {
  const lines = [`accord: serving on ${url}`];
  if (devKey) {
    lines.push(`accord: created a dev operator key at ${devKey.file} (keep it private)`);
    lines.push(`accord: try: npx accord admin GET /admin/audit${config.dataDir !== path.resolve('data') ? ` (with ACCORD_DATA_DIR=${config.dataDir})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerAuthorityCommands(program: Command): void {
  program
    .command('init')
    .description('create the authority identity (signing key, sovereign id, dev operator key) and migrate the database')
    .option('--no-dev-operator-key', 'do not create a dev operator key when none is configured')
    .action(
      action((opts: { devOperatorKey: boolean }) => {
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
              dev_operator_key: result.devOperatorKey ?? null,
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
    .description('run the authority: initialize on first start, migrate, and serve HTTP (SIGHUP reloads operator keys)')
    .action(
      action(async () => {
        const config = loadConfig();
        const running = await startAuthority(config);
        process.stderr.write(firstStartMessage(config, running.url, running.init.devOperatorKey));
        process.on('SIGHUP', () => running.reloadOperatorKeys());
        const shutdown = (signal: string) => {
          process.stderr.write(`accord: ${signal}: shutting down\n`);
          running.close().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      }),
    );

  program
    .command('keygen')
    .description('create an operator key pair file (0600) and print its public key and key_id')
    .requiredOption('--label <label>', 'the label the authority will know this key by (X-Admin-Key-Id)')
    .requiredOption('--output <file>', 'where to write the private key file (must not exist)')
    .action(
      action((opts: { label: string; output: string }) => {
        if (!/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(opts.label)) throw new CliError('--label must match ^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$');
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
        await adminCall({ method: method(m), path: p, body: readData(opts.data), ...(opts.key ? { key: opts.key } : {}), ...(opts.url ? { url: opts.url } : {}) });
      }),
    );

  program
    .command('sign-request')
    .description('print the four X-Admin-* headers for a request, for use with curl')
    .argument('<method>', 'HTTP method')
    .argument('<path>', 'path and query exactly as it will be sent')
    .option('--data <json>', 'the exact request body: JSON text, @file, or @- for stdin')
    .option('--key <file>', 'operator key file')
    .option('--timestamp <ts>', 'RFC 3339 UTC timestamp (default: now)')
    .option('--format <format>', 'headers | curl | json', 'headers')
    .action(
      action((m: string, p: string, opts: { data?: string; key?: string; timestamp?: string; format: string }) => {
        const { keyFile } = resolveClient(opts.key ? { key: opts.key } : {});
        const operator = readOperatorKeyFile(keyFile);
        if (opts.timestamp && !parseTimestamp(opts.timestamp)) throw new CliError('--timestamp must look like 2026-01-01T00:00:00Z');
        const headers = signAdminRequest({
          method: method(m),
          path: p,
          body: readData(opts.data),
          label: operator.label,
          key: operator.key,
          timestamp: opts.timestamp ?? toTimestamp(new Date()),
        });
        if (opts.format === 'json') printJson(headers);
        else if (opts.format === 'curl') process.stdout.write(`${Object.entries(headers).map(([k, v]) => `-H '${k}: ${v}'`).join(' ')}\n`);
        else if (opts.format === 'headers') process.stdout.write(`${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`);
        else throw new CliError('--format must be headers, curl or json');
      }),
    );

  program
    .command('doctor')
    .description('check configuration, keys, file permissions, database, migrations and clock')
    .action(
      action(() => {
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
        add('data_dir', dataMode !== null && (dataMode & 0o077) === 0, dataMode === null ? `${config.dataDir} does not exist (run accord init)` : `${config.dataDir} mode ${dataMode.toString(8)}`);
        const keyMode = fileMode(config.signingKeyFile);
        add('signing_key_file', keyMode === 0o600, keyMode === null ? `${config.signingKeyFile} is missing` : `mode ${keyMode.toString(8)}${keyMode === 0o600 ? '' : ' (should be 600)'}`);
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
              const integrity = db.sqlite.pragma('quick_check', { simple: true });
              add('database', integrity === 'ok', `quick_check: ${String(integrity)}`);
              const status = migrationStatus(db.sqlite);
              add('migrations', status.atHead, `${status.applied} of ${status.head} applied${status.ahead ? ' (database is newer than this build)' : ''}`);
              const sovereign = readMeta(db, 'sovereign_id');
              try {
                loadIdentity(config, db);
                add('identity', true, `sovereign ${sovereign}`);
              } catch (err) {
                add('identity', false, (err as Error).message);
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
