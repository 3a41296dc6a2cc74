// Large outputs: the audit export's buffered writer across many buffer boundaries (multi-byte text,
// an event larger than a buffer), and the file hashes of the backup (worker thread) and of restore.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, SYSTEM_ACTOR } from '../../src/authority/audit.ts';
import { sha256Hex } from '../../src/authority/crypto.ts';
import { exportAudit } from '../../src/ops/audit-export.ts';
import { exportHeaderLine, JSON_FORMAT_CLOSE } from '../../src/ops/export-format.ts';
import { sha256AndSyncInWorker, sha256File } from '../../src/ops/files.ts';
import type { TestAuthority } from '../helpers/authority.ts';
import { fileAuthority, removeTempDirs, tempDir } from './helpers.ts';

/** 1, 2, 3 and 4 UTF-8 bytes per character (the last one a surrogate pair in UTF-16). */
const MIXED = 'aé✓😀';

let dir: string;
let a: TestAuthority;
let dbPath: string;
let canonicals: string[];

beforeAll(() => {
  dir = tempDir();
  a = fileAuthority(dir);
  dbPath = path.join(dir, 'accord.db');
  for (let i = 0; i < 700; i++) {
    a.clock.advance(1);
    // Varying lengths, so buffer boundaries fall at different places within characters and events.
    const note = i === 350 ? MIXED.repeat(80_000) : MIXED.repeat(100 + ((i * 37) % 400));
    appendAudit(a.db.sqlite, a.clock, { eventType: 'operator_keys_reloaded', actor: SYSTEM_ACTOR, details: { i, note } });
  }
  canonicals = (a.db.sqlite.prepare('SELECT canonical FROM audit_events ORDER BY seq').all() as Array<{ canonical: string }>).map(
    (r) => r.canonical,
  );
});

afterAll(() => {
  a.db.close();
  removeTempDirs();
});

describe('audit-export of large events', () => {
  it('jsonl: byte-exact over many buffers, with one event larger than a whole buffer', async () => {
    const expected = Buffer.from(
      `${exportHeaderLine('jsonl', { sovereign_id: a.sovereignId, filters: {} })}\n${canonicals.map((c) => `${c}\n`).join('')}`,
      'utf8',
    );
    // Several buffers' worth (256 KiB each), and the big event alone exceeds one.
    expect(expected.length).toBeGreaterThan(4 * 256 * 1024);
    expect(Buffer.byteLength(canonicals[351]!)).toBeGreaterThan(256 * 1024);
    const output = path.join(dir, 'big.jsonl');
    const summary = await exportAudit({ dbPath, output });
    const written = fs.readFileSync(output);
    expect(written.equals(expected)).toBe(true);
    expect(summary).toMatchObject({ count: canonicals.length, bytes: expected.length, file_sha256: sha256Hex(expected) });
  });

  it('json: the same events between the opening and closing lines', async () => {
    const expected = Buffer.from(
      `${exportHeaderLine('json', { sovereign_id: a.sovereignId, filters: {} })}\n${canonicals.join(',\n')}\n${JSON_FORMAT_CLOSE}\n`,
      'utf8',
    );
    const output = path.join(dir, 'big.json');
    const summary = await exportAudit({ dbPath, output, format: 'json' });
    expect(fs.readFileSync(output).equals(expected)).toBe(true);
    expect(summary).toMatchObject({ count: canonicals.length, bytes: expected.length, file_sha256: sha256Hex(expected) });
    expect((JSON.parse(expected.toString('utf8')) as { events: unknown[] }).events).toHaveLength(canonicals.length);
  });

  it('an export that matches nothing is its header alone (the empty document in json)', async () => {
    const jsonl = path.join(dir, 'none.jsonl');
    const json = path.join(dir, 'none.json');
    const filters = { after_seq: canonicals.length };
    const header = `${exportHeaderLine('jsonl', { sovereign_id: a.sovereignId, filters })}\n`;
    expect(await exportAudit({ dbPath, output: jsonl, filters: { afterSeq: canonicals.length } })).toMatchObject({
      count: 0,
      bytes: header.length,
      file_sha256: sha256Hex(header),
    });
    expect(fs.readFileSync(jsonl, 'utf8')).toBe(header);
    await exportAudit({ dbPath, output: json, format: 'json', filters: { afterSeq: canonicals.length } });
    expect(fs.readFileSync(json, 'utf8')).toBe(
      `${exportHeaderLine('json', { sovereign_id: a.sovereignId, filters })}\n${JSON_FORMAT_CLOSE}\n`,
    );
  });
});

describe('file hashes', () => {
  const sizes = [0, 1, 4 * 1024 * 1024, 9 * 1024 * 1024 + 77];

  it.each(sizes)('sha256File and the worker-thread hash agree with a one-shot hash (%i bytes)', async (size) => {
    const file = path.join(dir, `hash-${size}.bin`);
    const content = Buffer.alloc(size);
    for (let i = 0; i < size; i++) content[i] = (i * 131 + (i >> 12)) & 0xff;
    fs.writeFileSync(file, content);
    const expected = sha256Hex(content);
    expect(await sha256File(file)).toBe(expected);
    expect(await sha256AndSyncInWorker(file)).toBe(expected);
  });

  it('the worker-thread hash rejects for a missing file', async () => {
    await expect(sha256AndSyncInWorker(path.join(dir, 'missing.bin'))).rejects.toThrow(/ENOENT/);
  });
});
