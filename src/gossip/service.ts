// Split views: evidence from a pull, this authority's witness or a peer is verified, stored, the issuer paused, and the evidence queued for every peer.
import { appendAudit, SYSTEM_ACTOR, type RequestOrigin } from '../authority/audit.ts';
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { recordIssuerPause } from '../feeds/import-record.ts';
import { listPeers } from '../feeds/peers.ts';
import { recognizedIssuer } from '../treaties/recognition.ts';
import {
  type evidenceDocument,
  evidenceFrom,
  evidenceText,
  judgeEvidence,
  parseEvidence,
  type EvidenceProblem,
  type SplitViewEvidence,
} from './evidence.ts';
import {
  insertDelivery,
  insertEvidence,
  readDeliveries,
  readEvidence,
  readEvidenceList,
  type DeliveryRow,
  type EvidenceRow,
} from './store.ts';

type GossipDeps = AppDeps;

/** Where evidence came from. */
export interface EvidenceSource {
  source: EvidenceRow['source'];
  /** The peer URL (pull) or the request id (witness, peer). */
  detail: string | null;
}

export interface SplitViewOutcome {
  status: 'recorded' | 'already_known';
  evidence_hash: string;
  issuer_sovereign_id: string;
  problem: EvidenceRow['problem'];
  /** This evidence paused the issuer (false when it was paused already, or the evidence was known). */
  paused: boolean;
  /** Peers the evidence is queued for. */
  forwarding_to: string[];
}

const PROBLEM_MESSAGES: Record<EvidenceProblem, string> = {
  too_large: 'the evidence is larger than 160 KiB',
  not_utf8: 'the body is not UTF-8',
  not_json: 'the body is not strict JSON',
  not_an_object: 'the body must be a JSON object',
  unknown_field: 'the evidence has a field it may not have',
  missing_field: 'the evidence lacks a field',
  wrong_type: 'a field has the wrong type (type must be "split_view_evidence")',
  issuer_id: 'issuer_sovereign_id is not a sovereign id',
  checkpoint_count: 'checkpoints must hold exactly two signed notes',
  note_too_large: 'a checkpoint note is larger than 64 KiB',
  malformed_note: 'a checkpoint is not a well-formed signed note',
  not_a_checkpoint: 'a note text is not a checkpoint (origin, size, base64 root hash)',
  origin_mismatch: 'the two checkpoints are of different origins (different logs)',
  proof_too_long: 'the consistency proof has more than 128 hashes',
  proof_hash: 'a consistency proof hash is not "sha256:<64 hex digits>"',
  unexpected_proof: 'two checkpoints of one size need no consistency proof',
};

/** The peers evidence against `issuer` goes to: every registered peer this authority recognizes, except the issuer. */
function recipients(deps: GossipDeps, issuer: string): Array<{ id: string; url: string }> {
  return listPeers(deps)
    .filter((p) => p.recognized && p.sovereign_id !== issuer)
    .map((p) => ({ id: p.sovereign_id, url: `${p.base_url}/log/evidence` }));
}

/**
 * Acts on evidence that `judgeEvidence` accepted: stores it, pauses the issuer (reason `split_view`),
 * audits both (`split_view_detected`, `feed_issuer_paused`) and queues it for every recognized peer,
 * in one transaction. Evidence already stored changes nothing: an operator who resumed the issuer
 * after looking into it is not overruled by the same evidence coming round again.
 */
function record(
  deps: GossipDeps,
  evidence: SplitViewEvidence,
  verdict: { problem: EvidenceRow['problem']; impliedRoot: string | null },
  origin: RequestOrigin,
  from: EvidenceSource,
): SplitViewOutcome {
  const sqlite = deps.db.sqlite;
  const { text: _text, hash } = evidenceText(evidence);
  const at = toTimestamp(deps.clock());
  const issuer = evidence.issuer;
  const outcome = sqlite
    .transaction((): SplitViewOutcome => {
      const row: EvidenceRow = {
        evidence_hash: hash,
        issuer_sovereign_id: issuer,
        origin: evidence.first.body.origin,
        problem: verdict.problem,
        first_size: evidence.first.body.size,
        first_root: evidence.first.body.rootHash,
        first_note: evidence.first.note,
        second_size: evidence.second.body.size,
        second_root: evidence.second.body.rootHash,
        second_note: evidence.second.note,
        proof: JSON.stringify(evidence.proof),
        implied_root: verdict.impliedRoot,
        source: from.source,
        source_detail: from.detail?.slice(0, 512) ?? null,
        detected_at: at,
      };
      const base = { evidence_hash: hash, issuer_sovereign_id: issuer, problem: verdict.problem };
      if (!insertEvidence(sqlite, row)) return { ...base, status: 'already_known', paused: false, forwarding_to: [] };
      const peers = recipients(deps, issuer);
      appendAudit(sqlite, deps.clock, {
        eventType: 'split_view_detected',
        ...origin,
        details: {
          issuer,
          origin: row.origin,
          evidence_hash: hash,
          problem: verdict.problem,
          first: { size: row.first_size, root_hash: row.first_root },
          second: { size: row.second_size, root_hash: row.second_root },
          implied_root: verdict.impliedRoot,
          source: from.source,
          source_detail: row.source_detail,
          forwarding_to: peers.map((p) => p.id),
        },
      });
      const paused = recordIssuerPause(sqlite, deps.clock, origin, issuer, 'split_view', at);
      for (const peer of peers) insertDelivery(sqlite, { evidence_hash: hash, peer_sovereign_id: peer.id, url: peer.url, at });
      return { ...base, status: 'recorded', paused, forwarding_to: peers.map((p) => p.id) };
    })
    .immediate();
  if (outcome.status === 'recorded') {
    deps.metrics.splitViewsDetected.inc({ issuer, source: from.source });
    deps.logger.warn({ issuer, evidence_hash: hash, source: from.source }, 'split view detected; issuer paused');
    if (outcome.paused) deps.changes.emit('peers');
    deps.changes.emit('split-view', { issuer, evidence_hash: hash });
  }
  return outcome;
}

/**
 * `POST /log/evidence`: evidence a peer (or anyone) sends. Refused, with nothing changed, unless it
 * parses, names a sovereign this authority recognizes, both checkpoints verify under that
 * sovereign's recognized keys, and they really are inconsistent.
 */
export function submitEvidence(deps: GossipDeps, bytes: Uint8Array, requestId: string | null): SplitViewOutcome {
  function refuse(err: AppError): never {
    deps.metrics.splitViewEvidenceRejected.inc({ code: err.code });
    throw err;
  }
  const parsed = parseEvidence(bytes);
  if (!parsed.ok) {
    const details = { problem: parsed.problem, ...(parsed.field ? { field: parsed.field } : {}) };
    if (parsed.problem === 'not_utf8' || parsed.problem === 'not_json')
      refuse(new AppError('malformed_json', PROBLEM_MESSAGES[parsed.problem], details));
    refuse(new AppError('invalid_evidence', PROBLEM_MESSAGES[parsed.problem], details));
  }
  const { evidence } = parsed;
  const keys = recognizedIssuer(deps.db.sqlite, evidence.issuer, deps.clock()).keys;
  if (keys.length === 0)
    refuse(
      new AppError('evidence_issuer_not_recognized', 'this authority does not recognize the sovereign the evidence names', {
        issuer_sovereign_id: evidence.issuer,
      }),
    );
  const verdict = judgeEvidence(evidence, keys);
  if (!verdict.ok) {
    if (verdict.code === 'evidence_signature_invalid') {
      deps.metrics.signatureVerificationFailures.inc({ surface: 'split_view_evidence', reason: verdict.details.problem });
      refuse(
        new AppError(
          'evidence_signature_invalid',
          `checkpoint ${verdict.details.checkpoint} is not signed by a key recognized for the issuer`,
          verdict.details,
        ),
      );
    }
    refuse(new AppError('evidence_not_conflicting', 'the two checkpoints do not show a split view', verdict.details));
  }
  return record(deps, evidence, verdict, { actor: { type: 'anonymous' }, requestId }, { source: 'peer', detail: requestId });
}

/**
 * Two notes this authority found itself (its witness state against a submitted checkpoint, or an
 * issuer's checkpoints seen when pulling): recorded when they prove a split view, otherwise nothing
 * happens (a failed proof alone proves nothing: anyone can send a witness garbage). Null when they do
 * not prove one.
 */
export function detectSplitView(
  deps: GossipDeps,
  input: { issuer: string; notes: [string, string]; proof: readonly string[] },
  from: EvidenceSource,
): SplitViewOutcome | null {
  const evidence = evidenceFrom(input.issuer, input.notes, input.proof);
  if (!evidence) return null;
  const verdict = judgeEvidence(evidence, recognizedIssuer(deps.db.sqlite, input.issuer, deps.clock()).keys);
  if (!verdict.ok) return null;
  return record(deps, evidence, verdict, { actor: SYSTEM_ACTOR, requestId: from.source === 'witness' ? from.detail : null }, from);
}

/** Listens for this authority's witness refusing a conflicting checkpoint. */
export function watchWitnessConflicts(deps: GossipDeps): void {
  deps.changes.on('witness-conflict', (conflict) => {
    try {
      // The witness got a standard proof from the size it cosigned; it leads to the submitted root
      // only when that size is not a power of two (see evidence.ts); one size needs none.
      detectSplitView(
        deps,
        { issuer: conflict.sovereign_id, notes: [conflict.cosigned_note, conflict.submitted_note], proof: conflict.proof },
        { source: 'witness', detail: conflict.request_id },
      );
    } catch (err) {
      deps.logger.error({ err, issuer: conflict.sovereign_id }, 'recording a split view from a witness conflict failed');
    }
  });
}

export interface SplitViewView extends Omit<EvidenceRow, 'proof' | 'first_note' | 'second_note'> {
  deliveries: Array<Omit<DeliveryRow, 'evidence_hash'>>;
}

function view(deps: GossipDeps, row: EvidenceRow): SplitViewView {
  const { proof: _proof, first_note: _first, second_note: _second, ...rest } = row;
  return {
    ...rest,
    deliveries: readDeliveries(deps.db.sqlite, row.evidence_hash).map(({ evidence_hash: _hash, ...d }) => d),
  };
}

export function listSplitViews(deps: GossipDeps, options: { issuer?: string | undefined; limit?: number } = {}): SplitViewView[] {
  return readEvidenceList(deps.db.sqlite, { issuer: options.issuer, limit: options.limit ?? 100 }).map((row) => view(deps, row));
}

/** The evidence document of a stored split view (what `POST /log/evidence` takes), with its record. */
export function splitViewEvidence(deps: GossipDeps, hash: string): SplitViewView & { evidence: ReturnType<typeof evidenceDocument> } {
  const row = readEvidence(deps.db.sqlite, hash);
  if (!row) throw new AppError('evidence_not_found', 'no split-view evidence with this hash');
  return { ...view(deps, row), evidence: evidenceDocumentOf(row) };
}

/** The stored evidence as the document peers exchange. */
export function evidenceDocumentOf(row: EvidenceRow): ReturnType<typeof evidenceDocument> {
  return {
    type: 'split_view_evidence',
    issuer_sovereign_id: row.issuer_sovereign_id,
    checkpoints: [row.first_note, row.second_note],
    consistency_proof: JSON.parse(row.proof) as string[],
  };
}
