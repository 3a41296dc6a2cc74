// Backups and restores write no file that other users could read, at any moment, whatever the umask.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { backupDatabase } from '../../src/ops/backup.ts';
import { restoreDatabase } from '../../src/ops/restore.ts';
import { issueTreaty, revokeTreaty } from '../../src/treaties/service.ts';
import { treatyInput } from '../treaties/fixtures.ts';
import { fileAuthority, removeTempDirs, tempDir } from './helpers.ts';

afterAll(removeTempDirs);

let previousUmask: number;
beforeEach(() => {
  // The usual default: without care, SQLite and fs would create files 0644 under it.
  previousUmask = process.umask(0o022);
});
afterEach(() => {
  process.umask(previousUmask);
});

const operator = { label: 'ops', keyId: 'sha256:'.padEnd(71, '0') };

const mode = (file: string) => fs.statSync(file).mode & 0o777;

/** Every file in `dir` with its mode, as it is at this moment. */
function modesIn(dir: string): Array<{ file: string; mode: number }> {
  return fs.readdirSync(dir).map((file) => ({ file, mode: mode(path.join(dir, file)) }));
}

/** An authority database with some content (closed), in a fresh directory. */
function seeded(): { dir: string; dbPath: string; clock: ReturnType<typeof fileAuthority>['clock'] } {
  const dir = tempDir();
  const a = fileAuthority(dir, { sovereignId: 'modes-na' });
  for (let i = 0; i < 20; i++) {
    const id = issueTreaty(a.deps, treatyInput({ subject_sovereign_id: `peer-${i}` }), operator).treaty_id;
    if (i % 2 === 0) revokeTreaty(a.deps, id, { reason: 'key_compromise' }, operator);
  }
  publishFeeds(a.deps, { trigger: 'admin' });
  a.db.close();
  return { dir, dbPath: path.join(dir, 'accord.db'), clock: a.clock };
}

describe('file modes under umask 022', () => {
  it('backup: while the copy is written, the partial copy and every file beside it are 0600; the results too', async () => {
    const { dir, dbPath } = seeded();
    const outDir = path.join(dir, 'backups');
    const seen: Array<{ file: string; mode: number }> = [];
    const summary = await backupDatabase({
      dbPath,
      output: path.join(outDir, 'hourly.db'),
      onProgress: () => seen.push(...modesIn(outDir)),
    });
    expect(seen.some((s) => s.file.startsWith('.hourly.db.partial-'))).toBe(true);
    expect(seen.filter((s) => s.mode !== 0o600)).toEqual([]);
    expect(mode(outDir)).toBe(0o700);
    expect(modesIn(outDir)).toEqual([
      { file: 'hourly.db', mode: 0o600 },
      { file: 'hourly.db.sha256', mode: 0o600 },
    ]);
    expect(summary.output).toBe(path.join(outDir, 'hourly.db'));
  });

  it('restore: the working copy of a 0644 backup, its -wal/-shm and the pre-restore copy are 0600 from creation; the results too', async () => {
    const { dir, dbPath, clock } = seeded();
    const backup = path.join(tempDir(), 'copied-in.db');
    await backupDatabase({ dbPath, output: backup });
    // A backup brought back from elsewhere with a plain `cp` under umask 022.
    fs.chmodSync(backup, 0o644);
    fs.rmSync(`${backup}.sha256`);

    const seen: Array<{ file: string; mode: number }> = [];
    const summary = await restoreDatabase({ dbPath, backupFile: backup, clock, onProgress: () => seen.push(...modesIn(dir)) });
    // The progress of the pre-restore copy comes while it and the restored working copy (open, in WAL mode) both exist.
    expect(seen.some((s) => s.file.startsWith('.accord.db.restoring-'))).toBe(true);
    expect(seen.some((s) => /^\.accord\.db\.restoring-.*-wal$/.test(s.file))).toBe(true);
    expect(seen.some((s) => s.file.startsWith(`.${path.basename(summary.pre_restore_backup!)}.partial-`))).toBe(true);
    expect(seen.filter((s) => s.mode !== 0o600)).toEqual([]);
    expect(modesIn(dir).filter((s) => s.mode !== 0o600)).toEqual([]);
    expect(mode(summary.pre_restore_backup!)).toBe(0o600);
    expect(mode(dbPath)).toBe(0o600);
  });
});
