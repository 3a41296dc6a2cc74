// An authority served in a process of its own, the way `accord serve` runs it: plain node, the product loaded by
// bin/accord.mjs (the compiled build when current), startAuthority (lock, open, serveHttp); with the bench clock and
// no scheduled jobs, so only the work a benchmark asks for runs. Plain JavaScript so nothing but the product is loaded.
// Usage: node bench/lib/authority-process.mjs DATA_DIR SOVEREIGN_ID OPERATOR_KEYS_JSON NOW (a dir made by openBenchAuthority)
// Prints `listening URL compiled|source`; then answers `delay-reset` (ok), `delay` (JSON: its own event-loop delay
// since the reset) and `stop`.
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pino from 'pino';

const REPO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const [dir, sovereign, operatorKeysJson, now] = process.argv.slice(2);
if (!dir || !sovereign || !operatorKeysJson || !now)
  throw new Error('usage: authority-process.mjs DATA_DIR SOVEREIGN_ID OPERATOR_KEYS_JSON NOW');
const { importProduct, compiledIsCurrent } = await import(pathToFileURL(path.join(REPO_DIR, 'bin', 'accord.mjs')).href);
const form = compiledIsCurrent() ? 'compiled' : 'source';
const { startAuthority } = await importProduct('server/server');
const { defaultConfig } = await importProduct('authority/config');
const { fixedClock } = await importProduct('authority/clock');

const config = defaultConfig({
  dataDir: dir,
  dbPath: path.join(dir, 'accord.db'),
  signingKeyFile: path.join(dir, 'authority-signing-key.json'),
  sovereignId: sovereign,
  host: '127.0.0.1',
  port: 0,
  logLevel: 'silent',
  operatorPublicKeysJson: operatorKeysJson,
});
const running = await startAuthority(config, { clock: fixedClock(now), logger: pino({ level: 'silent' }), background: false });
// The server's own view of its stalls, beside what the prober sees (10 ms resolution: a light timer).
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

const answer = (line) => process.stdout.write(`${line}\n`);
const toMs = (ns) => Math.round(ns / 1e5) / 10;
let partial = '';
process.stdin.setEncoding('utf8').on('data', async (d) => {
  partial += d;
  let nl;
  while ((nl = partial.indexOf('\n')) >= 0) {
    const command = partial.slice(0, nl).trim();
    partial = partial.slice(nl + 1);
    if (command === 'delay-reset') {
      delay.reset();
      answer('ok');
    } else if (command === 'delay') {
      answer(
        JSON.stringify({
          p50_ms: toMs(delay.percentile(50)),
          p99_ms: toMs(delay.percentile(99)),
          max_ms: toMs(delay.max),
          mean_ms: toMs(delay.mean),
        }),
      );
    } else if (command === 'stop') {
      delay.disable();
      await running.close();
      answer('stopped');
      process.exit(0);
    }
  }
});
// The parent going away ends the server too.
process.stdin.on('end', () => process.exit(0));
answer(`listening ${running.url} ${form}`);
