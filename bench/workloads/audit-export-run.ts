// One audit export in a process that loads only the export service (or only the raw limit), so the peak
// RSS it reports is the export's own plus the runtime's. Usage: audit-export-run.ts export|raw DB OUTPUT
import fs from 'node:fs';
import { elapsedMs, now, peakRssBytes, printJson } from '../lib/harness.ts';

const CHUNK_CHARS = 256 * 1024;

export interface ExportRun {
  rows: number;
  ms: number;
  bytes: number;
  peak_rss_bytes: number;
  /** Peak RSS once the modules were loaded, before the first row: the runtime's share. */
  baseline_rss_bytes: number;
}

async function exportRun(dbPath: string, output: string): Promise<ExportRun> {
  const { exportAudit } = await import('../../src/ops/audit-export.ts');
  const baseline = peakRssBytes();
  const started = now();
  const summary = await exportAudit({ dbPath, output });
  return { rows: summary.count, ms: elapsedMs(started), bytes: summary.bytes, peak_rss_bytes: peakRssBytes(), baseline_rss_bytes: baseline };
}

/** The limit: the same rows, iterated raw, their stored JCS text written in large chunks. */
async function rawRun(dbPath: string, output: string): Promise<ExportRun> {
  const { openDatabase } = await import('../../src/db/database.ts');
  const baseline = peakRssBytes();
  const started = now();
  const db = openDatabase(dbPath, { readonly: true });
  const rows = db.sqlite.prepare('SELECT seq, hash, canonical FROM audit_events WHERE seq > ? ORDER BY seq').raw(true).iterate(0) as IterableIterator<[number, string, string]>;
  const fd = fs.openSync(output, 'w');
  let pending = '';
  let n = 0;
  let bytes = 0;
  for (const [, , canonical] of rows) {
    pending += `${canonical}\n`;
    n++;
    if (pending.length >= CHUNK_CHARS) {
      bytes += fs.writeSync(fd, pending);
      pending = '';
    }
  }
  if (pending) bytes += fs.writeSync(fd, pending);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  db.close();
  return { rows: n, ms: elapsedMs(started), bytes, peak_rss_bytes: peakRssBytes(), baseline_rss_bytes: baseline };
}

const [mode, dbPath, output] = process.argv.slice(2);
const run = mode === 'export' ? await exportRun(dbPath!, output!) : await rawRun(dbPath!, output!);
fs.rmSync(output!, { force: true });
printJson(run);
