// Propagation over real authorities on loopback: B revokes, A and C pull and send receipts; B's blast radius shows who caught up.
import { afterEach, describe, expect, it } from 'vitest';
import { runPullJob } from '../../src/feeds/pull.ts';
import { issueAttestation, revokeAttestation } from '../../src/treaties/attestations.ts';
import { recognizeAndPeer, startNode, type Node } from '../feeds/network.ts';
import type { ConnectomeDoc } from './fixtures.ts';
import { operatorOf } from './seed.ts';

const nodes: Node[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

async function node(id: string): Promise<Node> {
  const n = await startNode(id);
  nodes.push(n);
  return n;
}

async function publish(n: Node): Promise<number> {
  const res = await n.admin('POST', '/admin/revocation-feeds/publish');
  expect(res.status).toBe(200);
  return ((await res.json()) as { latest_sequence: number }).latest_sequence;
}

/** Blast radius as served over HTTP by the node itself. */
async function blastRadius(n: Node, id: string): Promise<ConnectomeDoc['revocation_blast_radius'][number]> {
  const res = await fetch(`${n.url}/connectome/blast-radius?id=${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as ConnectomeDoc['revocation_blast_radius'][number];
}

function revoke(n: Node): string {
  const attestation = issueAttestation(n.deps, { subject_id: 'device-1', roles: ['role:client'], validity_hours: 24 * 7 }, operatorOf(n));
  revokeAttestation(n.deps, attestation.attestation_id, { reason: 'key_compromise' }, operatorOf(n));
  return attestation.attestation_id;
}

describe('revocation propagation across three authorities', () => {
  it('B sees A and C caught up after they pull; with C paused, C is not caught up', async () => {
    const [a, b, c] = [await node('authority-a'), await node('authority-b'), await node('authority-c')];
    // A and C recognize B and pull its feed; B recognizes both (it accepts their receipts and mirrors their treaties).
    await recognizeAndPeer(a, b);
    await recognizeAndPeer(c, b);
    await recognizeAndPeer(b, a);
    await recognizeAndPeer(b, c);
    for (const n of [a, c]) await publish(n); // a first feed, so B's pull of them succeeds and mirrors their treaties
    await runPullJob(b.deps);

    const first = revoke(b);
    const carried = await publish(b);
    for (const n of [a, c]) {
      const report = await runPullJob(n.deps);
      expect(report.peers[0]).toMatchObject({ sovereign_id: 'authority-b', outcome: 'ok', imported_sequence: carried, receipt: 'sent' });
    }

    const caughtUp = await blastRadius(b, first);
    expect(caughtUp).toMatchObject({
      issuer_sovereign_id: 'authority-b',
      feed_sequence: carried,
      affected_accepting_sovereigns: ['authority-a', 'authority-c'],
    });
    expect(caughtUp.propagation).toEqual([
      { acknowledged_sequence: carried, caught_up: true, sovereign_id: 'authority-a' },
      { acknowledged_sequence: carried, caught_up: true, sovereign_id: 'authority-c' },
    ]);

    // C stops importing B; B revokes again; only A pulls.
    expect((await c.admin('POST', '/admin/peers/authority-b/pause')).status).toBe(200);
    const second = revoke(b);
    const carriedSecond = await publish(b);
    expect(carriedSecond).toBe(carried + 1);
    await runPullJob(a.deps);
    await runPullJob(c.deps);

    expect((await blastRadius(b, second)).propagation).toEqual([
      { acknowledged_sequence: carriedSecond, caught_up: true, sovereign_id: 'authority-a' },
      { acknowledged_sequence: carried, caught_up: false, sovereign_id: 'authority-c' },
    ]);
    // The earlier revocation stays caught up for both.
    expect((await blastRadius(b, first)).propagation.every((p) => p.caught_up === true)).toBe(true);

    // C's own connectome shows B's feed as paused.
    const cDoc = (await (await fetch(`${c.url}/connectome.json`)).json()) as ConnectomeDoc;
    expect(cDoc.sovereigns.find((s) => s.sovereign_id === 'authority-b')!.feed).toMatchObject({ paused: true, imported_sequence: carried });
  });

  it('a sovereign that never sent a receipt is unknown, not behind', async () => {
    const [a, b] = [await node('authority-a'), await node('authority-b')];
    await recognizeAndPeer(a, b);
    await recognizeAndPeer(b, a);
    await publish(a);
    await runPullJob(b.deps); // B mirrors A → B
    const id = revoke(b);
    await publish(b);
    expect((await blastRadius(b, id)).propagation).toEqual([
      { acknowledged_sequence: null, caught_up: 'unknown', sovereign_id: 'authority-a' },
    ]);
  });
});
