// One audit export in a process that loads only the export service (or only the raw limit), so the peak
// RSS it reports is the export's own plus the runtime's. Usage: audit-export-run.ts export|raw DB OUTPUT
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { elapsedMs, now, peakRssBytes, printJson, REPO_DIR } from '../lib/harness.ts';

const CHUNK_CHARS = 256 * 1024;

export interface ExportRun {
  rows: number;
  ms: number;
  bytes: number;
  peak_rss_bytes: number;
  /** Peak RSS once the modules were loaded, before the first row: the runtime's share. */
  baseline_rss_bytes: number;
}

/**
 * The export runs in a plain node process that loads the product the way `bin/accord.mjs` does: the
 * compiled build (`npm run build`) when it is current, else the TypeScript sources through tsx.
 */
const EXPORT_PROCESS = `
import fs from 'node:fs';
const [binUrl, dbPath, output] = process.argv.slice(1);
const peakRssBytes = () => Number(/VmHWM:\\s+(\\d+)\\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? process.resourceUsage().maxRSS) * 1024;
const { importProduct } = await import(binUrl);
const { exportAudit } = await importProduct('ops/audit-export');
const baseline = peakRssBytes();
const started = process.hrtime.bigint();
const summary = await exportAudit({ dbPath, output });
const ms = Number(process.hrtime.bigint() - started) / 1e6;
process.stdout.write(JSON.stringify({ rows: summary.count, ms, bytes: summary.bytes, peak_rss_bytes: peakRssBytes(), baseline_rss_bytes: baseline }) + '\\n');
`;

function exportRun(dbPath: string, output: string): ExportRun {
  const bin = pathToFileURL(path.join(REPO_DIR, 'bin', 'accord.mjs')).href;
  const child = spawnSync(process.execPath, ['--input-type=module', '--eval', EXPORT_PROCESS, bin, dbPath, output], {
    cwd: REPO_DIR,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.status !== 0) throw new Error(`the export process exited with ${child.status}`);
  return JSON.parse(child.stdout.trim().split('\\n').pop()!) as ExportRun;
}

/** The limit: the same header line and rows, iterated raw, their stored JCS text written in large chunks. */
async function rawRun(dbPath: string, output: string): Promise<ExportRun> {
  const { openDatabase } = await import('../../src/db/database.ts');
  const { exportHeaderLine } = await import('../../src/ops/export-format.ts');
  const baseline = peakRssBytes();
  const started = now();
  const db = openDatabase(dbPath, { readonly: true });
  const rows = db.sqlite
    .prepare('SELECT seq, hash, canonical FROM audit_events WHERE seq > ? ORDER BY seq')
    .raw(true)
    .iterate(0) as IterableIterator<[number, string, string]>;
  // The same header line the export starts with (no filters), so both files hold the same bytes.
  const sovereign = db.sqlite.prepare("SELECT value FROM authority_meta WHERE key = 'sovereign_id'").pluck().get() as string;
  const fd = fs.openSync(output, 'w');
  let pending = `${exportHeaderLine('jsonl', { sovereign_id: sovereign, filters: {} })}\n`;
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
const run = mode === 'export' ? exportRun(dbPath!, output!) : await rawRun(dbPath!, output!);
fs.rmSync(output!, { force: true });
printJson(run);
