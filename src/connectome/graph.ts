// The indexed trust graph at one instant: interned sovereigns, edges with lifecycle, active adjacency, revoked items.
import { isInForce, lifecycleAt } from '../treaties/lifecycle.ts';
import { REVOCATION_KINDS, type RevocationKind } from '../log/store.ts';
import type { ConnectomeInput, EdgeView, FeedView, RevocationRecord, TreatyRecord } from './model.ts';

/** Code-unit order, the order JCS uses for keys; used for every sort so output never depends on locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compressed adjacency: the edge indexes of node `n` are `edges[offsets[n] .. offsets[n + 1])`. */
export interface Adjacency {
  offsets: Int32Array;
  edges: Int32Array;
}

export interface RevokedItem {
  record: RevocationRecord;
  /** Index of the revoked treaty's edge, for `recognition_treaty` items whose treaty is known. */
  edge: number;
}

export interface Graph {
  selfId: string;
  now: Date;
  maxPathLength: number;
  /** Sovereign ids in code-unit order; a node's index is its rank, so sorting indexes sorts ids. */
  ids: string[];
  nodeOf: Map<string, number>;
  /** Edges ordered by (from, to, treaty_id). */
  edges: EdgeView[];
  edgeFrom: Int32Array;
  edgeTo: Int32Array;
  edgeActive: Uint8Array;
  edgeBodies: string[];
  /** Rank of each edge's treaty_id in code-unit order (sorts treaty-id lists without comparing strings). */
  edgeTreatyRank: Int32Array;
  /** The inverse: edge index of the treaty at each rank. */
  edgeOfTreatyRank: Int32Array;
  activeOut: Adjacency;
  activeIn: Adjacency;
  /** First revoked or replaced edge for "from\u0000to", explaining a failed trust path. */
  revokedDirect: Map<string, number>;
  /** Revoked items ordered by (type, id, issuer_sovereign_id). */
  items: RevokedItem[];
  feeds: Map<string, FeedView>;
  /** issuer → sovereign → highest acknowledged sequence of that issuer's feed. */
  acknowledgements: Map<string, Map<string, number>>;
  /** Treaties whose issuer and subject are the same sovereign: not edges, counted for the operator. */
  refusedSelfEdges: number;
  /** Earliest instant (ms) after `now` at which a lifecycle state, expiry risk or feed staleness changes. */
  nextBoundaryMs: number;
}

/** Which of two records of the same revoked item counts: the first published, then the earliest. */
function earlierRevocation(a: RevocationRecord, b: RevocationRecord): RevocationRecord {
  const sa = a.feed_sequence ?? Number.MAX_SAFE_INTEGER;
  const sb = b.feed_sequence ?? Number.MAX_SAFE_INTEGER;
  if (sa !== sb) return sa < sb ? a : b;
  if (a.revoked_at !== b.revoked_at) return a.revoked_at < b.revoked_at ? a : b;
  return compareText(a.reason, b.reason) <= 0 ? a : b;
}

/** Of two treaties claiming one treaty_id, keep this authority's own, else the lower issuer id. */
function preferredTreaty(selfId: string, a: TreatyRecord, b: TreatyRecord): TreatyRecord {
  if (a.issuer_sovereign_id === selfId) return a;
  if (b.issuer_sovereign_id === selfId) return b;
  const byIssuer = compareText(a.issuer_sovereign_id, b.issuer_sovereign_id);
  if (byIssuer !== 0) return byIssuer < 0 ? a : b;
  return compareText(a.body, b.body) <= 0 ? a : b;
}

function buildAdjacency(nodeCount: number, owners: Int32Array, edgeIds: number[]): Adjacency {
  const offsets = new Int32Array(nodeCount + 1);
  for (const e of edgeIds) offsets[owners[e]! + 1]!++;
  for (let i = 0; i < nodeCount; i++) offsets[i + 1]! += offsets[i]!;
  const cursor = offsets.slice(0, nodeCount);
  const edges = new Int32Array(edgeIds.length);
  for (const e of edgeIds) edges[cursor[owners[e]!]!++] = e;
  return { offsets, edges };
}

/** Reports the instants at which `lifecycleAt` changes its answer for this window (see lifecycle.ts). */
function lifecycleBoundaries(validFromMs: number, expiresMs: number, report: (t: number) => void): void {
  // seconds_until_expiry = floor((E - t) / 1000) ≤ K  ⇔  t ≥ E - (K + 1)·1000 + 1
  report(validFromMs);
  report(expiresMs - (72 * 3600 + 1) * 1000 + 1);
  report(expiresMs - (24 * 3600 + 1) * 1000 + 1);
  report(expiresMs - 1000 + 1);
}

/** Milliseconds of a second-precision UTC timestamp, read by position (Date.parse is slow on a hot loop). */
export function timestampMs(text: string): number {
  if (text.length !== 20 || text.charCodeAt(19) !== 90 /* Z */) return Date.parse(text);
  const n = (at: number, len: number) => {
    let v = 0;
    for (let i = at; i < at + len; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return Number.NaN;
      v = v * 10 + d;
    }
    return v;
  };
  const [month, day, hour, minute, second] = [n(5, 2), n(8, 2), n(11, 2), n(14, 2), n(17, 2)];
  // Anything out of range (or not digits) is left to Date.parse, so both always agree.
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 59)) return Date.parse(text);
  const ms = Date.UTC(n(0, 4), month - 1, day, hour, minute, second);
  return Number.isNaN(ms) ? Date.parse(text) : ms;
}

/** The revocation kinds in code-unit order of their names (the order items are listed in). */
const REVOCATION_KINDS_IN_ORDER = [...REVOCATION_KINDS].sort(compareText);

export function buildGraph(input: ConnectomeInput): Graph {
  const nowMs = input.now.getTime();
  let nextBoundaryMs = Number.POSITIVE_INFINITY;
  const boundary = (t: number) => {
    if (t > nowMs && t < nextBoundaryMs) nextBoundaryMs = t;
  };

  // Revoked items, one per (kind, issuer, id). Nested maps: no composite key strings to build and hash.
  const revoked: Record<RevocationKind, Map<string, Map<string, RevocationRecord>>> = {
    membership_attestation: new Map(),
    public_key: new Map(),
    recognition_treaty: new Map(),
  };
  for (const r of input.revocations) {
    let byId = revoked[r.kind].get(r.issuer_sovereign_id);
    if (!byId) revoked[r.kind].set(r.issuer_sovereign_id, (byId = new Map()));
    const seen = byId.get(r.id);
    byId.set(r.id, seen ? earlierRevocation(seen, r) : r);
  }
  const revokedTreaties = revoked.recognition_treaty;

  // Treaties, one per treaty_id; a treaty naming the same sovereign on both ends is refused.
  const treaties = new Map<string, TreatyRecord>();
  let refusedSelfEdges = 0;
  for (const t of input.treaties) {
    if (t.issuer_sovereign_id === t.subject_sovereign_id) {
      refusedSelfEdges++;
      continue;
    }
    const seen = treaties.get(t.treaty_id);
    treaties.set(t.treaty_id, seen ? preferredTreaty(input.selfId, seen, t) : t);
  }

  // Sovereigns: self, edge endpoints, feed issuers, revocation issuers, acknowledging sovereigns, peers.
  const idSet = new Set<string>([input.selfId, ...input.knownSovereigns]);
  for (const t of treaties.values()) {
    idSet.add(t.issuer_sovereign_id);
    idSet.add(t.subject_sovereign_id);
  }
  for (const f of input.feeds) idSet.add(f.issuer_sovereign_id);
  for (const kind of REVOCATION_KINDS) for (const issuer of revoked[kind].keys()) idSet.add(issuer);
  for (const a of input.acknowledgements) idSet.add(a.sovereign_id);
  const ids = [...idSet].sort(compareText);
  const nodeOf = new Map<string, number>();
  ids.forEach((id, i) => {
    nodeOf.set(id, i);
  });
  const n = ids.length;

  // Edges ordered by (from, to, treaty_id): counting sort by source, then sort each (small) bucket.
  const records = [...treaties.values()];
  const recordFrom = new Int32Array(records.length);
  const recordTo = new Int32Array(records.length);
  const bucketStart = new Int32Array(n + 1);
  records.forEach((t, r) => {
    recordFrom[r] = nodeOf.get(t.issuer_sovereign_id)!;
    recordTo[r] = nodeOf.get(t.subject_sovereign_id)!;
    bucketStart[recordFrom[r]! + 1]!++;
  });
  for (let i = 0; i < n; i++) bucketStart[i + 1]! += bucketStart[i]!;
  const order = new Int32Array(records.length);
  const fill = bucketStart.slice(0, n);
  for (let r = 0; r < records.length; r++) order[fill[recordFrom[r]!]!++] = r;
  for (let from = 0; from < n; from++) {
    const lo = bucketStart[from]!;
    const hi = bucketStart[from + 1]!;
    if (hi - lo > 1) {
      const sorted = Array.from(order.subarray(lo, hi)).sort(
        (a, b) => recordTo[a]! - recordTo[b]! || compareText(records[a]!.treaty_id, records[b]!.treaty_id),
      );
      order.set(sorted, lo);
    }
  }

  const edges: EdgeView[] = new Array(records.length);
  const edgeBodies: string[] = new Array(records.length);
  const edgeFrom = new Int32Array(records.length);
  const edgeTo = new Int32Array(records.length);
  const edgeActive = new Uint8Array(records.length);
  const revokedDirect = new Map<string, number>();
  const edgeOfTreaty = new Map<string, number>();
  const activeIds: number[] = [];
  for (let e = 0; e < records.length; e++) {
    const r = order[e]!;
    const t = records[r]!;
    const isRevoked = revokedTreaties.get(t.issuer_sovereign_id)?.has(t.treaty_id) ?? false;
    const life = lifecycleAt(
      { valid_from: t.valid_from, expires_at: t.expires_at, revocation: isRevoked ? { replaced_by: t.replaced_by ?? null } : null },
      input.now,
    );
    if (!isRevoked) lifecycleBoundaries(timestampMs(t.valid_from), timestampMs(t.expires_at), boundary);
    edges[e] = {
      expires_at: t.expires_at,
      expiry_risk: life.expiry_risk,
      from: t.issuer_sovereign_id,
      lifecycle_state: life.state,
      roles: t.roles,
      status: isRevoked ? 'revoked' : 'active',
      to: t.subject_sovereign_id,
      treaty_id: t.treaty_id,
      valid_from: t.valid_from,
    };
    edgeBodies[e] = t.body;
    edgeFrom[e] = recordFrom[r]!;
    edgeTo[e] = recordTo[r]!;
    edgeOfTreaty.set(t.treaty_id, e);
    if (isInForce(life.state)) {
      edgeActive[e] = 1;
      activeIds.push(e);
    } else if (isRevoked) {
      const key = `${t.issuer_sovereign_id}\u0000${t.subject_sovereign_id}`;
      if (!revokedDirect.has(key)) revokedDirect.set(key, e);
    }
  }

  // The default sort compares strings by UTF-16 code units: the JCS order, without a comparator call per pair.
  const treatyIdsSorted = [...edgeOfTreaty.keys()].sort();
  const edgeTreatyRank = new Int32Array(edges.length);
  const edgeOfTreatyRank = new Int32Array(edges.length);
  treatyIdsSorted.forEach((id, rank) => {
    const e = edgeOfTreaty.get(id)!;
    edgeTreatyRank[e] = rank;
    edgeOfTreatyRank[rank] = e;
  });

  // Items ordered by (type, id, issuer); kinds are listed in code-unit order, so each kind is one run.
  const items: RevokedItem[] = [];
  for (const kind of REVOCATION_KINDS_IN_ORDER) {
    const start = items.length;
    for (const byId of revoked[kind].values()) {
      for (const record of byId.values()) {
        let edge = -1;
        if (kind === 'recognition_treaty') {
          const e = edgeOfTreaty.get(record.id);
          if (e !== undefined && edges[e]!.from === record.issuer_sovereign_id) edge = e;
        }
        items.push({ record, edge });
      }
    }
    const run = items
      .slice(start)
      .sort((a, b) => compareText(a.record.id, b.record.id) || compareText(a.record.issuer_sovereign_id, b.record.issuer_sovereign_id));
    run.forEach((item, i) => {
      items[start + i] = item;
    });
  }

  const feeds = new Map<string, FeedView>();
  for (const f of input.feeds) {
    const nextUpdateMs = f.next_update === null ? Number.NaN : timestampMs(f.next_update);
    if (!Number.isNaN(nextUpdateMs)) boundary(nextUpdateMs + 1);
    feeds.set(f.issuer_sovereign_id, {
      imported_sequence: f.imported_sequence,
      last_import_at: f.last_import_at,
      next_update: f.next_update,
      paused: f.paused,
      stale: !Number.isNaN(nextUpdateMs) && nextUpdateMs < nowMs,
    });
  }

  const acknowledgements = new Map<string, Map<string, number>>();
  // Importing an issuer's feed is this authority's own acknowledgement of it.
  const ownImports = input.feeds.map((f) => ({
    issuer_sovereign_id: f.issuer_sovereign_id,
    sovereign_id: input.selfId,
    sequence: f.imported_sequence,
  }));
  for (const a of [...input.acknowledgements, ...ownImports]) {
    let byImporter = acknowledgements.get(a.issuer_sovereign_id);
    if (!byImporter) acknowledgements.set(a.issuer_sovereign_id, (byImporter = new Map()));
    byImporter.set(a.sovereign_id, Math.max(byImporter.get(a.sovereign_id) ?? 0, a.sequence));
  }

  return {
    selfId: input.selfId,
    now: input.now,
    maxPathLength: input.maxPathLength,
    ids,
    nodeOf,
    edges,
    edgeFrom,
    edgeTo,
    edgeActive,
    edgeBodies,
    edgeTreatyRank,
    edgeOfTreatyRank,
    activeOut: buildAdjacency(n, edgeFrom, activeIds),
    activeIn: buildAdjacency(n, edgeTo, activeIds),
    revokedDirect,
    items,
    feeds,
    acknowledgements,
    refusedSelfEdges,
    nextBoundaryMs,
  };
}
