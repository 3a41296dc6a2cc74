// followers: POST /attestations/verify through nginx (ops/nginx/accord-followers.conf) in front of one, then two,
// read-only followers (each `accord serve --follow` in a process of its own), and the lag from a feed publication
// on the primary to both followers answering `revoked` for the attestation it revoked.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { publishFollowerUpdates, startFollowerPublishing } from '../../src/follow/publish.ts';
import { issueAttestation, revokeAttestation } from '../../src/treaties/attestations.ts';
import { BENCH_NOW, openBenchAuthority, prng, SCALE, scaled, workDir } from '../lib/fixtures.ts';
import { BENCH_DIR, count, emit, log, percentile, perSecond, REPO_DIR, round } from '../lib/harness.ts';
import { generatorCeiling, runLoad, serveAuthority } from '../lib/serve.ts';
import { openVerifyFixture } from '../lib/verify-fixture.ts';

const NGINX = '/usr/sbin/nginx';
const CONNECTIONS = 20;
const DURATION_S = Math.max(3, Math.round(10 * SCALE));
const PULL_INTERVAL_MS = 1000;
const LAG_ROUNDS = Math.max(5, scaled(50));
const children: ChildProcess[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts bench/lib/follower-process.mjs and resolves with its URL. */
async function startFollowerProcess(dir: string, primary: string): Promise<{ url: string; child: ChildProcess }> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const child = spawn(
    process.execPath,
    [path.join(BENCH_DIR, 'lib', 'follower-process.mjs'), dir, primary, BENCH_NOW, String(PULL_INTERVAL_MS)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.once('line', (line) => (line.startsWith('listening ') ? resolve(line.split(' ')[1]!) : reject(new Error(line))));
    child.once('exit', (code) => reject(new Error(`follower exited ${code}`)));
  });
  return { url, child };
}

/** nginx with the shipped site config, its upstream the given followers; resolves with its URL. */
async function startNginx(dir: string, followers: string[], primary: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const shipped = fs.readFileSync(path.join(REPO_DIR, 'ops', 'nginx', 'accord-followers.conf'), 'utf8');
  const site = shipped
    .replace(
      /(upstream accord_followers \{[\s\S]*?)server 127\.0\.0\.1:8451([^\n]*)\n\s*server 127\.0\.0\.1:8452[^\n]*\n/,
      (_m, head: string, rest: string) => `${head}${followers.map((f) => `server ${new URL(f).host}${rest}`).join('\n    ')}\n`,
    )
    .replace('server 127.0.0.1:8443;', `server ${new URL(primary).host};`)
    .replace('listen 127.0.0.1:8450;', `listen 127.0.0.1:${port};`);
  const file = (name: string) => path.join(dir, name);
  fs.writeFileSync(
    file('nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${file('nginx.pid')};`,
      `error_log ${file('error.log')} warn;`,
      ...(process.getuid?.() === 0 ? ['user root;'] : []),
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${file(`${t}-temp`)};`),
      site,
      '}',
    ].join('\n'),
  );
  children.push(spawn(NGINX, ['-p', dir, '-c', file('nginx.conf')], { stdio: 'ignore' }));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${url}/healthz`).catch(() => null))?.status === 200) return url;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not start');
}

async function appliedSequence(url: string): Promise<number> {
  const body = (await (await fetch(`${url}/readyz`)).json()) as { follow?: { applied_sequence: number } };
  return body.follow?.applied_sequence ?? 0;
}

async function verifyReason(url: string, attestation: unknown): Promise<string> {
  const res = await fetch(`${url}/attestations/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ attestation }),
  });
  return ((await res.json()) as { reason: string }).reason;
}

async function main(): Promise<void> {
  if (!fs.existsSync(NGINX)) throw new Error(`${NGINX} is required for the followers workload`);
  // The verification data set, copied so this workload's revocations leave the shared one as it was.
  const fixture = await openVerifyFixture();
  const attestations = fixture.attestations;
  await fixture.authority.close();
  const dir = path.join(workDir(), 'followers');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(fixture.authority.dir, path.join(dir, 'primary'), { recursive: true });
  const primary = openBenchAuthority(path.join(dir, 'primary'));
  const operator = { label: primary.operator.label, keyId: primary.operator.keyId };
  const own = Array.from({ length: LAG_ROUNDS }, (_, i) =>
    issueAttestation(primary.deps, { subject_id: `lag-probe-${i}`, roles: ['role:client'], validity_hours: 48 }, operator),
  );
  publishFeeds(primary.deps, { trigger: 'admin' });
  const initial = publishFollowerUpdates(primary.deps);
  startFollowerPublishing(primary.deps);
  const served = await serveAuthority(primary);
  log(`followers: primary at ${served.url}, ${initial.published.length} follower updates to copy`);

  const followers = [
    await startFollowerProcess(path.join(dir, 'follower-1'), served.url),
    await startFollowerProcess(path.join(dir, 'follower-2'), served.url),
  ];
  const copyStarted = performance.now();
  for (const f of followers) while ((await appliedSequence(f.url)) < initial.latest_sequence) await new Promise((r) => setTimeout(r, 100));
  const copyMs = performance.now() - copyStarted;
  log(`followers: both copied the primary in ${Math.round(copyMs)} ms`);
  for (const attestation of attestations.slice(0, 50)) {
    const want = await verifyReason(served.url, attestation);
    for (const f of followers)
      if ((await verifyReason(f.url, attestation)) !== want) throw new Error('a follower answers differently from the primary');
  }

  const lb1 = await startNginx(path.join(dir, 'nginx-1'), [followers[0]!.url], served.url);
  const lb2 = await startNginx(
    path.join(dir, 'nginx-2'),
    followers.map((f) => f.url),
    served.url,
  );
  const bodiesFile = path.join(dir, 'verify-bodies.json');
  fs.writeFileSync(bodiesFile, JSON.stringify(attestations.map((attestation) => ({ attestation }))));
  const spec = {
    path: '/attestations/verify',
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    mode: 'post-bodies' as const,
    bodiesFile,
  };
  // The generator's own ceiling: when the rates come near it, the generator (or a busy machine) limits them, not the followers.
  const ceiling = await generatorCeiling(spec);
  const one: Awaited<ReturnType<typeof runLoad>>[] = [];
  const two: Awaited<ReturnType<typeof runLoad>>[] = [];
  for (let round = 0; round < 2; round++) {
    log(`followers: round ${round + 1}, one follower behind nginx`);
    one.push(await runLoad({ ...spec, url: lb1 }));
    log(`followers: round ${round + 1}, two followers behind nginx`);
    two.push(await runLoad({ ...spec, url: lb2 }));
  }
  const best = (runs: typeof one) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const bestOne = best(one);
  const bestTwo = best(two);
  const allOk = [...one, ...two].every((r) => (r.status['200'] ?? 0) === r.requests && r.errors === 0 && r.timeouts === 0);

  // Lag: revoke, publish the feed (the primary then publishes a follower update on its own, as it runs), and time
  // until each follower answers `revoked`. A random pause first, so publications fall anywhere in the pull interval.
  log(`followers: lag over ${LAG_ROUNDS} publications`);
  const random = prng(77);
  const lags: number[] = [];
  for (let i = 0; i < LAG_ROUNDS; i++) {
    await new Promise((r) => setTimeout(r, Math.floor(random() * PULL_INTERVAL_MS)));
    revokeAttestation(primary.deps, own[i]!.attestation_id, { reason: 'key_compromise' }, operator);
    publishFeeds(primary.deps, { trigger: 'revocation' });
    const published = performance.now();
    await Promise.all(
      followers.map(async (f) => {
        while ((await verifyReason(f.url, own[i])) !== 'revoked') await new Promise((r) => setTimeout(r, 10));
        lags.push(performance.now() - published);
      }),
    );
  }

  for (const child of children) child.kill('SIGTERM');
  await served.close();
  await primary.close();
  const ratio = bestTwo.rps / bestOne.rps;
  const p99 = percentile(lags, 0.99);
  emit([
    {
      workload: 'followers verify',
      size: `${CONNECTIONS} connections, ${DURATION_S} s, ${count(attestations.length)} attestations, through nginx`,
      figure: `2 followers: ${perSecond(bestTwo.rps, 'req')}; p50 ${bestTwo.latency_ms.p50} ms, p99 ${bestTwo.latency_ms.p99} ms (generator ceiling ${perSecond(ceiling, 'req')})`,
      limit: `1 follower: ${perSecond(bestOne.rps, 'req')}; p50 ${bestOne.latency_ms.p50} ms, p99 ${bestOne.latency_ms.p99} ms`,
      ratio: round(ratio),
      target: '2 followers ≥ 1.6× one',
      pass: ratio >= 1.6 && allOk,
      details: {
        one,
        two,
        all_200: allOk,
        load_generator_ceiling_rps: round(ceiling),
        initial_copy_ms: Math.round(copyMs),
        follower_updates: initial.latest_sequence,
      },
    },
    {
      workload: 'followers lag',
      size: `${LAG_ROUNDS} publications × 2 followers, pull interval ${PULL_INTERVAL_MS} ms`,
      figure: `p99 ${Math.round(p99)} ms (p50 ${Math.round(percentile(lags, 0.5))} ms, max ${Math.round(Math.max(...lags))} ms)`,
      limit: '—',
      ratio: null,
      target: 'publish → verify reflects the revocation p99 ≤ 2 s',
      pass: p99 <= 2000,
      details: { lags_ms: lags.map((l) => Math.round(l)) },
    },
  ]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  try {
    await main();
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  }
}
