// How the routes read the connectome: on a worker thread for a database file, so a rebuild never stalls other requests.
import { Worker } from 'node:worker_threads';
import { AppError, type ErrorDetails } from '../authority/errors.ts';
import { gzipDocument, type BlastRadiusQuery, type Connectome } from './connectome.ts';
import { renderDashboard, type DashboardOptions } from './dashboard.tsx';
import { CONNECTOME_EVENTS, ConnectomeService, type ConnectomeServiceDeps } from './service.ts';

/** The served document of one build. */
export interface ConnectomeDocument {
  etag: string;
  length: number;
  body: Buffer;
  /** The body gzipped, compressed once per build. */
  gzip(): Promise<Buffer>;
}

function documentOf(etag: string, length: number, body: Buffer): ConnectomeDocument {
  let gzipped: Promise<Buffer> | undefined;
  return { etag, length, body, gzip: () => (gzipped ??= gzipDocument([body], length)) };
}

/** The four reads behind the connectome routes. */
export interface ConnectomeReader {
  document(): Promise<ConnectomeDocument>;
  blastRadiusText(query: BlastRadiusQuery): Promise<string>;
  trustPathText(from: string, to: string): Promise<string>;
  dashboardHtml(options: DashboardOptions): Promise<string>;
  /** Builds so far (for tests and the operator's curiosity). */
  readonly buildCount: number;
}

/** Messages to the build worker; every request carries the clock's time, so the worker answers for that instant. */
type Read =
  | { op: 'document'; have: string | null }
  | { op: 'blast-radius'; query: BlastRadiusQuery }
  | { op: 'trust-path'; from: string; to: string }
  | { op: 'dashboard'; options: DashboardOptions };
export type WorkerRequest = (Read & { id: number; now: number }) | { op: 'stale' };

export type WorkerReply =
  | { id: number; ok: true; builds: number; value: string | { etag: string; length: number; body: Uint8Array | null } }
  | { id: number; ok: false; builds: number; error: { code: string; status: number; message: string; details: ErrorDetails } | { internal: string } };

/** Answers one request from a service; shared by the worker and the in-process reader so both answer alike. */
export function answer(service: ConnectomeService, request: Read): string | Connectome {
  const current = service.get();
  switch (request.op) {
    case 'document':
      return current;
    case 'blast-radius':
      return current.blastRadiusText(request.query);
    case 'trust-path':
      return current.trustPathText(request.from, request.to);
    case 'dashboard':
      return renderDashboard(current, request.options);
  }
}

/** Builds on the calling thread: for `:memory:` databases, which another thread cannot open. */
class InProcessReader implements ConnectomeReader {
  private readonly service: ConnectomeService;

  constructor(deps: ConnectomeServiceDeps) {
    this.service = new ConnectomeService(deps);
  }

  get buildCount(): number {
    return this.service.buildCount;
  }

  async document(): Promise<ConnectomeDocument> {
    const current = this.service.get();
    return { etag: current.etag, length: current.length, body: current.body, gzip: () => current.gzip() };
  }

  async blastRadiusText(query: BlastRadiusQuery): Promise<string> {
    return answer(this.service, { op: 'blast-radius', query }) as string;
  }

  async trustPathText(from: string, to: string): Promise<string> {
    return answer(this.service, { op: 'trust-path', from, to }) as string;
  }

  async dashboardHtml(options: DashboardOptions): Promise<string> {
    return answer(this.service, { op: 'dashboard', options }) as string;
  }
}

/** Data the build worker starts with. */
export interface BuildWorkerData {
  dbPath: string;
  sovereignId: string;
  maxPathLength: number;
}

type Pending = { resolve: (reply: WorkerReply & { ok: true }) => void; reject: (err: Error) => void };

/**
 * Builds and answers on a worker thread with its own read-only connection. The worker is started on
 * the first read and again after a crash; change events are forwarded so it knows when to rebuild.
 * The last document's bytes are kept here, so an unchanged connectome crosses threads once per build.
 */
class WorkerReader implements ConnectomeReader {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private last: ConnectomeDocument | null = null;
  private builds = 0;
  private closed = false;
  private readonly markStale = () => this.worker?.postMessage({ op: 'stale' } satisfies WorkerRequest);

  constructor(
    private readonly deps: ConnectomeServiceDeps,
    private readonly data: BuildWorkerData,
  ) {
    for (const event of CONNECTOME_EVENTS) deps.changes.on(event, this.markStale);
    deps.background.push({ stop: () => this.close() });
  }

  get buildCount(): number {
    return this.builds;
  }

  private start(): Worker {
    if (this.closed) throw new AppError('service_stopping', 503, 'the authority is shutting down');
    if (this.worker) return this.worker;
    const fromSource = import.meta.url.endsWith('.ts');
    const entry = new URL(fromSource ? './build-worker.ts' : './build-worker.js', import.meta.url);
    // Workers load plain JavaScript; from the TypeScript sources a one-line bootstrap registers tsx first.
    const worker = fromSource
      ? new Worker(`const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register(); await import(${JSON.stringify(entry.href)});`, {
          eval: true,
          workerData: this.data,
        })
      : new Worker(entry, { workerData: this.data });
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      this.builds = Math.max(this.builds, reply.builds);
      if (reply.ok) waiting.resolve(reply);
      else if ('internal' in reply.error) waiting.reject(new Error(`connectome worker: ${reply.error.internal}`));
      else waiting.reject(new AppError(reply.error.code, reply.error.status, reply.error.message, reply.error.details));
    });
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const waiting of this.pending.values()) waiting.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`connectome worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private request(message: Read): Promise<WorkerReply & { ok: true }> {
    const worker = this.start();
    const id = this.nextId++;
    const full: WorkerRequest = { ...message, id, now: this.deps.clock().getTime() };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage(full);
    });
  }

  async document(): Promise<ConnectomeDocument> {
    const reply = await this.request({ op: 'document', have: this.last?.etag ?? null });
    const value = reply.value as { etag: string; length: number; body: Uint8Array | null };
    if (value.body === null && this.last?.etag === value.etag) return this.last;
    if (value.body === null) throw new Error('connectome worker: no document bytes for a new build');
    this.last = documentOf(value.etag, value.length, Buffer.from(value.body.buffer, value.body.byteOffset, value.body.byteLength));
    return this.last;
  }

  async blastRadiusText(query: BlastRadiusQuery): Promise<string> {
    return (await this.request({ op: 'blast-radius', query })).value as string;
  }

  async trustPathText(from: string, to: string): Promise<string> {
    return (await this.request({ op: 'trust-path', from, to })).value as string;
  }

  async dashboardHtml(options: DashboardOptions): Promise<string> {
    return (await this.request({ op: 'dashboard', options })).value as string;
  }

  close(): void {
    this.closed = true;
    for (const event of CONNECTOME_EVENTS) this.deps.changes.off(event, this.markStale);
    const worker = this.worker;
    this.worker = null;
    for (const waiting of this.pending.values()) waiting.reject(new AppError('service_stopping', 503, 'the authority is shutting down'));
    this.pending.clear();
    void worker?.terminate();
  }
}

/** The reader for an authority: a worker thread for a database file, the calling thread for `:memory:`. */
export function createConnectomeReader(deps: ConnectomeServiceDeps & { db: { path: string } }): ConnectomeReader {
  if (deps.db.path === ':memory:') return new InProcessReader(deps);
  return new WorkerReader(deps, { dbPath: deps.db.path, sovereignId: deps.identity.sovereignId, maxPathLength: deps.config.maxPathLength });
}
