// HTTP routes of the Genesis Mesh profile: GM's feed import route and a GM-compatible feed of this authority.
import { Hono } from 'hono';
import { z } from 'zod';
import { adminOrigin } from '../authority/admin-auth.ts';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { etagMatches, jsonRawBody, validatedQuery } from '../authority/http.ts';
import { importGmFeedRequest } from './gm-import.ts';
import { currentGmSnapshot } from './gm-publish.ts';

const feedQuery = z.strictObject({ issuer_sovereign_id: z.string().max(128).optional() });

export function gmFeedRoutes(deps: AppDeps) {
  // The snapshot is signed lazily, once per native publication, by the first request that needs it:
  // building it reads every revoked attestation, which must not lengthen publishing itself. Every
  // other request is served the stored bytes.
  return new Hono<AppEnv>()
    .post('/admin/sovereign-revocation-feeds/import', async (c) => {
      const result = importGmFeedRequest(deps, await jsonRawBody(c), { ...adminOrigin(c), via: 'admin' });
      return c.json(result, 200);
    })
    .get('/sovereign-revocation-feed', (c) => {
      const { issuer_sovereign_id: issuer } = validatedQuery(c, feedQuery);
      if (issuer !== undefined && issuer !== deps.identity.sovereignId) {
        throw new AppError('issuer_not_served', 'this authority serves only its own revocation feed', { issuer_sovereign_id: issuer });
      }
      const snapshot = currentGmSnapshot(deps);
      if (!snapshot) throw new AppError('feed_not_published', 'no revocation feed has been published yet');
      const headers = { ETag: snapshot.etag, 'Cache-Control': 'no-cache' };
      if (etagMatches(c.req.header('if-none-match'), snapshot.etag)) return c.body(null, 304, headers);
      const bytes = new Uint8Array(snapshot.bytes.buffer as ArrayBuffer, snapshot.bytes.byteOffset, snapshot.bytes.length);
      return c.body(bytes, 200, { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(snapshot.bytes.length) });
    });
}
