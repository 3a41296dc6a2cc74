// audit-export streams: peak memory of the real CLI does not grow with the number of events exported.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditEventHash, type AuditEvent } from '../../src/authority/audit.ts';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { openDatabase } from '../../src/db/database.ts';
import { accord, exportEventLines, removeTempDirs, tempDir } from './helpers.ts';

const PRELOAD = path.join(import.meta.dirname, 'fixtures', 'report-max-rss.mjs');
const PAD = 'p'.repeat(2600);

/**
 * Writes `n` chained audit events straight into a fresh database. The JCS text is built from a
 * template (keys already in JCS order) because hashing a million objects through the generic
 * canonicalizer would dominate the test; the test checks the template against canonicalJson.
 */
function bigDatabase(dir: string, n: number): string {
  const file = path.join(dir, 'accord.db');
  const db = openDatabase(file);
  const meta = db.sqlite.prepare('INSERT INTO authority_meta (key, value) VALUES (?, ?)');
  meta.run('application', 'accord');
  meta.run('sovereign_id', 'memory-test');
  const insert = db.sqlite.prepare(
    'INSERT INTO audit_events (seq, event_id, event_type, occurred_at, actor_type, actor_key_id, request_id, canonical, hash) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?)',
  );
  db.sqlite.transaction(() => {
    let prev: string | null = null;
    for (let seq = 1; seq <= n; seq++) {
      const id = `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`;
      const body = `"actor":{"type":"system"},"details":{"i":${seq},"pad":"${PAD}"},"event_id":"${id}","event_type":"operator_keys_reloaded"`;
      const tail: string = `"occurred_at":"2026-03-01T00:00:00Z","prev_hash":${prev === null ? 'null' : `"${prev}"`},"seq":${seq}`;
      const hash: string = `sha256:${createHash('sha256').update(`{${body},${tail}}`).digest('hex')}`;
      insert.run(seq, id, 'operator_keys_reloaded', '2026-03-01T00:00:00Z', 'system', `{${body},"hash":"${hash}",${tail}}`, hash);
      prev = hash;
    }
  })();
  db.close();
  return file;
}

async function exportPeak(n: number): Promise<{ peakKib: number; output: string }> {
  const dir = tempDir('accord-export-mem-');
  const dbPath = bigDatabase(dir, n);
  const output = path.join(dir, 'out.jsonl');
  const result = await accord(['audit-export', '--db', dbPath, '--output', output], {
    nodeArgs: ['--max-old-space-size=64', '--import', PRELOAD],
  });
  expect(result.code).toBe(0);
  expect(JSON.parse(result.stdout)).toMatchObject({ count: n, first_seq: 1, last_seq: n });
  const peak = /max_rss_kib=(\d+)/.exec(result.stderr);
  expect(peak).not.toBeNull();
  return { peakKib: Number(peak![1]), output };
}

afterAll(removeTempDirs);

describe('audit-export memory', () => {
  it('the generated events are genuine JCS events whose hashes verify', () => {
    const dir = tempDir('accord-export-mem-');
    const db = openDatabase(bigDatabase(dir, 3), { readonly: true });
    for (const { canonical } of db.sqlite.prepare('SELECT canonical FROM audit_events').all() as Array<{ canonical: string }>) {
      const event = JSON.parse(canonical) as AuditEvent;
      expect(canonicalJson(event)).toBe(canonical);
      expect(auditEventHash(event)).toBe(event.hash);
    }
    db.close();
  });

  it('exporting 13x more events (about 100 MB more) does not raise peak memory', async () => {
    const small = await exportPeak(3_000);
    const large = await exportPeak(40_000);
    expect(fs.statSync(large.output).size).toBeGreaterThan(100 * 1024 * 1024);
    expect(exportEventLines(small.output)).toHaveLength(3_000);
    // Holding the export in memory would cost at least the file size (>100 MB, more than the 64 MB heap
    // the subprocess is allowed); streaming leaves only garbage-collector slack.
    expect(large.peakKib - small.peakKib).toBeLessThan(50 * 1024);
  });
});
