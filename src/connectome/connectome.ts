// One built connectome: the served document (JCS bytes, digest, gzip) plus the indexes behind the lookup routes.
import { createGzip } from 'node:zlib';
import { AppError } from '../authority/errors.ts';
import type { RevocationKind } from '../log/store.ts';
import { ImpactIndex } from './blast-radius.ts';
import { blastRadiusJson, edgeJson, serializeConnectome, SovereignText } from './document.ts';
import { buildGraph, type Graph } from './graph.ts';
import type { BlastRadiusView, ConnectomeInput } from './model.ts';
import { findTrustPath } from './trust-path.ts';

export interface BlastRadiusQuery {
  id: string;
  issuer?: string;
  type?: RevocationKind;
}

export class Connectome {
  readonly graph: Graph;
  /** The document's bytes in order; `body` joins them on first use. */
  readonly chunks: Buffer[];
  readonly length: number;
  readonly digest: string;
  readonly generatedAt: string;
  /** Weak: rebuilding the same state gives a new generated_at but the same graph. */
  readonly etag: string;
  private readonly text: SovereignText;
  private readonly impacts: ImpactIndex;
  private readonly itemsById = new Map<string, number[]>();
  private joined: Buffer | undefined;
  private gzipped: Promise<Buffer> | undefined;

  constructor(input: ConnectomeInput, options: { sizeHint?: number } = {}) {
    this.graph = buildGraph(input);
    this.text = new SovereignText(this.graph);
    const doc = serializeConnectome(this.graph, { text: this.text, ...options });
    this.chunks = doc.chunks;
    this.length = doc.length;
    this.digest = doc.digest;
    this.generatedAt = doc.generatedAt;
    this.etag = `W/"${doc.digest.slice('sha256:'.length)}"`;
    // Lookups recompute one item's impact on demand (one bounded walk) instead of keeping every list.
    this.impacts = new ImpactIndex(this.graph);
    this.graph.items.forEach((item, i) => {
      const list = this.itemsById.get(item.record.id);
      if (list) list.push(i);
      else this.itemsById.set(item.record.id, [i]);
    });
  }

  /** When the answer changes with no data change (a treaty expires, a feed goes stale), in ms. */
  get nextBoundaryMs(): number {
    return this.graph.nextBoundaryMs;
  }

  get body(): Buffer {
    this.joined ??= this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    return this.joined;
  }

  /**
   * The document gzipped, compressed once per build off the main thread. Large documents use the
   * fastest level: JSON this repetitive still shrinks about tenfold, in a third of the time.
   */
  gzip(): Promise<Buffer> {
    this.gzipped ??= gzipDocument(this.chunks, this.length);
    return this.gzipped;
  }

  edgeText(edge: number): string {
    return edgeJson(this.graph, this.text, edge);
  }

  itemText(item: number): string {
    return blastRadiusJson(this.graph, this.text, this.impacts, this.graph.items[item]!);
  }

  /** How many sovereigns a revoked item affects (direct and downstream). */
  affectedCount(item: number): number {
    return this.impacts.impactOf(this.graph.items[item]!).downstreamNodes.length;
  }

  blastRadiusOf(item: number): BlastRadiusView {
    return JSON.parse(this.itemText(item)) as BlastRadiusView;
  }

  /** Index of the revoked item asked for; 404 when none matches, 409 when the id alone is ambiguous. */
  findItem(query: BlastRadiusQuery): number {
    const matches = (this.itemsById.get(query.id) ?? []).filter((i) => {
      const { record } = this.graph.items[i]!;
      return (
        (query.issuer === undefined || record.issuer_sovereign_id === query.issuer) &&
        (query.type === undefined || record.kind === query.type)
      );
    });
    if (matches.length === 0) throw new AppError('revoked_item_not_found', 'no revoked item with this id', { id: query.id });
    if (matches.length > 1) {
      const candidates = matches.map((i) => ({
        type: this.graph.items[i]!.record.kind,
        issuer_sovereign_id: this.graph.items[i]!.record.issuer_sovereign_id,
      }));
      throw new AppError('ambiguous_revoked_item', 'several revoked items have this id; add issuer or type', { id: query.id, candidates });
    }
    return matches[0]!;
  }

  /** The blast-radius item, byte-identical to its entry in the document. */
  blastRadiusText(query: BlastRadiusQuery): string {
    return this.itemText(this.findItem(query));
  }

  trustPathText(from: string, to: string): string {
    const result = findTrustPath(this.graph, from, to);
    const path = result.path.map((e) => this.edgeText(e)).join(',');
    return `{"from":${JSON.stringify(from)},"hop_count":${result.hop_count},"path":[${path}],"reason":"${result.reason}","to":${JSON.stringify(to)},"trusted":${result.trusted}}`;
  }
}

/** Gzips a document on the zlib thread pool; large documents at the fastest level. */
export function gzipDocument(chunks: Buffer[], length: number): Promise<Buffer> {
  return gzipChunks(chunks, length > 16 * 1024 * 1024 ? 1 : 6);
}

function gzipChunks(chunks: Buffer[], level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const zip = createGzip({ level });
    const out: Buffer[] = [];
    zip.on('data', (chunk: Buffer) => out.push(chunk));
    zip.on('end', () => resolve(Buffer.concat(out)));
    zip.on('error', reject);
    for (const chunk of chunks) zip.write(chunk);
    zip.end();
  });
}

/** Builds the connectome; `sizeHint` (the previous build's length) lets the document be written into one buffer. */
export function buildConnectome(input: ConnectomeInput, options: { sizeHint?: number } = {}): Connectome {
  return new Connectome(input, options);
}
