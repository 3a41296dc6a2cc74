// Drill harness: real `accord serve` processes on 127.0.0.1, the real CLI as subprocesses, signed HTTP from the test.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { toTimestamp } from '../../src/authority/clock.ts';
import { readOperatorKeyFile, readSigningKeyFile, type OperatorKeyMaterial } from '../../src/authority/key-files.ts';
import type { SigningKey } from '../../src/authority/crypto.ts';

const BIN = path.join(import.meta.dirname, '..', '..', 'bin', 'accord.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (throws when it is not). */
  json<T = Record<string, unknown>>(): T;
}

function baseEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'silent', ...env };
}

export function runCli(args: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: baseEnv(env), cwd, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        resolve({
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
          json: <T>() => JSON.parse(stdout) as T,
        });
      },
    );
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const roots: string[] = [];

export function removeDrillDirs(): void {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
}

/** One authority: its data directory and environment; `start()` runs `accord serve` for it. */
export class DrillAuthority {
  readonly root: string;
  readonly dataDir: string;
  readonly dbPath: string;
  readonly env: Record<string, string>;
  url = '';
  private child: ChildProcess | null = null;
  private stderrText = '';

  private constructor(
    readonly sovereignId: string,
    port: number,
  ) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), `accord-drill-${sovereignId}-`));
    roots.push(this.root);
    this.dataDir = path.join(this.root, 'data');
    this.dbPath = path.join(this.dataDir, 'accord.db');
    this.url = `http://127.0.0.1:${port}`;
    this.env = {
      ACCORD_DATA_DIR: this.dataDir,
      ACCORD_SOVEREIGN_ID: sovereignId,
      ACCORD_HOST: '127.0.0.1',
      ACCORD_PORT: String(port),
      ACCORD_URL: this.url,
      ACCORD_ADMIN_KEY_FILE: path.join(this.dataDir, 'operator-dev.key'),
    };
  }

  static async create(sovereignId: string, extraEnv: Record<string, string> = {}): Promise<DrillAuthority> {
    const a = new DrillAuthority(sovereignId, await freePort());
    Object.assign(a.env, extraEnv);
    return a;
  }

  /** `accord ARGS…` with this authority's environment. */
  cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    return runCli(args, { ...this.env, ...env }, this.root);
  }

  /** Starts `accord serve` and waits until it prints where it serves. */
  async start(): Promise<void> {
    this.stderrText = '';
    const child = spawn(process.execPath, [BIN, 'serve'], { env: baseEnv(this.env), cwd: this.root, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.sovereignId} did not start: ${this.stderrText}`)), 60_000);
      child.stderr!.on('data', (d: Buffer) => {
        this.stderrText += d.toString();
        if (/serving on http/.test(this.stderrText)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.sovereignId} exited with ${code}: ${this.stderrText}`));
      });
    });
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null;
  }

  /** Sends a signal to the server (SIGHUP reloads operator keys). */
  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  /** SIGTERM and wait for a clean exit (the database lock is released). */
  async stop(): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await exited;
    this.child = null;
    return code;
  }

  kill(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
  }

  operatorKey(file = this.env.ACCORD_ADMIN_KEY_FILE!): OperatorKeyMaterial {
    return readOperatorKeyFile(file);
  }

  signingKey(): SigningKey {
    return readSigningKeyFile(path.join(this.dataDir, 'authority-signing-key.json'));
  }

  /** A signed admin request over HTTP (setup steps the runbook does not cover). */
  async admin(method: string, pathAndQuery: string, body?: unknown, operator = this.operatorKey()): Promise<{ status: number; body: any }> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = {
      ...signAdminRequest({
        authority: this.sovereignId,
        method,
        path: pathAndQuery,
        body: text,
        label: operator.label,
        key: operator.key,
        timestamp: toTimestamp(new Date()),
      }),
      ...(text ? { 'Content-Type': 'application/json' } : {}),
    };
    const res = await fetch(`${this.url}${pathAndQuery}`, { method, headers, ...(text ? { body: text } : {}) });
    const raw = await res.text();
    return { status: res.status, body: raw ? JSON.parse(raw) : null };
  }

  async get(pathAndQuery: string): Promise<{ status: number; body: any; text: string }> {
    const res = await fetch(`${this.url}${pathAndQuery}`);
    const text = await res.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    return { status: res.status, body, text };
  }

  /** Polls until `check` returns a value (the server acts on signals asynchronously). */
  async until<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  file(name: string): string {
    return path.join(this.root, name);
  }

  writeJson(name: string, value: unknown): string {
    const file = this.file(name);
    fs.writeFileSync(file, JSON.stringify(value, null, 2));
    return file;
  }
}

/** The records of a JSON-lines file; an audit export's header line is skipped, so these are its events. */
export function jsonLines(file: string): Array<Record<string, any>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((record) => record.type !== 'audit_export');
}
