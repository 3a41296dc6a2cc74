// The pull job against misbehaving and simulated peers on loopback: timeouts, caps, backoff, paging, audit on transitions.
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { backoffSeconds, runPullJob, type PullReport } from '../../src/feeds/pull.ts';
import { auditCount, createTestAuthority, testKey, type TestAuthority } from '../helpers/authority.ts';
import { listen } from './network.ts';
import { recognize, SimulatedIssuer } from './simulated-issuer.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** A peer whose feeds come from a simulated issuer; `fail` switches it to HTTP 500. */
async function simulatedPeer(sim: SimulatedIssuer, options: { fail?: boolean } = {}) {
  const state = { fail: options.fail ?? false, requests: [] as string[], receipts: [] as unknown[] };
  const app = new Hono()
    .use('*', async (c, next) => {
      state.requests.push(`${c.req.method} ${new URL(c.req.url).pathname}${new URL(c.req.url).search}`);
      if (state.fail) return c.json({ error: { code: 'internal_error' } }, 500);
      await next();
    })
    .get('/revocation-feeds/latest', (c) => {
      const last = sim.feeds[sim.feeds.length - 1];
      return last
        ? c.body(canonicalJson(last), 200, { 'Content-Type': 'application/json' })
        : c.json({ error: { code: 'feed_not_found' } }, 404);
    })
    .get('/revocation-feeds', (c) => {
      const since = Number(c.req.query('since') ?? 0);
      const limit = Number(c.req.query('limit') ?? 20);
      const after = sim.feeds.filter((f) => f.sequence > since);
      return c.json({ feeds: after.slice(0, limit), latest_sequence: sim.sequence, more: after.length > limit });
    })
    .get('/recognition-treaties', (c) => c.json({ treaties: [], next_cursor: null }))
    .post('/revocation-feeds/receipts', async (c) => {
      state.receipts.push(await c.req.json());
      return c.json({ accepted: true });
    });
  const http = await listen(app.fetch);
  stops.push(http.stop);
  return { url: http.url, state };
}

/** A peer that answers every request with `respond`. */
async function rawPeer(respond: (req: Request) => Response | Promise<Response>) {
  const http = await listen(respond);
  stops.push(http.stop);
  return http.url;
}

async function addPeer(a: TestAuthority, id: string, url: string, recognized = true): Promise<void> {
  if (recognized) recognize(a, id, [testKey(id)]);
  const res = await a.admin('POST', '/admin/peers', { sovereign_id: id, base_url: url });
  expect(res.status).toBe(201);
}

function peerRow(a: TestAuthority, id: string) {
  return a.db.sqlite
    .prepare('SELECT consecutive_failures, last_error, next_attempt_at, last_success_at FROM peers WHERE sovereign_id = ?')
    .get(id) as {
    consecutive_failures: number;
    last_error: string | null;
    next_attempt_at: string | null;
    last_success_at: string | null;
  };
}

const byId = (report: PullReport) => Object.fromEntries(report.peers.map((p) => [p.sovereign_id, p]));

describe('pull job', () => {
  it('one failing peer never blocks the others: timeouts, oversized, malformed and failing peers are recorded, the good one imports', async () => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    const good = new SimulatedIssuer('peer-good', [testKey('peer-good')], a.clock);
    good.next({ entries: 2 });
    await addPeer(a, 'peer-good', (await simulatedPeer(good)).url);
    await addPeer(a, 'peer-hang', await rawPeer(() => new Promise<Response>(() => {})));
    await addPeer(
      a,
      'peer-huge',
      await rawPeer(() => new Response('x'.repeat(9 * 1024 * 1024), { headers: { 'Content-Type': 'application/json' } })),
    );
    // An endless body with no Content-Length: cut off by the byte cap while reading.
    const chunk = new Uint8Array(2 * 1024 * 1024).fill(32);
    await addPeer(
      a,
      'peer-stream',
      await rawPeer(() => new Response(new ReadableStream({ pull: (controller) => controller.enqueue(chunk) }))),
    );
    await addPeer(
      a,
      'peer-garbage',
      await rawPeer(() => new Response('{"sequence": 1,', { headers: { 'Content-Type': 'application/json' } })),
    );
    await addPeer(a, 'peer-500', await rawPeer(() => new Response('oops', { status: 500 })));
    await addPeer(a, 'peer-down', 'http://127.0.0.1:1');

    const report = byId(await runPullJob(a.deps, { timeoutMs: 2000 }));
    expect(report['peer-good'], JSON.stringify(report['peer-good'])).toMatchObject({ outcome: 'ok', imported: 1, imported_sequence: 1 });
    expect(report['peer-hang']).toMatchObject({ outcome: 'failed', reason: 'timeout' });
    expect(report['peer-huge']).toMatchObject({ outcome: 'failed', reason: 'response_too_large' });
    expect(report['peer-stream'], JSON.stringify(report['peer-stream'])).toMatchObject({ outcome: 'failed', reason: 'response_too_large' });
    expect(report['peer-garbage']).toMatchObject({ outcome: 'failed', reason: 'malformed_response' });
    expect(report['peer-500']).toMatchObject({ outcome: 'failed', reason: 'http_error' });
    expect(report['peer-down']).toMatchObject({ outcome: 'failed', reason: 'unreachable' });
    expect(auditCount(a.db, 'feed_pull_failing')).toBe(6);
    expect(peerRow(a, 'peer-hang')).toMatchObject({ consecutive_failures: 1 });
    expect(peerRow(a, 'peer-hang').last_error).toMatch(/^timeout: /);
  });

  it('audits only transitions, backs off exponentially, and records recovery once', async () => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    const sim = new SimulatedIssuer('peer-b', [testKey('peer-b')], a.clock);
    sim.next({ entries: 1 });
    const peer = await simulatedPeer(sim, { fail: true });
    await addPeer(a, 'peer-b', peer.url);

    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'failed', reason: 'http_error' });
    expect(peerRow(a, 'peer-b')).toMatchObject({ consecutive_failures: 1, next_attempt_at: '2026-03-01T00:00:30Z' });
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'skipped', reason: 'backoff' });

    a.clock.advance(31);
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'failed' });
    expect(peerRow(a, 'peer-b')).toMatchObject({ consecutive_failures: 2, next_attempt_at: '2026-03-01T00:01:31Z' });
    expect(auditCount(a.db, 'feed_pull_failing')).toBe(1);
    expect([1, 2, 3, 4, 10, 20].map(backoffSeconds)).toEqual([30, 60, 120, 240, 3600, 3600]);

    peer.state.fail = false;
    a.clock.advance(61);
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 1 });
    expect(peerRow(a, 'peer-b')).toMatchObject({
      consecutive_failures: 0,
      last_error: null,
      next_attempt_at: null,
      last_success_at: '2026-03-01T00:01:32Z',
    });
    expect(auditCount(a.db, 'feed_pull_recovered')).toBe(1);
    await runPullJob(a.deps);
    expect(auditCount(a.db, 'feed_pull_recovered')).toBe(1);
    expect(auditCount(a.db, 'feed_pull_failing')).toBe(1);
  });

  it('POST /admin/peers/{id}/pull pulls at once, ignoring the backoff', async () => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    const sim = new SimulatedIssuer('peer-b', [testKey('peer-b')], a.clock);
    sim.next({ entries: 3 });
    const peer = await simulatedPeer(sim, { fail: true });
    await addPeer(a, 'peer-b', peer.url);
    await runPullJob(a.deps);
    peer.state.fail = false;
    const res = await a.admin('POST', '/admin/peers/peer-b/pull');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sovereign_id: 'peer-b', outcome: 'ok', imported: 1, imported_sequence: 1, receipt: 'sent' });
    expect(peer.state.receipts).toEqual([
      expect.objectContaining({ type: 'feed_receipt', importer_sovereign_id: 'authority-a', issuer_sovereign_id: 'peer-b', sequence: 1 }),
    ]);
    expect((await a.admin('POST', '/admin/peers/nobody/pull')).status).toBe(404);
  });

  it('pages through a long backlog in order in one run', async () => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    const sim = new SimulatedIssuer('peer-b', [testKey('peer-b')], a.clock);
    for (let i = 0; i < 120; i++) sim.next({ entries: i % 3 });
    const peer = await simulatedPeer(sim);
    await addPeer(a, 'peer-b', peer.url);
    const report = await runPullJob(a.deps);
    expect(report.peers[0]).toMatchObject({ outcome: 'ok', imported: 120, imported_sequence: 120 });
    expect(peer.state.requests.filter((r) => r.startsWith('GET /revocation-feeds?'))).toEqual([
      'GET /revocation-feeds?since=0&limit=50',
      'GET /revocation-feeds?since=50&limit=50',
      'GET /revocation-feeds?since=100&limit=50',
    ]);
    expect(
      (a.db.sqlite.prepare("SELECT count(*) AS n FROM imported_revocations WHERE issuer_sovereign_id = 'peer-b'").get() as { n: number }).n,
    ).toBe(120);
  });

  it('takes a bounded number of page bytes per run; the backlog continues on the next run', async () => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    const sim = new SimulatedIssuer('peer-b', [testKey('peer-b')], a.clock);
    for (let i = 0; i < 120; i++) sim.next({ entries: 1 });
    const peer = await simulatedPeer(sim);
    await addPeer(a, 'peer-b', peer.url);
    // One page of 50 feeds is far more than 1 byte: each run stops after its first page.
    expect((await runPullJob(a.deps, { maxBytesPerRun: 1 })).peers[0]).toMatchObject({
      outcome: 'ok',
      imported: 50,
      imported_sequence: 50,
    });
    expect((await runPullJob(a.deps, { maxBytesPerRun: 1 })).peers[0]).toMatchObject({
      outcome: 'ok',
      imported: 50,
      imported_sequence: 100,
    });
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 20, imported_sequence: 120 });
  });

  it('stops at the first rejected feed and keeps what came before it', async () => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    const sim = new SimulatedIssuer('peer-b', [testKey('peer-b')], a.clock);
    sim.next({ entries: 1 });
    sim.next({ entries: 1 });
    sim.feeds.push(sim.next({ entries: 1, dryRun: true, mutate: (f) => void (f.previous_feed_hash = `sha256:${'cd'.repeat(32)}`) }));
    await addPeer(a, 'peer-b', (await simulatedPeer(sim)).url);
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'failed', reason: 'chain_mismatch', imported_sequence: 2 });
    expect(auditCount(a.db, 'sovereign_revocation_feed_rejected')).toBe(1);
  });

  it('skips peers it does not recognize (no requests) and peers that are paused', async () => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    const sim = new SimulatedIssuer('peer-b', [testKey('peer-b')], a.clock);
    sim.next({ entries: 1 });
    const stranger = await simulatedPeer(sim);
    await addPeer(a, 'peer-x', stranger.url, false);
    await addPeer(a, 'peer-b', (await simulatedPeer(sim)).url);
    await a.admin('POST', '/admin/peers/peer-b/pause');
    const report = byId(await runPullJob(a.deps));
    expect(report['peer-x']).toMatchObject({ outcome: 'skipped', reason: 'not_recognized' });
    expect(report['peer-b']).toMatchObject({ outcome: 'skipped', reason: 'paused' });
    expect(stranger.state.requests).toEqual([]);
  });

  it('a different feed served at an already imported sequence is caught as equivocation', async () => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    const sim = new SimulatedIssuer('peer-b', [testKey('peer-b')], a.clock);
    sim.next({ entries: 1 });
    await addPeer(a, 'peer-b', (await simulatedPeer(sim)).url);
    await runPullJob(a.deps);
    // The peer now serves another signed feed 1 as its latest.
    sim.feeds[0] = new SimulatedIssuer('peer-b', [testKey('peer-b')], a.clock).next({ entries: 2 });
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'failed', reason: 'equivocation' });
    expect(auditCount(a.db, 'feed_equivocation_detected')).toBe(1);
  });
});
