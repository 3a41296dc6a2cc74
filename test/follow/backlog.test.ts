// A backlog of follower updates (a first start on a large database, a peer's large feed) is published a
// bounded number of updates per call, and the background publisher takes one per turn of the event
// loop, so the server answers requests in between.
import { afterEach, describe, expect, it } from 'vitest';
import { followerFiles, publishFollowerUpdates, startFollowerPublishing } from '../../src/follow/publish.ts';
import { readLatestUpdate } from '../../src/follow/store.ts';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import { importVia } from '../feeds/simulated-issuer.ts';
import { closeAll, startNetwork, startTestFollower } from './fixture.ts';

let a: TestAuthority | undefined;
afterEach(async () => {
  await a?.close();
  a = undefined;
  await closeAll();
});

/** An authority whose published log needs three follower updates: three feeds of 6,000 entries (an update carries up to 10,000). */
function withBacklog(): TestAuthority {
  const authority = createTestAuthority({ sovereignId: 'backlog-primary' });
  publishAtSizes(authority, [6000, 12_000, 18_000]);
  return authority;
}

/** Each stored update's sequence, chaining and content (feed sequences, checkpoints); feed ids differ between authorities. */
function shapes(t: TestAuthority) {
  return [...followerFiles(t.deps)]
    .filter(([p]) => !p.endsWith('/latest'))
    .map(([, bytes]) => {
      const u = JSON.parse(bytes.toString('utf8')) as {
        sequence: number;
        previous_update_hash: string | null;
        feeds: string[];
        checkpoints: Array<{ sequence: number }>;
        declaration: string | null;
      };
      return {
        sequence: u.sequence,
        chained: u.previous_update_hash !== null,
        feeds: u.feeds.map((f) => (JSON.parse(f) as { sequence: number }).sequence),
        checkpoints: u.checkpoints.map((c) => c.sequence),
        declaration: u.declaration !== null,
      };
    });
}

/** The newest follower update the primary of a test network signed. */
function latestBody(network: Awaited<ReturnType<typeof startNetwork>>): string {
  return readLatestUpdate(network.primary.db.sqlite)!.body;
}

const latestSequence = (t: TestAuthority) => readLatestUpdate(t.db.sqlite)?.sequence ?? 0;
const nextTimer = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
const nextCheck = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('follower update backlog', () => {
  it('publishes at most maxUpdates per call and says when more is left; the chain is the same as in one call', () => {
    a = withBacklog();
    expect(publishFollowerUpdates(a.deps, { maxUpdates: 1 })).toEqual({ published: [1], latest_sequence: 1, more: true });
    expect(publishFollowerUpdates(a.deps, { maxUpdates: 2 })).toEqual({ published: [2, 3], latest_sequence: 3, more: false });
    expect(publishFollowerUpdates(a.deps, { maxUpdates: 1 })).toEqual({ published: [], latest_sequence: 3, more: false });
    const stepwise = shapes(a);
    expect(stepwise.map((u) => u.feeds)).toEqual([[1], [2], [3]]);

    const b = withBacklog();
    try {
      expect(publishFollowerUpdates(b.deps)).toEqual({ published: [1, 2, 3], latest_sequence: 3, more: false });
      expect(shapes(b)).toEqual(stepwise);
    } finally {
      void b.close();
    }
  });

  it('the background publisher signs one update per turn of the event loop until the backlog is gone', async () => {
    a = withBacklog();
    // Each publishing call announces what it signed: one update per call, never the whole backlog at once.
    const calls: number[] = [];
    a.deps.changes.on('follower-updates', (e) => calls.push(e.latest_sequence));
    startFollowerPublishing(a.deps);
    // Look once per turn of the event loop until the backlog is gone.
    const seen: number[] = [];
    while (latestSequence(a) < 3 && seen.length < 1000) {
      await nextCheck();
      seen.push(latestSequence(a));
    }
    expect(seen.at(-1)).toBe(3);
    expect(calls).toEqual([1, 2, 3]);
    // The turns between them were the server's: a look saw the backlog part done.
    expect(seen.some((n) => n > 0 && n < 3)).toBe(true);
    await nextCheck();
    expect(latestSequence(a)).toBe(3);
  });

  it('stops draining when the publisher is stopped', async () => {
    a = withBacklog();
    startFollowerPublishing(a.deps);
    while (latestSequence(a) < 1) await nextCheck();
    for (const task of a.deps.background.splice(0)) await task.stop();
    const stoppedAt = latestSequence(a);
    expect(stoppedAt).toBeLessThan(3);
    await nextTimer();
    await nextCheck();
    await nextCheck();
    expect(latestSequence(a)).toBe(stoppedAt);
  });

  it("a follower copies a peer's large import published in updates of 1,000 revocations, and holds what the primary holds", async () => {
    const network = await startNetwork();
    const follower = await startTestFollower(network.url, network);
    expect(await follower.follower.pullOnce()).toBe('applied');
    const feed = network.southFeeds.next({ entries: 2500 });
    expect((await importVia(network.primary, feed)).status).toBe(200);
    const counts: number[] = [];
    for (;;) {
      const r = publishFollowerUpdates(network.primary.deps, { maxUpdates: 1, maxImportedPerUpdate: 1000 });
      if (r.published.length === 0) break;
      const body = JSON.parse(latestBody(network)) as { issuers: Array<{ revocations: unknown[] }> };
      counts.push(body.issuers.reduce((n, i) => n + i.revocations.length, 0));
    }
    expect(counts).toEqual([1000, 1000, 500]);
    expect(await follower.follower.pullOnce()).toBe('applied');
    const rows = (sqlite: TestAuthority['db']['sqlite']) =>
      sqlite
        .prepare(
          'SELECT issuer_sovereign_id, log_index, kind, id, reason, revoked_at, feed_sequence FROM imported_revocations ORDER BY 1, 2',
        )
        .all();
    const copied = rows(follower.db.sqlite);
    expect(copied.length).toBeGreaterThanOrEqual(2500);
    expect(copied).toEqual(rows(network.primary.db.sqlite));
  });
});
