// admin-write: signed POST /admin/recognition-treaties over loopback, 10 connections, every request a new
// subject with its own key and a fresh nonce, from a separate load-generator process.
import fs from 'node:fs';
import path from 'node:path';
import { openBenchAuthority, SCALE, workDir } from '../lib/fixtures.ts';
import { emit, log, perSecond, round } from '../lib/harness.ts';
import { generatorCeiling, runLoad, serveAuthority } from '../lib/serve.ts';

const CONNECTIONS = 10;
const DURATION_S = Math.max(3, Math.round(10 * SCALE));
const TARGET = 1000;

async function main(): Promise<void> {
  const dir = path.join(workDir(), 'admin-write');
  fs.rmSync(dir, { recursive: true, force: true });
  const spec = {
    path: '/admin/recognition-treaties',
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    mode: 'admin-treaty' as const,
  };
  const ceiling = await generatorCeiling(spec, 201);
  log(`admin-write: load generator ceiling ${Math.round(ceiling)} req/s`);
  const authority = openBenchAuthority(dir);
  const served = await serveAuthority(authority);
  log(`admin-write: ${CONNECTIONS} connections for ${DURATION_S} s`);
  const load = await runLoad({ ...spec, url: served.url });
  await served.close();
  const stored = (authority.db.sqlite.prepare('SELECT count(*) AS n FROM treaties').get() as { n: number }).n;
  const audited = (
    authority.db.sqlite.prepare("SELECT count(*) AS n FROM audit_events WHERE event_type = 'recognition_treaty_issued'").get() as {
      n: number;
    }
  ).n;
  await authority.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const issued = load.status['201'] ?? 0;
  const rate = issued / load.duration_s;
  // Requests still in flight when the load stops are stored but not counted by the client.
  const allIssued =
    issued === load.requests && stored >= issued && stored - issued <= CONNECTIONS && audited === stored && load.errors === 0;
  emit([
    {
      workload: 'admin-write',
      size: `${CONNECTIONS} connections, ${DURATION_S} s`,
      figure: `${perSecond(rate, 'issued')}; p50 ${load.latency_ms.p50} ms, p99 ${load.latency_ms.p99} ms (generator ceiling ${perSecond(ceiling, 'req')})`,
      limit: '—',
      ratio: null,
      target: `≥ ${TARGET.toLocaleString('en-US')} issued/s`,
      pass: rate >= TARGET && allIssued,
      details: { load, stored_treaties: stored, audit_events: audited, rate: round(rate), load_generator_ceiling_rps: round(ceiling) },
    },
  ]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
