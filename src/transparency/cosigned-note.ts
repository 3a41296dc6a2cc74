// A checkpoint of this authority's log as served: the log-signed note with its witnesses' cosignature lines appended.
import { statementOnce, type Sqlite } from '../db/database.ts';

const cosignatureLines = statementOnce('SELECT line FROM log_cosignatures WHERE sequence = ? ORDER BY witness, key_id', { pluck: true });

/** The cosignature lines (without newlines) received for checkpoint `sequence`, in witness and key order. */
export function readCosignatureLines(sqlite: Sqlite, sequence: number): string[] {
  return cosignatureLines(sqlite).all(sequence) as string[];
}

/**
 * The note with every stored cosignature line appended after the log's own signature lines: the
 * standard cosigned form (c2sp.org/tlog-cosignature), which verifiers that do not know a witness key
 * read as the plain checkpoint (signed-note verifiers ignore lines of unknown keys).
 */
export function cosignedNote(sqlite: Sqlite, checkpoint: { sequence: number; note: string }): string {
  const lines = readCosignatureLines(sqlite, checkpoint.sequence);
  return lines.length === 0 ? checkpoint.note : `${checkpoint.note}${lines.map((l) => `${l}\n`).join('')}`;
}
