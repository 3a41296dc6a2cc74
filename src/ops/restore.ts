// Safe restore (SPEC §8): every check (the backup's content verified) before anything changes, a pre-restore backup, carry-forward, an atomic swap.
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { appendAudit, SYSTEM_ACTOR, type Actor } from '../authority/audit.ts';
import { toTimestamp, type Clock } from '../authority/clock.ts';
import type { SigningKey } from '../authority/crypto.ts';
import { AppError, type ErrorCode } from '../authority/errors.ts';
import {
  acquireDatabaseLock,
  applyPragmas,
  DatabaseLockedError,
  type DatabaseLock,
  DatabasePathError,
  MIGRATIONS_DIR,
  migrationStatus,
  type Sqlite,
} from '../db/database.ts';
import { snapshotInto, type BackupProgress } from './backup.ts';
import { verifyBackupContent, type BackupVerification } from './backup-verification.ts';
import { carryForward, findFork } from './carry-forward.ts';
import type { TrustAnchor } from './checkpoint.ts';
import {
  copyToPrivateFile,
  fsyncDirectory,
  fsyncPath,
  hasSqliteHeader,
  readSha256Sidecar,
  removeSqliteFiles,
  sha256File,
  temporaryPath,
  writeSha256Sidecar,
} from './files.ts';

export interface RestoreInput {
  dbPath: string;
  backupFile: string;
  preRestoreBackup?: string;
  clock: Clock;
  actor?: Actor;
  /**
   * Signing keys available to this installation. Used to confirm the identity only when there is
   * no live database to compare with.
   */
  signingKeys?: SigningKey[];
  /** ACCORD_SOVEREIGN_ID, when configured: the backup must belong to it. */
  sovereignId?: string;
  /** `--public-key`: keys of this authority confirmed out of band, trusted besides the live database's and the key files'. */
  anchors?: TrustAnchor[];
  /** `--accept-unverified`: restore a backup whose content does not verify (forensic use); recorded in `database_restored`. */
  acceptUnverified?: boolean;
  /** Progress of the pre-restore backup's copy. */
  onProgress?: (p: BackupProgress) => void;
}

export interface RestoreSummary {
  restored: true;
  database: string;
  backup: string;
  backup_sha256: string;
  /** `verified` when `backup.sha256` exists and matches; `absent` when there is none. */
  backup_sidecar: 'verified' | 'absent';
  sovereign_id: string;
  schema: { backup_migrations: number; head: number; migrated: boolean };
  pre_restore_backup: string | null;
  pre_restore_backup_sha256: string | null;
  carried_forward: Record<string, number>;
  replaced_audit_head: { seq: number; hash: string } | null;
  audit_event: { seq: number; hash: string };
  /** What was verified in the backup before it was trusted; `ok: false` only with `--accept-unverified`. */
  verification: BackupVerification & { accepted_unverified: boolean };
  warnings: string[];
}

/** Attacker-chosen text (ids from the backup) is cut before it goes into the audit log. */
const AUDITED_PROBLEM_CHARS = 200;
const AUDITED_PROBLEMS = 5;

const refuse = (message: string, code: ErrorCode = 'restore_refused') => new AppError(code, `refusing to restore: ${message}`);

interface Identity {
  sovereignId: string;
  keyIds: string[];
}

function tableExists(sqlite: Sqlite, table: string, schemaName = 'main'): boolean {
  return sqlite.prepare(`SELECT 1 FROM ${schemaName}.sqlite_master WHERE type = 'table' AND name = ?`).get(table) !== undefined;
}

function readIdentity(sqlite: Sqlite): { application: string | undefined; identity: Identity | null } {
  if (!tableExists(sqlite, 'authority_meta')) return { application: undefined, identity: null };
  const meta = new Map(
    (sqlite.prepare('SELECT key, value FROM authority_meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]),
  );
  const sovereignId = meta.get('sovereign_id');
  const keyIds = tableExists(sqlite, 'authority_signing_keys')
    ? (sqlite.prepare('SELECT key_id FROM authority_signing_keys').all() as Array<{ key_id: string }>).map((r) => r.key_id)
    : [];
  return { application: meta.get('application'), identity: sovereignId ? { sovereignId, keyIds } : null };
}

function auditHead(sqlite: Sqlite): { seq: number; hash: string } | null {
  if (!tableExists(sqlite, 'audit_events')) return null;
  return (
    (sqlite.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined) ??
    null
  );
}

/** The default pre-restore backup name: beside the database, stamped with the time of the restore. */
export function defaultPreRestorePath(dbPath: string, now: Date): string {
  return `${dbPath}.pre-restore-${toTimestamp(now).replace(/[-:]/g, '')}`;
}

/**
 * Opens the live database read-only to learn whose it is; never writes to it. A read-only
 * connection to a WAL database may create empty -wal/-shm files it cannot remove on close; the
 * returned `close` removes them again when they were not there before.
 */
function liveIdentity(dbPath: string): { identity: Identity; source: Sqlite; close: () => void } | { unreadable: string } {
  const existed = new Set(['-wal', '-shm'].filter((s) => fs.existsSync(`${dbPath}${s}`)));
  let live: Sqlite | undefined;
  const close = () => {
    live?.close();
    live = undefined;
    for (const suffix of ['-wal', '-shm']) {
      const file = `${dbPath}${suffix}`;
      if (!existed.has(suffix) && fs.existsSync(file) && (suffix === '-shm' || fs.statSync(file).size === 0))
        fs.rmSync(file, { force: true });
    }
  };
  try {
    live = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
    live.pragma('busy_timeout = 5000');
    const { application, identity } = readIdentity(live);
    if (application !== 'accord' || !identity) {
      close();
      return { unreadable: 'it is not an initialized accord database' };
    }
    return { identity, source: live, close };
  } catch (err) {
    close();
    return { unreadable: (err as Error).message };
  }
}

/**
 * Restores `backupFile` over the database at `dbPath`. Every check runs before the live database
 * is touched: the serving lock (held throughout), that the backup is an intact SQLite file of this
 * application with a schema this build knows, that it belongs to the same sovereign, and that its
 * content verifies (audit chain; treaties, attestations, published feeds and signing keys signed by
 * or being keys this installation already trusts — `--accept-unverified` overrides). Then a
 * pre-restore backup of the live database is written, the restored database is built in a
 * temporary file beside the target (migrated up, newer published state carried forward, a
 * `database_restored` audit event appended) and renamed into place after the live -wal/-shm are
 * removed. A crash at any point leaves either the old database or the new one, never a mixture.
 */
export async function restoreDatabase(input: RestoreInput): Promise<RestoreSummary> {
  const backupFile = path.resolve(input.backupFile);
  const now = input.clock();
  const warnings: string[] = [];

  let lock: DatabaseLock;
  try {
    lock = acquireDatabaseLock(input.dbPath);
  } catch (err) {
    if (err instanceof DatabaseLockedError)
      throw refuse(`an accord server holds the database ${path.resolve(input.dbPath)}; stop it first`, 'database_locked');
    if (err instanceof DatabasePathError) throw refuse(err.message, 'database_not_private');
    throw err;
  }
  // The real path: the swap must replace the database file, not a symbolic link to it.
  const dbPath = lock.database;
  let tmp: string | undefined;
  let restored: Sqlite | undefined;
  let live: Sqlite | undefined;
  let closeLive = () => {};
  try {
    if (backupFile === dbPath) throw refuse('--backup is the database itself');
    const preRestore = path.resolve(input.preRestoreBackup ?? defaultPreRestorePath(dbPath, now));
    const liveExists = fs.existsSync(dbPath);
    if (liveExists && fs.existsSync(preRestore)) throw refuse(`the pre-restore backup ${preRestore} already exists`);

    // 1. The backup file itself.
    if (!fs.existsSync(backupFile)) throw refuse(`backup ${backupFile} does not exist`);
    if (!hasSqliteHeader(backupFile)) throw refuse(`${backupFile} is not an SQLite database`);
    const backupSha256 = await sha256File(backupFile);
    const recorded = readSha256Sidecar(backupFile);
    if (recorded !== null && recorded !== backupSha256)
      throw refuse(`${backupFile} does not match its ${path.basename(backupFile)}.sha256 (the file is damaged or was replaced)`);

    // 2. Work on a copy beside the target, so the backup file is never modified and the final step is a rename.
    tmp = temporaryPath(dbPath, 'restoring');
    await copyToPrivateFile(backupFile, tmp);
    try {
      restored = new BetterSqlite3(tmp, { fileMustExist: true });
      const integrity = restored.pragma('integrity_check', { simple: true });
      if (integrity !== 'ok') throw refuse(`${backupFile} fails integrity_check (${String(integrity).split('\n')[0]})`);
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw refuse(`${backupFile} is not a readable SQLite database (${(err as Error).message})`);
    }
    const backupMeta = readIdentity(restored);
    if (backupMeta.application !== 'accord') {
      throw refuse(
        `${backupFile} is not an accord database (authority_meta.application is ${backupMeta.application === undefined ? 'missing' : JSON.stringify(backupMeta.application)})`,
      );
    }
    if (!backupMeta.identity) throw refuse(`${backupFile} has no authority identity`);
    const status = migrationStatus(restored);
    if (status.ahead || status.applied > status.head) {
      throw refuse(
        `${backupFile} has a newer schema than this build (${status.applied} migrations applied, this build knows ${status.head}); restore it with the accord version that wrote it`,
      );
    }

    let liveKeys: Array<{ key_id: string; public_key: string }> = [];

    // 3. Same sovereign identity as the live database (or, with no live database, as this installation).
    const backupIdentity = backupMeta.identity;
    if (input.sovereignId && input.sovereignId !== backupIdentity.sovereignId) {
      throw refuse(`the backup belongs to sovereign "${backupIdentity.sovereignId}" but ACCORD_SOVEREIGN_ID is "${input.sovereignId}"`);
    }
    if (liveExists) {
      const opened = liveIdentity(dbPath);
      if ('unreadable' in opened) {
        throw refuse(
          `the live database ${dbPath} cannot be read (${opened.unreadable}), so its published feeds cannot be carried forward; move it aside and restore onto the empty path (see ops/runbooks/database-restore.md)`,
        );
      }
      live = opened.source;
      closeLive = opened.close;
      liveKeys = live.prepare('SELECT key_id, public_key FROM authority_signing_keys').all() as Array<{
        key_id: string;
        public_key: string;
      }>;
      const liveId = opened.identity;
      if (liveId.sovereignId !== backupIdentity.sovereignId) {
        throw refuse(`the backup belongs to sovereign "${backupIdentity.sovereignId}" but the database belongs to "${liveId.sovereignId}"`);
      }
      if (!liveId.keyIds.some((k) => backupIdentity.keyIds.includes(k))) {
        throw refuse(
          `the backup's signing keys (${backupIdentity.keyIds.join(', ')}) share none with the database's: it is another authority with the same sovereign id`,
        );
      }
    } else {
      const keys = input.signingKeys ?? [];
      if (keys.length === 0) throw refuse(`there is no database at ${dbPath} and no signing key file to confirm the backup's identity`);
      if (!keys.some((k) => backupIdentity.keyIds.includes(k.keyId))) {
        throw refuse(
          `the backup's signing keys (${backupIdentity.keyIds.join(', ')}) do not include this installation's signing key ${keys[0]!.keyId}`,
        );
      }
      warnings.push(
        'no live database: nothing was carried forward; if this authority published feeds after the backup was taken, peers will report the next feed as equivocation',
      );
    }

    // 4. Migrate the copy up to head.
    applyPragmas(restored);
    const migrated = status.applied < status.head;
    migrate(drizzle(restored), { migrationsFolder: MIGRATIONS_DIR });

    // 4b. The content: the audit chain, and every object it would serve signed by a key this installation trusts.
    const verification = {
      ...verifyBackupContent(restored, {
        dbPath,
        sovereignId: backupIdentity.sovereignId,
        clock: input.clock,
        trust: { liveKeys, keyFiles: (input.signingKeys ?? []).map((k) => k.publicKey), anchors: input.anchors ?? [] },
      }),
      accepted_unverified: false,
    };
    if (!verification.ok) {
      const first = `${verification.problems[0]}${verification.problem_count > 1 ? ` (and ${verification.problem_count - 1} more problem(s))` : ''}`;
      if (!input.acceptUnverified)
        throw refuse(`the backup does not verify: ${first}; --accept-unverified restores it anyway, for forensic use`, 'backup_unverified');
      verification.accepted_unverified = true;
      warnings.push(`restored a backup that does not verify (--accept-unverified): ${first}; do not serve it to peers`);
    }

    // 5. Pre-restore backup of the live database: the evidence, and the source of the carry-forward.
    let preRestoreSha: string | null = null;
    let replacedHead: { seq: number; hash: string } | null = null;
    if (live) {
      const partial = temporaryPath(preRestore);
      try {
        await snapshotInto(live, partial, input.onProgress);
        fsyncPath(partial);
        preRestoreSha = await sha256File(partial);
        fs.renameSync(partial, preRestore);
      } catch (err) {
        removeSqliteFiles(partial);
        throw err;
      }
      writeSha256Sidecar(preRestore, preRestoreSha);
      closeLive();
      live = undefined;
    }

    // 6. Carry forward and record the restore, in one transaction.
    let carried: Record<string, number> = {};
    const backupHead = auditHead(restored);
    if (preRestoreSha !== null) {
      restored.prepare('ATTACH DATABASE ? AS replaced').run(preRestore);
      try {
        replacedHead =
          (restored.prepare('SELECT seq, hash FROM replaced.audit_events ORDER BY seq DESC LIMIT 1').get() as
            | { seq: number; hash: string }
            | undefined) ?? null;
        const fork = findFork(restored, 'replaced');
        if (fork) {
          throw refuse(
            `the backup and the database disagree on ${fork.table} ${JSON.stringify(fork.key)} (${fork.column}): the backup is from a different history than the one published`,
          );
        }
      } catch (err) {
        restored.exec('DETACH DATABASE replaced');
        throw err;
      }
    }
    const event = restored
      .transaction(() => {
        if (preRestoreSha !== null) carried = carryForward(restored!, 'replaced');
        return appendAudit(restored!, input.clock, {
          eventType: 'database_restored',
          actor: input.actor ?? SYSTEM_ACTOR,
          details: {
            backup_file: backupFile,
            backup_sha256: backupSha256,
            pre_restore_backup: preRestoreSha !== null ? preRestore : null,
            pre_restore_backup_sha256: preRestoreSha,
            backup_audit_head: backupHead,
            replaced_audit_head: replacedHead,
            schema_migrations_before: status.applied,
            carried_forward: carried,
            verification: {
              ok: verification.ok,
              accepted_unverified: verification.accepted_unverified,
              checked: verification.checked,
              audit_events: verification.audit_chain.count,
              problem_count: verification.problem_count,
              problems: verification.problems.slice(0, AUDITED_PROBLEMS).map((p) => p.slice(0, AUDITED_PROBLEM_CHARS)),
            },
          },
        });
      })
      .immediate();
    if (preRestoreSha !== null) restored.exec('DETACH DATABASE replaced');

    // 7. Make the copy self-contained and durable, then swap it in.
    restored.pragma('wal_checkpoint(TRUNCATE)');
    restored.close();
    restored = undefined;
    for (const suffix of ['-wal', '-shm']) fs.rmSync(`${tmp}${suffix}`, { force: true });
    fsyncPath(tmp);
    // Fold the replaced database's WAL into its main file first, so a crash between the next two
    // steps leaves the live database whole (its committed transactions are not only in the -wal).
    if (fs.existsSync(dbPath) && fs.existsSync(`${dbPath}-wal`)) {
      const replaced = new BetterSqlite3(dbPath, { fileMustExist: true });
      try {
        replaced.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        replaced.close();
      }
    }
    // Stale -wal/-shm of the replaced database must go next: replayed onto the new file they would corrupt it.
    for (const suffix of ['-wal', '-shm', '-journal']) fs.rmSync(`${dbPath}${suffix}`, { force: true });
    fs.renameSync(tmp, dbPath);
    tmp = undefined;
    fsyncDirectory(path.dirname(dbPath));

    return {
      restored: true,
      database: dbPath,
      backup: backupFile,
      backup_sha256: backupSha256,
      backup_sidecar: recorded !== null ? 'verified' : 'absent',
      sovereign_id: backupIdentity.sovereignId,
      schema: { backup_migrations: status.applied, head: status.head, migrated },
      pre_restore_backup: preRestoreSha !== null ? preRestore : null,
      pre_restore_backup_sha256: preRestoreSha,
      carried_forward: carried,
      replaced_audit_head: replacedHead,
      audit_event: { seq: event.seq, hash: event.hash },
      verification,
      warnings,
    };
  } finally {
    closeLive();
    restored?.close();
    if (tmp) removeSqliteFiles(tmp);
    lock.release();
  }
}
