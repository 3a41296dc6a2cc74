// Revocation blast radius: who accepted a revoked item (directly and over active paths), through which treaties.
import type { Graph, RevokedItem } from './graph.ts';

/** Sovereigns that reach an origin by walking active edges backwards, with their hop counts. */
export interface Reach {
  /** In discovery order (by hop count). */
  nodes: number[];
  hops: number[];
  /** Active edges on some shortest path from a reached sovereign to the origin. */
  carrying: number[];
}

/** Who is affected by one revoked item; shared by every item with the same cause (issuer, or revoked edge). */
export interface Impact {
  /** Direct acceptors, in id order (node indexes are id ranks). */
  direct: Int32Array;
  /** Everyone affected, ordered by (hops, id); the direct acceptors come first at hop 1. */
  downstreamNodes: Int32Array;
  downstreamHops: Uint8Array;
  /** Everyone affected, in id order (the propagation rows). */
  affectedById: Int32Array;
  /** Edge indexes in treaty_id order. */
  carrying: Int32Array;
}

/** Breadth-first walks over the active edges, reusing one distance array across calls. */
export class ReachFinder {
  private readonly dist: Int32Array;

  constructor(private readonly graph: Graph) {
    this.dist = new Int32Array(graph.ids.length).fill(-1);
  }

  /** Sovereigns with an active path of at most `maxHops` edges to `origin` (the origin itself excluded). */
  reverse(origin: number, maxHops: number): Reach {
    const { activeIn, edgeFrom } = this.graph;
    const dist = this.dist;
    const reach: Reach = { nodes: [], hops: [], carrying: [] };
    dist[origin] = 0;
    let frontier = [origin];
    for (let h = 0; h < maxHops && frontier.length > 0; h++) {
      const next: number[] = [];
      for (const v of frontier) {
        for (let k = activeIn.offsets[v]!, end = activeIn.offsets[v + 1]!; k < end; k++) {
          const e = activeIn.edges[k]!;
          const u = edgeFrom[e]!;
          if (dist[u] === -1) {
            dist[u] = h + 1;
            next.push(u);
            reach.nodes.push(u);
            reach.hops.push(h + 1);
            reach.carrying.push(e);
          } else if (dist[u] === h + 1) {
            reach.carrying.push(e);
          }
        }
      }
      frontier = next;
    }
    dist[origin] = -1;
    for (const u of reach.nodes) dist[u] = -1;
    return reach;
  }
}

function impactFrom(graph: Graph, nodes: number[], hops: number[], direct: number[], carrying: number[]): Impact {
  const n = graph.ids.length;
  // (hops, id) order as one number per entry: a numeric typed-array sort, no comparator.
  const keys = new Float64Array(nodes.length);
  for (let i = 0; i < nodes.length; i++) keys[i] = hops[i]! * n + nodes[i]!;
  keys.sort();
  const downstreamNodes = new Int32Array(nodes.length);
  const downstreamHops = new Uint8Array(nodes.length);
  for (let i = 0; i < keys.length; i++) {
    downstreamNodes[i] = keys[i]! % n;
    downstreamHops[i] = Math.floor(keys[i]! / n);
  }
  const carryingByRank = new Float64Array(carrying.length);
  for (let i = 0; i < carrying.length; i++) carryingByRank[i] = graph.edgeTreatyRank[carrying[i]!]!;
  carryingByRank.sort();
  const carryingEdges = new Int32Array(carrying.length);
  for (let i = 0; i < carryingByRank.length; i++) carryingEdges[i] = graph.edgeOfTreatyRank[carryingByRank[i]!]!;
  return {
    direct: Int32Array.from(direct).sort(),
    downstreamNodes,
    downstreamHops,
    affectedById: Int32Array.from(nodes).sort(),
    carrying: carryingEdges,
  };
}

/** Everyone who accepts the issuer's material: direct acceptors and their acceptors, up to the path cap. */
export function issuerImpact(graph: Graph, finder: ReachFinder, issuer: number): Impact {
  const reach = finder.reverse(issuer, graph.maxPathLength);
  const direct = reach.nodes.filter((_, i) => reach.hops[i] === 1);
  return impactFrom(graph, reach.nodes, reach.hops, direct, reach.carrying);
}

function hasActiveEdge(graph: Graph, from: number, to: number): boolean {
  const { activeOut, edgeTo } = graph;
  for (let k = activeOut.offsets[from]!, end = activeOut.offsets[from + 1]!; k < end; k++)
    if (edgeTo[activeOut.edges[k]!] === to) return true;
  return false;
}

/**
 * A revoked treaty from → to: `from` lost its recognition of `to`, and so did everyone whose every path
 * to `to` within the cap ran through that treaty. Hops count the lost path's length to `to`.
 */
export function treatyImpact(graph: Graph, finder: ReachFinder, from: number, to: number | undefined, revokedEdge: number): Impact {
  const cap = graph.maxPathLength;
  const nodes = [from];
  const hops = [1];
  const carrying = revokedEdge >= 0 ? [revokedEdge] : [];
  // A parallel active treaty (a renewal, a replacement) keeps every upstream path intact.
  const viaFrom = to !== undefined && hasActiveEdge(graph, from, to) ? null : finder.reverse(from, cap - 1);
  if (viaFrom && viaFrom.nodes.length > 0) {
    const stillReaches = new Set<number>(to === undefined ? [] : finder.reverse(to, cap).nodes);
    const affected = new Set<number>([from]);
    viaFrom.nodes.forEach((node, i) => {
      if (node === to || stillReaches.has(node)) return;
      affected.add(node);
      nodes.push(node);
      hops.push(viaFrom.hops[i]! + 1);
    });
    for (const e of viaFrom.carrying) if (affected.has(graph.edgeFrom[e]!) && affected.has(graph.edgeTo[e]!)) carrying.push(e);
  }
  return impactFrom(graph, nodes, hops, [from], carrying);
}

/**
 * The sovereign whose impact an item shares with others: the issuer, for attestation and key
 * revocations (all of them reach the issuer's acceptors). A revoked treaty's impact is its own (it
 * depends on the edge), so it has none: -1.
 */
export function sharedIssuerOf(graph: Graph, item: RevokedItem): number {
  return item.record.kind === 'recognition_treaty' ? -1 : graph.nodeOf.get(item.record.issuer_sovereign_id)!;
}

/** Computes impacts; an issuer's impact is computed once and kept, a revoked treaty's is not kept. */
export class ImpactIndex {
  private readonly finder: ReachFinder;
  private readonly byIssuer: Array<Impact | undefined>;

  constructor(private readonly graph: Graph) {
    this.finder = new ReachFinder(graph);
    this.byIssuer = new Array(graph.ids.length);
  }

  impactOf(item: RevokedItem): Impact {
    const { graph } = this;
    const shared = sharedIssuerOf(graph, item);
    if (shared >= 0) return (this.byIssuer[shared] ??= issuerImpact(graph, this.finder, shared));
    const issuer = graph.nodeOf.get(item.record.issuer_sovereign_id)!;
    const subjectId = item.edge >= 0 ? graph.edges[item.edge]!.to : item.record.subject_sovereign_id;
    // An unknown treaty whose entry names no subject: only its issuer is known to be affected.
    if (subjectId === undefined) return impactFrom(graph, [issuer], [1], [issuer], []);
    return treatyImpact(graph, this.finder, issuer, graph.nodeOf.get(subjectId), item.edge);
  }
}
