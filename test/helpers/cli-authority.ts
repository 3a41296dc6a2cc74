// A real authority in a temp data dir, and `accord` subprocesses pointed at it with its dev operator key.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../../src/authority/config.ts';
import { startAuthority, type RunningAuthority } from '../../src/server/server.ts';

const BIN = path.join(import.meta.dirname, '..', '..', 'bin', 'accord.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliAuthority {
  dir: string;
  running: RunningAuthority;
  accord(...args: string[]): Promise<CliResult>;
  close(): Promise<void>;
}

export async function startCliAuthority(prefix: string, sovereignId = 'cli-na'): Promise<CliAuthority> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const config = defaultConfig({
    dataDir: dir,
    dbPath: path.join(dir, 'accord.db'),
    signingKeyFile: path.join(dir, 'authority-signing-key.json'),
    port: 0,
    sovereignId,
    logLevel: 'silent',
  });
  const running = await startAuthority(config, { background: false });
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ACCORD_DATA_DIR: dir,
    ACCORD_URL: running.url,
    ACCORD_ADMIN_KEY_FILE: running.init.devOperatorKey!.file,
    LOG_LEVEL: 'silent',
  };
  return {
    dir,
    running,
    accord: (...args) =>
      new Promise((resolve) => {
        execFile(process.execPath, [BIN, ...args], { env, cwd: dir, timeout: 60_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
        });
      }),
    close: async () => {
      await running.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
