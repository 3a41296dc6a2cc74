// backup: the online backup service on the 1,000,000-revocation database against a raw better-sqlite3
// backup() of the same file.
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { backupDatabase } from '../../src/ops/backup.ts';
import { count, elapsedMs, emit, log, mib, ms, now, round } from '../lib/harness.ts';
import { ensureMillion } from './import-1m.ts';

async function rawBackupMs(dbPath: string, dest: string): Promise<number> {
  const started = now();
  const source = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  try {
    await source.backup(dest);
  } finally {
    source.close();
  }
  return elapsedMs(started);
}

async function main(): Promise<void> {
  const { dir, run } = await ensureMillion();
  const dbPath = path.join(dir, 'accord.db');
  const out = path.join(path.dirname(dir), 'backup-out');
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const size = fs.statSync(dbPath).size;
  const serviceRuns: number[] = [];
  const rawRuns: number[] = [];
  for (let r = 0; r < 2; r++) {
    rawRuns.push(await rawBackupMs(dbPath, path.join(out, `raw-${r}.db`)));
    const started = now();
    await backupDatabase({ dbPath, output: path.join(out, `service-${r}.db`) });
    serviceRuns.push(elapsedMs(started));
    log(`backup round ${r + 1}: service ${Math.round(serviceRuns.at(-1)!)} ms, raw ${Math.round(rawRuns.at(-1)!)} ms`);
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });
  }
  fs.rmSync(out, { recursive: true, force: true });
  const figure = Math.min(...serviceRuns);
  const limit = Math.min(...rawRuns);
  const ratio = figure / limit;
  emit([
    {
      workload: 'backup',
      size: `${count(run.entries)} revocations (${mib(size)})`,
      figure: ms(figure),
      limit: `${ms(limit)} (raw backup())`,
      ratio: round(ratio),
      target: '≤ 1.5× the limit',
      pass: ratio <= 1.5,
      details: { service_ms: serviceRuns.map(Math.round), raw_ms: rawRuns.map(Math.round) },
    },
  ]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
