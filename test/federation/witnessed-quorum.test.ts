// Four authorities over real HTTP on 127.0.0.1: A publishes; B, C and D witness it; B imports A's feeds only with a
// quorum of 2 of those witnesses (and before the quorum appears shows awaiting_quorum and imports nothing). Then A
// forks: a second history, shown to D only. D's witness refuses it, D pauses A, and the evidence reaches B and C
// (POST /log/evidence), which verify it and pause A too. Every step is in the audit logs.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseWitnessesJson } from '../../src/authority/witness-config.ts';
import { runPullJob } from '../../src/feeds/pull.ts';
import { forwardEvidence } from '../../src/gossip/forwarding.ts';
import { submitToWitnesses } from '../../src/witness/submission.ts';
import { recognizeAndPeer, startNode, type Node } from '../feeds/network.ts';
import { removeTempDirs } from '../ops/helpers.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import { forkOf, publishForkAtSizes } from '../gossip/helpers.ts';
import { latestNote, startFileNode } from '../witness/helpers.ts';
import type { TestAuthority } from '../helpers/authority.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});
afterAll(removeTempDirs);

interface WitnessEntry {
  name: string;
  url: string;
  vkey: string;
}

/** What a log operator reads from a witness's GET /witness (its vkey confirmed out of band). */
async function witnessEntry(w: Node): Promise<WitnessEntry> {
  const info = (await (await fetch(`${w.url}/witness`)).json()) as {
    name: string;
    submission_prefix: string;
    keys: Array<{ vkey: string }>;
  };
  return { name: info.name, url: `${w.url}${info.submission_prefix}`, vkey: info.keys[0]!.vkey };
}

/** The audit event types of an authority, in order, of the types listed. */
function auditTrail(n: TestAuthority, types: string[]): string[] {
  return n.db.sqlite
    .prepare(`SELECT event_type FROM audit_events WHERE event_type IN (${types.map(() => '?').join(', ')}) ORDER BY seq`)
    .pluck()
    .all(...types) as string[];
}

function events(n: TestAuthority, type: string): Array<Record<string, any>> {
  return (n.db.sqlite.prepare('SELECT canonical FROM audit_events WHERE event_type = ? ORDER BY seq').pluck().all(type) as string[]).map(
    (t) => JSON.parse(t) as Record<string, any>,
  );
}

const paused = (n: TestAuthority) =>
  n.db.sqlite.prepare("SELECT paused, paused_reason FROM feed_issuers WHERE issuer_sovereign_id = 'na-a'").get() as
    | { paused: number; paused_reason: string }
    | undefined;

describe('four authorities: a witnessed log, an importer with a quorum, a fork and its gossip', () => {
  it('awaiting_quorum, then imported; the fork refused by D, A paused at D, B and C', async () => {
    // B imports from a database file (its imports run on the import thread).
    const b = await startFileNode('na-b');
    stops.push(() => b.stop());
    const c = await startNode('na-c');
    stops.push(() => c.stop());
    const d = await startNode('na-d');
    stops.push(() => d.stop());
    const witnesses = [await witnessEntry(b), await witnessEntry(c), await witnessEntry(d)];
    const a = await startNode('na-a', { config: { witnesses: parseWitnessesJson(JSON.stringify(witnesses)) } });
    stops.push(() => a.stop());

    // B, C and D recognize A and pull from it; D also gossips with B and C (it recognizes them and has them as peers).
    for (const w of [b, c, d]) await recognizeAndPeer(w, a);
    await recognizeAndPeer(d, b);
    await recognizeAndPeer(d, c);
    const enable = async (w: Node) => {
      const res = await w.admin('POST', '/admin/witness/logs', { sovereign_id: 'na-a', origin: 'na-a/log' });
      expect(res.status, await res.clone().text()).toBe(200);
    };

    // B's policy: 2 of B's, C's and D's witness keys.
    const policy = await b.admin('POST', '/admin/witness/quorum', {
      issuer_sovereign_id: 'na-a',
      quorum: 2,
      witnesses: witnesses.map((w) => ({ name: w.name, vkey: w.vkey })),
    });
    expect(policy.status, await policy.clone().text()).toBe(200);

    // A publishes. No witness has cosigned: B waits, imports nothing, says so once in its audit log.
    publishAtSizes(a, [3]);
    const pullB = async () => (await runPullJob(b.deps)).peers.find((p) => p.sovereign_id === 'na-a')!;
    expect(await pullB()).toMatchObject({
      outcome: 'awaiting_quorum',
      imported: 0,
      quorum: { problem: 'not_enough_cosignatures', quorum: 2, cosigned_by: [], feed_size: 3 },
    });
    expect(b.db.sqlite.prepare('SELECT count(*) FROM imported_feeds').pluck().get()).toBe(0);

    // Only C witnesses A so far: one cosignature of two. B still waits (no second audit event).
    await enable(c);
    let round = await submitToWitnesses(a.deps);
    expect(round.witnesses.map((w) => w.outcome)).toEqual(['failed', 'cosigned', 'failed']);
    expect(await pullB()).toMatchObject({ outcome: 'awaiting_quorum', quorum: { cosigned_by: ['na-c/witness'] } });
    expect(events(b, 'feed_awaiting_quorum')).toHaveLength(1);
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    expect(metrics).toContain('accord_feed_issuer_awaiting_quorum{issuer="na-a"} 1');

    // B and D witness A too: the quorum appears, and the next pull imports.
    await enable(b);
    await enable(d);
    round = await submitToWitnesses(a.deps, { force: true });
    expect(round.witnesses.map((w) => w.outcome)).toEqual(['cosigned', 'up_to_date', 'cosigned']);
    expect((await latestNote(a)).split('\n\u2014 ').length).toBe(5); // the log's signature and three cosignatures
    expect(await pullB()).toMatchObject({ outcome: 'ok', imported: 1, imported_sequence: 1 });
    expect(events(b, 'feed_quorum_met')[0]).toMatchObject({
      details: { issuer: 'na-a', sequence: 1, quorum: 2, cosigned_by: ['na-b/witness', 'na-c/witness', 'na-d/witness'], witnessed_size: 3 },
    });
    expect(await (await fetch(`${b.url}/metrics`)).text()).toContain('accord_feed_issuer_awaiting_quorum{issuer="na-a"} 0');

    // A forks: a second history under the same key and origin, grown from another tree of size 3, submitted to D only.
    const fork = forkOf('na-a', '2026-03-01T00:00:00Z');
    fork.config.witnesses = parseWitnessesJson(JSON.stringify([witnesses[2]]));
    publishForkAtSizes(fork, [3, 5]);
    const shown = await submitToWitnesses(fork.deps);
    expect(shown.witnesses).toMatchObject([{ witness: 'na-d/witness', outcome: 'failed', reason: 'rejected_proof' }]);

    // D refused it, kept the conflict, recorded the split view and paused A.
    expect(d.db.sqlite.prepare('SELECT size FROM witness_checkpoints').pluck().get()).toBe(3);
    expect(paused(d)).toEqual({ paused: 1, paused_reason: 'split_view' });
    const [detected] = events(d, 'split_view_detected');
    expect(detected).toMatchObject({
      actor: { type: 'system' },
      details: { issuer: 'na-a', origin: 'na-a/log', problem: 'inconsistent', source: 'witness', forwarding_to: ['na-b', 'na-c'] },
    });
    const hash = detected!.details.evidence_hash as string;

    // D's gossip: B and C each verify the evidence and pause A.
    const delivered = await forwardEvidence(d.deps);
    expect(delivered.deliveries.map((x) => [x.peer, x.outcome, x.answer])).toEqual([
      ['na-b', 'delivered', 'recorded'],
      ['na-c', 'delivered', 'recorded'],
    ]);
    for (const n of [b, c]) {
      expect(paused(n)).toEqual({ paused: 1, paused_reason: 'split_view' });
      expect(events(n, 'split_view_detected')).toMatchObject([
        { actor: { type: 'anonymous' }, details: { issuer: 'na-a', evidence_hash: hash, problem: 'inconsistent', source: 'peer' } },
      ]);
    }
    // The evidence is the same document everywhere.
    const exported = await Promise.all(
      [b, c, d].map(async (n) => ((await (await n.admin('GET', `/admin/split-views/${hash}`)).json()) as { evidence: unknown }).evidence),
    );
    expect(exported[0]).toEqual(exported[2]);
    expect(exported[1]).toEqual(exported[2]);

    // B no longer imports from A, even what the genuine A publishes next.
    publishAtSizes(a, [4]);
    expect(await pullB()).toMatchObject({ outcome: 'skipped', reason: 'paused' });

    // Every step, in each audit log.
    const types = [
      'witness_log_enabled',
      'witness_quorum_policy_set',
      'feed_awaiting_quorum',
      'witness_checkpoint_cosigned',
      'sovereign_revocation_feed_imported',
      'feed_quorum_met',
      'witness_conflict_detected',
      'split_view_detected',
      'feed_issuer_paused',
      'split_view_evidence_forwarded',
      'witness_cosigning_failing',
      'witness_cosigning_recovered',
      'revocation_feed_published',
    ];
    expect(auditTrail(a, types)).toEqual([
      'revocation_feed_published',
      'witness_cosigning_failing',
      'witness_cosigning_failing',
      'witness_cosigning_recovered',
      'witness_cosigning_recovered',
      'revocation_feed_published',
    ]);
    expect(auditTrail(b, types)).toEqual([
      'witness_quorum_policy_set',
      'feed_awaiting_quorum',
      'witness_log_enabled',
      'witness_checkpoint_cosigned',
      'sovereign_revocation_feed_imported',
      'feed_quorum_met',
      'split_view_detected',
      'feed_issuer_paused',
    ]);
    expect(auditTrail(c, types)).toEqual([
      'witness_log_enabled',
      'witness_checkpoint_cosigned',
      'split_view_detected',
      'feed_issuer_paused',
    ]);
    expect(auditTrail(d, types)).toEqual([
      'witness_log_enabled',
      'witness_checkpoint_cosigned',
      'witness_conflict_detected',
      'split_view_detected',
      'feed_issuer_paused',
      'split_view_evidence_forwarded',
      'split_view_evidence_forwarded',
    ]);
    expect(events(d, 'split_view_evidence_forwarded').map((e) => e.details)).toEqual([
      expect.objectContaining({ evidence_hash: hash, issuer: 'na-a', peer: 'na-b', answer: 'recorded', attempts: 1 }),
      expect.objectContaining({ evidence_hash: hash, issuer: 'na-a', peer: 'na-c', answer: 'recorded', attempts: 1 }),
    ]);
  }, 60_000);
});
