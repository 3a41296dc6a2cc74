// Real authorities over loopback HTTP: publish → pull → import → verify flips → receipt; then a fork is caught.
import { afterEach, describe, expect, it } from 'vitest';
import { appendRevocations, rebuildLogState } from '../../src/log/store.ts';
import { listImportedRevocations } from '../../src/feeds/imported-revocations.ts';
import { pullPeer, runPullJob } from '../../src/feeds/pull.ts';
import { receiptsByImporter } from '../../src/feeds/receipts.ts';
import { issueAttestation, revokeAttestation } from '../../src/treaties/attestations.ts';
import { revokeTreaty } from '../../src/treaties/service.ts';
import { auditCount, dbDigest } from '../helpers/authority.ts';
import { recognize } from './simulated-issuer.ts';
import { listen, recognizeAndPeer, startNode, type Node } from './network.ts';

const nodes: Node[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

async function node(id: string): Promise<Node> {
  const n = await startNode(id);
  nodes.push(n);
  return n;
}

const op = (n: Node) => ({ label: n.operator.label, keyId: n.operator.key.keyId });

async function verify(n: Node, attestation: unknown): Promise<{ accepted: boolean; reason: string }> {
  const res = await n.app.request('/attestations/verify', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ attestation }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { accepted: boolean; reason: string };
}

async function publish(n: Node): Promise<{ latest_sequence: number }> {
  const res = await n.admin('POST', '/admin/revocation-feeds/publish');
  expect(res.status).toBe(200);
  return (await res.json()) as { latest_sequence: number };
}

describe('feeds between real authorities', () => {
  it('A pulls B: a revocation published by B flips A’s verify, A’s receipt reaches B; then B forks and A pauses B', async () => {
    const [a, b] = [await node('authority-a'), await node('authority-b')];
    await recognizeAndPeer(a, b);
    recognize(b, a.sovereignId, [a.signingKey]); // B accepts A's receipts

    const x = issueAttestation(b.deps, { subject_id: 'node-1', roles: ['role:client'], validity_hours: 24 * 7 }, op(b));
    expect(await verify(a, x)).toMatchObject({ accepted: true, reason: 'accepted' });

    revokeAttestation(b.deps, x.attestation_id, { reason: 'key_compromise', incident: 'INC-1' }, op(b));
    expect((await publish(b)).latest_sequence).toBe(1);

    const report = await runPullJob(a.deps);
    expect(report.peers).toEqual([
      expect.objectContaining({ sovereign_id: 'authority-b', outcome: 'ok', imported: 1, imported_sequence: 1, receipt: 'sent' }),
    ]);
    expect(await verify(a, x)).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });
    expect(auditCount(a.db, 'sovereign_revocation_feed_imported')).toBe(1);

    const receipts = receiptsByImporter(b.db.sqlite);
    expect(receipts).toEqual([expect.objectContaining({ importer_sovereign_id: 'authority-a', sequence: 1 })]);
    expect(receipts[0]!.feed_hash).toBe(
      (b.db.sqlite.prepare('SELECT feed_hash FROM published_feeds WHERE sequence = 1').get() as { feed_hash: string }).feed_hash,
    );
    expect(auditCount(b.db, 'feed_receipt_recorded')).toBe(1);

    // Nothing new: the next pull imports nothing and sends no second receipt.
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 0, receipt: 'not_needed' });

    // B publishes feed 2, A imports it.
    const y = issueAttestation(b.deps, { subject_id: 'node-2', roles: ['role:client'], validity_hours: 24 * 7 }, op(b));
    revokeAttestation(b.deps, y.attestation_id, { reason: 'affiliation_changed' }, op(b));
    await publish(b);
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 1, imported_sequence: 2 });
    expect(receiptsByImporter(b.db.sqlite)[0]!.sequence).toBe(2);

    // B loses feed 2 (say, a restore that did not carry it forward) and publishes a different feed 2.
    b.db.sqlite.transaction(() => {
      b.db.sqlite.prepare('DELETE FROM published_feeds WHERE sequence = 2').run();
      b.db.sqlite.prepare('DELETE FROM log_checkpoints WHERE sequence = 2').run();
      b.db.sqlite.prepare('DELETE FROM revocation_log WHERE idx >= 1').run();
      rebuildLogState(b.db.sqlite);
      appendRevocations(b.db.sqlite, [
        {
          kind: 'membership_attestation',
          id: '11111111-1111-4111-8111-111111111111',
          reason: 'policy_violation',
          revoked_at: '2026-03-01T00:00:00Z',
        },
      ]);
    })();
    expect((await publish(b)).latest_sequence).toBe(2);

    const forked = await runPullJob(a.deps);
    expect(forked.peers[0]).toMatchObject({ outcome: 'failed', reason: 'equivocation' });
    expect(auditCount(a.db, 'feed_equivocation_detected')).toBe(1);
    expect(auditCount(a.db, 'feed_pull_failing')).toBe(1);
    expect(a.db.sqlite.prepare('SELECT sequence FROM feed_equivocations').all()).toEqual([{ sequence: 2 }]);
    const peers = (await (await a.admin('GET', '/admin/peers')).json()) as { peers: Array<Record<string, unknown>> };
    expect(peers.peers[0]).toMatchObject({
      sovereign_id: 'authority-b',
      paused: true,
      paused_reason: 'equivocation',
      imported_sequence: 2,
      consecutive_failures: 1,
    });
    // Imports stay as they were: the first feed 2 is still what A holds.
    expect(listImportedRevocations(a.db.sqlite).map((r) => r.id)).toEqual([x.attestation_id, y.attestation_id]);
    // A paused issuer is not pulled at all.
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'skipped', reason: 'paused' });
  });

  it('three authorities: A and C both import B, B sees both receipts, A mirrors C’s treaties beyond one hop', async () => {
    const [a, b, c] = [await node('authority-a'), await node('authority-b'), await node('authority-c')];
    await recognizeAndPeer(a, b);
    await recognizeAndPeer(c, b);
    const cTreatyForB = (c.db.sqlite.prepare('SELECT treaty_id FROM treaties').get() as { treaty_id: string }).treaty_id;
    await recognizeAndPeer(a, c);
    recognize(b, a.sovereignId, [a.signingKey]);
    recognize(b, c.sovereignId, [c.signingKey]);

    const x = issueAttestation(b.deps, { subject_id: 'node-9', roles: ['role:client'], validity_hours: 48 }, op(b));
    revokeAttestation(b.deps, x.attestation_id, { reason: 'key_compromise' }, op(b));
    await publish(b);

    const reportA = await runPullJob(a.deps);
    expect(reportA.peers.map((p) => [p.sovereign_id, p.outcome, p.imported])).toEqual([
      ['authority-b', 'ok', 1],
      ['authority-c', 'ok', 0],
    ]);
    await runPullJob(c.deps);
    expect(receiptsByImporter(b.db.sqlite).map((r) => [r.importer_sovereign_id, r.sequence])).toEqual([
      ['authority-a', 1],
      ['authority-c', 1],
    ]);
    expect(await verify(c, x)).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });

    // A holds C's treaty recognizing B, verified with the key A recognizes for C.
    const mirrored = a.db.sqlite
      .prepare('SELECT peer_sovereign_id, treaty_id, subject_sovereign_id FROM peer_treaties ORDER BY peer_sovereign_id')
      .all();
    expect(mirrored).toContainEqual({ peer_sovereign_id: 'authority-c', treaty_id: cTreatyForB, subject_sovereign_id: 'authority-b' });
    // And B's own two treaties (for A and C), verified with the key A recognizes for B.
    expect(mirrored.filter((m) => (m as { peer_sovereign_id: string }).peer_sovereign_id === 'authority-b')).toHaveLength(2);

    // A treaty revoked by B travels as revoked trust material.
    const bTreatyForA = (
      b.db.sqlite.prepare("SELECT treaty_id FROM treaties WHERE subject_sovereign_id = 'authority-a'").get() as { treaty_id: string }
    ).treaty_id;
    revokeTreaty(b.deps, bTreatyForA, { reason: 'cessation_of_operation' }, op(b));
    await publish(b);
    await runPullJob(a.deps);
    expect(listImportedRevocations(a.db.sqlite, { issuer: 'authority-b' })).toContainEqual(
      expect.objectContaining({
        kind: 'recognition_treaty',
        id: bTreatyForA,
        reason: 'cessation_of_operation',
        feed_sequence: 2,
        subject_sovereign_id: 'authority-a',
      }),
    );
    // B no longer recognizes A, so A's receipt for feed 2 is refused; B keeps the receipt for feed 1.
    expect(receiptsByImporter(b.db.sqlite).find((r) => r.importer_sovereign_id === 'authority-a')!.sequence).toBe(1);
  });
});

describe('a peer delivers only its own feeds', () => {
  it("mallory serving beta's feed with a padded signature list cannot cut beta off at alpha", async () => {
    const [alpha, beta] = [await node('alpha'), await node('beta')];
    await recognizeAndPeer(alpha, beta);
    const x = issueAttestation(beta.deps, { subject_id: 'worker-7', roles: ['role:client'], validity_hours: 24 * 7 }, op(beta));
    revokeAttestation(beta.deps, x.attestation_id, { reason: 'key_compromise' }, op(beta));
    expect((await publish(beta)).latest_sequence).toBe(1);

    // Mallory, also recognized by alpha, serves beta's feed 1 with a junk signature appended.
    const feed1 = (await (await fetch(`${beta.url}/revocation-feeds/1`)).json()) as { signatures: Array<{ key_id: string; sig: string }> };
    const padded = {
      ...feed1,
      signatures: [...feed1.signatures, { key_id: `sha256:${'0'.repeat(64)}`, sig: Buffer.alloc(64, 7).toString('base64') }],
    };
    const mallory = await listen((req) => {
      const url = new URL(req.url);
      if (url.pathname === '/revocation-feeds/latest') return Response.json(padded);
      if (url.pathname === '/revocation-feeds') return Response.json({ feeds: [padded], latest_sequence: 1, more: false });
      if (url.pathname === '/recognition-treaties') return Response.json({ treaties: [], next_cursor: null });
      return new Response('{}', { status: 404 });
    });
    try {
      const malloryKey = alpha.signingKey; // any recognized key: mallory's own feeds are not what is tested
      recognize(alpha, 'mallory', [malloryKey]);
      expect((await alpha.admin('POST', '/admin/peers', { sovereign_id: 'mallory', base_url: mallory.url })).status).toBe(201);

      const before = dbDigest(alpha.db, ['audit_events', 'admin_nonces', 'peers']);
      const fromMallory = await pullPeer(alpha.deps, 'mallory', { force: true });
      expect(fromMallory).toMatchObject({ outcome: 'failed', reason: 'foreign_issuer', imported: 0 });
      expect(dbDigest(alpha.db, ['audit_events', 'admin_nonces', 'peers'])).toBe(before);
      const rejected = alpha.db.sqlite
        .prepare("SELECT canonical FROM audit_events WHERE event_type = 'sovereign_revocation_feed_rejected' ORDER BY seq DESC LIMIT 1")
        .get() as { canonical: string };
      expect(JSON.parse(rejected.canonical).details).toMatchObject({
        issuer: 'beta',
        reason: 'foreign_issuer',
        via: 'pull',
        source: { peer: 'mallory', url: `${mallory.url}/revocation-feeds?since=0&limit=50` },
      });

      // Beta's own feeds keep importing, and the revocation reaches alpha.
      expect(await pullPeer(alpha.deps, 'beta', { force: true })).toMatchObject({ outcome: 'ok', imported: 1, imported_sequence: 1 });
      const imported = alpha.db.sqlite
        .prepare("SELECT canonical FROM audit_events WHERE event_type = 'sovereign_revocation_feed_imported' ORDER BY seq DESC LIMIT 1")
        .get() as { canonical: string };
      expect(JSON.parse(imported.canonical).details).toMatchObject({ issuer: 'beta', via: 'pull', source: { peer: 'beta' } });
      expect(await verify(alpha, x)).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });
      const y = issueAttestation(beta.deps, { subject_id: 'worker-8', roles: ['role:client'], validity_hours: 24 * 7 }, op(beta));
      revokeAttestation(beta.deps, y.attestation_id, { reason: 'affiliation_changed' }, op(beta));
      await publish(beta);
      expect((await pullPeer(alpha.deps, 'mallory', { force: true })).reason).toBe('foreign_issuer');
      expect(await pullPeer(alpha.deps, 'beta', { force: true })).toMatchObject({ outcome: 'ok', imported: 1, imported_sequence: 2 });
      expect(await verify(alpha, y)).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });
    } finally {
      await mallory.stop();
    }
  });
});
