// Importers require a quorum: an issuer's feed is imported only when its log head is in a checkpoint of the
// issuer cosigned by k of the witnesses the operator named. Over real HTTP: the pull job, manual imports, the
// policy's admin routes; what counts as a cosignature (and what does not); the awaiting state, audited once.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cosignatureLine, formatCosignerKey } from '../../src/authority/cosignature.ts';
import type { SigningKey } from '../../src/authority/crypto.ts';
import { runPullJob } from '../../src/feeds/pull.ts';
import { auditCount, dbDigest, lastAudit, testKey } from '../helpers/authority.ts';
import { listen, startNode, type Node } from '../feeds/network.ts';
import { removeTempDirs } from '../ops/helpers.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import { forgedNote, noteText } from './helpers.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});
afterAll(removeTempDirs);

interface Witness {
  name: string;
  key: SigningKey;
  vkey: string;
}

function witness(label: string): Witness {
  const name = `${label}/witness`;
  const key = testKey(`quorum-witness:${label}`);
  return { name, key, vkey: formatCosignerKey(name, key.raw) };
}

const W1 = witness('w1');
const W2 = witness('w2');
const W3 = witness('w3');
const OUTSIDER = witness('outsider');

/** The log-signed checkpoint of feed `sequence` with cosignature lines by `cosigners` at `timestamp`. */
async function cosigned(
  log: Node,
  sequence: number,
  cosigners: Witness[],
  timestamp = Math.floor(log.clock().getTime() / 1000),
): Promise<string> {
  const note = await (await fetch(`${log.url}/log/checkpoints/${sequence}`)).text();
  return `${note}${cosigners.map((w) => cosignatureLine(noteText(note), w.name, w.key, timestamp)).join('')}`;
}

/**
 * The issuer behind a front that serves `served.note` as its cosigned checkpoint (what the issuer
 * would serve once its witnesses answered); every other path goes to the issuer itself.
 */
async function issuerBehindFront(id = 'na-issuer'): Promise<{ log: Node; front: string; served: { note: string | null } }> {
  const log = await startNode(id);
  stops.push(() => log.stop());
  const served: { note: string | null } = { note: null };
  const proxy = await listen(async (req) => {
    const url = new URL(req.url);
    if (url.pathname === '/log/checkpoint' && served.note !== null)
      return new Response(served.note, { headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
    return fetch(`${log.url}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      ...(req.method === 'POST' ? { body: await req.text() } : {}),
    });
  });
  stops.push(proxy.stop);
  return { log, front: proxy.url, served };
}

async function importer(issuerId: string, front: string): Promise<Node> {
  const i = await startNode('na-importer');
  stops.push(() => i.stop());
  const { recognize } = await import('../feeds/simulated-issuer.ts');
  recognize(i, issuerId, [testKey(`authority:${issuerId}`)], { scope: { allowed_roles: ['role:client'] } });
  const res = await i.admin('POST', '/admin/peers', { sovereign_id: issuerId, base_url: front });
  expect(res.status).toBe(201);
  return i;
}

async function setPolicy(i: Node, issuer: string, quorum: number, witnesses: Witness[]): Promise<Response> {
  return i.admin('POST', '/admin/witness/quorum', {
    issuer_sovereign_id: issuer,
    quorum,
    witnesses: witnesses.map((w) => ({ name: w.name, vkey: w.vkey })),
  });
}

const importedSequence = (i: Node, issuer: string) =>
  (i.db.sqlite.prepare('SELECT last_sequence FROM feed_issuers WHERE issuer_sovereign_id = ?').pluck().get(issuer) as number | undefined) ??
  0;
const importedFeeds = (i: Node) => i.db.sqlite.prepare('SELECT count(*) FROM imported_feeds').pluck().get() as number;
async function gauge(i: Node, issuer: string): Promise<string | null> {
  const text = await (await fetch(`${i.url}/metrics`)).text();
  return new RegExp(`^accord_feed_issuer_awaiting_quorum\\{issuer="${issuer}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? null;
}
function lastAuditOf(i: Node, type: string): Record<string, unknown> {
  return JSON.parse(
    i.db.sqlite.prepare('SELECT canonical FROM audit_events WHERE event_type = ? ORDER BY seq DESC LIMIT 1').pluck().get(type) as string,
  ) as Record<string, unknown>;
}
async function pull(i: Node) {
  return (await runPullJob(i.deps)).peers[0]!;
}

describe('the pull job and a quorum policy', () => {
  it('holds feeds back until k policy witnesses cosigned; one audit event entering the state, one leaving; the gauge follows', async () => {
    const { log, front, served } = await issuerBehindFront();
    const i = await importer(log.sovereignId, front);
    expect((await setPolicy(i, log.sovereignId, 2, [W1, W2, W3])).status).toBe(200);
    publishAtSizes(log, [3]);

    // No cosignature yet: awaiting_quorum, nothing imported, not a pull failure.
    let result = await pull(i);
    expect(result).toMatchObject({
      outcome: 'awaiting_quorum',
      reason: 'awaiting_quorum',
      imported: 0,
      imported_sequence: 0,
      quorum: { problem: 'not_enough_cosignatures', quorum: 2, cosigned_by: [], witnessed_size: 3, feed_size: 3 },
    });
    expect(importedFeeds(i)).toBe(0);
    expect(auditCount(i.db, 'feed_awaiting_quorum')).toBe(1);
    expect(auditCount(i.db, 'feed_pull_failing')).toBe(0);
    expect(auditCount(i.db, 'sovereign_revocation_feed_rejected')).toBe(0);
    expect(await gauge(i, log.sovereignId)).toBe('1');
    const policy = (await (await i.admin('GET', `/admin/witness/quorum/${log.sovereignId}`)).json()) as Record<string, unknown>;
    expect(policy).toMatchObject({ quorum: 2, awaiting_quorum: { since: '2026-03-01T00:00:00Z', sequence: 1 } });

    // Pulling again changes nothing (but the peer's last attempt time) and audits nothing: no error storm.
    const before = dbDigest(i.db, ['admin_nonces', 'peers']);
    for (let n = 0; n < 3; n++) expect((await pull(i)).outcome).toBe('awaiting_quorum');
    expect(dbDigest(i.db, ['admin_nonces', 'peers'])).toBe(before);
    expect(auditCount(i.db, 'feed_awaiting_quorum')).toBe(1);

    // One policy witness, one outsider, and that witness again (another timestamp): still one of two.
    served.note = await cosigned(log, 1, [W1, OUTSIDER]);
    served.note += cosignatureLine(noteText(served.note), W1.name, W1.key, Math.floor(log.clock().getTime() / 1000) - 60);
    result = await pull(i);
    expect(result).toMatchObject({
      outcome: 'awaiting_quorum',
      quorum: { problem: 'not_enough_cosignatures', cosigned_by: ['w1/witness'] },
    });
    expect(importedFeeds(i)).toBe(0);

    // A line with a policy witness's name and key id but a forged signature, and one dated beyond the clock skew: no count.
    const note = await cosigned(log, 1, [W1]);
    const forged = `\u2014 ${W2.name} ${Buffer.concat([Buffer.from(cosignatureLine(noteText(note), W2.name, W2.key, 1).split(' ')[2]!, 'base64').subarray(0, 12), Buffer.alloc(64, 7)]).toString('base64')}\n`;
    const future = cosignatureLine(
      noteText(note),
      W3.name,
      W3.key,
      Math.floor(log.clock().getTime() / 1000) + i.config.clockSkewSeconds + 60,
    );
    served.note = `${note}${forged}${future}`;
    result = await pull(i);
    expect(result).toMatchObject({ outcome: 'awaiting_quorum', quorum: { cosigned_by: ['w1/witness'] } });

    // Two policy witnesses: imported at once, the state left (audited), the gauge back to 0.
    served.note = await cosigned(log, 1, [W3, W1]);
    result = await pull(i);
    expect(result).toMatchObject({ outcome: 'ok', imported: 1, imported_sequence: 1 });
    expect(auditCount(i.db, 'feed_quorum_met')).toBe(1);
    const met = i.db.sqlite.prepare("SELECT canonical FROM audit_events WHERE event_type = 'feed_quorum_met'").pluck().get() as string;
    expect(JSON.parse(met)).toMatchObject({
      actor: { type: 'system' },
      details: {
        issuer: 'na-issuer',
        sequence: 1,
        quorum: 2,
        cosigned_by: ['w1/witness', 'w3/witness'],
        witnessed_size: 3,
        awaiting_since: '2026-03-01T00:00:00Z',
      },
    });
    const imported = i.db.sqlite
      .prepare("SELECT canonical FROM audit_events WHERE event_type = 'sovereign_revocation_feed_imported'")
      .pluck()
      .get() as string;
    expect(JSON.parse(imported).details.quorum).toEqual({ required: 2, cosigned_by: ['w1/witness', 'w3/witness'], witnessed_size: 3 });
    expect(await gauge(i, log.sovereignId)).toBe('0');
  });

  it('a stale cosigned checkpoint (smaller than the feed head) does not satisfy the quorum; a larger one holds earlier feeds through a proof', async () => {
    const { log, front, served } = await issuerBehindFront();
    const i = await importer(log.sovereignId, front);
    expect((await setPolicy(i, log.sovereignId, 2, [W1, W2])).status).toBe(200);
    publishAtSizes(log, [3]);
    served.note = await cosigned(log, 1, [W1, W2]);
    expect(await pull(i)).toMatchObject({ outcome: 'ok', imported: 1 });

    // The issuer publishes size 5; its witnesses have not cosigned it: the checkpoint of size 3 is stale.
    publishAtSizes(log, [5]);
    expect(await pull(i)).toMatchObject({
      outcome: 'awaiting_quorum',
      imported: 0,
      quorum: { problem: 'checkpoint_behind_feed', witnessed_size: 3, feed_size: 5 },
    });
    expect(importedSequence(i, log.sovereignId)).toBe(1);
    expect(auditCount(i.db, 'feed_awaiting_quorum')).toBe(1);

    // Two more feeds; the witnesses cosign the latest (size 9): feeds 2 and 3 are held by proofs to it, feed 4 is its own.
    publishAtSizes(log, [7, 9]);
    served.note = await cosigned(log, 4, [W2, W1]);
    expect(await pull(i)).toMatchObject({ outcome: 'ok', imported: 3, imported_sequence: 4 });
    expect(auditCount(i.db, 'feed_quorum_met')).toBe(1);

    // A cosigned checkpoint of the feed's size with another root: the feed is not in it, so it is held back;
    // and the checkpoint contradicts the log, so the pull fails (a failed proof alone is no split-view evidence).
    publishAtSizes(log, [11]);
    const fake = forgedNote(log, 11, 'ab'.repeat(32));
    served.note = `${fake}${cosignatureLine(noteText(fake), W1.name, W1.key, 100)}${cosignatureLine(noteText(fake), W2.name, W2.key, 100)}`;
    expect(await pull(i)).toMatchObject({ outcome: 'failed', reason: 'checkpoint_inconsistent' });
    expect(importedSequence(i, log.sovereignId)).toBe(4);
    expect(lastAuditOf(i, 'feed_awaiting_quorum')).toMatchObject({
      details: { issuer: 'na-issuer', sequence: 5, problem: 'feed_not_in_checkpoint', witnessed_size: 11, feed_size: 11 },
    });
    expect(i.db.sqlite.prepare('SELECT count(*) FROM split_view_evidence').pluck().get()).toBe(0);
  });

  it('clearing the policy releases held-back feeds at the next pull; setting one is audited', async () => {
    const { log, front } = await issuerBehindFront();
    const i = await importer(log.sovereignId, front);
    expect((await setPolicy(i, log.sovereignId, 1, [W1])).status).toBe(200);
    expect(lastAudit(i.db)).toMatchObject({
      event_type: 'witness_quorum_policy_set',
      actor: { type: 'operator', label: 'ops' },
      details: { issuer: 'na-issuer', quorum: 1, witnesses: [{ name: 'w1/witness', vkey: W1.vkey }], previous: null },
    });
    publishAtSizes(log, [2]);
    expect((await pull(i)).outcome).toBe('awaiting_quorum');
    const res = await i.admin('DELETE', `/admin/witness/quorum/${log.sovereignId}`);
    expect(await res.json()).toEqual({ issuer_sovereign_id: 'na-issuer', cleared: true });
    expect(lastAudit(i.db)).toMatchObject({
      event_type: 'witness_quorum_policy_cleared',
      details: { issuer: 'na-issuer', quorum: 1, witnesses: ['w1/witness'], was_awaiting_quorum: true },
    });
    expect(await gauge(i, log.sovereignId)).toBeNull();
    expect(await pull(i)).toMatchObject({ outcome: 'ok', imported: 1 });
  });
});

describe('manual import and a quorum policy', () => {
  it('refused with awaiting_quorum and nothing changed without a cosigned checkpoint; imported with one', async () => {
    const { log } = await issuerBehindFront();
    const i = await importer(log.sovereignId, 'http://127.0.0.1:9');
    expect((await setPolicy(i, log.sovereignId, 2, [W1, W2])).status).toBe(200);
    publishAtSizes(log, [3, 6]);
    const feed1 = await (await fetch(`${log.url}/revocation-feeds/1`)).json();
    const feed2 = await (await fetch(`${log.url}/revocation-feeds/2`)).json();

    const everything = () => dbDigest(i.db, ['admin_nonces']);
    const refusals: Array<[unknown, string]> = [
      [{ feed: feed1 }, 'no_cosigned_checkpoint'],
      [{ feed: feed1, cosigned_checkpoint: await cosigned(log, 1, [W1]) }, 'not_enough_cosignatures'],
      [{ feed: feed1, cosigned_checkpoint: await cosigned(log, 1, [W1, W1, OUTSIDER]) }, 'not_enough_cosignatures'],
      [{ feed: feed1, cosigned_checkpoint: await cosigned(log, 2, [W1, W2]) }, 'feed_not_in_checkpoint'],
      [
        { feed: feed1, cosigned_checkpoint: (await cosigned(log, 1, [W1, W2])).replace('na-issuer/log', 'na-issuer/other') },
        'checkpoint_not_verified',
      ],
    ];
    for (const [body, problem] of refusals) {
      const before = everything();
      const res = await i.admin('POST', '/admin/revocation-feeds/import', body);
      expect(res.status, problem).toBe(409);
      expect(await res.json(), problem).toMatchObject({
        error: { code: 'awaiting_quorum', details: { reason: 'awaiting_quorum', problem } },
      });
      expect(everything(), problem).toBe(before);
    }

    // Malformed additions are step 1 (audited rejections, nothing imported).
    for (const [body, path] of [
      [{ feed: feed1, cosigned_checkpoint: 42 }, 'cosigned_checkpoint'],
      [{ feed: feed1, checkpoint_proof: [] }, 'checkpoint_proof'],
      [{ feed: feed1, cosigned_checkpoint: 'x', checkpoint_proof: ['nope'] }, 'checkpoint_proof'],
      [{ feed: feed1, cosigned_checkpoint: 'x', witnesses: [] }, '(root)'],
    ] as const) {
      const res = await i.admin('POST', '/admin/revocation-feeds/import', body);
      expect(res.status, path).toBe(422);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_revocation_feed', details: { issues: [{ path }] } } });
    }
    expect(importedFeeds(i)).toBe(0);

    // Feed 1 held by the cosigned checkpoint of feed 2 and the issuer's proof from size 3 to 6; then feed 2 by its own.
    const proof = (await (await fetch(`${log.url}/log/proof/consistency?from=3&to=6`)).json()) as { proof: string[] };
    const note2 = await cosigned(log, 2, [W1, W2]);
    let res = await i.admin('POST', '/admin/revocation-feeds/import', {
      feed: feed1,
      cosigned_checkpoint: note2,
      checkpoint_proof: proof.proof,
    });
    expect(res.status, await res.clone().text()).toBe(200);
    res = await i.admin('POST', '/admin/revocation-feeds/import', { feed: feed2, cosigned_checkpoint: note2 });
    expect(await res.json()).toMatchObject({ status: 'imported', sequence: 2 });
    expect(auditCount(i.db, 'feed_awaiting_quorum')).toBe(0);
  });
});

describe('the policy admin routes', () => {
  it('show, replace and refuse bad policies with nothing changed', async () => {
    const i = await startNode('na-importer');
    stops.push(() => i.stop());
    expect((await setPolicy(i, 'na-x', 2, [W1, W2])).status).toBe(200);
    const replaced = await setPolicy(i, 'na-x', 1, [W3]);
    expect(await replaced.json()).toMatchObject({
      issuer_sovereign_id: 'na-x',
      quorum: 1,
      witnesses: [{ name: 'w3/witness', vkey: W3.vkey }],
      awaiting_quorum: null,
      changed: true,
    });
    expect(lastAudit(i.db)).toMatchObject({ details: { previous: { quorum: 2, witnesses: ['w1/witness', 'w2/witness'] } } });
    expect(await (await setPolicy(i, 'na-x', 1, [W3])).json()).toMatchObject({ changed: false });
    expect(await (await i.admin('GET', '/admin/witness/quorum')).json()).toMatchObject({
      policies: [{ issuer_sovereign_id: 'na-x', quorum: 1 }],
    });

    const noteKey = (await import('../../src/authority/signed-note.ts')).formatVerifierKey(W1.name, W1.key.raw);
    const bad: Array<[unknown, string]> = [
      [
        {
          issuer_sovereign_id: 'na-y',
          quorum: 3,
          witnesses: [
            { name: W1.name, vkey: W1.vkey },
            { name: W2.name, vkey: W2.vkey },
          ],
        },
        'quorum',
      ],
      [{ issuer_sovereign_id: 'na-y', quorum: 0, witnesses: [{ name: W1.name, vkey: W1.vkey }] }, ''],
      [{ issuer_sovereign_id: 'na-y', quorum: 1, witnesses: [{ name: W1.name, vkey: noteKey }] }, 'witnesses.0.vkey'],
      [{ issuer_sovereign_id: 'na-y', quorum: 1, witnesses: [{ name: W2.name, vkey: W1.vkey }] }, 'witnesses.0.name'],
      [
        {
          issuer_sovereign_id: 'na-y',
          quorum: 1,
          witnesses: [
            { name: W1.name, vkey: W1.vkey },
            { name: W1.name, vkey: W1.vkey },
          ],
        },
        'witnesses.1.name',
      ],
      [
        {
          issuer_sovereign_id: 'na-y',
          quorum: 1,
          witnesses: [
            { name: W1.name, vkey: W1.vkey },
            { name: 'alias/witness', vkey: formatCosignerKey('alias/witness', W1.key.raw) },
          ],
        },
        'witnesses.1.vkey',
      ],
      [{ issuer_sovereign_id: 'na-y', quorum: 1, witnesses: [{ name: W1.name, vkey: W1.vkey, url: 'x' }] }, ''],
      [{ issuer_sovereign_id: 'na-y', quorum: 1, witnesses: [] }, ''],
      [{ issuer_sovereign_id: 'na-importer', quorum: 1, witnesses: [{ name: W1.name, vkey: W1.vkey }] }, 'issuer_sovereign_id'],
      [{ issuer_sovereign_id: 'bad id', quorum: 1, witnesses: [{ name: W1.name, vkey: W1.vkey }] }, ''],
    ];
    for (const [body, field] of bad) {
      const before = dbDigest(i.db, ['admin_nonces']);
      const res = await i.admin('POST', '/admin/witness/quorum', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      const error = ((await res.json()) as { error: { code: string; details: Record<string, unknown> } }).error;
      expect(error.code).toBe('invalid_quorum_policy');
      if (field) expect(error.details.field).toBe(field);
      expect(dbDigest(i.db, ['admin_nonces']), JSON.stringify(body)).toBe(before);
    }
    for (const path of ['/admin/witness/quorum/na-y', '/admin/witness/quorum/-bad']) {
      expect(await (await i.admin('GET', path)).json()).toMatchObject({ error: { code: 'quorum_policy_not_found' } });
    }
    const before = dbDigest(i.db, ['admin_nonces']);
    expect(await (await i.admin('DELETE', '/admin/witness/quorum/na-y')).json()).toMatchObject({
      error: { code: 'quorum_policy_not_found' },
    });
    expect(dbDigest(i.db, ['admin_nonces'])).toBe(before);
  });
});
