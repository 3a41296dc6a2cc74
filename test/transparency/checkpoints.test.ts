// Signed checkpoints: one per published feed with its tree head and audit head, kept forever, signed by every active key, refused when the tiles disagree.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/authority/audit.ts';
import { ConfigError, loadConfig } from '../../src/authority/config.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { backupDatabase } from '../../src/ops/backup.ts';
import { restoreDatabase } from '../../src/ops/restore.ts';
import { rotateSigningKey } from '../../src/ops/key-rotation.ts';
import { parseCheckpoint } from '../../src/transparency/checkpoint.ts';
import { catchUpLog, LogOriginMismatchError } from '../../src/transparency/service.ts';
import { openNote, parseNote, parseVerifierKey } from '../../src/authority/signed-note.ts';
import { createTestAuthority, dbDigest, type TestAuthority } from '../helpers/authority.ts';
import { fileAuthority, removeTempDirs, reopen, tempDir } from '../ops/helpers.ts';
import { growLog, publishAtSizes, vkeyOf } from './helpers.ts';

afterAll(removeTempDirs);

interface Row {
  sequence: number;
  tree_size: number;
  root_hash: string;
  audit_seq: number;
  audit_hash: string;
  note: string;
}

const checkpoints = (a: { db: TestAuthority['db'] }) =>
  a.db.sqlite.prepare('SELECT * FROM log_checkpoints ORDER BY sequence').all() as Row[];
const feeds = (a: { db: TestAuthority['db'] }) =>
  (a.db.sqlite.prepare('SELECT body FROM published_feeds ORDER BY sequence').pluck().all() as string[]).map(
    (b) => JSON.parse(b) as { sequence: number; log: { size: number; root_hash: string } },
  );

function opened(a: TestAuthority | string, note: string) {
  const result = openNote(note, [parseVerifierKey(typeof a === 'string' ? a : vkeyOf(a))!]);
  if (!result.ok) throw new Error(result.detail);
  return parseCheckpoint(result.text)!;
}

describe('one checkpoint per published feed', () => {
  it('same sequence, size and root as the feed; the audit head is that feed’s revocation_feed_published event', () => {
    const a = createTestAuthority({ sovereignId: 'cp.example' });
    publishAtSizes(a, [0, 5, 5, 12_000]);
    const published = feeds(a);
    const rows = checkpoints(a);
    // 12,000 entries past 5 make two feeds (10,000 per feed).
    expect(published.map((f) => f.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(rows.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5]);
    for (const [i, feed] of published.entries()) {
      const body = opened(a, rows[i]!.note);
      expect(body).toMatchObject({ origin: 'cp.example/log', size: feed.log.size, rootHash: feed.log.root_hash });
      const event = a.db.sqlite
        .prepare(
          "SELECT seq, hash FROM audit_events WHERE event_type = 'revocation_feed_published' AND json_extract(canonical, '$.details.sequence') = ?",
        )
        .get(feed.sequence) as { seq: number; hash: string };
      expect(body.auditHead).toEqual({ seq: event.seq, hash: event.hash });
    }
    // A heartbeat re-signs the same tree with a later audit head.
    expect(rows[2]!.tree_size).toBe(rows[1]!.tree_size);
    expect(rows[2]!.root_hash).toBe(rows[1]!.root_hash);
    expect(rows[2]!.audit_seq).toBeGreaterThan(rows[1]!.audit_seq);
  });

  it('every active key signs during a rotation overlap, each under the log origin', () => {
    const a = createTestAuthority({ sovereignId: 'overlap.example', config: { dataDir: tempDir('accord-tlog-') } });
    rotateSigningKey(a.deps, { overlapDays: 7, actor: SYSTEM_ACTOR });
    const [fresh, old] = a.deps.identity.signingKeys;
    publishAtSizes(a, [4]);
    const note = checkpoints(a)[0]!.note;
    const parsed = parseNote(note);
    expect('signatures' in parsed && parsed.signatures.map((s) => s.name)).toEqual(['overlap.example/log', 'overlap.example/log']);
    for (const key of [fresh!, old!]) expect(openNote(note, [parseVerifierKey(vkeyOf(a, key))!]).ok).toBe(true);
  });
});

describe('the origin', () => {
  it('defaults to "<sovereign id>/log", follows ACCORD_LOG_ORIGIN, and is fixed by the first checkpoint', () => {
    const dir = tempDir('accord-tlog-');
    const a = fileAuthority(dir, { sovereignId: 'origin-na', config: { logOrigin: 'na.example.org/revocations' } });
    publishAtSizes(a, [1]);
    expect(opened(a, checkpoints(a)[0]!.note).origin).toBe('na.example.org/revocations');
    const vkey = vkeyOf(a);
    const plain = createTestAuthority({ sovereignId: 'plain-na' });
    publishAtSizes(plain, [1]);
    expect(opened(plain, checkpoints(plain)[0]!.note).origin).toBe('plain-na/log');

    // Another configured origin later would be another log: start-up refuses; the same or none is fine.
    a.db.close();
    expect(() => reopen({ ...a, config: { ...a.config, logOrigin: 'elsewhere.example/log' } })).toThrow(LogOriginMismatchError);
    for (const logOrigin of ['na.example.org/revocations', undefined]) {
      const again = reopen({ ...a, config: { ...a.config, logOrigin } });
      expect(again.deps.config.logOrigin).toBe(logOrigin);
      publishFeeds(again.deps, { trigger: 'admin', heartbeat: 'force' });
      expect(opened(vkey, checkpoints({ db: again.deps.db }).at(-1)!.note).origin).toBe('na.example.org/revocations');
      again.deps.db.close();
    }
  });

  it.each(['has space', 'a+b', 'tab\there', 'ünïcode/log', 'x'.repeat(256)])('ACCORD_LOG_ORIGIN=%j is refused at start', (value) => {
    expect(() => loadConfig({ ACCORD_LOG_ORIGIN: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ACCORD_LOG_ORIGIN: value })).toThrow(/ACCORD_LOG_ORIGIN/);
  });
});

describe('keeping checkpoints and tiles', () => {
  it('a database whose feeds lack checkpoints and tiles gets them at start: tiles byte-identical, a checkpoint per feed', () => {
    const dir = tempDir('accord-tlog-');
    const a = fileAuthority(dir, { sovereignId: 'catchup.example' });
    publishAtSizes(a, [300, 600]);
    const tiles = a.db.sqlite.prepare('SELECT level, idx, root, hashes, interior FROM log_tiles ORDER BY level, idx').all();
    const bundles = a.db.sqlite.prepare('SELECT idx, bundle FROM log_entry_bundles ORDER BY idx').all();
    expect(bundles).toHaveLength(2);
    const vkey = vkeyOf(a);
    a.db.sqlite.exec('DELETE FROM log_checkpoints; DELETE FROM log_tiles; DELETE FROM log_entry_bundles');
    a.db.close();
    const again = reopen(a);
    expect(again.deps.db.sqlite.prepare('SELECT level, idx, root, hashes, interior FROM log_tiles ORDER BY level, idx').all()).toEqual(
      tiles,
    );
    expect(again.deps.db.sqlite.prepare('SELECT idx, bundle FROM log_entry_bundles ORDER BY idx').all()).toEqual(bundles);
    const rows = checkpoints({ db: again.deps.db });
    expect(rows.map((r) => [r.sequence, r.tree_size])).toEqual([
      [1, 300],
      [2, 600],
    ]);
    for (const row of rows) expect(opened(vkey, row.note).size).toBe(row.tree_size);
    again.deps.db.close();
  });

  it('a log whose tiles were built before entry bundles were stored gets every full bundle at start, the same bytes as served before', async () => {
    const dir = tempDir('accord-tlog-');
    const a = fileAuthority(dir, { sovereignId: 'bundles.example' });
    publishAtSizes(a, [300, 1000]);
    const served = await Promise.all(
      [0, 1, 2].map(async (n) => Buffer.from(await (await a.app.request(`/log/tile/entries/00${n}`)).arrayBuffer())),
    );
    const tiles = a.db.sqlite.prepare('SELECT level, idx, root, hashes, interior FROM log_tiles ORDER BY level, idx').all();
    const checkpointRows = checkpoints(a);
    // As a database migrated from before bundles were stored: tiles and checkpoints, no bundles.
    a.db.sqlite.exec('DELETE FROM log_entry_bundles');
    a.db.close();
    const again = reopen(a);
    const stored = again.deps.db.sqlite.prepare('SELECT idx, bundle FROM log_entry_bundles ORDER BY idx').raw(true).all() as Array<
      [number, Buffer]
    >;
    expect(stored.map(([idx]) => idx)).toEqual([0, 1, 2]);
    for (const [idx, bundle] of stored) expect(bundle.equals(served[idx]!), `bundle ${idx}`).toBe(true);
    for (const n of [0, 1, 2])
      expect(Buffer.from(await (await again.app.request(`/log/tile/entries/00${n}`)).arrayBuffer()).equals(served[n]!)).toBe(true);
    // Nothing else was rebuilt or signed again.
    expect(again.deps.db.sqlite.prepare('SELECT level, idx, root, hashes, interior FROM log_tiles ORDER BY level, idx').all()).toEqual(
      tiles,
    );
    expect(checkpoints({ db: again.deps.db })).toEqual(checkpointRows);
    again.deps.db.close();
  });

  it('leaves that are not those of their stored tile, or tiles built at start that do not hash to the latest checkpoint: the start is refused, nothing changed', () => {
    const dir = tempDir('accord-tlog-');
    const a = fileAuthority(dir, { sovereignId: 'refuse.example' });
    publishAtSizes(a, [600]);
    const start = () => catchUpLog(a.deps);
    // A bundle to fill in for a stored tile whose leaf the log no longer has.
    a.db.sqlite.exec('DELETE FROM log_entry_bundles WHERE idx = 1');
    a.db.sqlite.prepare('UPDATE revocation_log SET leaf_hash = ? WHERE idx = 300').run('00'.repeat(32));
    let before = dbDigest(a.db);
    expect(start).toThrow(expect.objectContaining({ code: 'revocation_log_corrupt' }));
    expect(dbDigest(a.db)).toBe(before);
    // The tile itself to build again from that leaf: it does not hash to the signed head.
    a.db.sqlite.exec('DELETE FROM log_tiles WHERE level = 0 AND idx = 1');
    before = dbDigest(a.db);
    expect(start).toThrow(expect.objectContaining({ code: 'revocation_log_corrupt' }));
    expect(dbDigest(a.db)).toBe(before);
    a.db.close();
  });

  it('a restore carries checkpoints signed after the backup forward; the tiles and bundles after the backup are built again', async () => {
    const dir = tempDir('accord-tlog-');
    const dbPath = path.join(dir, 'accord.db');
    const a = fileAuthority(dir, { sovereignId: 'restore-cp.example' });
    publishAtSizes(a, [300]);
    const backup = path.join(dir, 'backup.db');
    await backupDatabase({ dbPath, output: backup });
    publishAtSizes(a, [600, 800]);
    const before = checkpoints(a);
    const files = ['tile/0/002', 'tile/entries/002', 'tile/entries/003.p/32'];
    const served = await Promise.all(files.map(async (f) => Buffer.from(await (await a.app.request(`/log/${f}`)).arrayBuffer())));
    a.db.close();
    const summary = await restoreDatabase({ dbPath, backupFile: backup, clock: a.clock });
    expect(summary.carried_forward).toMatchObject({ log_checkpoints: 2 });
    const b = reopen(a, dbPath);
    expect(checkpoints({ db: b.deps.db }).map((r) => r.note)).toEqual(before.map((r) => r.note));
    expect(await (await b.app.request('/log/checkpoint')).text()).toBe(before.at(-1)!.note);
    expect(b.deps.db.sqlite.prepare('SELECT count(*) FROM log_entry_bundles').pluck().get()).toBe(3);
    for (const [i, f] of files.entries())
      expect(Buffer.from(await (await b.app.request(`/log/${f}`)).arrayBuffer()).equals(served[i]!), f).toBe(true);
    b.deps.db.close();
    expect(fs.existsSync(dbPath)).toBe(true);
  });
});

describe('the latest checkpoint as served', () => {
  it('follows a publication by this connection and by another connection to the same database', async () => {
    const dir = tempDir('accord-tlog-');
    const a = fileAuthority(dir, { sovereignId: 'latest.example' });
    publishAtSizes(a, [2]);
    const size = async (app: { request: (p: string) => Response | Promise<Response> }) =>
      Number((await (await app.request('/log/checkpoint')).text()).split('\n')[1]);
    expect(await size(a.app)).toBe(2);
    publishAtSizes(a, [5]);
    expect(await size(a.app)).toBe(5);
    const other = reopen(a);
    growLog({ ...a, db: other.deps.db } as TestAuthority, 9);
    publishFeeds(other.deps, { trigger: 'admin' });
    expect(await size(a.app)).toBe(9);
    other.deps.db.close();
  });
});

describe('refusing to sign a second history', () => {
  it('tiles that do not hash to the feed’s head: publishing fails with revocation_log_corrupt and changes nothing', async () => {
    const dir = tempDir('accord-tlog-');
    const a = fileAuthority(dir, { sovereignId: 'corrupt.example' });
    publishAtSizes(a, [300]);
    // Someone rewrites a stored tile (its interior and root) behind the server's back.
    a.db.sqlite.prepare('UPDATE log_tiles SET interior = zeroblob(8160), root = zeroblob(32) WHERE level = 0 AND idx = 0').run();
    a.db.close();
    const b = reopen(a);
    growLog({ ...a, db: b.deps.db } as TestAuthority, 310);
    const before = dbDigest(b.deps.db, []);
    const auditBefore = b.deps.db.sqlite.prepare('SELECT count(*) FROM audit_events').pluck().get();
    expect(() => publishFeeds(b.deps, { trigger: 'admin' })).toThrow(
      expect.objectContaining({ code: 'revocation_log_corrupt', status: 500 }),
    );
    expect(dbDigest(b.deps.db, [])).toBe(before);
    expect(b.deps.db.sqlite.prepare('SELECT count(*) FROM audit_events').pluck().get()).toBe(auditBefore);
    b.deps.db.close();
  });

  it('a feed sequence that already has a checkpoint (its feed row lost): 409 log_checkpoint_exists, nothing changes', async () => {
    const a = createTestAuthority({ sovereignId: 'again.example' });
    publishAtSizes(a, [3, 6]);
    a.db.sqlite.prepare('DELETE FROM published_feeds WHERE sequence = 2').run();
    const before = dbDigest(a.db);
    const res = await a.admin('POST', '/admin/revocation-feeds/publish');
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string; details: unknown } }).error).toMatchObject({
      code: 'log_checkpoint_exists',
      details: { sequence: 2 },
    });
    expect(dbDigest(a.db)).toBe(before);
    expect(a.db.sqlite.prepare("SELECT count(*) FROM audit_events WHERE event_type = 'revocation_feed_published'").pluck().get()).toBe(2);
  });
});
