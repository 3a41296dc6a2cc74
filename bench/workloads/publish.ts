// publish: 100,000 logged revocations published into signed feeds by the publish service, against a raw
// prepared-statement insert of the same log rows in one transaction.
import fs from 'node:fs';
import path from 'node:path';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { appendRevocations, type NewRevocationEntry } from '../../src/log/store.ts';
import { openBenchAuthority, prng, revocationEntry, scaled, workDir } from '../lib/fixtures.ts';
import { count, elapsedMs, emit, log, now, perSecond, round } from '../lib/harness.ts';
import { rawInsertMs, type Row } from '../lib/limits.ts';

const REVOCATIONS = scaled(100_000, 100);
/** Revocations reach the log in transactions of this many (bulk revocations by operator key, incidents). */
const LOG_BATCH = 1000;

const LOG_INSERT = 'INSERT INTO revocation_log (idx, kind, id, reason, revoked_at, entry, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?)';

async function main(): Promise<void> {
  const dir = path.join(workDir(), 'publish');
  fs.rmSync(dir, { recursive: true, force: true });
  const random = prng(3000);
  const entries: NewRevocationEntry[] = Array.from({ length: REVOCATIONS }, (_, i) => {
    const { index: _index, ...entry } = revocationEntry(random, i);
    return entry;
  });

  const publishRuns: number[] = [];
  const limitRuns: number[] = [];
  const callRuns: number[] = [];
  let feeds = 0;
  for (let r = 0; r < 2; r++) {
    const authority = openBenchAuthority(path.join(dir, `authority-${r}`));
    const sqlite = authority.db.sqlite;
    for (let i = 0; i < entries.length; i += LOG_BATCH)
      sqlite.transaction(() => appendRevocations(sqlite, entries.slice(i, i + LOG_BATCH)))();
    // The limit writes exactly the log rows the revocations produced.
    const rows = sqlite
      .prepare('SELECT idx, kind, id, reason, revoked_at, entry, leaf_hash FROM revocation_log ORDER BY idx')
      .raw(true)
      .all() as Row[];
    limitRuns.push(rawInsertMs(dir, LOG_INSERT, rows));
    const started = now();
    const result = publishFeeds(authority.deps, { trigger: 'admin' });
    callRuns.push(elapsedMs(started));
    // Work that publishing schedules for right after (change listeners on setImmediate) is part of it.
    await new Promise((resolve) => setImmediate(resolve));
    publishRuns.push(elapsedMs(started));
    const published = result.published.reduce((n, f) => n + f.entry_count, 0);
    if (published !== REVOCATIONS) throw new Error(`published ${published} entries, expected ${REVOCATIONS}`);
    feeds = result.published.length;
    await authority.close();
    log(
      `publish round ${r + 1}: publish ${Math.round(publishRuns.at(-1)!)} ms (the call ${Math.round(callRuns.at(-1)!)} ms; ${feeds} feeds), raw insert ${Math.round(limitRuns.at(-1)!)} ms`,
    );
  }
  const figure = REVOCATIONS / (Math.min(...publishRuns) / 1000);
  const limit = REVOCATIONS / (Math.min(...limitRuns) / 1000);
  const ratio = figure / limit;
  emit([
    {
      workload: 'publish',
      size: `${count(REVOCATIONS)} revocations (${feeds} feeds)`,
      figure: perSecond(figure),
      limit: perSecond(limit),
      ratio: round(ratio),
      target: '≥ 0.5',
      pass: ratio >= 0.5,
      details: {
        publish_ms: publishRuns.map(Math.round),
        publish_call_only_ms: callRuns.map(Math.round),
        raw_insert_ms: limitRuns.map(Math.round),
      },
    },
  ]);
  fs.rmSync(dir, { recursive: true, force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
