// `accord serve` (subprocess): a second name for a served database does not start a second server; a database open to others is refused.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/authority/config.ts';
import { startAuthority } from '../../src/server/server.ts';
import { accord, removeTempDirs, tempDir } from '../ops/helpers.ts';

afterAll(removeTempDirs);

function serveEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ACCORD_DATA_DIR: dir, ACCORD_PORT: '0', ACCORD_FEED_PUBLISH_CRON: '0 0 1 1 *', ACCORD_FEED_PULL_CRON: '0 0 1 1 *', ...extra };
}

describe('accord serve and the serving lock', () => {
  it('a symbolic link to a served database, from another data directory, is refused with one line', async () => {
    const dir = fs.realpathSync(tempDir());
    const config = defaultConfig({ dataDir: dir, dbPath: path.join(dir, 'accord.db'), port: 0, logLevel: 'silent' });
    const first = await startAuthority(config, { background: false });
    try {
      const other = tempDir();
      fs.symlinkSync(config.dbPath, path.join(other, 'accord.db'));
      const second = await accord(['serve'], { env: serveEnv(other) });
      expect(second.code).toBe(1);
      expect(second.stdout).toBe('');
      expect(second.stderr).toBe(`accord: database is in use by another accord process: ${path.join(other, 'accord.db')}\n`);
      expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    } finally {
      await first.close();
    }
  }, 120_000);

  it('a data directory or database open to other users: one line, exit 1, modes unchanged', async () => {
    const dir = fs.realpathSync(tempDir());
    const init = await accord(['init'], { env: serveEnv(dir) });
    expect(init.code).toBe(0);
    const db = path.join(dir, 'accord.db');
    expect(fs.statSync(db).mode & 0o777).toBe(0o600);

    fs.chmodSync(dir, 0o755);
    const wideDir = await accord(['serve'], { env: serveEnv(dir) });
    expect(wideDir.code).toBe(1);
    expect(wideDir.stderr).toBe(`accord: the database directory ${dir} is mode 0755, open to other users; run: chmod 700 ${dir}\n`);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o755);

    fs.chmodSync(dir, 0o700);
    fs.chmodSync(db, 0o644);
    const wideDb = await accord(['serve'], { env: serveEnv(dir) });
    expect(wideDb.code).toBe(1);
    expect(wideDb.stderr).toBe(`accord: the database ${db} is mode 0644, open to other users; run: chmod 600 ${db}\n`);
    const restore = await accord(['restore', '--backup', db, '--db', db, '--yes'], { env: serveEnv(dir) });
    expect(restore.stderr).toBe(
      `accord: refusing to restore: the database ${db} is mode 0644, open to other users; run: chmod 600 ${db}\n`,
    );
    expect(fs.statSync(db).mode & 0o777).toBe(0o644);
  }, 120_000);
});
