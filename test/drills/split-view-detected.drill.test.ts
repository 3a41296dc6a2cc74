// Drill: ops/runbooks/split-view-detected.md with three real authorities over HTTP. D witnesses A and gossips with B;
// B imports A. A's key signs a second checkpoint of the size D cosigned, with another root, and it is shown to D's
// witness: D refuses it, records the split view, pauses A and sends the evidence to B, which verifies it and pauses A
// too. B's operator follows the runbook: identify, contain, export the evidence and the record, send the evidence on,
// and — once A's operator has explained — resume and pull A's genuine log again.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { signNote } from '../../src/authority/signed-note.ts';
import { formatCheckpoint } from '../../src/transparency/checkpoint.ts';
import { DrillAuthority, jsonLines, removeDrillDirs } from './harness.ts';

const RARELY = '0 0 1 1 *';
let a: DrillAuthority;
let b: DrillAuthority;
let d: DrillAuthority;

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), d?.stop()]);
  removeDrillDirs();
});

async function addCheckpoint(witness: DrillAuthority, old: number, note: string): Promise<number> {
  const res = await fetch(`${witness.url}/witness/add-checkpoint`, { method: 'POST', body: `old ${old}\n\n${note}` });
  await res.text();
  return res.status;
}

describe('drill: split view detected', () => {
  it('evidence found by a witness reaches the importer; the runbook contains, exports, forwards and recovers', async () => {
    const quiet = { ACCORD_FEED_PULL_CRON: RARELY, ACCORD_FEED_PUBLISH_CRON: RARELY };
    a = await DrillAuthority.create('drill-a', quiet);
    b = await DrillAuthority.create('drill-b', quiet);
    d = await DrillAuthority.create('drill-d', quiet);
    await Promise.all([a.start(), b.start(), d.start()]);
    const aKey = a.signingKey();

    // Setup: B and D recognize A and pull from it; D also recognizes B and has it as a peer (gossip).
    const recognize = async (from: DrillAuthority, id: string, publicKey: string) => {
      const res = await from.admin('POST', '/admin/recognition-treaties', {
        subject_sovereign_id: id,
        subject_public_keys: [publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24 * 30,
      });
      expect(res.status).toBe(201);
      return res.body.treaty_id as string;
    };
    const treatyOfB = await recognize(b, 'drill-a', aKey.publicKey);
    await recognize(d, 'drill-a', aKey.publicKey);
    await recognize(d, 'drill-b', b.signingKey().publicKey);
    for (const n of [b, d]) expect((await n.admin('POST', '/admin/peers', { sovereign_id: 'drill-a', base_url: a.url })).status).toBe(201);
    expect((await d.admin('POST', '/admin/peers', { sovereign_id: 'drill-b', base_url: b.url })).status).toBe(201);
    for (const id of ['x', 'y']) {
      const att = (await a.admin('POST', '/admin/attestations', { subject_id: `node-${id}`, roles: ['role:client'], validity_hours: 48 }))
        .body;
      expect((await a.admin('POST', `/admin/attestations/${att.attestation_id}/revoke`, { reason: 'privilege_withdrawn' })).status).toBe(
        200,
      );
    }
    expect((await a.admin('POST', '/admin/revocation-feeds/publish', {})).status).toBe(200);
    for (const n of [b, d]) expect((await n.admin('POST', '/admin/peers/drill-a/pull')).body).toMatchObject({ outcome: 'ok' });
    expect((await d.admin('POST', '/admin/witness/logs', { sovereign_id: 'drill-a' })).status).toBe(200);
    const genuine = (await a.get('/log/checkpoint')).text;
    const size = Number(genuine.split('\n')[1]);
    expect(size).toBe(2);
    expect(await addCheckpoint(d, 0, genuine)).toBe(200);

    // The incident: A's key signs another checkpoint of size 2, and it is shown to D's witness.
    const forged = signNote(formatCheckpoint({ origin: 'drill-a/log', size, rootHash: `sha256:${'5a'.repeat(32)}` }), 'drill-a/log', [
      aKey,
    ]);
    expect(await addCheckpoint(d, size, forged)).toBe(422);
    // D recorded it, paused A, and its gossip delivers the evidence to B (in the background).
    expect((await d.admin('GET', '/admin/split-views')).body).toMatchObject({
      split_views: [{ issuer_sovereign_id: 'drill-a', problem: 'root_mismatch', source: 'witness' }],
    });
    await b.until(
      async () => ((await b.admin('GET', '/admin/split-views')).body.split_views.length > 0 ? true : null),
      'the evidence at B',
    );

    // Identify.
    const listed = await b.cli(['split-view', 'list', '--issuer', 'drill-a']);
    expect(listed.code).toBe(0);
    const [record] = listed.json<{ split_views: Array<Record<string, any>> }>().split_views;
    expect(record).toMatchObject({
      issuer_sovereign_id: 'drill-a',
      problem: 'root_mismatch',
      source: 'peer',
      first_size: 2,
      second_size: 2,
    });
    const hash = record!.evidence_hash as string;
    const peers = await b.cli(['feed', 'peers']);
    expect(peers.json<{ peers: Array<Record<string, unknown>> }>().peers).toEqual([
      expect.objectContaining({ sovereign_id: 'drill-a', paused: true, paused_reason: 'split_view' }),
    ]);

    // Contain: A stays paused (pausing again changes nothing).
    const paused = await b.cli(['feed', 'pause', 'drill-a']);
    expect(paused.code).toBe(0);
    expect(paused.json()).toMatchObject({ paused: true, changed: false });

    // Investigate: the evidence document and the record of every step.
    expect((await b.cli(['split-view', 'show', hash])).json()).toMatchObject({
      evidence_hash: hash,
      evidence: { type: 'split_view_evidence' },
    });
    const file = b.file('evidence.json');
    const exported = await b.cli(['split-view', 'export', hash, '--output', file]);
    expect(exported.code, exported.stderr).toBe(0);
    const document = JSON.parse(fs.readFileSync(file, 'utf8')) as { checkpoints: string[] };
    // The checkpoint D cosigned (A's note with D's cosignature appended) and the forged one.
    expect(document.checkpoints).toContain(forged);
    expect(document.checkpoints.find((c) => c !== forged)!.startsWith(genuine)).toBe(true);
    const history = b.file('split-view.jsonl');
    const audit = await b.cli([
      'audit-export',
      '--db',
      b.dbPath,
      '--event-type',
      'split_view_detected',
      '--event-type',
      'feed_issuer_paused',
      '--output',
      history,
      '--signed',
    ]);
    expect(audit.code, audit.stderr).toBe(0);
    expect(jsonLines(history).map((e) => [e.event_type, e.details.evidence_hash ?? e.details.reason])).toEqual([
      ['split_view_detected', hash],
      ['feed_issuer_paused', 'split_view'],
    ]);
    const forwardedByD = d.file('forwarded.jsonl');
    expect(
      (await d.cli(['audit-export', '--db', d.dbPath, '--event-type', 'split_view_evidence_forwarded', '--output', forwardedByD])).code,
    ).toBe(0);
    expect(jsonLines(forwardedByD).map((e) => e.details)).toEqual([
      expect.objectContaining({ evidence_hash: hash, peer: 'drill-b', answer: 'recorded' }),
    ]);

    // Recover: nothing pending at B; the evidence file verifies anywhere (D knows it already); after A's
    // operator explained (its genuine log never changed), B resumes and pulls A's genuine history.
    const forward = await b.cli(['split-view', 'forward']);
    expect(forward.code, forward.stderr).toBe(0);
    const submitted = await b.cli(['split-view', 'submit', file, '--url', d.url]);
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(submitted.json()).toMatchObject({ status: 'already_known', evidence_hash: hash });
    expect((await b.cli(['feed', 'resume', 'drill-a'])).code).toBe(0);
    const pulled = await b.cli(['feed', 'pull', 'drill-a']);
    expect(pulled.code, pulled.stderr).toBe(0);
    // The same evidence arriving again does not pause A again.
    expect((await b.cli(['split-view', 'submit', file])).json()).toMatchObject({ status: 'already_known', paused: false });
    expect((await b.admin('GET', '/admin/peers/drill-a')).body).toMatchObject({ paused: false });
    expect(treatyOfB).toMatch(/^[0-9a-f-]{36}$/);
  }, 420_000);
});
