// witness: POST /witness/add-checkpoint over loopback from autocannon in a generator process, 20 witnessed logs (one
// connection each, sending its log's checkpoints in order) growing a 1,000,000-entry tree with a consistency proof
// per request, against the bare Ed25519 work of one request (verify the log's signature, sign the cosignature) with
// cached KeyObjects, measured in the same process.
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SYSTEM_ACTOR } from '../../src/authority/audit.ts';
import { cosignedMessage } from '../../src/authority/cosignature.ts';
import { parseNote } from '../../src/authority/signed-note.ts';
import { addCheckpoint, enableWitnessing } from '../../src/witness/service.ts';
import { issuer, openBenchAuthority, prng, recognize, scaled, SCALE, workDir, type BenchAuthority } from '../lib/fixtures.ts';
import { count, elapsedMs, emit, log, now, perSecond, round } from '../lib/harness.ts';
import type { LoadResult, LoadSpec } from '../lib/load.ts';
import { generatorCeiling, runLoad, serveAuthority } from '../lib/serve.ts';
import { addCheckpointBody, SyntheticLog, SyntheticTree } from '../lib/synthetic-log.ts';

const TREE_SIZE = scaled(1_000_000, 10_000);
const LOGS = 20;
const ROUNDS = 2;
/** Requests per log per round: 15,000 per round at full scale, about 10 s at the target rate. */
const PER_LOG = Math.max(20, Math.round(scaled(15_000) / LOGS));
const MAX_STEP = 50;
const TARGET_RPS = 1000;

export interface Prepared {
  authority: BenchAuthority;
  logs: SyntheticLog[];
  /** Per log: its sizes, the first cosigned in setup, then one per request. */
  sizes: number[][];
  /** Per log: the add-checkpoint bodies of the timed requests. */
  bodies: string[][];
  bodiesFile: string;
}

/** The witness with LOGS recognized sovereigns whose logs it witnesses, each at its first checkpoint, and every later request written out. */
export async function prepare(dir: string): Promise<Prepared> {
  fs.rmSync(dir, { recursive: true, force: true });
  const authority = openBenchAuthority(dir, 'bench-witness');
  const issuers = Array.from({ length: LOGS }, (_, i) => issuer(i));
  await recognize(authority, issuers);
  log(`witness: tree of ${count(TREE_SIZE)} synthetic leaves`);
  const started = now();
  const tree = new SyntheticTree(TREE_SIZE);
  log(`witness: tree built in ${Math.round(elapsedMs(started))} ms`);
  const logs = issuers.map((who) => new SyntheticLog(tree, `${who.id}.example/log`, who.key));
  for (const [j, l] of logs.entries())
    enableWitnessing(authority.deps, { sovereign_id: issuers[j]!.id, origin: l.origin }, { actor: SYSTEM_ACTOR });

  const random = prng(9100);
  const requests = PER_LOG * ROUNDS;
  const base = TREE_SIZE - requests * MAX_STEP - LOGS;
  const sizes: number[][] = [];
  const bodies: string[][] = [];
  for (const [j, l] of logs.entries()) {
    const list = [base + j];
    for (let k = 0; k < requests; k++) list.push(list[k]! + 1 + Math.floor(random() * MAX_STEP));
    sizes.push(list);
    const answer = addCheckpoint(authority.deps, Buffer.from(addCheckpointBody(0, [], l.note(list[0]!))));
    if (answer.status !== 200) throw new Error(`setup: the first checkpoint of ${l.origin} was not cosigned`);
    bodies.push(list.slice(1).map((size, k) => addCheckpointBody(list[k]!, l.proof(list[k]!, size), l.note(size))));
  }
  const bodiesFile = path.join(workDir(), 'witness-bodies.json');
  fs.writeFileSync(bodiesFile, JSON.stringify(bodies));
  return { authority, logs, sizes, bodies, bodiesFile };
}

/**
 * The limit: the Ed25519 work of one request and nothing else: verify the log's signature over the checkpoint
 * text, sign the cosigned message, with KeyObjects made once. Over the same requests' bytes, prepared beforehand.
 */
function bareCrypto(prepared: Prepared, witnessKey: KeyObject, samples: number): { rate: number; ms: number } {
  const publicKeys = prepared.logs.map((l) =>
    createPublicKey({ key: Buffer.concat([SPKI_ED25519, l.key.raw]), format: 'der', type: 'spki' }),
  );
  const work: Array<{ key: KeyObject; text: Buffer; sig: Buffer; cosigned: Buffer }> = [];
  for (let i = 0; work.length < samples; i++) {
    const j = i % LOGS;
    const body = prepared.bodies[j]![Math.floor(i / LOGS) % prepared.bodies[j]!.length]!;
    const note = body.slice(body.indexOf('\n\n') + 2);
    const parsed = parseNote(note);
    if ('problem' in parsed) throw new Error('bad note');
    work.push({
      key: publicKeys[j]!,
      text: Buffer.from(parsed.text, 'utf8'),
      sig: parsed.signatures[0]!.signature,
      cosigned: cosignedMessage(parsed.text, 1772323200),
    });
  }
  const started = now();
  for (const w of work) {
    if (!verify(null, w.text, w.key, w.sig)) throw new Error('bare verify failed');
    sign(null, w.cosigned, witnessKey);
  }
  const ms = elapsedMs(started);
  return { rate: (samples / ms) * 1000, ms };
}

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

async function main(): Promise<void> {
  const prepared = await prepare(path.join(workDir(), 'witness'));
  const { authority } = prepared;
  const witnessKey = authority.deps.identity.signingKeys[0]!.privateKey;
  const samples = Math.min(PER_LOG * LOGS, 5000);
  const load = (from: number): Omit<LoadSpec, 'url'> => ({
    path: '/witness/add-checkpoint',
    connections: LOGS,
    durationSeconds: 0,
    mode: 'text-sequences',
    bodiesFile: prepared.bodiesFile,
    from,
    to: from + PER_LOG,
  });
  const ceiling = await generatorCeiling(load(0));
  const served = await serveAuthority(authority);
  const limits: number[] = [];
  const loads: LoadResult[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    limits.push(bareCrypto(prepared, witnessKey, samples).rate);
    log(`witness: round ${r + 1}, ${count(PER_LOG * LOGS)} add-checkpoint requests on ${LOGS} connections`);
    loads.push(await runLoad({ ...load(r * PER_LOG), url: served.url }));
  }
  limits.push(bareCrypto(prepared, witnessKey, samples).rate);
  await served.close();

  // Every request was cosigned, and the witness holds each log at its last size.
  const sqlite = authority.db.sqlite;
  const stored = sqlite.prepare('SELECT origin, size FROM witness_checkpoints').all() as Array<{ origin: string; size: number }>;
  const atLast = prepared.logs.every((l, j) => stored.find((s) => s.origin === l.origin)?.size === prepared.sizes[j]!.at(-1));
  const audited = sqlite
    .prepare("SELECT count(*) FROM audit_events WHERE event_type = 'witness_checkpoint_cosigned'")
    .pluck()
    .get() as number;
  await authority.close();

  const best = loads.reduce((a, b) => (b.rps > a.rps ? b : a));
  const limit = Math.max(...limits);
  const total = PER_LOG * LOGS;
  const allOk =
    loads.every((l) => (l.status['200'] ?? 0) === total && l.errors === 0) && atLast && audited === LOGS * (1 + ROUNDS * PER_LOG);
  const proofLines = prepared.bodies[0]![0]!.split('\n').slice(1).indexOf('');
  emit([
    {
      workload: 'witness',
      size: `${LOGS} logs × ${count(PER_LOG)} checkpoints per round over a ${count(TREE_SIZE)}-entry tree, ${LOGS} connections`,
      figure: `${perSecond(best.rps, 'req')}; p50 ${best.latency_ms.p50} ms, p99 ${best.latency_ms.p99} ms (generator ceiling ${perSecond(ceiling, 'req')})`,
      limit: `${perSecond(limit, 'verify+sign')} (bare Ed25519, cached KeyObjects)`,
      ratio: round(best.rps / limit),
      target: `≥ ${count(TARGET_RPS)} req/s; ratio reported`,
      pass: best.rps >= TARGET_RPS && allOk,
      details: {
        rounds: loads,
        limit_rounds: limits.map((l) => round(l)),
        load_generator_ceiling_rps: round(ceiling),
        all_cosigned: allOk,
        audited_cosignatures: audited,
        proof_lines_first_request: proofLines,
        scale: SCALE,
      },
    },
  ]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
