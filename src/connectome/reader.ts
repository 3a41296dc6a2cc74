// How the routes read the connectome: on a worker thread for a database file, so a rebuild never stalls other requests.
import { ThreadClient } from '../authority/worker-thread.ts';
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

/** Messages to the build worker; every read carries the clock's time, so the worker answers for that instant. */
type Read =
  | { op: 'document'; have: string | null }
  | { op: 'blast-radius'; query: BlastRadiusQuery }
  | { op: 'trust-path'; from: string; to: string }
  | { op: 'dashboard'; options: DashboardOptions };
export type WorkerRequest = (Read & { now: number }) | { op: 'stale' };

/** What the worker answers: the value, and how many builds it has made so far. */
export interface WorkerAnswer {
  builds: number;
  value: string | { etag: string; length: number; body: Uint8Array | null };
}

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

/**
 * Builds and answers on a worker thread with its own read-only connection. The worker is started on
 * the first read and again after a crash; change events are forwarded so it knows when to rebuild.
 * The last document's bytes are kept here, so an unchanged connectome crosses threads once per build.
 */
class WorkerReader implements ConnectomeReader {
  private readonly thread: ThreadClient<WorkerRequest, WorkerAnswer>;
  private last: ConnectomeDocument | null = null;
  private builds = 0;
  private readonly markStale = () => this.thread.notify({ op: 'stale' });

  constructor(
    private readonly deps: ConnectomeServiceDeps,
    data: BuildWorkerData,
  ) {
    this.thread = new ThreadClient('connectome', new URL('./build-worker.ts', import.meta.url), data);
    for (const event of CONNECTOME_EVENTS) deps.changes.on(event, this.markStale);
    deps.background.push({ stop: () => this.close() });
  }

  get buildCount(): number {
    return this.builds;
  }

  private async request(message: Read): Promise<WorkerAnswer['value']> {
    const answer = await this.thread.request({ ...message, now: this.deps.clock().getTime() });
    this.builds = Math.max(this.builds, answer.builds);
    return answer.value;
  }

  async document(): Promise<ConnectomeDocument> {
    const value = (await this.request({ op: 'document', have: this.last?.etag ?? null })) as {
      etag: string;
      length: number;
      body: Uint8Array | null;
    };
    if (value.body === null && this.last?.etag === value.etag) return this.last;
    if (value.body === null) throw new Error('connectome worker: no document bytes for a new build');
    this.last = documentOf(value.etag, value.length, Buffer.from(value.body.buffer, value.body.byteOffset, value.body.byteLength));
    return this.last;
  }

  async blastRadiusText(query: BlastRadiusQuery): Promise<string> {
    return (await this.request({ op: 'blast-radius', query })) as string;
  }

  async trustPathText(from: string, to: string): Promise<string> {
    return (await this.request({ op: 'trust-path', from, to })) as string;
  }

  async dashboardHtml(options: DashboardOptions): Promise<string> {
    return (await this.request({ op: 'dashboard', options })) as string;
  }

  close(): Promise<void> {
    for (const event of CONNECTOME_EVENTS) this.deps.changes.off(event, this.markStale);
    return this.thread.close();
  }
}

const readers = new WeakMap<object, ConnectomeReader>();

/**
 * The one reader of an authority (created on first use): the routes and the static mirror share it,
 * so the connectome is built once per change and both hand out the same bytes.
 */
export function connectomeReaderFor(deps: ConnectomeServiceDeps & { db: { path: string } }): ConnectomeReader {
  let reader = readers.get(deps);
  if (!reader) {
    reader = createConnectomeReader(deps);
    readers.set(deps, reader);
  }
  return reader;
}

/** The reader for an authority: a worker thread for a database file, the calling thread for `:memory:`. */
export function createConnectomeReader(deps: ConnectomeServiceDeps & { db: { path: string } }): ConnectomeReader {
  if (deps.db.path === ':memory:') return new InProcessReader(deps);
  return new WorkerReader(deps, { dbPath: deps.db.path, sovereignId: deps.identity.sovereignId, maxPathLength: deps.config.maxPathLength });
}
