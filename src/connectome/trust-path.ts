// Trust path: the shortest chain of active treaties from one sovereign to another, within the path cap.
import type { Graph } from './graph.ts';
import type { TrustPathReason } from './model.ts';

export interface TrustPathResult {
  from: string;
  to: string;
  trusted: boolean;
  reason: TrustPathReason;
  /** Edge indexes, in path order. */
  path: number[];
  hop_count: number;
}

/**
 * Breadth-first over active edges (in (to, treaty_id) order, so the answer is deterministic), at most
 * `maxPathLength` hops: trust that needs a longer chain is not trust this network accepts.
 */
export function findTrustPath(graph: Graph, from: string, to: string): TrustPathResult {
  if (from === to) return { from, to, trusted: true, reason: 'same_sovereign', path: [], hop_count: 0 };
  const source = graph.nodeOf.get(from);
  const target = graph.nodeOf.get(to);
  if (source !== undefined && target !== undefined) {
    const path = shortestActivePath(graph, source, target);
    if (path) return { from, to, trusted: true, reason: 'active_treaty_path', path, hop_count: path.length };
  }
  const revoked = graph.revokedDirect.get(`${from}\u0000${to}`);
  if (revoked !== undefined) return { from, to, trusted: false, reason: 'direct_treaty_revoked', path: [revoked], hop_count: 0 };
  return { from, to, trusted: false, reason: 'no_active_treaty_path', path: [], hop_count: 0 };
}

function shortestActivePath(graph: Graph, source: number, target: number): number[] | null {
  const { activeOut, edgeTo } = graph;
  const via = new Map<number, number>([[source, -1]]);
  let frontier = [source];
  for (let h = 0; h < graph.maxPathLength && frontier.length > 0; h++) {
    const next: number[] = [];
    for (const v of frontier) {
      for (let k = activeOut.offsets[v]!, end = activeOut.offsets[v + 1]!; k < end; k++) {
        const e = activeOut.edges[k]!;
        const u = edgeTo[e]!;
        if (via.has(u)) continue;
        via.set(u, e);
        if (u === target) return unwind(graph, via, target);
        next.push(u);
      }
    }
    frontier = next;
  }
  return null;
}

function unwind(graph: Graph, via: Map<number, number>, target: number): number[] {
  const path: number[] = [];
  for (let e = via.get(target)!; e >= 0; e = via.get(graph.edgeFrom[e]!)!) path.push(e);
  return path.reverse();
}
