// audit-verify: tampered, deleted and reordered lines are failures with the seq; filter gaps are not.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, SYSTEM_ACTOR, type AuditEvent } from '../../src/authority/audit.ts';
import { exportAudit } from '../../src/ops/audit-export.ts';
import { verifyAuditExport } from '../../src/ops/audit-verify.ts';
import { buildCheckpoint, parseTrustAnchor, writeCheckpoint } from '../../src/ops/checkpoint.ts';
import { seedFor, type TestAuthority } from '../helpers/authority.ts';
import { accord, fileAuthority, readLines, removeTempDirs, tempDir } from './helpers.ts';

let dir: string;
let a: TestAuthority;
let full: string;
let n = 0;

beforeAll(async () => {
  dir = tempDir();
  a = fileAuthority(dir);
  for (let i = 0; i < 20; i++) {
    a.clock.advance(30);
    appendAudit(a.db.sqlite, a.clock, { eventType: i % 4 === 0 ? 'peer_registered' : 'operator_keys_reloaded', actor: SYSTEM_ACTOR, details: { i } });
  }
  full = path.join(dir, 'full.jsonl');
  await exportAudit({ dbPath: path.join(dir, 'accord.db'), output: full });
});

afterAll(() => {
  a.db.close();
  removeTempDirs();
});

/** A copy of the full export with its lines changed by `edit`. */
function variant(edit: (lines: string[]) => string[]): string {
  const file = path.join(dir, `variant-${n++}.jsonl`);
  fs.writeFileSync(file, `${edit(readLines(full)).join('\n')}\n`);
  return file;
}

describe('audit-verify', () => {
  it('accepts an intact export', async () => {
    const report = await verifyAuditExport(full, { complete: true });
    expect(report).toMatchObject({ ok: true, count: 21, first_seq: 1, last_seq: 21, gaps: { count: 0 }, breaks: [], failures: [] });
  });

  it('a tampered line fails with its seq (hash mismatch)', async () => {
    const file = variant((lines) => lines.map((l, i) => (i === 6 ? l.replace('"i":5', '"i":500') : l)));
    const report = await verifyAuditExport(file);
    expect(report.ok).toBe(false);
    expect(report.breaks).toContainEqual(expect.objectContaining({ seq: 7, line: 7, reason: 'hash_mismatch' }));
    expect(report.failures[0]).toMatch(/^seq 7 \(line 7\): hash mismatch/);
  });

  it('a tampered line whose hash was recomputed breaks the next link', async () => {
    const file = variant((lines) =>
      lines.map((l, i) => {
        if (i !== 6) return l;
        const e = JSON.parse(l) as AuditEvent;
        e.details = { i: 500 };
        return l.replace(/"hash":"[^"]+"/, `"hash":"sha256:${'0'.repeat(64)}"`).replace('"i":5', '"i":500');
      }),
    );
    const report = await verifyAuditExport(file);
    expect(report.ok).toBe(false);
    expect(report.breaks.map((b) => [b.seq, b.reason])).toEqual(expect.arrayContaining([[7, 'hash_mismatch'], [8, 'prev_hash_mismatch']]));
  });

  it('a deleted line: a gap without context, a failure for a complete export or an unfiltered checkpoint', async () => {
    const file = variant((lines) => lines.filter((_, i) => i !== 9));
    const loose = await verifyAuditExport(file);
    expect(loose).toMatchObject({ ok: true, gaps: { count: 1, first: [{ after_seq: 9, next_seq: 11 }] } });
    const strict = await verifyAuditExport(file, { complete: true });
    expect(strict.ok).toBe(false);
    expect(strict.breaks).toContainEqual(expect.objectContaining({ seq: 11, reason: 'missing_events' }));

    // The checkpoint of the unfiltered export says no event may be missing.
    const output = path.join(dir, 'signed-full.jsonl');
    const summary = await exportAudit({ dbPath: path.join(dir, 'accord.db'), output });
    const checkpoint = writeCheckpoint(output, buildCheckpoint(summary, a.signingKey, a.clock()));
    fs.writeFileSync(output, `${readLines(output).filter((_, i) => i !== 9).join('\n')}\n`);
    const signed = await verifyAuditExport(output, { checkpointFile: checkpoint, anchors: [parseTrustAnchor(a.signingKey.publicKey)] });
    expect(signed.ok).toBe(false);
    expect(signed.breaks).toContainEqual(expect.objectContaining({ seq: 11, reason: 'missing_events' }));
  });

  it('deleting the first line of a complete export is caught', async () => {
    const file = variant((lines) => lines.slice(1));
    const report = await verifyAuditExport(file, { complete: true });
    expect(report.ok).toBe(false);
    expect(report.breaks).toContainEqual(expect.objectContaining({ seq: 2, reason: 'missing_events' }));
  });

  it('reordered lines fail (seq not increasing)', async () => {
    const file = variant((lines) => {
      const copy = [...lines];
      [copy[4], copy[5]] = [copy[5]!, copy[4]!];
      return copy;
    });
    const report = await verifyAuditExport(file);
    expect(report.ok).toBe(false);
    expect(report.breaks).toContainEqual(expect.objectContaining({ seq: 5, line: 6, reason: 'seq_not_increasing' }));
  });

  it('a line that is not JSON fails as malformed', async () => {
    const file = variant((lines) => lines.map((l, i) => (i === 3 ? l.slice(0, 40) : l)));
    const report = await verifyAuditExport(file);
    expect(report.ok).toBe(false);
    expect(report.breaks).toContainEqual(expect.objectContaining({ line: 4, reason: 'malformed_event' }));
  });

  it('gaps from a filter are reported, not failures, and the signed checkpoint of that filter verifies', async () => {
    const output = path.join(dir, 'filtered.jsonl');
    const summary = await exportAudit({ dbPath: path.join(dir, 'accord.db'), output, filters: { eventTypes: ['peer_registered'] } });
    const checkpoint = writeCheckpoint(output, buildCheckpoint(summary, a.signingKey, a.clock()));
    const report = await verifyAuditExport(output, { checkpointFile: checkpoint, anchors: [parseTrustAnchor(a.signingKey.publicKey)] });
    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({ ok: true, count: 5, gaps: { count: 4 } });
    expect(report.gaps.first[0]).toEqual({ after_seq: 2, next_seq: 6 });
  });

  it('an --after-seq export with a gap in the middle is a deletion', async () => {
    const output = path.join(dir, 'after.jsonl');
    const summary = await exportAudit({ dbPath: path.join(dir, 'accord.db'), output, filters: { afterSeq: 10 } });
    const checkpoint = writeCheckpoint(output, buildCheckpoint(summary, a.signingKey, a.clock()));
    const anchors = [parseTrustAnchor(a.signingKey.publicKey)];
    await expect(verifyAuditExport(output, { checkpointFile: checkpoint, anchors })).resolves.toMatchObject({ ok: true, first_seq: 11 });
    const lines = readLines(output);
    fs.writeFileSync(output, `${lines.filter((_, i) => i !== 3).join('\n')}\n`);
    const report = await verifyAuditExport(output, { checkpointFile: checkpoint, anchors });
    expect(report.ok).toBe(false);
    expect(report.failures.join('\n')).toMatch(/events were deleted/);
  });

  it('a truncated json export fails', async () => {
    const output = path.join(dir, 'cut.json');
    await exportAudit({ dbPath: path.join(dir, 'accord.db'), output, format: 'json' });
    const text = fs.readFileSync(output, 'utf8');
    fs.writeFileSync(output, text.slice(0, text.lastIndexOf(']}')));
    await expect(verifyAuditExport(output)).rejects.toThrow(/truncated/);
  });
});

describe('accord audit-export / audit-verify (subprocess)', () => {
  it('exports a signed file, verifies it (exit 0), and exits non-zero on a tampered line', async () => {
    const env = { ACCORD_DATA_DIR: dir };
    const keyFile = path.join(dir, 'signing.json');
    fs.writeFileSync(keyFile, JSON.stringify({ type: 'accord-signing-key', seed: Buffer.from(seedOf()).toString('base64'), public_key: a.signingKey.publicKey, key_id: a.signingKey.keyId, created_at: '2026-03-01T00:00:00Z' }), { mode: 0o600 });
    const output = path.join(dir, 'cli.jsonl');
    const exported = await accord(['audit-export', '--db', path.join(dir, 'accord.db'), '--output', output, '--signed', '--signing-key', keyFile, '--event-type', 'peer_registered', '--event-type', 'authority_initialized'], { env });
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    const summary = JSON.parse(exported.stdout);
    expect(summary).toMatchObject({ count: 6, first_seq: 1, checkpoint: `${output}.checkpoint.json`, signed_by: a.signingKey.keyId });

    const ok = await accord(['audit-verify', output, '--checkpoint', `${output}.checkpoint.json`, '--public-key', a.signingKey.publicKey], { env });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, count: 6, checkpoint: { signature: { status: 'valid' } } });

    fs.writeFileSync(output, fs.readFileSync(output, 'utf8').replace('"i":4', '"i":44'));
    const bad = await accord(['audit-verify', output, '--checkpoint', `${output}.checkpoint.json`, '--public-key', a.signingKey.publicKey], { env });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/audit verification failed: .*seq 6 \(line 3\): hash mismatch/);
  });
});

function seedOf(): Buffer {
  // The test authority's signing key comes from a deterministic seed (see test/helpers/authority.ts).
  return seedFor(`authority:${a.sovereignId}`);
}
