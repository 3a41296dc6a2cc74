// Online backup with the SQLite backup API: a consistent snapshot from a separate connection while the authority serves.
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { AppError } from '../authority/errors.ts';
import type { Sqlite } from '../db/database.ts';
import {
  fsyncDirectory,
  hasSqliteHeader,
  refuseOverwrite,
  removeSqliteFiles,
  sha256AndSyncInWorker,
  sidecarPath,
  temporaryPath,
  writeSha256Sidecar,
} from './files.ts';

export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
}

export interface BackupSummary {
  database: string;
  output: string;
  /** Hex SHA-256 of the backup file, also written to `output.sha256`. */
  sha256: string;
  sha256_file: string;
  bytes: number;
  pages: number;
  integrity: 'ok';
  duration_ms: number;
}

/** Pages copied per step: big enough to finish quickly, small enough for regular progress reports. */
const PAGES_PER_STEP = 1024;

/**
 * Copies `source` into a new database file at `dest` with the SQLite backup API. The copy runs
 * inside one read transaction on the source connection, so every step sees the same snapshot: the
 * result is consistent, and writers on other connections (WAL) neither block it nor restart it.
 * The copy is switched to rollback-journal mode so it is one self-contained file, then checked
 * with quick_check. `dest` is created 0600 before SQLite opens it. With `digest`, the finished file is also hashed and fsynced on a worker
 * thread while quick_check reads it on this one.
 */
export async function snapshotInto(
  source: Sqlite,
  dest: string,
  onProgress?: (p: BackupProgress) => void,
  options: { digest?: boolean } = {},
): Promise<{ pages: number; sha256: string | null }> {
  let pages = 0;
  // Private from its first byte: SQLite would create the file with the process umask (0644 under
  // the usual 022), and gives its -journal, -wal and -shm the mode of the file it finds here.
  fs.closeSync(fs.openSync(dest, 'wx', 0o600));
  source.exec('BEGIN');
  try {
    // The read transaction starts at the first read; from here every backup step sees this snapshot.
    source.prepare('SELECT count(*) FROM sqlite_master').get();
    await source.backup(dest, {
      progress: ({ totalPages, remainingPages }) => {
        pages = totalPages;
        onProgress?.({ totalPages, remainingPages });
        return PAGES_PER_STEP;
      },
    });
  } finally {
    if (source.inTransaction) source.exec('COMMIT');
  }
  const copy = new BetterSqlite3(dest);
  let digest: Promise<string> | null = null;
  try {
    copy.pragma('journal_mode = DELETE');
    // The file is final from here: quick_check only reads it, through a memory map (no read call per page).
    digest = options.digest ? sha256AndSyncInWorker(dest) : null;
    copy.pragma(`mmap_size = ${fs.statSync(dest).size}`);
    // quick_check catches a torn or corrupt copy at a fraction of integrity_check's cost; restore runs the full check.
    const integrity = copy.pragma('quick_check', { simple: true });
    if (integrity !== 'ok') throw new AppError('backup_failed', `the backup copy fails quick_check: ${String(integrity)}`);
    pages ||= (copy.pragma('page_count', { simple: true }) as number) ?? 0;
  } catch (err) {
    // Let the worker finish with the file before the caller removes it.
    await digest?.catch(() => {});
    throw err;
  } finally {
    copy.close();
  }
  return { pages, sha256: digest ? await digest : null };
}

/**
 * `accord backup`: an online, consistent copy of the database plus `output.sha256`. The copy is
 * built under a temporary name beside the output and renamed into place when complete; an
 * existing output is replaced only with `force`.
 */
export async function backupDatabase(input: {
  dbPath: string;
  output: string;
  force?: boolean;
  onProgress?: (p: BackupProgress) => void;
}): Promise<BackupSummary> {
  const started = Date.now();
  const dbPath = path.resolve(input.dbPath);
  const output = path.resolve(input.output);
  if (output === dbPath) throw new AppError('invalid_output', '--output must not be the database itself');
  if (!fs.existsSync(dbPath)) throw new AppError('database_not_found', `database ${dbPath} does not exist`);
  if (!hasSqliteHeader(dbPath)) throw new AppError('database_unreadable', `${dbPath} is not an SQLite database`);
  refuseOverwrite(output, input.force);
  refuseOverwrite(sidecarPath(output), input.force);
  fs.mkdirSync(path.dirname(output), { recursive: true, mode: 0o700 });

  let source: Sqlite;
  try {
    source = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
    source.pragma('busy_timeout = 5000');
    // Pages are copied straight from a memory map of the file (no read call and no copy per page).
    // Safe for the live database: it never shrinks (no VACUUM, no auto_vacuum), so the map stays valid.
    source.pragma(`mmap_size = ${fs.statSync(dbPath).size}`);
  } catch (err) {
    throw new AppError('database_unreadable', `cannot open ${dbPath}: ${(err as Error).message}`);
  }
  const tmp = temporaryPath(output);
  try {
    const snapshot = await snapshotInto(source, tmp, input.onProgress, { digest: true });
    const sha256 = snapshot.sha256!;
    const bytes = fs.statSync(tmp).size;
    fs.renameSync(tmp, output);
    fsyncDirectory(path.dirname(output));
    const sidecar = writeSha256Sidecar(output, sha256);
    return {
      database: dbPath,
      output,
      sha256,
      sha256_file: sidecar,
      bytes,
      pages: snapshot.pages,
      integrity: 'ok',
      duration_ms: Date.now() - started,
    };
  } catch (err) {
    removeSqliteFiles(tmp);
    if (err instanceof AppError) throw err;
    throw new AppError('backup_failed', `backup failed: ${(err as Error).message}`);
  } finally {
    source.close();
  }
}
