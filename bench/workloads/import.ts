// import: 10 feeds × 10,000 entries through the admin import path (parse, verify, checks, Merkle, inserts, audit)
// against a raw prepared-statement insert of the same rows in one transaction.
import fs from 'node:fs';
import path from 'node:path';
import { operatorActor } from '../../src/authority/admin-auth.ts';
import { importFeedRequest } from '../../src/feeds/import.ts';
import { issuer, issuerFeeds, openBenchAuthority, recognize, scaled, workDir, type BenchAuthority, type Issuer } from '../lib/fixtures.ts';
import { count, elapsedMs, emit, log, now, perSecond, round } from '../lib/harness.ts';
import { IMPORTED_REVOCATION_INSERT, rawInsertMs, rowsOfFeed, type Row } from '../lib/limits.ts';

export const ISSUERS = 2;
export const FEEDS_PER_ISSUER = 5;
export const ENTRIES_PER_FEED = scaled(10_000, 10);

/** Feeds in pull order: every issuer's sequence 1, then every issuer's sequence 2, … */
export function feedSet(issuers: Issuer[], feedsPerIssuer: number, entriesPerFeed: number): string[][] {
  const perIssuer = issuers.map((who, i) => [...issuerFeeds(who, feedsPerIssuer, entriesPerFeed, 1000 + i)]);
  const order: string[][] = [];
  for (let seq = 0; seq < feedsPerIssuer; seq++) order.push(perIssuer.map((feeds) => feeds[seq]!));
  return order;
}

/** Imports request bodies through the same function as POST /admin/revocation-feeds/import. */
export function importAll(authority: BenchAuthority, bodies: Iterable<Buffer>): number {
  const ctx = { actor: operatorActor(authority.operator), requestId: null, via: 'admin' as const };
  let revoked = 0;
  for (const body of bodies) {
    const result = importFeedRequest(authority.deps, body, ctx);
    if (result.status !== 'imported') throw new Error(`feed not imported: ${JSON.stringify(result)}`);
    revoked += result.revoked_count;
  }
  return revoked;
}

export const requestBody = (feedText: string): Buffer => Buffer.from(`{"feed":${feedText}}`, 'utf8');

async function main(): Promise<void> {
  const dir = path.join(workDir(), 'import');
  fs.rmSync(dir, { recursive: true, force: true });
  const issuers = Array.from({ length: ISSUERS }, (_, i) => issuer(i + 1));
  log(`import: generating ${ISSUERS * FEEDS_PER_ISSUER} feeds × ${count(ENTRIES_PER_FEED)} entries`);
  const feeds = feedSet(issuers, FEEDS_PER_ISSUER, ENTRIES_PER_FEED).flat();
  const bodies = feeds.map(requestBody);
  const rows: Row[] = feeds.flatMap(rowsOfFeed);
  const total = rows.length;

  const importRuns: number[] = [];
  const limitRuns: number[] = [];
  for (let round_ = 0; round_ < 2; round_++) {
    limitRuns.push(rawInsertMs(dir, IMPORTED_REVOCATION_INSERT, rows));
    const authority = openBenchAuthority(path.join(dir, `authority-${round_}`));
    await recognize(authority, issuers);
    const started = now();
    const revoked = importAll(authority, bodies);
    importRuns.push(elapsedMs(started));
    if (revoked !== total) throw new Error(`imported ${revoked} revocations, expected ${total}`);
    await authority.close();
    log(`import round ${round_ + 1}: import ${Math.round(importRuns.at(-1)!)} ms, raw insert ${Math.round(limitRuns.at(-1)!)} ms`);
  }
  const figure = total / (Math.min(...importRuns) / 1000);
  const limit = total / (Math.min(...limitRuns) / 1000);
  const ratio = figure / limit;
  emit([
    {
      workload: 'import',
      size: `${count(total)} entries (${feeds.length} feeds)`,
      figure: perSecond(figure),
      limit: perSecond(limit),
      ratio: round(ratio),
      target: '≥ 0.5',
      pass: ratio >= 0.5,
      details: { import_ms: importRuns.map(Math.round), raw_insert_ms: limitRuns.map(Math.round) },
    },
  ]);
  fs.rmSync(dir, { recursive: true, force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
