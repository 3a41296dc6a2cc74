// transparency: the revocation log as a tiled transparency log — building tiles against hashing the same
// entries, inclusion proofs (by index and by revoked id) served from a 1,000,000-entry log at 20 connections,
// tile GETs against a bare node:http server sending the same bytes, and an importer's consistency check of a
// 10,000-entry feed.
import fs from 'node:fs';
import http from 'node:http';
import { Hono } from 'hono';
import path from 'node:path';
import { appendLeafDigests, emptyFrontier, leafDigest } from '../../src/log/merkle.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { appendRevocations, frontierAt, type NewRevocationEntry } from '../../src/log/store.ts';
import { openMemoryDatabase } from '../../src/db/database.ts';
import { checkFeedConsistency } from '../../src/transparency/importer.ts';
import { consistencyProofFor } from '../../src/transparency/service.ts';
import { formatTilePath } from '../../src/transparency/tile-format.ts';
import { buildTiles, TileReader } from '../../src/transparency/tiles.ts';
import { openBenchAuthority, prng, revocationEntry, scaled, SCALE, workDir, type BenchAuthority } from '../lib/fixtures.ts';
import { count, elapsedMs, emit, log, now, perSecond, round, type ResultRow } from '../lib/harness.ts';
import type { LoadSpec } from '../lib/load.ts';
import { onLoopback, runLoad, serveAuthority, type Served } from '../lib/serve.ts';
import { serveHttp } from '../../src/server/http-server.ts';

const LOG_SIZE = scaled(1_000_000, 1000);
const BUILD_SIZE = scaled(100_000, 1000);
const CONNECTIONS = 20;
const DURATION_S = Math.max(3, Math.round(10 * SCALE));

function entries(n: number, seed: number): NewRevocationEntry[] {
  const random = prng(seed);
  return Array.from({ length: n }, (_, i) => {
    const { index: _index, ...entry } = revocationEntry(random, i);
    return entry;
  });
}

function fill(authority: BenchAuthority, list: NewRevocationEntry[]): void {
  const sqlite = authority.db.sqlite;
  for (let i = 0; i < list.length; i += 10_000) sqlite.transaction(() => appendRevocations(sqlite, list.slice(i, i + 10_000)))();
}

/** Building the tiles of BUILD_SIZE new entries, against the RFC 6962 hashing of the same entries alone (leaf hashes and tree). */
function buildRow(dir: string): ResultRow {
  const authority = openBenchAuthority(path.join(dir, 'build'));
  const sqlite = authority.db.sqlite;
  fill(authority, entries(BUILD_SIZE, 7100));
  const texts = sqlite.prepare('SELECT entry FROM revocation_log ORDER BY idx').pluck().all() as string[];
  const buildRuns: number[] = [];
  const hashRuns: number[] = [];
  let tiles = 0;
  for (let r = 0; r < 3; r++) {
    const started = now();
    const digests = texts.map(leafDigest);
    appendLeafDigests(emptyFrontier(), digests);
    hashRuns.push(elapsedMs(started));
    // Built and rolled back, so every round builds the same tiles from nothing.
    const begin = now();
    try {
      sqlite.transaction(() => {
        tiles = buildTiles(sqlite, BUILD_SIZE);
        buildRuns.push(elapsedMs(begin));
        throw new Error('rollback');
      })();
    } catch (err) {
      if ((err as Error).message !== 'rollback') throw err;
    }
  }
  void authority.close();
  const build = Math.min(...buildRuns);
  const hash = Math.min(...hashRuns);
  const ratio = build / hash;
  return {
    workload: 'tlog-build',
    size: `${count(BUILD_SIZE)} entries (${tiles} tiles)`,
    figure: `${Math.round(build)} ms`,
    limit: `${Math.round(hash)} ms hashing them (leaf hashes + tree)`,
    ratio: round(ratio),
    target: '≤ 1.5',
    pass: ratio <= 1.5,
    details: { build_ms: buildRuns.map(Math.round), hash_ms: hashRuns.map(Math.round) },
  };
}

/** A bare node:http server that answers each path with the given bytes (the limit for tile GETs, and beside the proof rows). */
function bareServer(bodies: Map<string, Buffer>, contentType = 'application/octet-stream'): Promise<Served> {
  const server = http.createServer((req, res) => {
    const body = bodies.get(req.url ?? '');
    res.writeHead(body ? 200 : 404, { 'content-type': contentType, 'content-length': String(body?.length ?? 0) });
    res.end(body);
  });
  return onLoopback(server);
}

/**
 * A Hono app with no middleware, served like the authority (serveHttp), answering each path with the
 * given bytes: what the stack itself costs per request on this machine, before any work of ours.
 */
async function bareHonoServer(bodies: Map<string, Buffer>): Promise<Served> {
  const app = new Hono();
  app.get('*', (c) => {
    // The path and query: the request URL after its origin (http://host:port).
    const body = bodies.get(c.req.url.slice(c.req.url.indexOf('/', 'http://'.length)));
    return body ? c.body(new Uint8Array(body), 200, { 'content-type': 'application/json' }) : c.notFound();
  });
  return onLoopback(await serveHttp(app.fetch, 0, '127.0.0.1'));
}

/** A load run with the CPU time this process (the server under load) spent per request. */
async function measuredLoad(spec: LoadSpec) {
  const before = process.cpuUsage();
  const load = await runLoad(spec);
  const cpu = process.cpuUsage(before);
  return { load, cpuPerRequestUs: Math.round((cpu.user + cpu.system) / Math.max(1, load.requests)) };
}

async function main(): Promise<void> {
  const dir = path.join(workDir(), 'transparency');
  fs.rmSync(dir, { recursive: true, force: true });
  const rows: ResultRow[] = [];

  log(`transparency: building tiles for ${count(BUILD_SIZE)} entries`);
  rows.push(buildRow(dir));

  log(`transparency: a ${count(LOG_SIZE)}-entry log, published`);
  const authority = openBenchAuthority(path.join(dir, 'log'));
  fill(authority, entries(LOG_SIZE, 7200));
  const publishStarted = now();
  publishFeeds(authority.deps, { trigger: 'admin' });
  const publishMs = elapsedMs(publishStarted);
  const served = await serveAuthority(authority);

  const random = prng(7300);
  const sqlite = authority.db.sqlite;
  const leaves = Array.from({ length: 10_000 }, () => Math.floor(random() * LOG_SIZE));
  const idOf = sqlite.prepare('SELECT id FROM revocation_log WHERE idx = ?').pluck();
  const proofRows = [
    {
      workload: 'tlog-proof',
      what: 'GET /log/proof/inclusion',
      paths: leaves.map((index) => `/log/proof/inclusion?index=${index}`),
    },
    {
      workload: 'tlog-entries',
      what: 'GET /log/entries/{id}',
      paths: leaves.map((index) => `/log/entries/${idOf.get(index) as string}`),
    },
  ];
  // The authority's cheapest route under the same load: its middleware and the stack, with no work behind them.
  log(`transparency: GET /healthz, ${CONNECTIONS} connections for ${DURATION_S} s`);
  const healthz = await measuredLoad({
    url: served.url,
    path: '/healthz',
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    mode: 'get',
  });
  for (const { workload, what, paths } of proofRows) {
    const file = path.join(dir, `${workload}-paths.json`);
    fs.writeFileSync(file, JSON.stringify(paths));
    const spec = { path: paths[0]!, connections: CONNECTIONS, durationSeconds: DURATION_S, mode: 'get-paths' as const, pathsFile: file };
    log(
      `transparency: ${what}, ${CONNECTIONS} connections for ${DURATION_S} s, then a bare node:http server and a bare Hono app with the same answers`,
    );
    const { load, cpuPerRequestUs } = await measuredLoad({ url: served.url, ...spec });
    const ok = (load.status['200'] ?? 0) === load.requests && load.errors === 0 && load.timeouts === 0;
    // The same answers from a bare node:http server (what this machine and load generator allow at all)
    // and from a bare Hono app behind serveHttp (what the stack costs before any work of ours).
    const answers = new Map<string, Buffer>();
    for (const p of paths) answers.set(p, Buffer.from(await (await authority.app.request(p)).arrayBuffer()));
    const bare = await bareServer(answers, 'application/json');
    const limit = await measuredLoad({ url: bare.url, ...spec });
    await bare.close();
    const hono = await bareHonoServer(answers);
    const stack = await measuredLoad({ url: hono.url, ...spec });
    await hono.close();
    const stackOk = (stack.load.status['200'] ?? 0) === stack.load.requests;
    rows.push({
      workload,
      size: `${what} on a ${count(LOG_SIZE)}-entry log, random leaves, ${CONNECTIONS} connections, ${DURATION_S} s`,
      figure: `p99 ${load.latency_ms.p99} ms (p50 ${load.latency_ms.p50} ms, ${perSecond(load.rps, 'req')}, ${cpuPerRequestUs} µs CPU per request)`,
      limit: `5 ms (same answers: bare node:http p99 ${limit.load.latency_ms.p99} ms, ${perSecond(limit.load.rps, 'req')}, ${limit.cpuPerRequestUs} µs; bare Hono app p99 ${stack.load.latency_ms.p99} ms, ${perSecond(stack.load.rps, 'req')}, ${stack.cpuPerRequestUs} µs)`,
      ratio: round(load.latency_ms.p99 / 5),
      target: 'p99 ≤ 5 ms',
      pass: load.latency_ms.p99 <= 5 && ok,
      details: {
        load,
        cpu_us_per_request: cpuPerRequestUs,
        bare: limit.load,
        bare_cpu_us_per_request: limit.cpuPerRequestUs,
        bare_hono: stack.load,
        bare_hono_cpu_us_per_request: stack.cpuPerRequestUs,
        bare_hono_all_200: stackOk,
        all_200: ok,
        ...(workload === 'tlog-proof'
          ? { publish_ms: Math.round(publishMs), healthz: healthz.load, healthz_cpu_us_per_request: healthz.cpuPerRequestUs }
          : {}),
      },
    });
  }

  const fullTiles = Math.floor(LOG_SIZE / 256);
  const tileIndexes = Array.from({ length: 20_000 }, () => Math.floor(random() * fullTiles));
  const tilePaths = tileIndexes.map((index) => `/log/tile/${formatTilePath({ level: 0, index, width: 256 })}`);
  const bodies = new Map(
    tileIndexes.map((index, i) => [
      tilePaths[i]!,
      Buffer.from(new TileReader(authority.db.sqlite, LOG_SIZE).tileData({ level: 0, index, width: 256 })),
    ]),
  );
  const tileFile = path.join(dir, 'tile-paths.json');
  fs.writeFileSync(tileFile, JSON.stringify(tilePaths));
  log(`transparency: tile GETs, ${CONNECTIONS} connections for ${DURATION_S} s, then a bare node:http server`);
  const tiles = await runLoad({
    url: served.url,
    path: tilePaths[0]!,
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    mode: 'get-paths',
    pathsFile: tileFile,
  });
  await served.close();
  const bare = await bareServer(bodies);
  const limit = await runLoad({
    url: bare.url,
    path: tilePaths[0]!,
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    mode: 'get-paths',
    pathsFile: tileFile,
  });
  await bare.close();
  const tilesOk = (tiles.status['200'] ?? 0) === tiles.requests && tiles.errors === 0;
  const ratio = tiles.rps / limit.rps;
  rows.push({
    workload: 'tlog-tile',
    size: `full level-0 tiles of a ${count(LOG_SIZE)}-entry log, ${CONNECTIONS} connections, ${DURATION_S} s`,
    figure: `${perSecond(tiles.rps, 'req')}; p99 ${tiles.latency_ms.p99} ms`,
    limit: `${perSecond(limit.rps, 'req')} (bare node:http, same bytes)`,
    ratio: round(ratio),
    target: '≥ 0.5',
    pass: ratio >= 0.5 && tilesOk,
    details: { load: tiles, bare: limit, all_200: tilesOk },
  });

  // An importer holding the first LOG_SIZE − 10,000 entries checks a 10,000-entry feed's head against the issuer's proof.
  const from = LOG_SIZE - Math.min(10_000, Math.floor(LOG_SIZE / 2));
  const frontier = frontierAt(authority.db.sqlite, from);
  const head = consistencyProofFor(authority.db.sqlite, from, LOG_SIZE);
  const importer = openMemoryDatabase();
  const checkRuns: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = now();
    const rejection = importer.sqlite.transaction(() =>
      checkFeedConsistency(importer.sqlite, {
        issuer: 'bench-issuer',
        sequence: 2,
        previous: { size: from, frontier: JSON.stringify(frontier.hashes) },
        next: { size: LOG_SIZE, root_hash: head.to_root_hash },
        proof: head.proof,
        at: '2026-03-01T00:00:00Z',
      }),
    )();
    checkRuns.push(elapsedMs(started));
    if (rejection) throw new Error('the consistency proof of the bench log did not verify');
  }
  importer.close();
  const sorted = checkRuns.slice(10).sort((x, y) => x - y);
  const p99 = sorted[Math.floor(sorted.length * 0.99)]!;
  rows.push({
    workload: 'tlog-import-check',
    size: `${count(LOG_SIZE - from)}-entry feed onto ${count(from)} imported, ${head.proof.length}-hash proof`,
    figure: `p99 ${round(p99)} ms of 190 checks (median ${round(sorted[95]!)} ms)`,
    limit: '10 ms',
    ratio: round(p99 / 10),
    target: '≤ 10 ms',
    pass: p99 <= 10,
    details: { check_ms: checkRuns.map((x) => round(x)) },
  });

  await authority.close();
  emit(rows);
  fs.rmSync(dir, { recursive: true, force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
