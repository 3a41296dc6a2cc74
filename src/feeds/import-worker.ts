// The feed import worker: its own connection to the database file, the same import code; effects are
// recorded and sent back with each answer, for the serving thread to apply.
import { workerData } from 'node:worker_threads';
import { lowerThreadPriority, serveThreadRequests, toThreadError } from '../authority/worker-thread.ts';
import { openDatabase } from '../db/database.ts';
import { ReceivedPages } from './feed-page.ts';
import { importRequestWith, type ImportContext } from './import.ts';
import { recordingEffects, type ImportAnswer, type ImportRequest, type ImportWorkerData, type RecordedEffect } from './import-runner.ts';

const data = workerData as ImportWorkerData;
const db = openDatabase(data.dbPath, { migrate: false });
let now = 0;
const core = {
  db,
  clock: () => new Date(now),
  config: data.config,
  identity: { sovereignId: data.sovereignId, signingKeys: [], publishedKeys: [] },
};

const pages = new ReceivedPages();

/** One import: the clock frozen at the caller's now, effects recorded (the request's nonce travels in its context). */
function runImport(request: { body: Uint8Array; ctx: ImportContext; now: number }): ImportAnswer {
  now = request.now;
  const effects: RecordedEffect[] = [];
  try {
    const result = importRequestWith({ ...core, effects: recordingEffects(effects) }, request.body, request.ctx);
    return { op: 'import', outcome: { ok: true, result }, effects };
  } catch (err) {
    return { op: 'import', outcome: { ok: false, error: toThreadError(err) }, effects };
  }
}

lowerThreadPriority();
serveThreadRequests<ImportRequest, ImportAnswer>((request) => {
  switch (request.op) {
    case 'import':
      return { value: runImport(request) };
    case 'import-feed':
      return { value: runImport({ ...request, body: pages.feedRequest(request.page, request.index) }) };
    case 'chunk':
      pages.write(request.page, request.bytes);
      return { value: { op: 'done' } };
    case 'page':
      return { value: { op: 'page', reading: pages.readPage(request.page) } };
    case 'latest':
      return { value: { op: 'latest', reading: pages.readLatest(request.page) } };
    case 'discard':
      pages.discard(request.page);
      return { value: { op: 'done' } };
  }
});
