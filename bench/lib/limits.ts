// Limits measured in the same run: the fastest way to do the bare storage or crypto part of a workload.
import fs from 'node:fs';
import path from 'node:path';
import { openDatabase } from '../../src/db/database.ts';
import type { RevocationEntry } from '../../src/log/store.ts';
import { elapsedMs, now } from './harness.ts';

export type Row = Array<string | number | null>;

/**
 * Inserts `rows` with one prepared statement in one transaction into a fresh database opened with
 * the production pragmas (same schema, same indexes). Returns the elapsed milliseconds.
 */
export function rawInsertMs(dir: string, sql: string, rows: Row[]): number {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `raw-insert-${process.pid}-${Date.now()}.db`);
  const db = openDatabase(file);
  try {
    const insert = db.sqlite.prepare(sql);
    const started = now();
    db.sqlite.transaction(() => {
      for (const row of rows) insert.run(...row);
    })();
    return elapsedMs(started);
  } finally {
    db.close();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${file}${suffix}`, { force: true });
  }
}

export const IMPORTED_REVOCATION_INSERT = `INSERT INTO imported_revocations (issuer_sovereign_id, log_index, kind, id, reason, revoked_at, subject_sovereign_id, invalid_since, incident, feed_sequence)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export function importedRevocationRow(issuer: string, sequence: number, e: RevocationEntry): Row {
  return [
    issuer,
    e.index,
    e.kind,
    e.id,
    e.reason,
    e.revoked_at,
    e.subject_sovereign_id ?? null,
    e.invalid_since ?? null,
    e.incident ?? null,
    sequence,
  ];
}

/** The imported-revocation rows a feed text carries. */
export function rowsOfFeed(feedText: string): Row[] {
  const feed = JSON.parse(feedText) as { issuer_sovereign_id: string; sequence: number; entries: RevocationEntry[] };
  return feed.entries.map((e) => importedRevocationRow(feed.issuer_sovereign_id, feed.sequence, e));
}
