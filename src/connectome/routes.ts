// Public connectome routes: the graph document, one item's blast radius, trust paths, and the operator dashboard.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { etagMatches, validatedQuery } from '../authority/http.ts';
import { REVOCATION_KINDS } from '../log/store.ts';
import { SOVEREIGN_ID_PATTERN } from '../authority/config.ts';
import { DASHBOARD_SECURITY_HEADERS } from './dashboard.tsx';
import { connectomeReaderFor } from './reader.ts';

const sovereignId = z.string().regex(SOVEREIGN_ID_PATTERN, 'must be a sovereign id');
const itemId = z.string().min(1).max(256);

const blastRadiusQuery = z.strictObject({ id: itemId, issuer: sovereignId.optional(), type: z.enum(REVOCATION_KINDS).optional() });
const trustPathQuery = z.strictObject({ from: sovereignId, to: sovereignId });

/** Whether the client accepts gzip (a `gzip` or `*` coding with a non-zero q-value). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** A Buffer as the plain Uint8Array a Response body takes (same memory, no copy). */
function bytes(buffer: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(buffer.buffer as ArrayBuffer, buffer.byteOffset, buffer.length);
}

function json(c: Context<AppEnv>, text: string): Response {
  c.header('Cache-Control', 'no-cache');
  return c.body(text, 200, { 'Content-Type': 'application/json; charset=utf-8' });
}

export function connectomeRoutes(deps: AppDeps) {
  const connectome = connectomeReaderFor(deps);

  return new Hono<AppEnv>()
    .get('/connectome.json', async (c) => {
      const current = await connectome.document();
      const headers: Record<string, string> = {
        ETag: current.etag,
        'Cache-Control': 'no-cache',
        Vary: 'Accept-Encoding',
      };
      if (etagMatches(c.req.header('if-none-match'), current.etag)) return c.body(null, 304, headers);
      headers['Content-Type'] = 'application/json; charset=utf-8';
      if (acceptsGzip(c.req.header('accept-encoding'))) {
        const gzipped = await current.gzip();
        return c.body(bytes(gzipped), 200, { ...headers, 'Content-Encoding': 'gzip', 'Content-Length': String(gzipped.length) });
      }
      headers['Content-Length'] = String(current.length);
      return c.body(bytes(current.body), 200, headers);
    })
    .get('/connectome/blast-radius', async (c) => {
      const query = validatedQuery(c, blastRadiusQuery);
      return json(c, await connectome.blastRadiusText(query));
    })
    .get('/connectome/trust-path', async (c) => {
      const query = validatedQuery(c, trustPathQuery);
      return json(c, await connectome.trustPathText(query.from, query.to));
    })
    .get('/connectome', async (c) => {
      const param = (name: string) => {
        const value = c.req.query(name);
        return value && value.length <= 256 ? value : undefined;
      };
      const html = await connectome.dashboardHtml({ focus: param('focus'), issuer: param('issuer'), from: param('from'), to: param('to') });
      return c.body(html, 200, { ...DASHBOARD_SECURITY_HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    });
}
