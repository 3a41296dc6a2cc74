// The add-checkpoint request body of C2SP tlog-witness: `old N`, consistency proof lines, a blank line, the checkpoint note.
import { decodeBase64Strict } from '../authority/crypto.ts';
import { parseCheckpoint, type CheckpointBody } from '../transparency/checkpoint.ts';
import { parseNote, type ParsedNote } from '../authority/signed-note.ts';

/** The spec's limit on consistency proof lines (a proof of any 64-bit tree size fits in 63). */
export const MAX_PROOF_LINES = 63;

/** Largest body a witness reads: 63 proof lines and a checkpoint note with its signatures fit many times over. */
export const MAX_ADD_CHECKPOINT_BYTES = 64 * 1024;

export interface AddCheckpointRequest {
  /** The tree size the client believes the witness last cosigned. */
  old: number;
  /** The consistency proof from `old` to the checkpoint's size, each hash 32 bytes. */
  proof: Buffer[];
  /** The checkpoint note as sent (text and signature lines). */
  note: string;
  parsed: ParsedNote;
  checkpoint: CheckpointBody;
}

export type BodyProblem =
  | 'not_utf8'
  | 'old_line'
  | 'proof_line'
  | 'too_many_proof_lines'
  | 'no_blank_line'
  | 'malformed_note'
  | 'too_many_signatures'
  | 'malformed_checkpoint';

const OLD_LINE = /^old (0|[1-9][0-9]*)$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses an add-checkpoint body; a problem instead when it is not one. Every line ends in a newline;
 * the size has no leading zeros and is a safe integer; each proof line is canonical base64 of a
 * 32-byte hash; the checkpoint is a well-formed signed note whose text is a checkpoint. Whether
 * `old` exceeds the checkpoint's size is the witness's next question (also a 400), asked after it
 * has checked the note's signature, as the spec orders the checks.
 */
export function parseAddCheckpointBody(bytes: Uint8Array): AddCheckpointRequest | { problem: BodyProblem } {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { problem: 'not_utf8' };
  }
  let at = text.indexOf('\n');
  if (at < 0) return { problem: 'old_line' };
  const oldMatch = OLD_LINE.exec(text.slice(0, at));
  if (!oldMatch || !Number.isSafeInteger(Number(oldMatch[1]))) return { problem: 'old_line' };
  const proof: Buffer[] = [];
  for (;;) {
    const start = at + 1;
    at = text.indexOf('\n', start);
    if (at < 0) return { problem: 'no_blank_line' };
    const line = text.slice(start, at);
    if (line === '') break;
    if (proof.length === MAX_PROOF_LINES) return { problem: 'too_many_proof_lines' };
    const hash = decodeBase64Strict(line, 32);
    if (!hash) return { problem: 'proof_line' };
    proof.push(hash);
  }
  const note = text.slice(at + 1);
  const parsed = parseNote(note);
  if ('problem' in parsed) return { problem: parsed.problem };
  const checkpoint = parseCheckpoint(parsed.text);
  if (!checkpoint) return { problem: 'malformed_checkpoint' };
  return { old: Number(oldMatch[1]), proof, note, parsed, checkpoint };
}

/** Writes an add-checkpoint body (what a log sends to a witness). */
export function formatAddCheckpointBody(old: number, proof: readonly Uint8Array[], note: string): string {
  if (!Number.isSafeInteger(old) || old < 0) throw new Error('old must be a non-negative whole number');
  if (proof.length > MAX_PROOF_LINES) throw new Error(`at most ${MAX_PROOF_LINES} proof lines`);
  return `old ${old}\n${proof.map((h) => `${Buffer.from(h).toString('base64')}\n`).join('')}\n${note}`;
}
