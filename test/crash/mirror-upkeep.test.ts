// Crash consistency of the server's own mirror upkeep (ACCORD_MIRROR_DIR): real `accord serve` processes,
// each of which brings the mirror up to date as it starts (feeds, checkpoints, tiles and bundles, the
// follower updates it signs, the declaration and the connectome built on its worker), are killed with
// SIGKILL at seeded random moments, on a directory written from nothing or resumed after the last kill.
// Between kills the authority publishes more. After every kill, what a reader of the directory can see
// is consistent (test/crash/mirror-checks.ts); after the last, a server left to finish makes the mirror
// equal to the live routes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, type Config } from '../../src/authority/config.ts';
import { TEMP_DIR } from '../../src/mirror/paths.ts';
import { startAuthority, type RunningAuthority } from '../../src/server/server.ts';
import type { TestAuthority } from '../helpers/authority.ts';
import { freePort, serve } from '../cli/run.ts';
import { differencesFromLive } from '../mirror/helpers.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import { rng } from './harness.ts';
import { DOCUMENTS, mirrorInconsistencies } from './mirror-checks.ts';

const TRIALS = Number(process.env.ACCORD_CRASH_UPKEEP_TRIALS ?? 8);
const SEED = Number(process.env.ACCORD_CRASH_SEED ?? 20261206);
const SOVEREIGN = 'crash-upkeep';

let dir: string;
let output: string;
let config: Config;
let size = 0;
const immutable = new Map<string, Buffer>();
const figures = { trials: 0, killedWhileWriting: 0, filesSeen: 0, headsChecked: 0, upkeepMs: 0 };

/** The authority in this process, on the same data directory, while no server holds it. */
async function withAuthority<T>(work: (a: RunningAuthority) => Promise<T>): Promise<T> {
  const running = await startAuthority(config, { background: false });
  try {
    return await work(running);
  } finally {
    await running.close();
  }
}

function publish(a: RunningAuthority, entries: number): void {
  size += entries;
  publishAtSizes({ db: a.db, deps: a.authority.deps } as unknown as TestAuthority, [size]);
}

const check = (a: RunningAuthority) =>
  mirrorInconsistencies(output, { request: async (p) => a.authority.app.request(p), sqlite: a.db.sqlite }, immutable, figures);

/** `accord serve` with the mirror directory, once it prints its banner (its upkeep has started by then). */
async function serveWithMirror(): Promise<{ kill(): Promise<void>; stop(): Promise<void> }> {
  const env = { ACCORD_DATA_DIR: dir, ACCORD_SOVEREIGN_ID: SOVEREIGN, ACCORD_MIRROR_DIR: output, ACCORD_PORT: String(await freePort()) };
  const server = await serve(env, 60_000);
  return {
    kill: async () => {
      server.child.kill('SIGKILL');
      await server.exit.catch(() => undefined);
    },
    stop: async () => {
      server.child.kill('SIGTERM');
      const r = await server.exit;
      if (r.code !== 0) throw new Error(`accord serve stopped with ${r.code}: ${r.stderr}`);
    },
  };
}

/** Whether the mirror shows the latest published feed and no temporary file is left. */
function upToDate(latestFeed: string): boolean {
  const latest = path.join(output, 'revocation-feeds', 'latest');
  const temp = path.join(output, TEMP_DIR);
  return (
    fs.existsSync(latest) &&
    fs.readFileSync(latest, 'utf8') === latestFeed &&
    (!fs.existsSync(temp) || fs.readdirSync(temp).length === 0) &&
    fs.existsSync(path.join(output, 'connectome.json.gz'))
  );
}

/** Whether the mirror's latest follower update is the newest one the running server signed (read beside it, read-only). */
function followerHeadCurrent(): boolean {
  const db = new BetterSqlite3(config.dbPath, { readonly: true, fileMustExist: true });
  try {
    const newest = db.prepare('SELECT body FROM follower_updates ORDER BY sequence DESC LIMIT 1').pluck().get() as string | undefined;
    const file = path.join(output, 'follower', 'updates', 'latest');
    return newest !== undefined && fs.existsSync(file) && fs.readFileSync(file, 'utf8') === newest;
  } finally {
    db.close();
  }
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('the mirror was not brought up to date in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const latestFeedBody = (a: RunningAuthority) =>
  a.db.sqlite.prepare('SELECT body FROM published_feeds ORDER BY sequence DESC LIMIT 1').pluck().get() as string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-crash-upkeep-'));
  output = path.join(dir, 'mirror');
  config = defaultConfig({
    dataDir: dir,
    dbPath: path.join(dir, 'accord.db'),
    signingKeyFile: path.join(dir, 'authority-signing-key.json'),
    port: 0,
    sovereignId: SOVEREIGN,
    logLevel: 'silent',
  });
  // Enough that an update takes a while: 10,000 entries in 10 feeds (about 40 tiles and bundles each).
  await withAuthority(async (a) => {
    for (let i = 0; i < 10; i++) publish(a, 1000);
  });
}, 120_000);

afterAll(() => {
  console.info(`[crash-mirror-upkeep] ${JSON.stringify(figures)}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('SIGKILL during the server’s mirror upkeep', () => {
  it(`${TRIALS} kills of accord serve while it writes the mirror never leave a head pointing at missing files, nor half a file`, async () => {
    const random = rng(SEED);
    // How long the server's update at start takes here when it writes everything.
    const latest = await withAuthority(async (a) => latestFeedBody(a));
    const first = await serveWithMirror();
    const started = performance.now();
    await waitUntil(() => upToDate(latest), 120_000);
    // From the banner (upkeep under way) to a mirror that shows the latest feed.
    const writing = Math.max(300, performance.now() - started);
    figures.upkeepMs = Math.round(writing);
    await first.stop();
    expect(await withAuthority(check)).toEqual([]);

    for (let trial = 0; trial < TRIALS; trial++) {
      figures.trials++;
      // New publications (sometimes a large one); every other trial from nothing, the others resuming.
      const latestFeed = await withAuthority(async (a) => {
        publish(a, 1 + Math.floor(random() * (trial % 4 === 0 ? 2000 : 400)));
        return latestFeedBody(a);
      });
      const fresh = trial % 2 === 0;
      if (fresh) fs.rmSync(output, { recursive: true, force: true });
      const server = await serveWithMirror();
      const killAfter = Math.round(random() * writing * (fresh ? 0.9 : 0.5));
      await new Promise((r) => setTimeout(r, killAfter));
      const temp = path.join(output, TEMP_DIR);
      const writingNow = !upToDate(latestFeed) || (fs.existsSync(temp) && fs.readdirSync(temp).length > 0);
      await server.kill();
      if (writingNow) figures.killedWhileWriting++;
      if (!fs.existsSync(output)) continue;
      expect(
        await withAuthority(check),
        `trial ${trial} (${fresh ? 'fresh' : 'resumed'}, killed ${killAfter} ms after start, ${writingNow ? 'while writing' : 'after the update'})`,
      ).toEqual([]);
    }

    // A server left to finish after all that: the whole mirror equals the live routes, no temporary file left.
    const final = await withAuthority(async (a) => latestFeedBody(a));
    const server = await serveWithMirror();
    await waitUntil(() => upToDate(final) && followerHeadCurrent(), 120_000);
    await server.stop();
    await withAuthority(async (a) => {
      expect(await check(a)).toEqual([]);
      const diffs = await differencesFromLive(output, async (p, headers) => a.authority.app.request(p, { headers }));
      expect(diffs.filter((d) => !DOCUMENTS.has(d.slice(0, d.indexOf(':'))))).toEqual([]);
    });
    expect(fs.readdirSync(path.join(output, TEMP_DIR))).toEqual([]);
    // Every fresh trial is killed within the time a whole update took; most of them land mid-write.
    expect(figures.killedWhileWriting).toBeGreaterThanOrEqual(Math.ceil(TRIALS / 4));
  }, 900_000);
});
