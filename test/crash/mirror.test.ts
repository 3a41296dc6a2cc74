// Crash consistency of the static mirror: real `accord mirror --output DIR` processes, beside a running
// authority that keeps publishing, are killed with SIGKILL at seeded random moments, again and again on
// the same directory. After every kill, what a reader can see is consistent: every file under its own
// name is whole (the live route's exact bytes, or for the run's own declaration and connectome a
// complete signed or parseable document); the checkpoint's tiles and bundles are all there; the latest
// feed's predecessors are all there. The next run picks up where the killed one stopped.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePublicKey, verifySignedObject } from '../../src/authority/crypto.ts';
import { routeOfPath, TEMP_DIR } from '../../src/mirror/paths.ts';
import type { TestAuthority } from '../helpers/authority.ts';
import { startCliAuthority, type CliAuthority } from '../helpers/cli-authority.ts';
import { differencesFromLive, mirroredPaths } from '../mirror/helpers.ts';
import { logFilePaths, publishAtSizes } from '../transparency/helpers.ts';
import { finished, start } from '../cli/run.ts';
import { rng, runCli } from './harness.ts';

const TRIALS = Number(process.env.ACCORD_CRASH_MIRROR_TRIALS ?? 12);
const SEED = Number(process.env.ACCORD_CRASH_SEED ?? 20261122);
const DOCUMENTS = new Set(['/.well-known/network-authority', '/connectome.json', '/connectome.json.gz']);
/** Replaced as the authority publishes: after a kill they may show an older head than the live routes. */
const HEADS = new Set(['/log/checkpoint', '/revocation-feeds/latest', '/sovereign-revocation-feed']);

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
    return await findInconsistencies();
  } finally {
    figures.checkMs += Math.round(performance.now() - started);
  }
}

async function findInconsistencies(): Promise<string[]> {
  const problems: string[] = [];
  const paths = mirroredPaths(output);
  figures.filesSeen += paths.length;
  for (const p of paths) if (!routeOfPath(p)) problems.push(`${p}: not a mirrored path (a temporary file outside ${TEMP_DIR}?)`);
  // Files that never change under their name: the live route's bytes (heads and documents checked below).
  for (const p of paths) {
    if (DOCUMENTS.has(p) || HEADS.has(p) || !routeOfPath(p)) continue;
    let expected = immutable.get(p);
    if (!expected) {
      const res = await live(p);
      expected = res.status === 200 ? Buffer.from(await res.arrayBuffer()) : Buffer.from(`HTTP ${res.status}`);
      immutable.set(p, expected);
    }
    if (!expected.equals(fs.readFileSync(path.join(output, p)))) problems.push(`${p}: not the live route's bytes`);
  }
  const file = (p: string) => path.join(output, p);
  // Documents of the run: whole.
  if (fs.existsSync(file('/.well-known/network-authority'))) {
    try {
      const declaration = JSON.parse(fs.readFileSync(file('/.well-known/network-authority'), 'utf8'));
      const keys = declaration.public_keys.map((k: { public_key: string }) => {
        const parsed = parsePublicKey(k.public_key);
        if (!parsed.ok) throw new Error('bad key');
        return parsed.key;
      });
      if (!verifySignedObject(declaration, keys).valid) problems.push('the declaration does not verify');
    } catch (err) {
      problems.push(`the declaration is not whole: ${(err as Error).message}`);
    }
  }
  for (const [p, read] of [
    ['/sovereign-revocation-feed', (b: Buffer) => b],
    ['/connectome.json', (b: Buffer) => b],
    ['/connectome.json.gz', (b: Buffer) => zlib.gunzipSync(b)],
  ] as const) {
    if (!fs.existsSync(file(p))) continue;
    try {
      JSON.parse(read(fs.readFileSync(file(p))).toString('utf8'));
    } catch (err) {
      problems.push(`${p} is not whole: ${(err as Error).message}`);
    }
  }
  // The checkpoint: one the authority signed, and every tile and bundle of its tree present.
  if (fs.existsSync(file('/log/checkpoint'))) {
    figures.headsChecked++;
    const note = fs.readFileSync(file('/log/checkpoint'), 'utf8');
    const treeSize = Number(note.split('\n')[1]);
    const stored = (
      na.running.db.sqlite.prepare('SELECT note FROM log_checkpoints WHERE tree_size = ?').pluck().all(treeSize) as string[]
    ).includes(note);
    if (!stored) problems.push(`/log/checkpoint is not a checkpoint the authority signed (size ${treeSize})`);
    for (const p of logFilePaths(treeSize).slice(1))
      if (!fs.existsSync(file(`/log/${p}`))) problems.push(`/log/checkpoint (size ${treeSize}) points at missing /log/${p}`);
  }
  // The latest feed: a published one, with every feed and stored checkpoint before it.
  if (fs.existsSync(file('/revocation-feeds/latest'))) {
    const latest = JSON.parse(fs.readFileSync(file('/revocation-feeds/latest'), 'utf8')) as { sequence: number };
    const bytes = fs.readFileSync(file('/revocation-feeds/latest'));
    if (
      !fs.existsSync(file(`/revocation-feeds/${latest.sequence}`)) ||
      !bytes.equals(fs.readFileSync(file(`/revocation-feeds/${latest.sequence}`)))
    )
      problems.push(`/revocation-feeds/latest (${latest.sequence}) is not the feed at its sequence`);
    for (let n = 1; n <= latest.sequence; n++) {
      if (!fs.existsSync(file(`/revocation-feeds/${n}`)))
        problems.push(`/revocation-feeds/latest (${latest.sequence}) but feed ${n} is missing`);
      if (!fs.existsSync(file(`/log/checkpoints/${n}`)))
        problems.push(`/revocation-feeds/latest (${latest.sequence}) but checkpoint ${n} is missing`);
    }
  }
  return problems;
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
