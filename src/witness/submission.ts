// Accord as a witnessed log: submits each new checkpoint to the configured witnesses, keeps their cosignatures, serves them with the checkpoint.
import { appendAudit, SYSTEM_ACTOR } from '../authority/audit.ts';
import { startRerunJob } from '../authority/rerun-job.ts';
import { addSeconds, parseTimestamp, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { consistencyProofFor } from '../transparency/service.ts';
import type { CheckpointRow } from '../transparency/store.ts';
import { readLatestCheckpoint } from '../transparency/store.ts';
import type { Sqlite } from '../db/database.ts';
import { parseCosignatureLine, verifyCosignature } from '../authority/cosignature.ts';
import { formatAddCheckpointBody } from './request-body.ts';
import {
  hasLogCosignature,
  insertLogCosignature,
  readLastCosigned,
  readLogWitness,
  recordWitnessFailure,
  recordWitnessKnownSize,
  recordWitnessSuccess,
  type LogWitnessRow,
} from './store.ts';
import type { ConfiguredWitness } from '../authority/witness-config.ts';

type SubmitDeps = Pick<AppDeps, 'db' | 'clock' | 'config' | 'metrics' | 'logger' | 'changes' | 'background'>;

/** Per-request timeout of a submission, and the largest answer read. */
export const SUBMIT_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 64 * 1024;
/** Backoff after consecutive failures: 30 s, 60 s, 120 s, … capped at one hour. */
export const WITNESS_BACKOFF_BASE_SECONDS = 30;
export const WITNESS_BACKOFF_MAX_SECONDS = 3600;
/** How often due retries are looked for. */
const RETRY_INTERVAL_MS = 30_000;

export function witnessBackoffSeconds(consecutiveFailures: number): number {
  return Math.min(WITNESS_BACKOFF_BASE_SECONDS * 2 ** Math.max(0, consecutiveFailures - 1), WITNESS_BACKOFF_MAX_SECONDS);
}

export type SubmissionOutcome =
  | { witness: string; outcome: 'cosigned'; size: number; sequence: number }
  | { witness: string; outcome: 'up_to_date'; sequence: number }
  | { witness: string; outcome: 'backing_off'; next_attempt_at: string }
  | { witness: string; outcome: 'failed'; reason: string; message: string; next_attempt_at: string };

export interface SubmissionRound {
  checkpoint: { sequence: number; size: number } | null;
  witnesses: SubmissionOutcome[];
}

class SubmitFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const REJECTIONS: Record<number, string> = {
  400: 'rejected_request',
  403: 'rejected_signature',
  404: 'unknown_log',
  422: 'rejected_proof',
};

async function post(url: string, body: string, timeoutMs: number): Promise<{ status: number; type: string; text: string }> {
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      redirect: 'error',
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw new SubmitFailure('timeout', `no answer from ${url} within ${timeoutMs} ms`);
    throw new SubmitFailure('unreachable', `cannot reach ${url}: ${(err as Error).message}`);
  }
  try {
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (response.body) {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > MAX_ANSWER_BYTES)
          throw new SubmitFailure('malformed_response', `the answer of ${url} is larger than ${MAX_ANSWER_BYTES} bytes`);
        chunks.push(chunk);
      }
    }
    const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
    return { status: response.status, type: response.headers.get('content-type') ?? '', text };
  } catch (err) {
    if (err instanceof SubmitFailure) throw err;
    if (signal.aborted) throw new SubmitFailure('timeout', `no complete answer from ${url} within ${timeoutMs} ms`);
    throw new SubmitFailure('malformed_response', `unreadable answer from ${url}`);
  }
}

/** Proof lines from `old` to the checkpoint's size (none from 0 or to the same size). */
function proofFor(sqlite: Sqlite, old: number, size: number): Buffer[] {
  if (old === 0 || old === size) return [];
  return consistencyProofFor(sqlite, old, size).proof.map((h) => Buffer.from(h.slice('sha256:'.length), 'hex'));
}

/**
 * One witness, one checkpoint: sends it with a proof from the size the witness last cosigned (0 when
 * unknown); a 409 names the witness's size, and the request is made once more from there. Valid
 * cosignature lines (name and key id of the configured vkey, verifying over the checkpoint text, not
 * dated beyond the clock skew) are stored; a 200 without one is a failure.
 */
async function submitOne(
  deps: SubmitDeps,
  witness: ConfiguredWitness,
  checkpoint: CheckpointRow,
  known: LogWitnessRow,
  timeoutMs: number,
): Promise<{ lines: Array<{ keyId: number; timestamp: number; line: string }> }> {
  const sqlite = deps.db.sqlite;
  const text = checkpoint.note.slice(0, checkpoint.note.lastIndexOf('\n\n') + 1);
  let old = known.known_size ?? 0;
  if (old > checkpoint.tree_size)
    throw new SubmitFailure(
      'witness_ahead',
      `${witness.name} has cosigned size ${old} of this log, beyond its latest checkpoint (${checkpoint.tree_size})`,
    );
  for (let attempt = 0; attempt < 2; attempt++) {
    const body = formatAddCheckpointBody(old, proofFor(sqlite, old, checkpoint.tree_size), checkpoint.note);
    const answer = await post(`${witness.url}/add-checkpoint`, body, timeoutMs);
    if (answer.status === 409) {
      const match = /^(0|[1-9][0-9]{0,15})\n$/.exec(answer.text);
      if (!match || !answer.type.startsWith('text/x.tlog.size'))
        throw new SubmitFailure('malformed_response', `${witness.name} answered 409 without a tree size`);
      const size = Number(match[1]);
      recordWitnessKnownSize(sqlite, witness.name, size);
      if (size > checkpoint.tree_size)
        throw new SubmitFailure(
          'witness_ahead',
          `${witness.name} has cosigned size ${size} of this log, beyond its latest checkpoint (${checkpoint.tree_size})`,
        );
      if (size === old) throw new SubmitFailure('malformed_response', `${witness.name} answered 409 naming the size that was sent`);
      old = size;
      continue;
    }
    if (answer.status !== 200) {
      const reason = REJECTIONS[answer.status] ?? 'unexpected_status';
      throw new SubmitFailure(reason, `${witness.name} answered HTTP ${answer.status} (${answer.text.replace(/\s+/g, ' ').slice(0, 200)})`);
    }
    const latestAllowed = Math.floor(deps.clock().getTime() / 1000) + deps.config.clockSkewSeconds;
    const lines = answer.text
      .split('\n')
      .filter((l) => l.length > 0)
      .map(parseCosignatureLine)
      .filter((c) => c !== null && c.timestamp <= latestAllowed && verifyCosignature(c, text, witness.cosigner))
      .map((c) => ({ keyId: c!.keyId, timestamp: c!.timestamp, line: c!.line }));
    if (lines.length === 0)
      throw new SubmitFailure(
        'invalid_cosignature',
        `${witness.name} answered 200 without a cosignature that verifies under its configured key`,
      );
    return { lines };
  }
  throw new SubmitFailure('size_conflict', `${witness.name} answered 409 twice`);
}

/** Submissions per authority and witness run one after another, never two at once. */
const queues = new WeakMap<SubmitDeps['db'], Map<string, Promise<unknown>>>();

function serialized<T>(deps: SubmitDeps, witness: string, run: () => Promise<T>): Promise<T> {
  let byWitness = queues.get(deps.db);
  if (!byWitness) {
    byWitness = new Map();
    queues.set(deps.db, byWitness);
  }
  const next = (byWitness.get(witness) ?? Promise.resolve()).then(run, run);
  byWitness.set(
    witness,
    next.catch(() => {}),
  );
  return next;
}

function setGauges(deps: SubmitDeps, witness: string): void {
  const sqlite = deps.db.sqlite;
  const state = readLogWitness(sqlite, witness);
  const last = readLastCosigned(sqlite, witness);
  deps.metrics.logWitnessUp.set({ witness }, state.consecutive_failures === 0 ? 1 : 0);
  if (state.known_size !== null) deps.metrics.logWitnessCosignedSize.set({ witness }, state.known_size);
  if (last) deps.metrics.logWitnessLastCosignature.set({ witness }, last.timestamp);
}

async function roundFor(deps: SubmitDeps, witness: ConfiguredWitness, force: boolean, timeoutMs: number): Promise<SubmissionOutcome> {
  const sqlite = deps.db.sqlite;
  const checkpoint = readLatestCheckpoint(sqlite)!;
  if (hasLogCosignature(sqlite, checkpoint.sequence, witness.name))
    return { witness: witness.name, outcome: 'up_to_date', sequence: checkpoint.sequence };
  const state = readLogWitness(sqlite, witness.name);
  const nextAttempt = state.next_attempt_at ? parseTimestamp(state.next_attempt_at) : null;
  if (!force && nextAttempt && nextAttempt.getTime() > deps.clock().getTime())
    return { witness: witness.name, outcome: 'backing_off', next_attempt_at: state.next_attempt_at! };
  try {
    const { lines } = await submitOne(deps, witness, checkpoint, state, timeoutMs);
    const at = toTimestamp(deps.clock());
    sqlite
      .transaction(() => {
        const before = readLogWitness(sqlite, witness.name);
        for (const l of lines) {
          insertLogCosignature(sqlite, {
            sequence: checkpoint.sequence,
            witness: witness.name,
            key_id: l.keyId.toString(16).padStart(8, '0'),
            timestamp: l.timestamp,
            line: l.line,
            received_at: at,
          });
        }
        recordWitnessSuccess(sqlite, witness.name, checkpoint.tree_size, at);
        if (before.consecutive_failures > 0) {
          appendAudit(sqlite, deps.clock, {
            eventType: 'witness_cosigning_recovered',
            actor: SYSTEM_ACTOR,
            details: { witness: witness.name, failures: before.consecutive_failures, size: checkpoint.tree_size },
          });
        }
      })
      .immediate();
    deps.changes.emit('log-cosigned', { sequence: checkpoint.sequence });
    deps.metrics.logWitnessSubmissions.inc({ witness: witness.name, outcome: 'cosigned' });
    setGauges(deps, witness.name);
    return { witness: witness.name, outcome: 'cosigned', size: checkpoint.tree_size, sequence: checkpoint.sequence };
  } catch (err) {
    const failure = err instanceof SubmitFailure ? err : new SubmitFailure('internal_error', (err as Error).message);
    const now = deps.clock();
    const nextAttemptAt = sqlite
      .transaction(() => {
        const before = readLogWitness(sqlite, witness.name);
        const failures = before.consecutive_failures + 1;
        const next = toTimestamp(addSeconds(now, witnessBackoffSeconds(failures)));
        recordWitnessFailure(sqlite, witness.name, {
          reason: failure.reason,
          message: failure.message.slice(0, 500),
          failures,
          nextAttemptAt: next,
          at: toTimestamp(now),
        });
        if (before.consecutive_failures === 0) {
          appendAudit(sqlite, deps.clock, {
            eventType: 'witness_cosigning_failing',
            actor: SYSTEM_ACTOR,
            details: { witness: witness.name, reason: failure.reason, size: checkpoint.tree_size },
          });
        }
        return next;
      })
      .immediate();
    deps.metrics.logWitnessSubmissions.inc({ witness: witness.name, outcome: failure.reason });
    setGauges(deps, witness.name);
    deps.logger.warn({ witness: witness.name, reason: failure.reason, message: failure.message }, 'witness submission failed');
    return { witness: witness.name, outcome: 'failed', reason: failure.reason, message: failure.message, next_attempt_at: nextAttemptAt };
  }
}

/**
 * Submits the latest checkpoint to every configured witness that has not cosigned it (all at once,
 * each witness's submissions one after another). A witness in backoff is skipped unless `force`.
 * A failing witness never stops the others.
 */
export async function submitToWitnesses(deps: SubmitDeps, options: { force?: boolean; timeoutMs?: number } = {}): Promise<SubmissionRound> {
  const latest = readLatestCheckpoint(deps.db.sqlite);
  if (!latest) return { checkpoint: null, witnesses: [] };
  const witnesses = await Promise.all(
    deps.config.witnesses.map((w) =>
      serialized(deps, w.name, () => roundFor(deps, w, options.force ?? false, options.timeoutMs ?? SUBMIT_TIMEOUT_MS)),
    ),
  );
  return { checkpoint: { sequence: latest.sequence, size: latest.tree_size }, witnesses };
}

export interface WitnessStatus {
  name: string;
  url: string;
  vkey: string;
  known_size: number | null;
  /** The newest checkpoint sequence this witness cosigned, and the cosignature's time (POSIX seconds). */
  cosigned_sequence: number | null;
  cosigned_timestamp: number | null;
  up_to_date: boolean;
  last_attempt_at: string | null;
  last_success_at: string | null;
  last_reason: string | null;
  last_error: string | null;
  consecutive_failures: number;
  next_attempt_at: string | null;
}

/** The configured witnesses of this log and how submitting to each goes. */
export function witnessStatuses(deps: Pick<AppDeps, 'db' | 'config'>): WitnessStatus[] {
  const sqlite = deps.db.sqlite;
  const latest = readLatestCheckpoint(sqlite);
  return deps.config.witnesses.map((w) => {
    const state = readLogWitness(sqlite, w.name);
    const last = readLastCosigned(sqlite, w.name);
    return {
      name: w.name,
      url: w.url,
      vkey: w.vkey,
      known_size: state.known_size,
      cosigned_sequence: last?.sequence ?? null,
      cosigned_timestamp: last?.timestamp ?? null,
      up_to_date: latest !== undefined && last?.sequence === latest.sequence,
      last_attempt_at: state.last_attempt_at,
      last_success_at: state.last_success_at,
      last_reason: state.last_reason,
      last_error: state.last_error,
      consecutive_failures: state.consecutive_failures,
      next_attempt_at: state.next_attempt_at,
    };
  });
}

/** Gauges of every configured witness from the stored state (at start-up, so a restart shows them at once). */
export function refreshLogWitnessMetrics(deps: SubmitDeps): void {
  for (const w of deps.config.witnesses) setGauges(deps, w.name);
}

/**
 * Background submissions of a serving authority: after every publication, at start, and every 30 s
 * for witnesses whose backoff has passed. Nothing runs when no witness is configured.
 */
export function startWitnessSubmissions(deps: SubmitDeps): void {
  if (deps.config.witnesses.length === 0) return;
  startRerunJob(deps, {
    event: 'feed-published',
    intervalMs: RETRY_INTERVAL_MS,
    round: () => submitToWitnesses(deps),
    failure: 'witness submissions failed',
  });
}
