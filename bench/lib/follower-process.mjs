// A follower in a process of its own, the way `accord serve --follow` runs it: plain node, the product loaded by
// bin/accord.mjs (the compiled build when current), startFollower with the bench clock (the data set's treaties and
// attestations are valid at that instant).
// Usage: node bench/lib/follower-process.mjs DATA_DIR PRIMARY_URL NOW PULL_INTERVAL_MS
// Prints `listening URL compiled|source`; `stop` (or the parent going away) ends it.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pino from 'pino';

const REPO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const [dir, primary, now, interval] = process.argv.slice(2);
if (!dir || !primary || !now || !interval) throw new Error('usage: follower-process.mjs DATA_DIR PRIMARY_URL NOW PULL_INTERVAL_MS');
const { importProduct, compiledIsCurrent } = await import(pathToFileURL(path.join(REPO_DIR, 'bin', 'accord.mjs')).href);
const form = compiledIsCurrent() ? 'compiled' : 'source';
const { startFollower } = await importProduct('server/server');
const { defaultConfig } = await importProduct('authority/config');
const { fixedClock } = await importProduct('authority/clock');

const config = defaultConfig({ dataDir: dir, dbPath: path.join(dir, 'accord.db'), host: '127.0.0.1', port: 0, logLevel: 'silent' });
const running = await startFollower(
  config,
  { url: primary, pullIntervalMs: Number(interval) },
  { clock: fixedClock(now), logger: pino({ level: 'silent' }) },
);
const answer = (line) => process.stdout.write(`${line}\n`);
process.stdin.setEncoding('utf8').on('data', async (d) => {
  if (d.includes('stop')) {
    await running.close();
    answer('stopped');
    process.exit(0);
  }
});
process.stdin.on('end', () => process.exit(0));
answer(`listening ${running.url} ${form}`);
