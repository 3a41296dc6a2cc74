// A checkpoint of this authority's log as served: the log-signed note with its witnesses' cosignature lines appended.
import type { Sqlite } from '../db/database.ts';
import { readCosignatureLines } from './store.ts';

/**
 * The note with every stored cosignature line appended after the log's own signature lines: the
 * standard cosigned form (c2sp.org/tlog-cosignature), which verifiers that do not know a witness key
 * read as the plain checkpoint (signed-note verifiers ignore lines of unknown keys).
 */
export function cosignedNote(sqlite: Sqlite, checkpoint: { sequence: number; note: string }): string {
  const lines = readCosignatureLines(sqlite, checkpoint.sequence);
  return lines.length === 0 ? checkpoint.note : `${checkpoint.note}${lines.map((l) => `${l}\n`).join('')}`;
}
