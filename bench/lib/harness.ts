// What every workload shares: the result row it prints, child processes that print JSON, timing and formatting.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = path.dirname(BENCH_DIR);
const RESULT_PREFIX = 'BENCH_RESULT ';

/** One line of the table: a figure, the limit measured in the same run, and the target it must meet. */
export interface ResultRow {
  workload: string;
  size: string;
  figure: string;
  limit: string;
  /** figure / limit in the direction of the target (null when the target is absolute). */
  ratio: number | null;
  target: string;
  pass: boolean;
  details?: Record<string, unknown>;
}

/** A workload's output: its rows on one prefixed line of stdout (everything else on stdout is ignored). */
export function emit(rows: ResultRow[]): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(rows)}\n`);
}

export function parseRows(stdout: string): ResultRow[] | null {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(RESULT_PREFIX));
  return line ? (JSON.parse(line.slice(RESULT_PREFIX.length)) as ResultRow[]) : null;
}

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript script in its own node process (so its peak RSS is its own), echoing stderr. */
export function runScript(
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
  options: { quiet?: boolean; nodeArgs?: string[] } = {},
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', path.resolve(BENCH_DIR, script), ...args], {
      cwd: REPO_DIR,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (!options.quiet) process.stderr.write(d);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a child that prints one JSON object as its last stdout line, and returns that object. */
export async function runJsonScript<T>(
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<T> {
  const result = await runScript(script, args, env, { nodeArgs });
  const last = result.stdout.trim().split('\n').pop() ?? '';
  if (result.code !== 0) throw new Error(`${script} exited with ${result.code}: ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${script} printed no JSON result (last line: ${last.slice(0, 200)})`);
  }
}

/** Prints a child's JSON result (the last line of stdout). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function log(message: string): void {
  process.stderr.write(`  · ${message}\n`);
}

export function elapsedMs(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export function now(): bigint {
  return process.hrtime.bigint();
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)]!;
}

export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** 12345.6 → "12,346". */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export const perSecond = (n: number, unit = 'rows'): string => `${count(n)} ${unit}/s`;
export const mib = (bytes: number): string => `${round(bytes / 1048576, 1)} MiB`;
/** Memory targets are in MB (10^6 bytes): the stricter reading. */
export const mb = (bytes: number): string => `${round(bytes / 1e6, 1)} MB`;
export const ms = (n: number): string => `${n < 10 ? round(n, 2) : Math.round(n).toLocaleString('en-US')} ms`;

/** Triggers a full GC when node runs with --expose-gc (between phases, so one phase's garbage is not billed to the next). */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Peak resident set size of this process in bytes (Linux VmHWM; resourceUsage as the fallback). */
export function peakRssBytes(): number {
  try {
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}
