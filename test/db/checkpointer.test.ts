// Background WAL checkpoints of a serving connection: pages reach the database file without the
// serving connection checkpointing, and closing stops the worker so the WAL is folded in and removed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVING_WAL_AUTOCHECKPOINT_PAGES } from '../../src/db/checkpointer.ts';
import { openDatabase } from '../../src/db/database.ts';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn();
});

function dbPath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-ckpt-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'a.db');
}

/** Writes a page-sized row per commit into a scratch table. */
function fill(db: ReturnType<typeof openDatabase>, commits: number): void {
  db.sqlite.exec('CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.sqlite.prepare('INSERT INTO filler (body) VALUES (?)');
  for (let i = 0; i < commits; i++) insert.run('x'.repeat(3000));
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

describe('background checkpoints', () => {
  it('copy committed pages into the database file while the serving connection only commits', async () => {
    const file = dbPath();
    const db = openDatabase(file, { backgroundCheckpoints: true });
    let closed = false;
    cleanup.push(() => closed || db.close());
    expect(db.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(SERVING_WAL_AUTOCHECKPOINT_PAGES);
    const before = fs.statSync(file).size;
    fill(db, 400); // ~400 pages: far below the serving connection's own checkpoint threshold
    expect(await until(() => fs.statSync(file).size > before + 300 * 4096)).toBe(true);
    // Everything in the log has been copied: a checkpoint now has nothing left to do.
    const [result] = db.sqlite.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    expect(result!.checkpointed).toBe(result!.log);
    db.close();
    closed = true;
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
  });

  it('without the worker, the same writes under the same threshold stay in the log', async () => {
    const file = dbPath();
    const db = openDatabase(file);
    cleanup.push(() => db.close());
    db.sqlite.pragma(`wal_autocheckpoint = ${SERVING_WAL_AUTOCHECKPOINT_PAGES}`);
    const before = fs.statSync(file).size;
    fill(db, 400);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(fs.statSync(file).size).toBe(before);
  });

  it('read-only and in-memory databases get none', () => {
    const file = dbPath();
    openDatabase(file).close();
    const ro = openDatabase(file, { readonly: true, backgroundCheckpoints: true });
    ro.close();
    const mem = openDatabase(':memory:', { backgroundCheckpoints: true });
    expect(mem.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    mem.close();
  });
});
