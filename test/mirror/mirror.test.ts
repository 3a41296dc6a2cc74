// The static mirror: every file equals a GET of its live route, immutable files are written once, heads
// come last, partial tiles go once their full tile is there, and `accord mirror` writes the same files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MIRRORED_ROUTES, routeOfPath } from '../../src/mirror/paths.ts';
import { MirrorWriter } from '../../src/mirror/mirror.ts';
import { authorityMirrorInputs } from '../../src/mirror/inputs.ts';
import { startMirrorUpkeep } from '../../src/mirror/service.ts';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';
import { logFilePaths, publishAtSizes } from '../transparency/helpers.ts';
import { treatyInput } from '../treaties/fixtures.ts';
import { followerFiles, publishFollowerUpdates } from '../../src/follow/publish.ts';
import { differencesFromLive, mirroredPaths, type Fetcher } from './helpers.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-mirror-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function authority(): TestAuthority {
  const a = createTestAuthority({ sovereignId: 'mirror-na' });
  cleanup.push(async () => {
    await a.close();
    a.db.close();
  });
  return a;
}

const live =
  (a: TestAuthority): Fetcher =>
  async (urlPath, headers = {}) =>
    a.app.request(urlPath, { headers });

/** The files a mirror of a log published at sequences 1..`sequence` with `size` entries holds. */
function expectedPaths(sequence: number, size: number): string[] {
  const paths = ['/.well-known/network-authority', '/connectome.json', '/connectome.json.gz'];
  if (sequence === 0) return paths.sort();
  paths.push('/revocation-feeds/latest', '/sovereign-revocation-feed');
  for (let n = 1; n <= sequence; n++) paths.push(`/revocation-feeds/${n}`, `/log/checkpoints/${n}`);
  for (const p of logFilePaths(size)) paths.push(`/log/${p}`);
  return paths.sort();
}

describe('mirror of a serving authority', () => {
  it('before anything is published: the declaration and the connectome, equal to the live routes', async () => {
    const a = authority();
    const dir = tempDir();
    const report = await new MirrorWriter(dir, authorityMirrorInputs(a.deps)).sync();
    expect(report.sequence).toBe(0);
    expect(mirroredPaths(dir)).toEqual(expectedPaths(0, 0));
    expect(await differencesFromLive(dir, live(a))).toEqual([]);
  });

  it('holds every feed, checkpoint, tile, bundle, document and follower update, each byte for byte what its live route serves', async () => {
    const a = authority();
    publishAtSizes(a, [3, 300, 300, 700]);
    const updates = publishFollowerUpdates(a.deps);
    const dir = tempDir();
    const report = await new MirrorWriter(
      dir,
      authorityMirrorInputs(a.deps, () => followerFiles(a.deps)),
    ).sync();
    expect(report).toMatchObject({ sequence: 4, tree_size: 700 });
    const followerPaths = [
      '/follower/updates/latest',
      ...Array.from({ length: updates.latest_sequence }, (_, i) => `/follower/updates/${i + 1}`),
    ];
    expect(updates.latest_sequence).toBeGreaterThan(0);
    expect(mirroredPaths(dir)).toEqual([...expectedPaths(4, 700), ...followerPaths].sort());
    expect(mirroredPaths(dir)).toContain('/log/tile/0/002.p/188');
    expect(mirroredPaths(dir)).toContain('/log/tile/1/000.p/2');
    expect(await differencesFromLive(dir, live(a))).toEqual([]);
    // Every route of the list is represented.
    const routes = new Set(mirroredPaths(dir).map((p) => routeOfPath(p)?.pattern));
    expect([...routes].sort()).toEqual(MIRRORED_ROUTES.map((r) => r.pattern).sort());
  });

  it('writes immutable files once, replaces heads, and removes a partial tile only after its full tile and the grace period', async () => {
    const a = authority();
    publishAtSizes(a, [200]);
    const dir = tempDir();
    const writer = new MirrorWriter(dir, authorityMirrorInputs(a.deps), { partialGraceMs: 0 });
    await writer.sync();
    const feed1 = fs.statSync(path.join(dir, 'revocation-feeds/1'));
    const partial = path.join(dir, 'log/tile/0/000.p/200');
    expect(fs.existsSync(partial)).toBe(true);

    // Nothing new: nothing written.
    expect((await writer.sync()).files_written).toBe(0);

    publishAtSizes(a, [600]);
    const report = await writer.sync();
    expect(report).toMatchObject({ sequence: 2, tree_size: 600 });
    expect(fs.statSync(path.join(dir, 'revocation-feeds/1')).ino).toBe(feed1.ino);
    expect(fs.existsSync(partial)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'log/tile/0/000'))).toBe(true);
    expect(report.partial_tiles_removed).toBe(2); // the level-0 tile and the entry bundle
    expect(mirroredPaths(dir)).toEqual(expectedPaths(2, 600));
    expect(await differencesFromLive(dir, live(a))).toEqual([]);

    // A new writer on the same directory (a restart) finds everything in place and writes nothing.
    expect((await new MirrorWriter(dir, authorityMirrorInputs(a.deps)).sync()).files_written).toBe(0);
  });

  it('keeps a superseded partial tile during the grace period (a reader of the older checkpoint may still ask for it)', async () => {
    const a = authority();
    publishAtSizes(a, [10]);
    const dir = tempDir();
    const writer = new MirrorWriter(dir, authorityMirrorInputs(a.deps));
    await writer.sync();
    publishAtSizes(a, [300]);
    await writer.sync();
    expect(fs.existsSync(path.join(dir, 'log/tile/0/000.p/10'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'log/tile/0/000'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'log/tile/0/001.p/44'))).toBe(true);
  });

  it('removes temporary files a killed writer left, and never serves them', async () => {
    const a = authority();
    publishAtSizes(a, [5]);
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, '.accord-tmp'), { recursive: true });
    // A process id that cannot be running (above the kernel's pid_max).
    fs.writeFileSync(path.join(dir, '.accord-tmp', '4194305-1'), 'half a fi');
    await new MirrorWriter(dir, authorityMirrorInputs(a.deps)).sync();
    expect(fs.readdirSync(path.join(dir, '.accord-tmp'))).toEqual([]);
    expect(routeOfPath('/.accord-tmp/4194305-1')).toBeNull();
  });
});

describe('mirror upkeep (ACCORD_MIRROR_DIR)', () => {
  it('follows publications and connectome changes, debounced', async () => {
    const a = authority();
    const dir = tempDir();
    const upkeep = startMirrorUpkeep(a.deps, dir, { debounceMs: 5, partialGraceMs: 0 });
    await upkeep.settled();
    expect(mirroredPaths(dir)).toEqual(expectedPaths(0, 0));
    publishAtSizes(a, [3]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await upkeep.settled())?.sequence).toBe(1);
    publishAtSizes(a, [260, 261]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const report = await upkeep.settled();
    expect(report).toMatchObject({ sequence: 3, tree_size: 261 });
    expect(mirroredPaths(dir)).toEqual(expectedPaths(3, 261));
    expect(await differencesFromLive(dir, live(a))).toEqual([]);
    expect(await a.deps.metrics.registry.getSingleMetricAsString('accord_mirror_sequence')).toMatch(/accord_mirror_sequence 3/);

    // A treaty changes the connectome (not the log): the mirror's connectome follows.
    const before = fs.readFileSync(path.join(dir, 'connectome.json'));
    expect((await a.admin('POST', '/admin/recognition-treaties', treatyInput())).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await upkeep.settled();
    expect(fs.readFileSync(path.join(dir, 'connectome.json')).equals(before)).toBe(false);
    expect(await differencesFromLive(dir, live(a))).toEqual([]);
    await upkeep.stop();
  });
});
