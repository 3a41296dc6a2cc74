// http-verify: POST /attestations/verify over loopback, 20 connections, from a separate load-generator process,
// against the warm in-process verify rate of the same data set measured in the same process.
import fs from 'node:fs';
import path from 'node:path';
import { SCALE, workDir } from '../lib/fixtures.ts';
import { count, emit, log, perSecond, round } from '../lib/harness.ts';
import { generatorCeiling, runLoad, serveAuthority } from '../lib/serve.ts';
import { openVerifyFixture } from '../lib/verify-fixture.ts';
import { measureVerify } from './verify.ts';

const CONNECTIONS = 20;
const DURATION_S = Math.max(3, Math.round(10 * SCALE));

async function main(): Promise<void> {
  const { authority, attestations } = await openVerifyFixture();
  log('http-verify: in-process rate');
  const inProcess = measureVerify(authority, attestations, 2);
  const bodiesFile = path.join(workDir(), 'verify-bodies.json');
  fs.writeFileSync(bodiesFile, JSON.stringify(attestations.map((attestation) => ({ attestation }))));
  const spec = {
    path: '/attestations/verify',
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    mode: 'post-bodies' as const,
    bodiesFile,
  };
  const ceiling = await generatorCeiling(spec);
  const served = await serveAuthority(authority);
  log(`http-verify: ${CONNECTIONS} connections for ${DURATION_S} s`);
  const load = await runLoad({ ...spec, url: served.url });
  await served.close();
  // Measured again after the load: the limit is the better of the two, so a quiet moment during the
  // HTTP run never meets a busy moment of the in-process measurement.
  log('http-verify: in-process rate again');
  const after = measureVerify(authority, attestations, 2);
  const best = after.figure > inProcess.figure ? after : inProcess;
  await authority.close();
  const ok = load.status['200'] ?? 0;
  const ratio = load.rps / best.figure;
  const allOk = ok === load.requests && load.errors === 0 && load.timeouts === 0;
  emit([
    {
      workload: 'http-verify',
      size: `${CONNECTIONS} connections, ${DURATION_S} s, ${count(attestations.length)} attestations`,
      figure: `${perSecond(load.rps, 'req')}; p50 ${load.latency_ms.p50} ms, p99 ${load.latency_ms.p99} ms (generator ceiling ${perSecond(ceiling, 'req')})`,
      limit: perSecond(best.figure, 'verifies'),
      ratio: round(ratio),
      target: '≥ 0.5; report p50/p99',
      pass: ratio >= 0.5 && allOk,
      details: {
        load,
        in_process_before: round(inProcess.figure),
        in_process_after: round(after.figure),
        all_200: allOk,
        load_generator_ceiling_rps: round(ceiling),
      },
    },
  ]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
