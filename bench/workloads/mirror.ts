// mirror: the static mirror served by nginx (ops/nginx/accord-mirror.conf, Debian's /usr/sbin/nginx, one
// worker) against Accord serving the same routes, at 20 connections, in the same run: sequenced feeds and
// the latest one, full tiles and entry bundles, and the connectome's gzip answer. Also how long writing the
// whole mirror takes, and one update after a publication.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { appendRevocations, type NewRevocationEntry } from '../../src/log/store.ts';
import { authorityMirrorInputs } from '../../src/mirror/inputs.ts';
import { MirrorWriter } from '../../src/mirror/mirror.ts';
import { issueTreaty } from '../../src/treaties/service.ts';
import { formatTilePath } from '../../src/transparency/tile-format.ts';
import { NGINX_AVAILABLE, NGINX_MISSING_REASON, startNginx } from '../../test/helpers/nginx.ts';
import { issuer, openBenchAuthority, prng, revocationEntry, scaled, SCALE, workDir } from '../lib/fixtures.ts';
import { count, elapsedMs, emit, log, mib, now, perSecond, round, type ResultRow } from '../lib/harness.ts';
import type { LoadResult } from '../lib/load.ts';
import { runGetLoad, runLoad, serveAuthority } from '../lib/serve.ts';

const LOG_SIZE = scaled(100_000, 2000);
const FEED_ENTRIES = 100;
const TREATIES = scaled(2000, 100);
const CONNECTIONS = 20;
const DURATION_S = Math.max(3, Math.round(10 * SCALE));
const ROUNDS = 2;

interface Mix {
  name: string;
  size: string;
  paths: string[];
  headers?: Record<string, string>;
}

async function main(): Promise<void> {
  if (!NGINX_AVAILABLE) {
    emit([
      {
        workload: 'mirror',
        size: '—',
        figure: NGINX_MISSING_REASON,
        limit: '—',
        ratio: null,
        target: 'nginx serving the mirror ≥ 1.0× Accord',
        pass: false,
      },
    ]);
    return;
  }
  const dir = path.join(workDir(), 'mirror');
  fs.rmSync(dir, { recursive: true, force: true });
  log(`mirror: ${count(LOG_SIZE)} revocations in feeds of ${FEED_ENTRIES}, ${count(TREATIES)} treaties`);
  const authority = openBenchAuthority(path.join(dir, 'authority'));
  const sqlite = authority.db.sqlite;
  const random = prng(7700);
  for (let from = 0; from < LOG_SIZE; from += FEED_ENTRIES) {
    const batch: NewRevocationEntry[] = Array.from({ length: Math.min(FEED_ENTRIES, LOG_SIZE - from) }, (_, i) => {
      const { index: _index, ...entry } = revocationEntry(random, from + i);
      return entry;
    });
    sqlite.transaction(() => appendRevocations(sqlite, batch))();
    publishFeeds(authority.deps, { trigger: 'admin' });
  }
  for (let i = 0; i < TREATIES; i++) {
    issueTreaty(authority.deps, {
      subject_sovereign_id: issuer(i).id,
      subject_public_keys: [issuer(i).key.publicKey],
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 24 * 90,
    });
  }
  const feeds = sqlite.prepare('SELECT max(sequence) FROM published_feeds').pluck().get() as number;

  // The mirror in a directory nginx's worker user can read (the bench work dir is private).
  const mirrorRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-bench-mirror-'));
  fs.chmodSync(mirrorRoot, 0o755);
  const mirrorDir = path.join(mirrorRoot, 'mirror');
  const writer = new MirrorWriter(mirrorDir, authorityMirrorInputs(authority.deps));
  const writeStarted = now();
  const full = await writer.sync();
  const fullMs = elapsedMs(writeStarted);
  sqlite.transaction(() => appendRevocations(sqlite, [(({ index: _i, ...e }) => e)(revocationEntry(random, LOG_SIZE))]))();
  publishFeeds(authority.deps, { trigger: 'admin' });
  const updateStarted = now();
  const update = await writer.sync();
  const updateMs = elapsedMs(updateStarted);
  log(
    `mirror: written in ${Math.round(fullMs)} ms (${full.files_written} files, ${mib(full.bytes_written)}); one publication: ${Math.round(updateMs)} ms`,
  );

  const served = await serveAuthority(authority);
  const nginx = await startNginx(mirrorDir, { workers: 1 });
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
  const fullTiles = Math.floor((LOG_SIZE + 1) / 256);
  const tileIndexes = Array.from({ length: fullTiles }, (_, i) => i);
  const mixes: Mix[] = [
    {
      name: 'feeds',
      size: `${count(feeds + 1)} feeds of ${FEED_ENTRIES} entries: sequenced (9 in 10) and latest`,
      paths: Array.from({ length: 10_000 }, (_, i) =>
        i % 10 === 9 ? '/revocation-feeds/latest' : `/revocation-feeds/${1 + Math.floor(random() * feeds)}`,
      ),
    },
    {
      name: 'tiles',
      size: `full level-0 tiles and entry bundles of a ${count(LOG_SIZE + 1)}-entry log`,
      paths: Array.from(
        { length: 10_000 },
        (_, i) => `/log/tile/${formatTilePath({ level: i % 2 === 0 ? 0 : 'entries', index: pick(tileIndexes), width: 256 })}`,
      ),
    },
    {
      name: 'connectome',
      size: `/connectome.json gzip (${mib(fs.statSync(path.join(mirrorDir, 'connectome.json.gz')).size)}; ${count(TREATIES)} treaties)`,
      paths: ['/connectome.json'],
      headers: { 'accept-encoding': 'gzip' },
    },
  ];

  const rows: ResultRow[] = [];
  try {
    for (const mix of mixes) {
      const pathsFile = path.join(dir, `${mix.name}-paths.json`);
      fs.writeFileSync(pathsFile, JSON.stringify(mix.paths));
      // Many small files: autocannon. The connectome's megabytes: node:http connections (autocannon's parser
      // completes no large response in time), each sending its next GET once the answer has arrived.
      const load = (url: string): Promise<LoadResult> =>
        mix.headers
          ? runGetLoad({ url, path: mix.paths[0]!, connections: CONNECTIONS, durationSeconds: DURATION_S, headers: mix.headers })
          : runLoad({ url, path: mix.paths[0]!, connections: CONNECTIONS, durationSeconds: DURATION_S, mode: 'get-paths', pathsFile });
      const accord: LoadResult[] = [];
      const mirror: LoadResult[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        log(`mirror ${mix.name}: round ${r + 1}, Accord then nginx, ${CONNECTIONS} connections for ${DURATION_S} s each`);
        accord.push(await load(served.url));
        mirror.push(await load(nginx.url));
      }
      const best = (results: LoadResult[]) => results.reduce((a, b) => (b.rps > a.rps ? b : a));
      const a = best(accord);
      const m = best(mirror);
      const allOk = [...accord, ...mirror].every((x) => (x.status['200'] ?? 0) === x.requests && x.errors === 0 && x.timeouts === 0);
      const ratio = m.rps / a.rps;
      rows.push({
        workload: `mirror ${mix.name}`,
        size: `${mix.size}; ${CONNECTIONS} connections, ${DURATION_S} s`,
        figure: `nginx: ${perSecond(m.rps, 'req')}; p50 ${m.latency_ms.p50} ms, p99 ${m.latency_ms.p99} ms`,
        limit: `Accord, same routes: ${perSecond(a.rps, 'req')}; p50 ${a.latency_ms.p50} ms, p99 ${a.latency_ms.p99} ms`,
        ratio: round(ratio),
        target: '≥ 1.0× Accord',
        pass: ratio >= 1 && allOk,
        details: {
          all_200: allOk,
          accord_rps: accord.map((x) => Math.round(x.rps)),
          nginx_rps: mirror.map((x) => Math.round(x.rps)),
          accord: a,
          nginx: m,
          ...(mix.name === 'feeds'
            ? {
                mirror_write_ms: Math.round(fullMs),
                mirror_files: full.files_written,
                mirror_bytes: full.bytes_written,
                mirror_update_ms: Math.round(updateMs),
                mirror_update_heads_ms: update.heads_ms,
                mirror_update_files: update.files_written,
              }
            : {}),
        },
      });
    }
  } finally {
    await nginx.stop();
    await served.close();
    await authority.close();
    fs.rmSync(mirrorRoot, { recursive: true, force: true });
  }
  emit(rows);
}

await main();
