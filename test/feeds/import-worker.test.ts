// An authority on a database file imports feeds on a worker thread: the same outcomes, rows, audit events,
// metrics and change events as an in-process import, the admin nonce stored in the import's transaction,
// and the serving thread free while a large feed is imported.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { toTimestamp } from '../../src/authority/clock.ts';
import { AppError } from '../../src/authority/errors.ts';
import { feedRequestBody } from '../../src/feeds/feed-page.ts';
import { feedImporterFor } from '../../src/feeds/import-runner.ts';
import type { ImportContext } from '../../src/feeds/import.ts';
import { runPullJob } from '../../src/feeds/pull.ts';
import { auditCount, createTestAuthority, dbDigest, lastAudit, testKey, type TestAuthority } from '../helpers/authority.ts';
import { listen } from './network.ts';
import { recognize, SimulatedIssuer, type Feed } from './simulated-issuer.ts';

const ISSUER = 'issuer-b';
const CTX: ImportContext = { actor: { type: 'system' }, requestId: 'req-1', via: 'admin' };
const FEED_TABLES = ['imported_feeds', 'imported_revocations', 'feed_issuers', 'feed_equivocations', 'equivocation_evidence'];

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function authority(onFile: boolean): TestAuthority {
  const dir = onFile ? fs.mkdtempSync(path.join(os.tmpdir(), 'accord-import-worker-')) : null;
  const a = createTestAuthority({ sovereignId: 'importer', ...(dir ? { dbPath: path.join(dir, 'accord.db') } : {}) });
  if (dir) cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  cleanups.push(async () => {
    await a.close();
    a.db.close();
  });
  recognize(a, ISSUER, [testKey(ISSUER)]);
  return a;
}

const tableExists = (a: TestAuthority, t: string) =>
  a.db.sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;

/** What imports write: the feed tables and the feed audit events (ids and hashes differ between authorities). */
function feedState(a: TestAuthority): unknown {
  const tables = Object.fromEntries(
    FEED_TABLES.filter((t) => tableExists(a, t)).map((t) => [t, a.db.sqlite.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()]),
  );
  const audit = (
    a.db.sqlite.prepare("SELECT canonical FROM audit_events WHERE event_type LIKE '%feed%' ORDER BY seq").all() as Array<{
      canonical: string;
    }>
  ).map((r) => {
    const { event_id: _id, hash: _hash, prev_hash: _prev, seq: _seq, ...rest } = JSON.parse(r.canonical) as Record<string, unknown>;
    return rest;
  });
  return { tables, audit };
}

async function outcome(a: TestAuthority, feed: unknown): Promise<unknown> {
  try {
    return { result: await feedImporterFor(a.deps).importRequest(feedRequestBody(canonicalJson(feed)), CTX) };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { code: err.code, status: err.status, details: err.details };
  }
}

async function importMetrics(a: TestAuthority): Promise<unknown> {
  const metric = await a.deps.metrics.feedImports.get();
  return metric.values
    .map((v) => ({ labels: v.labels, value: v.value }))
    .sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
}

describe('feed imports on a worker thread', () => {
  it('give what an in-process import gives: outcomes, rows, audit, metrics and change events, rejections included', async () => {
    const onFile = authority(true);
    const inMemory = authority(false);
    const events: Record<string, unknown[]> = { file: [], memory: [] };
    onFile.deps.changes.on('feed-imported', (e: unknown) => events.file!.push(e));
    inMemory.deps.changes.on('feed-imported', (e: unknown) => events.memory!.push(e));

    const sim = new SimulatedIssuer(ISSUER, [testKey(ISSUER)], onFile.clock);
    const feeds: unknown[] = [];
    feeds.push(sim.next({ entries: 3 }));
    feeds.push(sim.feeds[0]); // already imported
    const tampered = structuredClone(sim.next({ entries: 2, dryRun: true })) as Feed;
    tampered.entries[1]!.reason = 'superseded';
    feeds.push(tampered); // invalid signature
    feeds.push(sim.next({ entries: 2, dryRun: true, keys: [testKey('stranger')] })); // unknown key
    feeds.push({ ...sim.next({ entries: 1, dryRun: true }), sequence: 5 }); // not the signed sequence
    feeds.push(sim.next({ entries: 2 }));
    feeds.push(sim.next({ entries: 1, dryRun: true, mutate: (f) => ((f.entries as Array<Record<string, unknown>>)[0]!.kind = 'device') }));
    // Equivocation: another feed at an imported sequence, properly signed.
    const fork = new SimulatedIssuer(ISSUER, [testKey(ISSUER)], onFile.clock);
    fork.next({ entries: 3 });
    feeds.push(fork.next({ entries: 4 }));

    const answers: Record<string, unknown[]> = { file: [], memory: [] };
    for (const feed of feeds) {
      answers.file!.push(await outcome(onFile, feed));
      answers.memory!.push(await outcome(inMemory, feed));
    }
    expect(answers.file).toEqual(answers.memory);
    const codes = answers.file!.map((a) =>
      'code' in (a as object) ? (a as { code: string }).code : (a as { result: { status: string } }).result.status,
    );
    expect(codes).toEqual([
      'imported',
      'already_imported',
      'invalid_signature',
      'invalid_signature',
      'invalid_signature',
      'imported',
      'invalid_revocation_feed',
      'equivocation',
    ]);
    expect(feedState(onFile)).toEqual(feedState(inMemory));
    expect(await importMetrics(onFile)).toEqual(await importMetrics(inMemory));
    expect(events.file).toEqual(events.memory);
    expect(events.file).toHaveLength(3);
    const failures = async (a: TestAuthority) =>
      (await a.deps.metrics.signatureVerificationFailures.get()).values.reduce((n, v) => n + v.value, 0);
    expect(await failures(onFile)).toBe(await failures(inMemory));
    expect(await failures(onFile)).toBeGreaterThan(0);
  });

  it('a signed admin import stores its nonce in the import transaction; the replay is refused and changes nothing', async () => {
    const a = authority(true);
    const sim = new SimulatedIssuer(ISSUER, [testKey(ISSUER)], a.clock);
    const body = JSON.stringify({ feed: sim.next({ entries: 2 }) });
    const nonce = 'nonce-import-worker-0123456789';
    const headers = {
      ...signAdminRequest({
        authority: a.sovereignId,
        method: 'POST',
        path: '/admin/revocation-feeds/import',
        body,
        label: a.operator.label,
        key: a.operator.key,
        timestamp: toTimestamp(a.clock()),
        nonce,
      }),
      'Content-Type': 'application/json',
    };
    const send = () => Promise.resolve(a.app.request('/admin/revocation-feeds/import', { method: 'POST', headers, body }));
    const res = await send();
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('imported');
    expect(a.db.sqlite.prepare('SELECT nonce FROM admin_nonces').pluck().all()).toEqual([nonce]);
    // The nonce row was written by the worker's transaction, with the import's audit event.
    const imported = lastAudit(a.db);
    expect(imported.event_type).toBe('sovereign_revocation_feed_imported');

    const digest = dbDigest(a.db);
    const events = auditCount(a.db);
    const replay = await send();
    expect(replay.status).toBe(401);
    const error = ((await replay.json()) as { error: { code: string; details: { reason: string } } }).error;
    expect(error.code).toBe('admin_auth_failed');
    expect(error.details.reason).toBe('nonce_replayed');
    expect(dbDigest(a.db)).toBe(digest);
    expect(auditCount(a.db, 'sovereign_revocation_feed_imported')).toBe(1);
    expect(auditCount(a.db)).toBe(events + 1);
  });

  it('the pull job imports a peer page on the worker while the serving thread keeps answering', async () => {
    const a = authority(true);
    const sim = new SimulatedIssuer(ISSUER, [testKey(ISSUER)], a.clock);
    for (let i = 0; i < 6; i++) sim.next({ entries: 2_000 });
    const peer = new Hono()
      .get('/revocation-feeds/latest', (c) => c.body(canonicalJson(sim.feeds.at(-1)), 200, { 'Content-Type': 'application/json' }))
      .get('/revocation-feeds', (c) => {
        const since = Number(c.req.query('since') ?? 0);
        const after = sim.feeds.filter((f) => f.sequence > since);
        return c.body(canonicalJson({ feeds: after, latest_sequence: sim.sequence, more: false }), 200, {
          'Content-Type': 'application/json',
        });
      })
      .get('/recognition-treaties', (c) => c.json({ treaties: [], next_cursor: null }))
      .post('/revocation-feeds/receipts', (c) => c.json({ accepted: true }));
    const http = await listen(peer.fetch);
    cleanups.push(http.stop);
    expect((await a.admin('POST', '/admin/peers', { sovereign_id: ISSUER, base_url: http.url })).status).toBe(201);

    // Count how often the serving thread gets a turn while the pull runs: an in-process import of
    // 12,000 entries would hold it for the whole page.
    let turns = 0;
    let running = true;
    const tick = () => {
      turns++;
      if (running) setTimeout(tick, 1);
    };
    setTimeout(tick, 1);
    const report = await runPullJob(a.deps);
    running = false;
    expect(report.peers[0]).toMatchObject({ sovereign_id: ISSUER, outcome: 'ok', imported: 6 });
    expect(a.db.sqlite.prepare('SELECT count(*) FROM imported_revocations WHERE issuer_sovereign_id = ?').pluck().get(ISSUER)).toBe(12_000);
    expect(turns).toBeGreaterThan(20);
  });
});
