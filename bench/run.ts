// `npm run bench [-- NAME…]`: runs the workloads (each in its own process), prints one table, writes
// bench/results.json and, at full scale, the table in BENCHMARKS.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_DIR, parseRows, REPO_DIR, runScript, type ResultRow } from './lib/harness.ts';

/** Every workload, in run order (the 1M-revocation database of import-1m is reused by backup and startup). */
export const WORKLOADS = [
  'import',
  'import-1m',
  'publish',
  'verify',
  'http-verify',
  'connectome',
  'event-loop',
  'audit-export',
  'admin-write',
  'backup',
  'startup',
  'transparency',
  'monitor',
  'followers',
  'witness',
  'witness-quorum',
  'mirror',
] as const;

const RESULTS_FILE = path.join(BENCH_DIR, 'results.json');
const BENCHMARKS_FILE = path.join(REPO_DIR, 'BENCHMARKS.md');
const TABLE_START = '<!-- bench:table -->';
const TABLE_END = '<!-- /bench:table -->';

interface Machine {
  cpu: string;
  cores: number;
  memory_gib: number;
  node: string;
  platform: string;
  load_average_at_start: number[];
}

interface WorkloadResult {
  measured_at: string;
  /** 1/5/15-minute load average when the workload started: other work on the machine skews absolute figures. */
  load_average_at_start: number[];
  seconds: number;
  rows: ResultRow[];
}

interface Results {
  generated_at: string;
  scale: number;
  machine: Machine;
  workloads: Record<string, WorkloadResult>;
}

function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory_gib: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    load_average_at_start: os.loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

const COLUMNS: Array<[string, (r: ResultRow) => string]> = [
  ['workload', (r) => r.workload],
  ['size', (r) => r.size],
  ['figure', (r) => r.figure],
  ['limit', (r) => r.limit],
  ['ratio', (r) => (r.ratio === null ? '—' : String(r.ratio))],
  ['target', (r) => r.target],
  ['result', (r) => (r.pass ? 'pass' : 'FAIL')],
];

function textTable(rows: ResultRow[]): string {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, f]) => f(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    row
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function markdownTable(rows: ResultRow[]): string {
  const escapeCell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${COLUMNS.map(([h]) => h).join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${COLUMNS.map(([, f]) => escapeCell(f(r))).join(' | ')} |`),
  ].join('\n');
}

function orderedRows(results: Results): ResultRow[] {
  return WORKLOADS.flatMap((name) => results.workloads[name]?.rows ?? []);
}

/** Replaces the table block of BENCHMARKS.md with the latest full-scale results and their machine. */
function updateBenchmarksMd(results: Results): void {
  const m = results.machine;
  const dates = Object.values(results.workloads)
    .map((w) => w.measured_at)
    .sort();
  const when =
    dates.length > 0 && dates[0]!.slice(0, 16) !== dates.at(-1)!.slice(0, 16)
      ? `between ${dates[0]} and ${dates.at(-1)}`
      : `on ${results.generated_at}`;
  const block = [
    TABLE_START,
    `Measured ${when} (each workload's date is in \`bench/results.json\`) on ${m.cores} cores (${m.cpu}), ${m.memory_gib} GiB memory, Node ${m.node}, ${m.platform}; load average at the start of the last run ${m.load_average_at_start.join(' / ')}.`,
    '',
    markdownTable(orderedRows(results)),
    '',
    'Per-workload dates, timings of every round and details: `bench/results.json`.',
    TABLE_END,
  ].join('\n');
  const current = fs.existsSync(BENCHMARKS_FILE) ? fs.readFileSync(BENCHMARKS_FILE, 'utf8') : '';
  const start = current.indexOf(TABLE_START);
  const end = current.indexOf(TABLE_END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${block}${current.slice(end + TABLE_END.length)}`
      : `${current.trimEnd()}\n\n## Latest results\n\n${block}\n`;
  fs.writeFileSync(BENCHMARKS_FILE, next);
}

function readResults(scale: number): Results | null {
  try {
    const previous = JSON.parse(fs.readFileSync(RESULTS_FILE, 'utf8')) as Partial<Results>;
    return previous.scale === scale && previous.workloads ? (previous as Results) : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const requested = process.argv.slice(2).filter((a) => a !== '--');
  const unknown = requested.filter((n) => !(WORKLOADS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown workload ${unknown.join(', ')}; known: ${WORKLOADS.join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const names = requested.length > 0 ? WORKLOADS.filter((n) => requested.includes(n)) : [...WORKLOADS];
  const scale = process.env.BENCH_SCALE ? Number(process.env.BENCH_SCALE) : 1;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-bench-'));
  const env = { BENCH_WORKDIR: workDir };
  const results: Results = { generated_at: new Date().toISOString(), scale, machine: machine(), workloads: {} };
  if (requested.length > 0) Object.assign(results.workloads, readResults(scale)?.workloads ?? {});
  process.stderr.write(`accord bench: ${names.join(', ')} (scale ${scale}, work dir ${workDir})\n`);
  try {
    for (const name of names) {
      process.stderr.write(`▶ ${name}\n`);
      const started = Date.now();
      const load = os.loadavg().map((n) => Math.round(n * 100) / 100);
      const child = await runScript(`workloads/${name}.ts`, [], env);
      const rows = parseRows(child.stdout) ?? [
        {
          workload: name,
          size: '—',
          figure: `error: exited with ${child.code}: ${child.stderr
            .trim()
            .split('\n')
            .filter((l) => !/^\s+at /.test(l))
            .slice(-3)
            .join(' ')}`.slice(0, 300),
          limit: '—',
          ratio: null,
          target: '—',
          pass: false,
        },
      ];
      results.workloads[name] = {
        measured_at: new Date().toISOString(),
        load_average_at_start: load,
        seconds: Math.round((Date.now() - started) / 1000),
        rows,
      };
      for (const row of rows)
        process.stderr.write(
          `  ${row.pass ? 'pass' : 'FAIL'}  ${row.workload}: ${row.figure} (limit ${row.limit}, ratio ${row.ratio ?? '—'}, target ${row.target})\n`,
        );
    }
  } finally {
    if (process.env.BENCH_KEEP !== '1') fs.rmSync(workDir, { recursive: true, force: true });
  }
  const rows = orderedRows(results);
  process.stdout.write(`\n${textTable(rows)}\n\n`);
  if (scale === 1) {
    fs.writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
    updateBenchmarksMd(results);
    process.stdout.write(`wrote ${path.relative(REPO_DIR, RESULTS_FILE)} and ${path.relative(REPO_DIR, BENCHMARKS_FILE)}\n`);
  } else {
    // Development runs at reduced scale never replace the recorded full-scale results.
    const devFile = path.join(os.tmpdir(), 'accord-bench-results.json');
    fs.writeFileSync(devFile, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`scale ${scale}: results in ${devFile} (bench/results.json and BENCHMARKS.md are written at full scale only)\n`);
  }
  if (rows.some((r) => !r.pass)) process.exitCode = 1;
}

await main();
