// The operator dashboard (GET /connectome): server-rendered graph, revoked material, blast radius, feed freshness.
import { createHash } from 'node:crypto';
import type { Child } from 'hono/jsx';
import { AppError } from '../authority/errors.ts';
import type { Connectome } from './connectome.ts';
import type { Graph } from './graph.ts';
import { layoutGraph, type GraphLayout } from './layout.ts';
import type { BlastRadiusView, FeedView } from './model.ts';
import { findTrustPath, type TrustPathResult } from './trust-path.ts';

/*
 * Public page: it shows ids, issuers, reasons, states and times only — never attestation subjects or
 * claims, operator identities or configuration. No scripts at all (selection is done with links),
 * one stylesheet allowed by its hash, nothing loaded from anywhere.
 */

const CSS = `
:root{color-scheme:dark;--bg:#0d1117;--panel:#161b22;--line:#30363d;--text:#e6edf3;--muted:#8b949e;--green:#3fb950;--amber:#d29922;--red:#f85149;--blue:#58a6ff;--purple:#a371f7;--orange:#ffa657}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:var(--blue);text-decoration:none}a:hover{text-decoration:underline}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:8px 24px;padding:14px 24px;border-bottom:1px solid var(--line);background:var(--panel)}
header h1{font-size:18px;margin:0;font-weight:600}
header .meta{color:var(--muted);font-size:13px}
main{padding:16px 24px 40px;display:grid;gap:16px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card .n{font-size:24px;font-weight:600;font-variant-numeric:tabular-nums}
.card .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.bad{border-color:var(--red)}.card.bad .n{color:var(--red)}
.card.warn{border-color:var(--amber)}.card.warn .n{color:var(--amber)}
.card.ok .n{color:var(--green)}
.grid{display:grid;grid-template-columns:minmax(0,1.6fr) minmax(320px,1fr);gap:16px;align-items:start}
@media (max-width:1100px){.grid{grid-template-columns:1fr}}
.grid-side{display:grid;gap:16px;min-width:0}
section{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:14px 16px;min-width:0}
section h2{font-size:15px;margin:0 0 10px;font-weight:600}
.hint{color:var(--muted);font-size:13px;margin:4px 0 10px}
.graph-wrap{overflow:auto;max-height:82vh;border-radius:6px;background:#0b0f14;border:1px solid var(--line)}
svg.graph{display:block;margin:0 auto;max-width:100%;height:auto}
svg.graph.wide{min-width:560px}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin-top:10px;font-size:12px;color:var(--muted)}
.legend span{display:inline-flex;align-items:center;gap:6px}
.legend svg{width:34px;height:10px}
.edge{fill:none;stroke-width:1.4;opacity:.85}
.edge.s-active{stroke:var(--green)}
.edge.s-expiring_soon{stroke:var(--amber);stroke-width:1.8}
.edge.s-expired{stroke:#6e7681;stroke-dasharray:2 3;opacity:.7}
.edge.s-not_yet_valid{stroke:var(--blue);stroke-dasharray:5 3;opacity:.75}
.edge.s-revoked{stroke:var(--red);stroke-dasharray:8 4;stroke-width:2.4;opacity:1}
.edge.s-replaced{stroke:var(--purple);stroke-dasharray:4 4;opacity:.7}
.edge.carrying{stroke:var(--orange);stroke-width:3;opacity:1}
.edge.s-revoked.carrying{stroke:var(--red);stroke-width:3.4}
.edge.on-path{stroke:var(--blue);stroke-width:3.2;opacity:1;stroke-dasharray:none}
a.edge-link:hover .edge{stroke-width:4}
.node circle{fill:#8b949e;stroke:#0b0f14;stroke-width:1.5}
.node.self circle{fill:var(--blue);stroke:#cae8ff;stroke-width:2}
.node.stale circle{stroke:var(--amber);stroke-width:3}
.node.paused circle{stroke:var(--red);stroke-width:3}
.node.affected circle{fill:var(--orange)}
.node.issuer circle{fill:var(--red);stroke:#ffd8d3;stroke-width:2.5}
.node.on-path circle{fill:var(--blue)}
.node text{fill:#c9d1d9;paint-order:stroke;stroke:#0b0f14;stroke-width:3px;stroke-linejoin:round}
.node.issuer text,.node.self text{font-weight:700;fill:var(--text)}
svg.focused .edge{opacity:.28}
svg.focused .edge.s-revoked{opacity:.7}
svg.focused .edge.carrying,svg.focused .edge.on-path{opacity:1}
svg.focused .node circle{opacity:.45}
svg.focused .node.affected circle,svg.focused .node.issuer circle,svg.focused .node.on-path circle,svg.focused .node.self circle{opacity:1}
a.node-link:hover circle{stroke:var(--text);stroke-width:2.5}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;color:var(--muted);font-weight:500;font-size:12px;text-transform:uppercase;letter-spacing:.03em;border-bottom:1px solid var(--line);padding:6px 8px}
td{border-bottom:1px solid #21262d;padding:6px 8px;vertical-align:top;word-break:break-all}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;word-break:normal}
td.nowrap{white-space:nowrap;word-break:normal}
tr.selected td{background:#1f2a37}
.scroll{max-height:480px;overflow:auto}
.badge{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;border:1px solid transparent;white-space:nowrap}
.b-ok{color:var(--green);border-color:#2ea04366;background:#2ea04314}
.b-warn{color:var(--amber);border-color:#bb800966;background:#bb800914}
.b-bad{color:var(--red);border-color:#f8514966;background:#f8514914}
.b-muted{color:var(--muted);border-color:var(--line)}
.b-info{color:var(--blue);border-color:#388bfd66;background:#388bfd14}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0 0 12px}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;word-break:break-all}
.tally{display:flex;flex-wrap:wrap;gap:8px;margin:6px 0 12px}
form.path{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-bottom:10px}
input{background:#0d1117;border:1px solid var(--line);border-radius:6px;color:var(--text);padding:5px 8px;font:inherit;min-width:0;flex:1 1 120px}
button{background:#238636;border:1px solid #2ea043;color:#fff;border-radius:6px;padding:5px 14px;font:inherit;cursor:pointer}
.empty{color:var(--muted);font-style:italic}
.notice{border:1px solid var(--amber);color:var(--amber);background:#bb800914;border-radius:6px;padding:6px 10px;margin-bottom:10px}
footer{color:var(--muted);font-size:12px;padding:0 24px 24px}
details.carrying{margin-top:10px;color:var(--muted)}
details.carrying summary{cursor:pointer}
details.carrying ul{margin:6px 0 0;padding-left:18px;max-height:200px;overflow:auto}
`.trim();

const STYLE_HASH = createHash('sha256').update(CSS, 'utf8').digest('base64');

/** Strict CSP: no scripts, no external anything; the one inline stylesheet is allowed by its hash. */
export const DASHBOARD_SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'none'; script-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface DashboardOptions {
  /** Id of the revoked item whose blast radius is shown. */
  focus?: string | undefined;
  issuer?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** `1 issuer`, `2 issuers`. */
function quantity(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Rows shown per table; the JSON has everything. */
const TABLE_LIMIT = 200;

/** What every render of one build shares: computed on the first render, kept with the build. */
interface PageData {
  layout: GraphLayout;
  /** The most recently revoked items (indexes), newest first. */
  recent: number[];
  edgeOfTreaty: Map<string, number>;
  revokedItemOfEdge: Map<number, number>;
  counts: { revoked: number; expired: number; expiringSoon: number; stale: number; paused: number };
}

const pages = new WeakMap<Connectome, PageData>();

function pageData(connectome: Connectome): PageData {
  let data = pages.get(connectome);
  if (data) return data;
  const { graph } = connectome;
  const recent = graph.items
    .map((_, i) => i)
    .sort((a, b) => {
      const ra = graph.items[a]!.record.revoked_at;
      const rb = graph.items[b]!.record.revoked_at;
      return ra < rb ? 1 : ra > rb ? -1 : a - b;
    })
    .slice(0, TABLE_LIMIT);
  const revokedItemOfEdge = new Map<number, number>();
  graph.items.forEach((item, i) => {
    if (item.edge >= 0) revokedItemOfEdge.set(item.edge, i);
  });
  const counts = { revoked: 0, expired: 0, expiringSoon: 0, stale: 0, paused: 0 };
  for (const edge of graph.edges) {
    if (edge.lifecycle_state === 'revoked' || edge.lifecycle_state === 'replaced') counts.revoked++;
    else if (edge.lifecycle_state === 'expired') counts.expired++;
    else if (edge.lifecycle_state === 'expiring_soon') counts.expiringSoon++;
  }
  for (const feed of graph.feeds.values()) {
    if (feed.stale) counts.stale++;
    if (feed.paused) counts.paused++;
  }
  data = {
    layout: layoutGraph(graph),
    recent,
    edgeOfTreaty: new Map(graph.edges.map((e, i) => [e.treaty_id, i])),
    revokedItemOfEdge,
    counts,
  };
  pages.set(connectome, data);
  return data;
}

const href = (params: Record<string, string | undefined>, anchor: string) => {
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  return `/connectome${query ? `?${query}` : ''}#${anchor}`;
};

type FeedState = 'fresh' | 'stale' | 'paused' | 'awaiting';

function feedState(feed: FeedView): FeedState {
  if (feed.paused) return 'paused';
  if (feed.stale) return 'stale';
  return feed.imported_sequence === 0 ? 'awaiting' : 'fresh';
}

const FEED_BADGE: Record<FeedState, string> = { fresh: 'b-ok', stale: 'b-warn', paused: 'b-bad', awaiting: 'b-muted' };

const STATE_LABEL: Record<string, string> = {
  active: 'active',
  expiring_soon: 'expiring soon',
  expired: 'expired',
  not_yet_valid: 'not yet valid',
  revoked: 'revoked',
  replaced: 'replaced',
};

const STATE_BADGE: Record<string, string> = {
  active: 'b-ok',
  expiring_soon: 'b-warn',
  expired: 'b-muted',
  not_yet_valid: 'b-info',
  revoked: 'b-bad',
  replaced: 'b-muted',
};

const TYPE_LABEL: Record<string, string> = { membership_attestation: 'attestation', recognition_treaty: 'treaty', public_key: 'key' };

interface Focus {
  item: number;
  view: BlastRadiusView;
}

interface Highlight {
  issuer?: number | undefined;
  affected: Set<number>;
  carrying: Set<number>;
  pathNodes: Set<number>;
  pathEdges: Set<number>;
}

/**
 * Labels sit outside their node, away from the centre (where the edges to inner rings run), and
 * switch sides rather than run off the drawing.
 */
function labelPlacement(
  text: string,
  at: { x: number; y: number },
  angle: number,
  radius: number,
  self: boolean,
  fontSize: number,
  width: number,
): { x: number; y: number; anchor: string } {
  if (self) return { x: at.x, y: Math.round(at.y + radius + fontSize + 2), anchor: 'middle' };
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const gap = radius + 5;
  const estimate = text.length * fontSize * 0.62;
  if (Math.abs(cos) < 0.35 && at.x - estimate / 2 > 0 && at.x + estimate / 2 < width) {
    return { x: at.x, y: Math.round(sin < 0 ? at.y - gap - 2 : at.y + gap + fontSize - 3), anchor: 'middle' };
  }
  let right = cos >= 0;
  if (right && at.x + gap + estimate > width) right = false;
  else if (!right && at.x - gap - estimate < 0) right = true;
  return { x: Math.round(at.x + (right ? gap : -gap)), y: Math.round(at.y + sin * 6 + fontSize * 0.35), anchor: right ? 'start' : 'end' };
}

const MARKERS: Array<[string, string]> = [
  ['active', '#3fb950'],
  ['expiring_soon', '#d29922'],
  ['expired', '#6e7681'],
  ['not_yet_valid', '#58a6ff'],
  ['revoked', '#f85149'],
  ['replaced', '#a371f7'],
  ['carrying', '#ffa657'],
  ['path', '#58a6ff'],
];

function GraphPicture(props: { graph: Graph; layout: GraphLayout; highlight: Highlight; revokedItemOfEdge: Map<number, number> }): Child {
  const { graph, layout, highlight, revokedItemOfEdge } = props;
  const selfNode = graph.nodeOf.get(graph.selfId)!;
  const labelled = (node: number) =>
    layout.nodes.length <= 60 ||
    node === selfNode ||
    node === highlight.issuer ||
    highlight.pathNodes.has(node) ||
    (highlight.affected.size <= 40 && highlight.affected.has(node));
  // Quiet edges first, revoked and highlighted ones last, so they are drawn on top.
  const rank = (e: number) => {
    if (highlight.pathEdges.has(e) || highlight.carrying.has(e)) return 4;
    const state = graph.edges[e]!.lifecycle_state;
    return state === 'revoked' ? 3 : state === 'active' || state === 'expiring_soon' ? 2 : 1;
  };
  const shapes = [...layout.edges].sort((a, b) => rank(a.edge) - rank(b.edge) || a.edge - b.edge);
  const focused = highlight.issuer !== undefined || highlight.pathEdges.size > 0;
  const fontSize = Math.round(13 * layout.scale);
  // Drawn at its own size, shrunk to the panel when larger: a small graph is not blown up to fill it.
  const classes = ['graph', ...(focused ? ['focused'] : []), ...(layout.width >= 560 ? ['wide'] : [])];
  return (
    <svg
      class={classes.join(' ')}
      id="connectome-graph"
      viewBox={`0 0 ${layout.width} ${layout.height}`}
      width={layout.width}
      height={layout.height}
      role="img"
      aria-label="Trust graph: sovereigns and recognition treaties"
    >
      <defs>
        {MARKERS.map(([name, color]) => (
          <marker
            id={`arrow-${name}`}
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerUnits="userSpaceOnUse"
            markerWidth="9"
            markerHeight="9"
            orient="auto-start-reverse"
          >
            <path d="M0 0L10 5L0 10z" fill={color} />
          </marker>
        ))}
      </defs>
      <g class="edges">
        {shapes.map(({ edge: e, d }) => {
          const edge = graph.edges[e]!;
          const classes = ['edge', `s-${edge.lifecycle_state}`];
          let marker: string = edge.lifecycle_state;
          if (highlight.carrying.has(e)) {
            classes.push('carrying');
            if (edge.lifecycle_state !== 'revoked') marker = 'carrying';
          }
          if (highlight.pathEdges.has(e)) {
            classes.push('on-path');
            marker = 'path';
          }
          const path = (
            <path
              class={classes.join(' ')}
              d={d}
              marker-end={`url(#arrow-${marker})`}
              data-treaty={edge.treaty_id}
              data-state={edge.lifecycle_state}
            >
              <title>{`${edge.from} → ${edge.to} · ${STATE_LABEL[edge.lifecycle_state]} · treaty ${edge.treaty_id}`}</title>
            </path>
          );
          return revokedItemOfEdge.has(e) ? (
            <a class="edge-link" href={href({ focus: edge.treaty_id, issuer: edge.from }, 'blast-radius')}>
              {path}
            </a>
          ) : (
            path
          );
        })}
      </g>
      <g class="nodes" font-size={fontSize}>
        {layout.nodes.map(({ node, at, angle }) => {
          const id = graph.ids[node]!;
          const feed = graph.feeds.get(id);
          const classes = ['node'];
          if (node === selfNode) classes.push('self');
          if (feed?.paused) classes.push('paused');
          else if (feed?.stale) classes.push('stale');
          if (highlight.affected.has(node)) classes.push('affected');
          if (node === highlight.issuer) classes.push('issuer');
          if (highlight.pathNodes.has(node)) classes.push('on-path');
          const radius = node === selfNode ? layout.selfRadius : layout.nodeRadius;
          const label = labelPlacement(id, at, angle, radius, node === selfNode, fontSize, layout.width);
          const status = feed ? ` · feed ${feedState(feed)}` : '';
          return (
            <a class="node-link" href={href({ from: graph.selfId, to: id }, 'trust-path')}>
              <g class={classes.join(' ')} data-sovereign={id}>
                <circle cx={at.x} cy={at.y} r={radius} />
                {labelled(node) ? (
                  <text x={label.x} y={label.y} text-anchor={label.anchor}>
                    {id}
                  </text>
                ) : null}
                <title>{`${id}${node === selfNode ? ' (this authority)' : ''}${status}`}</title>
              </g>
            </a>
          );
        })}
      </g>
    </svg>
  );
}

function Legend(): Child {
  const swatch = (state: string) => (
    <svg viewBox="0 0 34 10" aria-hidden="true">
      <path class={`edge s-${state}`} d="M1 5L33 5" />
    </svg>
  );
  return (
    <div class="legend">
      {['active', 'expiring_soon', 'not_yet_valid', 'expired', 'revoked', 'replaced'].map((s) => (
        <span>
          {swatch(s)}
          {STATE_LABEL[s]}
        </span>
      ))}
      <span>
        <svg viewBox="0 0 34 10" aria-hidden="true">
          <path class="edge carrying" d="M1 5L33 5" />
        </svg>
        carried the revoked trust
      </span>
      <span>arrow: issuer → recognized sovereign · click a node for its trust path, a red edge for its blast radius</span>
    </div>
  );
}

function propagationBadge(caughtUp: boolean | 'unknown'): Child {
  if (caughtUp === true) return <span class="badge b-ok">caught up</span>;
  if (caughtUp === false) return <span class="badge b-bad">not caught up</span>;
  return <span class="badge b-muted">unknown</span>;
}

function BlastRadiusPanel(props: { focus: Focus | null; requested: string | undefined; error: string | undefined }): Child {
  const { focus, requested, error } = props;
  if (!focus) {
    return (
      <section id="blast-radius">
        <h2>Blast radius</h2>
        {error ? <p class="notice">{error}</p> : null}
        {requested ? null : (
          <p class="hint">
            Select a revoked item in the table below, or a red dashed edge in the graph, to see who accepted it and whether they have caught
            up.
          </p>
        )}
      </section>
    );
  }
  const v = focus.view;
  const hops = new Map(v.downstream.map((d) => [d.sovereign_id, d.hops]));
  const direct = new Set(v.affected_accepting_sovereigns);
  const caughtUp = v.propagation.filter((p) => p.caught_up === true).length;
  const behind = v.propagation.filter((p) => p.caught_up === false).length;
  const unknown = v.propagation.length - caughtUp - behind;
  const rows = [...v.propagation].sort(
    (a, b) => (hops.get(a.sovereign_id) ?? 0) - (hops.get(b.sovereign_id) ?? 0) || (a.sovereign_id < b.sovereign_id ? -1 : 1),
  );
  const carrying = v.carrying_treaty_ids.length;
  return (
    <section id="blast-radius" data-item={v.id}>
      <h2>
        Blast radius · <span class="badge b-bad">{TYPE_LABEL[v.type] ?? v.type}</span>
      </h2>
      <dl class="kv">
        <dt>Id</dt>
        <dd>
          <code>{v.id}</code>
        </dd>
        <dt>Issuer</dt>
        <dd>{v.issuer_sovereign_id}</dd>
        {v.subject_sovereign_id ? (
          <>
            <dt>Subject sovereign</dt>
            <dd>{v.subject_sovereign_id}</dd>
          </>
        ) : null}
        <dt>Reason</dt>
        <dd>{v.reason}</dd>
        <dt>Revoked at</dt>
        <dd class="mono">{v.revoked_at}</dd>
        <dt>Carried by feed</dt>
        <dd>{v.feed_sequence !== undefined ? `sequence ${v.feed_sequence}` : 'not yet published'}</dd>
      </dl>
      <div class="tally">
        <span class="badge b-info">{`${direct.size} direct`}</span>
        <span class="badge b-info">{`${v.downstream.length} affected in total`}</span>
        <span class="badge b-ok">{`${caughtUp} caught up`}</span>
        <span class="badge b-bad">{`${behind} not caught up`}</span>
        <span class="badge b-muted">{`${unknown} unknown`}</span>
      </div>
      {rows.length === 0 ? (
        <p class="empty">No sovereign accepted this item over an active treaty path.</p>
      ) : (
        <div class="scroll">
          <table class="affected">
            <thead>
              <tr>
                <th>Sovereign</th>
                <th class="num">Hops</th>
                <th>Propagation</th>
                <th class="num">Acknowledged</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, TABLE_LIMIT).map((p) => (
                <tr data-sovereign={p.sovereign_id} data-caught-up={String(p.caught_up)}>
                  <td>
                    {p.sovereign_id}
                    {direct.has(p.sovereign_id) ? <span class="hint"> · direct</span> : null}
                  </td>
                  <td class="num">{hops.get(p.sovereign_id) ?? ''}</td>
                  <td>{propagationBadge(p.caught_up)}</td>
                  <td class="num">{p.acknowledged_sequence ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.length > TABLE_LIMIT ? (
        <p class="hint">{`Showing ${TABLE_LIMIT} of ${rows.length}; /connectome/blast-radius?id=… has them all.`}</p>
      ) : null}
      {carrying > 0 ? (
        <details class="carrying">
          <summary>{`${quantity(carrying, 'treaty', 'treaties')} carried the trust`}</summary>
          <ul class="mono">
            {v.carrying_treaty_ids.slice(0, TABLE_LIMIT).map((id) => (
              <li>{id}</li>
            ))}
          </ul>
        </details>
      ) : null}
    </section>
  );
}

function TrustPathPanel(props: { graph: Graph; from: string; to: string | undefined; result: TrustPathResult | null }): Child {
  const { graph, from, to, result } = props;
  return (
    <section id="trust-path">
      <h2>Trust path</h2>
      <form class="path" method="get" action="/connectome#trust-path">
        <input name="from" value={from} aria-label="from sovereign" />
        <span>→</span>
        <input name="to" value={to ?? ''} placeholder="sovereign id" aria-label="to sovereign" />
        <button type="submit">Explain</button>
      </form>
      {result ? (
        <div data-reason={result.reason}>
          <p>
            {result.trusted ? <span class="badge b-ok">trusted</span> : <span class="badge b-bad">not trusted</span>}{' '}
            <code>{result.reason}</code>
            {result.trusted ? ` · ${result.hop_count} hop${result.hop_count === 1 ? '' : 's'}` : ''}
          </p>
          {result.path.length > 0 ? (
            <table>
              <tbody>
                {result.path.map((e) => {
                  const edge = graph.edges[e]!;
                  return (
                    <tr>
                      <td>{`${edge.from} → ${edge.to}`}</td>
                      <td>
                        <span class={`badge ${STATE_BADGE[edge.lifecycle_state]}`}>{STATE_LABEL[edge.lifecycle_state]}</span>
                      </td>
                      <td class="mono">{edge.treaty_id}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          ) : null}
        </div>
      ) : (
        <p class="hint">{`Click a sovereign in the graph to see how ${graph.selfId} reaches it (at most ${graph.maxPathLength} hops over active treaties).`}</p>
      )}
    </section>
  );
}

function RevokedTable(props: { connectome: Connectome; focus: Focus | null }): Child {
  const { connectome, focus } = props;
  const { graph } = connectome;
  const order = pageData(connectome).recent;
  return (
    <section id="revoked">
      <h2>{`Revoked trust material (${graph.items.length})`}</h2>
      {graph.items.length === 0 ? (
        <p class="empty">Nothing has been revoked.</p>
      ) : (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Revoked at</th>
                <th>Type</th>
                <th>Id</th>
                <th>Issuer</th>
                <th>Reason</th>
                <th class="num">Feed</th>
                <th class="num">Affected</th>
              </tr>
            </thead>
            <tbody>
              {order.map((i) => {
                const r = graph.items[i]!.record;
                return (
                  <tr class={focus?.item === i ? 'selected' : undefined} data-item={r.id}>
                    <td class="mono nowrap">{r.revoked_at}</td>
                    <td>{TYPE_LABEL[r.kind] ?? r.kind}</td>
                    <td class="mono">
                      <a class="item-link" href={href({ focus: r.id, issuer: r.issuer_sovereign_id }, 'blast-radius')}>
                        {r.id}
                      </a>
                    </td>
                    <td>{r.issuer_sovereign_id === graph.selfId ? `${r.issuer_sovereign_id} (this authority)` : r.issuer_sovereign_id}</td>
                    <td>{r.reason}</td>
                    <td class="num">{r.feed_sequence ?? '—'}</td>
                    <td class="num">{connectome.affectedCount(i)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {graph.items.length > TABLE_LIMIT ? (
        <p class="hint">{`Showing the ${TABLE_LIMIT} most recent of ${graph.items.length}; /connectome.json has them all.`}</p>
      ) : null}
    </section>
  );
}

function FeedTable(props: { graph: Graph }): Child {
  const { graph } = props;
  const severity: Record<FeedState, number> = { paused: 0, stale: 1, awaiting: 2, fresh: 3 };
  const feeds = [...graph.feeds.entries()].sort(
    ([a, fa], [b, fb]) => severity[feedState(fa)] - severity[feedState(fb)] || (a < b ? -1 : 1),
  );
  return (
    <section id="feeds">
      <h2>{`Feed freshness (${quantity(feeds.length, 'issuer', 'issuers')})`}</h2>
      {feeds.length === 0 ? (
        <p class="empty">This authority imports no revocation feeds yet.</p>
      ) : (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Issuer</th>
                <th>State</th>
                <th class="num">Imported sequence</th>
                <th>Last import</th>
                <th>Next update due</th>
              </tr>
            </thead>
            <tbody>
              {feeds.slice(0, TABLE_LIMIT).map(([issuer, feed]) => (
                <tr data-issuer={issuer} data-feed-state={feedState(feed)}>
                  <td>{issuer}</td>
                  <td>
                    <span class={`badge ${FEED_BADGE[feedState(feed)]}`}>{feedState(feed)}</span>
                  </td>
                  <td class="num">{feed.imported_sequence}</td>
                  <td class="mono nowrap">{feed.last_import_at ?? '—'}</td>
                  <td class="mono nowrap">{feed.next_update ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {feeds.length > TABLE_LIMIT ? <p class="hint">{`Showing ${TABLE_LIMIT} of ${feeds.length}, paused and stale first.`}</p> : null}
    </section>
  );
}

function Card(props: { n: number; label: string; tone?: 'bad' | 'warn' | 'ok' | undefined }): Child {
  return (
    <div class={`card${props.tone ? ` ${props.tone}` : ''}`}>
      <div class="n">{props.n}</div>
      <div class="l">{props.label}</div>
    </div>
  );
}

function resolveFocus(connectome: Connectome, options: DashboardOptions): { focus: Focus | null; error: string | undefined } {
  if (!options.focus) return { focus: null, error: undefined };
  try {
    const item = connectome.findItem({ id: options.focus, ...(options.issuer ? { issuer: options.issuer } : {}) });
    return { focus: { item, view: connectome.blastRadiusOf(item) }, error: undefined };
  } catch (err) {
    if (err instanceof AppError && err.code === 'ambiguous_revoked_item')
      return { focus: null, error: 'Several revoked items have this id: pick one in the table below.' };
    return { focus: null, error: 'No revoked item has this id.' };
  }
}

/** Renders the whole page as an HTML string. */
export function renderDashboard(connectome: Connectome, options: DashboardOptions = {}): string {
  const { graph } = connectome;
  const data = pageData(connectome);
  const { layout, counts } = data;
  const { focus, error } = resolveFocus(connectome, options);
  const from = options.from ?? graph.selfId;
  const trustPath = options.to ? findTrustPath(graph, from, options.to) : null;

  const highlight: Highlight = { affected: new Set(), carrying: new Set(), pathNodes: new Set(), pathEdges: new Set() };
  if (focus) {
    highlight.issuer = graph.nodeOf.get(focus.view.issuer_sovereign_id);
    for (const d of focus.view.downstream) {
      const node = graph.nodeOf.get(d.sovereign_id);
      if (node !== undefined) highlight.affected.add(node);
    }
    for (const id of focus.view.carrying_treaty_ids) {
      const e = data.edgeOfTreaty.get(id);
      if (e !== undefined) highlight.carrying.add(e);
    }
  }
  if (trustPath?.trusted) {
    for (const e of trustPath.path) {
      highlight.pathEdges.add(e);
      highlight.pathNodes.add(graph.edgeFrom[e]!);
      highlight.pathNodes.add(graph.edgeTo[e]!);
    }
  }

  const page = (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`Connectome · ${graph.selfId}`}</title>
        <style dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body>
        <header>
          <h1>{`Connectome · ${graph.selfId}`}</h1>
          <span class="meta">
            generated <span class="mono">{connectome.generatedAt}</span>
          </span>
          <span class="meta">
            digest{' '}
            <span class="mono" title={connectome.digest}>
              {connectome.digest.slice(0, 19)}…
            </span>
          </span>
          <span class="meta">{`max path length ${graph.maxPathLength}`}</span>
          <a href="/connectome.json">connectome.json</a>
        </header>
        <main>
          <div class="cards" id="summary">
            <Card n={graph.ids.length} label="Sovereigns" />
            <Card n={graph.activeOut.edges.length} label="Active treaties" tone="ok" />
            <Card n={counts.expiringSoon} label="Expiring soon" tone={counts.expiringSoon > 0 ? 'warn' : undefined} />
            <Card n={counts.revoked} label="Revoked treaties" tone={counts.revoked > 0 ? 'bad' : undefined} />
            <Card n={counts.expired} label="Expired treaties" />
            <Card n={graph.items.length} label="Revoked material" tone={graph.items.length > 0 ? 'bad' : undefined} />
            <Card n={counts.stale} label="Stale feeds" tone={counts.stale > 0 ? 'warn' : undefined} />
            <Card n={counts.paused} label="Paused feeds" tone={counts.paused > 0 ? 'bad' : undefined} />
          </div>
          <div class="grid">
            <section id="graph">
              <h2>{`Trust graph · ${quantity(layout.nodes.length, 'sovereign', 'sovereigns')}, ${quantity(layout.edges.length, 'treaty', 'treaties')}`}</h2>
              {layout.omitted > 0 ? (
                <p class="notice">{`${quantity(layout.omitted, 'more distant sovereign is', 'more distant sovereigns are')} not drawn; the tables and the JSON include them.`}</p>
              ) : null}
              <div class="graph-wrap">
                <GraphPicture graph={graph} layout={layout} highlight={highlight} revokedItemOfEdge={data.revokedItemOfEdge} />
              </div>
              <Legend />
            </section>
            <div class="grid-side">
              <BlastRadiusPanel focus={focus} requested={options.focus} error={error} />
              <TrustPathPanel graph={graph} from={from} to={options.to} result={trustPath} />
            </div>
          </div>
          <RevokedTable connectome={connectome} focus={focus} />
          <FeedTable graph={graph} />
        </main>
        <footer>
          Public view: sovereign ids, treaty and item ids, issuers, reasons and times only. Feed states: fresh · stale (past next update) ·
          paused (imports stopped).
        </footer>
      </body>
    </html>
  );
  return `<!doctype html>${String(page)}`;
}
