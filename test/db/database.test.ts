// Opening the database: pragmas, migrations shipped with the package, migration status, the serving lock.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  acquireDatabaseLock,
  DatabaseLockedError,
  DatabasePathError,
  isDatabaseLocked,
  migrationJournal,
  migrationStatus,
  MIGRATIONS_DIR,
  openDatabase,
  openMemoryDatabase,
} from '../../src/db/database.ts';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-db-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('openDatabase', () => {
  it('uses WAL, foreign keys and a busy timeout on files', () => {
    const db = openDatabase(path.join(tempDir(), 'a.db'));
    cleanup.push(() => db.close());
    expect(db.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('creates missing parent directories private to the owner', () => {
    const dir = tempDir();
    const db = openDatabase(path.join(dir, 'nested', 'deeper', 'a.db'));
    cleanup.push(() => db.close());
    expect(fs.statSync(path.join(dir, 'nested', 'deeper')).mode & 0o777).toBe(0o700);
  });

  it('applies the migrations shipped with the package, whatever the working directory', () => {
    const dir = tempDir();
    const before = process.cwd();
    process.chdir(dir);
    try {
      const db = openDatabase(path.join(dir, 'a.db'));
      cleanup.push(() => db.close());
      expect(migrationStatus(db.sqlite)).toEqual({
        applied: migrationJournal().entries.length,
        head: migrationJournal().entries.length,
        atHead: true,
        ahead: false,
      });
      const tables = (db.sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map(
        (t) => t.name,
      );
      expect(tables).toEqual(expect.arrayContaining(['authority_meta', 'authority_signing_keys', 'audit_events', 'admin_nonces']));
    } finally {
      process.chdir(before);
    }
    expect(path.isAbsolute(MIGRATIONS_DIR)).toBe(true);
    expect(fs.existsSync(path.join(MIGRATIONS_DIR, 'meta', '_journal.json'))).toBe(true);
  });

  it('reports an unmigrated database and one newer than this build', () => {
    const dir = tempDir();
    const fresh = openDatabase(path.join(dir, 'fresh.db'), { migrate: false });
    cleanup.push(() => fresh.close());
    expect(migrationStatus(fresh.sqlite)).toMatchObject({ applied: 0, atHead: false, ahead: false });

    const newer = openMemoryDatabase();
    cleanup.push(() => newer.close());
    newer.sqlite.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)').run('future', 9_999_999_999_999);
    expect(migrationStatus(newer.sqlite)).toMatchObject({ atHead: false, ahead: true });
  });

  it('opening twice is idempotent (migrations are not re-applied)', () => {
    const file = path.join(tempDir(), 'a.db');
    openDatabase(file).close();
    const again = openDatabase(file);
    cleanup.push(() => again.close());
    expect(migrationStatus(again.sqlite).atHead).toBe(true);
  });

  it('enforces foreign keys', () => {
    const db = openMemoryDatabase();
    cleanup.push(() => db.close());
    db.sqlite.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent(id))');
    expect(() => db.sqlite.prepare('INSERT INTO child (p) VALUES (42)').run()).toThrow(/FOREIGN KEY/);
  });

  it('read-only opens refuse a missing file and never write', () => {
    const dir = tempDir();
    expect(() => openDatabase(path.join(dir, 'missing.db'), { readonly: true })).toThrow();
    const file = path.join(dir, 'a.db');
    openDatabase(file).close();
    const ro = openDatabase(file, { readonly: true });
    cleanup.push(() => ro.close());
    expect(() => ro.sqlite.prepare("INSERT INTO authority_meta (key, value) VALUES ('x', 'y')").run()).toThrow(/readonly/i);
  });
});

describe('file modes', () => {
  it('the database and its -wal/-shm are 0600 from creation, even under umask 022', () => {
    const previous = process.umask(0o022);
    try {
      const file = path.join(tempDir(), 'a.db');
      const db = openDatabase(file);
      cleanup.push(() => db.close());
      // The connection is open in WAL mode after migrating: all three files exist now.
      const modes = ['', '-wal', '-shm'].map((suffix) => [suffix, fs.statSync(`${file}${suffix}`).mode & 0o777]);
      expect(modes).toEqual([
        ['', 0o600],
        ['-wal', 0o600],
        ['-shm', 0o600],
      ]);
      const lock = acquireDatabaseLock(path.join(path.dirname(file), 'b.db'));
      cleanup.push(() => lock.release());
      expect(fs.statSync(lock.path).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });
});

describe('the serving lock', () => {
  it('is exclusive: a second holder is refused with a message naming the database', () => {
    const file = path.join(tempDir(), 'a.db');
    const lock = acquireDatabaseLock(file);
    expect(isDatabaseLocked(file)).toBe(true);
    expect(() => acquireDatabaseLock(file)).toThrow(DatabaseLockedError);
    expect(() => acquireDatabaseLock(file)).toThrow(`database is in use by another accord process: ${file}`);
    lock.release();
    expect(isDatabaseLocked(file)).toBe(false);
    const again = acquireDatabaseLock(file);
    again.release();
  });

  it('does not stop readers or backups from opening the database while held', () => {
    const file = path.join(tempDir(), 'a.db');
    openDatabase(file).close();
    const lock = acquireDatabaseLock(file);
    cleanup.push(() => lock.release());
    const reader = openDatabase(file, { readonly: true });
    cleanup.push(() => reader.close());
    expect(migrationStatus(reader.sqlite).atHead).toBe(true);
  });

  it('is a no-op for in-memory databases', () => {
    const a = acquireDatabaseLock(':memory:');
    const b = acquireDatabaseLock(':memory:');
    a.release();
    b.release();
  });
});

describe('the serving lock is on the database file, whatever name it is reached by', () => {
  it('a symbolic link to the database, or to its directory, meets the same lock', () => {
    const dir = tempDir();
    const file = path.join(dir, 'a.db');
    openDatabase(file).close();
    const other = tempDir();
    fs.symlinkSync(file, path.join(other, 'link.db'));
    fs.symlinkSync(dir, path.join(other, 'dir-link'));
    const lock = acquireDatabaseLock(file);
    cleanup.push(() => lock.release());
    expect(lock.database).toBe(fs.realpathSync(file));
    for (const name of [path.join(other, 'link.db'), path.join(other, 'dir-link', 'a.db'), path.join(dir, '.', 'a.db')]) {
      expect(() => acquireDatabaseLock(name), name).toThrow(DatabaseLockedError);
      expect(isDatabaseLocked(name), name).toBe(true);
    }
    lock.release();
    const viaLink = acquireDatabaseLock(path.join(other, 'link.db'));
    expect(viaLink.database).toBe(fs.realpathSync(file));
    expect(() => acquireDatabaseLock(file)).toThrow(DatabaseLockedError);
    viaLink.release();
  });

  it('a second hard link to the database is refused (it would not share the lock or the -wal)', () => {
    const dir = tempDir();
    const file = path.join(dir, 'a.db');
    openDatabase(file).close();
    fs.linkSync(file, path.join(dir, 'b.db'));
    for (const name of [file, path.join(dir, 'b.db')]) {
      expect(() => acquireDatabaseLock(name), name).toThrow(DatabasePathError);
      expect(() => acquireDatabaseLock(name), name).toThrow(/has 2 hard links/);
    }
  });

  it('a symbolic link to a missing file is refused (SQLite would create the database elsewhere)', () => {
    const dir = tempDir();
    fs.symlinkSync(path.join(dir, 'nowhere', 'x.db'), path.join(dir, 'a.db'));
    expect(() => acquireDatabaseLock(path.join(dir, 'a.db'))).toThrow(/is a symbolic link to a missing file/);
  });
});

describe('a database open to other users is refused, not quietly narrowed', () => {
  const cases: Array<{ name: string; prepare: (dir: string, file: string) => string; expected: (dir: string, file: string) => string }> = [
    {
      name: 'directory 0755',
      prepare: (dir) => {
        fs.chmodSync(dir, 0o755);
        return dir;
      },
      expected: (dir) => `the database directory ${dir} is mode 0755, open to other users; run: chmod 700 ${dir}`,
    },
    {
      name: 'directory 0750',
      prepare: (dir) => {
        fs.chmodSync(dir, 0o750);
        return dir;
      },
      expected: (dir) => `the database directory ${dir} is mode 0750, open to other users; run: chmod 700 ${dir}`,
    },
    {
      name: 'database 0644',
      prepare: (_dir, file) => {
        fs.chmodSync(file, 0o644);
        return file;
      },
      expected: (_dir, file) => `the database ${file} is mode 0644, open to other users; run: chmod 600 ${file}`,
    },
    {
      name: 'database 0640',
      prepare: (_dir, file) => {
        fs.chmodSync(file, 0o640);
        return file;
      },
      expected: (_dir, file) => `the database ${file} is mode 0640, open to other users; run: chmod 600 ${file}`,
    },
    {
      name: '-wal 0644',
      prepare: (_dir, file) => {
        fs.writeFileSync(`${file}-wal`, '');
        fs.chmodSync(`${file}-wal`, 0o644);
        return `${file}-wal`;
      },
      expected: (_dir, file) => `the database's -wal file ${file}-wal is mode 0644, open to other users; run: chmod 600 ${file}-wal`,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: one line naming the fix; the modes stay as they were`, () => {
      const dir = fs.realpathSync(tempDir());
      const file = path.join(dir, 'a.db');
      openDatabase(file).close();
      const changed = c.prepare(dir, file);
      const before = fs.statSync(changed).mode;
      let error: unknown;
      try {
        acquireDatabaseLock(file).release();
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(DatabasePathError);
      expect((error as Error).message).toBe(c.expected(dir, file));
      expect(fs.statSync(changed).mode).toBe(before);
      // Asking whether a server holds the database (doctor) still answers.
      expect(isDatabaseLocked(file)).toBe(false);
      fs.chmodSync(dir, 0o700);
    });
  }
});
