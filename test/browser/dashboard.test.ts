// The operator dashboard in a real headless Chromium: graph drawn, revoked edge visible, blast radius on click, strict CSP.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { syntheticNetwork } from '../../bench/connectome.ts';
import { buildConnectome } from '../../src/connectome/connectome.ts';
import { layoutGraph } from '../../src/connectome/layout.ts';
import { chain, input } from '../connectome/fixtures.ts';
import { DASHBOARD_SECURITY_HEADERS, renderDashboard } from '../../src/connectome/dashboard.tsx';
import { listen } from '../feeds/network.ts';
import { seedNetwork, type SeededNetwork } from './seed-network.ts';

const ARTIFACTS = path.resolve('test/artifacts');

// Browser globals used inside page.evaluate callbacks (the project compiles without the DOM lib).
declare const getComputedStyle: (el: unknown) => { stroke: string; strokeDasharray: string; backgroundColor: string };
interface SvgPath {
  getBBox(): { width: number; height: number };
  getTotalLength(): number;
  getPointAtLength(length: number): { x: number; y: number };
  getScreenCTM(): { a: number; b: number; c: number; d: number; e: number; f: number } | null;
}

let browser: Browser;
let net: SeededNetwork;
const problems: string[] = [];

beforeAll(async () => {
  net = await seedNetwork();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await net?.stop();
});

async function open(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(msg.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('request', (req) => {
    if (!req.url().startsWith(net.hub.url)) problems.push(`external request: ${req.url()}`);
  });
  const res = await page.goto(url);
  expect(res?.status()).toBe(200);
  return page;
}

describe('GET /connectome in Chromium', () => {
  it('draws every sovereign and the revoked treaty as a dashed red edge', async () => {
    const page = await open(`${net.hub.url}/connectome`);
    const doc = (await (await fetch(`${net.hub.url}/connectome.json`)).json()) as {
      summary: { sovereign_count: number; recognition_edge_count: number };
    };
    await expect(page.locator('#connectome-graph g.node').count()).resolves.toBe(doc.summary.sovereign_count);
    await expect(page.locator('#connectome-graph path.edge').count()).resolves.toBe(doc.summary.recognition_edge_count);
    await expect(page.locator('#connectome-graph g.node.self').getAttribute('data-sovereign')).resolves.toBe('hub.example');

    const revoked = page.locator(`#connectome-graph path.edge[data-treaty="${net.revokedTreatyId}"]`);
    await expect(revoked.getAttribute('data-state')).resolves.toBe('revoked');
    const style = await revoked.evaluate((el) => {
      const s = getComputedStyle(el);
      return {
        stroke: s.stroke,
        dash: s.strokeDasharray,
        width: (el as unknown as SvgPath).getBBox().width + (el as unknown as SvgPath).getBBox().height,
      };
    });
    expect(style.stroke).toBe('rgb(248, 81, 73)');
    expect(style.dash).not.toBe('none');
    expect(style.width).toBeGreaterThan(20); // actually drawn, not a zero-length stroke
    const active = await page
      .locator('#connectome-graph path.edge.s-active')
      .first()
      .evaluate((el) => getComputedStyle(el).strokeDasharray);
    expect(active).toBe('none');

    // Feed freshness per issuer.
    const states = await page
      .locator('#feeds tr[data-issuer]')
      .evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-issuer'), r.getAttribute('data-feed-state')]));
    expect(Object.fromEntries(states)).toEqual({ 'south.example': 'paused', 'east.example': 'stale', 'north.example': 'fresh' });
    await page.close();
  });

  it('clicking a revoked item shows its blast radius with propagation', async () => {
    const page = await open(`${net.hub.url}/connectome`);
    await expect(page.locator('#blast-radius table').count()).resolves.toBe(0);
    await Promise.all([page.waitForURL(/focus=/), page.locator(`#revoked tr[data-item="${net.ownAttestationId}"] a.item-link`).click()]);

    const panel = page.locator('#blast-radius');
    await expect(panel.getAttribute('data-item')).resolves.toBe(net.ownAttestationId);
    const rows = await panel
      .locator('tr[data-sovereign]')
      .evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-sovereign'), tr.getAttribute('data-caught-up')]));
    expect(rows).toEqual([
      ['north.example', 'true'],
      ['south.example', 'false'],
      ['east.example', 'unknown'],
    ]);
    await expect(panel.locator('.badge', { hasText: 'not caught up' }).count()).resolves.toBeGreaterThan(0);
    // The graph highlights the issuer and the affected sovereigns.
    await expect(page.locator('#connectome-graph g.node.issuer').getAttribute('data-sovereign')).resolves.toBe('hub.example');
    const affected = await page
      .locator('#connectome-graph g.node.affected')
      .evaluateAll((gs) => gs.map((g) => g.getAttribute('data-sovereign')).sort());
    expect(affected).toEqual(['east.example', 'north.example', 'south.example']);
    await expect(page.locator('#revoked tr.selected').getAttribute('data-item')).resolves.toBe(net.ownAttestationId);

    await page.locator('#blast-radius').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, 'connectome-dashboard.png'), fullPage: true });
    await page.close();
  });

  it('clicking the red edge selects the revoked treaty; clicking a node explains the trust path', async () => {
    const page = await open(`${net.hub.url}/connectome`);
    // Click the middle of the drawn line itself (not its bounding box).
    const middle = await page.locator(`#connectome-graph path.edge[data-treaty="${net.revokedTreatyId}"]`).evaluate((el) => {
      const path = el as unknown as SvgPath;
      const p = path.getPointAtLength(path.getTotalLength() / 2);
      const m = path.getScreenCTM()!;
      return { x: p.x * m.a + p.y * m.c + m.e, y: p.x * m.b + p.y * m.d + m.f };
    });
    await Promise.all([page.waitForURL(/focus=/), page.mouse.click(middle.x, middle.y)]);
    await expect(page.locator('#blast-radius').getAttribute('data-item')).resolves.toBe(net.revokedTreatyId);
    await expect(page.locator('#connectome-graph path.edge.carrying').count()).resolves.toBeGreaterThan(0);

    await Promise.all([page.waitForURL(/to=n-2/), page.locator('#connectome-graph g.node[data-sovereign="n-2"]').click()]);
    const result = page.locator('#trust-path [data-reason]');
    await expect(result.getAttribute('data-reason')).resolves.toBe('active_treaty_path');
    await expect(page.locator('#connectome-graph path.edge.on-path').count()).resolves.toBe(2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'connectome-trust-path.png'), fullPage: false });
    await page.close();
  });

  it('loads nothing from elsewhere, runs no script and reports no CSP violation', async () => {
    const page = await open(`${net.hub.url}/connectome?focus=${net.importedAttestationId}`);
    await expect(page.locator('script').count()).resolves.toBe(0);
    const csp = (await fetch(`${net.hub.url}/connectome`)).headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'none'");
    // The stylesheet is applied (its hash matches the policy).
    await expect(page.locator('body').evaluate((b) => getComputedStyle(b).backgroundColor)).resolves.toBe('rgb(13, 17, 23)');
    await page.close();
    expect(problems).toEqual([]);
  });
});

describe('the dashboard at 500 sovereigns', () => {
  it('renders the whole graph quickly, laid out without collisions', async () => {
    const connectome = buildConnectome(syntheticNetwork({ sovereigns: 500, treaties: 2000, revocations: 1000 }));
    const item = connectome.graph.items.find((i) => i.record.kind === 'membership_attestation')!.record;
    const app = new Hono().get('/connectome', (c) =>
      c.body(renderDashboard(connectome, { focus: c.req.query('focus') }), 200, {
        ...DASHBOARD_SECURITY_HEADERS,
        'Content-Type': 'text/html; charset=utf-8',
      }),
    );
    const http = await listen(app.fetch);
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
      const started = performance.now();
      await page.goto(`${http.url}/connectome?focus=${item.id}`);
      const loadMs = performance.now() - started;
      await expect(page.locator('#connectome-graph g.node').count()).resolves.toBe(500);
      expect(loadMs).toBeLessThan(10_000);
      const centres = await page
        .locator('#connectome-graph g.node circle')
        .evaluateAll((cs) => cs.map((c) => [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))]));
      let closest = Infinity;
      for (let i = 0; i < centres.length; i++) {
        for (let j = i + 1; j < centres.length; j++)
          closest = Math.min(closest, Math.hypot(centres[i]![0]! - centres[j]![0]!, centres[i]![1]! - centres[j]![1]!));
      }
      expect(closest).toBeGreaterThanOrEqual(14);
      await page.screenshot({ path: path.join(ARTIFACTS, 'connectome-500.png') });
      await page.close();
    } finally {
      await http.stop();
    }
  });
});

describe('the dashboard of three sovereigns', () => {
  it('draws them at their own size in a drawing cut to fit, not a thin line in a large empty square', async () => {
    const connectome = buildConnectome(input({ treaties: chain('a>peer-1.example peer-1.example>a a>peer-2.example peer-2.example>a') }));
    const layout = layoutGraph(connectome.graph);
    const app = new Hono().get('/connectome', (c) =>
      c.body(renderDashboard(connectome), 200, { ...DASHBOARD_SECURITY_HEADERS, 'Content-Type': 'text/html; charset=utf-8' }),
    );
    const http = await listen(app.fetch);
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
      await page.goto(`${http.url}/connectome`);
      const svg = (await page.locator('#connectome-graph').boundingBox())!;
      const panel = (await page.locator('#graph .graph-wrap').boundingBox())!;
      // Shown at its own size: one drawing unit is one pixel, so nodes and labels have their design size.
      expect(svg.width).toBeCloseTo(layout.width, 0);
      expect(svg.height).toBeCloseTo(layout.height, 0);
      expect(svg.height).toBeLessThan(svg.width / 3);
      // The panel holds the drawing, not a square of empty space around it.
      expect(panel.height).toBeLessThan(svg.height + 10);
      const circles = await page
        .locator('#connectome-graph g.node:not(.self) circle')
        .evaluateAll((cs) => cs.map((c) => (c as unknown as SvgPath).getBBox().width));
      expect(circles).toEqual([2 * layout.nodeRadius, 2 * layout.nodeRadius]);
      const labels = await page
        .locator('#connectome-graph g.node text')
        .evaluateAll((ts) => ts.map((t) => (t as unknown as SvgPath).getBBox().width));
      expect(labels).toHaveLength(3);
      for (const width of labels) expect(width).toBeGreaterThan(0);
      const text = await page.locator('#connectome-graph g.node text').first().boundingBox();
      expect(text!.height).toBeLessThan(24); // 13 px text, not blown up to the panel's width
      await expect(page.locator('#feeds h2').textContent()).resolves.toBe('Feed freshness (0 issuers)');
      await page.screenshot({ path: path.join(ARTIFACTS, 'connectome-three.png') });
      await page.close();
    } finally {
      await http.stop();
    }
  });
});
