// Gossip: split-view evidence sent to every peer (POST <peer>/log/evidence), with bounded retries, each outcome audited.
import { appendAudit, SYSTEM_ACTOR } from '../authority/audit.ts';
import { startRerunJob } from '../authority/rerun-job.ts';
import { canonicalJson } from '../authority/canonical-json.ts';
import { addSeconds, parseTimestamp, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { evidenceDocumentOf } from './service.ts';
import { readDelivery, readEvidence, readPendingDeliveries, recordDeliveryAttempt, type DeliveryRow } from './store.ts';

/** Attempts per peer before a delivery is given up (audited as undelivered). */
export const MAX_DELIVERY_ATTEMPTS = 6;
/** Backoff after a failed attempt: 30 s, 60 s, 120 s, … (the sixth attempt comes about 15 minutes after the first). */
export const DELIVERY_BACKOFF_BASE_SECONDS = 30;
export const DELIVERY_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 64 * 1024;
/** Deliveries attempted per round (the rest wait for the next). */
const ROUND_LIMIT = 100;
const RETRY_INTERVAL_MS = 30_000;

export function deliveryBackoffSeconds(attempts: number): number {
  return DELIVERY_BACKOFF_BASE_SECONDS * 2 ** Math.max(0, attempts - 1);
}

export interface DeliveryOutcome {
  evidence_hash: string;
  peer: string;
  outcome: 'delivered' | 'refused' | 'retrying' | 'abandoned' | 'not_due';
  attempts: number;
  answer?: string;
  error?: string;
  next_attempt_at?: string | null;
}

type Answer = { kind: 'ok'; status: string } | { kind: 'refused'; error: string } | { kind: 'failed'; error: string };

/** One POST of the evidence: a 200 is delivered, a 4xx other than 408/429 a refusal (sending it again will not help), anything else a failure to retry. */
async function send(url: string, body: string, timeoutMs: number): Promise<Answer> {
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/json' }, redirect: 'error', signal });
  } catch (err) {
    return {
      kind: 'failed',
      error: signal.aborted ? `no answer within ${timeoutMs} ms` : `cannot reach ${url}: ${(err as Error).message}`,
    };
  }
  let text = '';
  try {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_ANSWER_BYTES) break;
      chunks.push(chunk);
    }
    text = Buffer.concat(chunks).toString('utf8');
  } catch {
    text = '';
  }
  if (response.status === 200) {
    let status = 'unknown';
    try {
      const parsed = JSON.parse(text) as { status?: unknown };
      if (typeof parsed.status === 'string') status = parsed.status.slice(0, 32);
    } catch {
      // An answer that is not JSON still says 200: the peer took it.
    }
    return { kind: 'ok', status };
  }
  let code = '';
  try {
    code = String((JSON.parse(text) as { error?: { code?: unknown } }).error?.code ?? '');
  } catch {
    code = '';
  }
  const error = `HTTP ${response.status}${code ? ` ${code.slice(0, 64)}` : ''}`;
  if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429)
    return { kind: 'refused', error };
  return { kind: 'failed', error };
}

/** Records the attempt and, for a final outcome, its audit event; in one transaction, re-reading the attempt count there. */
function settle(deps: AppDeps, delivery: DeliveryRow, issuer: string, answer: Answer): DeliveryOutcome {
  const sqlite = deps.db.sqlite;
  const now = deps.clock();
  const at = toTimestamp(now);
  return sqlite
    .transaction((): DeliveryOutcome => {
      const current = readDelivery(sqlite, delivery.evidence_hash, delivery.peer_sovereign_id) ?? delivery;
      const attempts = current.attempts + 1;
      const base = { evidence_hash: delivery.evidence_hash, peer: delivery.peer_sovereign_id, attempts };
      const write = (status: DeliveryRow['status'], next: string | null, error: string | null, reply: string | null) =>
        recordDeliveryAttempt(sqlite, {
          evidence_hash: delivery.evidence_hash,
          peer_sovereign_id: delivery.peer_sovereign_id,
          status,
          attempts,
          last_attempt_at: at,
          next_attempt_at: next,
          last_error: error,
          answer: reply,
        });
      const details = { evidence_hash: delivery.evidence_hash, issuer, peer: delivery.peer_sovereign_id, url: delivery.url, attempts };
      if (answer.kind === 'ok') {
        write('delivered', null, null, answer.status);
        appendAudit(sqlite, deps.clock, {
          eventType: 'split_view_evidence_forwarded',
          actor: SYSTEM_ACTOR,
          details: { ...details, answer: answer.status },
        });
        return { ...base, outcome: 'delivered', answer: answer.status };
      }
      if (answer.kind === 'refused' || attempts >= MAX_DELIVERY_ATTEMPTS) {
        const status = answer.kind === 'refused' ? 'refused' : 'abandoned';
        write(status, null, answer.error.slice(0, 500), null);
        appendAudit(sqlite, deps.clock, {
          eventType: 'split_view_evidence_undelivered',
          actor: SYSTEM_ACTOR,
          details: { ...details, reason: status === 'refused' ? 'refused' : 'retries_exhausted', error: answer.error.slice(0, 200) },
        });
        return { ...base, outcome: status, error: answer.error };
      }
      const next = toTimestamp(addSeconds(now, deliveryBackoffSeconds(attempts)));
      write('pending', next, answer.error.slice(0, 500), null);
      return { ...base, outcome: 'retrying', error: answer.error, next_attempt_at: next };
    })
    .immediate();
}

const rounds = new WeakMap<AppDeps['db'], Promise<unknown>>();

/**
 * Sends every pending delivery that is due (all pending ones with `force`), each peer's in turn, all
 * peers at once. Rounds of one authority run one after another, so no delivery is sent twice at once.
 */
export function forwardEvidence(
  deps: AppDeps,
  options: { force?: boolean; timeoutMs?: number } = {},
): Promise<{ deliveries: DeliveryOutcome[] }> {
  const run = async () => {
    const sqlite = deps.db.sqlite;
    const nowMs = deps.clock().getTime();
    const pending = readPendingDeliveries(sqlite, ROUND_LIMIT);
    const outcomes = await Promise.all(
      pending.map(async (d): Promise<DeliveryOutcome> => {
        const due = d.next_attempt_at === null || (parseTimestamp(d.next_attempt_at)?.getTime() ?? 0) <= nowMs;
        if (!due && !options.force)
          return {
            evidence_hash: d.evidence_hash,
            peer: d.peer_sovereign_id,
            outcome: 'not_due',
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
          };
        const row = readEvidence(sqlite, d.evidence_hash);
        if (!row) return { evidence_hash: d.evidence_hash, peer: d.peer_sovereign_id, outcome: 'not_due', attempts: d.attempts };
        const answer = await send(d.url, canonicalJson(evidenceDocumentOf(row)), options.timeoutMs ?? DELIVERY_TIMEOUT_MS);
        const outcome = settle(deps, d, row.issuer_sovereign_id, answer);
        deps.metrics.splitViewDeliveries.inc({ peer: d.peer_sovereign_id, outcome: outcome.outcome });
        if (outcome.outcome !== 'delivered')
          deps.logger.warn(
            { peer: d.peer_sovereign_id, evidence_hash: d.evidence_hash, outcome: outcome.outcome, error: outcome.error },
            'split-view evidence not delivered',
          );
        return outcome;
      }),
    );
    return { deliveries: outcomes };
  };
  const previous = rounds.get(deps.db) ?? Promise.resolve();
  const next = previous.then(run, run);
  rounds.set(
    deps.db,
    next.catch(() => {}),
  );
  return next;
}

/** Background gossip of a serving authority: right after evidence is recorded, at start, and every 30 s for retries that are due. */
export function startEvidenceGossip(deps: AppDeps): void {
  startRerunJob(deps, {
    event: 'split-view',
    intervalMs: RETRY_INTERVAL_MS,
    round: () => forwardEvidence(deps),
    failure: 'forwarding split-view evidence failed',
  });
}
