// monitor: the real `accord log verify` (a process of its own) checking a 1,000,000-entry revocation log end to end —
// checkpoint, every tile, every entry bundle — from an authority serving in a process of its own and from a static
// copy on a plain node:http file server, against hashing the same entry bundles in memory (leaf hashes and tree).
import { spawn } from 'node:child_process';
import { hash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { appendLeafDigests, emptyFrontier } from '../../src/log/merkle.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { appendRevocations, type NewRevocationEntry } from '../../src/log/store.ts';
import { logOrigin } from '../../src/transparency/service.ts';
import { formatVerifierKey } from '../../src/authority/signed-note.ts';
import { formatTilePath, TILE_WIDTH } from '../../src/transparency/tile-format.ts';
import { entryBundle, TileReader } from '../../src/transparency/tiles.ts';
import { BENCH_NOW, OPERATOR_LABEL, operatorKey, openBenchAuthority, prng, revocationEntry, scaled, workDir } from '../lib/fixtures.ts';
import { count, elapsedMs, emit, log, mib, now, REPO_DIR, round, type ResultRow } from '../lib/harness.ts';
import { LineChild } from '../lib/line-child.ts';
import { onLoopback, type Served } from '../lib/serve.ts';

const LOG_SIZE = scaled(1_000_000, 1000);
const SOVEREIGN = 'bench-monitor';
const ROUNDS = 3;

function fill(sqlite: ReturnType<typeof openBenchAuthority>['db']['sqlite'], n: number): void {
  const random = prng(7400);
  for (let from = 0; from < n; from += 10_000) {
    const list: NewRevocationEntry[] = [];
    for (let i = from; i < Math.min(n, from + 10_000); i++) {
      const { index: _index, ...entry } = revocationEntry(random, i);
      list.push(entry);
    }
    sqlite.transaction(() => appendRevocations(sqlite, list))();
  }
}

/** The limit: every entry of every bundle hashed (RFC 6962 leaf hash) and the tree over them, all in memory, no copies. */
function hashBundles(bundles: Buffer[]): { ms: number; root: string } {
  const started = now();
  const digests: string[] = new Array(LOG_SIZE);
  let k = 0;
  for (const bundle of bundles) {
    for (let at = 0; at < bundle.length; ) {
      const end = at + 2 + bundle.readUInt16BE(at);
      bundle[at + 1] = 0;
      digests[k++] = hash('sha256', bundle.subarray(at + 1, end), 'binary');
      at = end;
    }
  }
  const root = appendLeafDigests(emptyFrontier(), digests);
  return { ms: elapsedMs(started), root: root.hashes.join('') };
}

/** A plain node:http server over a directory (what nginx would be): each GET reads its file. */
function fileServer(root: string): Promise<Served> {
  const server = http.createServer((req, res) => {
    const file = path.join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    fs.readFile(file, (err, body) => {
      if (err || !file.startsWith(root)) {
        res.writeHead(404, { 'content-length': '0' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
      res.end(body);
    });
  });
  return onLoopback(server);
}

interface VerifyRun {
  wall_ms: number;
  reported_ms: number;
  entries_checked: number;
  tiles_fetched: number;
  bundles_fetched: number;
  bytes_fetched: number;
}

/** Runs `node bin/accord.mjs log verify URL --key VKEY` and times it from spawn to exit. */
function runVerify(url: string, vkey: string): Promise<VerifyRun> {
  return new Promise((resolve, reject) => {
    const started = now();
    const child = spawn(process.execPath, ['bin/accord.mjs', 'log', 'verify', url, '--key', vkey], {
      cwd: REPO_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('close', (code) => {
      const wall = elapsedMs(started);
      if (code !== 0) return reject(new Error(`accord log verify exited with ${code}: ${stderr.trim()}`));
      const out = JSON.parse(stdout) as {
        duration_ms: number;
        entries_checked: number;
        tiles_fetched: number;
        bundles_fetched: number;
        bytes_fetched: number;
        size: number;
      };
      if (out.size !== LOG_SIZE || out.entries_checked !== LOG_SIZE)
        return reject(new Error(`accord log verify checked ${out.entries_checked} of ${LOG_SIZE}`));
      resolve({
        wall_ms: round(wall),
        reported_ms: out.duration_ms,
        entries_checked: out.entries_checked,
        tiles_fetched: out.tiles_fetched,
        bundles_fetched: out.bundles_fetched,
        bytes_fetched: out.bytes_fetched,
      });
    });
  });
}

async function main(): Promise<void> {
  const dir = path.join(workDir(), 'monitor');
  fs.rmSync(dir, { recursive: true, force: true });
  const dataDir = path.join(dir, 'authority');
  const staticDir = path.join(dir, 'static');

  log(`monitor: a ${count(LOG_SIZE)}-entry log, published, and a static copy of its files`);
  const authority = openBenchAuthority(dataDir, SOVEREIGN);
  const sqlite = authority.db.sqlite;
  fill(sqlite, LOG_SIZE);
  publishFeeds(authority.deps, { trigger: 'admin' });
  const vkey = formatVerifierKey(logOrigin(authority.deps), authority.deps.identity.signingKeys[0]!.raw);
  const checkpoint = await (await authority.app.request('/log/checkpoint')).text();
  const bundles: Buffer[] = [];
  const reader = new TileReader(sqlite, LOG_SIZE);
  const write = (file: string, bytes: Buffer | string) => {
    fs.mkdirSync(path.dirname(path.join(staticDir, file)), { recursive: true });
    fs.writeFileSync(path.join(staticDir, file), bytes);
  };
  write('checkpoint', checkpoint);
  let tiles = 0;
  for (let level = 0, span = 1; Math.floor(LOG_SIZE / span) >= 1; level++, span *= TILE_WIDTH) {
    const hashes = Math.floor(LOG_SIZE / span);
    for (let n = 0; n * TILE_WIDTH < hashes; n++) {
      const width = Math.min(TILE_WIDTH, hashes - n * TILE_WIDTH);
      write(`tile/${formatTilePath({ level, index: n, width })}`, reader.tileData({ level, index: n, width }));
      tiles++;
      if (level === 0) {
        const bundle = entryBundle(sqlite, { level: 'entries', index: n, width });
        write(`tile/${formatTilePath({ level: 'entries', index: n, width })}`, bundle);
        bundles.push(bundle);
      }
    }
  }
  const bundleBytes = bundles.reduce((sum, b) => sum + b.length, 0);
  await authority.close();

  // The limit and the two runs take turns, round by round, so all three meet the same load on the machine.
  const server = new LineChild('authority', 'lib/authority-process.mjs', [
    dataDir,
    SOVEREIGN,
    JSON.stringify({ [OPERATOR_LABEL]: operatorKey().publicKey }),
    BENCH_NOW,
  ]);
  const files = await fileServer(staticDir);
  const hashRuns: number[] = [];
  const runs: VerifyRun[] = [];
  const staticRuns: VerifyRun[] = [];
  let form = '';
  try {
    const match = /^listening (http:\/\/\S+)(?: (\S+))?$/.exec(await server.nextLine());
    if (!match) throw new Error('the authority did not start');
    form = match[2] ?? '';
    for (let r = 0; r < ROUNDS; r++) {
      log(
        `monitor: round ${r + 1} of ${ROUNDS}: hashing the ${count(bundles.length)} bundles (${mib(bundleBytes)}) in memory, then accord log verify against the authority (${form} build) and the static copy`,
      );
      hashRuns.push(hashBundles(bundles.map((b) => Buffer.from(b))).ms);
      runs.push(await runVerify(match[1]!, vkey));
      staticRuns.push(await runVerify(files.url, vkey));
    }
  } finally {
    await files.close();
    await server.stop().catch(() => server.kill());
  }
  const limit = Math.min(...hashRuns);

  const best = runs.reduce((a, b) => (b.wall_ms < a.wall_ms ? b : a));
  const bestStatic = staticRuns.reduce((a, b) => (b.wall_ms < a.wall_ms ? b : a));
  const ratio = limit / best.wall_ms;
  const row: ResultRow = {
    workload: 'tlog-monitor',
    size: `${count(LOG_SIZE)}-entry log: ${count(bundles.length)} bundles (${mib(bundleBytes)}) + ${count(tiles)} tiles`,
    figure: `${count(best.wall_ms)} ms from an authority (${count((LOG_SIZE / best.wall_ms) * 1000)} entries/s); static copy ${count(bestStatic.wall_ms)} ms (${round(limit / bestStatic.wall_ms)}×)`,
    limit: `${count(limit)} ms hashing the same bundles in memory (leaf hashes + tree)`,
    ratio: round(ratio),
    target: '≥ 0.5',
    pass: ratio >= 0.5,
    details: { hash_ms: hashRuns.map(Math.round), authority_runs: runs, static_runs: staticRuns, authority_build: form, concurrency: 32 },
  };
  emit([row]);
  fs.rmSync(dir, { recursive: true, force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
