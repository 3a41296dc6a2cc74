// The connectome's worker thread: its own read-only connection, the same service, answers by message.
import { EventEmitter } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../authority/errors.ts';
import { openDatabase } from '../db/database.ts';
import { Connectome } from './connectome.ts';
import { answer, type BuildWorkerData, type WorkerReply, type WorkerRequest } from './reader.ts';
import { ConnectomeService } from './service.ts';

const data = workerData as BuildWorkerData;
const port = parentPort!;
const db = openDatabase(data.dbPath, { readonly: true });
let now = 0;
const service = new ConnectomeService({
  db,
  identity: { sovereignId: data.sovereignId },
  clock: () => new Date(now),
  config: { maxPathLength: data.maxPathLength },
  changes: new EventEmitter(),
  background: [],
});

port.on('message', (request: WorkerRequest) => {
  if (request.op === 'stale') {
    service.markStale();
    return;
  }
  now = request.now;
  let reply: WorkerReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const value = answer(service, request);
    if (value instanceof Connectome) {
      // Bytes cross only for a build the reader does not hold yet; a copy, so the transfer leaves ours intact.
      let body: Uint8Array | null = null;
      if (request.op === 'document' && request.have !== value.etag) {
        body = new Uint8Array(value.length);
        body.set(value.body);
        transfer.push(body.buffer as ArrayBuffer);
      }
      reply = { id: request.id, ok: true, builds: service.buildCount, value: { etag: value.etag, length: value.length, body } };
    } else {
      reply = { id: request.id, ok: true, builds: service.buildCount, value };
    }
  } catch (err) {
    reply =
      err instanceof AppError
        ? { id: request.id, ok: false, builds: service.buildCount, error: { code: err.code, status: err.status, message: err.message, details: err.details } }
        : { id: request.id, ok: false, builds: service.buildCount, error: { internal: err instanceof Error ? err.message : String(err) } };
  }
  port.postMessage(reply, transfer);
});
