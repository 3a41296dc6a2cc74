// accord backup: online and consistent while another connection or process writes; sha256 sidecar; no silent overwrite.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { appendAudit, SYSTEM_ACTOR, verifyStoredAuditChain } from '../../src/authority/audit.ts';
import { sha256Hex } from '../../src/authority/crypto.ts';
import { openDatabase } from '../../src/db/database.ts';
import { backupDatabase } from '../../src/ops/backup.ts';
import { accord, fileAuthority, removeTempDirs, tempDir } from './helpers.ts';

afterAll(removeTempDirs);

/** A file database with enough audit events (5000: ~18 MB) that the backup API copies it in several steps. */
function seededDatabase(events = 5000): { dir: string; dbPath: string } {
  const dir = tempDir();
  const a = fileAuthority(dir);
  const pad = 'b'.repeat(1500);
  a.db.sqlite.transaction(() => {
    for (let i = 0; i < events; i++)
      appendAudit(a.db.sqlite, a.clock, { eventType: 'peer_registered', actor: SYSTEM_ACTOR, details: { i, pad } });
  })();
  a.db.close();
  return { dir, dbPath: path.join(dir, 'accord.db') };
}

function auditCountOf(file: string): number {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function checkBackup(file: string): { count: number } {
  const db = openDatabase(file, { readonly: true });
  try {
    expect(db.sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
    const chain = verifyStoredAuditChain(db.sqlite);
    expect(chain.breaks).toEqual([]);
    expect(chain.ok).toBe(true);
    return { count: chain.count };
  } finally {
    db.close();
  }
}

describe('backup', () => {
  it('is one consistent snapshot while a second connection writes between every copy step', async () => {
    const { dir, dbPath } = seededDatabase();
    const before = auditCountOf(dbPath);
    const writer = openDatabase(dbPath);
    let steps = 0;
    const output = path.join(dir, 'backup.db');
    const summary = await backupDatabase({
      dbPath,
      output,
      onProgress: () => {
        steps++;
        appendAudit(writer.sqlite, () => new Date(), {
          eventType: 'operator_keys_reloaded',
          actor: SYSTEM_ACTOR,
          details: { during_backup: steps },
        });
      },
    });
    writer.close();
    expect(steps).toBeGreaterThan(1);
    // The snapshot is the database as it was when the backup began: complete, and nothing half-written.
    expect(checkBackup(output).count).toBe(before);
    expect(auditCountOf(dbPath)).toBe(before + steps);
    expect(summary).toMatchObject({ output, integrity: 'ok', sha256: sha256Hex(fs.readFileSync(output)), bytes: fs.statSync(output).size });
    expect(fs.readFileSync(`${output}.sha256`, 'utf8')).toBe(`${summary.sha256}  backup.db\n`);
    // The backup is one self-contained file (rollback journal mode, no -wal beside it).
    expect(fs.existsSync(`${output}-wal`)).toBe(false);
  });

  it('accord backup (subprocess) while another process writes continuously; refuses to overwrite without --force', async () => {
    const { dir, dbPath } = seededDatabase(1000);
    const writer = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures', 'audit-writer.ts'), dbPath], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        writer.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        writer.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
      });
      const output = path.join(dir, 'online.db');
      const env = { ACCORD_DATA_DIR: dir };
      const result = await accord(['backup', '--db', dbPath, '--output', output, '--progress'], { env });
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/accord: backup 100% \(\d+\/\d+ pages\)/);
      const summary = JSON.parse(result.stdout);
      const { count } = checkBackup(output);
      expect(count).toBeGreaterThan(1001);
      const [hex, name] = fs.readFileSync(`${output}.sha256`, 'utf8').trim().split(/\s+/);
      expect(name).toBe('online.db');
      expect(hex).toBe(sha256Hex(fs.readFileSync(output)));
      expect(summary.sha256).toBe(hex);

      const bytes = fs.readFileSync(output);
      const again = await accord(['backup', '--db', dbPath, '--output', output], { env });
      expect(again.code).not.toBe(0);
      expect(again.stderr).toBe(`accord: refusing to overwrite ${output} (use --force)\n`);
      expect(fs.readFileSync(output).equals(bytes)).toBe(true);

      await backupDatabase({ dbPath, output, force: true });
      expect(checkBackup(output).count).toBeGreaterThan(count);
      expect(fs.readFileSync(`${output}.sha256`, 'utf8')).toBe(`${sha256Hex(fs.readFileSync(output))}  online.db\n`);
    } finally {
      writer.kill('SIGKILL');
    }
    // The writer kept going throughout: the live database is ahead of both backups.
    expect(auditCountOf(dbPath)).toBeGreaterThan(1001);
  }, 90_000);

  it('refuses a missing or non-SQLite database, leaving no output behind', async () => {
    const dir = tempDir();
    const output = path.join(dir, 'out.db');
    await expect(backupDatabase({ dbPath: path.join(dir, 'missing.db'), output })).rejects.toThrow(/does not exist/);
    fs.writeFileSync(path.join(dir, 'text.db'), 'not a database');
    await expect(backupDatabase({ dbPath: path.join(dir, 'text.db'), output })).rejects.toThrow(/not an SQLite database/);
    expect(fs.readdirSync(dir)).toEqual(['text.db']);
  });
});
