// connectome: build at 10,000 sovereigns / 100,000 treaties / 100,000 revocations against JSON.stringify of the
// same output, and one blast-radius lookup (bench/connectome.ts measures both); the full-document GET once it is
// served, against a bare node:http server sending the same bytes, and its If-None-Match revalidation.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { runConnectomeBench, syntheticNetwork, type SyntheticNetworkSize } from '../connectome.ts';
import { BENCH_NOW, openBenchAuthority, SCALE, scaled, workDir } from '../lib/fixtures.ts';
import { count, elapsedMs, emit, log, ms, now, round, type ResultRow } from '../lib/harness.ts';
import { onLoopback, runGetLoad, runLoad, serveAuthority } from '../lib/serve.ts';
import type { LoadResult } from '../lib/load.ts';

const CONNECTIONS = 20;
const DURATION_S = Math.max(3, Math.round(10 * SCALE));
/** Full-document rounds of the product's server and the bare one, in alternating order: the best of each counts. */
const GET_ROUNDS = 2;
const REVALIDATE_P99_MS = 20;

/**
 * The raw bytes of a GET (node:http does not decode Content-Encoding), on a connection of its own: a
 * kept-alive one can be closed by the server while a slow client still reads the previous answer.
 */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * The limit of a full-document GET: a bare node:http server that answers every request with the same
 * gzip bytes and headers at once, driven by the same generator with the same connections. It is what
 * moving this many bytes per response costs on this machine, whatever the server does.
 */
async function bareServing(body: Buffer, headers: http.OutgoingHttpHeaders): Promise<LoadResult> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, headers);
    res.end(body);
  });
  const served = await onLoopback(server);
  try {
    return await fullGets(served.url);
  } finally {
    await served.close();
  }
}

/** Full-document GETs with gzip from 20 node:http connections in the generator process. */
const fullGets = (url: string): Promise<LoadResult> =>
  runGetLoad({
    url,
    path: '/connectome.json',
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    headers: { 'accept-encoding': 'gzip' },
  });

const best = (runs: LoadResult[]): LoadResult => runs.reduce((a, b) => (b.rps > a.rps ? b : a));

/**
 * The same synthetic network stored where the connectome loader reads it: treaties as mirrored peer
 * treaties, revocations as imported revocations, feed states as import states. Then the served app
 * builds it once (the first GET) and serves it to 20 connections, full and revalidated.
 */
async function servedConnectome(
  size: SyntheticNetworkSize,
): Promise<{ firstGetMs: number; full: LoadResult[]; bare: LoadResult[]; revalidate: LoadResult; bytes: number; gzipBytes: number }> {
  const network = syntheticNetwork(size, new Date(BENCH_NOW));
  const dir = path.join(workDir(), 'connectome');
  fs.rmSync(dir, { recursive: true, force: true });
  const authority = openBenchAuthority(dir, network.selfId);
  const sqlite = authority.db.sqlite;
  sqlite.transaction(() => {
    const treaty = sqlite.prepare(
      'INSERT INTO peer_treaties (peer_sovereign_id, treaty_id, subject_sovereign_id, valid_from, expires_at, body, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const t of network.treaties)
      treaty.run(t.issuer_sovereign_id, t.treaty_id, t.subject_sovereign_id, t.valid_from, t.expires_at, t.body, BENCH_NOW);
    const revocation = sqlite.prepare(
      'INSERT INTO imported_revocations (issuer_sovereign_id, log_index, kind, id, reason, revoked_at, subject_sovereign_id, feed_sequence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const nextIndex = new Map<string, number>();
    for (const r of network.revocations) {
      const index = nextIndex.get(r.issuer_sovereign_id) ?? 0;
      nextIndex.set(r.issuer_sovereign_id, index + 1);
      revocation.run(
        r.issuer_sovereign_id,
        index,
        r.kind,
        r.id,
        r.reason,
        r.revoked_at,
        r.subject_sovereign_id ?? null,
        r.feed_sequence ?? 1,
      );
    }
    const feed = sqlite.prepare(
      'INSERT INTO feed_issuers (issuer_sovereign_id, last_sequence, next_update, last_import_at, paused) VALUES (?, ?, ?, ?, ?)',
    );
    for (const f of network.feeds) feed.run(f.issuer_sovereign_id, f.imported_sequence, f.next_update, f.last_import_at, f.paused ? 1 : 0);
  })();
  const served = await serveAuthority(authority);
  try {
    const started = now();
    const raw = await rawGet(`${served.url}/connectome.json`, { 'accept-encoding': 'gzip' });
    const firstGetMs = elapsedMs(started);
    if (raw.status !== 200) throw new Error(`GET /connectome.json answered ${raw.status}`);
    const gzipBytes = raw.body.length;
    const etag = String(raw.headers.etag);
    const plain = await rawGet(`${served.url}/connectome.json`, { 'accept-encoding': 'identity' });
    const bytes = plain.body.length;
    log(
      `connectome GET: first (build) ${Math.round(firstGetMs)} ms; ${count(bytes)} bytes, ${count(gzipBytes)} gzipped; ${CONNECTIONS} connections for ${DURATION_S} s`,
    );
    const wireHeaders = Object.fromEntries(
      ['content-type', 'content-encoding', 'content-length', 'etag', 'cache-control', 'vary'].map((h) => [h, raw.headers[h]!]),
    );
    const full: LoadResult[] = [];
    const bare: LoadResult[] = [];
    for (let round_ = 0; round_ < GET_ROUNDS; round_++) {
      // Each round swaps who goes first, so a machine growing busier or quieter favours neither side.
      if (round_ % 2 === 0) {
        full.push(await fullGets(served.url));
        bare.push(await bareServing(raw.body, wireHeaders));
      } else {
        bare.push(await bareServing(raw.body, wireHeaders));
        full.push(await fullGets(served.url));
      }
      log(`connectome GET round ${round_ + 1}: ${round(full.at(-1)!.rps, 1)} req/s; bare node:http ${round(bare.at(-1)!.rps, 1)} req/s`);
    }
    // autocannon for the small 304 answers: it offers more load than node:http connections can.
    const revalidate = await runLoad({
      url: served.url,
      path: '/connectome.json',
      connections: CONNECTIONS,
      durationSeconds: DURATION_S,
      mode: 'get',
      headers: { 'accept-encoding': 'gzip', 'if-none-match': etag },
    });
    return { firstGetMs, full, bare, revalidate, bytes, gzipBytes };
  } finally {
    await served.close();
    await authority.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const size = { sovereigns: scaled(10_000, 50), treaties: scaled(100_000, 500), revocations: scaled(100_000, 500) };
  log(`connectome: ${count(size.sovereigns)} sovereigns, ${count(size.treaties)} treaties, ${count(size.revocations)} revocations`);
  const r = runConnectomeBench(size);
  const label = `${count(r.sovereigns)} sovereigns / ${count(r.treaties)} treaties / ${count(r.revocations)} revocations`;
  const ratio = r.build_ms / r.stringify_ms;
  const rows: ResultRow[] = [
    {
      workload: 'connectome build',
      size: `${label} (${r.document_mib} MiB)`,
      figure: ms(r.build_ms),
      limit: `${ms(r.stringify_ms)} (JSON.stringify)`,
      ratio: round(ratio),
      target: '≤ 3× the limit',
      pass: ratio <= 3,
      details: { ...r },
    },
    {
      workload: 'connectome blast-radius',
      size: label,
      figure: `p99 ${ms(r.blast_radius_lookup_p99_ms)} (p50 ${ms(r.blast_radius_lookup_p50_ms)})`,
      limit: '—',
      ratio: null,
      target: 'one lookup ≤ 5 ms',
      pass: r.blast_radius_lookup_p99_ms <= 5,
      details: { trust_path_p99_ms: r.trust_path_p99_ms },
    },
  ];
  const get = await servedConnectome(size);
  const full = best(get.full);
  const bare = best(get.bare);
  const fullOk = get.full.every((r) => (r.status['200'] ?? 0) === r.requests && r.errors === 0);
  const revalidateOk = (get.revalidate.status['304'] ?? 0) === get.revalidate.requests && get.revalidate.errors === 0;
  const getRatio = bare.rps > 0 ? full.rps / bare.rps : 0;
  rows.push({
    workload: 'connectome GET',
    size: `${label}; ${CONNECTIONS} connections, ${DURATION_S} s`,
    figure: `gzip ${round(get.gzipBytes / 1e6, 1)} MB: ${round(full.rps, 1)} req/s (p50 ${ms(full.latency_ms.p50)}, p99 ${ms(full.latency_ms.p99)}); If-None-Match → 304: p99 ${ms(get.revalidate.latency_ms.p99)}`,
    limit: `bare node:http, same bytes: ${round(bare.rps, 1)} req/s (p99 ${ms(bare.latency_ms.p99)})`,
    ratio: round(getRatio),
    target: `≥ 1.0× the limit's req/s; 304 p99 ≤ ${REVALIDATE_P99_MS} ms`,
    pass:
      full.requests > 0 &&
      getRatio >= 1 &&
      fullOk &&
      get.revalidate.requests > 0 &&
      get.revalidate.latency_ms.p99 <= REVALIDATE_P99_MS &&
      revalidateOk,
    details: {
      first_get_build_ms: Math.round(get.firstGetMs),
      document_bytes: get.bytes,
      gzip_bytes: get.gzipBytes,
      full_rounds: get.full,
      bare_same_bytes_rounds: get.bare,
      revalidate_304: get.revalidate,
      all_200: fullOk,
      all_304: revalidateOk,
    },
  });
  emit(rows);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
