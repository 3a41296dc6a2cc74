// Opens the SQLite database with production pragmas, applies migrations, and holds the serving lock.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3, { type Statement } from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { SERVING_WAL_AUTOCHECKPOINT_PAGES, startCheckpointer } from './checkpointer.ts';

export type Orm = BetterSQLite3Database;
export type Sqlite = BetterSqlite3.Database;

export interface Database {
  sqlite: Sqlite;
  orm: Orm;
  /** File path, or ':memory:'. */
  path: string;
  close(): void;
}

/** The migrations folder, resolved from the package, never from the working directory. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../drizzle', import.meta.url));

export class DatabaseLockedError extends Error {
  override name = 'DatabaseLockedError';
}

export interface OpenOptions {
  readonly?: boolean;
  /** Apply pending migrations (default true for writable connections). */
  migrate?: boolean;
  /**
   * Checkpoint the WAL from a worker thread (serving connections): commits stop paying for copying
   * pages into the database file, and the connection's own checkpoint only runs past a large WAL.
   */
  backgroundCheckpoints?: boolean;
}

/**
 * Page cache of the serving connection, in KiB (SQLite's default is 2 MiB). Publishing writes about
 * 56 KB of tiles and entry bundles per 256 log entries in one transaction and reads those entries back
 * from the WAL: with the default cache, a large publication spills dirty pages to the WAL mid-transaction
 * and rereads entries through system calls. The cache grows only as pages are used.
 */
export const SERVING_CACHE_KIB = 64 * 1024;

export function applyPragmas(sqlite: Sqlite, readonly = false): void {
  if (!readonly && sqlite.name !== ':memory:') sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  if (!readonly) sqlite.pragma('synchronous = NORMAL');
}

export function openDatabase(dbPath: string, options: OpenOptions = {}): Database {
  const readonly = options.readonly ?? false;
  if (dbPath !== ':memory:' && !readonly) {
    fs.mkdirSync(path.dirname(dbPath), { recursive: true, mode: 0o700 });
    createPrivateFile(dbPath);
  }
  const sqlite = new BetterSqlite3(dbPath, { readonly, fileMustExist: readonly });
  applyPragmas(sqlite, readonly);
  const orm = drizzle(sqlite);
  if (!readonly && (options.migrate ?? true)) migrate(orm, { migrationsFolder: MIGRATIONS_DIR });
  if (!options.backgroundCheckpoints || readonly || dbPath === ':memory:')
    return { sqlite, orm, path: dbPath, close: () => sqlite.close() };
  sqlite.pragma(`wal_autocheckpoint = ${SERVING_WAL_AUTOCHECKPOINT_PAGES}`);
  sqlite.pragma(`cache_size = -${SERVING_CACHE_KIB}`);
  const checkpointer = startCheckpointer(dbPath);
  return {
    sqlite,
    orm,
    path: dbPath,
    close: () => {
      checkpointer.stop();
      sqlite.close();
    },
  };
}

/**
 * Something made once per connection (prepared statements, usually): `const statements =
 * perConnection((sqlite) => ({ … }))` at module level, then `statements(sqlite).x.get(…)`.
 */
export function perConnection<T>(make: (sqlite: Sqlite) => T): (sqlite: Sqlite) => T {
  const made = new WeakMap<Sqlite, T>();
  return (sqlite) => {
    let value = made.get(sqlite);
    if (value === undefined) {
      value = make(sqlite);
      made.set(sqlite, value);
    }
    return value;
  };
}

/**
 * A statement prepared once per connection, for lookups on hot paths:
 * `const findX = statementOnce('SELECT …')` at module level, then `findX(sqlite).get(…)`.
 */
export function statementOnce(sql: string, options: { pluck?: boolean } = {}): (sqlite: Sqlite) => Statement<unknown[]> {
  return perConnection((sqlite) => {
    const statement = sqlite.prepare(sql);
    return options.pluck ? statement.pluck() : statement;
  });
}

/** A fresh, migrated in-memory database (tests, benchmarks). */
export function openMemoryDatabase(): Database {
  return openDatabase(':memory:');
}

interface Journal {
  entries: Array<{ idx: number; tag: string; when: number }>;
}

export function migrationJournal(): Journal {
  return JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as Journal;
}

export interface MigrationStatus {
  applied: number;
  head: number;
  atHead: boolean;
  /** The database has migrations this build does not know (a newer schema). */
  ahead: boolean;
}

/** SQLite's quick integrity check of the database: 'ok', or the first problem it found. */
export function quickCheck(sqlite: Sqlite): string {
  return String(sqlite.pragma('quick_check', { simple: true }));
}

/** Compares the migrations recorded in the database with the journal shipped in this build. */
export function migrationStatus(sqlite: Sqlite): MigrationStatus {
  const journal = migrationJournal();
  const head = journal.entries.length;
  const hasTable = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get();
  if (!hasTable) return { applied: 0, head, atHead: head === 0, ahead: false };
  const rows = sqlite.prepare('SELECT created_at FROM __drizzle_migrations ORDER BY created_at').all() as Array<{ created_at: number }>;
  const known = new Set(journal.entries.map((e) => e.when));
  const ahead = rows.some((r) => !known.has(Number(r.created_at)));
  return { applied: rows.length, head, atHead: rows.length === head && !ahead, ahead };
}

export interface DatabaseLock {
  path: string;
  /** The database's real path (symbolic links resolved): the file the lock stands for. */
  database: string;
  release(): void;
}

/** The database is reachable under a second name, or its files are open to other users. */
export class DatabasePathError extends Error {
  override name = 'DatabasePathError';
}

/**
 * Creates an empty file readable by the owner only, if none exists. SQLite creates the database's
 * -wal, -shm and -journal files with the mode of the database file, so they are private too, and
 * nothing is ever observable with a wider mode (an empty file is a valid empty database).
 */
export function createPrivateFile(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * The one name of a database file: its directory and the file itself with symbolic links
 * resolved. SQLite resolves links the same way when it names the -wal and -shm files, so two
 * servers given two links to one database would otherwise share its files but not its lock.
 */
export function realDatabasePath(dbPath: string): string {
  const resolved = path.resolve(dbPath);
  const dir = fs.realpathSync(path.dirname(resolved));
  const file = path.join(dir, path.basename(resolved));
  try {
    return fs.realpathSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw err;
    // A dangling link would make SQLite create the target elsewhere; only a truly absent name is new.
    if (fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink())
      throw new DatabasePathError(`${file} is a symbolic link to a missing file`);
    return file;
  }
}

function modeProblem(file: string, what: string, limit: number): string | null {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat || (stat.mode & 0o077) === 0) return null;
  return `${what} ${file} is mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}, open to other users; run: chmod ${limit.toString(8)} ${file}`;
}

/**
 * Refuses a database that other users can reach: its directory must be 0700 (or narrower) and the
 * database, its -wal/-shm and the lock file 0600 (or narrower). Accord creates them so; a wider mode
 * means someone else changed it, and quietly narrowing it would hide that the data was exposed.
 * A second hard link to the database is refused too: it is a second name that does not share the lock.
 */
export function checkPrivateDatabase(realPath: string): void {
  const problem =
    modeProblem(path.dirname(realPath), 'the database directory', 0o700) ??
    ['', '-wal', '-shm', '.lock']
      .map((suffix) => modeProblem(`${realPath}${suffix}`, suffix === '' ? 'the database' : `the database's ${suffix} file`, 0o600))
      .find((p) => p !== null) ??
    null;
  if (problem) throw new DatabasePathError(problem);
  const links = fs.statSync(realPath, { throwIfNoEntry: false })?.nlink ?? 1;
  if (links > 1) {
    throw new DatabasePathError(
      `the database ${realPath} has ${links} hard links: a second name would not share its lock or its -wal; remove the other names`,
    );
  }
}

/**
 * Takes the exclusive serving lock of a database: a small SQLite file beside the database's real
 * path, held in EXCLUSIVE locking mode, so every name of the database (links, a bind mount of its
 * directory) meets the same lock. The operating system drops the lock when the process dies, so a
 * crash never leaves a stale lock behind. Unless `checkPermissions` is false, the database must be
 * private to its owner (`checkPrivateDatabase`).
 */
export function acquireDatabaseLock(dbPath: string, options: { checkPermissions?: boolean } = {}): DatabaseLock {
  if (dbPath === ':memory:') return { path: ':memory:', database: ':memory:', release: () => {} };
  fs.mkdirSync(path.dirname(path.resolve(dbPath)), { recursive: true, mode: 0o700 });
  const database = realDatabasePath(dbPath);
  if (options.checkPermissions ?? true) checkPrivateDatabase(database);
  const lockPath = `${database}.lock`;
  createPrivateFile(lockPath);
  const lockDb = new BetterSqlite3(lockPath, { timeout: 0 });
  try {
    lockDb.pragma('journal_mode = DELETE');
    lockDb.pragma('locking_mode = EXCLUSIVE');
    lockDb.exec('BEGIN EXCLUSIVE');
    lockDb.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER)');
    lockDb.exec('COMMIT');
  } catch (err) {
    lockDb.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') {
      throw new DatabaseLockedError(`database is in use by another accord process: ${dbPath}`);
    }
    throw err;
  }
  return { path: lockPath, database, release: () => lockDb.close() };
}

/** True when a running authority holds the database's lock. */
export function isDatabaseLocked(dbPath: string): boolean {
  try {
    acquireDatabaseLock(dbPath, { checkPermissions: false }).release();
    return false;
  } catch (err) {
    if (err instanceof DatabaseLockedError) return true;
    throw err;
  }
}
