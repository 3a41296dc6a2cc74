// audit-export: each filter, byte-exact JSONL, the json format, and the signed checkpoint.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, auditEventHash, SYSTEM_ACTOR, type Actor, type AuditEvent, type AuditEventType } from '../../src/authority/audit.ts';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { sha256Hex } from '../../src/authority/crypto.ts';
import { exportAudit, type ExportFilterInput } from '../../src/ops/audit-export.ts';
import { verifyAuditExport } from '../../src/ops/audit-verify.ts';
import { buildCheckpoint, checkpointPath, parseTrustAnchor, writeCheckpoint } from '../../src/ops/checkpoint.ts';
import { exportHeaderLine } from '../../src/ops/export-format.ts';
import { testKey, type TestAuthority } from '../helpers/authority.ts';
import { exportEventLines, fileAuthority, readLines, removeTempDirs, tempDir } from './helpers.ts';

const alice = testKey('operator:alice');
const bob = testKey('operator:bob');
const ALICE: Actor = { type: 'operator', key_id: alice.keyId, label: 'alice' };
const BOB: Actor = { type: 'operator', key_id: bob.keyId, label: 'bob' };

let dir: string;
let a: TestAuthority;
let dbPath: string;
let all: AuditEvent[];

/** 60 events over 60 minutes: three types, three actors, in a fixed pattern. */
function seed(authority: TestAuthority): void {
  const types: AuditEventType[] = ['recognition_treaty_issued', 'recognition_treaty_revoked', 'operator_keys_reloaded'];
  const actors = [ALICE, BOB, SYSTEM_ACTOR];
  for (let i = 0; i < 60; i++) {
    authority.clock.advance(60);
    appendAudit(authority.db.sqlite, authority.clock, {
      eventType: types[i % 3]!,
      actor: actors[Math.floor(i / 3) % 3]!,
      details: { i, note: 'ünïcödé ✓' },
    });
  }
}

beforeAll(() => {
  dir = tempDir();
  a = fileAuthority(dir);
  dbPath = path.join(dir, 'accord.db');
  seed(a);
  all = (a.db.sqlite.prepare('SELECT canonical FROM audit_events ORDER BY seq').all() as Array<{ canonical: string }>).map(
    (r) => JSON.parse(r.canonical) as AuditEvent,
  );
});

afterAll(() => {
  a.db.close();
  removeTempDirs();
});

let n = 0;
async function exportWith(filters: ExportFilterInput, format: 'jsonl' | 'json' = 'jsonl') {
  const output = path.join(dir, `export-${n++}.${format}`);
  const summary = await exportAudit({ dbPath, output, filters, format });
  return { output, summary, seqs: format === 'jsonl' ? exportEventLines(output).map((l) => (JSON.parse(l) as AuditEvent).seq) : [] };
}

describe('audit-export filters', () => {
  const cases: Array<[string, ExportFilterInput, (e: AuditEvent) => boolean]> = [
    ['no filter: every event', {}, () => true],
    ['--event-type once', { eventTypes: ['recognition_treaty_revoked'] }, (e) => e.event_type === 'recognition_treaty_revoked'],
    [
      '--event-type repeated',
      { eventTypes: ['recognition_treaty_revoked', 'authority_initialized'] },
      (e) => ['recognition_treaty_revoked', 'authority_initialized'].includes(e.event_type),
    ],
    ['--since (inclusive)', { since: '2026-03-01T00:30:00Z' }, (e) => e.occurred_at >= '2026-03-01T00:30:00Z'],
    ['--until (exclusive)', { until: '2026-03-01T00:30:00Z' }, (e) => e.occurred_at < '2026-03-01T00:30:00Z'],
    ['--actor-key by key_id', { actorKey: alice.keyId }, (e) => e.actor.key_id === alice.keyId],
    ['--actor-key by label', { actorKey: 'bob' }, (e) => e.actor.label === 'bob'],
    ['--after-seq', { afterSeq: 42 }, (e) => e.seq > 42],
    [
      'all filters together',
      {
        eventTypes: ['recognition_treaty_issued'],
        since: '2026-03-01T00:10:00Z',
        until: '2026-03-01T00:50:00Z',
        actorKey: 'alice',
        afterSeq: 3,
      },
      (e) =>
        e.event_type === 'recognition_treaty_issued' &&
        e.occurred_at >= '2026-03-01T00:10:00Z' &&
        e.occurred_at < '2026-03-01T00:50:00Z' &&
        e.actor.label === 'alice' &&
        e.seq > 3,
    ],
  ];
  it.each(cases)('%s', async (_name, filters, predicate) => {
    const expected = all.filter(predicate).map((e) => e.seq);
    expect(expected.length).toBeGreaterThan(0);
    if (!_name.startsWith('no filter')) expect(expected.length).toBeLessThan(all.length);
    const { seqs, summary } = await exportWith(filters);
    expect(seqs).toEqual(expected);
    expect(summary).toMatchObject({
      count: expected.length,
      first_seq: expected[0],
      last_seq: expected.at(-1),
      last_hash: all.find((e) => e.seq === expected.at(-1))!.hash,
    });
  });

  it('records the filters in canonical form (event types sorted and unique)', async () => {
    const { summary } = await exportWith({
      eventTypes: ['operator_keys_reloaded', 'authority_initialized', 'operator_keys_reloaded'],
      afterSeq: 0,
    });
    expect(summary.filters).toEqual({ event_types: ['authority_initialized', 'operator_keys_reloaded'], after_seq: 0 });
  });

  it('rejects an unknown event type, a malformed timestamp and an inverted window, writing nothing', async () => {
    const output = path.join(dir, 'rejected.jsonl');
    await expect(exportAudit({ dbPath, output, filters: { eventTypes: ['no_such_event'] } })).rejects.toThrow(
      /unknown event type no_such_event/,
    );
    await expect(exportAudit({ dbPath, output, filters: { since: '2026-03-01' } })).rejects.toThrow(/RFC 3339/);
    await expect(
      exportAudit({ dbPath, output, filters: { since: '2026-03-02T00:00:00Z', until: '2026-03-01T00:00:00Z' } }),
    ).rejects.toThrow(/before/);
    expect(fs.existsSync(output)).toBe(false);
  });

  it('refuses to overwrite an existing output without force', async () => {
    const { output } = await exportWith({});
    const before = fs.readFileSync(output);
    await expect(exportAudit({ dbPath, output })).rejects.toThrow(/refusing to overwrite/);
    expect(fs.readFileSync(output)).toEqual(before);
    await expect(exportAudit({ dbPath, output, force: true })).resolves.toMatchObject({ count: all.length });
  });
});

describe('audit-export output', () => {
  it('JSONL: a header line recording the filters, then each line exactly the stored JCS event, and every line re-hashes to its hash', async () => {
    const { output, summary } = await exportWith({});
    expect(readLines(output)[0]).toBe(`{"filters":{},"sovereign_id":"${a.sovereignId}","type":"audit_export","version":2}`);
    const lines = exportEventLines(output);
    const stored = (a.db.sqlite.prepare('SELECT canonical FROM audit_events ORDER BY seq').all() as Array<{ canonical: string }>).map(
      (r) => r.canonical,
    );
    expect(lines).toEqual(stored);
    for (const line of lines) {
      const event = JSON.parse(line) as AuditEvent;
      expect(canonicalJson(event)).toBe(line);
      expect(auditEventHash(event)).toBe(event.hash);
    }
    expect(fs.readFileSync(output, 'utf8').endsWith('\n')).toBe(true);
    expect(summary.file_sha256).toBe(sha256Hex(fs.readFileSync(output)));
    expect(summary.bytes).toBe(fs.statSync(output).size);
  });

  it('json format: one document with the same events, which verifies', async () => {
    const { output, summary } = await exportWith({ eventTypes: ['recognition_treaty_issued'] }, 'json');
    const doc = JSON.parse(fs.readFileSync(output, 'utf8')) as { events: AuditEvent[] };
    expect(doc).toMatchObject({
      type: 'audit_export',
      version: 2,
      sovereign_id: a.sovereignId,
      filters: { event_types: ['recognition_treaty_issued'] },
    });
    expect(doc.events.map((e) => e.seq)).toEqual(all.filter((e) => e.event_type === 'recognition_treaty_issued').map((e) => e.seq));
    expect(doc.events.map((e) => canonicalJson(e))).toEqual(
      doc.events.map((e) => all.find((x) => x.seq === e.seq)).map((e) => canonicalJson(e)),
    );
    const report = await verifyAuditExport(output);
    expect(report).toMatchObject({ ok: true, format: 'json', count: summary.count, file_sha256: summary.file_sha256 });
  });

  it('an empty result is still a valid export in both formats', async () => {
    const jsonl = await exportWith({ afterSeq: 10_000 });
    expect(fs.readFileSync(jsonl.output, 'utf8')).toBe(
      `${exportHeaderLine('jsonl', { sovereign_id: a.sovereignId, filters: { after_seq: 10_000 } })}\n`,
    );
    expect(jsonl.summary).toMatchObject({ count: 0, first_seq: null, last_seq: null, last_hash: null });
    const json = await exportWith({ afterSeq: 10_000 }, 'json');
    expect(JSON.parse(fs.readFileSync(json.output, 'utf8'))).toEqual({
      type: 'audit_export',
      version: 2,
      sovereign_id: a.sovereignId,
      filters: { after_seq: 10_000 },
      events: [],
    });
    await expect(verifyAuditExport(json.output)).resolves.toMatchObject({ ok: true, count: 0 });
  });
});

describe('signed checkpoint', () => {
  async function signedExport(filters: ExportFilterInput = {}) {
    const { output, summary } = await exportWith(filters);
    const file = writeCheckpoint(output, buildCheckpoint(summary, a.signingKey, a.clock()));
    return { output, file };
  }
  const trusted = () => [parseTrustAnchor(a.signingKey.publicKey)];

  it('verifies with the authority key given as a public key or as a key_id pin', async () => {
    const { output, file } = await signedExport();
    expect(file).toBe(checkpointPath(output));
    const byKey = await verifyAuditExport(output, { checkpointFile: file, anchors: trusted() });
    expect(byKey.failures).toEqual([]);
    expect(byKey).toMatchObject({
      ok: true,
      checkpoint: { signature: { status: 'valid', trusted_by: 'public_key' }, file_sha256_matches: true },
    });
    const byId = await verifyAuditExport(output, { checkpointFile: file, anchors: [parseTrustAnchor(a.signingKey.keyId)] });
    expect(byId).toMatchObject({ ok: true, checkpoint: { signature: { status: 'valid', trusted_by: 'key_id' } } });
  });

  it('never trusts the key the checkpoint carries by itself', async () => {
    const { output, file } = await signedExport();
    const none = await verifyAuditExport(output, { checkpointFile: file });
    expect(none.ok).toBe(false);
    expect(none.checkpoint!.signature.status).toBe('untrusted_key');
    const other = await verifyAuditExport(output, { checkpointFile: file, anchors: [parseTrustAnchor(testKey('someone-else').publicKey)] });
    expect(other.ok).toBe(false);
    expect(other.checkpoint!.signature.status).toBe('untrusted_key');
  });

  it('fails when the exported file is altered (one byte) even though each event still verifies', async () => {
    const { output, file } = await signedExport({ eventTypes: ['recognition_treaty_revoked'] });
    const lines = readLines(output);
    fs.writeFileSync(output, `${lines.slice(0, -1).join('\n')}\n`);
    const report = await verifyAuditExport(output, { checkpointFile: file, anchors: trusted() });
    expect(report.ok).toBe(false);
    expect(report.breaks).toEqual([]);
    expect(report.checkpoint).toMatchObject({
      file_sha256_matches: false,
      mismatched_fields: expect.arrayContaining(['count', 'last_seq', 'last_hash']),
    });
  });

  it('fails when the checkpoint is altered (its signature no longer verifies)', async () => {
    const { output, file } = await signedExport();
    const checkpoint = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(file, JSON.stringify({ ...checkpoint, count: (checkpoint.count as number) - 1 }));
    const report = await verifyAuditExport(output, { checkpointFile: file, anchors: trusted() });
    expect(report.ok).toBe(false);
    expect(report.checkpoint!.signature.status).toBe('invalid');
    expect(report.failures.join('\n')).toMatch(/signature does not verify/);
  });

  it('fails when a checkpoint of another sovereign is checked against this authority', async () => {
    const { output, file } = await signedExport();
    const report = await verifyAuditExport(output, {
      checkpointFile: file,
      anchors: [{ ...parseTrustAnchor(a.signingKey.publicKey), source: 'well_known', sovereignId: 'someone-else' }],
    });
    expect(report.ok).toBe(false);
    expect(report.checkpoint!.signature.status).toBe('sovereign_mismatch');
  });
});
