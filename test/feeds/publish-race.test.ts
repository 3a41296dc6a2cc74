// Publishing races across connections: several publishers on one database file never duplicate or skip a sequence.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server/app.ts';
import { defaultConfig } from '../../src/authority/config.ts';
import { signingKeyFromSeed } from '../../src/authority/crypto.ts';
import { OperatorKeyring } from '../../src/authority/operator-keys.ts';
import { canonicalHash } from '../../src/authority/crypto.ts';
import { openDatabase } from '../../src/db/database.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { appendRevocations, readLogHead } from '../../src/log/store.ts';
import { createTestAuthority, seedFor, T0 } from '../helpers/authority.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

interface RaceWorker {
  ready: Promise<void>;
  done: Promise<{ published: number }>;
  go(): void;
}

function startWorker(data: Record<string, unknown>): RaceWorker {
  // Workers load plain JavaScript; a one-line bootstrap registers tsx and imports the TypeScript worker.
  const bootstrap = `import { register } from 'tsx/esm/api'; register(); await import(${JSON.stringify(new URL('./publish-race-worker.ts', import.meta.url).href)});`;
  const worker = new Worker(bootstrap, { eval: true, workerData: data });
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const done = new Promise<{ published: number }>((resolve, reject) => {
    worker.on('message', (m: { ready?: boolean; published?: number }) => (m.ready ? onReady() : resolve(m as { published: number })));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
  return { ready, done, go: () => worker.postMessage('go') };
}

describe('publishing races', () => {
  it('two concurrent publishers and a writer on one file: sequences 1..N, each entry exactly once, an unbroken chain', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-race-'));
    dirs.push(dir);
    const dbPath = path.join(dir, 'accord.db');
    const sovereignId = 'racer';
    const setup = createTestAuthority({ sovereignId, dbPath });
    setup.db.close();

    const data = { dbPath, sovereignId, seed: [...seedFor(`authority:${sovereignId}`)], rounds: 60, start: T0 };
    const workers = [startWorker(data), startWorker(data)];
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.go();

    // Meanwhile, revocations keep arriving on another connection.
    const writer = openDatabase(dbPath);
    for (let i = 0; i < 200; i++) {
      writer.sqlite
        .transaction(() =>
          appendRevocations(writer.sqlite, [
            { kind: 'public_key', id: `sha256:${String(i).padStart(64, '0')}`, reason: 'key_compromise', revoked_at: T0 },
          ]),
        )
        .immediate();
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const results = await Promise.all(workers.map((w) => w.done));
    // Drain whatever arrived after the workers stopped.
    const key = signingKeyFromSeed(seedFor(`authority:${sovereignId}`));
    const { deps } = createApp({
      db: writer,
      clock: () => new Date('2026-03-02T00:00:00Z'),
      config: defaultConfig({ logLevel: 'silent', sovereignId }),
      identity: { sovereignId, signingKeys: [key], publishedKeys: [] },
      operatorKeys: new OperatorKeyring(() => []),
      logger: pino({ level: 'silent' }),
    });
    const last = publishFeeds(deps, { trigger: 'schedule' }).published.length;
    const total = results.reduce((n, r) => n + r.published, 0) + last;

    const rows = writer.sqlite
      .prepare('SELECT sequence, body, first_index, entry_count FROM published_feeds ORDER BY sequence')
      .all() as Array<{
      sequence: number;
      body: string;
      first_index: number;
      entry_count: number;
    }>;
    expect(rows.length).toBe(total);
    expect(rows.map((r) => r.sequence)).toEqual(rows.map((_, i) => i + 1));
    const feeds = rows.map(
      (r) => JSON.parse(r.body) as { previous_feed_hash: string | null; entries: Array<{ index: number }>; signatures: unknown },
    );
    // Version 2 chains over the previous feed without its signature list.
    const signedPart = ({ signatures: _signatures, ...signed }: { signatures?: unknown }) => canonicalHash(signed);
    feeds.forEach((f, i) => {
      expect(f.previous_feed_hash).toBe(i === 0 ? null : signedPart(feeds[i - 1]!));
    });
    const indexes = feeds.flatMap((f) => f.entries.map((e) => e.index));
    expect(indexes).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(readLogHead(writer.sqlite).size).toBe(200);
    writer.close();
  }, 60_000);
});
