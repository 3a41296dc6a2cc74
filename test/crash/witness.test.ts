// Crash consistency of the witness: a real `accord serve` is fed a stream of growing checkpoints of a witnessed log
// (and, at the same time, forks, stale and rolled-back checkpoints of it) and killed with SIGKILL at seeded random
// moments; a backup older than its last cosignature is restored with the real `accord backup` / `accord restore`.
// Neither ever leads it to cosign a checkpoint inconsistent with, or smaller than, one it cosigned before.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { verifyConsistency } from '../../src/transparency/proofs.ts';
import { addCheckpointBody, SyntheticLog, SyntheticTree } from '../../bench/lib/synthetic-log.ts';
import { testKey } from '../helpers/authority.ts';
import { specVerify } from '../witness/helpers.ts';
import { checkDatabase, lastAuditEvent, rng, runCli, startAccord, type Accord } from './harness.ts';

const TRIALS = Number(process.env.ACCORD_CRASH_WITNESS_TRIALS ?? 12);
const RESTORES = Number(process.env.ACCORD_CRASH_WITNESS_RESTORES ?? 3);
const SEED = Number(process.env.ACCORD_CRASH_SEED ?? 20261122);
const LOG_ID = 'log-crash-witnessed';
const ORIGIN = 'log-crash-witnessed.example/log';
/** Leaves of the synthetic log: more than the trials grow it by (each request adds 1 to 20). */
const LOG_SIZE = 150_000;

const operator = { label: 'crash', key: testKey('operator:crash') };
const logKey = testKey('crash:witnessed-log');
const roots: string[] = [];
const figures = {
  kills: 0,
  starts: 0,
  cosigned: 0,
  /** Attacks answered (each must have been refused), by kind. */
  attacks: { refused: 0 } as Record<string, number>,
  committedUnacknowledged: 0,
  probesAfterRestart: 0,
  restores: 0,
  probesAfterRestore: 0,
};

afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  console.info(`[crash:witness] ${JSON.stringify(figures)}`);
});

interface Cosigned {
  size: number;
  root: string;
  timestamp: bigint;
}

/** One witness data dir, the log it witnesses, and everything its answers told the client. */
interface Chain {
  root: string;
  dbPath: string;
  env: Record<string, string>;
  random: () => number;
  honest: SyntheticLog;
  /** Histories that agree with the honest one on their first `fork.at` leaves only. */
  forks: SyntheticLog[];
  witness: { name: string; raw: Buffer };
  /** Every cosignature the witness returned, in the order received. */
  cosigned: Cosigned[];
  /** The largest size cosigned in an answer the client received (0 before the first). */
  maxAcked: number;
  /** The size the honest client sends as `old`. */
  known: number;
  /** Completed restores: the restored audit log lacks the cosignatures made after its backup. */
  restores: number;
}

function newChain(index: number, forkPoints: number[], size = LOG_SIZE): Chain {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-crash-witness-'));
  roots.push(root);
  const dataDir = path.join(root, 'data');
  const honest = new SyntheticLog(new SyntheticTree(size), ORIGIN, logKey);
  return {
    root,
    dbPath: path.join(dataDir, 'accord.db'),
    env: {
      ACCORD_DATA_DIR: dataDir,
      ACCORD_SOVEREIGN_ID: `na-crash-witness-${index}`,
      OPERATOR_PUBLIC_KEYS_JSON: JSON.stringify({ [operator.label]: operator.key.publicKey }),
      LOG_LEVEL: 'silent',
    },
    random: rng(SEED + 100 + index),
    honest,
    forks: forkPoints.map((at) => new SyntheticLog(new SyntheticTree(size, 'honest', { at, label: `fork-${at}` }), ORIGIN, logKey)),
    witness: { name: '', raw: Buffer.alloc(0) },
    cosigned: [],
    maxAcked: 0,
    known: 0,
    restores: 0,
  };
}

async function post(a: Accord, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${a.url}/witness/add-checkpoint`, { method: 'POST', body });
  return { status: res.status, text: await res.text() };
}

const pick = <T>(chain: Chain, list: readonly T[]): T => list[Math.floor(chain.random() * list.length)]!;
const randomRoot = (chain: Chain) => createHash('sha256').update(String(chain.random())).digest('hex');

/** The cosignature lines of an answer, each checked with the independent spec check over the honest text at `size`. */
function acceptCosignature(chain: Chain, size: number, text: string): void {
  const lines = text.split('\n').filter((l) => l.length > 0);
  expect(lines.length, 'a 200 carries a cosignature line').toBeGreaterThan(0);
  for (const line of lines) {
    const check = specVerify(line, chain.witness.name, chain.witness.raw, chain.honest.text(size));
    expect(check?.valid, `cosignature over size ${size} verifies`).toBe(true);
    chain.cosigned.push({ size, root: chain.honest.root(size), timestamp: check!.timestamp });
  }
  // Never smaller than one it cosigned before (answers of one client arrive in the order sent).
  expect(size, 'cosigned below a size it had cosigned').toBeGreaterThanOrEqual(chain.maxAcked);
  chain.maxAcked = size;
  figures.cosigned++;
}

/** A 409 names the witness's size: never below what it cosigned in an answer received before. */
function witnessSize(text: string, floor: number): number {
  expect(text).toMatch(/^(0|[1-9][0-9]*)\n$/);
  const size = Number(text);
  expect(size, 'the witness reports a size below one it cosigned').toBeGreaterThanOrEqual(floor);
  return size;
}

/** The honest log operator: the next checkpoint, from the size it believes the witness is at. */
async function honestStep(chain: Chain, a: Accord): Promise<void> {
  const old = chain.known;
  const size = Math.min(LOG_SIZE, old + 1 + Math.floor(chain.random() * 20), chain.honest.size);
  const floor = chain.maxAcked;
  const res = await post(a, addCheckpointBody(old, chain.honest.proof(old, size), chain.honest.note(size)));
  if (res.status === 200) {
    acceptCosignature(chain, size, res.text);
    chain.known = size;
  } else if (res.status === 409) {
    chain.known = witnessSize(res.text, floor);
  } else {
    throw new Error(`honest checkpoint ${old} → ${size} refused: ${res.status} ${res.text.slice(0, 300)}`);
  }
}

type Attack = 'fork_at_cosigned' | 'fork_extension' | 'stale' | 'rollback_old' | 'fork_below';

/**
 * A log showing another history, or replaying an old view: each is built against what the client knows the
 * witness cosigned, so every one must be refused (400, 409 or 422) whatever the witness's state has become since.
 */
async function attack(chain: Chain, a: Accord): Promise<void> {
  const known = chain.maxAcked;
  // Nothing to contradict yet: wait for the honest log (a timer, so this loop never starves the others).
  if (known < 2) return new Promise((resolve) => setTimeout(resolve, 5));
  const acked = chain.cosigned.map((c) => c.size).filter((s) => s < known && s > 0);
  const kinds: Attack[] = ['fork_at_cosigned', 'stale', 'fork_below'];
  const forks = chain.forks.filter((f) => f.tree.fork!.at < known);
  if (forks.length > 0) kinds.push('fork_extension');
  if (acked.length > 0) kinds.push('rollback_old');
  const kind = pick(chain, kinds);
  let body: string;
  if (kind === 'fork_at_cosigned') {
    // Another root at the size cosigned last.
    body = addCheckpointBody(known, [], chain.honest.forgedNote(known, randomRoot(chain)));
  } else if (kind === 'fork_below') {
    // Another root at an earlier size, from that size.
    const size = acked.length > 0 ? pick(chain, acked) : 1;
    body = addCheckpointBody(size, [], chain.honest.forgedNote(size, randomRoot(chain)));
  } else if (kind === 'stale') {
    // An older honest checkpoint, from its own size or from 0.
    const size = acked.length > 0 ? pick(chain, acked) : 1;
    body = addCheckpointBody(chain.random() < 0.5 ? size : 0, [], chain.honest.note(size));
  } else if (kind === 'rollback_old') {
    // A newer honest checkpoint, but proved from an older size than the witness's: the witness only moves from its own.
    const from = pick(chain, acked);
    const size = Math.min(chain.honest.size, known + 1 + Math.floor(chain.random() * 20));
    body = addCheckpointBody(from, chain.honest.proof(from, size), chain.honest.note(size));
  } else {
    // A larger tree of a history that left the honest one below the cosigned size, with that history's own proof.
    const fork = pick(chain, forks);
    const size = Math.min(fork.size, known + 1 + Math.floor(chain.random() * 20));
    body = addCheckpointBody(known, fork.proof(known, size), fork.note(size));
  }
  const res = await post(a, body);
  expect([400, 409, 422], `${kind} answered ${res.status}: ${res.text.slice(0, 200)}`).toContain(res.status);
  if (res.status === 409) witnessSize(res.text, known);
  figures.attacks.refused!++;
  figures.attacks[kind] = (figures.attacks[kind] ?? 0) + 1;
}

/** The honest log and an attacker at once, until `stop()`; errors after the kill are expected. */
async function stream(chain: Chain, a: Accord, stop: () => boolean, attacks = true): Promise<void> {
  const loop = async (step: () => Promise<void>) => {
    try {
      while (!stop()) await step();
    } catch (err) {
      if (!stop()) throw err;
    }
  };
  await Promise.all([loop(() => honestStep(chain, a)), ...(attacks ? [loop(() => attack(chain, a))] : [])]);
}

async function streamFor(chain: Chain, a: Accord, ms: number): Promise<void> {
  let stopped = false;
  const work = stream(chain, a, () => stopped);
  await new Promise((r) => setTimeout(r, ms));
  stopped = true;
  await work;
}

/** Starts the witness; on first start, recognizes the log's sovereign and (unless told not to) enables witnessing its origin. */
async function start(chain: Chain, setUp: boolean, enableLog = true): Promise<Accord> {
  const a = await startAccord(chain.env, operator);
  figures.starts++;
  if (setUp) {
    const treaty = await a.admin('POST', '/admin/recognition-treaties', {
      subject_sovereign_id: LOG_ID,
      subject_public_keys: [logKey.publicKey],
      scope: { allowed_roles: ['role:anchor'] },
      validity_hours: 24 * 30,
    });
    expect(treaty.status, JSON.stringify(treaty.body)).toBe(201);
    if (enableLog) await enable(a);
    const info = await a.get('/witness');
    chain.witness = { name: info.body.name, raw: Buffer.from(info.body.keys[0].public_key, 'base64') };
  }
  return a;
}

async function enable(a: Accord): Promise<void> {
  const res = await a.admin('POST', '/admin/witness/logs', { sovereign_id: LOG_ID, origin: ORIGIN });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

interface StoredState {
  size: number;
  root: string;
  note: string;
  audited: Array<{ size: number; root_hash: string; previous_size: number }>;
  conflicts: Array<{ submitted_size: number; submitted_root: string }>;
}

/**
 * The checks on the database file with no server running: integrity and the audit chain (the crash harness's own
 * checks), then the witness's state: on the honest history, at least as large as every acknowledged cosignature,
 * carrying a cosignature that verifies; every cosignature ever audited on the honest history, never shrinking;
 * and conflict evidence only for checkpoints that are not honest.
 */
function checkWitnessDatabase(chain: Chain): StoredState {
  checkDatabase(chain.dbPath, { publishedHashes: new Map(), issuer: LOG_ID });
  const db = new BetterSqlite3(chain.dbPath, { readonly: true });
  try {
    const row = db.prepare('SELECT size, root_hash, note FROM witness_checkpoints WHERE origin = ?').get(ORIGIN) as
      | { size: number; root_hash: string; note: string }
      | undefined;
    const audited = (
      db
        .prepare("SELECT canonical FROM audit_events WHERE event_type = 'witness_checkpoint_cosigned' ORDER BY seq")
        .pluck()
        .all() as string[]
    ).map((c) => (JSON.parse(c) as { details: { size: number; root_hash: string; previous_size: number } }).details);
    const conflicts = db.prepare('SELECT submitted_size, submitted_root FROM witness_conflicts').all() as StoredState['conflicts'];
    if (!row) {
      expect(chain.maxAcked, 'acknowledged cosignatures but no witness state').toBe(0);
      return { size: 0, root: '', note: '', audited, conflicts };
    }
    expect(row.size, 'the witness state is below an acknowledged cosignature').toBeGreaterThanOrEqual(chain.maxAcked);
    expect(row.root_hash, `the witness state at ${row.size} is not the honest tree`).toBe(`sha256:${chain.honest.root(row.size)}`);
    const text = chain.honest.text(row.size);
    expect(row.note.startsWith(`${text}\n`)).toBe(true);
    const own = row.note
      .slice(text.length + 1, -1)
      .split('\n')
      .filter((l) => l.startsWith(`\u2014 ${chain.witness.name} `));
    expect(own).toHaveLength(1);
    expect(specVerify(own[0]!, chain.witness.name, chain.witness.raw, text)?.valid).toBe(true);
    let previous = 0;
    for (const event of audited) {
      expect(event.size, 'an audited cosignature below an earlier one').toBeGreaterThanOrEqual(previous);
      expect(event.root_hash, `audited cosignature at ${event.size} is not the honest tree`).toBe(
        `sha256:${chain.honest.root(event.size)}`,
      );
      previous = event.size;
    }
    if (chain.restores === 0) {
      // Each cosignature is audited in its own transaction (a restore keeps the later ones in the pre-restore backup).
      expect(audited.at(-1)?.size).toBe(row.size);
      for (const size of new Set(chain.cosigned.map((c) => c.size))) expect(audited.some((e) => e.size === size)).toBe(true);
    }
    for (const c of conflicts) expect(c.submitted_root).not.toBe(`sha256:${chain.honest.root(c.submitted_size)}`);
    return { size: row.size, root: row.root_hash, note: row.note, audited, conflicts };
  } finally {
    db.close();
  }
}

/** After a restart: nothing smaller than, or inconsistent with, the largest cosigned size `size` is cosigned. */
async function probeAfterRestart(chain: Chain, a: Accord, size: number): Promise<void> {
  const expectStatus = async (what: string, body: string, status: number, text?: string) => {
    const res = await post(a, body);
    expect(res.status, `${what}: ${res.text.slice(0, 200)}`).toBe(status);
    if (text !== undefined) expect(res.text, what).toBe(text);
    figures.probesAfterRestart++;
  };
  await expectStatus(
    'another root at the cosigned size',
    addCheckpointBody(size, [], chain.honest.forgedNote(size, randomRoot(chain))),
    422,
  );
  const earlier = chain.cosigned.filter((c) => c.size < size).map((c) => c.size);
  if (earlier.length > 0) {
    const s = pick(chain, earlier);
    await expectStatus('an older honest checkpoint', addCheckpointBody(s, [], chain.honest.note(s)), 409, `${size}\n`);
    await expectStatus(
      'another root at an older size',
      addCheckpointBody(s, [], chain.honest.forgedNote(s, randomRoot(chain))),
      409,
      `${size}\n`,
    );
  }
  const forks = chain.forks.filter((f) => f.tree.fork!.at < size);
  if (forks.length > 0) {
    const fork = pick(chain, forks);
    const to = Math.min(fork.size, size + 5);
    await expectStatus('a larger tree of another history', addCheckpointBody(size, fork.proof(size, to), fork.note(to)), 422);
  }
}

describe('witness: SIGKILL while cosigning (seeded)', () => {
  it(`${TRIALS} kills during a stream of growing checkpoints and attacks: never a cosignature smaller than or inconsistent with an earlier one`, async () => {
    const chain = newChain(0, [1, 300, 5_000, 40_000]);
    let a = await start(chain, true);
    for (let trial = 0; trial < TRIALS; trial++) {
      let stopped = false;
      const work = stream(chain, a, () => stopped);
      await new Promise((r) => setTimeout(r, 150 + chain.random() * 1000));
      stopped = true;
      await a.kill();
      figures.kills++;
      await work;

      const state = checkWitnessDatabase(chain);
      if (state.size > chain.maxAcked) figures.committedUnacknowledged++;
      a = await start(chain, false);
      expect((await a.get('/readyz')).status).toBe(200);
      if (state.size > 0) await probeAfterRestart(chain, a, state.size);
      // The monitoring view serves the state the database holds.
      if (state.size > 0) {
        const view = await a.get(`/witness/${createHash('sha256').update(ORIGIN).digest('hex')}/checkpoint`);
        expect(view.body).toBe(state.note);
      }
    }
    await a.kill();
    checkWitnessDatabase(chain);
    expect(figures.cosigned).toBeGreaterThan(TRIALS);
    // Every cosignature returned, in the order received, on one history and never shrinking.
    for (let i = 1; i < chain.cosigned.length; i++) {
      const [before, after] = [chain.cosigned[i - 1]!, chain.cosigned[i]!];
      expect(after.size).toBeGreaterThanOrEqual(before.size);
      expect(after.root).toBe(chain.honest.root(after.size));
    }
    expect(figures.attacks.refused).toBeGreaterThan(TRIALS);
  }, 600_000);
});

describe('witness: restoring a backup older than its last cosignature (accord backup / accord restore)', () => {
  it(`${RESTORES} restores: the witness state is carried forward, the older branch and forks are refused, the log goes on`, async () => {
    const SIZE = 20_000;
    const chain = newChain(1, [1], SIZE);
    let a = await start(chain, true, false);
    for (let round = 0; round < RESTORES; round++) {
      // Round 0's backup is taken before witnessing began: the restore also undoes enabling it.
      const beforeWitnessing = round === 0;
      if (!beforeWitnessing) await streamFor(chain, a, 200 + chain.random() * 500);
      const backupFile = path.join(chain.root, `backup-${round}.db`);
      const backup = await runCli(['backup', '--db', chain.dbPath, '--output', backupFile], chain.env);
      expect(backup.code, backup.stderr).toBe(0);
      const backedUp = chain.maxAcked;
      if (beforeWitnessing) await enable(a);
      // Cosigned after the backup: at least a few sizes beyond it.
      await streamFor(chain, a, 200 + chain.random() * 500);
      while (chain.maxAcked < backedUp + 3) await honestStep(chain, a);
      const s1 = backedUp;
      const s2 = chain.maxAcked;
      await a.kill();
      const before = checkWitnessDatabase(chain);
      expect(before.size).toBe(s2);

      const restored = await runCli(['restore', '--db', chain.dbPath, '--backup', backupFile, '--yes'], chain.env);
      expect(restored.code, restored.stderr).toBe(0);
      figures.restores++;
      chain.restores++;
      const summary = JSON.parse(restored.stdout) as { carried_forward: Record<string, number> };
      expect(summary.carried_forward.witness_checkpoints, 'the cosigned state is carried forward').toBe(1);
      expect(lastAuditEvent(chain.dbPath).event_type).toBe('database_restored');
      const after = checkWitnessDatabase(chain);
      expect({ size: after.size, root: after.root, note: after.note }).toEqual({ size: before.size, root: before.root, note: before.note });
      expect(after.conflicts.length).toBeGreaterThanOrEqual(before.conflicts.length);

      a = await start(chain, false);
      const expectStatus = async (what: string, body: string, status: number, text?: string) => {
        const res = await post(a, body);
        expect(res.status, `${what}: ${res.text.slice(0, 200)}`).toBe(status);
        if (text !== undefined) expect(res.text, what).toBe(text);
        figures.probesAfterRestore++;
      };
      if (beforeWitnessing) {
        // Which logs are witnessed is configuration, restored with the backup: until the operator enables it again, 404.
        await expectStatus('a log not witnessed in the backup', addCheckpointBody(s2, [], chain.honest.note(s2)), 404);
        await enable(a);
      }
      const logs = await a.admin('GET', '/admin/witness/logs');
      expect(logs.body.logs[0].cosigned.size, 'the witnessed log shows the carried-forward size').toBe(s2);

      // What the backup knew is not the witness's size any more.
      if (s1 > 0) {
        await expectStatus('the checkpoint cosigned at the backup', addCheckpointBody(s1, [], chain.honest.note(s1)), 409, `${s2}\n`);
        await expectStatus(
          'another root at the size cosigned at the backup',
          addCheckpointBody(s1, [], chain.honest.forgedNote(s1, randomRoot(chain))),
          409,
          `${s2}\n`,
        );
        const mid = s1 + Math.max(1, Math.floor((s2 - s1) / 2));
        await expectStatus(
          'an honest checkpoint between the backup and the last cosignature, from the backup',
          addCheckpointBody(s1, chain.honest.proof(s1, mid), chain.honest.note(mid)),
          409,
          `${s2}\n`,
        );
      }
      await expectStatus(
        'another root at the last cosigned size',
        addCheckpointBody(s2, [], chain.honest.forgedNote(s2, randomRoot(chain))),
        422,
      );

      // The older branch: a history that agrees with everything up to the backup and then differs. A witness rolled
      // back to the backup would cosign it (its proof from the backup's size holds); this one does not.
      const branch = new SyntheticLog(new SyntheticTree(SIZE, 'honest', { at: s1 + 1, label: `branch-${round}` }), ORIGIN, logKey);
      const top = s2 + 10;
      if (s1 > 0) {
        expect(
          verifyConsistency(
            s1,
            top,
            chain.honest.root(s1),
            branch.root(top),
            branch.proof(s1, top).map((h) => h.toString('hex')),
          ),
        ).toBe(true);
      }
      await expectStatus('the branch from the backup size', addCheckpointBody(s1, branch.proof(s1, top), branch.note(top)), 409, `${s2}\n`);
      await expectStatus('the branch from the cosigned size', addCheckpointBody(s2, branch.proof(s2, top), branch.note(top)), 422);
      await expectStatus('the branch at the cosigned size', addCheckpointBody(s2, [], branch.note(s2)), 422);

      // The monitoring view serves the carried-forward checkpoint, and the honest log goes on from it.
      const view = await a.get(`/witness/${createHash('sha256').update(ORIGIN).digest('hex')}/checkpoint`);
      expect(view.body).toBe(after.note);
      chain.known = s2;
      await honestStep(chain, a);
      expect(chain.maxAcked).toBeGreaterThan(s2);
    }
    await a.kill();
    checkWitnessDatabase(chain);
  }, 600_000);
});
