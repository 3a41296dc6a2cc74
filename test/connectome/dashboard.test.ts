// The dashboard as served: strict CSP and headers, no scripts or private data, escaping, deterministic layout.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { syntheticNetwork } from '../../bench/connectome.ts';
import { buildConnectome } from '../../src/connectome/connectome.ts';
import { renderDashboard } from '../../src/connectome/dashboard.tsx';
import { layoutGraph } from '../../src/connectome/layout.ts';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';
import { chain, input, revokeAttestation, revokeTreaty } from './fixtures.ts';
import { seedHub } from './seed.ts';

const authorities: TestAuthority[] = [];
afterEach(async () => {
  for (const a of authorities.splice(0)) {
    await a.close();
    a.db.close();
  }
});

describe('GET /connectome', () => {
  it('is HTML with a strict CSP whose style hash matches the one stylesheet, and no script', async () => {
    const a = createTestAuthority({ sovereignId: 'hub' });
    authorities.push(a);
    const seeded = await seedHub(a);
    const res = await a.app.request('/connectome');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toMatch(
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; img-src 'none'; script-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'$/,
    );
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|javascript:|\son[a-z]+=|\sstyle=|https?:\/\//i);
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
    expect(styles).toHaveLength(1);
    expect(csp).toContain(`'sha256-${createHash('sha256').update(styles[0]!).digest('base64')}'`);
    // Ids and issuers only: attestation subjects and claims never appear.
    expect(html).toContain(seeded.ownAttestationId);
    expect(html).not.toContain('node-7');
  });

  it('shows the selected item (?focus=), a trust path (?from=&to=), and says so when an id is unknown', async () => {
    const a = createTestAuthority({ sovereignId: 'hub' });
    authorities.push(a);
    const seeded = await seedHub(a);
    const focused = await (await a.app.request(`/connectome?focus=${seeded.importedAttestationId}`)).text();
    expect(focused).toContain(`<section id="blast-radius" data-item="${seeded.importedAttestationId}">`);
    expect(focused).toMatch(/<tr data-sovereign="hub" data-caught-up="true">/);
    const path = await (await a.app.request('/connectome?from=hub&to=peer-c')).text();
    expect(path).toContain('data-reason="direct_treaty_revoked"');
    const unknown = await (await a.app.request('/connectome?focus=nothing-here')).text();
    expect(unknown).toContain('No revoked item has this id.');
    expect((await a.app.request(`/connectome?focus=${'x'.repeat(5000)}`)).status).toBe(200);
  });
});

describe('rendering', () => {
  it('escapes everything it shows', () => {
    const hostile = 'x"><svg onload=alert(1)>';
    const connectome = buildConnectome(
      input({ treaties: chain('a>b'), revocations: [revokeAttestation('b', hostile, { reason: '<b>bold</b>' })] }),
    );
    const html = renderDashboard(connectome, { focus: hostile, to: '"><i>' });
    expect(html).not.toContain('<svg onload');
    expect(html).not.toContain('<b>bold</b>');
    expect(html).not.toContain('"><i>');
    expect(html).toContain('&lt;b&gt;bold&lt;/b&gt;');
  });

  it('is deterministic: same state, same page', () => {
    const state = input({ treaties: chain('a>b b>c c>d a>c'), revocations: [revokeTreaty('b', 'c'), revokeAttestation('d', 'att')] });
    const first = renderDashboard(buildConnectome(state), { focus: 'att' });
    const again = renderDashboard(buildConnectome({ ...state, treaties: [...state.treaties].reverse() }), { focus: 'att' });
    expect(again).toBe(first);
  });

  it('lays out 500 sovereigns without collisions and draws at most 500 of a larger network', () => {
    const small = buildConnectome(syntheticNetwork({ sovereigns: 500, treaties: 2000, revocations: 100 }));
    const layout = layoutGraph(small.graph);
    expect(layout.nodes).toHaveLength(500);
    expect(layout.omitted).toBe(0);
    const points = layout.nodes.map((n) => n.at);
    let closest = Infinity;
    for (let i = 0; i < points.length; i++)
      for (let j = i + 1; j < points.length; j++)
        closest = Math.min(closest, Math.hypot(points[i]!.x - points[j]!.x, points[i]!.y - points[j]!.y));
    expect(closest).toBeGreaterThanOrEqual(2 * layout.nodeRadius + 2);
    for (const p of points) {
      expect(p.x).toBeGreaterThan(0);
      expect(p.y).toBeGreaterThan(0);
      expect(p.x).toBeLessThan(layout.width);
      expect(p.y).toBeLessThan(layout.height);
    }
    // This authority at the centre; its direct partners on the first ring.
    const self = layout.nodes.find((n) => n.node === small.graph.nodeOf.get(small.graph.selfId))!;
    expect(self.at).toEqual({ x: layout.width / 2, y: layout.height / 2 });

    const large = buildConnectome(syntheticNetwork({ sovereigns: 1500, treaties: 4000, revocations: 100 }));
    const capped = layoutGraph(large.graph);
    expect(capped.nodes).toHaveLength(500);
    const omitted = large.graph.ids.length - 500;
    expect(omitted).toBeGreaterThan(500);
    expect(capped.omitted).toBe(omitted);
    expect(renderDashboard(large)).toContain(`${omitted} more distant sovereigns are not drawn`);
  });
});
