// witness-quorum: how long a publication waits for its witnesses. An authority with three witnesses, each an
// authority serving in a process of its own on loopback, publishes one revocation at a time; measured from
// publishFeeds returning to the latest checkpoint carrying all three cosignatures (submitted by the background
// job `accord serve` runs). Reported, no target: it is the network and the witnesses' time, not a limit of ours.
import fs from 'node:fs';
import path from 'node:path';
import { SYSTEM_ACTOR } from '../../src/authority/audit.ts';
import { formatCosignerKey } from '../../src/authority/cosignature.ts';
import { parseWitnessesJson } from '../../src/authority/witness-config.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { appendRevocations } from '../../src/log/store.ts';
import { logOrigin } from '../../src/transparency/service.ts';
import { readCosignatureLines, readLatestCheckpoint } from '../../src/transparency/store.ts';
import { enableWitnessing, witnessName } from '../../src/witness/service.ts';
import { startWitnessSubmissions } from '../../src/witness/submission.ts';
import {
  BENCH_NOW,
  benchKey,
  OPERATOR_LABEL,
  openBenchAuthority,
  operatorKey,
  prng,
  recognize,
  revocationEntry,
  scaled,
  SCALE,
  workDir,
} from '../lib/fixtures.ts';
import { elapsedMs, emit, log, now, percentile, round } from '../lib/harness.ts';
import { LineChild } from '../lib/line-child.ts';

const PUBLICATIONS = scaled(200, 20);
const WARMUP = 5;
const LOG_ID = 'bench-witnessed-log';
const WITNESSES = ['bench-witness-b', 'bench-witness-c', 'bench-witness-d'];
/** A publication that has not gathered its cosignatures by then fails the row. */
const QUORUM_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const root = path.join(workDir(), 'witness-quorum');
  fs.rmSync(root, { recursive: true, force: true });
  const logKey = benchKey(`authority:${LOG_ID}`);

  // Each witness recognizes the log's sovereign and witnesses its origin; then it serves in a process of its own.
  const children: LineChild[] = [];
  const witnesses: Array<{ name: string; url: string; vkey: string }> = [];
  let origin = '';
  try {
    {
      const probe = openBenchAuthority(path.join(root, 'log'), LOG_ID);
      origin = logOrigin(probe.deps);
      await probe.close();
    }
    for (const id of WITNESSES) {
      const dir = path.join(root, id);
      const setup = openBenchAuthority(dir, id);
      await recognize(setup, [{ id: LOG_ID, key: logKey }]);
      enableWitnessing(setup.deps, { sovereign_id: LOG_ID, origin }, { actor: SYSTEM_ACTOR });
      const name = witnessName(setup.deps);
      const vkey = formatCosignerKey(name, setup.deps.identity.signingKeys[0]!.raw);
      await setup.close();
      const child = new LineChild(id, 'lib/authority-process.mjs', [
        dir,
        id,
        JSON.stringify({ [OPERATOR_LABEL]: operatorKey().publicKey }),
        BENCH_NOW,
      ]);
      children.push(child);
      const line = await child.nextLine();
      const match = /^listening (\S+) (\S+)$/.exec(line);
      if (!match) throw new Error(`${id}: unexpected first line ${line}`);
      witnesses.push({ name, url: `${match[1]}/witness`, vkey });
      log(`witness-quorum: ${name} at ${match[1]} (${match[2]} build)`);
    }

    // The log: an authority configured with the three witnesses, submitting after each publication.
    const a = openBenchAuthority(path.join(root, 'log'), LOG_ID, { witnesses: parseWitnessesJson(JSON.stringify(witnesses)) });
    startWitnessSubmissions(a.deps);
    const sqlite = a.db.sqlite;
    const random = prng(9300);
    const latencies: number[] = [];
    const publishMs: number[] = [];
    let failed = 0;
    for (let i = 0; i < WARMUP + PUBLICATIONS; i++) {
      const { index: _index, ...entry } = revocationEntry(random, i);
      sqlite.transaction(() => appendRevocations(sqlite, [entry]))();
      const started = now();
      publishFeeds(a.deps, { trigger: 'admin' });
      const published = now();
      const sequence = readLatestCheckpoint(sqlite)!.sequence;
      // Polled every millisecond: the submissions run on this event loop, so it must stay free.
      while (readCosignatureLines(sqlite, sequence).length < WITNESSES.length && elapsedMs(published) < QUORUM_TIMEOUT_MS) await sleep(1);
      const quorum = readCosignatureLines(sqlite, sequence).length >= WITNESSES.length;
      if (i < WARMUP) continue;
      if (!quorum) failed++;
      latencies.push(elapsedMs(published));
      publishMs.push(Number(published - started) / 1e6);
    }
    await a.close();
    for (const child of children.splice(0)) await child.stop();

    const p = (list: number[], q: number) => round(percentile(list, q));
    emit([
      {
        workload: 'witness-quorum',
        size: `${PUBLICATIONS} publications of one revocation; 3 witnesses, each an authority process on loopback`,
        figure: `p50 ${p(latencies, 0.5)} ms, p99 ${p(latencies, 0.99)} ms from publishFeeds returning to 3 cosignatures (publishFeeds itself p50 ${p(publishMs, 0.5)} ms)`,
        limit: '—',
        ratio: null,
        target: 'reported (every publication cosigned by all 3)',
        pass: failed === 0,
        details: {
          quorum_ms: { p50: p(latencies, 0.5), p90: p(latencies, 0.9), p99: p(latencies, 0.99), max: p(latencies, 1) },
          publish_ms: { p50: p(publishMs, 0.5), p99: p(publishMs, 0.99) },
          publications: PUBLICATIONS,
          without_quorum_in_10s: failed,
          scale: SCALE,
        },
      },
    ]);
  } finally {
    for (const child of children) await child.kill();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
