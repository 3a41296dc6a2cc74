// Crash-consistency harness: real `accord serve` processes on temp data dirs, signed admin traffic,
// SIGKILL at seeded random moments, and the offline checks every crash must pass.
import { spawn, type ChildProcess } from 'node:child_process';
import BetterSqlite3 from 'better-sqlite3';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { verifyStoredAuditChain } from '../../src/authority/audit.ts';
import { toTimestamp } from '../../src/authority/clock.ts';
import { canonicalHash, type SigningKey } from '../../src/authority/crypto.ts';
import { BIN, childEnv, finished, freePort, type Server } from '../cli/run.ts';

/** Deterministic PRNG (mulberry32): every choice of a run follows from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Accord {
  server: Server;
  url: string;
  /** A signed admin request with the real clock; resolves to status and parsed body. */
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  get(path: string): Promise<{ status: number; body: any; headers: Headers }>;
  kill(): Promise<void>;
}

/** Starts `accord serve` and waits for its "serving on" line; it runs until killed (no lifetime cap). */
async function serve(env: Record<string, string>, timeoutMs: number): Promise<Server> {
  const child = spawn(process.execPath, [BIN, 'serve'], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = finished(child, 24 * 3600_000);
  let banner = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`accord serve did not start: ${banner}`));
    }, timeoutMs);
    child.stderr?.on('data', (d: Buffer) => {
      banner += d.toString();
      const m = /serving on (http:\/\/\S+)/.exec(banner);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exit.then((r) => {
      clearTimeout(timer);
      reject(new Error(`accord serve exited (${r.code}): ${r.stderr}`));
    });
  });
  return { child, banner, url, exit };
}

export async function startAccord(env: Record<string, string>, operator: { label: string; key: SigningKey }): Promise<Accord> {
  const server = await serve({ ...env, ACCORD_PORT: String(await freePort()) }, 60_000);
  const url = server.url;
  return {
    server,
    url,
    admin: async (method, path, body) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      const headers: Record<string, string> = {
        ...signAdminRequest({
          authority: env.ACCORD_SOVEREIGN_ID ?? 'local-authority',
          method,
          path,
          body: text,
          label: operator.label,
          key: operator.key,
          timestamp: toTimestamp(new Date()),
        }),
        ...(text ? { 'Content-Type': 'application/json' } : {}),
      };
      const res = await fetch(`${url}${path}`, { method, headers, ...(text ? { body: text } : {}) });
      const raw = await res.text();
      let parsed: unknown = raw;
      try {
        parsed = JSON.parse(raw);
      } catch {
        // keep text
      }
      return { status: res.status, body: parsed };
    },
    get: async (path) => {
      const res = await fetch(`${url}${path}`);
      const raw = await res.text();
      let parsed: unknown = raw;
      try {
        parsed = JSON.parse(raw);
      } catch {
        // keep text
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    kill: async () => {
      server.child.kill('SIGKILL');
      await server.exit.catch(() => undefined);
    },
  };
}

/** Runs an `accord` CLI command; `killAfterMs` sends SIGKILL at that moment if it is still running. */
export function runCli(
  args: string[],
  env: Record<string, string>,
  killAfterMs?: number,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = killAfterMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), killAfterMs) : undefined;
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      setImmediate(() => resolve({ code, signal, stdout, stderr, ms: performance.now() - started }));
    });
  });
}

export interface CheckReport {
  treaties: number;
  publishedSequence: number;
  importedSequence: number;
  restores: number;
  auditEvents: number;
}

/**
 * The checks after every crash, on the database file with no server running:
 * integrity, the audit chain, all-or-nothing imports, contiguous and unchanged published feeds, and
 * every treaty with its audit event.
 */
export function checkDatabase(dbPath: string, expect: { publishedHashes: Map<number, string>; issuer: string }): CheckReport {
  const db = new BetterSqlite3(dbPath);
  try {
    const problems: string[] = [];
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') problems.push(`integrity_check: ${String(integrity)}`);
    const chain = verifyStoredAuditChain(db);
    if (!chain.ok) problems.push(`audit chain broken: ${JSON.stringify(chain).slice(0, 300)}`);

    // Imports: each stored feed's entries are all recorded, the issuer state matches, and each import is audited.
    const feeds = db
      .prepare('SELECT sequence, body FROM imported_feeds WHERE issuer_sovereign_id = ? ORDER BY sequence')
      .all(expect.issuer) as Array<{ sequence: number; body: string }>;
    let logSize = 0;
    feeds.forEach((f, i) => {
      if (f.sequence !== i + 1) problems.push(`imported sequences not contiguous at ${f.sequence}`);
      const entries = (JSON.parse(f.body) as { entries: unknown[] }).entries.length;
      const recorded = (
        db
          .prepare('SELECT count(*) AS n FROM imported_revocations WHERE issuer_sovereign_id = ? AND feed_sequence = ?')
          .get(expect.issuer, f.sequence) as { n: number }
      ).n;
      if (recorded !== entries) problems.push(`import ${f.sequence} partly applied: ${recorded} of ${entries} revocations`);
      logSize += entries;
      const audited = (
        db
          .prepare(
            "SELECT count(*) AS n FROM audit_events WHERE event_type = 'sovereign_revocation_feed_imported' AND json_extract(canonical, '$.details.sequence') = ? AND json_extract(canonical, '$.details.status') = 'imported' AND json_extract(canonical, '$.details.issuer') = ?",
          )
          .get(f.sequence, expect.issuer) as { n: number }
      ).n;
      if (audited < 1) problems.push(`import ${f.sequence} has no audit event`);
    });
    const state = db.prepare('SELECT last_sequence, log_size FROM feed_issuers WHERE issuer_sovereign_id = ?').get(expect.issuer) as
      | { last_sequence: number; log_size: number }
      | undefined;
    const importedSequence = state?.last_sequence ?? 0;
    if (importedSequence !== feeds.length) problems.push(`issuer state says ${importedSequence} but ${feeds.length} feeds are stored`);
    if ((state?.log_size ?? 0) !== logSize) problems.push(`issuer log size ${state?.log_size} ≠ ${logSize} stored entries`);
    const orphans = (
      db
        .prepare('SELECT count(*) AS n FROM imported_revocations WHERE issuer_sovereign_id = ? AND feed_sequence > ?')
        .get(expect.issuer, feeds.length) as { n: number }
    ).n;
    if (orphans > 0) problems.push(`${orphans} imported revocations without their feed`);

    // Published feeds: 1..n, chained, and every sequence ever observed unchanged.
    const published = db.prepare('SELECT sequence, feed_hash, body, log_size FROM published_feeds ORDER BY sequence').all() as Array<{
      sequence: number;
      feed_hash: string;
      body: string;
      log_size: number;
    }>;
    let previous: { whole: string | null; signed: string | null } = { whole: null, signed: null };
    published.forEach((f, i) => {
      if (f.sequence !== i + 1) problems.push(`published sequence ${i + 1} missing (found ${f.sequence})`);
      const body = JSON.parse(f.body) as { previous_feed_hash: string | null; sequence: number; version: number; signatures: unknown };
      if (body.sequence !== f.sequence) problems.push(`published feed ${f.sequence} body says ${body.sequence}`);
      // Version 2 links the previous feed's signed part (without signatures), version 1 its whole bytes.
      if (body.previous_feed_hash !== (body.version === 2 ? previous.signed : previous.whole))
        problems.push(`published feed ${f.sequence} does not chain to ${f.sequence - 1}`);
      if (canonicalHash(body) !== f.feed_hash) problems.push(`published feed ${f.sequence} hash does not match its bytes`);
      const { signatures: _signatures, ...signed } = body;
      previous = { whole: f.feed_hash, signed: canonicalHash(signed) };
    });
    for (const [seq, hash] of expect.publishedHashes) {
      const row = published.find((f) => f.sequence === seq);
      if (!row) problems.push(`published sequence ${seq} was seen by a client and is gone`);
      else if (row.feed_hash !== hash) problems.push(`published sequence ${seq} was rewritten`);
    }
    const logCount = db.prepare('SELECT count(*) AS n, coalesce(max(idx), -1) AS top FROM revocation_log').get() as {
      n: number;
      top: number;
    };
    if (logCount.n !== logCount.top + 1) problems.push('revocation log indexes not contiguous');
    const lastPublishedLog = published.at(-1)?.log_size ?? 0;
    if (lastPublishedLog > logCount.n) problems.push(`published log size ${lastPublishedLog} > revocation log ${logCount.n}`);

    // Treaties: each stored treaty was audited in the same transaction.
    const unaudited = (
      db
        .prepare(
          "SELECT count(*) AS n FROM treaties t WHERE t.issuer_sovereign_id = (SELECT value FROM authority_meta WHERE key = 'sovereign_id') AND NOT EXISTS (SELECT 1 FROM audit_events a WHERE a.event_type IN ('recognition_treaty_issued', 'recognition_treaty_superseded') AND instr(a.canonical, t.treaty_id) > 0)",
        )
        .get() as { n: number }
    ).n;
    // A completed restore carries forward treaties signed after the backup; their issuance events stay
    // in the replaced chain (kept in the pre-restore backup), and database_restored counts them.
    const carried = (
      db
        .prepare(
          "SELECT coalesce(sum(json_extract(canonical, '$.details.carried_forward.treaties')), 0) AS n FROM audit_events WHERE event_type = 'database_restored'",
        )
        .get() as { n: number }
    ).n;
    if (unaudited > carried)
      problems.push(`${unaudited - carried} treaties without their audit event (${carried} carried forward by restores)`);

    if (problems.length > 0) throw new Error(`crash check failed for ${dbPath}:\n  ${problems.join('\n  ')}`);
    return {
      treaties: (db.prepare('SELECT count(*) AS n FROM treaties').get() as { n: number }).n,
      publishedSequence: published.length,
      importedSequence,
      restores: (db.prepare("SELECT count(*) AS n FROM audit_events WHERE event_type = 'database_restored'").get() as { n: number }).n,
      auditEvents: chain.count,
    };
  } finally {
    db.close();
  }
}

/** The last audit event: a completed restore ends the log with `database_restored` naming the head it replaced. */
export function lastAuditEvent(dbPath: string): { seq: number; hash: string; event_type: string; details: Record<string, any> } {
  const db = new BetterSqlite3(dbPath, { readonly: true });
  try {
    const row = db.prepare('SELECT canonical FROM audit_events ORDER BY seq DESC LIMIT 1').get() as { canonical: string };
    return JSON.parse(row.canonical);
  } finally {
    db.close();
  }
}

export function treatyIds(dbPath: string): Set<string> {
  const db = new BetterSqlite3(dbPath, { readonly: true });
  try {
    return new Set((db.prepare('SELECT treaty_id FROM treaties').all() as Array<{ treaty_id: string }>).map((r) => r.treaty_id));
  } finally {
    db.close();
  }
}
