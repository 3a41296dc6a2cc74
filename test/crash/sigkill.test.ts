// Crash consistency: real `accord serve` processes are killed with SIGKILL at seeded random moments
// during feed import, feed publishing, treaty issuing and restore. After every kill: integrity_check
// is ok, the audit chain verifies, an import is wholly applied or not at all, no published sequence
// is missing or rewritten, nothing acknowledged is lost, and the server starts again.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testKey } from '../helpers/authority.ts';
import { SimulatedIssuer, type Feed } from '../feeds/simulated-issuer.ts';
import { canonicalHash } from '../../src/authority/crypto.ts';
import { checkDatabase, lastAuditEvent, rng, runCli, startAccord, treatyIds, type Accord } from './harness.ts';

const TRIALS = Number(process.env.ACCORD_CRASH_TRIALS ?? 50);
const CHAINS = Number(process.env.ACCORD_CRASH_PARALLEL ?? 2);
const SEED = Number(process.env.ACCORD_CRASH_SEED ?? 20261122);
const ISSUER = 'peer-crash-issuer';
const ENTRIES_PER_FEED = 1500;

type Kind = 'import' | 'publish' | 'treaty' | 'restore';
const KINDS: Kind[] = (process.env.ACCORD_CRASH_KINDS?.split(',') as Kind[] | undefined) ?? ['import', 'publish', 'treaty', 'restore'];

const operator = { label: 'crash', key: testKey('operator:crash') };
const issuerKey = testKey('crash:issuer');
const roots: string[] = [];
const figures = {
  trials: 0,
  byKind: {} as Record<string, number>,
  restoresCompleted: 0,
  restoresKilled: 0,
  restoresSwapped: 0,
  acknowledged: { treaties: 0, imports: 0, publishes: 0 },
  starts: 0,
};

afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  console.info(`[crash] ${JSON.stringify(figures)}`);
});

interface Chain {
  index: number;
  root: string;
  dataDir: string;
  dbPath: string;
  env: Record<string, string>;
  random: () => number;
  sim: SimulatedIssuer;
  feeds: Feed[];
  publishedHashes: Map<number, string>;
  /** Treaties acknowledged with 201 since the last completed restore (or ever). */
  ackedTreaties: Set<string>;
  ackedImport: number;
  backupFile: string;
  restoreMs: number;
}

function newChain(index: number): Chain {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-crash-'));
  roots.push(root);
  const dataDir = path.join(root, 'data');
  const sim = new SimulatedIssuer(ISSUER, [issuerKey], () => new Date());
  return {
    index,
    root,
    dataDir,
    dbPath: path.join(dataDir, 'accord.db'),
    env: {
      ACCORD_DATA_DIR: dataDir,
      ACCORD_SOVEREIGN_ID: `na-crash-${index}`,
      OPERATOR_PUBLIC_KEYS_JSON: JSON.stringify({ [operator.label]: operator.key.publicKey }),
      LOG_LEVEL: 'silent',
    },
    random: rng(SEED + index),
    sim,
    feeds: [],
    publishedHashes: new Map(),
    ackedTreaties: new Set(),
    ackedImport: 0,
    backupFile: path.join(root, 'backup.db'),
    restoreMs: 2500,
  };
}

function feedAt(chain: Chain, sequence: number): Feed {
  while (chain.feeds.length < sequence) chain.feeds.push(chain.sim.next({ entries: ENTRIES_PER_FEED, issuedAtOffset: -60 }));
  return chain.feeds[sequence - 1]!;
}

async function recordPublished(chain: Chain, a: Accord): Promise<void> {
  const since = Math.max(0, ...chain.publishedHashes.keys());
  const page = await a.get(`/revocation-feeds?since=${since}&limit=100`);
  if (page.status !== 200) return;
  for (const feed of page.body.feeds as Array<{ sequence: number }>) chain.publishedHashes.set(feed.sequence, canonicalHash(feed));
}

/** A stream of requests of one kind until `stop()` is true; only acknowledged results are recorded. */
async function workload(chain: Chain, a: Accord, kind: Exclude<Kind, 'restore'>, stop: () => boolean): Promise<void> {
  let n = 0;
  try {
    while (!stop()) {
      n++;
      if (kind === 'treaty') {
        const res = await a.admin('POST', '/admin/recognition-treaties', {
          subject_sovereign_id: `subject-${chain.index}-${n}`,
          subject_public_keys: [testKey(`crash:subject:${n % 7}`).publicKey],
          scope: { allowed_roles: ['role:client'] },
          validity_hours: 48,
        });
        if (res.status === 201) {
          chain.ackedTreaties.add(res.body.treaty_id);
          figures.acknowledged.treaties++;
        }
      } else if (kind === 'import') {
        const state = await a.admin('GET', '/admin/revocation-feeds/issuers');
        const current =
          (state.body.issuers as Array<{ issuer_sovereign_id: string; imported_sequence: number }>).find(
            (i) => i.issuer_sovereign_id === ISSUER,
          )?.imported_sequence ?? 0;
        expect(current).toBeGreaterThanOrEqual(chain.ackedImport);
        const res = await a.admin('POST', '/admin/revocation-feeds/import', { feed: feedAt(chain, current + 1) });
        if (res.status === 200 && res.body.status === 'imported') {
          chain.ackedImport = res.body.sequence;
          figures.acknowledged.imports++;
        } else if (res.status !== 200) throw new Error(`import refused: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      } else {
        const att = await a.admin('POST', '/admin/attestations', {
          subject_id: `node-${chain.index}-${n}`,
          roles: ['role:client'],
          validity_hours: 24,
        });
        if (att.status !== 201) throw new Error(`attestation refused: ${att.status}`);
        await a.admin('POST', `/admin/attestations/${att.body.attestation_id}/revoke`, { reason: 'key_compromise' });
        const res = await a.admin('POST', '/admin/revocation-feeds/publish', {});
        if (res.status === 200) {
          figures.acknowledged.publishes += (res.body.published as unknown[]).length;
          await recordPublished(chain, a);
        }
      }
    }
  } catch (err) {
    // The kill cuts a request short: expected. Anything else while the server lives is a failure.
    if (!stop()) throw err;
  }
}

function check(chain: Chain): ReturnType<typeof checkDatabase> {
  const report = checkDatabase(chain.dbPath, { publishedHashes: chain.publishedHashes, issuer: ISSUER });
  const present = treatyIds(chain.dbPath);
  const lost = [...chain.ackedTreaties].filter((id) => !present.has(id));
  expect(lost, 'acknowledged treaties lost').toEqual([]);
  expect(report.importedSequence, 'acknowledged import lost').toBeGreaterThanOrEqual(chain.ackedImport);
  return report;
}

async function setUp(chain: Chain): Promise<Accord> {
  const a = await startAccord(chain.env, operator);
  figures.starts++;
  const treaty = await a.admin('POST', '/admin/recognition-treaties', {
    subject_sovereign_id: ISSUER,
    subject_public_keys: [issuerKey.publicKey],
    scope: { allowed_roles: ['role:anchor'] },
    validity_hours: 24 * 30,
  });
  expect(treaty.status).toBe(201);
  chain.ackedTreaties.add(treaty.body.treaty_id);
  const backup = await runCli(['backup', '--db', chain.dbPath, '--output', chain.backupFile], chain.env);
  expect(backup.code, backup.stderr).toBe(0);
  return a;
}

async function trial(chain: Chain, a: Accord, kind: Kind): Promise<Accord> {
  figures.trials++;
  figures.byKind[kind] = (figures.byKind[kind] ?? 0) + 1;
  if (kind === 'restore') {
    // A little traffic, a crash, then a restore that is itself killed at a random moment.
    let stopped = false;
    const work = workload(chain, a, 'treaty', () => stopped);
    await new Promise((r) => setTimeout(r, 200 + chain.random() * 300));
    stopped = true;
    await a.kill();
    await work;
    check(chain);
    const headBefore = lastAuditEvent(chain.dbPath);
    const delay = Math.round(chain.restoreMs * (0.3 + chain.random()));
    const res = await runCli(['restore', '--db', chain.dbPath, '--backup', chain.backupFile, '--yes'], chain.env, delay);
    // The kill moment adapts to how long a restore takes here, so both outcomes keep occurring.
    if (res.code === 0) {
      chain.restoreMs = res.ms;
      figures.restoresCompleted++;
    } else {
      chain.restoreMs *= 1.25;
      figures.restoresKilled++;
    }
    if (res.signal === null && res.code !== 0) throw new Error(`restore failed: ${res.stderr}`);
    const report = checkDatabase(chain.dbPath, { publishedHashes: chain.publishedHashes, issuer: ISSUER });
    const head = lastAuditEvent(chain.dbPath);
    const restored = head.event_type === 'database_restored' && head.details.replaced_audit_head?.hash === headBefore.hash;
    if (!restored) expect(head.hash, 'a killed restore changed the live database').toBe(headBefore.hash);
    if (restored) {
      figures.restoresSwapped++;
      // Restored: the database is the backup's (plus carried-forward feeds); what came after is in the pre-restore backup.
      expect(res.code === 0 || res.signal === 'SIGKILL').toBe(true);
      chain.ackedTreaties = treatyIds(chain.dbPath);
      chain.ackedImport = report.importedSequence;
    } else {
      // Not restored: every acknowledged change is still there.
      try {
        check(chain);
      } catch (err) {
        const files = fs.readdirSync(chain.dataDir).join(' ');
        throw new Error(
          `${(err as Error).message}\nafter a restore killed at ${delay} ms (exit ${res.code}, ${res.signal}); files: ${files}; stderr: ${res.stderr.slice(0, 500)}`,
        );
      }
    }
  } else {
    let stopped = false;
    const delay = 100 + chain.random() * 1000;
    const work = workload(chain, a, kind, () => stopped);
    await new Promise((r) => setTimeout(r, delay));
    stopped = true;
    await a.kill();
    await work;
    check(chain);
  }
  // The server starts again on what the crash left.
  const next = await startAccord(chain.env, operator);
  figures.starts++;
  const ready = await next.get('/readyz');
  expect(ready.status, JSON.stringify(ready.body)).toBe(200);
  await recordPublished(chain, next);
  return next;
}

async function runChain(chain: Chain, trials: number): Promise<void> {
  let a = await setUp(chain);
  // Every kind in turn, in a seeded order within each round.
  const order: Kind[] = [];
  while (order.length < trials) {
    const round = [...KINDS];
    for (let i = round.length - 1; i > 0; i--) {
      const j = Math.floor(chain.random() * (i + 1));
      [round[i], round[j]] = [round[j]!, round[i]!];
    }
    order.push(...round);
  }
  for (const kind of order.slice(0, trials)) a = await trial(chain, a, kind);
  await a.kill();
  check(chain);
}

describe('SIGKILL at random moments (seeded)', () => {
  it(`${TRIALS} trials over feed import, publishing, treaty issuing and restore: consistent after every kill`, async () => {
    const chains = Array.from({ length: CHAINS }, (_, i) => newChain(i));
    await Promise.all(chains.map((c, i) => runChain(c, Math.floor(TRIALS / CHAINS) + (i < TRIALS % CHAINS ? 1 : 0))));
    expect(figures.trials).toBe(TRIALS);
    for (const kind of KINDS) expect(figures.byKind[kind] ?? 0, `no ${kind} trials`).toBeGreaterThan(0);
  }, 600_000);
});
