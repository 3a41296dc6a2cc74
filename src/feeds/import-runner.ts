// Where feed imports run: on a worker thread with its own connection for a database file, so a large
// feed or a page of them never stalls the serving thread; on the calling thread for `:memory:`.
import type { AppDeps } from '../authority/context.ts';
import { fromThreadError, ThreadClient, type ThreadError } from '../authority/worker-thread.ts';
import { ReceivedPages, type LatestReading, type PageReading } from './feed-page.ts';
import { importFeedRequest, liveEffects, type ImportContext, type ImportEffects, type ImportResult } from './import.ts';

/** Imports for one authority. Each import is all-or-nothing and they run one at a time, in call order. */
export interface FeedImporter {
  /** The body of an admin import request (`{"feed": …}`), as received. */
  importRequest(body: Uint8Array, ctx: ImportContext): Promise<ImportResult>;
  /** A peer's answer to the pull job, received where it will be imported. */
  receive(): IncomingPage;
}

/** A peer's answer (a page of feeds, or its latest feed): written in chunks as they arrive, then read whole. */
export interface IncomingPage {
  write(chunk: Uint8Array): void;
  /** Read as a page of feeds, checked whole before any feed in it is imported. */
  readPage(): Promise<PageReading>;
  /** Read as a peer's latest feed, to decide whether there is anything to import. */
  readLatest(): Promise<LatestReading>;
  /** Imports feed `index` of the page (0 for the latest feed). */
  importFeed(index: number, ctx: ImportContext): Promise<ImportResult>;
  discard(): void;
}

/** An import's effects, as recorded on the worker and replayed on the serving thread. */
export type RecordedEffect =
  | { kind: 'counted'; issuerLabel: string; outcome: string }
  | { kind: 'signatureFailure'; reason: string }
  | { kind: 'imported'; issuer: string; sequence: number }
  | { kind: 'equivocation'; issuer: string; sequence: number };

export function recordingEffects(into: RecordedEffect[]): ImportEffects {
  return {
    counted: (issuerLabel, outcome) => into.push({ kind: 'counted', issuerLabel, outcome }),
    signatureFailure: (reason) => into.push({ kind: 'signatureFailure', reason }),
    imported: (issuer, sequence) => into.push({ kind: 'imported', issuer, sequence }),
    equivocation: (issuer, sequence) => into.push({ kind: 'equivocation', issuer, sequence }),
  };
}

function replay(effects: ImportEffects, recorded: readonly RecordedEffect[]): void {
  for (const e of recorded) {
    if (e.kind === 'counted') effects.counted(e.issuerLabel, e.outcome);
    else if (e.kind === 'signatureFailure') effects.signatureFailure(e.reason);
    else if (e.kind === 'imported') effects.imported(e.issuer, e.sequence);
    else effects.equivocation(e.issuer, e.sequence);
  }
}

/** Messages to the import worker. Chunks and discards are notifications; the others are answered. */
export type ImportRequest =
  | { op: 'import'; body: Uint8Array; ctx: ImportContext; now: number }
  | { op: 'import-feed'; page: number; index: number; ctx: ImportContext; now: number }
  | { op: 'chunk'; page: number; bytes: Uint8Array }
  | { op: 'page' | 'latest' | 'discard'; page: number };

export type ImportAnswer =
  | { op: 'import'; outcome: { ok: true; result: ImportResult } | { ok: false; error: ThreadError }; effects: RecordedEffect[] }
  | { op: 'page'; reading: PageReading }
  | { op: 'latest'; reading: LatestReading }
  | { op: 'done' };

/** Data the import worker starts with. */
export interface ImportWorkerData {
  dbPath: string;
  config: AppDeps['config'];
  sovereignId: string;
}

class InProcessImporter implements FeedImporter {
  private readonly pages = new ReceivedPages();
  private nextPage = 1;

  constructor(private readonly deps: AppDeps) {}

  async importRequest(body: Uint8Array, ctx: ImportContext): Promise<ImportResult> {
    return importFeedRequest(this.deps, body, ctx);
  }

  receive(): IncomingPage {
    const page = this.nextPage++;
    const { pages, deps } = this;
    return {
      write: (chunk) => pages.write(page, chunk),
      readPage: async () => pages.readPage(page),
      readLatest: async () => pages.readLatest(page),
      importFeed: async (index, ctx) => importFeedRequest(deps, pages.feedRequest(page, index), ctx),
      discard: () => pages.discard(page),
    };
  }
}

/** How long shutdown waits for an import in flight (it may be inside its transaction). */
const CLOSE_GRACE_MS = 10_000;

class WorkerImporter implements FeedImporter {
  private readonly thread: ThreadClient<ImportRequest, ImportAnswer>;
  private readonly effects: ImportEffects;
  private nextPage = 1;

  constructor(private readonly deps: AppDeps) {
    const data: ImportWorkerData = { dbPath: deps.db.path, config: deps.config, sovereignId: deps.identity.sovereignId };
    this.thread = new ThreadClient('feed import', new URL('./import-worker.ts', import.meta.url), data);
    this.effects = liveEffects(deps);
    deps.background.push({ stop: () => this.thread.close(CLOSE_GRACE_MS) });
  }

  async importRequest(body: Uint8Array, ctx: ImportContext): Promise<ImportResult> {
    // A copy that can be transferred: the caller's buffer may be a slice of a shared pool.
    const copy = new Uint8Array(body);
    const request: ImportRequest = { op: 'import', body: copy, ctx, now: this.deps.clock().getTime() };
    return this.imported(await this.thread.request(request, [copy.buffer]));
  }

  receive(): IncomingPage {
    const page = this.nextPage++;
    const thread = this.thread;
    return {
      write: (chunk) => {
        const copy = new Uint8Array(chunk);
        thread.post({ op: 'chunk', page, bytes: copy }, [copy.buffer]);
      },
      readPage: async () => {
        const answer = await thread.request({ op: 'page', page });
        if (answer.op !== 'page') throw new Error('feed import worker: unexpected answer');
        return answer.reading;
      },
      readLatest: async () => {
        const answer = await thread.request({ op: 'latest', page });
        if (answer.op !== 'latest') throw new Error('feed import worker: unexpected answer');
        return answer.reading;
      },
      importFeed: async (index, ctx) => {
        const request: ImportRequest = { op: 'import-feed', page, index, ctx, now: this.deps.clock().getTime() };
        return this.imported(await thread.request(request));
      },
      discard: () => thread.notify({ op: 'discard', page }),
    };
  }

  /** An import's answer: its effects applied here, its result returned or its rejection thrown. */
  private imported(answer: ImportAnswer): ImportResult {
    if (answer.op !== 'import') throw new Error('feed import worker: unexpected answer');
    replay(this.effects, answer.effects);
    if (!answer.outcome.ok) throw fromThreadError('feed import', answer.outcome.error);
    return answer.outcome.result;
  }
}

const importers = new WeakMap<AppDeps, FeedImporter>();

/**
 * The one importer of an authority (created on first use; routes and the pull job share it, so imports
 * stay in call order). Its worker, if any, is stopped with the authority's background work.
 */
export function feedImporterFor(deps: AppDeps): FeedImporter {
  let importer = importers.get(deps);
  if (!importer) {
    importer = deps.db.path === ':memory:' ? new InProcessImporter(deps) : new WorkerImporter(deps);
    importers.set(deps, importer);
  }
  return importer;
}
