// audit-verify: tampered, deleted and reordered lines are failures with the seq; only gaps the export's own filters explain are not.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, SYSTEM_ACTOR, type AuditEvent } from '../../src/authority/audit.ts';
import { exportAudit } from '../../src/ops/audit-export.ts';
import { verifyAuditExport } from '../../src/ops/audit-verify.ts';
import { buildCheckpoint, parseTrustAnchor, writeCheckpoint } from '../../src/ops/checkpoint.ts';
import { exportHeaderLine } from '../../src/ops/export-format.ts';
import { seedFor, type TestAuthority } from '../helpers/authority.ts';
import { accord, exportEventLines, fileAuthority, readLines, removeTempDirs, tempDir } from './helpers.ts';

let dir: string;
let a: TestAuthority;
let full: string;
let n = 0;

beforeAll(async () => {
  dir = tempDir();
  a = fileAuthority(dir);
  for (let i = 0; i < 20; i++) {
    a.clock.advance(30);
    appendAudit(a.db.sqlite, a.clock, {
      eventType: i % 4 === 0 ? 'peer_registered' : 'operator_keys_reloaded',
      actor: SYSTEM_ACTOR,
      details: { i },
    });
  }
  full = path.join(dir, 'full.jsonl');
  await exportAudit({ dbPath: path.join(dir, 'accord.db'), output: full });
});

afterAll(() => {
  a.db.close();
  removeTempDirs();
});

/** A copy of the full export with its event lines changed by `edit` (the header line kept, unless `header` is false). Event i is seq i + 1, on line i + 2. */
function variant(edit: (lines: string[]) => string[], options: { header?: boolean; from?: string } = {}): string {
  const source = options.from ?? full;
  const file = path.join(dir, `variant-${n++}.jsonl`);
  const [header] = readLines(source);
  fs.writeFileSync(file, `${[...(options.header === false ? [] : [header!]), ...edit(exportEventLines(source))].join('\n')}\n`);
  return file;
}

describe('audit-verify', () => {
  it('accepts an intact export', async () => {
    for (const options of [{}, { complete: true }]) {
      const report = await verifyAuditExport(full, options);
      expect(report).toMatchObject({ ok: true, count: 21, first_seq: 1, last_seq: 21, gaps: { count: 0 }, breaks: [], failures: [] });
      expect(report).toMatchObject({
        header: { type: 'audit_export', version: 2, sovereign_id: a.sovereignId, filters: {} },
        filters: { source: 'header', value: {} },
      });
    }
  });

  it('a tampered line fails with its seq (hash mismatch)', async () => {
    const file = variant((lines) => lines.map((l, i) => (i === 6 ? l.replace('"i":5', '"i":500') : l)));
    const report = await verifyAuditExport(file);
    expect(report.ok).toBe(false);
    expect(report.breaks).toContainEqual(expect.objectContaining({ seq: 7, line: 8, reason: 'hash_mismatch' }));
    expect(report.failures[0]).toMatch(/^seq 7 \(line 8\): hash mismatch/);
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
    expect(report.breaks.map((b) => [b.seq, b.reason])).toEqual(
      expect.arrayContaining([
        [7, 'hash_mismatch'],
        [8, 'prev_hash_mismatch'],
      ]),
    );
  });

  it('a deleted line in an unfiltered export fails, by its own header (no option, no checkpoint needed)', async () => {
    const file = variant((lines) => lines.filter((_, i) => i !== 9));
    for (const options of [{}, { complete: true }]) {
      const report = await verifyAuditExport(file, options);
      expect(report.ok).toBe(false);
      expect(report.breaks).toContainEqual(expect.objectContaining({ seq: 11, line: 11, reason: 'missing_events' }));
    }

    // The checkpoint of the unfiltered export says so too.
    const output = path.join(dir, 'signed-full.jsonl');
    const summary = await exportAudit({ dbPath: path.join(dir, 'accord.db'), output });
    const checkpoint = writeCheckpoint(output, buildCheckpoint(summary, a.signingKey, a.clock()));
    const [header, ...events] = readLines(output);
    fs.writeFileSync(output, `${[header, ...events.filter((_, i) => i !== 9)].join('\n')}\n`);
    const signed = await verifyAuditExport(output, { checkpointFile: checkpoint, anchors: [parseTrustAnchor(a.signingKey.publicKey)] });
    expect(signed.ok).toBe(false);
    expect(signed.breaks).toContainEqual(expect.objectContaining({ seq: 11, reason: 'missing_events' }));
  });

  it('a file without a header (written before exports had one): a gap fails unless its checkpoint or --allow-gaps explains it', async () => {
    const file = variant((lines) => lines.filter((_, i) => i !== 9), { header: false });
    const strict = await verifyAuditExport(file);
    expect(strict).toMatchObject({ ok: false, header: null, filters: { source: 'none', value: null }, gaps: { count: 1 } });
    expect(strict.failures).toEqual([
      expect.stringMatching(/^1 gap\(s\) \(first after seq 9, next 11\) but the export records no filters .*: events were deleted$/),
    ]);
    const allowed = await verifyAuditExport(file, { allowGaps: true });
    expect(allowed).toMatchObject({ ok: true, failures: [], gaps: { count: 1, first: [{ after_seq: 9, next_seq: 11 }] } });
    // Intact, it verifies as before, with its line numbers.
    const intact = variant((lines) => lines, { header: false });
    await expect(verifyAuditExport(intact)).resolves.toMatchObject({ ok: true, count: 21, header: null });
    const tampered = variant((lines) => lines.map((l, i) => (i === 6 ? l.replace('"i":5', '"i":500') : l)), { header: false });
    expect((await verifyAuditExport(tampered)).failures[0]).toMatch(/^seq 7 \(line 7\): hash mismatch/);
  });

  it('a header forged to claim a filter does not excuse a deletion: the events must match the filters they claim', async () => {
    const forgedHeader = exportHeaderLine('jsonl', { sovereign_id: a.sovereignId, filters: { event_types: ['operator_keys_reloaded'] } });
    const file = path.join(dir, `variant-${n++}.jsonl`);
    fs.writeFileSync(file, `${[forgedHeader, ...exportEventLines(full).filter((_, i) => i !== 9)].join('\n')}\n`);
    const report = await verifyAuditExport(file);
    expect(report.ok).toBe(false);
    expect(report.failures).toContainEqual(
      expect.stringMatching(
        /^seq 1 \(line 2\): outside the export's filters \(event_type "authority_initialized" is not among the filtered types\)$/,
      ),
    );
    expect(report.failures).toContainEqual(
      expect.stringMatching(/^seq 2 \(line 3\): outside the export's filters \(event_type "peer_registered"/),
    );
  });

  it('a malformed header is refused', async () => {
    const file = path.join(dir, `variant-${n++}.jsonl`);
    fs.writeFileSync(
      file,
      `${JSON.stringify({ type: 'audit_export', version: 2, sovereign_id: a.sovereignId, filters: { event_type: 'x' } })}\n${exportEventLines(full).join('\n')}\n`,
    );
    await expect(verifyAuditExport(file)).rejects.toThrow(/line 1: the export header is malformed: filters/);
  });

  it('deleting the first line of a complete export is caught', async () => {
    const file = variant((lines) => lines.slice(1));
    for (const options of [{}, { complete: true }]) {
      const report = await verifyAuditExport(file, options);
      expect(report.ok).toBe(false);
      expect(report.breaks).toContainEqual(expect.objectContaining({ seq: 2, line: 2, reason: 'missing_events' }));
    }
  });

  it('reordered lines fail (seq not increasing)', async () => {
    const file = variant((lines) => {
      const copy = [...lines];
      [copy[4], copy[5]] = [copy[5]!, copy[4]!];
      return copy;
    });
    const report = await verifyAuditExport(file);
    expect(report.ok).toBe(false);
    expect(report.breaks).toContainEqual(expect.objectContaining({ seq: 5, line: 7, reason: 'seq_not_increasing' }));
  });

  it('a line that is not JSON fails as malformed', async () => {
    const file = variant((lines) => lines.map((l, i) => (i === 3 ? l.slice(0, 40) : l)));
    const report = await verifyAuditExport(file);
    expect(report.ok).toBe(false);
    expect(report.breaks).toContainEqual(expect.objectContaining({ line: 5, reason: 'malformed_event' }));
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

  it('an --after-seq export with a gap in the middle, or without its first events, is a deletion (by its header alone)', async () => {
    const output = path.join(dir, 'after.jsonl');
    const summary = await exportAudit({ dbPath: path.join(dir, 'accord.db'), output, filters: { afterSeq: 10 } });
    const checkpoint = writeCheckpoint(output, buildCheckpoint(summary, a.signingKey, a.clock()));
    const anchors = [parseTrustAnchor(a.signingKey.publicKey)];
    await expect(verifyAuditExport(output, { checkpointFile: checkpoint, anchors })).resolves.toMatchObject({ ok: true, first_seq: 11 });
    await expect(verifyAuditExport(output)).resolves.toMatchObject({
      ok: true,
      first_seq: 11,
      filters: { source: 'header', value: { after_seq: 10 } },
    });
    const middle = variant((lines) => lines.filter((_, i) => i !== 3), { from: output });
    const report = await verifyAuditExport(middle);
    expect(report.ok).toBe(false);
    expect(report.failures).toEqual([
      expect.stringMatching(
        /^1 gap\(s\) \(first after seq 13, next 15\) but its only filter, --after-seq, cannot skip events: events were deleted$/,
      ),
    ]);
    const start = variant((lines) => lines.slice(1), { from: output });
    expect((await verifyAuditExport(start)).failures).toEqual([
      'the export starts at seq 12 but --after-seq 10 means it must start at 11: events were deleted',
    ]);
  });

  it('json format: a deleted line in an unfiltered export fails too', async () => {
    const output = path.join(dir, 'full.json');
    await exportAudit({ dbPath: path.join(dir, 'accord.db'), output, format: 'json' });
    await expect(verifyAuditExport(output)).resolves.toMatchObject({ ok: true, format: 'json', count: 21 });
    const lines = readLines(output);
    fs.writeFileSync(output, `${lines.filter((_, i) => i !== 10).join('\n')}\n`);
    const report = await verifyAuditExport(output);
    expect(report.ok).toBe(false);
    expect(report.breaks).toContainEqual(expect.objectContaining({ seq: 11, line: 11, reason: 'missing_events' }));
  });

  it('with the wrong checkpoint, the checkpoint mismatch is the first failure (not missing events)', async () => {
    const filtered = path.join(dir, 'mixed-filtered.jsonl');
    await exportAudit({ dbPath: path.join(dir, 'accord.db'), output: filtered, filters: { eventTypes: ['peer_registered'] } });
    const other = path.join(dir, 'mixed-full.jsonl');
    const otherCheckpoint = writeCheckpoint(
      other,
      buildCheckpoint(await exportAudit({ dbPath: path.join(dir, 'accord.db'), output: other }), a.signingKey, a.clock()),
    );
    const anchors = [parseTrustAnchor(a.signingKey.publicKey)];
    const report = await verifyAuditExport(filtered, { checkpointFile: otherCheckpoint, anchors });
    expect(report.ok).toBe(false);
    expect(report.failures[0]).toBe('checkpoint: file_sha256 does not match the file (the file was altered or is not the one exported)');
    expect(report.failures).toContain('checkpoint: filters is {} but the file has {"event_types":["peer_registered"]}');
    expect(report.failures.findIndex((f) => /missing events/.test(f))).toBe(-1);
    // A file without a header takes its filters from the checkpoint: still the mismatch first, then what follows from it.
    const legacy = variant((lines) => lines, { header: false, from: filtered });
    const legacyReport = await verifyAuditExport(legacy, { checkpointFile: otherCheckpoint, anchors });
    expect(legacyReport.failures[0]).toMatch(/^checkpoint: file_sha256 does not match/);
    expect(legacyReport.failures.findIndex((f) => /missing events/.test(f))).toBeGreaterThan(
      legacyReport.failures.findIndex((f) => /^checkpoint: count/.test(f)),
    );
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
    fs.writeFileSync(
      keyFile,
      JSON.stringify({
        type: 'accord-signing-key',
        seed: Buffer.from(seedOf()).toString('base64'),
        public_key: a.signingKey.publicKey,
        key_id: a.signingKey.keyId,
        created_at: '2026-03-01T00:00:00Z',
      }),
      { mode: 0o600 },
    );
    const output = path.join(dir, 'cli.jsonl');
    const exported = await accord(
      [
        'audit-export',
        '--db',
        path.join(dir, 'accord.db'),
        '--output',
        output,
        '--signed',
        '--signing-key',
        keyFile,
        '--event-type',
        'peer_registered',
        '--event-type',
        'authority_initialized',
      ],
      { env },
    );
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    const summary = JSON.parse(exported.stdout);
    expect(summary).toMatchObject({ count: 6, first_seq: 1, checkpoint: `${output}.checkpoint.json`, signed_by: a.signingKey.keyId });

    const ok = await accord(['audit-verify', output, '--checkpoint', `${output}.checkpoint.json`, '--public-key', a.signingKey.publicKey], {
      env,
    });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, count: 6, checkpoint: { signature: { status: 'valid' } } });

    fs.writeFileSync(output, fs.readFileSync(output, 'utf8').replace('"i":4', '"i":44'));
    const bad = await accord(
      ['audit-verify', output, '--checkpoint', `${output}.checkpoint.json`, '--public-key', a.signingKey.publicKey],
      { env },
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(
      /^accord: audit verification failed: 2 problem\(s\); first: checkpoint: file_sha256 does not match the file/,
    );
    expect(JSON.parse(bad.stdout).failures[1]).toMatch(/^seq 6 \(line 4\): hash mismatch/);
  });

  it('an unfiltered export with a middle line deleted (sed 10d): exit 1, with no option and no checkpoint', async () => {
    const output = path.join(dir, 'cli-full.jsonl');
    expect((await accord(['audit-export', '--db', path.join(dir, 'accord.db'), '--output', output])).code).toBe(0);
    expect((await accord(['audit-verify', output])).code).toBe(0);
    fs.writeFileSync(
      output,
      `${readLines(output)
        .filter((_, i) => i !== 9)
        .join('\n')}\n`,
    );
    const result = await accord(['audit-verify', output]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^accord: audit verification failed: 1 problem\(s\); first: seq 10 \(line 10\): missing events\n$/);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, header: { filters: {} } });
  });
});

function seedOf(): Buffer {
  // The test authority's signing key comes from a deterministic seed (see test/helpers/authority.ts).
  return seedFor(`authority:${a.sovereignId}`);
}
