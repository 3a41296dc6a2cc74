// startup: the real `node bin/accord.mjs serve` on the 1,000,000-revocation data dir, from spawn to the first
// GET /readyz = 200.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { serveEnv } from '../lib/fixtures.ts';
import { count, elapsedMs, emit, log, median, ms, now, REPO_DIR, round } from '../lib/harness.ts';
import { ensureMillion, MILLION_SOVEREIGN } from './import-1m.ts';

const RUNS = 3;
const TARGET_MS = 2000;
const GIVE_UP_MS = 60_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function readyz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', () => resolve(0));
    req.once('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

/** CPU seconds (user + system) a process has used so far (Linux /proc; null elsewhere). */
function cpuSeconds(pid: number | undefined): number | null {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

interface Start {
  ms: number;
  /** CPU the server process used until it was ready: the part of `ms` that other load on the machine cannot inflate. */
  cpu_s: number | null;
}

/** Spawns the server, polls /readyz every 5 ms, stops it; returns ms from spawn to the first 200. */
async function startOnce(dir: string): Promise<Start> {
  const port = await freePort();
  const started = now();
  const child = spawn(process.execPath, ['bin/accord.mjs', 'serve'], {
    cwd: REPO_DIR,
    env: { ...process.env, ...serveEnv(dir, MILLION_SOVEREIGN), ACCORD_HOST: '127.0.0.1', ACCORD_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  let exited = false;
  const closed = new Promise<void>((resolve) =>
    child.once('close', () => {
      exited = true;
      resolve();
    }),
  );
  try {
    for (;;) {
      if (exited) throw new Error(`accord serve exited before it was ready: ${stderr.trim().slice(-500)}`);
      if ((await readyz(port)) === 200) return { ms: elapsedMs(started), cpu_s: cpuSeconds(child.pid) };
      if (elapsedMs(started) > GIVE_UP_MS) throw new Error('accord serve was not ready within 60 s');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGTERM');
    await closed;
  }
}

async function main(): Promise<void> {
  const { dir, run } = await ensureMillion();
  const starts: Start[] = [];
  for (let r = 0; r < RUNS; r++) {
    starts.push(await startOnce(dir));
    log(`startup run ${r + 1}: ${Math.round(starts.at(-1)!.ms)} ms (server CPU ${starts.at(-1)!.cpu_s} s)`);
  }
  const runs = starts.map((s) => s.ms);
  const figure = median(runs);
  emit([
    {
      workload: 'startup',
      size: `${count(run.entries)} revocations`,
      figure: `${ms(figure)} (median of ${RUNS}; max ${ms(Math.max(...runs))})`,
      limit: '—',
      ratio: null,
      target: '≤ 2 s to /readyz = 200',
      pass: figure <= TARGET_MS,
      details: { runs_ms: runs.map((x) => round(x, 0)), server_cpu_s_to_ready: starts.map((s) => s.cpu_s) },
    },
  ]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
