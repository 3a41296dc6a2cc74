// `accord audit-verify --checkpoint-note`: an export must reach the audit head a signed log checkpoint commits to, so head truncation and rewrites show.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, auditEventHash, SYSTEM_ACTOR, type AuditEvent } from '../../src/authority/audit.ts';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { signingKeyFromSeed } from '../../src/authority/crypto.ts';
import { parseCheckpoint } from '../../src/transparency/checkpoint.ts';
import { formatVerifierKey, parseNote, signNote } from '../../src/authority/signed-note.ts';
import { seedFor, type TestAuthority } from '../helpers/authority.ts';
import { openDatabase } from '../../src/db/database.ts';
import { exportAudit } from '../../src/ops/audit-export.ts';
import { verifyAuditExport } from '../../src/ops/audit-verify.ts';
import { parseTrustAnchor } from '../../src/ops/checkpoint.ts';
import { accord, fileAuthority, readLines, removeTempDirs, tempDir } from '../ops/helpers.ts';
import { publishAtSizes, vkeyOf } from './helpers.ts';

let dir: string;
let a: TestAuthority;
let dbPath: string;
let noteFile: string;
let vkey: string;
let headSeq: number;
let full: string;
let n = 0;

beforeAll(async () => {
  dir = tempDir('accord-anchor-');
  dbPath = path.join(dir, 'accord.db');
  a = fileAuthority(dir, { sovereignId: 'anchor.example' });
  publishAtSizes(a, [5, 9]);
  // The checkpoint an auditor (or witness) keeps outside the authority.
  noteFile = path.join(dir, 'checkpoint.note');
  fs.writeFileSync(noteFile, Buffer.from(await (await a.app.request('/log/checkpoint')).arrayBuffer()));
  vkey = vkeyOf(a);
  headSeq = parseCheckpoint((parseNote(fs.readFileSync(noteFile, 'utf8')) as { text: string }).text)!.auditHead!.seq;
  // Events after the checkpoint: not anchored by it, and no reason for failure.
  for (let i = 0; i < 3; i++)
    appendAudit(a.db.sqlite, a.clock, { eventType: 'operator_keys_reloaded', actor: SYSTEM_ACTOR, details: { i } });
  full = path.join(dir, 'full.jsonl');
  const exported = await accord(['audit-export', '--db', dbPath, '--output', full]);
  expect(exported.code, exported.stderr).toBe(0);
});

afterAll(() => {
  a.db.close();
  removeTempDirs();
});

function variant(edit: (lines: string[]) => string[]): string {
  const file = path.join(dir, `variant-${n++}.jsonl`);
  fs.writeFileSync(file, `${edit(readLines(full)).join('\n')}\n`);
  return file;
}

/** In-process verification (the CLI runs above show the same report reaches the command line). */
function verifyHere(file: string, note: string, noteKeys: string[], publicKeys: string[] = []) {
  return verifyAuditExport(file, { checkpointNote: { file: note, noteKeys }, anchors: publicKeys.map(parseTrustAnchor) });
}

async function verify(file: string, ...args: string[]) {
  const result = await accord(['audit-verify', file, ...args]);
  return {
    ...result,
    report: result.stdout
      ? (JSON.parse(result.stdout) as { ok: boolean; failures: string[]; checkpoint_note?: Record<string, unknown> })
      : null,
  };
}

describe('audit-verify --checkpoint-note', () => {
  it('an intact export reaches the checkpoint’s audit head with the same event', async () => {
    const result = await verify(full, '--checkpoint-note', noteFile, '--note-key', vkey);
    expect(result.code, result.stderr).toBe(0);
    expect(result.report).toMatchObject({
      ok: true,
      checkpoint_note: {
        signature: { status: 'valid' },
        origin: 'anchor.example/log',
        size: 9,
        audit_head: { seq: headSeq },
        audit_head_matches: true,
      },
    });
  });

  it('the authority’s raw public key (--public-key) is trusted like its vkey', async () => {
    expect(await verifyHere(full, noteFile, [], [a.signingKey.publicKey])).toMatchObject({
      ok: true,
      checkpoint_note: { audit_head_matches: true },
    });
  });

  it('audit events deleted at the head of the database: the export ends before the audit head, and verification fails', async () => {
    const copyDir = tempDir('accord-anchor-');
    const copy = path.join(copyDir, 'accord.db');
    a.db.sqlite.prepare('VACUUM INTO ?').run(copy);
    const db = openDatabase(copy);
    db.sqlite.prepare('DELETE FROM audit_events WHERE seq >= ?').run(headSeq - 1);
    db.close();
    const truncated = path.join(copyDir, 'truncated.jsonl');
    expect((await accord(['audit-export', '--db', copy, '--output', truncated])).code).toBe(0);
    // The chain alone cannot tell.
    expect((await verify(truncated, '--complete')).code).toBe(0);
    const result = await verify(truncated, '--complete', '--checkpoint-note', noteFile, '--note-key', vkey);
    expect(result.code).not.toBe(0);
    expect(result.report!.failures).toEqual([
      `the export ends at seq ${headSeq - 2}, before the checkpoint's audit head ${headSeq}: newer events were deleted, or the export is cut short`,
    ]);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a rewritten history with every hash recomputed: the event at the audit head differs', async () => {
    const file = variant((lines) => {
      let prev: string | null = null;
      return lines.map((line) => {
        const event = JSON.parse(line) as AuditEvent;
        if (event.seq === headSeq - 1) event.details = { ...event.details, rewritten: true };
        if (event.seq >= headSeq - 1) {
          event.prev_hash = prev;
          event.hash = auditEventHash(event);
        }
        prev = event.hash;
        return canonicalJson(event);
      });
    });
    expect((await verifyAuditExport(file, { complete: true })).ok).toBe(true);
    const report = await verifyHere(file, noteFile, [vkey]);
    expect(report.failures).toEqual([
      `audit event ${headSeq} is not the one the checkpoint committed to (the audit history was rewritten)`,
    ]);
  });

  it('a filtered export without the audit-head event cannot be checked against it', async () => {
    const file = path.join(dir, 'filtered.jsonl');
    await exportAudit({ dbPath, output: file, filters: { eventTypes: ['authority_initialized', 'operator_keys_reloaded'] } });
    const report = await verifyHere(file, noteFile, [vkey]);
    expect(report.failures).toEqual([`the export does not contain event ${headSeq} (filtered out?); check an unfiltered export`]);
  });

  it('a checkpoint signed by another key, or altered, or with no trusted key given, is a failure', async () => {
    const impostor = signingKeyFromSeed(seedFor('anchor-impostor'));
    const note = fs.readFileSync(noteFile, 'utf8');
    const text = (parseNote(note) as { text: string }).text;
    const cases: Array<[string, string[], RegExp]> = [
      [
        signNote(text.replace(/accord-audit-head \d+/, 'accord-audit-head 1'), 'anchor.example/log', [impostor]),
        [vkey],
        /^checkpoint note: not signed by a trusted key$/,
      ],
      [
        note.replace(/accord-audit-head \d+/, `accord-audit-head ${headSeq - 1}`),
        [vkey],
        /^checkpoint note: the signature of anchor\.example\/log\+[0-9a-f]{8} does not verify$/,
      ],
      [note, [], /^checkpoint note: no trusted key given/],
      [note, [formatVerifierKey('anchor.example/log', impostor.raw)], /^checkpoint note: not signed by a trusted key$/],
      ['not a note\n', [vkey], /^checkpoint note: not a well-formed signed note$/],
    ];
    for (const [content, keys, failure] of cases) {
      const file = path.join(dir, `note-${n++}`);
      fs.writeFileSync(file, content);
      const report = await verifyHere(full, file, keys);
      expect(report.ok, content).toBe(false);
      expect(report.failures[0], content).toMatch(failure);
    }
  });

  it('a malformed --note-key, or --note-key alone, is refused with one line', async () => {
    const bad = await verify(full, '--checkpoint-note', noteFile, '--note-key', 'anchor.example/log+00000000+AAAA');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(/^accord: --note-key "anchor\.example\/log\+00000000\+AAAA" is not an Ed25519 note verifier key/);
    const alone = await verify(full, '--note-key', vkey);
    expect(alone.code).not.toBe(0);
    expect(alone.stderr.trim()).toBe('accord: --note-key only applies with --checkpoint-note');
  });
});
