// An attacker-controlled peer (a raw node:http server on 127.0.0.1) cannot stall or exhaust the pull
// job: slow, dripping, huge, endless, lying, malformed, redirecting and resetting answers all end
// within the per-request timeout and byte caps, more hostile peers than pull workers still leave the
// good peers pulled, and nothing from a hostile peer reaches the database.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { MAX_LATEST_BYTES, runPullJob, type PullReport } from '../../src/feeds/pull.ts';
import { auditCount, createTestAuthority, testKey, type TestAuthority } from '../helpers/authority.ts';
import { recognize, SimulatedIssuer } from '../feeds/simulated-issuer.ts';

type Mode = (req: IncomingMessage, res: ServerResponse, state: { bytesSent: number }) => void;

const TIMEOUT_MS = 600;
const MiB = 1024 * 1024;

/** Hostile behaviours, by name. Every path of the peer gets the same treatment. */
const MODES: Record<string, Mode> = {
  // Accepts the connection, never answers.
  silent: () => {},
  // Sends headers, then one byte a while, forever (slowloris in reverse).
  drip: (_req, res, state) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      res.write(' ');
      state.bytesSent++;
    }, 50);
    res.on('close', () => clearInterval(timer));
  },
  // Declares a body far beyond the cap.
  huge_declared: (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(1024 * MiB) });
    res.write('{"sequence":');
  },
  // Streams without end and without Content-Length, as fast as the client reads.
  endless: (_req, res, state) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const pump = () => {
      for (;;) {
        if (res.destroyed) return;
        state.bytesSent += chunk.length;
        if (!res.write(chunk)) break;
      }
      res.once('drain', pump);
    };
    pump();
  },
  // Claims a small Content-Length but sends more, then hangs.
  lying_length: (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '10' });
    res.write('{"feeds":[],"more":true,"junk":"');
  },
  // Valid JSON of the wrong shape everywhere.
  wrong_shape: (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ sequence: 99, feeds: 'nope', more: 'yes', treaties: 7 }));
  },
  malformed_json: (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"sequence": 1, "sequence": 2, ');
  },
  invalid_utf8: (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]));
  },
  deep_json: (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(`${'['.repeat(200_000)}${']'.repeat(200_000)}`);
  },
  // Redirects (to a good peer, even): refused, never followed.
  redirect: (_req, res) => {
    res.writeHead(302, { Location: 'http://127.0.0.1:9/revocation-feeds/latest' });
    res.end();
  },
  reset: (req) => {
    (req.socket as Socket).destroy();
  },
  server_error: (_req, res) => {
    res.writeHead(503, { 'Content-Type': 'text/html' });
    res.end('<html>busy</html>');
  },
  // A plausible latest feed with an enormous sequence, and pages that always claim more.
  endless_pages: (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    if (req.url?.includes('/revocation-feeds/latest'))
      res.end(JSON.stringify({ type: 'revocation_feed', sequence: Number.MAX_SAFE_INTEGER }));
    else if (req.url?.includes('/recognition-treaties')) res.end(JSON.stringify({ treaties: [], next_cursor: 'again' }));
    else res.end(JSON.stringify({ feeds: [{ sequence: 1 }], latest_sequence: Number.MAX_SAFE_INTEGER, more: true }));
  },
};

interface HostilePeer {
  id: string;
  url: string;
  state: { bytesSent: number; requests: number };
  close(): Promise<void>;
}

async function hostilePeer(name: string, mode: Mode): Promise<HostilePeer> {
  const state = { bytesSent: 0, requests: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    state.requests++;
    req.resume();
    mode(req, res, state);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    id: `hostile-${name.replace(/_/g, '-')}`,
    url: `http://127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A well-behaved peer serving a simulated issuer's feeds. */
async function goodPeer(sim: SimulatedIssuer) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('Content-Type', 'application/json');
    if (url.pathname === '/revocation-feeds/latest') {
      const last = sim.feeds.at(-1);
      res.writeHead(last ? 200 : 404).end(last ? canonicalJson(last) : '{}');
    } else if (url.pathname === '/revocation-feeds') {
      const since = Number(url.searchParams.get('since') ?? 0);
      const after = sim.feeds.filter((f) => f.sequence > since);
      res.end(canonicalJson({ feeds: after.slice(0, 50), latest_sequence: sim.sequence, more: after.length > 50 }));
    } else if (url.pathname === '/recognition-treaties') res.end('{"treaties":[],"next_cursor":null}');
    else if (url.pathname === '/revocation-feeds/receipts') {
      req.resume();
      req.on('end', () => res.end('{"accepted":true}'));
    } else res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let a: TestAuthority;
const hostile: HostilePeer[] = [];
const good: Array<{ id: string; sim: SimulatedIssuer; close(): Promise<void> }> = [];

async function register(id: string, url: string) {
  recognize(a, id, [testKey(`peer:${id}`)]);
  const res = await a.admin('POST', '/admin/peers', { sovereign_id: id, base_url: url });
  expect(res.status, await res.clone().text()).toBe(201);
}

beforeAll(async () => {
  a = createTestAuthority({ sovereignId: 'na-puller' });
  for (const [name, mode] of Object.entries(MODES)) {
    const peer = await hostilePeer(name, mode);
    hostile.push(peer);
    await register(peer.id, peer.url);
  }
  // Good peers sort after and between the hostile ones, so they queue behind them.
  for (const id of ['good-a', 'zz-good-b']) {
    const sim = new SimulatedIssuer(id, [testKey(`peer:${id}`)], a.clock);
    sim.next({ entries: 2 });
    sim.next({ entries: 1 });
    const server = await goodPeer(sim);
    await register(id, server.url);
    good.push({ id, sim, close: server.close });
  }
});

afterAll(async () => {
  for (const p of hostile) await p.close();
  for (const g of good) await g.close();
  a.db.close();
});

const importedFeeds = (issuer: string) =>
  (a.db.sqlite.prepare('SELECT count(*) AS n FROM imported_feeds WHERE issuer_sovereign_id = ?').get(issuer) as { n: number }).n;

describe('hostile peers cannot stall or exhaust the pull job', () => {
  let report: PullReport;
  let elapsedMs = 0;

  it(`completes within its timeouts with ${Object.keys(MODES).length} hostile peers (more than the pull workers), and pulls the good peers`, async () => {
    const started = performance.now();
    report = await runPullJob(a.deps, { timeoutMs: TIMEOUT_MS });
    elapsedMs = performance.now() - started;
    const byId = Object.fromEntries(report.peers.map((r) => [r.sovereign_id, r]));
    for (const g of good) {
      expect(byId[g.id], JSON.stringify(byId[g.id])).toMatchObject({ outcome: 'ok', imported: 2, imported_sequence: 2 });
      expect(importedFeeds(g.id)).toBe(2);
    }
    // 13 hostile peers over 4 workers, each failing within one request timeout (plus a little work).
    expect(elapsedMs).toBeLessThan(12 * TIMEOUT_MS + 3000);
  });

  it('every hostile peer is recorded as failed with a stable reason, and nothing of it is imported', () => {
    const byId = Object.fromEntries(report.peers.map((r) => [r.sovereign_id, r]));
    const reasons: Record<string, string | undefined> = {};
    for (const p of hostile) {
      const r = byId[p.id]!;
      reasons[p.id] = r.reason;
      expect(r.outcome, `${p.id}: ${JSON.stringify(r)}`).toBe('failed');
      expect(r.reason).toMatch(/^[a-z_]+$/);
      expect(importedFeeds(p.id)).toBe(0);
    }
    // An endless body ends in the byte cap, or in the timeout when the machine is too busy to read 8 MiB in time.
    expect(['response_too_large', 'timeout']).toContain(reasons['hostile-endless']);
    expect(reasons, JSON.stringify(reasons)).toMatchObject({
      'hostile-silent': 'timeout',
      'hostile-drip': 'timeout',
      'hostile-huge-declared': 'response_too_large',
      'hostile-malformed-json': 'malformed_response',
      'hostile-invalid-utf8': 'malformed_response',
      'hostile-deep-json': 'malformed_response',
      'hostile-server-error': 'http_error',
    });
    // One feed_pull_failing per hostile peer: transitions are audited, repetitions are not.
    expect(auditCount(a.db, 'feed_pull_failing')).toBe(hostile.length);
  });

  it('an endless body is cut at the byte cap: the client reads at most the cap plus what is in flight', () => {
    const endless = hostile.find((p) => p.id === 'hostile-endless')!;
    expect(endless.state.bytesSent).toBeGreaterThan(0);
    // Socket buffers hold a few MiB at most; an unbounded reader would have taken far more in the run.
    expect(endless.state.bytesSent).toBeLessThan(MAX_LATEST_BYTES + 16 * MiB);
  });

  it('backoff: the next scheduled run skips the failing peers and still serves the good ones', async () => {
    for (const g of good) g.sim.next({ entries: 1 });
    const started = performance.now();
    const second = await runPullJob(a.deps, { timeoutMs: TIMEOUT_MS });
    const byId = Object.fromEntries(second.peers.map((r) => [r.sovereign_id, r]));
    for (const p of hostile) expect(byId[p.id]).toMatchObject({ outcome: 'skipped', reason: 'backoff' });
    for (const g of good) expect(byId[g.id]).toMatchObject({ outcome: 'ok', imported: 1, imported_sequence: 3 });
    expect(performance.now() - started).toBeLessThan(3000);
    expect(auditCount(a.db, 'feed_pull_failing')).toBe(hostile.length);
  });

  it('three more runs after the backoff has passed: each ends within its timeouts (a dripping peer never holds a worker)', async () => {
    for (let round = 0; round < 3; round++) {
      a.clock.advance(2 * 3600);
      const started = performance.now();
      const run = await runPullJob(a.deps, { timeoutMs: TIMEOUT_MS });
      expect(performance.now() - started).toBeLessThan(12 * TIMEOUT_MS + 3000);
      expect(run.peers.filter((r) => r.sovereign_id.startsWith('hostile-')).every((r) => r.outcome === 'failed')).toBe(true);
    }
    // Still failing: no new transition, so no new audit events.
    expect(auditCount(a.db, 'feed_pull_failing')).toBe(hostile.length);
  });
});
