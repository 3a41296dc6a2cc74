// Helpers for transparency-log tests: filling and publishing a revocation log, reading notes, the Go checker, static copies of the log.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { REVOCATION_KINDS, REVOCATION_REASONS, appendRevocations, readLogHead, type NewRevocationEntry } from '../../src/log/store.ts';
import { formatVerifierKey } from '../../src/authority/signed-note.ts';
import { formatTilePath, TILE_WIDTH } from '../../src/transparency/tile-format.ts';
import { logOrigin } from '../../src/transparency/service.ts';
import type { SigningKey } from '../../src/authority/crypto.ts';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';

/** A varied revocation entry: every kind and reason, optional fields, and non-ASCII incident labels. */
export function revocationEntry(i: number): NewRevocationEntry {
  return {
    kind: REVOCATION_KINDS[i % REVOCATION_KINDS.length]!,
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    reason: REVOCATION_REASONS[i % REVOCATION_REASONS.length]!,
    revoked_at: '2026-03-01T00:00:00Z',
    ...(i % 3 === 0 ? { subject_sovereign_id: `sovereign-${i % 7}` } : {}),
    ...(i % 5 === 0 ? { invalid_since: '2026-02-28T12:00:00Z' } : {}),
    ...(i % 11 === 0 ? { incident: `Störfall ${i} — “key” ✓` } : {}),
  };
}

/** Appends entries until the log has `size` of them. */
export function growLog(a: TestAuthority, size: number): void {
  const from = readLogHead(a.db.sqlite).size;
  if (size <= from) return;
  a.db.sqlite.transaction(() =>
    appendRevocations(
      a.db.sqlite,
      Array.from({ length: size - from }, (_, i) => revocationEntry(from + i)),
    ),
  )();
}

/** Publishes the log at each size in turn (a heartbeat when the size does not grow). */
export function publishAtSizes(a: TestAuthority, sizes: number[]): void {
  for (const size of sizes) {
    const grows = size > readLogHead(a.db.sqlite).size;
    growLog(a, size);
    publishFeeds(a.deps, { trigger: 'admin', ...(grows ? {} : { heartbeat: 'force' as const }) });
  }
}

export function vkeyOf(a: TestAuthority, key: SigningKey = a.signingKey): string {
  return formatVerifierKey(logOrigin(a.deps), key.raw);
}

export async function text(res: Response): Promise<string> {
  return Buffer.from(await res.arrayBuffer()).toString('utf8');
}

export async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

// ---- The Go checker (golang.org/x/mod/sumdb/{note,tlog}, Debian's golang-golang-x-mod-dev).

export const GOPATH = '/usr/share/gocode';
export const GO_AVAILABLE = spawnSync('go', ['version']).status === 0;
export const GO_MISSING_REASON = 'go is not installed (apt-get install golang-go golang-golang-x-mod-dev): the Go cross-check cannot run';

/**
 * Without Go a check is skipped with the reason shown, so `npm test` works on a fresh machine; CI sets
 * ACCORD_REQUIRE_GO=1 (and installs Go), where a missing Go is a failure, never a skip.
 */
export function needGo(ctx: { skip(note?: string): void }): void {
  if (GO_AVAILABLE) return;
  if (process.env.ACCORD_REQUIRE_GO === '1') throw new Error(`ACCORD_REQUIRE_GO=1 but ${GO_MISSING_REASON}`);
  ctx.skip(GO_MISSING_REASON);
}

const ROOT = path.join(import.meta.dirname, '..', '..');

/** Builds test/transparency/go in GOPATH mode against the Debian x/mod sources; returns the binary. */
export function buildGoChecker(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-tlogcheck-'));
  const binary = path.join(dir, 'tlogcheck');
  return new Promise((resolve, reject) => {
    execFile(
      'go',
      ['build', '-o', binary, './test/transparency/go/...'],
      { cwd: ROOT, env: { ...process.env, GO111MODULE: 'off', GOPATH, GOFLAGS: '' }, timeout: 300_000 },
      (err, _stdout, stderr) => (err ? reject(new Error(`go build failed: ${stderr}`)) : resolve(binary)),
    );
  });
}

export interface GoReport {
  ok: boolean;
  origin: string;
  size: number;
  root_hash: string;
  extensions: string[];
  tiles_read: number;
  entries_checked: number;
  inclusion_proofs_checked: number;
  consistency_proofs_checked: number;
  checkpoints_checked: number;
  /** cosignature/v1 lines of the latest checkpoint that verified under a `cosigners` key. */
  cosignatures: Array<{ name: string; key_id: string; timestamp: number }>;
  failures: string[];
  exitCode: number;
}

/** Runs the checker without blocking this process (the authority under test answers from the same event loop). */
export function runGoChecker(
  binary: string,
  args: { url: string; vkeys: string[]; origin?: string; sample?: number; history?: boolean; cosigners?: string[]; noteOnly?: boolean },
): Promise<GoReport> {
  const argv = [`-url=${args.url}`, `-vkeys=${args.vkeys.join(',')}`];
  if (args.cosigners) argv.push(`-cosigners=${args.cosigners.join(',')}`);
  if (args.noteOnly) argv.push('-note-only');
  if (args.origin) argv.push(`-origin=${args.origin}`);
  if (args.sample !== undefined) argv.push(`-sample=${args.sample}`);
  if (args.history === false) argv.push('-history=false');
  return new Promise((resolve, reject) => {
    execFile(binary, argv, { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve({ ...(JSON.parse(line) as Omit<GoReport, 'exitCode'>), exitCode: err ? ((err as { code?: number }).code ?? 1) : 0 });
      } catch {
        reject(new Error(`checker printed no summary (stdout ${stdout}, stderr ${stderr})`));
      }
    });
  });
}

// ---- The log's files: every path of the latest tree, copied out and served as a static directory.

/** The checkpoint and every tile and entry bundle of a tree of `size` leaves, as paths under the log's prefix. */
export function logFilePaths(size: number): string[] {
  const paths = ['checkpoint'];
  for (let level = 0, span = 1; Math.floor(size / span) >= 1; level++, span *= TILE_WIDTH) {
    const hashes = Math.floor(size / span);
    for (let n = 0; n * TILE_WIDTH < hashes; n++) {
      const width = Math.min(TILE_WIDTH, hashes - n * TILE_WIDTH);
      paths.push(`tile/${formatTilePath({ level, index: n, width })}`);
      if (level === 0) paths.push(`tile/${formatTilePath({ level: 'entries', index: n, width })}`);
    }
  }
  return paths;
}

/** Every file of the authority's latest published tree, as it serves them. */
export async function logFiles(a: TestAuthority): Promise<Map<string, Buffer>> {
  const checkpoint = Buffer.from(await (await a.app.request('/log/checkpoint')).arrayBuffer());
  const size = Number(checkpoint.toString('utf8').split('\n')[1]);
  const files = new Map<string, Buffer>([['checkpoint', checkpoint]]);
  for (const path of logFilePaths(size).slice(1)) {
    const res = await a.app.request(`/log/${path}`);
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
    files.set(path, Buffer.from(await res.arrayBuffer()));
  }
  return files;
}

/** Writes the files under `dir` as a static copy of the log (tile/0/001 and tile/0/001.p/7 side by side, as C2SP intends). */
export function writeLogDirectory(dir: string, files: Map<string, Buffer>): void {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [file, bytes] of files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), bytes);
  }
}

/** A plain node:http (or, given a key and certificate, node:https) file server over `root`: GET only, 404 for anything that is not a file under it. */
export async function serveDirectory(
  root: string,
  tls?: { key: string; cert: string },
): Promise<{ url: string; requests: string[]; stop(): Promise<void> }> {
  const requests: string[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(url.pathname);
    const file = path.join(root, decodeURIComponent(url.pathname));
    let body: Buffer | null = null;
    try {
      if (file.startsWith(`${root}${path.sep}`) && fs.statSync(file).isFile()) body = fs.readFileSync(file);
    } catch {
      body = null;
    }
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/octet-stream', 'content-length': String(body?.length ?? 0) });
    res.end(body);
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Another authority under the same sovereign id — the same signing key and log origin — whose entry 1
 * differs: a second history of the same log, published at `size`.
 */
export function forkedAuthority(sovereignId: string, size: number): TestAuthority {
  const b = createTestAuthority({ sovereignId });
  b.db.sqlite.transaction(() =>
    appendRevocations(b.db.sqlite, [revocationEntry(0), { ...revocationEntry(1), reason: 'policy_violation', incident: 'rewritten' }]),
  )();
  publishAtSizes(b, [size]);
  return b;
}
