// Writes /connectome.json as JCS bytes in one pass, with its graph_digest; also renders single edges and items.
import { createHash } from 'node:crypto';
import { toTimestamp } from '../authority/clock.ts';
import { ImpactIndex, sharedIssuerOf, type Impact } from './blast-radius.ts';
import type { Graph, RevokedItem } from './graph.ts';

/*
 * Every object is written with its keys already in JCS (code-unit) order and holds only strings,
 * booleans, safe integers and null, so `JSON.stringify` of each value is its JCS form and the whole
 * text is the JCS of the document. Treaty bodies are stored JCS text, embedded verbatim. Items that
 * share a cause share their affected-list text, rendered once per build.
 */

const q = JSON.stringify;

/**
 * Text that depends only on a sovereign, rendered once per build and reused: the quoted id, its
 * downstream row at each hop count, and its propagation row when it has no acknowledgement.
 */
export class SovereignText {
  readonly quoted: string[];
  private readonly downstream: Array<Array<string | undefined>> = [];
  private readonly unknown: Array<string | undefined> = [];

  constructor(graph: Graph) {
    this.quoted = graph.ids.map((id) => q(id));
  }

  downstreamRow(node: number, hops: number): string {
    const byNode = (this.downstream[hops] ??= []);
    return (byNode[node] ??= `{"hops":${hops},"sovereign_id":${this.quoted[node]}}`);
  }

  unknownRow(node: number): string {
    return (this.unknown[node] ??= `{"acknowledged_sequence":null,"caught_up":"unknown","sovereign_id":${this.quoted[node]}}`);
  }
}

export function edgeJson(graph: Graph, text: SovereignText, e: number): string {
  const quoted = text.quoted;
  const edge = graph.edges[e]!;
  return (
    `{"expires_at":${q(edge.expires_at)},"expiry_risk":"${edge.expiry_risk}","from":${quoted[graph.edgeFrom[e]!]},"lifecycle_state":"${edge.lifecycle_state}",` +
    `"roles":${q(edge.roles)},"status":"${edge.status}","to":${quoted[graph.edgeTo[e]!]},"treaty_id":${q(edge.treaty_id)},"valid_from":${q(edge.valid_from)}}`
  );
}

/**
 * `"affected_accepting_sovereigns":[…],"carrying_treaty_ids":[…],"downstream":[…],` of one impact.
 * Built with join, not `+=`: the result is reused for many items and must be a flat string, not a rope.
 */
function impactJson(graph: Graph, text: SovereignText, impact: Impact): string {
  // Plain loops: a callback per call would be re-created (and re-named by the loader) for every item.
  const direct: string[] = new Array(impact.direct.length);
  for (let i = 0; i < direct.length; i++) direct[i] = text.quoted[impact.direct[i]!]!;
  const carrying: string[] = new Array(impact.carrying.length);
  for (let i = 0; i < carrying.length; i++) carrying[i] = q(graph.edges[impact.carrying[i]!]!.treaty_id);
  const downstream: string[] = new Array(impact.downstreamNodes.length);
  for (let i = 0; i < downstream.length; i++) downstream[i] = text.downstreamRow(impact.downstreamNodes[i]!, impact.downstreamHops[i]!);
  return `"affected_accepting_sovereigns":[${direct.join(',')}],"carrying_treaty_ids":[${carrying.join(',')}],"downstream":[${downstream.join(',')}],`;
}

/** For each affected sovereign: has it acknowledged the issuer's feed up to the sequence that carried the revocation? */
function propagationJson(graph: Graph, text: SovereignText, issuer: string, feedSequence: number | undefined, impact: Impact): string {
  const acks = graph.acknowledgements.get(issuer);
  const rows: string[] = new Array(impact.affectedById.length);
  for (let i = 0; i < rows.length; i++) {
    const node = impact.affectedById[i]!;
    const id = graph.ids[node]!;
    const acknowledged = acks?.get(id);
    if (id === issuer) {
      rows[i] = `{"acknowledged_sequence":${feedSequence ?? null},"caught_up":true,"sovereign_id":${text.quoted[node]}}`;
    } else if (acknowledged === undefined) {
      rows[i] = text.unknownRow(node);
    } else {
      const caughtUp = feedSequence !== undefined && acknowledged >= feedSequence;
      rows[i] = `{"acknowledged_sequence":${acknowledged},"caught_up":${caughtUp},"sovereign_id":${text.quoted[node]}}`;
    }
  }
  return `"propagation":[${rows.join(',')}],`;
}

/** Whether the propagation rows depend on the feed sequence (only rows with an acknowledgement, or the issuer's own, do). */
function sequenceMatters(graph: Graph, issuer: string, impact: Impact): boolean {
  const acks = graph.acknowledgements.get(issuer);
  for (const node of impact.affectedById) {
    const id = graph.ids[node]!;
    if (id === issuer || acks?.has(id)) return true;
  }
  return false;
}

function subjectOf(graph: Graph, item: RevokedItem): string | undefined {
  return item.record.subject_sovereign_id ?? (item.edge >= 0 ? graph.edges[item.edge]!.to : undefined);
}

/** The keys a blast-radius item shares with its revoked-material row, split around `propagation`. */
function itemKeys(graph: Graph, item: RevokedItem): [string, string] {
  const { record } = item;
  const subject = subjectOf(graph, item);
  return [
    (record.feed_sequence !== undefined ? `"feed_sequence":${record.feed_sequence},` : '') +
      `"id":${q(record.id)},"issuer_sovereign_id":${q(record.issuer_sovereign_id)},`,
    `"reason":${q(record.reason)},"revoked_at":${q(record.revoked_at)},${subject !== undefined ? `"subject_sovereign_id":${q(subject)},` : ''}"type":"${record.kind}"}`,
  ];
}

/** One blast-radius item, byte-identical to its entry in the document. */
export function blastRadiusJson(graph: Graph, text: SovereignText, impacts: ImpactIndex, item: RevokedItem): string {
  const impact = impacts.impactOf(item);
  const [before, after] = itemKeys(graph, item);
  return `{${impactJson(graph, text, impact)}${before}${propagationJson(graph, text, item.record.issuer_sovereign_id, item.record.feed_sequence, impact)}${after}`;
}

/**
 * An append-only byte sink: strings are encoded straight into large buffers, and bytes written
 * earlier can be appended again by offset, so text shared by many items is rendered once and then
 * copied instead of being kept as strings (which would grow the heap and trigger full collections).
 */
class ByteWriter {
  readonly chunks: Buffer[] = [];
  private current: Buffer;
  private used = 0;
  /** Bytes in the chunks before `current`. */
  private base = 0;

  constructor(sizeHint: number) {
    this.current = Buffer.allocUnsafeSlow(Math.max(64 * 1024, sizeHint));
    this.chunks.push(this.current);
  }

  get pos(): number {
    return this.base + this.used;
  }

  private room(length: number): void {
    if (this.used + length <= this.current.length) return;
    this.chunks[this.chunks.length - 1] = this.current.subarray(0, this.used);
    this.base += this.used;
    this.current = Buffer.allocUnsafeSlow(Math.max(32 * 1024 * 1024, length));
    this.chunks.push(this.current);
    this.used = 0;
  }

  write(text: string): void {
    this.room(text.length * 3);
    this.used += this.current.write(text, this.used);
  }

  /** Appends a copy of the bytes at offsets [start, end). */
  repeat(start: number, end: number): void {
    this.room(end - start);
    let offset = 0;
    for (const chunk of this.chunks) {
      const size = chunk === this.current ? this.used : chunk.length;
      if (offset + size > start) {
        const from = Math.max(start, offset) - offset;
        const to = Math.min(end, offset + size) - offset;
        this.used += chunk.copy(this.current, this.used, from, to);
      }
      offset += size;
      if (offset >= end) break;
    }
  }

  /** Skips `length` bytes, to be filled in later (never split across chunks). */
  reserve(length: number): number {
    this.room(length);
    const at = this.pos;
    this.used += length;
    return at;
  }

  fill(at: number, text: string): void {
    let offset = 0;
    for (const chunk of this.chunks) {
      const size = chunk === this.current ? this.used : chunk.length;
      if (at < offset + size) {
        chunk.write(text, at - offset);
        return;
      }
      offset += size;
    }
  }

  /** All bytes written; a chunk mostly empty is copied out so its spare capacity is not kept alive. */
  finish(): Buffer[] {
    return this.slices(0, this.pos).map((slice) =>
      slice.buffer.byteLength > 1024 * 1024 && slice.length < slice.buffer.byteLength * 0.75 ? Buffer.from(slice) : slice,
    );
  }

  /** The bytes [start, end) as slices of the chunks, without copying. */
  slices(start: number, end: number): Buffer[] {
    const out: Buffer[] = [];
    let offset = 0;
    for (const chunk of this.chunks) {
      const size = chunk === this.current ? this.used : chunk.length;
      if (offset + size > start && offset < end)
        out.push(chunk.subarray(Math.max(start, offset) - offset, Math.min(end, offset + size) - offset));
      offset += size;
      if (offset >= end) break;
    }
    return out;
  }
}

export interface SerializedConnectome {
  /** The document's UTF-8 bytes, in order (not concatenated: it can be hundreds of MiB). */
  chunks: Buffer[];
  length: number;
  /** "sha256:" + hex SHA-256 of the JCS of the document without `generated_at` and `graph_digest`. */
  digest: string;
  generatedAt: string;
}

/** A first guess at the document's size, when no earlier build says better. */
function estimateSize(graph: Graph): number {
  let bodies = 0;
  for (let e = 0; e < graph.edges.length; e++) if (graph.edgeActive[e]) bodies += graph.edgeBodies[e]!.length + 1;
  return bodies + graph.edges.length * 330 + graph.items.length * 1500 + graph.ids.length * 160 + 4096;
}

export interface SerializeOptions {
  text?: SovereignText;
  impacts?: ImpactIndex;
  /** Expected size in bytes (the previous build's): the buffer is allocated once at about that size. */
  sizeHint?: number;
}

export function serializeConnectome(graph: Graph, options: SerializeOptions = {}): SerializedConnectome {
  const text = options.text ?? new SovereignText(graph);
  const quoted = text.quoted;
  const impacts = options.impacts ?? new ImpactIndex(graph);
  const generatedAt = toTimestamp(graph.now);
  const w = new ByteWriter(options.sizeHint !== undefined ? Math.ceil(options.sizeHint * 1.05) + 4096 : estimateSize(graph));

  // active_treaties and authority come before generated_at in key order.
  w.write('{"active_treaties":[');
  let first = true;
  for (let e = 0; e < graph.edges.length; e++) {
    if (!graph.edgeActive[e]) continue;
    w.write(first ? graph.edgeBodies[e]! : `,${graph.edgeBodies[e]!}`);
    first = false;
  }
  w.write(`],"authority":{"max_path_length":${graph.maxPathLength},"sovereign_id":${q(graph.selfId)}},`);
  const headEnd = w.pos;
  // generated_at and graph_digest have a fixed length: their slot is filled once the digest is known.
  const middleAt = w.reserve(Buffer.byteLength(middleText(generatedAt, '0'.repeat(64))));
  const tailStart = w.pos;

  w.write('"recognition_edges":[');
  let revokedEdges = 0;
  let expiredEdges = 0;
  for (let e = 0; e < graph.edges.length; e++) {
    const state = graph.edges[e]!.lifecycle_state;
    if (state === 'revoked' || state === 'replaced') revokedEdges++;
    else if (state === 'expired') expiredEdges++;
    w.write(e > 0 ? `,${edgeJson(graph, text, e)}` : edgeJson(graph, text, e));
  }

  // Text shared by the items of one issuer is written once; later items copy its bytes. Ranges are
  // kept by node index, not by key strings: the affected lists, and the propagation rows when those
  // do not depend on the feed sequence (else by "node:sequence").
  w.write('],"revocation_blast_radius":[');
  const n = graph.ids.length;
  const impactRanges = new Float64Array(2 * n).fill(-1);
  const propagationRanges = new Float64Array(2 * n).fill(-1);
  const propagationBySequence = new Map<string, Float64Array>();
  const bySequence = new Int8Array(n).fill(-1);
  /** Copies the bytes recorded at `slot` if there are any (true), else marks where new text starts (false). */
  const repeated = (ranges: Float64Array, slot: number): boolean => {
    if (ranges[2 * slot]! >= 0) {
      w.repeat(ranges[2 * slot]!, ranges[2 * slot + 1]!);
      return true;
    }
    ranges[2 * slot] = w.pos;
    return false;
  };
  const recorded = (ranges: Float64Array, slot: number) => (ranges[2 * slot + 1] = w.pos);
  // Revoked-material rows share their keys with the items: they go to a second writer in the same
  // pass (appended afterwards), so no per-item text has to be kept until then.
  const rest = new ByteWriter(graph.items.length * 220 + graph.ids.length * 160 + 4096);
  rest.write('],"revoked_trust_material":[');
  let imported = 0;
  graph.items.forEach((item, i) => {
    const { record } = item;
    if (record.issuer_sovereign_id !== graph.selfId) imported++;
    const impact = impacts.impactOf(item);
    const [before, after] = itemKeys(graph, item);
    w.write(i ? ',{' : '{');
    const issuer = sharedIssuerOf(graph, item);
    if (issuer < 0) {
      w.write(impactJson(graph, text, impact));
      w.write(before);
      w.write(propagationJson(graph, text, record.issuer_sovereign_id, record.feed_sequence, impact));
    } else {
      if (!repeated(impactRanges, issuer)) {
        w.write(impactJson(graph, text, impact));
        recorded(impactRanges, issuer);
      }
      w.write(before);
      if (bySequence[issuer] === -1) bySequence[issuer] = sequenceMatters(graph, record.issuer_sovereign_id, impact) ? 1 : 0;
      let ranges: Float64Array = propagationRanges;
      let slot = issuer;
      if (bySequence[issuer] === 1) {
        const key = `${issuer}:${record.feed_sequence ?? ''}`;
        ranges = propagationBySequence.get(key) ?? new Float64Array([-1, -1]);
        propagationBySequence.set(key, ranges);
        slot = 0;
      }
      if (!repeated(ranges, slot)) {
        w.write(propagationJson(graph, text, record.issuer_sovereign_id, record.feed_sequence, impact));
        recorded(ranges, slot);
      }
    }
    w.write(after);
    rest.write(`${i ? ',' : ''}{${before}${after}`);
  });

  let stale = 0;
  rest.write('],"sovereigns":[');
  graph.ids.forEach((id, i) => {
    const feed = graph.feeds.get(id);
    if (feed?.stale) stale++;
    const feedText = feed
      ? `{"imported_sequence":${feed.imported_sequence},"last_import_at":${q(feed.last_import_at)},"next_update":${q(feed.next_update)},"paused":${feed.paused},"stale":${feed.stale}}`
      : 'null';
    rest.write(`${i ? ',' : ''}{"feed":${feedText},"is_self":${id === graph.selfId},"sovereign_id":${quoted[i]}}`);
  });
  rest.write(
    `],"summary":{"active_edge_count":${graph.activeOut.edges.length},"expired_edge_count":${expiredEdges},"imported_revocation_count":${imported},` +
      `"recognition_edge_count":${graph.edges.length},"revoked_edge_count":${revokedEdges},"revoked_trust_material_count":${graph.items.length},` +
      `"sovereign_count":${graph.ids.length},"stale_issuer_count":${stale}}}`,
  );

  const hash = createHash('sha256');
  for (const slice of w.slices(0, headEnd)) hash.update(slice);
  for (const slice of w.slices(tailStart, w.pos)) hash.update(slice);
  const restChunks = rest.finish();
  for (const chunk of restChunks) hash.update(chunk);
  const digestHex = hash.digest('hex');
  w.fill(middleAt, middleText(generatedAt, digestHex));
  const chunks = [...w.finish(), ...restChunks];
  return { chunks, length: w.pos + rest.pos, digest: `sha256:${digestHex}`, generatedAt };
}

function middleText(generatedAt: string, digestHex: string): string {
  return `"generated_at":${q(generatedAt)},"graph_digest":"sha256:${digestHex}",`;
}
