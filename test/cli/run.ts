// Running the real `accord` command as a subprocess in tests.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export const BIN = path.join(import.meta.dirname, '..', '..', 'bin', 'accord.mjs');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A port that was free a moment ago (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function tempDataDir(): { root: string; dataDir: string; remove(): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-cli-'));
  return { root, dataDir: path.join(root, 'data'), remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** The environment for a child: this process's, minus any Accord settings, plus `env`. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('ACCORD_') && k !== 'OPERATOR_PUBLIC_KEYS_JSON'),
  );
  return { ...base, LOG_LEVEL: 'silent', ...env };
}

export function start(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export function finished(child: ChildProcess, timeoutMs = 30_000): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`accord did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      // Let the pipes drain before reporting.
      setImmediate(() => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
  });
}

export function run(args: string[], env: Record<string, string>): Promise<RunResult> {
  return finished(start(args, env));
}

export interface Server {
  child: ChildProcess;
  /** Everything written to stderr up to the "serving on" line. */
  banner: string;
  url: string;
  /** Resolves when the process exits. */
  exit: Promise<RunResult>;
}

/** Starts `accord serve` and waits until it says where it serves. */
export async function serve(env: Record<string, string>, timeoutMs = 30_000): Promise<Server> {
  const child = start(['serve'], env);
  const exit = finished(child, 120_000);
  let banner = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`accord serve did not start: ${banner}`)), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => {
      banner += d.toString();
      const m = /serving on (http:\/\/\S+)/.exec(banner);
      if (m && banner.includes('\n', m.index)) {
        clearTimeout(timer);
        // The rest of the banner is written in the same call.
        setImmediate(() => resolve(m[1]!));
      }
    });
    void exit.then((r) => {
      clearTimeout(timer);
      reject(new Error(`accord serve exited (${r.code}): ${r.stderr}`));
    });
  });
  return { child, banner, url, exit };
}

/**
 * A real `accord serve` for one describe block: started before its tests on a free port with a fresh
 * data directory, stopped and removed after them. `accord(...)` runs the CLI against it; `file`
 * writes a JSON input next to the data directory.
 */
export function servedAccord(sovereignId: string, extraEnv: Record<string, string> = {}) {
  const dir = tempDataDir();
  let env: Record<string, string> = {};
  let server: Server | undefined;
  beforeAll(async () => {
    env = { ACCORD_DATA_DIR: dir.dataDir, ACCORD_PORT: String(await freePort()), ACCORD_SOVEREIGN_ID: sovereignId, ...extraEnv };
    server = await serve(env);
  }, 60_000);
  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exit.catch(() => undefined);
    }
    dir.remove();
  });
  return {
    dir,
    env: () => env,
    accord: (...args: string[]): Promise<RunResult> => run(args, env),
    file: (name: string, value: unknown): string => {
      const target = path.join(dir.root, name);
      fs.writeFileSync(target, JSON.stringify(value));
      return target;
    },
  };
}
