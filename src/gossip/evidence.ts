// Split-view evidence: the document peers exchange (two signed checkpoints of one log and a consistency proof), its parser, and the judgement whether it shows a split view.
import { canonicalJson, decodeUtf8Strict, parseJsonStrict } from '../authority/canonical-json.ts';
import { hashRef, type PublicKeyInfo } from '../authority/crypto.ts';
import { IDENTIFIER_PATTERN } from '../authority/identifiers.ts';
import { MAX_NOTE_BYTES, openNote, parseNote, verifierFor } from '../authority/signed-note.ts';
import { parseCheckpoint, type CheckpointBody } from '../transparency/checkpoint.ts';
import { MAX_PROOF_HASHES } from '../transparency/importer.ts';
import { impliedPrefixRoot } from '../transparency/proofs.ts';

/** The `type` of an evidence document. */
export const EVIDENCE_TYPE = 'split_view_evidence';

/** Largest evidence body read: two notes of at most 64 KiB (JSON-escaped text may grow) and a proof. */
export const MAX_EVIDENCE_BYTES = 160 * 1024;

const FIELDS = ['type', 'issuer_sovereign_id', 'checkpoints', 'consistency_proof'] as const;
const PROOF_HASH = /^sha256:[0-9a-f]{64}$/;

/** One checkpoint of the evidence: the note as sent and what its text says (not yet verified). */
export interface EvidenceCheckpoint {
  note: string;
  body: CheckpointBody;
}

/** Parsed evidence, in its one order: the smaller checkpoint first (of two of one size, the note that sorts first). */
export interface SplitViewEvidence {
  issuer: string;
  first: EvidenceCheckpoint;
  second: EvidenceCheckpoint;
  /** "sha256:<hex>" hashes: the consistency proof from the first size to the second in the second's tree. */
  proof: string[];
}

export type EvidenceProblem =
  | 'too_large'
  | 'not_utf8'
  | 'not_json'
  | 'not_an_object'
  | 'unknown_field'
  | 'missing_field'
  | 'wrong_type'
  | 'issuer_id'
  | 'checkpoint_count'
  | 'note_too_large'
  | 'malformed_note'
  | 'not_a_checkpoint'
  | 'origin_mismatch'
  | 'proof_too_long'
  | 'proof_hash'
  | 'unexpected_proof';

export type EvidenceParse = { ok: true; evidence: SplitViewEvidence } | { ok: false; problem: EvidenceProblem; field?: string };

const fail = (problem: EvidenceProblem, field?: string): EvidenceParse => ({ ok: false, problem, ...(field ? { field } : {}) });

function readCheckpoint(value: unknown): EvidenceCheckpoint | EvidenceProblem {
  if (typeof value !== 'string') return 'wrong_type';
  if (Buffer.byteLength(value, 'utf8') > MAX_NOTE_BYTES) return 'note_too_large';
  const parsed = parseNote(value);
  if ('problem' in parsed) return 'malformed_note';
  const body = parseCheckpoint(parsed.text);
  return body ? { note: value, body } : 'not_a_checkpoint';
}

/** Puts the two checkpoints in the evidence's one order. */
function ordered(a: EvidenceCheckpoint, b: EvidenceCheckpoint): [EvidenceCheckpoint, EvidenceCheckpoint] {
  if (a.body.size !== b.body.size) return a.body.size < b.body.size ? [a, b] : [b, a];
  return a.note <= b.note ? [a, b] : [b, a];
}

/**
 * Reads an evidence document: strict JSON `{"type": "split_view_evidence", "issuer_sovereign_id",
 * "checkpoints": [note, note], "consistency_proof": ["sha256:<hex>", …]}` with no other field; each
 * note a well-formed signed note (at most 64 KiB) whose text is a checkpoint, both of one origin; the
 * proof at most 128 hashes, and empty for two checkpoints of one size. Never throws.
 */
export function parseEvidence(bytes: Uint8Array): EvidenceParse {
  if (bytes.length > MAX_EVIDENCE_BYTES) return fail('too_large');
  let text: string;
  try {
    text = decodeUtf8Strict(bytes);
  } catch {
    return fail('not_utf8');
  }
  let value: unknown;
  try {
    value = parseJsonStrict(text, { integersOnly: true });
  } catch {
    return fail('not_json');
  }
  return readEvidence(value);
}

/** The checks of `parseEvidence` on a value already parsed from JSON. */
export function readEvidence(value: unknown): EvidenceParse {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not_an_object');
  const o = value as Record<string, unknown>;
  const unknown = Object.keys(o).find((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown !== undefined) return fail('unknown_field', unknown.slice(0, 64));
  const missing = FIELDS.find((k) => !Object.hasOwn(o, k));
  if (missing !== undefined) return fail('missing_field', missing);
  if (o.type !== EVIDENCE_TYPE) return fail('wrong_type', 'type');
  if (typeof o.issuer_sovereign_id !== 'string' || !IDENTIFIER_PATTERN.test(o.issuer_sovereign_id))
    return fail('issuer_id', 'issuer_sovereign_id');
  if (!Array.isArray(o.checkpoints)) return fail('wrong_type', 'checkpoints');
  if (o.checkpoints.length !== 2) return fail('checkpoint_count', 'checkpoints');
  const read = o.checkpoints.map(readCheckpoint);
  for (const [i, r] of read.entries()) if (typeof r === 'string') return fail(r, `checkpoints.${i}`);
  const [first, second] = ordered(read[0] as EvidenceCheckpoint, read[1] as EvidenceCheckpoint);
  if (first.body.origin !== second.body.origin) return fail('origin_mismatch', 'checkpoints');
  const proof = o.consistency_proof;
  if (!Array.isArray(proof)) return fail('wrong_type', 'consistency_proof');
  if (proof.length > MAX_PROOF_HASHES) return fail('proof_too_long', 'consistency_proof');
  if (!proof.every((h) => typeof h === 'string' && PROOF_HASH.test(h))) return fail('proof_hash', 'consistency_proof');
  if (first.body.size === second.body.size && proof.length > 0) return fail('unexpected_proof', 'consistency_proof');
  return { ok: true, evidence: { issuer: o.issuer_sovereign_id, first, second, proof: proof as string[] } };
}

/** The evidence as a document: what is served, exported and forwarded, in its canonical form. */
export function evidenceDocument(evidence: SplitViewEvidence): {
  type: typeof EVIDENCE_TYPE;
  issuer_sovereign_id: string;
  checkpoints: [string, string];
  consistency_proof: string[];
} {
  return {
    type: EVIDENCE_TYPE,
    issuer_sovereign_id: evidence.issuer,
    checkpoints: [evidence.first.note, evidence.second.note],
    consistency_proof: evidence.proof,
  };
}

/** The JCS text of the document, and its hash: the evidence's identity. */
export function evidenceText(evidence: SplitViewEvidence): { text: string; hash: string } {
  const text = canonicalJson(evidenceDocument(evidence));
  return { text, hash: hashRef(text) };
}

/** Builds evidence from two notes and a proof found by this authority (its own witness state, a pull); null when they do not parse. */
export function evidenceFrom(issuer: string, notes: [string, string], proof: readonly string[]): SplitViewEvidence | null {
  const parsed = readEvidence({
    type: EVIDENCE_TYPE,
    issuer_sovereign_id: issuer,
    checkpoints: notes,
    consistency_proof: [...proof],
  });
  if (parsed.ok) return parsed.evidence;
  // Two checkpoints of one size need no proof: one found beside them is left out.
  if (parsed.problem !== 'unexpected_proof') return null;
  const again = readEvidence({ type: EVIDENCE_TYPE, issuer_sovereign_id: issuer, checkpoints: notes, consistency_proof: [] });
  return again.ok ? again.evidence : null;
}

export type EvidenceVerdict =
  | { ok: true; problem: 'root_mismatch' | 'inconsistent'; impliedRoot: string | null }
  | { ok: false; code: 'evidence_signature_invalid'; details: { checkpoint: 0 | 1; problem: string } }
  | {
      ok: false;
      code: 'evidence_not_conflicting';
      details: { problem: 'same_tree' | 'empty_tree' | 'consistent' | 'proof_does_not_reach_root' };
    };

/**
 * Whether the evidence shows a split view, with `keys` the keys recognized for its issuer. Both notes
 * must verify (the note's key names paired with each key, as importers pair them; a line of a known
 * key that does not verify refuses it). Then: another root at one size; or, for two sizes, a proof
 * that leads to the second checkpoint's root (so its hashes are nodes of that tree) and shows the first
 * size with another root than the first checkpoint's. A consistent pair, or a proof that shows
 * nothing, is no evidence.
 */
export function judgeEvidence(evidence: SplitViewEvidence, keys: readonly PublicKeyInfo[]): EvidenceVerdict {
  const checkpoints = [evidence.first, evidence.second] as const;
  for (const [i, c] of checkpoints.entries()) {
    const parsed = parseNote(c.note);
    const names = 'signatures' in parsed ? [...new Set(parsed.signatures.map((s) => s.name))] : [];
    const opened = openNote(
      c.note,
      keys.flatMap((key) => names.map((name) => verifierFor(name, key.raw))),
    );
    if (!opened.ok) return { ok: false, code: 'evidence_signature_invalid', details: { checkpoint: i as 0 | 1, problem: opened.problem } };
  }
  const { first, second } = evidence;
  const hex = (h: string) => h.slice('sha256:'.length);
  if (first.body.size === second.body.size) {
    return first.body.rootHash === second.body.rootHash
      ? { ok: false, code: 'evidence_not_conflicting', details: { problem: 'same_tree' } }
      : { ok: true, problem: 'root_mismatch', impliedRoot: null };
  }
  if (first.body.size === 0) return { ok: false, code: 'evidence_not_conflicting', details: { problem: 'empty_tree' } };
  const implied = impliedPrefixRoot(first.body.size, second.body.size, hex(second.body.rootHash), evidence.proof.map(hex));
  if (implied === null) return { ok: false, code: 'evidence_not_conflicting', details: { problem: 'proof_does_not_reach_root' } };
  if (`sha256:${implied}` === first.body.rootHash)
    return { ok: false, code: 'evidence_not_conflicting', details: { problem: 'consistent' } };
  return { ok: true, problem: 'inconsistent', impliedRoot: `sha256:${implied}` };
}
