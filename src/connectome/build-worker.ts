// The connectome's worker thread: its own read-only connection, the same service, answers by message.
import { ChangeBus } from '../authority/changes.ts';
import { workerData } from 'node:worker_threads';
import { lowerThreadPriority, serveThreadRequests } from '../authority/worker-thread.ts';
import { openDatabase } from '../db/database.ts';
import { Connectome } from './connectome.ts';
import { answer, type BuildWorkerData, type WorkerAnswer, type WorkerRequest } from './reader.ts';
import { ConnectomeService } from './service.ts';

const data = workerData as BuildWorkerData;
const db = openDatabase(data.dbPath, { readonly: true });
let now = 0;
const service = new ConnectomeService({
  db,
  identity: { sovereignId: data.sovereignId },
  clock: () => new Date(now),
  config: { maxPathLength: data.maxPathLength },
  changes: new ChangeBus(),
  background: [],
});

lowerThreadPriority();
serveThreadRequests<WorkerRequest, WorkerAnswer>((request) => {
  if (request.op === 'stale') {
    service.markStale();
    return { value: { builds: service.buildCount, value: '' } };
  }
  now = request.now;
  const value = answer(service, request);
  if (!(value instanceof Connectome)) return { value: { builds: service.buildCount, value } };
  // Bytes cross only for a build the reader does not hold yet; a copy, so the transfer leaves ours intact.
  if (request.op !== 'document' || request.have === value.etag) {
    return { value: { builds: service.buildCount, value: { etag: value.etag, length: value.length, body: null } } };
  }
  const body = new Uint8Array(value.length);
  body.set(value.body);
  return {
    value: { builds: service.buildCount, value: { etag: value.etag, length: value.length, body } },
    transfer: [body.buffer as ArrayBuffer],
  };
});
