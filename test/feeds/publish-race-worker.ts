// Worker for the publishing race test: a second process-like publisher on the same database file.
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { ChangeBus } from '../../src/authority/changes.ts';
import { defaultConfig } from '../../src/authority/config.ts';
import type { AppDeps } from '../../src/authority/context.ts';
import { signingKeyFromSeed } from '../../src/authority/crypto.ts';
import { createMetrics } from '../../src/authority/metrics.ts';
import { OperatorKeyring } from '../../src/authority/operator-keys.ts';
import { openDatabase } from '../../src/db/database.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';

const { dbPath, sovereignId, seed, rounds, start } = workerData as {
  dbPath: string;
  sovereignId: string;
  seed: number[];
  rounds: number;
  start: string;
};
const db = openDatabase(dbPath);
const key = signingKeyFromSeed(Buffer.from(seed));
let tick = Date.parse(start);
// Only what publishing needs: loading the whole app would make worker start-up dominate the test.
const deps: AppDeps = {
  db,
  clock: () => new Date(tick),
  config: defaultConfig({ logLevel: 'silent', sovereignId }),
  identity: { sovereignId, signingKeys: [key], publishedKeys: [{ key_id: key.keyId, public_key: key.publicKey }] },
  operatorKeys: new OperatorKeyring(() => []),
  logger: pino({ level: 'silent' }),
  metrics: createMetrics(),
  changes: new ChangeBus(),
  background: [],
};
// Start together: report ready, wait for the go signal.
parentPort!.postMessage({ ready: true });
await new Promise((resolve) => parentPort!.once('message', resolve));
let published = 0;
for (let i = 0; i < rounds; i++) {
  tick += 1000;
  published += publishFeeds(deps, { trigger: 'schedule', heartbeat: i % 5 === 0 ? 'force' : 'if_due' }).published.length;
}
db.close();
parentPort!.postMessage({ published });
