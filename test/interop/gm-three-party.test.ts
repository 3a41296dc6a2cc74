// Three parties over real HTTP on 127.0.0.1: a Genesis Mesh peer serving GM-NORTH's real feed bytes (re-signed on every GET, as GM
// does), Accord pulling it with the pull job, and a second Accord (and GM's own import rule) reading Accord's GM-compatible feed.
import { serve, type ServerType } from '@hono/node-server';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPullJob } from '../../src/feeds/pull.ts';
import { auditCount, createTestAuthority, type TestAuthority } from '../helpers/authority.ts';
import { gmKeyFromSeed, gmSign, gmVerify, pythonJsonDumps } from './gm-reference.ts';
import { ok } from '../helpers/http.ts';

const DIR = new URL('../vectors/gm/', import.meta.url);
const raw = (file: string): string => readFileSync(new URL(file, DIR), 'utf8');
const keys = JSON.parse(raw('keys.json')) as { sovereigns: Record<string, { key_id: string; public_key: string; seed_hex: string }> };
const NORTH = 'GM-NORTH';
const north = keys.sovereigns[NORTH]!;
const northKey = gmKeyFromSeed(Buffer.from(north.seed_hex, 'hex'));
const EVAL_TIME = '2026-12-04T20:30:00Z';

type FeedState = { sequence: number; revoked: Record<string, string> };
const stateOf = (file: string): FeedState => {
  const feed = JSON.parse(raw(file)) as { sequence: number; revocation_reasons: Record<string, string> };
  return { sequence: feed.sequence, revoked: feed.revocation_reasons };
};

/**
 * GM-NORTH as its HTTP route behaves: every GET of /sovereign-revocation-feed builds and signs a new
 * snapshot of the current state (fresh uuid4 feed_id, issued_at = now). While captured bytes of the
 * current state remain unserved, those exact bytes are served first.
 */
class SimulatedGmPeer {
  url = '';
  requests: string[] = [];
  private server: Server | null = null;
  private state: FeedState = { sequence: 0, revoked: {} };
  private captured: string[] = [];

  constructor(private readonly now: () => Date) {}

  /** Moves GM-NORTH to a new revocation state, with the captured bodies GM served for it. */
  moveTo(state: FeedState, capturedFiles: string[] = []): void {
    this.state = state;
    this.captured = capturedFiles.map(raw);
  }

  private signed = 0;

  /** `datetime.now(timezone.utc)` as pydantic writes it: microseconds, six digits (never all zero here). */
  private issuedAt(): string {
    this.signed++;
    return this.now()
      .toISOString()
      .replace(/\.(\d{3})Z$/, (_m, millis: string) => `.${millis}${String(this.signed % 1000).padStart(3, '0')}Z`);
  }

  private snapshot(): string {
    const next = this.captured.shift();
    if (next !== undefined) return next;
    const ids = Object.keys(this.state.revoked).sort();
    const feed = gmSign(
      {
        feed_id: randomUUID(),
        issuer_sovereign_id: NORTH,
        sequence: this.state.sequence,
        issued_at: this.issuedAt(),
        revoked_attestation_ids: ids,
        revocation_reasons: Object.fromEntries(ids.map((id) => [id, this.state.revoked[id]!])),
        issued_by: north.key_id,
      },
      northKey,
      north.key_id,
    );
    return `${pythonJsonDumps(feed)}\n`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.requests.push(`${req.method} ${req.url}`);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/sovereign-revocation-feed') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(this.snapshot());
        return;
      }
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(raw('north-well-known-404.json'));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function listen(a: TestAuthority): Promise<{ url: string; close(): Promise<void> }> {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: a.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function recognize(a: TestAuthority, sovereign: string, publicKey: string): Promise<void> {
  await ok(
    a.admin('POST', '/admin/recognition-treaties', {
      subject_sovereign_id: sovereign,
      subject_public_keys: [publicKey],
      scope: { allowed_roles: ['role:anchor', 'role:client', 'role:service:billing'] },
      validity_hours: 24 * 90,
      profile: 'genesis-mesh',
    }),
    201,
  );
}

let east: TestAuthority;
let gm: SimulatedGmPeer;
beforeEach(async () => {
  east = createTestAuthority({ sovereignId: 'ACCORD-EAST', now: '2026-11-27T00:00:00Z' });
  await recognize(east, NORTH, north.public_key);
  east.clock.set(EVAL_TIME);
  gm = new SimulatedGmPeer(() => east.clock());
  await gm.start();
  await ok(east.admin('POST', '/admin/peers', { sovereign_id: NORTH, base_url: gm.url }), 201);
});
afterEach(async () => {
  await gm.close();
  await east.close();
  east.db.close();
});

const issuerState = (a: TestAuthority) =>
  a.db.sqlite.prepare('SELECT last_sequence, paused, paused_reason FROM feed_issuers WHERE issuer_sovereign_id = ?').get(NORTH) as {
    last_sequence: number;
    paused: number;
    paused_reason: string | null;
  };

async function verifyAttestation(a: TestAuthority, file: string): Promise<Record<string, unknown>> {
  const res = await a.app.request('/attestations/verify', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: `{"attestation":${raw(file).trimEnd()}}`,
  });
  return (await res.json()) as Record<string, unknown>;
}

describe('Accord pulls a Genesis Mesh peer that re-signs its snapshot on every GET', () => {
  it('ten pull rounds: three imports as the revocations change, no equivocation, no pause, no failure', async () => {
    gm.moveTo(stateOf('feed-a-initial-seq0.json'), ['feed-a-initial-seq0.json', 'feed-b1-seq0.json', 'feed-b2-seq0-refetch.json']);
    const changes: Record<number, () => void> = {
      4: () => gm.moveTo(stateOf('feed-c-after-1-revocation.json'), ['feed-c-after-1-revocation.json']),
      7: () => gm.moveTo(stateOf('feed-d-after-2-revocations.json'), ['feed-d-after-2-revocations.json']),
    };
    const imported: number[] = [];
    const served = new Set<string>();
    for (let round = 1; round <= 10; round++) {
      changes[round]?.();
      east.clock.advance(60);
      const report = await runPullJob(east.deps);
      expect(report.peers, `round ${round}`).toEqual([expect.objectContaining({ sovereign_id: NORTH, outcome: 'ok' })]);
      imported.push(report.peers[0]!.imported);
      served.add(gm.requests.at(-1)!);
    }
    expect(imported).toEqual([1, 0, 0, 1, 0, 0, 1, 0, 0, 0]);
    expect(issuerState(east)).toEqual({ last_sequence: 2, paused: 0, paused_reason: null });
    expect(auditCount(east.db, 'feed_equivocation_detected')).toBe(0);
    expect(auditCount(east.db, 'sovereign_revocation_feed_rejected')).toBe(0);
    expect(auditCount(east.db, 'feed_pull_failing')).toBe(0);
    // Re-signed unchanged snapshots are skipped without an import or an audit row.
    expect(auditCount(east.db, 'sovereign_revocation_feed_imported')).toBe(3);
    // Only GM's feed route was asked, always for GM-NORTH's own feed.
    expect(gm.requests).toHaveLength(10);
    expect(served).toEqual(new Set([`GET /sovereign-revocation-feed?issuer_sovereign_id=${NORTH}`]));

    // The revocations took effect for verification, on GM's real attestation bytes.
    expect(await verifyAttestation(east, 'attestation-with-subject-key.json')).toMatchObject({
      accepted: false,
      reason: 'revoked_by_issuer_feed',
    });
    expect(await verifyAttestation(east, 'attestation-no-subject-key.json')).toMatchObject({
      accepted: false,
      reason: 'revoked_by_issuer_feed',
    });
    expect(await verifyAttestation(east, 'attestation-unrevoked.json')).toMatchObject({ accepted: true, reason: 'accepted' });
  });

  it('a changed revoked set at the same sequence is equivocation: evidence kept, the peer paused, later pulls skipped', async () => {
    gm.moveTo(stateOf('feed-c-after-1-revocation.json'), ['feed-c-after-1-revocation.json']);
    expect((await runPullJob(east.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 1 });
    // Same sequence 1, another attestation revoked: GM-NORTH has signed two different statements for sequence 1.
    gm.moveTo({ sequence: 1, revoked: { 'f066ef68-838d-4fe3-bab8-ef51821b4f01': 'key_compromise' } });
    east.clock.advance(60);
    const report = await runPullJob(east.deps);
    expect(report.peers[0]).toMatchObject({ outcome: 'failed', reason: 'equivocation', imported: 0 });
    expect(issuerState(east)).toMatchObject({ paused: 1, paused_reason: 'equivocation' });
    const evidence = east.db.sqlite
      .prepare(
        'SELECT sequence, known_feed_hash, conflicting_feed_hash, conflicting_body FROM feed_equivocations WHERE issuer_sovereign_id = ?',
      )
      .all(NORTH) as Array<{
      sequence: number;
      known_feed_hash: string;
      conflicting_feed_hash: string;
      conflicting_body: string;
    }>;
    expect(evidence).toHaveLength(1);
    expect(evidence[0]!.sequence).toBe(1);
    expect(evidence[0]!.known_feed_hash).not.toBe(evidence[0]!.conflicting_feed_hash);
    // The conflicting snapshot is kept as signed: GM's own check still verifies it under GM-NORTH's key.
    expect(gmVerify(JSON.parse(evidence[0]!.conflicting_body) as Record<string, unknown>, [north.public_key])).toBe(true);
    expect(auditCount(east.db, 'feed_equivocation_detected')).toBe(1);
    // The first revocation stands; the conflicting one was not applied.
    expect(east.db.sqlite.prepare('SELECT id FROM imported_revocations WHERE issuer_sovereign_id = ?').pluck().all(NORTH)).toEqual([
      '6de2c397-e4a3-46a7-ad8e-5838fb072dae',
    ]);
    east.clock.advance(60);
    expect((await runPullJob(east.deps)).peers[0]).toMatchObject({ outcome: 'skipped', reason: 'paused' });
  });
});

describe('the other direction: Accord’s GM-compatible feed, read by GM’s rule and by another Accord', () => {
  it('GM-NORTH’s import rule accepts Accord’s snapshot, and a second Accord pulls it under genesis-mesh', async () => {
    const issued = await ok(
      east.admin('POST', '/admin/attestations', { subject_id: 'node-1', roles: ['role:client'], validity_hours: 24 }),
      201,
    );
    await ok(east.admin('POST', `/admin/attestations/${issued.attestation_id as string}/revoke`, { reason: 'key_compromise' }));
    await ok(east.admin('POST', '/admin/revocation-feeds/publish', {}));
    const served = await listen(east);
    const west = createTestAuthority({ sovereignId: 'ACCORD-WEST', now: '2026-11-27T00:00:00Z' });
    try {
      // GM's import: model defaults, its dump, any key GM-NORTH's treaty for ACCORD-EAST gives, sequence above the last one.
      const text = await (await fetch(`${served.url}/sovereign-revocation-feed?issuer_sovereign_id=ACCORD-EAST`)).text();
      const feed = JSON.parse(text) as { sequence: number; revoked_attestation_ids: string[] };
      expect(gmVerify(feed as unknown as Record<string, unknown>, [east.signingKey.publicKey])).toBe(true);
      expect(feed.sequence).toBeGreaterThan(0);
      expect(feed.revoked_attestation_ids).toEqual([issued.attestation_id]);

      await recognize(west, 'ACCORD-EAST', east.signingKey.publicKey);
      west.clock.set(EVAL_TIME);
      await ok(west.admin('POST', '/admin/peers', { sovereign_id: 'ACCORD-EAST', base_url: served.url }), 201);
      for (let round = 0; round < 3; round++) {
        west.clock.advance(60);
        expect((await runPullJob(west.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: round === 0 ? 1 : 0 });
      }
      expect(west.db.sqlite.prepare("SELECT id FROM imported_revocations WHERE issuer_sovereign_id = 'ACCORD-EAST'").pluck().all()).toEqual(
        [issued.attestation_id],
      );
    } finally {
      await served.close();
      await west.close();
      west.db.close();
    }
  });
});
