// import-1m: 1,000,000 entries (100 feeds) through the admin import path, in a process that does only that,
// so its peak RSS is the import's own. The resulting data dir is the 1M-revocation database of backup/startup.
import fs from 'node:fs';
import path from 'node:path';
import { issuer, issuerFeeds, openBenchAuthority, recognize, scaled, workDir } from '../lib/fixtures.ts';
import { count, elapsedMs, emit, log, mb, mib, ms, now, peakRssBytes, perSecond, printJson, runJsonScript } from '../lib/harness.ts';
import { importAll, requestBody } from './import.ts';

const ISSUERS = 10;
const FEEDS_PER_ISSUER = 10;
const ENTRIES_PER_FEED = scaled(10_000, 10);
const RSS_LIMIT = 400e6;
export const MILLION_SOVEREIGN = 'bench-authority';

/** Where the 1M-revocation data dir lives in this run. */
export function millionDir(): string {
  return path.join(workDir(), 'million');
}

const doneMarker = (dir: string) => path.join(dir, 'complete.json');

interface ImportRun {
  entries: number;
  feeds: number;
  ms: number;
  peak_rss_bytes: number;
  db_bytes: number;
}

/** Writes the 100 feeds as request bodies, one file each, in pull order (a separate process). */
function generate(feedDir: string): void {
  fs.mkdirSync(feedDir, { recursive: true });
  const names: string[] = [];
  const iterators = Array.from({ length: ISSUERS }, (_, i) => issuerFeeds(issuer(i + 1), FEEDS_PER_ISSUER, ENTRIES_PER_FEED, 2000 + i));
  for (let seq = 1; seq <= FEEDS_PER_ISSUER; seq++) {
    iterators.forEach((it, i) => {
      const name = `${String(seq).padStart(3, '0')}-${String(i + 1).padStart(3, '0')}.json`;
      fs.writeFileSync(path.join(feedDir, name), requestBody(it.next().value as string));
      names.push(name);
    });
  }
  fs.writeFileSync(path.join(feedDir, 'order.json'), JSON.stringify(names));
  printJson({ feeds: names.length });
}

/** Imports every feed file into a fresh data dir and reports time and this process's peak RSS. */
async function importFiles(feedDir: string, dataDir: string): Promise<void> {
  fs.rmSync(dataDir, { recursive: true, force: true });
  const authority = openBenchAuthority(dataDir, MILLION_SOVEREIGN);
  await recognize(
    authority,
    Array.from({ length: ISSUERS }, (_, i) => issuer(i + 1)),
  );
  const names = JSON.parse(fs.readFileSync(path.join(feedDir, 'order.json'), 'utf8')) as string[];
  const started = now();
  const revoked = importAll(
    authority,
    (function* () {
      for (const name of names) yield fs.readFileSync(path.join(feedDir, name));
    })(),
  );
  const elapsed = elapsedMs(started);
  authority.db.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  await authority.close();
  const run: ImportRun = {
    entries: revoked,
    feeds: names.length,
    ms: elapsed,
    peak_rss_bytes: peakRssBytes(),
    db_bytes: fs.statSync(path.join(dataDir, 'accord.db')).size,
  };
  fs.writeFileSync(doneMarker(dataDir), JSON.stringify(run));
  printJson(run);
}

/** Builds the 1M-revocation data dir (generation and import each in their own process). */
export async function buildMillion(): Promise<ImportRun> {
  const feedDir = path.join(workDir(), 'million-feeds');
  if (!fs.existsSync(path.join(feedDir, 'order.json'))) {
    log(`import-1m: generating ${ISSUERS * FEEDS_PER_ISSUER} feeds × ${count(ENTRIES_PER_FEED)} entries`);
    await runJsonScript('workloads/import-1m.ts', ['generate', feedDir]);
  }
  log('import-1m: importing in a fresh process');
  return runJsonScript<ImportRun>('workloads/import-1m.ts', ['import', feedDir, millionDir()]);
}

/** The 1M-revocation data dir, built if this run has not built it yet. */
export async function ensureMillion(): Promise<{ dir: string; run: ImportRun }> {
  const dir = millionDir();
  if (!fs.existsSync(doneMarker(dir))) await buildMillion();
  return { dir, run: JSON.parse(fs.readFileSync(doneMarker(dir), 'utf8')) as ImportRun };
}

async function main(): Promise<void> {
  const run = await buildMillion();
  const expected = ISSUERS * FEEDS_PER_ISSUER * ENTRIES_PER_FEED;
  const completed = run.entries === expected;
  emit([
    {
      workload: 'import-1m',
      size: `${count(run.entries)} entries (${run.feeds} feeds)`,
      figure: `${perSecond(run.entries / (run.ms / 1000))}; ${ms(run.ms)}; peak RSS ${mb(run.peak_rss_bytes)}`,
      limit: '—',
      ratio: null,
      target: 'completes; peak RSS ≤ 400 MB',
      pass: completed && run.peak_rss_bytes <= RSS_LIMIT,
      details: { ...run, database: mib(run.db_bytes) },
    },
  ]);
}

const mode = process.argv[2];
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  if (mode === 'generate') generate(process.argv[3]!);
  else if (mode === 'import') await importFiles(process.argv[3]!, process.argv[4]!);
  else await main();
}
