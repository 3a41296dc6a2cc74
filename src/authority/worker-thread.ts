// Request/reply over a worker thread: work that would stall the event loop (connectome builds, feed
// imports) runs on a thread of its own and answers by message. Both sides of the protocol live here.
import fs from 'node:fs';
import os from 'node:os';
import { parentPort, Worker } from 'node:worker_threads';
import { isErrorCode } from './error-codes.ts';
import { AppError, type ErrorDetails } from './errors.ts';

/** A failure as it crosses threads: an AppError keeps its code, status and details; anything else is internal. */
export type ThreadError = { code: string; status: number; message: string; details: ErrorDetails } | { internal: string };

export type ThreadReply<T> = { id: number; ok: true; value: T } | { id: number; ok: false; error: ThreadError };

export interface ThreadRequest<R> {
  id: number;
  request: R;
}

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void };

const stopping = () => new AppError('service_stopping', 'the authority is shutting down');

/**
 * The serving side. The worker is started on the first request and again after a crash (the requests
 * in flight then fail); `close` lets the request in flight finish before the thread ends, since it may
 * be inside a database transaction.
 */
export class ThreadClient<R, T> {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  /**
   * @param entry the worker module, next to the calling module: `new URL('./x-worker.ts', import.meta.url)`
   *              (the `.js` sibling is loaded when running compiled code).
   */
  constructor(
    private readonly name: string,
    private readonly entry: URL,
    private readonly workerData: unknown,
  ) {}

  private start(): Worker {
    if (this.closed) throw stopping();
    if (this.worker) return this.worker;
    const fromSource = this.entry.href.endsWith('.ts') && import.meta.url.endsWith('.ts');
    const entry = fromSource ? this.entry : new URL(this.entry.href.replace(/\.ts$/, '.js'));
    // Workers load plain JavaScript; from the TypeScript sources a one-line bootstrap registers tsx first.
    const worker = fromSource
      ? new Worker(
          `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register(); await import(${JSON.stringify(entry.href)});`,
          {
            eval: true,
            workerData: this.workerData,
          },
        )
      : new Worker(entry, { workerData: this.workerData });
    worker.unref();
    worker.on('message', (reply: ThreadReply<T>) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.value);
      else waiting.reject(fromThreadError(this.name, reply.error));
    });
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const waiting of this.pending.values()) waiting.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`${this.name} worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  request(request: R, transfer: ArrayBuffer[] = []): Promise<T> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ id, request } satisfies ThreadRequest<R>, transfer);
    });
  }

  /** A message without a reply, started the worker if need be (it is ordered with the requests after it). */
  post(request: R, transfer: ArrayBuffer[] = []): void {
    this.start().postMessage({ id: 0, request } satisfies ThreadRequest<R>, transfer);
  }

  /** A message without a reply (a notification), to a worker that is running; none is started for it. */
  notify(request: R): void {
    this.worker?.postMessage({ id: 0, request } satisfies ThreadRequest<R>);
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** Refuses new requests, waits up to `graceMs` for those in flight, then ends the thread. */
  async close(graceMs = 0): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (graceMs > 0 && this.pending.size > 0) {
      const settled = [...this.pending.values()].map(
        (waiting) =>
          new Promise<void>((done) => {
            const { resolve, reject } = waiting;
            waiting.resolve = (value) => {
              resolve(value);
              done();
            };
            waiting.reject = (err) => {
              reject(err);
              done();
            };
          }),
      );
      await Promise.race([Promise.all(settled), new Promise((done) => setTimeout(done, graceMs).unref())]);
    }
    this.worker = null;
    for (const waiting of this.pending.values()) waiting.reject(stopping());
    this.pending.clear();
    await worker?.terminate();
  }
}

export function fromThreadError(name: string, error: ThreadError): Error {
  if ('internal' in error) return new Error(`${name} worker: ${error.internal}`);
  return isErrorCode(error.code)
    ? new AppError(error.code, error.message, error.details)
    : new Error(`${name} worker: unknown error code ${JSON.stringify(error.code)}`);
}

export function toThreadError(err: unknown): ThreadError {
  return err instanceof AppError
    ? { code: err.code, status: err.status, message: err.message, details: err.details }
    : { internal: err instanceof Error ? err.message : String(err) };
}

/** Nice value of worker threads: when the serving thread and a worker both want a core, the serving thread gets it. */
export const WORKER_NICE = 10;

/**
 * Lowers the calling thread's scheduling priority (Linux, where a thread has its own nice value; elsewhere
 * nothing happens). Called by workers that do heavy work (feed imports, connectome builds), so that on a
 * busy machine they wait for the CPU rather than the serving thread.
 */
export function lowerThreadPriority(nice = WORKER_NICE): void {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isSafeInteger(tid) && tid > 0) os.setPriority(tid, Math.max(os.getPriority(tid), nice));
  } catch {
    // No /proc/thread-self, or not permitted: the thread keeps the process's priority.
  }
}

/**
 * The worker side: answers each request with `handle`'s value (and the buffers to transfer with it).
 * Requests with id 0 are notifications: handled, never answered.
 */
export function serveThreadRequests<R, T>(handle: (request: R) => { value: T; transfer?: ArrayBuffer[] }): void {
  const port = parentPort;
  if (!port) throw new Error('serveThreadRequests runs on a worker thread');
  port.on('message', ({ id, request }: ThreadRequest<R>) => {
    let reply: ThreadReply<T>;
    let transfer: ArrayBuffer[] = [];
    try {
      const answer = handle(request);
      reply = { id, ok: true, value: answer.value };
      transfer = answer.transfer ?? [];
    } catch (err) {
      reply = { id, ok: false, error: toThreadError(err) };
    }
    if (id !== 0) port.postMessage(reply, transfer);
  });
}
