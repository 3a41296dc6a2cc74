// POST /log/evidence over real HTTP: evidence of a split view (two checkpoints one log cannot both have signed) is
// verified before anything changes — then stored, the issuer paused, both audited; forged, unknown-key, consistent,
// malformed, unknown-field and oversized evidence gets a stable error and leaves the database exactly as it was.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { signNote } from '../../src/authority/signed-note.ts';
import { formatCheckpoint } from '../../src/transparency/checkpoint.ts';
import { readCheckpointsSince } from '../../src/transparency/store.ts';
import { auditCount, dbDigest, lastAudit, testKey } from '../helpers/authority.ts';
import { startNode, type Node } from '../feeds/network.ts';
import { recognize } from '../feeds/simulated-issuer.ts';
import { removeTempDirs } from '../ops/helpers.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import { evidence, forkOf, noteAtSize, postEvidence, proofIn, publishForkAtSizes } from './helpers.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});
afterAll(removeTempDirs);

const ISSUER = 'na-a';

/** A (the issuer, serving), its fork (same key, other entries) and B, which recognizes A. */
async function setup() {
  const a = await startNode(ISSUER);
  stops.push(() => a.stop());
  const b = await startNode('na-b');
  stops.push(() => b.stop());
  recognize(b, ISSUER, [a.signingKey]);
  publishAtSizes(a, [3, 4, 5]);
  const fork = forkOf(ISSUER);
  publishForkAtSizes(fork, [3, 4, 6]);
  return { a, b, fork };
}

const everything = (n: Node) => dbDigest(n.db, []);
const rootAt = (n: { db: Node['db'] }, size: number) =>
  readCheckpointsSince(n.db.sqlite, 0, 100)
    .find((c) => c.tree_size === size)!
    .root_hash.slice('sha256:'.length);

describe('POST /log/evidence: real evidence', () => {
  it('same size, another root: recorded, the issuer paused (reason split_view), both audited; sent again: already known, nothing changes', async () => {
    const { a, b, fork } = await setup();
    const body = evidence(ISSUER, [noteAtSize(fork, 3), noteAtSize(a, 3)]);
    const res = await postEvidence(b.url, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      status: 'recorded',
      issuer_sovereign_id: ISSUER,
      problem: 'root_mismatch',
      paused: true,
      forwarding_to: [],
    });
    const hash = res.body.evidence_hash as string;
    expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);

    const events = b.db.sqlite
      .prepare("SELECT canonical FROM audit_events WHERE event_type IN ('split_view_detected', 'feed_issuer_paused') ORDER BY seq")
      .pluck()
      .all()
      .map((t) => JSON.parse(t as string));
    expect(events).toMatchObject([
      {
        event_type: 'split_view_detected',
        actor: { type: 'anonymous' },
        details: {
          issuer: ISSUER,
          origin: 'na-a/log',
          evidence_hash: hash,
          problem: 'root_mismatch',
          first: { size: 3 },
          second: { size: 3 },
          source: 'peer',
        },
      },
      { event_type: 'feed_issuer_paused', details: { issuer: ISSUER, reason: 'split_view' } },
    ]);
    expect(b.db.sqlite.prepare('SELECT paused, paused_reason FROM feed_issuers WHERE issuer_sovereign_id = ?').get(ISSUER)).toEqual({
      paused: 1,
      paused_reason: 'split_view',
    });

    // Exportable: the admin route gives back the document, in its one order, which verifies again anywhere.
    const stored = (await (await b.admin('GET', `/admin/split-views/${hash}`)).json()) as Record<string, any>;
    expect(stored).toMatchObject({
      evidence_hash: hash,
      issuer_sovereign_id: ISSUER,
      source: 'peer',
      problem: 'root_mismatch',
      deliveries: [],
    });
    expect(stored.evidence.checkpoints.sort()).toEqual([noteAtSize(fork, 3), noteAtSize(a, 3)].sort());
    const list = (await (await b.admin('GET', `/admin/split-views?issuer=${ISSUER}`)).json()) as {
      split_views: Array<{ evidence_hash: string }>;
    };
    expect(list.split_views.map((s) => s.evidence_hash)).toEqual([hash]);

    // The same evidence again (in the other order): already known, the database untouched.
    const before = everything(b);
    const again = await postEvidence(b.url, evidence(ISSUER, [noteAtSize(a, 3), noteAtSize(fork, 3)]));
    expect(again.body).toMatchObject({ status: 'already_known', evidence_hash: hash, paused: false });
    expect(everything(b)).toBe(before);
    expect(await (await fetch(`${b.url}/metrics`)).text()).toContain('accord_split_views_detected_total{issuer="na-a",source="peer"} 1');
  });

  it('two sizes: a proof that leads to the larger root from another smaller root; from a power-of-two size with the subtree root first', async () => {
    const { a, b, fork } = await setup();
    const res = await postEvidence(b.url, evidence(ISSUER, [noteAtSize(a, 3), noteAtSize(fork, 6)], proofIn(fork, 3, 6)));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: 'recorded', problem: 'inconsistent' });
    expect(lastAuditOfType(b, 'split_view_detected')).toMatchObject({
      details: { first: { size: 3 }, second: { size: 6 }, implied_root: `sha256:${rootAt(fork, 3)}` },
    });

    // Size 4 is a power of two: the standard proof omits the subtree root, so the evidence carries it first.
    const c = await startNode('na-c');
    stops.push(() => c.stop());
    recognize(c, ISSUER, [a.signingKey]);
    const standard = proofIn(fork, 4, 6);
    const without = await postEvidence(c.url, evidence(ISSUER, [noteAtSize(a, 4), noteAtSize(fork, 6)], standard));
    expect(without).toMatchObject({
      status: 422,
      body: { error: { code: 'evidence_not_conflicting', details: { problem: 'proof_does_not_reach_root' } } },
    });
    const withRoot = await postEvidence(
      c.url,
      evidence(ISSUER, [noteAtSize(a, 4), noteAtSize(fork, 6)], [`sha256:${rootAt(fork, 4)}`, ...standard]),
    );
    expect(withRoot.body).toMatchObject({ status: 'recorded', problem: 'inconsistent' });
  });
});

function lastAuditOfType(n: Node, type: string): Record<string, unknown> {
  return JSON.parse(
    n.db.sqlite.prepare('SELECT canonical FROM audit_events WHERE event_type = ? ORDER BY seq DESC LIMIT 1').pluck().get(type) as string,
  ) as Record<string, unknown>;
}

describe('POST /log/evidence: refused, nothing changed', () => {
  it('forged, unknown-key, unrecognized, consistent, malformed, unknown-field and oversized evidence', async () => {
    const { a, b, fork } = await setup();
    const real = noteAtSize(a, 3);
    const forked = noteAtSize(fork, 3);
    const origin = 'na-a/log';

    // A signature line by A's key whose signature bytes were changed.
    const sigLine = forked.slice(forked.lastIndexOf('\n\n') + 2, -1);
    const bytes = Buffer.from(sigLine.split(' ')[2]!, 'base64');
    bytes[10] = bytes[10]! ^ 1;
    const badSignature = `${forked.slice(0, forked.lastIndexOf('\n\n') + 2)}\u2014 ${origin} ${bytes.toString('base64')}\n`;
    // A fork signed by a key nobody recognizes for A (same key name).
    const stranger = signNote(formatCheckpoint({ origin, size: 3, rootHash: `sha256:${'cd'.repeat(32)}` }), origin, [testKey('stranger')]);
    // A note that is not a checkpoint; one of another origin.
    const notCheckpoint = signNote('hello\n', origin, [a.signingKey]);
    const otherOrigin = signNote(
      formatCheckpoint({ origin: 'elsewhere/log', size: 3, rootHash: `sha256:${'ef'.repeat(32)}` }),
      'elsewhere/log',
      [a.signingKey],
    );
    const big = signNote(`${formatCheckpoint({ origin, size: 3, rootHash: `sha256:${'ab'.repeat(32)}` })}${'x'.repeat(70_000)}\n`, origin, [
      a.signingKey,
    ]);

    const cases: Array<[string, unknown, number, string, Record<string, unknown>?]> = [
      ['bad signature', evidence(ISSUER, [real, badSignature]), 403, 'evidence_signature_invalid', { problem: 'invalid_signature' }],
      ['unknown key', evidence(ISSUER, [real, stranger]), 403, 'evidence_signature_invalid', { problem: 'no_known_signature' }],
      ['unrecognized issuer', evidence('na-nobody', [real, forked]), 403, 'evidence_issuer_not_recognized'],
      ['issuer named wrongly', evidence('na-b', [real, forked]), 403, 'evidence_issuer_not_recognized'],
      [
        'consistent pair, real proof',
        evidence(ISSUER, [real, noteAtSize(a, 5)], proofIn(a, 3, 5)),
        422,
        'evidence_not_conflicting',
        { problem: 'consistent' },
      ],
      [
        'consistent pair, made-up proof',
        evidence(ISSUER, [real, noteAtSize(a, 5)], [`sha256:${'00'.repeat(32)}`, `sha256:${'11'.repeat(32)}`]),
        422,
        'evidence_not_conflicting',
        { problem: 'proof_does_not_reach_root' },
      ],
      [
        'consistent pair, no proof',
        evidence(ISSUER, [real, noteAtSize(a, 5)]),
        422,
        'evidence_not_conflicting',
        { problem: 'proof_does_not_reach_root' },
      ],
      ['one checkpoint twice', evidence(ISSUER, [real, real]), 422, 'evidence_not_conflicting', { problem: 'same_tree' }],
      ['not JSON', '{"type": "split_view_evidence",', 400, 'malformed_json'],
      ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 400, 'malformed_json'],
      ['duplicate key', '{"type":"split_view_evidence","type":"split_view_evidence"}', 400, 'malformed_json'],
      ['an array', [], 422, 'invalid_evidence', { problem: 'not_an_object' }],
      [
        'unknown field',
        { ...evidence(ISSUER, [real, forked]), note: 'trust me' },
        422,
        'invalid_evidence',
        { problem: 'unknown_field', field: 'note' },
      ],
      [
        'missing field',
        { type: 'split_view_evidence', issuer_sovereign_id: ISSUER, checkpoints: [real, forked] },
        422,
        'invalid_evidence',
        { problem: 'missing_field' },
      ],
      ['wrong type', { ...evidence(ISSUER, [real, forked]), type: 'evidence' }, 422, 'invalid_evidence', { problem: 'wrong_type' }],
      ['bad issuer id', evidence('not an id', [real, forked]), 422, 'invalid_evidence', { problem: 'issuer_id' }],
      [
        'three checkpoints',
        { ...evidence(ISSUER, [real, forked]), checkpoints: [real, forked, real] },
        422,
        'invalid_evidence',
        { problem: 'checkpoint_count' },
      ],
      [
        'a number for a note',
        { ...evidence(ISSUER, [real, forked]), checkpoints: [real, 3] },
        422,
        'invalid_evidence',
        { problem: 'wrong_type' },
      ],
      ['no signed note', evidence(ISSUER, [real, 'na-a/log\n3\nAAAA\n']), 422, 'invalid_evidence', { problem: 'malformed_note' }],
      ['not a checkpoint', evidence(ISSUER, [real, notCheckpoint]), 422, 'invalid_evidence', { problem: 'not_a_checkpoint' }],
      ['two origins', evidence(ISSUER, [real, otherOrigin]), 422, 'invalid_evidence', { problem: 'origin_mismatch' }],
      ['a note over 64 KiB', evidence(ISSUER, [real, big]), 422, 'invalid_evidence', { problem: 'note_too_large' }],
      [
        'proof hash not sha256:hex',
        evidence(ISSUER, [real, noteAtSize(fork, 6)], ['sha256:XYZ']),
        422,
        'invalid_evidence',
        { problem: 'proof_hash' },
      ],
      [
        'proof too long',
        evidence(ISSUER, [real, noteAtSize(fork, 6)], Array(129).fill(`sha256:${'00'.repeat(32)}`)),
        422,
        'invalid_evidence',
        { problem: 'proof_too_long' },
      ],
      [
        'proof for one size',
        evidence(ISSUER, [real, forked], [`sha256:${'00'.repeat(32)}`]),
        422,
        'invalid_evidence',
        { problem: 'unexpected_proof' },
      ],
      ['oversized', JSON.stringify({ ...evidence(ISSUER, [real, forked]), pad: 'x'.repeat(200_000) }), 413, 'body_too_large'],
    ];
    for (const [what, body, status, code, details] of cases) {
      const before = everything(b);
      const res = await postEvidence(b.url, body);
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body.error.code, what).toBe(code);
      if (details) expect(res.body.error.details, what).toMatchObject(details);
      expect(everything(b), `${what}: database changed`).toBe(before);
    }
    // Without a JSON media type.
    const before = everything(b);
    const plain = await postEvidence(b.url, evidence(ISSUER, [real, forked]), { 'Content-Type': 'text/plain' });
    expect(plain).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type' } } });
    expect(everything(b)).toBe(before);

    expect(auditCount(b.db, 'split_view_detected')).toBe(0);
    expect(b.db.sqlite.prepare('SELECT count(*) FROM feed_issuers').pluck().get()).toBe(0);
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    expect(metrics).toContain('accord_split_view_evidence_rejected_total{code="evidence_signature_invalid"} 2');
    expect(metrics).toContain('accord_split_view_evidence_rejected_total{code="invalid_evidence"} 14');
    expect(lastAudit(b.db).event_type).not.toBe('split_view_detected');
  });
});
