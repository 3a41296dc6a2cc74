// Crash consistency of the static mirror: real `accord mirror --output DIR` processes, beside a running
// authority that keeps publishing, are killed with SIGKILL at seeded random moments, again and again on
// the same directory. After every kill, what a reader can see is consistent: every file under its own
// name is whole (the live route's exact bytes, or for the run's own declaration and connectome a
// complete signed or parseable document); the checkpoint's tiles and bundles are all there; the latest
// feed's predecessors are all there. The next run picks up where the killed one stopped.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEMP_DIR } from '../../src/mirror/paths.ts';
import type { TestAuthority } from '../helpers/authority.ts';
import { startCliAuthority, type CliAuthority } from '../helpers/cli-authority.ts';
import { differencesFromLive, mirroredPaths } from '../mirror/helpers.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import { finished, start } from '../cli/run.ts';
import { rng, runCli } from './harness.ts';
import { DOCUMENTS, mirrorInconsistencies } from './mirror-checks.ts';

const TRIALS = Number(process.env.ACCORD_CRASH_MIRROR_TRIALS ?? 12);
const SEED = Number(process.env.ACCORD_CRASH_SEED ?? 20261122);

let na: CliAuthority;
let output: string;
let env: Record<string, string>;
let size = 0;
const figures = { checkMs: 0, runMs: 0, trials: 0, killed: 0, completed: 0, killedWithTempFiles: 0, filesSeen: 0, headsChecked: 0 };

/** Live bytes of files that never change, fetched once. */
const immutable = new Map<string, Buffer>();
const live = async (p: string, headers: Record<string, string> = {}) => na.running.authority.app.request(p, { headers });

function publish(entries: number): void {
  size += entries;
  publishAtSizes({ db: na.running.db, deps: na.running.authority.deps } as unknown as TestAuthority, [size]);
}

beforeAll(async () => {
  na = await startCliAuthority('accord-crash-mirror-', 'crash-mirror');
  output = path.join(na.dir, 'mirror');
  env = { ACCORD_DATA_DIR: na.dir };
  // Enough files that a run spends a while writing: 10,000 entries in 10 feeds (~40 tiles and bundles each).
  for (let i = 0; i < 10; i++) publish(1000);
}, 120_000);

afterAll(async () => {
  await na.close();
  console.info(`[crash-mirror] ${JSON.stringify(figures)}`);
});

/** What a reader of the mirror directory could see that is wrong (one line each). */
async function inconsistencies(): Promise<string[]> {
  const started = performance.now();
  try {
    return await mirrorInconsistencies(output, { request: live, sqlite: na.running.db.sqlite }, immutable, figures);
  } finally {
    figures.checkMs += Math.round(performance.now() - started);
  }
}

describe('SIGKILL during mirror writes', () => {
  it(`${TRIALS} kills at random moments never leave a head pointing at missing files, nor half a file`, async () => {
    const random = rng(SEED);
    // How long a run takes here: starting up (a run with nothing to write), and writing everything.
    const full = await runCli(['mirror', '--output', output], env);
    expect(full.code, full.stderr).toBe(0);
    const idle = await runCli(['mirror', '--output', output], env);
    expect(idle.code, idle.stderr).toBe(0);
    expect(await inconsistencies()).toEqual([]);
    const writing = Math.max(200, full.ms - idle.ms);

    for (let trial = 0; trial < TRIALS; trial++) {
      figures.trials++;
      // New publications (sometimes a large one); every other trial a mirror written from nothing, the
      // others resuming what the last kill left.
      publish(1 + Math.floor(random() * (trial % 4 === 0 ? 2000 : 400)));
      const fresh = trial % 2 === 0;
      if (fresh) fs.rmSync(output, { recursive: true, force: true });
      const spawned = performance.now();
      const child = start(['mirror', '--output', output], env);
      const exit = finished(child, 120_000);
      let killAfter: number;
      if (fresh) {
        // Killed while writing: a random moment after the writer made its temporary directory.
        while (!fs.existsSync(path.join(output, TEMP_DIR)) && child.exitCode === null) await new Promise((r) => setTimeout(r, 2));
        killAfter = Math.round(random() * writing * 1.1);
      } else killAfter = Math.round(idle.ms * 0.9 + random() * writing * 0.5);
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfter);
      const run = await exit;
      figures.runMs += Math.round(performance.now() - spawned);
      clearTimeout(timer);
      if (run.signal === 'SIGKILL') {
        figures.killed++;
        const temp = path.join(output, TEMP_DIR);
        if (fs.existsSync(temp) && fs.readdirSync(temp).length > 0) figures.killedWithTempFiles++;
      } else {
        expect(run.code, run.stderr).toBe(0);
        figures.completed++;
      }
      if (!fs.existsSync(output)) continue;
      expect(
        await inconsistencies(),
        `trial ${trial} (${fresh ? 'fresh' : 'resumed'}, kill after ${killAfter} ms: ${run.signal ?? 'completed'})`,
      ).toEqual([]);
    }

    // A run to the end after all that: the whole mirror, equal to the live routes, no temporary file left.
    const last = await runCli(['mirror', '--output', output], env);
    expect(last.code, last.stderr).toBe(0);
    expect(await inconsistencies()).toEqual([]);
    const diffs = await differencesFromLive(output, live);
    expect(diffs.filter((d) => !DOCUMENTS.has(d.slice(0, d.indexOf(':'))))).toEqual([]); // heads included: now up to date
    expect(fs.readdirSync(path.join(output, TEMP_DIR))).toEqual([]);
    expect(mirroredPaths(output)).toContain(
      `/revocation-feeds/${na.running.db.sqlite.prepare('SELECT max(sequence) FROM published_feeds').pluck().get()}`,
    );
    expect(figures.killed).toBeGreaterThanOrEqual(TRIALS / 2);
  }, 900_000);
});
