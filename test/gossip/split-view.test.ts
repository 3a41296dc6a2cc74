// Split views from every source over real HTTP — a pull, this authority's witness, a peer's evidence — and the gossip
// that follows: each recognized peer gets the evidence (POST /log/evidence), with bounded retries, every outcome audited.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runPullJob } from '../../src/feeds/pull.ts';
import { forwardEvidence, MAX_DELIVERY_ATTEMPTS, startEvidenceGossip } from '../../src/gossip/forwarding.ts';
import { auditCount, lastAudit, testKey } from '../helpers/authority.ts';
import { listen, startNode, type Node } from '../feeds/network.ts';
import { recognize } from '../feeds/simulated-issuer.ts';
import { removeTempDirs } from '../ops/helpers.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import { addCheckpoint, body as addBody, witnessLog } from '../witness/helpers.ts';
import { evidence, forkOf, noteAtSize, postEvidence, proofIn, publishForkAtSizes } from './helpers.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});
afterAll(removeTempDirs);

const ISSUER = 'na-a';

async function node(id: string): Promise<Node> {
  const n = await startNode(id);
  stops.push(() => n.stop());
  return n;
}

const evidenceRows = (n: Node) =>
  n.db.sqlite.prepare('SELECT evidence_hash, issuer_sovereign_id, problem, source FROM split_view_evidence').all() as Array<
    Record<string, string>
  >;
const pausedFor = (n: Node, issuer = ISSUER) =>
  n.db.sqlite.prepare('SELECT paused_reason FROM feed_issuers WHERE issuer_sovereign_id = ? AND paused = 1').pluck().get(issuer) ?? null;
const b64 = (hashes: string[]) => hashes.map((h) => Buffer.from(h.slice(7), 'hex').toString('base64'));

/** `from` recognizes `to` and registers it as a peer (without pulling it). */
async function peerOf(from: Node, to: Node | { sovereignId: string; url: string; key?: ReturnType<typeof testKey> }): Promise<void> {
  const key = 'signingKey' in to ? to.signingKey : (to.key ?? testKey(`peer:${to.sovereignId}`));
  recognize(from, to.sovereignId, [key], { scope: { allowed_roles: ['role:client'] } });
  const res = await from.admin('POST', '/admin/peers', { sovereign_id: to.sovereignId, base_url: to.url });
  expect(res.status).toBe(201);
}

describe('gossip: evidence reaches every recognized peer', () => {
  it('delivered to peers that take it; refused by one that cannot verify it; retried, then given up, for one that is down', async () => {
    const a = await node(ISSUER);
    publishAtSizes(a, [3]);
    const fork = forkOf(ISSUER);
    publishForkAtSizes(fork, [3]);
    const d = await node('na-d');
    const b = await node('na-b');
    const c = await node('na-c');
    const f = await node('na-f'); // does not recognize A: it refuses the evidence
    for (const n of [d, b, c]) recognize(n, ISSUER, [a.signingKey]);
    for (const n of [b, c, f]) await peerOf(d, n);
    const down = await listen(() => new Response('maintenance\n', { status: 503 }));
    stops.push(down.stop);
    await peerOf(d, { sovereignId: 'na-e', url: down.url });
    // A is D's peer too, but evidence against A is not sent to A.
    await peerOf(d, a);

    const recorded = await postEvidence(d.url, evidence(ISSUER, [noteAtSize(a, 3), noteAtSize(fork, 3)]));
    expect(recorded.body).toMatchObject({ status: 'recorded', paused: true, forwarding_to: ['na-b', 'na-c', 'na-e', 'na-f'] });
    const hash = recorded.body.evidence_hash as string;

    let round = await forwardEvidence(d.deps);
    const byPeer = (r: typeof round) => Object.fromEntries(r.deliveries.map((x) => [x.peer, x]));
    expect(byPeer(round)).toMatchObject({
      'na-b': { outcome: 'delivered', answer: 'recorded', attempts: 1 },
      'na-c': { outcome: 'delivered', answer: 'recorded', attempts: 1 },
      'na-e': { outcome: 'retrying', attempts: 1, error: 'HTTP 503', next_attempt_at: '2026-03-01T00:00:30Z' },
      'na-f': { outcome: 'refused', attempts: 1, error: 'HTTP 403 evidence_issuer_not_recognized' },
    });
    // B and C verified it themselves and paused A.
    for (const n of [b, c]) {
      expect(evidenceRows(n)).toEqual([{ evidence_hash: hash, issuer_sovereign_id: ISSUER, problem: 'root_mismatch', source: 'peer' }]);
      expect(pausedFor(n)).toBe('split_view');
    }
    expect(evidenceRows(f)).toEqual([]);
    const forwarded = d.db.sqlite
      .prepare(
        "SELECT canonical FROM audit_events WHERE event_type IN ('split_view_evidence_forwarded', 'split_view_evidence_undelivered') ORDER BY seq",
      )
      .pluck()
      .all()
      .map((t) => JSON.parse(t as string).details);
    expect(forwarded).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ evidence_hash: hash, issuer: ISSUER, peer: 'na-b', answer: 'recorded', attempts: 1 }),
        expect.objectContaining({ peer: 'na-c', answer: 'recorded' }),
        expect.objectContaining({ peer: 'na-f', reason: 'refused', error: 'HTTP 403 evidence_issuer_not_recognized' }),
      ]),
    );
    expect(forwarded).toHaveLength(3);

    // Not due yet: nothing sent. Then retried on the backoff until the bound, and given up once (audited once).
    round = await forwardEvidence(d.deps);
    expect(byPeer(round)['na-e']).toMatchObject({ outcome: 'not_due', attempts: 1 });
    for (let attempt = 2; attempt <= MAX_DELIVERY_ATTEMPTS; attempt++) {
      d.clock.advance(3600);
      round = await forwardEvidence(d.deps);
      expect(byPeer(round)['na-e']).toMatchObject({
        outcome: attempt === MAX_DELIVERY_ATTEMPTS ? 'abandoned' : 'retrying',
        attempts: attempt,
      });
    }
    d.clock.advance(3600);
    expect((await forwardEvidence(d.deps)).deliveries).toEqual([]);
    expect(lastAudit(d.db)).toMatchObject({
      event_type: 'split_view_evidence_undelivered',
      details: { peer: 'na-e', reason: 'retries_exhausted', attempts: MAX_DELIVERY_ATTEMPTS, error: 'HTTP 503' },
    });
    expect(auditCount(d.db, 'split_view_evidence_undelivered')).toBe(2);

    const shown = (await (await d.admin('GET', `/admin/split-views/${hash}`)).json()) as { deliveries: Array<Record<string, unknown>> };
    expect(shown.deliveries.map((x) => [x.peer_sovereign_id, x.status, x.attempts])).toEqual([
      ['na-b', 'delivered', 1],
      ['na-c', 'delivered', 1],
      ['na-e', 'abandoned', MAX_DELIVERY_ATTEMPTS],
      ['na-f', 'refused', 1],
    ]);
  });

  it('in the background: recorded evidence goes out at once', async () => {
    const a = await node(ISSUER);
    publishAtSizes(a, [3]);
    const fork = forkOf(ISSUER);
    publishForkAtSizes(fork, [3]);
    const d = await node('na-d');
    const b = await node('na-b');
    for (const n of [d, b]) recognize(n, ISSUER, [a.signingKey]);
    await peerOf(d, b);
    startEvidenceGossip(d.deps);
    await postEvidence(d.url, evidence(ISSUER, [noteAtSize(a, 3), noteAtSize(fork, 3)]));
    await waitFor(() => pausedFor(b) === 'split_view');
    await d.close();
    expect(auditCount(d.db, 'split_view_evidence_forwarded')).toBe(1);
  });
});

describe('split views found by this authority', () => {
  it('pull: the issuer serves a checkpoint with another root at the size it showed before — evidence, pause, the pull fails', async () => {
    const a = await node(ISSUER);
    publishAtSizes(a, [3]);
    const fork = forkOf(ISSUER);
    publishForkAtSizes(fork, [3]);
    const served: { note: string | null } = { note: null };
    const front = await listen(async (req) => {
      const url = new URL(req.url);
      if (url.pathname === '/log/checkpoint' && served.note) return new Response(served.note);
      return fetch(`${a.url}${url.pathname}${url.search}`);
    });
    stops.push(front.stop);
    const b = await node('na-b');
    await peerOf(b, { sovereignId: ISSUER, url: front.url, key: a.signingKey });
    expect((await runPullJob(b.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 1 });

    served.note = noteAtSize(fork, 3);
    expect((await runPullJob(b.deps)).peers[0]).toMatchObject({ outcome: 'failed', reason: 'checkpoint_inconsistent' });
    expect(evidenceRows(b)).toMatchObject([{ issuer_sovereign_id: ISSUER, problem: 'root_mismatch', source: 'pull' }]);
    expect(pausedFor(b)).toBe('split_view');
    const detected = JSON.parse(
      b.db.sqlite.prepare("SELECT canonical FROM audit_events WHERE event_type = 'split_view_detected'").pluck().get() as string,
    );
    expect(detected).toMatchObject({ actor: { type: 'system' }, details: { source: 'pull', source_detail: front.url } });
    expect((await runPullJob(b.deps)).peers[0]).toMatchObject({ outcome: 'skipped', reason: 'paused' });
  });

  it('witness: a fork submitted to it is evidence; a garbage proof, or a standard proof from a power-of-two size, is not', async () => {
    const a = await node(ISSUER);
    publishAtSizes(a, [3]);
    const w = await node('na-w');
    await witnessLog(w, a);
    const cosign = async (note: string, old: number, proof: string[] = []) => addCheckpoint(w.url, addBody(old, b64(proof), note));
    expect((await cosign(noteAtSize(a, 3), 0)).status).toBe(200);

    // A's genuine next checkpoint with a made-up proof: refused and kept as a witness conflict, but it proves nothing.
    publishAtSizes(a, [5]);
    const garbage = await cosign(noteAtSize(a, 5), 3, [`sha256:${'00'.repeat(32)}`, `sha256:${'11'.repeat(32)}`]);
    expect(garbage.status).toBe(422);
    expect(w.db.sqlite.prepare('SELECT count(*) FROM witness_conflicts').pluck().get()).toBe(1);
    expect(evidenceRows(w)).toEqual([]);
    expect(pausedFor(w)).toBeNull();

    // A second history of A (same key), grown from another size-3 tree: its own proof shows its size 3 is another tree.
    const fork = forkOf(ISSUER);
    publishForkAtSizes(fork, [3, 6]);
    const refused = await cosign(noteAtSize(fork, 6), 3, proofIn(fork, 3, 6));
    expect(refused.status).toBe(422);
    expect(evidenceRows(w)).toMatchObject([{ issuer_sovereign_id: ISSUER, problem: 'inconsistent', source: 'witness' }]);
    expect(pausedFor(w)).toBe('split_view');
    const events = w.db.sqlite
      .prepare(
        "SELECT event_type FROM audit_events WHERE event_type IN ('witness_conflict_detected', 'split_view_detected', 'feed_issuer_paused') ORDER BY seq",
      )
      .pluck()
      .all();
    expect(events).toEqual(['witness_conflict_detected', 'witness_conflict_detected', 'split_view_detected', 'feed_issuer_paused']);

    // From a power-of-two cosigned size, a standard proof lacks the subtree root: a conflict, but no evidence.
    const v = await node('na-v');
    await witnessLog(v, a);
    publishAtSizes(a, [8]);
    expect((await addCheckpoint(v.url, addBody(0, [], noteAtSize(a, 8)))).status).toBe(200);
    const fork8 = forkOf(ISSUER);
    publishForkAtSizes(fork8, [8, 10]);
    expect((await addCheckpoint(v.url, addBody(8, b64(proofIn(fork8, 8, 10)), noteAtSize(fork8, 10)))).status).toBe(422);
    expect(v.db.sqlite.prepare('SELECT count(*) FROM witness_conflicts').pluck().get()).toBe(1);
    expect(evidenceRows(v)).toEqual([]);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
