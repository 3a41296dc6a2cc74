// audit-export: 1,000,000 audit events to JSONL with the export service, in a process that does only that
// (peak RSS), against a raw iterate() + write of the same rows' canonical (JCS) text in another process.
import fs from 'node:fs';
import path from 'node:path';
import { appendAudit, type AuditInput } from '../../src/authority/audit.ts';
import { BENCH_NOW_MS, openBenchAuthority, prng, scaled, sovereignId, uuidFrom, workDir } from '../lib/fixtures.ts';
import { count, emit, log, mb, perSecond, printJson, round, runJsonScript } from '../lib/harness.ts';
import type { ExportRun } from './audit-export-run.ts';

const EVENTS = scaled(1_000_000, 1000);
const RSS_LIMIT = 150e6;

/** A realistic mix of events: issuance, revocation, imports, publications, failed admin requests. */
function eventFor(random: () => number, i: number, operatorKeyId: string): AuditInput {
  const operator = { type: 'operator' as const, key_id: operatorKeyId, label: 'bench' };
  const who = sovereignId(1 + Math.floor(random() * 1000));
  const roll = random();
  if (roll < 0.3) {
    return {
      eventType: 'recognition_treaty_issued',
      actor: operator,
      requestId: uuidFrom(random),
      details: {
        treaty_id: uuidFrom(random),
        issuer_sovereign_id: 'bench-authority',
        subject_sovereign_id: who,
        allowed_roles: ['role:client'],
        valid_from: '2026-01-01T00:00:00Z',
        expires_at: '2027-01-01T00:00:00Z',
        authorized_by: operatorKeyId,
      },
    };
  }
  if (roll < 0.6) {
    return {
      eventType: 'membership_attestation_revoked',
      actor: operator,
      requestId: uuidFrom(random),
      details: {
        attestation_id: uuidFrom(random),
        reason: 'affiliation_changed',
        revoked_at: '2026-02-01T00:00:00Z',
        log_index: i,
        subject_id: `member-${i}`,
      },
    };
  }
  if (roll < 0.85) {
    return {
      eventType: 'sovereign_revocation_feed_imported',
      actor: { type: 'system' },
      details: {
        issuer: who,
        sequence: 1 + (i % 500),
        feed_hash: `sha256:${'ab'.repeat(32)}`,
        status: 'imported',
        revoked_count: Math.floor(random() * 100),
        via: 'pull',
      },
    };
  }
  if (roll < 0.95) {
    return {
      eventType: 'revocation_feed_published',
      actor: { type: 'system' },
      details: { sequence: i, entry_count: Math.floor(random() * 50), trigger: 'schedule', heartbeat: false },
    };
  }
  return {
    eventType: 'admin_auth_failed',
    actor: { type: 'anonymous' },
    requestId: uuidFrom(random),
    details: { reason: 'bad_signature', method: 'POST', path: '/admin/recognition-treaties', client: '192.0.2.10' },
  };
}

/** Builds the 1M-event database in its own process. */
async function generate(dir: string): Promise<void> {
  const authority = openBenchAuthority(dir);
  const sqlite = authority.db.sqlite;
  const random = prng(6000);
  let i = 0;
  const clock = () => new Date(BENCH_NOW_MS - (EVENTS - i) * 1000);
  while (i < EVENTS) {
    sqlite.transaction(() => {
      for (let k = 0; k < 10_000 && i < EVENTS; k++, i++) appendAudit(sqlite, clock, eventFor(random, i, authority.operator.keyId));
    })();
  }
  sqlite.pragma('wal_checkpoint(TRUNCATE)');
  await authority.close();
  printJson({ events: EVENTS });
}

async function main(): Promise<void> {
  const dir = path.join(workDir(), 'audit');
  const dbPath = path.join(dir, 'accord.db');
  if (!fs.existsSync(path.join(dir, 'complete'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    log(`audit-export: writing ${count(EVENTS)} audit events through the audit writer`);
    await runJsonScript('workloads/audit-export.ts', ['generate', dir]);
    fs.writeFileSync(path.join(dir, 'complete'), '');
  }
  const output = path.join(dir, 'export.jsonl');
  const exports: ExportRun[] = [];
  const raws: ExportRun[] = [];
  for (let r = 0; r < 2; r++) {
    raws.push(await runJsonScript<ExportRun>('workloads/audit-export-run.ts', ['raw', dbPath, `${output}.raw`]));
    exports.push(await runJsonScript<ExportRun>('workloads/audit-export-run.ts', ['export', dbPath, output]));
    log(`audit-export round ${r + 1}: export ${Math.round(exports.at(-1)!.ms)} ms, raw ${Math.round(raws.at(-1)!.ms)} ms`);
  }
  const best = (runs: ExportRun[]) => runs.reduce((a, b) => (b.ms < a.ms ? b : a));
  const ex = best(exports);
  const raw = best(raws);
  // The events written here plus the authority_initialized event of the database.
  if (ex.rows !== EVENTS + 1 || raw.rows !== ex.rows || ex.bytes !== raw.bytes)
    throw new Error(`export wrote ${ex.rows} rows / ${ex.bytes} bytes, raw ${raw.rows} / ${raw.bytes}`);
  const figure = ex.rows / (ex.ms / 1000);
  const limit = raw.rows / (raw.ms / 1000);
  const ratio = figure / limit;
  const peak = Math.max(...exports.map((e) => e.peak_rss_bytes));
  emit([
    {
      workload: 'audit-export',
      size: `${count(EVENTS)} events (${round(ex.bytes / 1e6, 0)} MB JSONL)`,
      figure: `${perSecond(figure)}; peak RSS ${mb(peak)}`,
      limit: perSecond(limit),
      ratio: round(ratio),
      target: '≥ 0.6; peak RSS ≤ 150 MB',
      pass: ratio >= 0.6 && peak <= RSS_LIMIT,
      details: {
        export_ms: exports.map((e) => Math.round(e.ms)),
        raw_ms: raws.map((e) => Math.round(e.ms)),
        export_peak_rss_bytes: peak,
        runtime_baseline_rss_bytes: ex.baseline_rss_bytes,
        raw_peak_rss_bytes: raw.peak_rss_bytes,
      },
    },
  ]);
}

const mode = process.argv[2];
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  if (mode === 'generate') await generate(process.argv[3]!);
  else await main();
}
