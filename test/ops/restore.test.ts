// accord restore: every refusal leaves the live database byte-identical; a restore carries published history forward.
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyStoredAuditChain, type AuditEvent } from '../../src/authority/audit.ts';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { canonicalHash, hashRef, sha256Hex, signObject } from '../../src/authority/crypto.ts';
import { acquireDatabaseLock, migrationJournal, openDatabase } from '../../src/db/database.ts';
import { signedPartHash } from '../../src/feeds/model.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { readLogHead } from '../../src/log/store.ts';
import { backupDatabase } from '../../src/ops/backup.ts';
import { restoreDatabase } from '../../src/ops/restore.ts';
import { getTreaty, issueTreaty, revokeTreaty } from '../../src/treaties/service.ts';
import { fixedClock } from '../../src/authority/clock.ts';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';
import { treatyInput } from '../treaties/fixtures.ts';
import { accord, fileAuthority, reopen, removeTempDirs, tempDir } from './helpers.ts';

/** Migrations this build ships. */
const HEAD = migrationJournal().entries.length;

afterAll(removeTempDirs);

const operator = { label: 'ops', keyId: 'sha256:'.padEnd(71, '0') };

function issue(a: TestAuthority, subject: string): string {
  return issueTreaty(a.deps, treatyInput({ subject_sovereign_id: subject }), operator).treaty_id;
}

function revoke(a: TestAuthority, id: string): void {
  revokeTreaty(a.deps, id, { reason: 'key_compromise' }, operator);
}

const publish = (deps: TestAuthority['deps'], heartbeat?: 'force') =>
  publishFeeds(deps, { trigger: 'admin', ...(heartbeat ? { heartbeat } : {}) });

function bytes(file: string): Buffer {
  return fs.readFileSync(file);
}

/** A live authority database (closed) and a backup of it, in a fresh directory. */
async function liveAndBackup(sovereignId = 'restore-na'): Promise<{ dir: string; dbPath: string; backup: string; a: TestAuthority }> {
  const dir = tempDir();
  const a = fileAuthority(dir, { sovereignId });
  revoke(a, issue(a, 'peer-1'));
  publish(a.deps);
  const backup = path.join(dir, 'backup.db');
  await backupDatabase({ dbPath: path.join(dir, 'accord.db'), output: backup });
  a.db.close();
  return { dir, dbPath: path.join(dir, 'accord.db'), backup, a };
}

describe('restore refusals (subprocess): one line, non-zero exit, live database byte-identical', () => {
  it('refuses without --yes, while locked, and for a non-SQLite, truncated, foreign, newer-schema or other-sovereign backup', async () => {
    const base = await liveAndBackup();
    const other = await liveAndBackup('another-na');

    const cases: Array<{ name: string; backup: (dir: string) => string; args?: string[]; lock?: boolean; expected: RegExp }> = [
      { name: 'no --yes', backup: () => base.backup, args: [], expected: /^accord: refusing to restore without --yes/ },
      {
        name: 'locked',
        backup: () => base.backup,
        lock: true,
        expected: /^accord: refusing to restore: an accord server holds the database/,
      },
      {
        name: 'not SQLite',
        backup: (dir) => {
          const f = path.join(dir, 'notes.txt');
          fs.writeFileSync(f, 'this is not a database\n'.repeat(100));
          return f;
        },
        expected: /is not an SQLite database$/,
      },
      {
        name: 'truncated',
        backup: (dir) => {
          const f = path.join(dir, 'truncated.db');
          const whole = bytes(base.backup);
          fs.writeFileSync(f, whole.subarray(0, Math.floor(whole.length / 2)));
          return f;
        },
        expected: /fails integrity_check|is not a readable SQLite database/,
      },
      {
        name: 'another application',
        backup: (dir) => {
          const f = path.join(dir, 'other-app.db');
          const db = new BetterSqlite3(f);
          db.exec(
            "CREATE TABLE authority_meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO authority_meta VALUES ('application', 'grocer'), ('sovereign_id', 'restore-na')",
          );
          db.close();
          return f;
        },
        expected: /is not an accord database \(authority_meta.application is "grocer"\)$/,
      },
      {
        name: 'newer schema',
        backup: (dir) => {
          const f = path.join(dir, 'newer.db');
          fs.copyFileSync(base.backup, f);
          const db = new BetterSqlite3(f);
          db.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)').run('future', 9_999_999_999_999);
          db.close();
          return f;
        },
        expected: new RegExp(`has a newer schema than this build \\(${HEAD + 1} migrations applied, this build knows ${HEAD}\\)`),
      },
      {
        name: 'other sovereign',
        backup: () => other.backup,
        expected: /the backup belongs to sovereign "another-na" but the database belongs to "restore-na"$/,
      },
    ];

    const liveBytes = bytes(base.dbPath);
    const runs = cases.map(async (c) => {
      const dir = tempDir();
      const dbPath = path.join(dir, 'accord.db');
      fs.copyFileSync(base.dbPath, dbPath);
      const backup = c.backup(dir);
      const backupBytes = bytes(backup);
      const lock = c.lock ? acquireDatabaseLock(dbPath) : null;
      try {
        const result = await accord(['restore', '--db', dbPath, '--backup', backup, ...(c.args ?? ['--yes'])], {
          env: { ACCORD_DATA_DIR: dir },
        });
        return { c, result, dir, dbPath, backup, backupBytes };
      } finally {
        lock?.release();
      }
    });
    for (const { c, result, dir, dbPath, backup, backupBytes } of await Promise.all(runs)) {
      expect(result.code, c.name).not.toBe(0);
      expect(result.stdout, c.name).toBe('');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines, c.name).toHaveLength(1);
      expect(lines[0], c.name).toMatch(c.expected);
      expect(bytes(dbPath).equals(liveBytes), c.name).toBe(true);
      expect(bytes(backup).equals(backupBytes), c.name).toBe(true);
      // Nothing was left behind: no pre-restore backup, no temporary file, no -wal/-shm.
      expect(
        fs.readdirSync(dir).filter((f) => !['accord.db', 'accord.db.lock', path.basename(backup)].includes(f)),
        c.name,
      ).toEqual([]);
    }
  }, 120_000);

  it('refuses a backup whose sha256 sidecar does not match, and one of the same sovereign id but another key set', async () => {
    const base = await liveAndBackup();
    const live = bytes(base.dbPath);
    const tampered = path.join(base.dir, 'tampered.db');
    fs.copyFileSync(base.backup, tampered);
    fs.writeFileSync(`${tampered}.sha256`, `${'0'.repeat(64)}  tampered.db\n`);
    await expect(restoreDatabase({ dbPath: base.dbPath, backupFile: tampered, clock: base.a.clock })).rejects.toThrow(
      /does not match its tampered.db.sha256/,
    );

    // Same sovereign id, different signing key: another authority that happens to share the name.
    const impostorDir = tempDir();
    const impostor = createTestAuthority({ sovereignId: 'restore-na', dbPath: path.join(impostorDir, 'accord.db') });
    impostor.db.sqlite.prepare('UPDATE authority_signing_keys SET key_id = ?, public_key = ?').run('sha256:'.padEnd(71, 'f'), 'AAAA');
    impostor.db.close();
    await expect(
      restoreDatabase({ dbPath: base.dbPath, backupFile: path.join(impostorDir, 'accord.db'), clock: base.a.clock }),
    ).rejects.toThrow(/share none with the database's/);
    expect(bytes(base.dbPath).equals(live)).toBe(true);
  });
});

describe('restore carries published history forward', () => {
  it('publish 3 feeds, back up, publish 2 more, restore: feed 5 is still served and the next publish is 6', async () => {
    const dir = tempDir();
    const dbPath = path.join(dir, 'accord.db');
    const a = fileAuthority(dir);
    const [t1, t2, t3, t4] = ['peer-1', 'peer-2', 'peer-3', 'peer-4'].map((s) => issue(a, s));
    revoke(a, t1!);
    publish(a.deps);
    revoke(a, t2!);
    publish(a.deps);
    a.clock.advance(3600);
    publish(a.deps, 'force');
    const backup = path.join(dir, 'backup.db');
    await backupDatabase({ dbPath, output: backup });

    // After the backup: a treaty revoked, a treaty issued and revoked, two more feeds.
    a.clock.advance(3600);
    revoke(a, t3!);
    publish(a.deps);
    const t5 = issue(a, 'peer-5');
    revoke(a, t5);
    publish(a.deps);
    const servedBefore = await (await a.app.request('/revocation-feeds/5')).text();
    const headBefore = readLogHead(a.db.sqlite);
    expect(JSON.parse(servedBefore).sequence).toBe(5);
    a.db.close();

    a.clock.advance(600);
    const summary = await restoreDatabase({ dbPath, backupFile: backup, clock: a.clock });
    expect(summary.carried_forward).toMatchObject({ published_feeds: 2, revocation_log: 2, treaty_revocations: 2, treaties: 1 });
    expect(summary.pre_restore_backup).toMatch(/accord\.db\.pre-restore-20260301T\d{6}Z$/);
    expect(fs.readFileSync(`${summary.pre_restore_backup}.sha256`, 'utf8')).toBe(
      `${sha256Hex(bytes(summary.pre_restore_backup!))}  ${path.basename(summary.pre_restore_backup!)}\n`,
    );

    const b = reopen(a, dbPath);
    try {
      // Feed 5 is served byte-for-byte as before, and latest is still 5.
      expect(await (await b.app.request('/revocation-feeds/5')).text()).toBe(servedBefore);
      expect(JSON.parse(await (await b.app.request('/revocation-feeds/latest')).text()).sequence).toBe(5);
      // The revocations behind the carried-forward entries came along; t4 (never revoked) stays active.
      expect(getTreaty(b.deps, t3!).revocation).toMatchObject({ reason: 'key_compromise' });
      expect(getTreaty(b.deps, t5).revocation).not.toBeNull();
      expect(getTreaty(b.deps, t4!).revocation).toBeNull();
      // The log head (Merkle frontier) is the carried-forward one.
      expect(readLogHead(b.deps.db.sqlite)).toEqual(headBefore);

      // The next revocation continues the log; the next publish is sequence 6, chained to feed 5.
      revokeTreaty(b.deps, t4!, { reason: 'affiliation_changed' });
      const next = publishFeeds(b.deps, { trigger: 'admin' });
      expect(next.published.map((p) => p.sequence)).toEqual([6]);
      const feed6 = JSON.parse(await (await b.app.request('/revocation-feeds/6')).text());
      const { signatures: _signatures, ...signedPart5 } = JSON.parse(servedBefore) as Record<string, unknown>;
      expect(feed6.previous_feed_hash).toBe(canonicalHash(signedPart5));
      expect(feed6.entries.map((e: { index: number }) => e.index)).toEqual([headBefore.size]);

      // The restore is on the record, and the audit chain of the restored database verifies.
      const restoredEvent = b.deps.db.sqlite.prepare("SELECT canonical FROM audit_events WHERE event_type = 'database_restored'").get() as {
        canonical: string;
      };
      const event = JSON.parse(restoredEvent.canonical) as AuditEvent;
      expect(event.details).toMatchObject({
        backup_sha256: sha256Hex(bytes(backup)),
        pre_restore_backup: summary.pre_restore_backup,
        carried_forward: summary.carried_forward,
      });
      expect(verifyStoredAuditChain(b.deps.db.sqlite).ok).toBe(true);
    } finally {
      b.deps.db.close();
    }
  });

  it('keeps signing-key rotation and admin nonces made after the backup', async () => {
    const dir = tempDir();
    const dbPath = path.join(dir, 'accord.db');
    const a = fileAuthority(dir);
    const backup = path.join(dir, 'backup.db');
    await backupDatabase({ dbPath, output: backup });
    const res = await a.admin('GET', '/admin/audit');
    expect(res.status).toBe(200);
    a.db.sqlite.prepare('UPDATE authority_signing_keys SET not_after = ?').run('2026-03-05T00:00:00Z');
    a.db.sqlite
      .prepare('INSERT INTO authority_signing_keys (key_id, public_key, created_at) VALUES (?, ?, ?)')
      .run('sha256:'.padEnd(71, '1'), 'BBBB', '2026-03-01T00:00:00Z');
    a.db.close();
    const summary = await restoreDatabase({ dbPath, backupFile: backup, clock: a.clock });
    expect(summary.carried_forward).toMatchObject({ authority_signing_keys: 2, admin_nonces: 1 });
    const db = openDatabase(dbPath, { readonly: true });
    expect(db.sqlite.prepare('SELECT key_id, not_after FROM authority_signing_keys ORDER BY key_id').all()).toHaveLength(2);
    expect(db.sqlite.prepare('SELECT count(*) AS n FROM admin_nonces').get()).toEqual({ n: 1 });
    db.close();
  });

  it('removes the stale -wal/-shm of a crashed server; the pre-restore backup keeps what only the WAL held', async () => {
    const dir = tempDir();
    const dbPath = path.join(dir, 'accord.db');
    const a = fileAuthority(dir);
    const backup = path.join(dir, 'backup.db');
    await backupDatabase({ dbPath, output: backup });
    revoke(a, issue(a, 'peer-wal'));
    publish(a.deps);
    // Simulate a crash: copy the files while the connection is open, so the WAL still holds the last commits.
    const crashed = tempDir();
    for (const suffix of ['', '-wal', '-shm']) fs.copyFileSync(`${dbPath}${suffix}`, path.join(crashed, `accord.db${suffix}`));
    a.db.close();
    const crashedDb = path.join(crashed, 'accord.db');
    expect(fs.statSync(`${crashedDb}-wal`).size).toBeGreaterThan(0);

    const summary = await restoreDatabase({ dbPath: crashedDb, backupFile: backup, clock: fixedClock('2026-03-02T00:00:00Z') });
    expect(fs.existsSync(`${crashedDb}-wal`)).toBe(false);
    expect(fs.existsSync(`${crashedDb}-shm`)).toBe(false);
    expect(summary.carried_forward).toMatchObject({ published_feeds: 1, revocation_log: 1 });
    const pre = openDatabase(summary.pre_restore_backup!, { readonly: true });
    expect(pre.sqlite.prepare('SELECT count(*) AS n FROM published_feeds').get()).toEqual({ n: 1 });
    pre.close();
    const restored = openDatabase(crashedDb);
    expect(restored.sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(restored.sqlite.prepare('SELECT max(sequence) AS n FROM published_feeds').get()).toEqual({ n: 1 });
    restored.close();
  });

  it('refuses a backup from a different published history (a feed sequence with other content)', async () => {
    const dir = tempDir();
    const dbPath = path.join(dir, 'accord.db');
    const a = fileAuthority(dir);
    publish(a.deps);
    const backup = path.join(dir, 'backup.db');
    await backupDatabase({ dbPath, output: backup });
    // Feed 1 in the backup is another statement, validly signed by the same key: the world saw the live one.
    const forked = new BetterSqlite3(backup);
    const { body } = forked.prepare('SELECT body FROM published_feeds WHERE sequence = 1').get() as { body: string };
    const { signatures: _signatures, ...unsigned } = JSON.parse(body) as Record<string, unknown>;
    const other = canonicalJson(signObject({ ...unsigned, next_update: '2099-01-01T00:00:00Z' }, [a.signingKey]));
    forked
      .prepare('UPDATE published_feeds SET body = ?, feed_hash = ?, signed_hash = ? WHERE sequence = 1')
      .run(other, hashRef(other), signedPartHash(other));
    forked.close();
    fs.rmSync(`${backup}.sha256`);
    a.db.close();
    const live = bytes(dbPath);
    await expect(restoreDatabase({ dbPath, backupFile: backup, clock: a.clock })).rejects.toThrow(
      /disagree on published_feeds \{"sequence":1\} \(feed_hash\)/,
    );
    expect(bytes(dbPath).equals(live)).toBe(true);
  });

  it('a symbolic link given as the database: the file it points to is replaced, the link stays a link', async () => {
    const base = await liveAndBackup();
    const linkDir = tempDir();
    const link = path.join(linkDir, 'accord.db');
    fs.symlinkSync(base.dbPath, link);
    const summary = await restoreDatabase({ dbPath: link, backupFile: base.backup, clock: base.a.clock });
    expect(summary.database).toBe(fs.realpathSync(base.dbPath));
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readdirSync(linkDir)).toEqual(['accord.db']);
    const db = openDatabase(link, { readonly: true });
    expect(db.sqlite.prepare("SELECT count(*) AS n FROM audit_events WHERE event_type = 'database_restored'").get()).toEqual({ n: 1 });
    db.close();
  });

  it('restores onto a missing database only when the installation signing key matches the backup', async () => {
    const base = await liveAndBackup();
    const target = path.join(tempDir(), 'accord.db');
    await expect(restoreDatabase({ dbPath: target, backupFile: base.backup, clock: base.a.clock })).rejects.toThrow(
      /no signing key file to confirm/,
    );
    await expect(
      restoreDatabase({
        dbPath: target,
        backupFile: base.backup,
        clock: base.a.clock,
        signingKeys: [createTestAuthority({ sovereignId: 'x' }).signingKey],
      }),
    ).rejects.toThrow(/do not include this installation's signing key/);
    expect(fs.existsSync(target)).toBe(false);
    const summary = await restoreDatabase({
      dbPath: target,
      backupFile: base.backup,
      clock: base.a.clock,
      signingKeys: [base.a.signingKey],
    });
    expect(summary).toMatchObject({ pre_restore_backup: null, carried_forward: {} });
    expect(summary.warnings[0]).toMatch(/nothing was carried forward/);
  });
});
