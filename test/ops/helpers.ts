// Helpers for operations tests: temp directories, file-backed test authorities, and the real `accord` CLI as a subprocess.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createApp, type AuthorityApp } from '../../src/server/app.ts';
import { openDatabase } from '../../src/db/database.ts';
import { createTestAuthority, type TestAuthority, type TestAuthorityOptions } from '../helpers/authority.ts';

export const BIN = path.join(import.meta.dirname, '..', '..', 'bin', 'accord.mjs');

const made: string[] = [];

export function tempDir(prefix = 'accord-ops-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `accord ARGS…` as a subprocess with a clean environment (plus `env`). */
export function accord(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; nodeArgs?: string[] } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...(options.nodeArgs ?? []), BIN, ...args],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'silent', ...options.env },
        cwd: options.cwd ?? os.tmpdir(),
        timeout: 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A test authority on a database file in `dir` (data dir = `dir`). */
export function fileAuthority(dir: string, options: TestAuthorityOptions = {}): TestAuthority {
  return createTestAuthority({
    ...options,
    dbPath: path.join(dir, 'accord.db'),
    config: { dataDir: dir, dbPath: path.join(dir, 'accord.db'), ...options.config },
  });
}

/** The same authority (identity, keys, clock, config) on a database file opened again, e.g. after a restore. */
export function reopen(a: TestAuthority, dbPath = path.join(a.config.dataDir, 'accord.db')): AuthorityApp {
  const db = openDatabase(dbPath);
  return createApp({
    db,
    clock: a.clock,
    config: a.config,
    identity: {
      sovereignId: a.sovereignId,
      signingKeys: [a.signingKey],
      publishedKeys: [{ key_id: a.signingKey.keyId, public_key: a.signingKey.publicKey }],
    },
    operatorKeys: a.deps.operatorKeys,
    logger: pino({ level: 'silent' }),
  });
}

export function readLines(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

/** The event lines of a jsonl audit export: every line after its header line. */
export function exportEventLines(file: string): string[] {
  const [header, ...events] = readLines(file);
  if ((JSON.parse(header!) as { type?: unknown }).type !== 'audit_export') throw new Error(`${file} has no export header`);
  return events;
}
