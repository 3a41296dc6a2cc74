// Witnessed feeds between three authorities over real HTTP on 127.0.0.1: A publishes, B and C cosign, A serves the
// cosigned checkpoint; A learns a witness's size from its 409, backs off from a failing witness, and says so in metrics.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { runPullJob } from '../../src/feeds/pull.ts';
import { parseCheckpoint } from '../../src/transparency/checkpoint.ts';
import { formatVerifierKey, openNote, parseVerifierKey } from '../../src/authority/signed-note.ts';
import { formatCosignerKey } from '../../src/authority/cosignature.ts';
import { startWitnessSubmissions, submitToWitnesses } from '../../src/witness/submission.ts';
import { parseWitnessesJson } from '../../src/authority/witness-config.ts';
import { auditCount, lastAudit } from '../helpers/authority.ts';
import { listen, startNode, type Node } from '../feeds/network.ts';
import { removeTempDirs } from '../ops/helpers.ts';
import { buildGoChecker, GO_AVAILABLE, needGo, publishAtSizes, revocationEntry, runGoChecker, vkeyOf } from '../transparency/helpers.ts';
import { latestNote, noteText, specVerify, witnessLog } from './helpers.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});
afterAll(removeTempDirs);

let checker = '';
beforeAll(async () => {
  if (GO_AVAILABLE) checker = await buildGoChecker();
}, 300_000);
afterAll(() => {
  if (checker) fs.rmSync(path.dirname(checker), { recursive: true, force: true });
});

async function node(id: string, witnesses: Array<{ name: string; url: string; vkey: string }> = []): Promise<Node> {
  const n = await startNode(id, { config: { witnesses: parseWitnessesJson(JSON.stringify(witnesses)) } });
  stops.push(() => n.stop());
  return n;
}

/** What a log operator reads from a witness's GET /witness to configure it (its vkey confirmed out of band). */
async function witnessEntry(w: Node, url = w.url): Promise<{ name: string; url: string; vkey: string }> {
  const info = (await (await fetch(`${w.url}/witness`)).json()) as {
    name: string;
    submission_prefix: string;
    keys: Array<{ vkey: string }>;
  };
  return { name: info.name, url: `${url}${info.submission_prefix}`, vkey: info.keys[0]!.vkey };
}

/** Signature lines of a note, without newlines. */
const signatureLines = (note: string) => note.slice(note.lastIndexOf('\n\n') + 2, -1).split('\n');
/** add-checkpoint requests a witness answered with `status`, from its /metrics. */
async function requests(w: Node, status: number): Promise<number> {
  const metrics = await (await fetch(`${w.url}/metrics`)).text();
  const match = new RegExp(`^accord_witness_add_checkpoint_requests_total\\{status="${status}"\\} (\\d+)$`, 'm').exec(metrics);
  return match ? Number(match[1]) : 0;
}

/** Three authorities: B and C witness A, and A has them configured as its witnesses. */
async function federation(): Promise<{ a: Node; b: Node; c: Node }> {
  const b = await node('na-b');
  const c = await node('na-c');
  const a = await node('na-a', [await witnessEntry(b), await witnessEntry(c)]);
  publishAtSizes(a, [3]);
  await witnessLog(b, a);
  await witnessLog(c, a);
  return { a, b, c };
}

describe('three authorities: A publishes, B and C cosign', () => {
  it('A serves its checkpoint with both cosignatures appended; each verifies under its witness key; the log goes on from what each cosigned', async (ctx: TestContext) => {
    const { a, b, c } = await federation();
    const before = await latestNote(a);
    expect(signatureLines(before)).toHaveLength(1);

    const round = await submitToWitnesses(a.deps);
    expect(round).toEqual({
      checkpoint: { sequence: 1, size: 3 },
      witnesses: [
        { witness: 'na-b/witness', outcome: 'cosigned', size: 3, sequence: 1 },
        { witness: 'na-c/witness', outcome: 'cosigned', size: 3, sequence: 1 },
      ],
    });

    // The standard cosigned form: the log's note, then one line per witness (c2sp.org/tlog-cosignature).
    const served = await latestNote(a);
    expect(served.startsWith(before)).toBe(true);
    const lines = signatureLines(served);
    expect(lines).toHaveLength(3);
    const text = noteText(served);
    expect(specVerify(lines[1]!, 'na-b/witness', b.signingKey.raw, text)).toMatchObject({ valid: true });
    expect(specVerify(lines[2]!, 'na-c/witness', c.signingKey.raw, text)).toMatchObject({ valid: true });
    // A verifier that knows only the log key reads it as before.
    const opened = openNote(served, [parseVerifierKey(vkeyOf(a))!]);
    expect(opened.ok && parseCheckpoint(opened.text)).toMatchObject({ origin: 'na-a/log', size: 3 });
    // Inclusion proofs carry the cosigned note too: offline-verifiable with the witness keys.
    const entries = (await (await fetch(`${a.url}/log/entries/${revocationEntry(0).id}`)).json()) as { checkpoint: { note: string } };
    expect(entries.checkpoint.note).toBe(served);
    // The log-signed bytes of the checkpoint stay what was signed.
    expect(await (await fetch(`${a.url}/log/checkpoints/1`)).text()).toBe(before);

    // B and C hold the same state and serve it on their monitoring route.
    for (const w of [b, c]) {
      expect(w.db.sqlite.prepare('SELECT origin, sovereign_id, size FROM witness_checkpoints').all()).toEqual([
        { origin: 'na-a/log', sovereign_id: 'na-a', size: 3 },
      ]);
    }
    // An importer (B) still accepts A's cosigned checkpoint when it pulls.
    expect((await runPullJob(b.deps)).peers[0]).toMatchObject({ sovereign_id: 'na-a', outcome: 'ok' });

    // A grows; the next submission starts from the size each witness cosigned: no 409 needed.
    publishAtSizes(a, [8]);
    const next = await submitToWitnesses(a.deps);
    expect(next.witnesses.map((w) => w.outcome)).toEqual(['cosigned', 'cosigned']);
    expect(await requests(b, 409)).toBe(0);
    expect(await requests(b, 200)).toBe(2);
    // Nothing more to do until the next publication.
    expect((await submitToWitnesses(a.deps)).witnesses.map((w) => w.outcome)).toEqual(['up_to_date', 'up_to_date']);

    const status = (await (await a.admin('GET', '/admin/log/witnesses')).json()) as { witnesses: Array<Record<string, unknown>> };
    expect(status.witnesses).toEqual([
      expect.objectContaining({
        name: 'na-b/witness',
        known_size: 8,
        cosigned_sequence: 2,
        up_to_date: true,
        consecutive_failures: 0,
        last_reason: null,
      }),
      expect.objectContaining({ name: 'na-c/witness', known_size: 8, cosigned_sequence: 2, up_to_date: true, consecutive_failures: 0 }),
    ]);
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toContain('accord_log_witness_up{witness="na-b/witness"} 1');
    expect(metrics).toContain('accord_log_witness_cosigned_size{witness="na-c/witness"} 8');
    expect(metrics).toContain(
      `accord_log_witness_last_cosignature_timestamp_seconds{witness="na-b/witness"} ${Math.floor(a.clock().getTime() / 1000)}`,
    );
    expect(metrics).toContain('accord_log_witness_submissions_total{witness="na-b/witness",outcome="cosigned"} 2');

    // Go's golang.org/x/mod/sumdb/note opens the cosigned checkpoint with the log key (unknown lines ignored) and checks the log.
    needGo(ctx);
    const report = await runGoChecker(checker, { url: `${a.url}/log`, vkeys: [vkeyOf(a)] });
    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({ ok: true, size: 8 });
  }, 120_000);

  it('a log that lost what a witness cosigned (not carried by a restore) asks from 0 and learns the size from the 409', async () => {
    const { a, b } = await federation();
    await submitToWitnesses(a.deps);
    publishAtSizes(a, [6]);
    a.db.sqlite.prepare('DELETE FROM log_witnesses').run();
    const round = await submitToWitnesses(a.deps);
    expect(round.witnesses.map((w) => w.outcome)).toEqual(['cosigned', 'cosigned']);
    expect(await requests(b, 409)).toBe(1);
    expect(await requests(b, 200)).toBe(2);
    expect(b.db.sqlite.prepare('SELECT size FROM witness_checkpoints').pluck().get()).toBe(6);
  });

  it('a failing witness: the others still cosign; failure audited once, backoff, up = 0; recovery audited', async () => {
    const b = await node('na-b');
    const c = await node('na-c');
    // C behind a switch: 503 while off.
    const on = { current: false };
    const proxy = await listen(async (req) => {
      if (!on.current) return new Response('down for maintenance\n', { status: 503 });
      const url = new URL(req.url);
      return fetch(`${c.url}${url.pathname}${url.search}`, {
        method: req.method,
        headers: req.headers,
        ...(req.method === 'POST' ? { body: await req.text() } : {}),
      });
    });
    stops.push(proxy.stop);
    const a = await node('na-a', [await witnessEntry(b), await witnessEntry(c, proxy.url)]);
    publishAtSizes(a, [2]);
    await witnessLog(b, a);
    await witnessLog(c, a);

    let round = await submitToWitnesses(a.deps);
    expect(round.witnesses[0]).toMatchObject({ witness: 'na-b/witness', outcome: 'cosigned' });
    expect(round.witnesses[1]).toMatchObject({
      witness: 'na-c/witness',
      outcome: 'failed',
      reason: 'unexpected_status',
      next_attempt_at: '2026-03-01T00:00:30Z',
    });
    expect(lastAudit(a.db)).toMatchObject({
      event_type: 'witness_cosigning_failing',
      actor: { type: 'system' },
      details: { witness: 'na-c/witness', reason: 'unexpected_status', size: 2 },
    });
    // The served checkpoint carries the cosignature that came.
    expect(signatureLines(await latestNote(a))).toHaveLength(2);
    expect(await (await fetch(`${a.url}/metrics`)).text()).toContain('accord_log_witness_up{witness="na-c/witness"} 0');

    // Within the backoff nothing is sent; after it, a second failure doubles it and is not audited again.
    round = await submitToWitnesses(a.deps);
    expect(round.witnesses[1]).toEqual({ witness: 'na-c/witness', outcome: 'backing_off', next_attempt_at: '2026-03-01T00:00:30Z' });
    a.clock.advance(30);
    round = await submitToWitnesses(a.deps);
    expect(round.witnesses[1]).toMatchObject({ outcome: 'failed', next_attempt_at: '2026-03-01T00:01:30Z' });
    expect(auditCount(a.db, 'witness_cosigning_failing')).toBe(1);

    // Back up: `accord witness submit` (forced) ignores the backoff; the recovery is audited.
    on.current = true;
    const res = await a.admin('POST', '/admin/log/witnesses/submit');
    expect(await res.json()).toMatchObject({
      witnesses: [{ outcome: 'up_to_date' }, { witness: 'na-c/witness', outcome: 'cosigned', size: 2 }],
    });
    expect(lastAudit(a.db)).toMatchObject({ event_type: 'witness_cosigning_recovered', details: { witness: 'na-c/witness', failures: 2 } });
    expect(signatureLines(await latestNote(a))).toHaveLength(3);
    expect(await (await fetch(`${a.url}/metrics`)).text()).toContain('accord_log_witness_up{witness="na-c/witness"} 1');

    // A witness that answers 200 with nothing that verifies under its configured key is failing too.
    const impostor = await listen(() => new Response(`\u2014 na-c/witness ${Buffer.alloc(76).toString('base64')}\n`));
    stops.push(impostor.stop);
    const liar = await node('na-liar', [{ ...(await witnessEntry(c)), url: `${impostor.url}/witness` }]);
    publishAtSizes(liar, [1]);
    expect((await submitToWitnesses(liar.deps)).witnesses[0]).toMatchObject({ outcome: 'failed', reason: 'invalid_cosignature' });
    expect(liar.db.sqlite.prepare('SELECT count(*) FROM log_cosignatures').pluck().get()).toBe(0);
  });

  it('in the background: each publication is submitted at once; stopping the app waits for a submission under way', async () => {
    const { a, b, c } = await federation();
    startWitnessSubmissions(a.deps);
    const cosignedSequences = () => a.db.sqlite.prepare('SELECT DISTINCT sequence FROM log_cosignatures ORDER BY sequence').pluck().all();
    // Each witness answers on its own: a publication is cosigned once both witnesses' lines are stored.
    const cosigners = (sequence: number) =>
      a.db.sqlite.prepare('SELECT count(DISTINCT witness) FROM log_cosignatures WHERE sequence = ?').pluck().get(sequence);
    await waitFor(() => cosigners(1) === 2);
    publishAtSizes(a, [5]);
    await waitFor(() => cosigners(2) === 2);
    expect(cosignedSequences()).toEqual([1, 2]);
    for (const w of [b, c]) expect(w.db.sqlite.prepare('SELECT size FROM witness_checkpoints').pluck().get()).toBe(5);
    await a.close();
  });
});

/** Polls a condition (the background job runs on real timers and real HTTP). */
async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("cosignatures checked by Go's crypto/ed25519 over the message c2sp.org/tlog-cosignature defines", () => {
  /** A cosigned by three witnesses: the log's checkpoint carries three cosignature lines, each witness's monitoring view one. */
  async function cosignedByThree(): Promise<{ a: Node; witnesses: Node[]; vkeys: string[] }> {
    const witnesses = [await node('na-b'), await node('na-c'), await node('na-d')];
    const entries = await Promise.all(witnesses.map((w) => witnessEntry(w)));
    const a = await node('na-a', entries);
    publishAtSizes(a, [5]);
    for (const w of witnesses) await witnessLog(w, a);
    expect((await submitToWitnesses(a.deps)).witnesses.map((w) => w.outcome)).toEqual(['cosigned', 'cosigned', 'cosigned']);
    return { a, witnesses, vkeys: entries.map((e) => e.vkey) };
  }

  /** A proxy in front of A that passes everything through but lets `tamper` rewrite the served checkpoint. */
  async function checkpointProxy(a: Node, tamper: (note: string) => string): Promise<string> {
    const proxy = await listen(async (req) => {
      const url = new URL(req.url);
      const res = await fetch(`${a.url}${url.pathname}${url.search}`);
      const body = Buffer.from(await res.arrayBuffer());
      const out = url.pathname === '/log/checkpoint' ? Buffer.from(tamper(body.toString('utf8'))) : body;
      return new Response(new Uint8Array(out), { status: res.status, headers: { 'Content-Type': res.headers.get('content-type') ?? '' } });
    });
    stops.push(proxy.stop);
    return proxy.url;
  }

  /** Rewrites the signature bytes of the note's line by `name` (in place, or returns new bytes). */
  const rewriteLine = (note: string, name: string, change: (bytes: Buffer) => unknown) =>
    note.replace(new RegExp(`^\u2014 ${name.replace('/', '\\/')} (\\S+)$`, 'mu'), (_line, b64: string) => {
      const bytes = Buffer.from(b64, 'base64');
      const changed = change(bytes);
      return `\u2014 ${name} ${(Buffer.isBuffer(changed) ? changed : bytes).toString('base64')}`;
    });

  it('every witness line of the served checkpoint, and each witness monitoring view, verifies; the key ids are the vkeys', async (ctx) => {
    needGo(ctx);
    const { a, witnesses, vkeys } = await cosignedByThree();
    const time = Math.floor(a.clock().getTime() / 1000);
    let report = await runGoChecker(checker, { url: `${a.url}/log`, vkeys: [vkeyOf(a)], cosigners: vkeys });
    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({ ok: true, size: 5, entries_checked: 5 });
    expect(report.cosignatures).toEqual(vkeys.map((vkey) => ({ name: vkey.split('+')[0], key_id: vkey.split('+')[1], timestamp: time })));
    // The checkpoint text the witnesses signed carries Accord's audit-head extension line: it is in the signed message.
    expect(report.extensions).toHaveLength(1);

    // Each witness serves what it cosigned at /witness/<sha256(origin)>/checkpoint: the log's line and its own.
    const originHash = createHash('sha256').update('na-a/log').digest('hex');
    for (const [i, w] of witnesses.entries()) {
      report = await runGoChecker(checker, {
        url: `${w.url}/witness/${originHash}`,
        vkeys: [vkeyOf(a)],
        cosigners: [vkeys[i]!],
        noteOnly: true,
      });
      expect(report.failures).toEqual([]);
      expect(report.cosignatures).toHaveLength(1);
      // Another witness's key is not on it.
      report = await runGoChecker(checker, {
        url: `${w.url}/witness/${originHash}`,
        vkeys: [vkeyOf(a)],
        cosigners: [vkeys[(i + 1) % 3]!],
        noteOnly: true,
      });
      expect(report.failures).toEqual([`no cosignature of ${vkeys[(i + 1) % 3]!.split('+').slice(0, 2).join('+')} on the checkpoint`]);
    }

    // The log grows; the next round's lines verify over the new text.
    publishAtSizes(a, [9]);
    await submitToWitnesses(a.deps);
    report = await runGoChecker(checker, { url: `${a.url}/log`, vkeys: [vkeyOf(a)], cosigners: vkeys });
    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({ ok: true, size: 9 });
    expect(report.cosignatures).toHaveLength(3);
  }, 120_000);

  it('a changed signature, timestamp or key, and a line that is missing, fail the Go check', async (ctx) => {
    needGo(ctx);
    const { a, vkeys } = await cosignedByThree();
    const [b] = vkeys as [string, string, string];
    const bName = b.split('+')[0]!;
    const cases: Array<[string, (note: string) => string, RegExp]> = [
      [
        'a signature bit flipped',
        (n) => rewriteLine(n, bName, (bytes) => (bytes[40]! ^= 1)),
        /^cosignature of na-b\/witness \(time \d+\) does not verify$/,
      ],
      [
        'the timestamp one second later',
        (n) => rewriteLine(n, bName, (bytes) => bytes.writeBigUInt64BE(bytes.readBigUInt64BE(4) + 1n, 4)),
        /^cosignature of na-b\/witness \(time \d+\) does not verify$/,
      ],
      ['the timestamp past 2^63 - 1', (n) => rewriteLine(n, bName, (bytes) => bytes.writeBigUInt64BE(2n ** 63n, 4)), /beyond 2\^63-1/],
      [
        'the line cut to a plain note signature',
        (n) => rewriteLine(n, bName, (bytes) => Buffer.concat([bytes.subarray(0, 4), bytes.subarray(12)])),
        /not key id, timestamp and an Ed25519 signature \(68 bytes\)/,
      ],
      [
        'the line removed',
        (n) => n.replace(/^\u2014 na-b\/witness \S+\n/mu, ''),
        /^no cosignature of na-b\/witness\+[0-9a-f]{8} on the checkpoint$/,
      ],
    ];
    for (const [what, tamper, failure] of cases) {
      const url = await checkpointProxy(a, tamper);
      const report = await runGoChecker(checker, { url: `${url}/log`, vkeys: [vkeyOf(a)], cosigners: vkeys, history: false });
      expect(report.ok, what).toBe(false);
      expect(report.exitCode, what).toBe(1);
      expect(
        report.failures.some((f) => failure.test(f)),
        `${what}: ${JSON.stringify(report.failures)}`,
      ).toBe(true);
      // The other two witnesses' lines still verify.
      expect(
        report.cosignatures.map((c) => c.name),
        what,
      ).toEqual(['na-c/witness', 'na-d/witness']);
    }

    // Keys that are not B's cosigner key: its key under another name (the id follows the name), an altered id, a note key (0x01).
    const bKey = Buffer.from(b.split('+')[2]!, 'base64').subarray(1);
    const bad: Array<[string, RegExp]> = [
      [formatCosignerKey('na-b/other', bKey), /^no cosignature of na-b\/other\+/],
      [`${bName}+00000000+${b.split('+')[2]}`, /key id does not match the name and key/],
      [formatVerifierKey(bName, bKey), /not base64\(0x04/],
    ];
    for (const [vkey, failure] of bad) {
      const report = await runGoChecker(checker, { url: `${a.url}/log`, vkeys: [vkeyOf(a)], cosigners: [vkey], history: false });
      expect(report.ok).toBe(false);
      expect(
        report.failures.some((f) => failure.test(f)),
        JSON.stringify(report.failures),
      ).toBe(true);
    }
  }, 120_000);
});
