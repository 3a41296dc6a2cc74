// WAL checkpoints off the request path: a worker thread with its own connection copies committed pages
// from the write-ahead log into the database file, so commits on the serving connection stay short.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Pages the serving connection lets the WAL grow to before it checkpoints itself (the safety net). */
export const SERVING_WAL_AUTOCHECKPOINT_PAGES = 10_000;
const DEFAULT_INTERVAL_MS = 250;
/** How long closing waits for a checkpoint in progress to finish. */
const STOP_WAIT_MS = 10_000;

export interface Checkpointer {
  /** Stops the worker and closes its connection; returns once it is closed (or after 10 s). */
  stop(): void;
}

// The worker is plain CommonJS evaluated from this string, so it runs the same way from sources and from compiled code.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const state = new Int32Array(workerData.state);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or interrupted: the next tick tries again, and the serving connection's own checkpoint is the safety net.
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
  parentPort.close();
});
`;

/**
 * Starts the background checkpointer of a WAL database file. PASSIVE checkpoints never wait for
 * readers or writers; frames a reader still needs stay in the log until the next tick.
 */
export function startCheckpointer(dbPath: string, options: { intervalMs?: number } = {}): Checkpointer {
  const state = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      path: dbPath,
      intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS,
      state,
    },
  });
  worker.unref();
  let failed = false;
  worker.on('error', () => {
    // A worker that cannot run leaves checkpoints to the serving connection, as before.
    failed = true;
  });
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (failed) return;
      worker.postMessage('stop');
      Atomics.wait(new Int32Array(state), 0, 0, STOP_WAIT_MS);
    },
  };
}
