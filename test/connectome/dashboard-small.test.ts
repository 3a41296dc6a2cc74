// The dashboard of a small network: the drawing fits what it holds, and counts read as English.
import { describe, expect, it } from 'vitest';
import { buildConnectome } from '../../src/connectome/connectome.ts';
import { renderDashboard } from '../../src/connectome/dashboard.tsx';
import { layoutGraph } from '../../src/connectome/layout.ts';
import { chain, input, revokeTreaty } from './fixtures.ts';

describe('the layout is scaled to the graph', () => {
  it('three sovereigns in a line get a wide, short drawing that their nodes span, this authority centred', () => {
    const layout = layoutGraph(buildConnectome(input({ treaties: chain('a>b b>a a>c c>a') })).graph);
    expect(layout.nodes).toHaveLength(3);
    const xs = layout.nodes.map((n) => n.at.x);
    const ys = layout.nodes.map((n) => n.at.y);
    // Before, every graph was a square of (rings + label margin): here 540 × 540 for one flat row.
    expect(layout.height).toBeLessThan(layout.width / 3);
    expect(Math.max(...xs) - Math.min(...xs)).toBeGreaterThanOrEqual(layout.width / 2);
    expect(new Set(ys).size).toBe(1);
    const self = layout.nodes.find((n) => n.ring === 0)!;
    expect(self.at).toEqual({ x: layout.width / 2, y: layout.height / 2 });
    // Still room for the labels on both sides ("b" and "c" are one character; at least a node's room).
    expect(Math.min(...xs)).toBeGreaterThan(layout.selfRadius);
    expect(layout.width - Math.max(...xs)).toBeGreaterThan(layout.selfRadius);
  });

  it('grows with the node count: a ring of twelve is larger than a pair, and fits its long labels', () => {
    const ids = Array.from({ length: 12 }, (_, i) => `peer-${String(i + 1).padStart(2, '0')}.federation.example`);
    const ring = layoutGraph(buildConnectome(input({ treaties: chain(ids.map((id) => `a>${id}`).join(' ')) })).graph);
    const pair = layoutGraph(buildConnectome(input({ treaties: chain('a>b') })).graph);
    expect(ring.width * ring.height).toBeGreaterThan(4 * pair.width * pair.height);
    const labelWidth = ids[0]!.length * 13 * 0.62;
    for (const { at } of ring.nodes) {
      expect(at.x).toBeGreaterThan(0);
      expect(at.x).toBeLessThan(ring.width);
      // A label fits on at least one side of every node.
      expect(Math.max(at.x, ring.width - at.x)).toBeGreaterThan(labelWidth);
    }
  });

  it('the page draws the SVG at its own size (shrunk, never stretched, to the panel)', () => {
    const connectome = buildConnectome(input({ treaties: chain('a>b b>a a>c') }));
    const { width, height } = layoutGraph(connectome.graph);
    const html = renderDashboard(connectome);
    expect(html).toContain(`viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"`);
    expect(html).toContain('svg.graph{display:block;margin:0 auto;max-width:100%;height:auto}');
  });
});

describe('counts on the page', () => {
  it('one issuer, one sovereign, one treaty: singular', () => {
    const connectome = buildConnectome(
      input({
        treaties: chain('a>b'),
        feeds: [
          {
            issuer_sovereign_id: 'b',
            imported_sequence: 1,
            last_import_at: '2026-02-28T00:00:00Z',
            next_update: '2026-03-02T00:00:00Z',
            paused: false,
          },
        ],
      }),
    );
    const html = renderDashboard(connectome);
    expect(html).toContain('Feed freshness (1 issuer)');
    expect(html).not.toContain('1 issuers');
    expect(html).toContain('Trust graph · 2 sovereigns, 1 treaty');
  });

  it('plural otherwise, and none is plural', () => {
    const none = renderDashboard(buildConnectome(input({ treaties: chain('a>b a>c'), revocations: [revokeTreaty('a', 'b')] })));
    expect(none).toContain('Feed freshness (0 issuers)');
    expect(none).toContain('Trust graph · 3 sovereigns, 2 treaties');
  });
});
