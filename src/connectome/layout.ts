// Deterministic server-side layout of the trust graph: this authority at the centre, rings by distance.
import type { Graph } from './graph.ts';

export interface Point {
  x: number;
  y: number;
}

export interface EdgeShape {
  edge: number;
  /** SVG path data, shortened so the arrowhead ends at the target's rim. */
  d: string;
}

export interface GraphLayout {
  width: number;
  height: number;
  /** Drawn nodes in drawing order, with their positions. */
  nodes: Array<{ node: number; at: Point; ring: number; angle: number }>;
  position: Map<number, Point>;
  edges: EdgeShape[];
  /** Sovereigns left out to keep the drawing usable. */
  omitted: number;
  /** How much larger text and nodes are drawn: the picture is scaled down to the panel's width. */
  scale: number;
  nodeRadius: number;
  selfRadius: number;
}

/** Width (in px) the drawing is designed to be shown at. */
const PANEL_WIDTH = 820;

const NODE_RADIUS = 6;
const SELF_RADIUS = 10;
const SPACING = 24; // minimum distance between neighbours on a ring
const SUB_RING_GAP = 22; // distance between the sub-rings of one crowded ring
const RING_GAP = 130; // distance between rings of successive hop counts
const MARGIN = 140; // most room kept for labels outside the outermost node
const FONT_SIZE = 13; // label size at scale 1 (the dashboard multiplies it by `scale`)
const CHAR_WIDTH = 0.62; // average glyph width of the label font, in font sizes

/**
 * Rings by undirected hop distance from this authority; sovereigns not connected to it form the
 * outermost ring. Inside a ring, sovereigns sit near the mean angle of their neighbours on the inner
 * rings (fewer crossings); a crowded ring is split into staggered sub-rings. Everything is derived
 * from sorted ids, so the same graph always gets the same picture.
 */
export function layoutGraph(graph: Graph, maxNodes = 500): GraphLayout {
  const n = graph.ids.length;
  const neighbours: number[][] = Array.from({ length: n }, () => []);
  for (let e = 0; e < graph.edges.length; e++) {
    const a = graph.edgeFrom[e]!;
    const b = graph.edgeTo[e]!;
    neighbours[a]!.push(b);
    neighbours[b]!.push(a);
  }
  for (const list of neighbours) list.sort((x, y) => x - y);

  const self = graph.nodeOf.get(graph.selfId)!;
  const ring = new Int32Array(n).fill(-1);
  ring[self] = 0;
  const chosen = [self];
  for (let i = 0; i < chosen.length && chosen.length < maxNodes; i++) {
    for (const m of neighbours[chosen[i]!]!) {
      if (ring[m] !== -1) continue;
      ring[m] = ring[chosen[i]!]! + 1;
      chosen.push(m);
      if (chosen.length >= maxNodes) break;
    }
  }
  const maxRing = chosen.reduce((max, node) => Math.max(max, ring[node]!), 0);
  for (let node = 0; node < n && chosen.length < maxNodes; node++) {
    if (ring[node] !== -1) continue;
    ring[node] = maxRing + 1;
    chosen.push(node);
  }

  const byRing = new Map<number, number[]>();
  for (const node of chosen) {
    const list = byRing.get(ring[node]!) ?? [];
    list.push(node);
    byRing.set(ring[node]!, list);
  }

  const angle = new Float64Array(n);
  const radius = new Float64Array(n);
  let outer = 0;
  const rings = [...byRing.keys()].sort((a, b) => a - b);
  for (const r of rings) {
    if (r === 0) continue;
    const members = byRing.get(r)!;
    const connected = r <= maxRing;
    const key = new Map<number, number>();
    for (const node of members) {
      let sx = 0;
      let sy = 0;
      for (const m of neighbours[node]!) {
        if (ring[m]! >= 0 && ring[m]! < r) {
          sx += Math.cos(angle[m]!);
          sy += Math.sin(angle[m]!);
        }
      }
      key.set(node, connected && (sx !== 0 || sy !== 0) ? Math.atan2(sy, sx) : 0);
    }
    members.sort((a, b) => key.get(a)! - key.get(b)! || a - b);
    const count = members.length;
    const base = Math.max(outer + RING_GAP, Math.sqrt((SUB_RING_GAP * SPACING * count) / (2 * Math.PI)));
    const subRings = Math.max(1, Math.ceil((SPACING * count) / (2 * Math.PI * base)));
    // Start near the neighbours' mean angle of the first member, so rings line up with their parents.
    const offset = connected ? key.get(members[0]!)! : -Math.PI / 2;
    members.forEach((node, i) => {
      angle[node] = offset + (2 * Math.PI * i) / count;
      radius[node] = base + (i % subRings) * SUB_RING_GAP;
    });
    outer = base + (subRings - 1) * SUB_RING_GAP;
  }

  // The drawing is cut to what it holds, so a small graph is not a thin line in a large empty square:
  // the farthest node on each axis plus room for its label, symmetric so this authority stays centred.
  const offsets = chosen.map((node) => ({
    x: Math.round(radius[node]! * Math.cos(angle[node]!)),
    y: Math.round(radius[node]! * Math.sin(angle[node]!)),
  }));
  let reachX = 0;
  let reachY = 0;
  let longestLabel = 0;
  chosen.forEach((node, i) => {
    reachX = Math.max(reachX, Math.abs(offsets[i]!.x));
    reachY = Math.max(reachY, Math.abs(offsets[i]!.y));
    longestLabel = Math.max(longestLabel, graph.ids[node]!.length);
  });
  const scale = Math.max(1, (2 * Math.ceil(outer + MARGIN)) / PANEL_WIDTH);
  const nodeRadius = Math.round(NODE_RADIUS * Math.min(scale, 1.6) * 10) / 10;
  const selfRadius = Math.round(SELF_RADIUS * Math.min(scale, 1.6) * 10) / 10;
  const fontSize = FONT_SIZE * scale;
  const labelRoom = Math.min(MARGIN * scale, longestLabel * fontSize * CHAR_WIDTH + selfRadius + 12);
  const halfWidth = Math.ceil(reachX + Math.max(labelRoom, selfRadius + 12));
  const halfHeight = Math.ceil(reachY + selfRadius + 2 * fontSize + 12);
  const position = new Map<number, Point>();
  const nodes = chosen.map((node, i) => {
    const at = { x: halfWidth + offsets[i]!.x, y: halfHeight + offsets[i]!.y };
    position.set(node, at);
    return { node, at, ring: ring[node]!, angle: angle[node]! };
  });

  return {
    width: 2 * halfWidth,
    height: 2 * halfHeight,
    nodes,
    position,
    edges: edgeShapes(graph, position, self, nodeRadius, selfRadius),
    omitted: n - chosen.length,
    scale,
    nodeRadius,
    selfRadius,
  };
}

/** Straight lines, or gentle curves when several treaties join the same two sovereigns. */
function edgeShapes(graph: Graph, position: Map<number, Point>, self: number, nodeRadius: number, selfRadius: number): EdgeShape[] {
  const groups = new Map<string, number[]>();
  for (let e = 0; e < graph.edges.length; e++) {
    const a = graph.edgeFrom[e]!;
    const b = graph.edgeTo[e]!;
    if (!position.has(a) || !position.has(b)) continue;
    const key = a < b ? `${a}:${b}` : `${b}:${a}`;
    const list = groups.get(key) ?? [];
    list.push(e);
    groups.set(key, list);
  }
  const shapes: EdgeShape[] = [];
  for (const list of groups.values()) {
    list.forEach((e, k) => {
      const from = position.get(graph.edgeFrom[e]!)!;
      const to = position.get(graph.edgeTo[e]!)!;
      // Offsets are measured against the pair's canonical direction, so A→B and B→A bend apart.
      const [lo, hi] = graph.edgeFrom[e]! < graph.edgeTo[e]! ? [from, to] : [to, from];
      const dx = hi.x - lo.x;
      const dy = hi.y - lo.y;
      const length = Math.hypot(dx, dy) || 1;
      const bend = list.length === 1 ? 0 : (k - (list.length - 1) / 2) * 18;
      const cx = (from.x + to.x) / 2 + (-dy / length) * bend;
      const cy = (from.y + to.y) / 2 + (dx / length) * bend;
      const rim = (graph.edgeTo[e] === self ? selfRadius : nodeRadius) + 3;
      const tx = to.x - cx;
      const ty = to.y - cy;
      const tl = Math.hypot(tx, ty) || 1;
      const end = { x: to.x - (tx / tl) * rim, y: to.y - (ty / tl) * rim };
      const r = (v: number) => Math.round(v * 10) / 10;
      shapes.push({
        edge: e,
        d: bend === 0 ? `M${from.x} ${from.y}L${r(end.x)} ${r(end.y)}` : `M${from.x} ${from.y}Q${r(cx)} ${r(cy)} ${r(end.x)} ${r(end.y)}`,
      });
    });
  }
  return shapes.sort((a, b) => a.edge - b.edge);
}
