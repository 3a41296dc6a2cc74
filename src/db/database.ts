// Opens the SQLite database with production pragmas, applies migrations, and holds the serving lock.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3, { type Statement } from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.ts';
import { SERVING_WAL_AUTOCHECKPOINT_PAGES, startCheckpointer } from './checkpointer.ts';

export type Orm = BetterSQLite3Database<typeof schema>;
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

export function applyPragmas(sqlite: Sqlite, readonly = false): void {
  if (!readonly && sqlite.name !== ':memory:') sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  if (!readonly) sqlite.pragma('synchronous = NORMAL');
}

export function openDatabase(dbPath: string, options: OpenOptions = {}): Database {
  const readonly = options.readonly ?? false;
  if (dbPath !== ':memory:' && !readonly) fs.mkdirSync(path.dirname(dbPath), { recursive: true, mode: 0o700 });
  const sqlite = new BetterSqlite3(dbPath, { readonly, fileMustExist: readonly });
  applyPragmas(sqlite, readonly);
  const orm = drizzle(sqlite, { schema });
  if (!readonly && (options.migrate ?? true)) migrate(orm, { migrationsFolder: MIGRATIONS_DIR });
  if (!options.backgroundCheckpoints || readonly || dbPath === ':memory:') return { sqlite, orm, path: dbPath, close: () => sqlite.close() };
  sqlite.pragma(`wal_autocheckpoint = ${SERVING_WAL_AUTOCHECKPOINT_PAGES}`);
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
 * A statement prepared once per connection, for lookups on hot paths:
 * `const findX = statementOnce('SELECT …')` at module level, then `findX(sqlite).get(…)`.
 */
export function statementOnce(sql: string, options: { pluck?: boolean } = {}): (sqlite: Sqlite) => Statement<unknown[]> {
  const prepared = new WeakMap<Sqlite, Statement<unknown[]>>();
  return (sqlite) => {
    let statement = prepared.get(sqlite);
    if (!statement) {
      statement = sqlite.prepare(sql);
      if (options.pluck) statement.pluck();
      prepared.set(sqlite, statement);
    }
    return statement;
  };
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

/** Compares the migrations recorded in the database with the journal shipped in this build. */
export function migrationStatus(sqlite: Sqlite): MigrationStatus {
  const journal = migrationJournal();
  const head = journal.entries.length;
  const hasTable = sqlite
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'")
    .get();
  if (!hasTable) return { applied: 0, head, atHead: head === 0, ahead: false };
  const rows = sqlite.prepare('SELECT created_at FROM __drizzle_migrations ORDER BY created_at').all() as Array<{ created_at: number }>;
  const known = new Set(journal.entries.map((e) => e.when));
  const ahead = rows.some((r) => !known.has(Number(r.created_at)));
  return { applied: rows.length, head, atHead: rows.length === head && !ahead, ahead };
}

export interface DatabaseLock {
  path: string;
  release(): void;
}

/**
 * Takes the exclusive serving lock of a database: a small SQLite file beside it held in EXCLUSIVE
 * locking mode. The operating system drops the lock when the process dies, so a crash never leaves
 * a stale lock behind.
 */
export function acquireDatabaseLock(dbPath: string): DatabaseLock {
  if (dbPath === ':memory:') return { path: ':memory:', release: () => {} };
  const lockPath = `${dbPath}.lock`;
  fs.mkdirSync(path.dirname(lockPath), { recursive: true, mode: 0o700 });
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
  return { path: lockPath, release: () => lockDb.close() };
}

/** True when a running authority holds the database's lock. */
export function isDatabaseLocked(dbPath: string): boolean {
  try {
    acquireDatabaseLock(dbPath).release();
    return false;
  } catch (err) {
    if (err instanceof DatabaseLockedError) return true;
    throw err;
  }
}
