// Accord as a C2SP tlog-witness over real HTTP: every answer of POST /witness/add-checkpoint, nothing changed by a
// rejection, conflicts kept as evidence, and no smaller or inconsistent checkpoint cosigned, not even after a restart.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/transparency/checkpoint.ts';
import { signNote } from '../../src/authority/signed-note.ts';
import { auditCount, dbDigest, lastAudit, testKey } from '../helpers/authority.ts';
import { runPullJob } from '../../src/feeds/pull.ts';
import { recognizeAndPeer, type Node } from '../feeds/network.ts';
import { recognize } from '../feeds/simulated-issuer.ts';
import { removeTempDirs } from '../ops/helpers.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import {
  addCheckpoint,
  body,
  forgedNote,
  latestNote,
  noteText,
  proofLines,
  specKeyId,
  specVerify,
  startFileNode,
  startNode,
  witnessLog,
  type Restartable,
} from './helpers.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});
afterAll(removeTempDirs);

const WITNESS = 'witness-w';
const LOG = 'log-l';

async function pair(): Promise<{ w: Restartable; l: Node }> {
  const w = await startFileNode(WITNESS);
  stops.push(() => w.stop());
  const l = await startNode(LOG);
  stops.push(() => l.stop());
  publishAtSizes(l, [3]);
  await witnessLog(w, l);
  return { w, l };
}

const state = (w: Node) => w.db.sqlite.prepare('SELECT origin, sovereign_id, size, root_hash FROM witness_checkpoints').all();
const conflicts = (w: Node) =>
  w.db.sqlite
    .prepare(
      'SELECT problem, cosigned_size, old_size, submitted_size, submitted_note, proof FROM witness_conflicts ORDER BY detected_at, evidence_hash',
    )
    .all() as Array<Record<string, unknown>>;
const randomHash = () => randomBytes(32).toString('base64');
const rootOf = (size: number, l: Node) =>
  (
    l.db.sqlite
      .prepare('SELECT root_hash FROM log_checkpoints WHERE tree_size = ? ORDER BY sequence DESC LIMIT 1')
      .pluck()
      .get(size) as string
  ).slice(7);

/** Sends a request that must be refused and leave the witness exactly as it was (audit log included). */
async function refused(w: Node, text: string | Uint8Array, status: number, code: string, problem?: string): Promise<void> {
  const before = dbDigest(w.db);
  const events = auditCount(w.db);
  const res = await addCheckpoint(w.url, text);
  expect(res.status, res.text).toBe(status);
  const error = (JSON.parse(res.text) as { error: { code: string; details: { problem?: string } } }).error;
  expect(error.code).toBe(code);
  if (problem) expect(error.details.problem).toBe(problem);
  expect(dbDigest(w.db), `${code}: database changed`).toBe(before);
  expect(auditCount(w.db), `${code}: audited`).toBe(events);
}

/** Sends a request the witness must answer 409 with its size, changing nothing. */
async function conflict(w: Node, text: string, size: number): Promise<void> {
  const before = dbDigest(w.db);
  const events = auditCount(w.db);
  const res = await addCheckpoint(w.url, text);
  expect(res.status, res.text).toBe(409);
  expect(res.type).toBe('text/x.tlog.size');
  expect(res.text).toBe(`${size}\n`);
  expect(dbDigest(w.db)).toBe(before);
  expect(auditCount(w.db)).toBe(events);
}

/** Sends a checkpoint the witness must cosign; checks the line against the spec with node:crypto. */
async function cosigned(w: Node, text: string, note: string): Promise<string> {
  const res = await addCheckpoint(w.url, text);
  expect(res.status, res.text).toBe(200);
  expect(res.type).toBe('text/plain; charset=utf-8');
  const lines = res.text.split('\n');
  expect(lines.pop()).toBe('');
  expect(lines).toHaveLength(1);
  const check = specVerify(lines[0]!, `${WITNESS}/witness`, w.signingKey.raw, noteText(note));
  expect(check).toMatchObject({ valid: true, timestamp: BigInt(Math.floor(w.clock().getTime() / 1000)) });
  return lines[0]!;
}

describe('POST /witness/add-checkpoint: every answer', () => {
  it('404 unknown origin, 400 malformed, 403 unsigned, 422 bad trees, 200 cosigned, 409 stale old size, 400 old beyond size', async () => {
    const { w, l } = await pair();
    const note3 = await latestNote(l);

    // 404: a log this authority does not witness (signed, well-formed).
    const stranger = testKey('stranger');
    await refused(
      w,
      body(
        0,
        [],
        signNote(
          formatCheckpoint({ origin: 'stranger.example/log', size: 1, rootHash: `sha256:${'ab'.repeat(32)}` }),
          'stranger.example/log',
          [stranger],
        ),
      ),
      404,
      'witness_log_unknown',
    );

    // 400: malformed bodies.
    const malformed: Array<[string, string | Uint8Array, string]> = [
      ['empty', '', 'old_line'],
      ['no old line', note3, 'old_line'],
      ['old with a leading zero', body(0, [], note3).replace('old 0', 'old 00'), 'old_line'],
      ['negative old', body(0, [], note3).replace('old 0', 'old -1'), 'old_line'],
      ['old beyond 2^53', body(0, [], note3).replace('old 0', 'old 9007199254740993'), 'old_line'],
      ['two spaces', body(0, [], note3).replace('old 0', 'old  0'), 'old_line'],
      ['CRLF', body(0, [], note3).replace(/\n/g, '\r\n'), 'old_line'],
      ['a byte-order mark', `\ufeff${body(0, [], note3)}`, 'old_line'],
      ['a short proof line', body(3, [randomBytes(31).toString('base64')], note3), 'proof_line'],
      ['URL-safe base64', body(3, [`${Buffer.alloc(32, 0xfb).toString('base64url')}=`], note3), 'proof_line'],
      ['64 proof lines', body(3, Array.from({ length: 64 }, randomHash), note3), 'too_many_proof_lines'],
      ['no blank line', `old 0\n`, 'no_blank_line'],
      ['no note', `old 0\n\n`, 'malformed_note'],
      ['a note without signatures', `old 0\n\n${noteText(note3)}`, 'malformed_note'],
      ['a note without its final newline', body(0, [], note3).slice(0, -1), 'malformed_note'],
      ['not a checkpoint', body(0, [], signNote('hello\n', `${LOG}/log`, [l.signingKey])), 'malformed_checkpoint'],
      ['invalid UTF-8', Buffer.concat([Buffer.from('old 0\n\n'), Buffer.from([0xc3, 0x28]), Buffer.from(note3)]), 'not_utf8'],
    ];
    for (const [name, text, problem] of malformed) {
      const before = dbDigest(w.db);
      const res = await addCheckpoint(w.url, text);
      expect(res.status, name).toBe(400);
      expect(JSON.parse(res.text).error, name).toMatchObject({ code: 'invalid_witness_request', details: { problem } });
      expect(dbDigest(w.db), name).toBe(before);
    }

    // 413: more than a witness request ever needs, refused before it is read.
    await refused(w, `old 0\n\n${'x'.repeat(70 * 1024)}`, 413, 'body_too_large');

    // 403: the log's origin, but no valid signature by its key.
    await refused(
      w,
      body(0, [], forgedNote(l, 3, rootOf(3, l), testKey('mallory'))),
      403,
      'witness_signature_invalid',
      'no_known_signature',
    );
    const tampered = note3.replace(/^(.*\n)3\n/, (_, origin: string) => `${origin}4\n`);
    expect(tampered).not.toBe(note3);
    await refused(w, body(0, [], tampered), 403, 'witness_signature_invalid', 'invalid_signature');

    // 422: a size-0 checkpoint must have the empty tree's root; no proof is taken from size 0.
    await refused(w, body(0, [], forgedNote(l, 0, 'ab'.repeat(32))), 422, 'witness_proof_invalid', 'empty_tree_root');
    await refused(w, body(0, [randomHash()], note3), 422, 'witness_proof_invalid', 'unexpected_proof');
    expect(state(w)).toEqual([]);

    // 200: the first checkpoint (trust on first use), cosigned, stored, audited.
    await cosigned(w, body(0, [], note3), note3);
    expect(state(w)).toEqual([{ origin: `${LOG}/log`, sovereign_id: LOG, size: 3, root_hash: `sha256:${rootOf(3, l)}` }]);
    expect(lastAudit(w.db)).toMatchObject({
      event_type: 'witness_checkpoint_cosigned',
      actor: { type: 'peer', sovereign_id: LOG, key_id: l.signingKey.keyId },
      details: { sovereign_id: LOG, origin: `${LOG}/log`, size: 3, previous_size: 0 },
    });

    // 409: the old size is not the one cosigned; the answer names it.
    await conflict(w, body(0, [], note3), 3);
    // 400: an old size beyond the checkpoint.
    await refused(w, body(4, [], note3), 400, 'invalid_witness_request', 'old_beyond_size');

    // 200 again for the same tree (a heartbeat), and for a larger one with the log's proof.
    publishAtSizes(l, [3]);
    const heartbeat = await latestNote(l);
    expect(heartbeat).not.toBe(note3);
    await cosigned(w, body(3, [], heartbeat), heartbeat);
    publishAtSizes(l, [8]);
    const note8 = await latestNote(l);
    await cosigned(w, body(3, await proofLines(l, 3, 8), note8), note8);
    expect(state(w)).toMatchObject([{ size: 8, root_hash: `sha256:${rootOf(8, l)}` }]);
    // A smaller checkpoint after a larger one: never cosigned (409 from its own size, 400 from the cosigned one).
    await conflict(w, body(3, [], note3), 8);
    await refused(w, body(8, [], note3), 400, 'invalid_witness_request', 'old_beyond_size');
    // A proof where none is needed (same size).
    await refused(w, body(8, [randomHash()], note8), 422, 'witness_proof_invalid', 'unexpected_proof');
    const metrics = await (await fetch(`${w.url}/metrics`)).text();
    expect(metrics).toContain(`accord_witness_cosigned_size{log="${LOG}"} 8`);
    expect(metrics).toMatch(/accord_witness_add_checkpoint_requests_total\{status="409"\} 2/);
  });

  it('a conflicting checkpoint (other root at the cosigned size, or a proof that fails) is refused, kept as evidence once, and audited', async () => {
    const { w, l } = await pair();
    const note3 = await latestNote(l);
    await cosigned(w, body(0, [], note3), note3);
    // What a witness cosigned (split views that conflicts prove are test/gossip/split-view.test.ts's).
    const stateOnly = () => dbDigest(w.db, ['audit_events', 'admin_nonces', 'witness_conflicts', 'split_view_evidence', 'feed_issuers']);
    const before = stateOnly();

    // Another root at size 3, validly signed by the log's key.
    const fork3 = forgedNote(l, 3, 'cd'.repeat(32));
    let res = await addCheckpoint(w.url, body(3, [], fork3));
    expect(res.status).toBe(422);
    expect(JSON.parse(res.text).error).toMatchObject({
      code: 'witness_proof_invalid',
      details: { problem: 'root_mismatch', cosigned_size: 3 },
    });
    const detected = w.db.sqlite
      .prepare("SELECT canonical FROM audit_events WHERE event_type = 'witness_conflict_detected' ORDER BY seq DESC LIMIT 1")
      .pluck()
      .get() as string;
    expect(JSON.parse(detected)).toMatchObject({
      actor: { type: 'peer', sovereign_id: LOG },
      details: { problem: 'root_mismatch', cosigned_size: 3, submitted_size: 3 },
    });
    // Two checkpoints of one size with two roots, both signed by the log: a split view, and the log's issuer paused.
    expect(lastAudit(w.db)).toMatchObject({ event_type: 'feed_issuer_paused', details: { issuer: LOG, reason: 'split_view' } });

    // A larger checkpoint whose proof does not connect it to the cosigned one.
    const fork9 = forgedNote(l, 9, 'ef'.repeat(32));
    const garbage = [randomHash(), randomHash(), randomHash()];
    res = await addCheckpoint(w.url, body(3, garbage, fork9));
    expect(res.status).toBe(422);
    expect(JSON.parse(res.text).error).toMatchObject({ code: 'witness_proof_invalid', details: { problem: 'inconsistent' } });

    // The same fork again: refused, not stored or audited twice.
    const events = auditCount(w.db, 'witness_conflict_detected');
    res = await addCheckpoint(w.url, body(3, garbage, fork9));
    expect(res.status).toBe(422);
    expect(auditCount(w.db, 'witness_conflict_detected')).toBe(events);

    // A fork at the cosigned size sent with a stale old size: the answer is the 409, the evidence is kept.
    const fork3b = forgedNote(l, 3, '12'.repeat(32));
    res = await addCheckpoint(w.url, body(0, [], fork3b));
    expect(res.status).toBe(409);
    expect(res.text).toBe('3\n');

    expect(stateOnly()).toBe(before);
    expect(conflicts(w)).toEqual(
      expect.arrayContaining([
        { problem: 'root_mismatch', cosigned_size: 3, old_size: 3, submitted_size: 3, submitted_note: fork3, proof: '[]' },
        {
          problem: 'inconsistent',
          cosigned_size: 3,
          old_size: 3,
          submitted_size: 9,
          submitted_note: fork9,
          proof: JSON.stringify(garbage),
        },
        { problem: 'root_mismatch', cosigned_size: 3, old_size: 0, submitted_size: 3, submitted_note: fork3b, proof: '[]' },
      ]),
    );
    expect(conflicts(w)).toHaveLength(3);
    expect(auditCount(w.db, 'witness_conflict_detected')).toBe(3);
    // The two root mismatches are split-view evidence; a garbage proof proves nothing. One pause.
    expect(w.db.sqlite.prepare('SELECT problem FROM split_view_evidence').pluck().all()).toEqual(['root_mismatch', 'root_mismatch']);
    expect(auditCount(w.db, 'feed_issuer_paused')).toBe(1);
    expect(await (await fetch(`${w.url}/metrics`)).text()).toContain(`accord_witness_conflicts_total{log="${LOG}"} 3`);
    // The evidence is listed for the operator, with the note that was cosigned.
    const listed = (await (await w.admin('GET', '/admin/witness/conflicts')).json()) as {
      conflicts: Array<{ cosigned_note: string; proof: string[] }>;
    };
    expect(listed.conflicts).toHaveLength(3);
    expect(listed.conflicts[0]!.cosigned_note.startsWith(noteText(note3))).toBe(true);
  });

  it('after a restart on the same database file: no smaller, inconsistent or other-root checkpoint is cosigned; the log continues', async () => {
    const { w, l } = await pair();
    const note3 = await latestNote(l);
    await cosigned(w, body(0, [], note3), note3);
    publishAtSizes(l, [8]);
    const note8 = await latestNote(l);
    await cosigned(w, body(3, await proofLines(l, 3, 8), note8), note8);

    await w.restart();

    await conflict(w, body(3, await proofLines(l, 3, 8), note8), 8);
    await conflict(w, body(0, [], note3), 8);
    await conflict(w, body(3, [], note3), 8);
    await refused(w, body(8, [], note3), 400, 'invalid_witness_request', 'old_beyond_size');
    const stateOnly = () => dbDigest(w.db, ['audit_events', 'admin_nonces', 'witness_conflicts', 'split_view_evidence', 'feed_issuers']);
    const before = stateOnly();
    const fork = forgedNote(l, 12, '34'.repeat(32));
    let res = await addCheckpoint(w.url, body(8, [randomHash(), randomHash()], fork));
    expect(JSON.parse(res.text).error).toMatchObject({
      code: 'witness_proof_invalid',
      details: { problem: 'inconsistent', cosigned_size: 8 },
    });
    res = await addCheckpoint(w.url, body(8, [], forgedNote(l, 8, '56'.repeat(32))));
    expect(JSON.parse(res.text).error).toMatchObject({ code: 'witness_proof_invalid', details: { problem: 'root_mismatch' } });
    expect(stateOnly()).toBe(before);
    expect(
      conflicts(w)
        .map((c) => c.problem)
        .sort(),
    ).toEqual(['inconsistent', 'root_mismatch']);

    // The honest log goes on from the cosigned size.
    publishAtSizes(l, [10]);
    const note10 = await latestNote(l);
    await cosigned(w, body(8, await proofLines(l, 8, 10), note10), note10);
    expect(state(w)).toMatchObject([{ size: 10 }]);
  });

  it('a log whose witnessing is disabled, or whose treaty is revoked, is unknown (404); re-enabled, it continues from what was cosigned', async () => {
    const { w, l } = await pair();
    const note3 = await latestNote(l);
    await cosigned(w, body(0, [], note3), note3);
    let res = await w.admin('POST', `/admin/witness/logs/${LOG}/disable`);
    expect(await res.json()).toMatchObject({ sovereign_id: LOG, enabled: false, changed: true, cosigned: { size: 3 } });
    expect(lastAudit(w.db)).toMatchObject({
      event_type: 'witness_log_disabled',
      actor: { type: 'operator' },
      details: { sovereign_id: LOG, origin: `${LOG}/log` },
    });
    await refused(w, body(3, [], note3), 404, 'witness_log_unknown');
    res = await w.admin('POST', '/admin/witness/logs', { sovereign_id: LOG });
    expect(await res.json()).toMatchObject({ enabled: true, changed: true });
    expect(lastAudit(w.db)).toMatchObject({ event_type: 'witness_log_enabled', details: { origin_source: 'previous' } });
    await conflict(w, body(0, [], note3), 3);
    await cosigned(w, body(3, [], note3), note3);

    const treaty = w.db.sqlite.prepare('SELECT treaty_id FROM treaties WHERE subject_sovereign_id = ?').pluck().get(LOG) as string;
    res = await w.admin('POST', `/admin/recognition-treaties/${treaty}/revoke`, { reason: 'key_compromise' });
    expect(res.status).toBe(200);
    await refused(w, body(3, [], note3), 404, 'witness_log_unknown');
  });
});

describe('racing requests', () => {
  it('two checkpoints sent at once from the same old size: one is cosigned, the other gets 409 with the new size', async () => {
    const { w, l } = await pair();
    const note3 = await latestNote(l);
    await cosigned(w, body(0, [], note3), note3);
    publishAtSizes(l, [5]);
    const note5 = await latestNote(l);
    const proof5 = await proofLines(l, 3, 5);
    publishAtSizes(l, [8]);
    const note8 = await latestNote(l);
    const proof8 = await proofLines(l, 3, 8);
    const answers = await Promise.all([addCheckpoint(w.url, body(3, proof5, note5)), addCheckpoint(w.url, body(3, proof8, note8))]);
    const won = answers.findIndex((a) => a.status === 200);
    expect(won).toBeGreaterThanOrEqual(0);
    const lost = answers[1 - won]!;
    const size = won === 0 ? 5 : 8;
    expect(lost).toMatchObject({ status: 409, text: `${size}\n` });
    expect(state(w)).toMatchObject([{ size }]);
    expect(auditCount(w.db, 'witness_checkpoint_cosigned')).toBe(2);
  });
});

describe('admin: which logs are witnessed', () => {
  it('enable takes the origin of the checkpoint the importer verified; refusals change nothing; the list shows the state', async () => {
    const w = await startFileNode(WITNESS);
    stops.push(() => w.stop());
    const l = await startNode(LOG);
    stops.push(() => l.stop());
    const other = await startNode('log-m');
    stops.push(() => other.stop());

    const refusal = async (input: unknown, status: number, code: string, path = '/admin/witness/logs') => {
      const before = dbDigest(w.db);
      const events = auditCount(w.db);
      const res = await w.admin('POST', path, input);
      expect(res.status, await res.clone().text()).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
      expect(dbDigest(w.db)).toBe(before);
      expect(auditCount(w.db)).toBe(events);
    };
    await refusal({ sovereign_id: WITNESS }, 422, 'invalid_witness_log');
    await refusal({ sovereign_id: LOG }, 403, 'issuer_not_recognized');
    await refusal({ sovereign_id: LOG, extra: 1 }, 422, 'invalid_witness_log');
    await refusal({ sovereign_id: 'bad id' }, 422, 'invalid_witness_log');

    publishAtSizes(l, [2]);
    publishAtSizes(other, [1]);
    await recognizeAndPeer(w, l);
    // Recognized but never pulled: the origin is not known yet.
    await refusal({ sovereign_id: LOG }, 409, 'witness_origin_unknown');
    await refusal({ sovereign_id: LOG, origin: 'has space' }, 422, 'invalid_witness_log');
    await runPullJob(w.deps);
    await refusal({ sovereign_id: LOG, origin: 'elsewhere.example/log' }, 409, 'witness_origin_mismatch');

    let res = await w.admin('POST', '/admin/witness/logs', { sovereign_id: LOG });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      sovereign_id: LOG,
      origin: `${LOG}/log`,
      enabled: true,
      recognized: true,
      cosigned: null,
      conflicts: 0,
      changed: true,
    });
    expect(lastAudit(w.db)).toMatchObject({
      event_type: 'witness_log_enabled',
      actor: { type: 'operator', label: 'ops' },
      details: { sovereign_id: LOG, origin: `${LOG}/log`, origin_source: 'verified_checkpoint' },
    });
    // Enabling again changes nothing and is not audited again.
    const events = auditCount(w.db);
    res = await w.admin('POST', '/admin/witness/logs', { sovereign_id: LOG });
    expect(await res.json()).toMatchObject({ changed: false });
    expect(auditCount(w.db)).toBe(events);

    // Another sovereign cannot take the same origin.
    recognize(w, 'log-m', [other.signingKey]);
    await refusal({ sovereign_id: 'log-m', origin: `${LOG}/log` }, 409, 'witness_origin_taken');
    await refusal(undefined, 404, 'witness_log_not_found', '/admin/witness/logs/log-m/disable');

    res = await w.admin('GET', '/admin/witness/logs');
    expect(await res.json()).toEqual({
      logs: [
        {
          sovereign_id: LOG,
          origin: `${LOG}/log`,
          enabled: true,
          enabled_at: expect.any(String),
          updated_at: expect.any(String),
          recognized: true,
          cosigned: null,
          conflicts: 0,
        },
      ],
    });
  });
});

describe('the witness, as peers see it', () => {
  it('GET /witness gives the cosigner vkey; the monitoring route serves the latest cosigned checkpoint by origin hash', async () => {
    const { w, l } = await pair();
    const info = (await (await fetch(`${w.url}/witness`)).json()) as {
      name: string;
      add_checkpoint: string;
      keys: Array<{ key_id: string; public_key: string; vkey: string }>;
    };
    const name = `${WITNESS}/witness`;
    const keyId = specKeyId(name, w.signingKey.raw);
    expect(info).toEqual({
      name,
      submission_prefix: '/witness',
      add_checkpoint: '/witness/add-checkpoint',
      keys: [
        {
          key_id: w.signingKey.keyId,
          public_key: w.signingKey.publicKey,
          vkey: `${name}+${keyId.toString('hex')}+${Buffer.concat([Buffer.from([0x04]), w.signingKey.raw]).toString('base64')}`,
        },
      ],
    });

    const originHash = createHash('sha256').update(`${LOG}/log`).digest('hex');
    let res = await fetch(`${w.url}/witness/${originHash}/checkpoint`);
    expect(res.status).toBe(404);
    const note3 = await latestNote(l);
    const line = await cosigned(w, body(0, [], note3), note3);
    res = await fetch(`${w.url}/witness/${originHash}/checkpoint`);
    expect(res.status).toBe(200);
    // The checkpoint text, the log's verified signature, and the witness's cosignature.
    expect(await res.text()).toBe(`${note3}${line}\n`);
    expect((await fetch(`${w.url}/witness/${'0'.repeat(64)}/checkpoint`)).status).toBe(404);
    expect((await fetch(`${w.url}/witness/not-a-hash/checkpoint`)).status).toBe(404);
  });
});
