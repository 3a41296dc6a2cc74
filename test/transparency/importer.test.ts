// Importers check, not trust: a pulled feed's head needs the issuer's consistency proof from the last imported head, once the issuer serves proofs; attacks as a table.
import { afterEach, describe, expect, it } from 'vitest';
import { runPullJob } from '../../src/feeds/pull.ts';
import { formatCheckpoint } from '../../src/transparency/checkpoint.ts';
import { parseNote, signNote } from '../../src/authority/signed-note.ts';
import { auditCount, dbDigest, lastAudit, testKey } from '../helpers/authority.ts';
import { listen, startNode, type Node } from '../feeds/network.ts';
import { recognize } from '../feeds/simulated-issuer.ts';
import { publishAtSizes } from './helpers.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function node(id: string): Promise<Node> {
  const n = await startNode(id);
  stops.push(n.stop);
  return n;
}

type Tamper = (path: string, res: { status: number; body: Buffer }) => { status: number; body: Buffer };

/** A proxy in front of the issuer: the importer peers with it, so every answer passes `tamper`. */
async function proxyFor(issuer: Node, tamper: { current: Tamper }): Promise<string> {
  const proxy = await listen(async (req) => {
    const url = new URL(req.url);
    const res = await fetch(`${issuer.url}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      ...(req.method === 'POST' ? { body: await req.text() } : {}),
    });
    const out = tamper.current(`${url.pathname}${url.search}`, { status: res.status, body: Buffer.from(await res.arrayBuffer()) });
    return new Response(new Uint8Array(out.body), {
      status: out.status,
      headers: { 'Content-Type': res.headers.get('content-type') ?? 'application/json' },
    });
  });
  stops.push(proxy.stop);
  return proxy.url;
}

const passThrough: Tamper = (_path, res) => res;

/** Importer A pulls issuer B through a tampering proxy. */
async function pair(): Promise<{ a: Node; b: Node; tamper: { current: Tamper } }> {
  const [a, b] = [await node('importer-a'), await node('issuer-b')];
  const tamper = { current: passThrough };
  recognize(a, b.sovereignId, [b.signingKey], { scope: { allowed_roles: ['role:client', 'role:anchor'] } });
  const res = await a.admin('POST', '/admin/peers', { sovereign_id: b.sovereignId, base_url: await proxyFor(b, tamper) });
  expect(res.status).toBe(201);
  return { a, b, tamper };
}

const importedSize = (a: Node) =>
  (a.db.sqlite.prepare('SELECT log_size FROM feed_issuers WHERE issuer_sovereign_id = ?').pluck().get('issuer-b') as number | undefined) ??
  0;
const failures = (a: Node) =>
  a.db.sqlite.prepare('SELECT sequence, from_size, to_size, problem, proof FROM log_consistency_failures').all() as Array<{
    sequence: number;
    from_size: number;
    to_size: number;
    problem: string;
    proof: string | null;
  }>;
const json = (body: Buffer) => JSON.parse(body.toString('utf8')) as Record<string, unknown>;

describe('pulling with consistency proofs', () => {
  it('an Accord issuer: the second feed comes with a proof from the first head, which verifies; proofs are required from then on', async () => {
    const { a, b, tamper } = await pair();
    const asked: string[] = [];
    tamper.current = (path, res) => {
      if (path.startsWith('/log/')) asked.push(path);
      return res;
    };
    publishAtSizes(b, [3]);
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 1 });
    // Nothing to prove for the first head; the issuer's checkpoint is read and matches it.
    expect(asked).toEqual(['/log/checkpoint']);
    publishAtSizes(b, [3, 8]); // a heartbeat (no new entries, nothing to prove), then 5 entries
    asked.length = 0;
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 2 });
    expect(asked).toEqual(['/log/proof/consistency?from=3&to=8', '/log/checkpoint']);
    expect(
      a.db.sqlite
        .prepare('SELECT issuer_sovereign_id, last_verified_size, last_checkpoint_size, last_checkpoint FROM issuer_log_proofs')
        .all(),
    ).toEqual([
      {
        issuer_sovereign_id: 'issuer-b',
        last_verified_size: 8,
        last_checkpoint_size: 8,
        last_checkpoint: await (await b.app.request('/log/checkpoint')).text(),
      },
    ]);
    expect(failures(a)).toEqual([]);
  });

  // The attack table: each row tampers with what the issuer's log serves after the importer has seen a proof.
  const ATTACKS: Array<[string, Tamper, string]> = [
    [
      'a wrong consistency proof',
      (path, res) => {
        if (!path.startsWith('/log/proof/consistency')) return res;
        const body = json(res.body);
        (body.proof as string[]).reverse().push(`sha256:${'00'.repeat(32)}`);
        return { status: 200, body: Buffer.from(JSON.stringify(body)) };
      },
      'invalid',
    ],
    [
      'a proof for other sizes',
      (path, res) =>
        path.startsWith('/log/proof/consistency')
          ? { status: 200, body: Buffer.from(JSON.stringify({ ...json(res.body), from: 1 })) }
          : res,
      'invalid',
    ],
    [
      'garbage instead of a proof',
      (path, res) =>
        path.startsWith('/log/proof/consistency') ? { status: 200, body: Buffer.from('{"from":8,"to":12,"proof":"no"}') } : res,
      'invalid',
    ],
    [
      'the proof withheld (404)',
      (path, res) => (path.startsWith('/log/') ? { status: 404, body: Buffer.from('{"error":{"code":"not_found"}}') } : res),
      'missing',
    ],
  ];

  it.each(ATTACKS)(
    '%s: the feed is rejected (consistency_proof_invalid), audited, evidence kept, nothing imported',
    async (_name, attack, problem) => {
      const { a, b, tamper } = await pair();
      publishAtSizes(b, [3, 8]);
      await runPullJob(a.deps);
      expect(importedSize(a)).toBe(8);
      publishAtSizes(b, [12]);
      tamper.current = attack;
      const before = dbDigest(a.db, ['audit_events', 'admin_nonces', 'log_consistency_failures', 'peers']);
      const report = await runPullJob(a.deps);
      expect(report.peers[0]).toMatchObject({ outcome: 'failed', reason: 'consistency_proof_invalid', imported: 0 });
      expect(importedSize(a)).toBe(8);
      expect(dbDigest(a.db, ['audit_events', 'admin_nonces', 'log_consistency_failures', 'peers'])).toBe(before);
      expect(failures(a)).toEqual([expect.objectContaining({ sequence: 3, from_size: 8, to_size: 12, problem })]);
      const rejected = a.db.sqlite
        .prepare("SELECT canonical FROM audit_events WHERE event_type = 'sovereign_revocation_feed_rejected'")
        .pluck()
        .all() as string[];
      expect(rejected.map((r) => JSON.parse(r).details)).toEqual([
        expect.objectContaining({
          issuer: 'issuer-b',
          sequence: 3,
          reason: 'consistency_proof_invalid',
          problem,
          from_size: 8,
          to_size: 12,
        }),
      ]);

      // Once the issuer's log answers honestly again, the same feed imports.
      tamper.current = passThrough;
      a.clock.advance(3600);
      expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 1 });
      expect(importedSize(a)).toBe(12);
    },
  );

  // Attacks on the issuer's checkpoint: the feeds import, then the checkpoint shows another history.
  const note = (b: Node, text: string, key = b.signingKey) => Buffer.from(signNote(text, 'issuer-b/log', [key]));
  const CHECKPOINT_ATTACKS: Array<[string, (b: Node) => Tamper, string, string]> = [
    [
      'a checkpoint signed by another key',
      (b) => (path, res) =>
        path === '/log/checkpoint'
          ? { status: 200, body: note(b, (parseNote(res.body.toString('utf8')) as { text: string }).text, testKey('impostor')) }
          : res,
      'checkpoint_signature',
      'checkpoint_signature',
    ],
    [
      'a checkpoint with a smaller size (an older one, genuinely signed)',
      (b) => (path, res) =>
        path === '/log/checkpoint'
          ? {
              status: 200,
              body: Buffer.from(b.db.sqlite.prepare('SELECT note FROM log_checkpoints WHERE sequence = 1').pluck().get() as string),
            }
          : res,
      'checkpoint_rollback',
      'checkpoint_rollback',
    ],
    [
      'a checkpoint at the imported size with another root (signed by the issuer)',
      (b) => (path, res) =>
        path === '/log/checkpoint'
          ? { status: 200, body: note(b, formatCheckpoint({ origin: 'issuer-b/log', size: 12, rootHash: `sha256:${'ab'.repeat(32)}` })) }
          : res,
      'checkpoint_inconsistent',
      'checkpoint_inconsistent',
    ],
    [
      'a larger checkpoint with a wrong consistency proof',
      (b) => (path, res) => {
        if (path === '/log/checkpoint')
          return {
            status: 200,
            body: note(b, formatCheckpoint({ origin: 'issuer-b/log', size: 20, rootHash: `sha256:${'cd'.repeat(32)}` })),
          };
        if (path === '/log/proof/consistency?from=12&to=20')
          return { status: 200, body: Buffer.from(JSON.stringify({ from: 12, to: 20, proof: [`sha256:${'ef'.repeat(32)}`] })) };
        return res;
      },
      'checkpoint_inconsistent',
      'checkpoint_inconsistent',
    ],
    [
      'a checkpoint withdrawn after the log was proved',
      () => (path, res) => (path === '/log/checkpoint' ? { status: 404, body: Buffer.from('{}') } : res),
      'checkpoint_missing',
      '',
    ],
  ];

  it.each(CHECKPOINT_ATTACKS)('%s: the pull fails, evidence kept, the imported feeds stay', async (_name, attack, reason, problem) => {
    const { a, b, tamper } = await pair();
    publishAtSizes(b, [3, 8]);
    await runPullJob(a.deps);
    publishAtSizes(b, [12]);
    tamper.current = attack(b);
    const report = await runPullJob(a.deps);
    expect(report.peers[0]).toMatchObject({ outcome: 'failed', reason });
    expect(importedSize(a)).toBe(12);
    expect(failures(a)).toEqual(problem ? [expect.objectContaining({ sequence: 3, from_size: 12, problem })] : []);
    expect(lastAudit(a.db)).toMatchObject({ event_type: 'feed_pull_failing', details: { peer: 'issuer-b', reason } });
    // The honest checkpoint clears it.
    tamper.current = passThrough;
    a.clock.advance(3600);
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'ok' });
  });

  it.each([
    ['404', 404, '{"error":{"code":"not_found"}}'],
    ['200 with something else (a server that answers every path)', 200, '{"accepted":true}'],
  ])('an issuer that serves no log (%s): feeds without proofs keep importing', async (_name, status, text) => {
    const { a, b, tamper } = await pair();
    tamper.current = (path, res) => (path.startsWith('/log/') ? { status, body: Buffer.from(text) } : res);
    publishAtSizes(b, [3]);
    await runPullJob(a.deps);
    publishAtSizes(b, [9]);
    expect((await runPullJob(a.deps)).peers[0]).toMatchObject({ outcome: 'ok', imported: 1 });
    expect(importedSize(a)).toBe(9);
    expect(a.db.sqlite.prepare('SELECT count(*) FROM issuer_log_proofs').pluck().get()).toBe(0);
    expect(failures(a)).toEqual([]);
  });
});

describe('manual import with a consistency proof', () => {
  async function fed(): Promise<{ a: Node; b: Node; feeds: string[] }> {
    const [a, b] = [await node('importer-a'), await node('issuer-b')];
    recognize(a, b.sovereignId, [b.signingKey]);
    publishAtSizes(b, [4, 10]);
    const feeds = b.db.sqlite.prepare('SELECT body FROM published_feeds ORDER BY sequence').pluck().all() as string[];
    return { a, b, feeds };
  }
  const post = (a: Node, body: string) =>
    a.admin('POST', '/admin/revocation-feeds/import', body, { headers: { 'Content-Type': 'application/json' } });

  it('a proof in the request is checked: a valid one imports, an invalid one is 409 consistency_proof_invalid', async () => {
    const { a, b, feeds } = await fed();
    expect((await post(a, `{"feed":${feeds[0]}}`)).status).toBe(200);
    const proof = ((await (await b.app.request('/log/proof/consistency?from=4&to=10')).json()) as { proof: string[] }).proof;
    const wrong = [...proof].reverse();
    const bad = await post(a, JSON.stringify({ consistency_proof: wrong, feed: JSON.parse(feeds[1]!) }));
    expect(bad.status).toBe(409);
    expect(((await bad.json()) as { error: { code: string; details: Record<string, unknown> } }).error).toMatchObject({
      code: 'consistency_proof_invalid',
      details: { problem: 'invalid', from_size: 4, to_size: 10 },
    });
    expect(lastAudit(a.db)).toMatchObject({
      event_type: 'sovereign_revocation_feed_rejected',
      details: { reason: 'consistency_proof_invalid' },
    });
    const ok = await post(a, JSON.stringify({ consistency_proof: proof, feed: JSON.parse(feeds[1]!) }));
    expect(ok.status).toBe(200);
    expect(a.db.sqlite.prepare('SELECT last_verified_size FROM issuer_log_proofs').pluck().get()).toBe(10);
  });

  it('without a proof: accepted until the issuer has proved once, then refused as missing', async () => {
    const { a, b, feeds } = await fed();
    expect((await post(a, `{"feed":${feeds[0]}}`)).status).toBe(200);
    expect((await post(a, `{"feed":${feeds[1]}}`)).status).toBe(200);
    publishAtSizes(b, [15, 20]);
    const more = b.db.sqlite.prepare('SELECT body FROM published_feeds WHERE sequence > 2 ORDER BY sequence').pluck().all() as string[];
    const proof = ((await (await b.app.request('/log/proof/consistency?from=10&to=15')).json()) as { proof: string[] }).proof;
    expect((await post(a, JSON.stringify({ consistency_proof: proof, feed: JSON.parse(more[0]!) }))).status).toBe(200);
    const missing = await post(a, `{"feed":${more[1]}}`);
    expect(missing.status).toBe(409);
    expect(((await missing.json()) as { error: { details: Record<string, unknown> } }).error.details).toMatchObject({
      problem: 'missing',
      from_size: 15,
      to_size: 20,
    });
  });

  it.each([
    ['not an array', '"sha256:00"'],
    ['a hash without its prefix', `["${'00'.repeat(32)}"]`],
    ['too many hashes', JSON.stringify(Array(129).fill(`sha256:${'00'.repeat(32)}`))],
  ])('a malformed consistency_proof (%s) is 422 invalid_revocation_feed, nothing changes', async (_name, proof) => {
    const { a, feeds } = await fed();
    const before = dbDigest(a.db);
    const res = await post(a, `{"consistency_proof":${proof},"feed":${feeds[0]}}`);
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string; details: { issues: Array<{ path: string }> } } }).error).toMatchObject({
      code: 'invalid_revocation_feed',
      details: { issues: [{ path: 'consistency_proof' }] },
    });
    expect(dbDigest(a.db)).toBe(before);
    expect(auditCount(a.db, 'sovereign_revocation_feed_rejected')).toBe(1);
  });
});
