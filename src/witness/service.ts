// Accord as a C2SP tlog-witness: which logs it witnesses (opt-in per recognized sovereign), and the add-checkpoint decision.
import { appendAudit, type Actor, type RequestOrigin } from '../authority/audit.ts';
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { hashRef, keyIdOf, sha256Hex } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';
import { EMPTY_ROOT } from '../log/merkle.ts';
import { recognizedIssuer } from '../treaties/recognition.ts';
import { verifyConsistency } from '../transparency/proofs.ts';
import {
  openNote,
  openNoteAsync,
  parseNote,
  verifierFor,
  type NoteSignature,
  type NoteVerifier,
  type OpenedNote,
} from '../authority/signed-note.ts';
import { readIssuerLastCheckpoint } from '../transparency/store.ts';
import { cosignatureLine, cosignatureLineAsync, formatCosignerKey } from '../authority/cosignature.ts';
import { parseAddCheckpointBody, type AddCheckpointRequest, type BodyProblem } from './request-body.ts';
import {
  countWitnessConflicts,
  insertWitnessConflict,
  insertWitnessLog,
  readWitnessCheckpoint,
  readWitnessCheckpoints,
  readWitnessConflicts,
  readWitnessLog,
  readWitnessLogByOrigin,
  readWitnessLogs,
  setWitnessLogEnabled,
  writeWitnessCheckpoint,
  type WitnessConflictRow,
  type WitnessLogRow,
} from './store.ts';

type WitnessDeps = Pick<AppDeps, 'db' | 'clock' | 'config' | 'identity' | 'metrics' | 'changes'>;

/** Where a log submits checkpoints (the submission prefix is `/witness`). */
export const ADD_CHECKPOINT_PATH = '/witness/add-checkpoint';

/** The key name of this authority's cosignatures. */
export function witnessName(deps: Pick<AppDeps, 'config' | 'identity'>): string {
  return deps.config.witnessName ?? `${deps.identity.sovereignId}/witness`;
}

/** What a log operator configures to use this authority as a witness: its name, submission prefix and cosigner vkeys. */
export function witnessInfo(deps: Pick<AppDeps, 'config' | 'identity'>) {
  const name = witnessName(deps);
  return {
    name,
    submission_prefix: '/witness',
    add_checkpoint: ADD_CHECKPOINT_PATH,
    keys: deps.identity.signingKeys.map((key) => ({
      key_id: key.keyId,
      public_key: key.publicKey,
      vkey: formatCosignerKey(name, key.raw),
    })),
  };
}

// ---- Which logs are witnessed.

const ORIGIN = /^[\x21-\x7e]{1,255}$/;

/** The origin line of a checkpoint note, or null. */
function originOf(note: string | null): string | null {
  if (note === null) return null;
  const parsed = parseNote(note);
  if ('problem' in parsed) return null;
  const origin = parsed.text.slice(0, parsed.text.indexOf('\n'));
  return origin.length > 0 ? origin : null;
}

export interface WitnessedLogView {
  sovereign_id: string;
  origin: string;
  enabled: boolean;
  enabled_at: string;
  updated_at: string;
  /** This authority has an in-force treaty for the sovereign (only then does it cosign). */
  recognized: boolean;
  cosigned: { size: number; root_hash: string; timestamp: number; cosigned_at: string } | null;
  conflicts: number;
}

function logView(deps: WitnessDeps, row: WitnessLogRow): WitnessedLogView {
  const sqlite = deps.db.sqlite;
  const state = readWitnessCheckpoint(sqlite, row.origin);
  return {
    sovereign_id: row.sovereign_id,
    origin: row.origin,
    enabled: row.enabled === 1,
    enabled_at: row.enabled_at,
    updated_at: row.updated_at,
    recognized: recognizedIssuer(sqlite, row.sovereign_id, deps.clock()).keys.length > 0,
    cosigned: state ? { size: state.size, root_hash: state.root_hash, timestamp: state.timestamp, cosigned_at: state.cosigned_at } : null,
    conflicts: countWitnessConflicts(sqlite, row.origin),
  };
}

export function listWitnessedLogs(deps: WitnessDeps): WitnessedLogView[] {
  return readWitnessLogs(deps.db.sqlite).map((row) => logView(deps, row));
}

/**
 * Starts witnessing a recognized sovereign's log. Its origin is the one of the sovereign's checkpoint
 * the pull job last verified (so the log's identity comes from what importing already checked), or
 * the one given; the two must agree, as must a log witnessed before. An origin belongs to one
 * sovereign. Enabling an enabled log changes nothing.
 */
export function enableWitnessing(
  deps: WitnessDeps,
  input: { sovereign_id: string; origin?: string | undefined },
  request: RequestOrigin,
): WitnessedLogView & { changed: boolean } {
  const sqlite = deps.db.sqlite;
  const id = input.sovereign_id;
  if (id === deps.identity.sovereignId)
    throw new AppError('invalid_witness_log', 'an authority does not witness its own log', { field: 'sovereign_id' });
  if (input.origin !== undefined && !ORIGIN.test(input.origin))
    throw new AppError('invalid_witness_log', 'origin must be 1 to 255 printable ASCII characters without spaces', { field: 'origin' });
  const now = deps.clock();
  if (recognizedIssuer(sqlite, id, now).keys.length === 0)
    throw new AppError('issuer_not_recognized', 'no in-force treaty of this authority recognizes this sovereign', { sovereign_id: id });
  const verified = originOf(readIssuerLastCheckpoint(sqlite, id));
  const at = toTimestamp(now);
  const changed = sqlite
    .transaction(() => {
      const row = readWitnessLog(sqlite, id);
      const origin = input.origin ?? row?.origin ?? verified;
      if (origin === null) {
        throw new AppError(
          'witness_origin_unknown',
          "this authority has not verified a checkpoint of the sovereign's log yet: pull its feed first, or give the origin",
          { sovereign_id: id },
        );
      }
      if (verified !== null && origin !== verified) {
        throw new AppError(
          'witness_origin_mismatch',
          "the origin differs from the one of the sovereign's checkpoints this authority verified",
          { origin, verified_origin: verified },
        );
      }
      if (row && row.origin !== origin)
        throw new AppError('witness_origin_mismatch', 'the sovereign was witnessed under another origin', {
          origin,
          witnessed_origin: row.origin,
        });
      const other = readWitnessLogByOrigin(sqlite, origin);
      if (other && other.sovereign_id !== id)
        throw new AppError('witness_origin_taken', "another sovereign's log is witnessed under this origin", {
          origin,
          sovereign_id: other.sovereign_id,
        });
      if (row?.enabled) return false;
      if (row) setWitnessLogEnabled(sqlite, id, true, at);
      else insertWitnessLog(sqlite, id, origin, at);
      appendAudit(sqlite, deps.clock, {
        eventType: 'witness_log_enabled',
        ...request,
        details: {
          sovereign_id: id,
          origin,
          origin_source: input.origin !== undefined ? 'operator' : row ? 'previous' : 'verified_checkpoint',
        },
      });
      return true;
    })
    .immediate();
  return { ...logView(deps, readWitnessLog(sqlite, id)!), changed };
}

/** Stops witnessing a sovereign's log; its cosigned state stays (re-enabling continues from it). */
export function disableWitnessing(deps: WitnessDeps, id: string, request: RequestOrigin): WitnessedLogView & { changed: boolean } {
  const sqlite = deps.db.sqlite;
  const changed = sqlite
    .transaction(() => {
      const row = readWitnessLog(sqlite, id);
      if (!row)
        throw new AppError('witness_log_not_found', 'this authority has never witnessed this sovereign', {
          sovereign_id: id.slice(0, 128),
        });
      if (!row.enabled) return false;
      setWitnessLogEnabled(sqlite, id, false, toTimestamp(deps.clock()));
      appendAudit(sqlite, deps.clock, { eventType: 'witness_log_disabled', ...request, details: { sovereign_id: id, origin: row.origin } });
      return true;
    })
    .immediate();
  return { ...logView(deps, readWitnessLog(sqlite, id)!), changed };
}

export function listWitnessConflicts(deps: WitnessDeps, limit = 100) {
  return readWitnessConflicts(deps.db.sqlite, limit).map((row) => ({ ...row, proof: JSON.parse(row.proof) as string[] }));
}

/** The latest checkpoint cosigned for the log whose origin hashes (SHA-256, lowercase hex) to `originHash`: the monitoring view. */
export function cosignedCheckpointByOriginHash(deps: WitnessDeps, originHash: string): string {
  const row = readWitnessCheckpoints(deps.db.sqlite).find((r) => sha256Hex(r.origin) === originHash);
  if (!row) throw new AppError('witness_checkpoint_not_found', 'this authority has cosigned no checkpoint of a log with this origin hash');
  return row.note;
}

// ---- add-checkpoint.

const BODY_PROBLEMS: Record<BodyProblem | 'old_beyond_size', string> = {
  not_utf8: 'the body is not valid UTF-8',
  old_line: 'the first line must be "old <size>", a decimal size without leading zeros',
  proof_line: 'a consistency proof line is not the standard base64 of a 32-byte hash',
  too_many_proof_lines: 'more than 63 consistency proof lines',
  no_blank_line: 'the proof lines must end with an empty line before the checkpoint',
  malformed_note: 'the checkpoint is not a well-formed signed note',
  too_many_signatures: 'the checkpoint note has too many signature lines',
  malformed_checkpoint: 'the note text is not a checkpoint (origin, size, base64 root hash)',
  old_beyond_size: 'the old size is larger than the checkpoint size',
};

export type AddCheckpointAnswer = { status: 200; body: string } | { status: 409; size: number };

function signatureLine(sig: NoteSignature): string {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(sig.keyId);
  return `\u2014 ${sig.name} ${Buffer.concat([id, sig.signature]).toString('base64')}\n`;
}

/**
 * Answers one add-checkpoint request as C2SP tlog-witness orders the checks: malformed (400), unknown
 * origin (404), no valid signature by the log's key (403), old size beyond the checkpoint (400), old
 * size not the one last cosigned (409 with that size), empty-tree root, unexpected proof, other root
 * at the same size or a consistency proof that fails (422); otherwise cosigns with every signing key.
 * The comparison with the stored state and its update are one IMMEDIATE transaction, so two requests
 * never both advance from the same size and nothing is ever cosigned below what was cosigned before.
 * A validly signed checkpoint that contradicts the cosigned one (another root at its size, or a
 * failed proof from it) is kept as evidence and audited, even when the answer is a 409.
 */
export function addCheckpoint(deps: WitnessDeps, bytes: Uint8Array, requestId?: string | null): AddCheckpointAnswer {
  const admitted = admit(deps, bytes);
  const opened = openNote(admitted.request.note, admitted.verifiers);
  checkOpened(deps, admitted, opened);
  return decide(deps, admitted, opened, requestId, (text, timestamp) =>
    deps.identity.signingKeys.map((key) => cosignatureLine(text, witnessName(deps), key, timestamp)),
  );
}

/**
 * `addCheckpoint` with the Ed25519 work on libuv's thread pool (the HTTP route): the log's signatures are
 * checked there, and the cosignature lines are made there before the transaction (with the timestamp the
 * transaction uses), so the event loop serves other requests meanwhile. Lines made for a checkpoint the
 * transaction then refuses are dropped unseen.
 */
export async function addCheckpointAsync(deps: WitnessDeps, bytes: Uint8Array, requestId?: string | null): Promise<AddCheckpointAnswer> {
  const admitted = admit(deps, bytes);
  const opened = await openNoteAsync(admitted.request.note, admitted.verifiers);
  checkOpened(deps, admitted, opened);
  const timestamp = cosignatureTimestamp(admitted.now);
  const name = witnessName(deps);
  const lines = await Promise.all(deps.identity.signingKeys.map((key) => cosignatureLineAsync(opened.text, name, key, timestamp)));
  return decide(deps, admitted, opened, requestId, (_text, at) => {
    if (at !== timestamp) throw new Error('cosignature lines made for another timestamp');
    return lines;
  });
}

/** A parsed request for a witnessed log, with the verifiers its note must open under. */
interface Admitted {
  request: AddCheckpointRequest;
  log: WitnessLogRow;
  verifiers: NoteVerifier[];
  now: Date;
}

const cosignatureTimestamp = (now: Date) => Math.floor(now.getTime() / 1000);

/** The checks before the log's signature: a well-formed body (400) for a log this authority witnesses (404). */
function admit(deps: WitnessDeps, bytes: Uint8Array): Admitted {
  const request = parseAddCheckpointBody(bytes);
  if ('problem' in request) throw new AppError('invalid_witness_request', BODY_PROBLEMS[request.problem], { problem: request.problem });
  const sqlite = deps.db.sqlite;
  const now = deps.clock();
  const log = readWitnessLogByOrigin(sqlite, request.checkpoint.origin);
  const keys = log?.enabled ? recognizedIssuer(sqlite, log.sovereign_id, now).keys : [];
  if (!log || keys.length === 0) throw new AppError('witness_log_unknown', 'this authority witnesses no log with this origin');
  // The note's key names with every key recognized for the sovereign, as the importer pairs them.
  const names = [...new Set(request.parsed.signatures.map((sig) => sig.name))];
  return { request, log, verifiers: keys.flatMap((key) => names.map((name) => verifierFor(name, key.raw))), now };
}

/** The log's signature (403), then an old size beyond the checkpoint (400). */
function checkOpened(deps: WitnessDeps, admitted: Admitted, opened: OpenedNote): asserts opened is OpenedNote & { ok: true } {
  if (!opened.ok) {
    if (opened.problem === 'invalid_signature')
      deps.metrics.signatureVerificationFailures.inc({ surface: 'witness_checkpoint', reason: 'invalid_signature' });
    throw new AppError(
      'witness_signature_invalid',
      `the checkpoint is not signed by a key this authority recognizes for ${admitted.log.sovereign_id}`,
      { problem: opened.problem },
    );
  }
  if (admitted.request.old > admitted.request.checkpoint.size)
    throw new AppError('invalid_witness_request', BODY_PROBLEMS.old_beyond_size, { problem: 'old_beyond_size' });
}

/** The decision against the stored state, in one IMMEDIATE transaction; `cosign` makes the lines when it cosigns. */
function decide(
  deps: WitnessDeps,
  admitted: Admitted,
  opened: OpenedNote & { ok: true },
  requestId: string | null | undefined,
  cosign: (text: string, timestamp: number) => string[],
): AddCheckpointAnswer {
  const { request, log, now } = admitted;
  const { old, proof, note, parsed, checkpoint } = request;
  const sqlite = deps.db.sqlite;
  const logSignatures = parsed.signatures
    .filter((sig) => opened.verifiedBy.some((v) => v.name === sig.name && v.keyId === sig.keyId))
    .map(signatureLine);
  const signer = opened.verifiedBy[0]!;
  const actor: Actor = { type: 'peer', sovereign_id: log.sovereign_id, key_id: keyIdOf(signer.publicKey) };
  const rootHex = checkpoint.rootHash.slice('sha256:'.length);
  const proofHex = proof.map((h) => h.toString('hex'));
  const at = toTimestamp(now);
  if (deps.identity.signingKeys.length === 0) throw new AppError('no_signing_key', 'this authority has no signing key loaded');

  type Decision = (
    | { kind: 'cosigned'; body: string }
    | { kind: 'old_mismatch'; size: number }
    | { kind: 'rejected'; problem: string; message: string; details: Record<string, unknown> }
  ) & {
    /** New conflict evidence was stored: the note cosigned and the one submitted. */
    conflict?: { cosigned: string; submitted: string } | null;
  };
  const decision = sqlite
    .transaction((): Decision => {
      const state = readWitnessCheckpoint(sqlite, checkpoint.origin);
      const cosignedSize = state?.size ?? 0;
      let conflict: { cosigned: string; submitted: string } | null = null;
      const evidence = (problem: WitnessConflictRow['problem']) => {
        const proofText = JSON.stringify(proof.map((h) => h.toString('base64')));
        const row: WitnessConflictRow = {
          evidence_hash: hashRef(`${state!.note}\n\n${note}\n\n${proofText}`),
          origin: checkpoint.origin,
          sovereign_id: log.sovereign_id,
          problem,
          cosigned_size: state!.size,
          cosigned_root: state!.root_hash,
          cosigned_note: state!.note,
          old_size: old,
          submitted_size: checkpoint.size,
          submitted_root: checkpoint.rootHash,
          submitted_note: note,
          proof: proofText,
          detected_at: at,
        };
        if (insertWitnessConflict(sqlite, row)) {
          conflict = { cosigned: state!.note, submitted: note };
          appendAudit(sqlite, deps.clock, {
            eventType: 'witness_conflict_detected',
            actor,
            requestId: requestId ?? null,
            details: {
              sovereign_id: log.sovereign_id,
              origin: checkpoint.origin,
              problem,
              cosigned_size: state!.size,
              submitted_size: checkpoint.size,
              evidence_hash: row.evidence_hash,
            },
          });
        }
      };
      if (state && checkpoint.size === state.size && checkpoint.rootHash !== state.root_hash) {
        evidence('root_mismatch');
        if (old !== cosignedSize) return { kind: 'old_mismatch', size: cosignedSize, conflict };
        return {
          kind: 'rejected',
          problem: 'root_mismatch',
          message: 'the checkpoint has another root hash than the one cosigned at this size',
          details: { cosigned_size: cosignedSize },
          conflict,
        };
      }
      if (old !== cosignedSize) return { kind: 'old_mismatch', size: cosignedSize };
      if (checkpoint.size === 0 && rootHex !== EMPTY_ROOT)
        return {
          kind: 'rejected',
          problem: 'empty_tree_root',
          message: 'a checkpoint of size 0 must have the root hash of the empty tree',
          details: {},
        };
      if ((old === 0 || old === checkpoint.size) && proof.length > 0) {
        return {
          kind: 'rejected',
          problem: 'unexpected_proof',
          message: 'no consistency proof is needed (and none may be sent) from size 0 or to the same size',
          details: {},
        };
      }
      if (
        old > 0 &&
        old < checkpoint.size &&
        !verifyConsistency(old, checkpoint.size, state!.root_hash.slice('sha256:'.length), rootHex, proofHex)
      ) {
        evidence('inconsistent');
        return {
          kind: 'rejected',
          problem: 'inconsistent',
          message: 'the consistency proof does not show the checkpoint extends the one cosigned',
          details: { cosigned_size: cosignedSize },
          conflict,
        };
      }
      const timestamp = cosignatureTimestamp(now);
      const lines = cosign(opened.text, timestamp);
      writeWitnessCheckpoint(sqlite, {
        origin: checkpoint.origin,
        sovereign_id: log.sovereign_id,
        size: checkpoint.size,
        root_hash: checkpoint.rootHash,
        note: `${opened.text}\n${logSignatures.join('')}${lines.join('')}`,
        timestamp,
        cosigned_at: at,
      });
      appendAudit(sqlite, deps.clock, {
        eventType: 'witness_checkpoint_cosigned',
        actor,
        requestId: requestId ?? null,
        details: {
          sovereign_id: log.sovereign_id,
          origin: checkpoint.origin,
          size: checkpoint.size,
          root_hash: checkpoint.rootHash,
          previous_size: cosignedSize,
          timestamp,
        },
      });
      return { kind: 'cosigned', body: lines.join('') };
    })
    .immediate();

  if (decision.conflict) {
    deps.metrics.witnessConflicts.inc({ log: log.sovereign_id });
    // A log showing two histories: split-view gossip decides whether the two notes prove it.
    deps.changes.emit('witness-conflict', {
      sovereign_id: log.sovereign_id,
      cosigned_note: decision.conflict.cosigned,
      submitted_note: decision.conflict.submitted,
      proof: proofHex.map((h) => `sha256:${h}`),
      request_id: requestId ?? null,
    });
  }
  if (decision.kind === 'old_mismatch') return { status: 409, size: decision.size };
  if (decision.kind === 'rejected')
    throw new AppError('witness_proof_invalid', decision.message, { problem: decision.problem, ...decision.details });
  deps.metrics.witnessCosignedSize.set({ log: log.sovereign_id }, checkpoint.size);
  return { status: 200, body: decision.body };
}

/** Sets the per-log cosigned-size gauges from the stored state (at start-up). */
export function refreshWitnessMetrics(deps: WitnessDeps): void {
  for (const row of readWitnessCheckpoints(deps.db.sqlite)) deps.metrics.witnessCosignedSize.set({ log: row.sovereign_id }, row.size);
}
