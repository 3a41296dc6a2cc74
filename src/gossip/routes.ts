// HTTP surface of split-view gossip: peers' evidence (public), and the admin routes to read, export and forward it.
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { jsonRawBody, validatedQuery } from '../authority/http.ts';
import { identifier } from '../authority/identifiers.ts';
import { forwardEvidence } from './forwarding.ts';
import { listSplitViews, splitViewEvidence, submitEvidence, watchWitnessConflicts } from './service.ts';

const listQuery = z.strictObject({
  issuer: identifier.optional(),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,2}$/, 'limit must be a whole number from 1 to 500')
    .transform(Number)
    .refine((n) => n <= 500, 'limit must be a whole number from 1 to 500')
    .optional(),
});
const EVIDENCE_HASH = /^sha256:[0-9a-f]{64}$/;

export function gossipRoutes(deps: AppDeps) {
  watchWitnessConflicts(deps);

  return (
    new Hono<AppEnv>()
      // Public: the evidence authenticates itself (two notes signed by the issuer's recognized keys).
      .post('/log/evidence', async (c) => {
        const outcome = submitEvidence(deps, await jsonRawBody(c), c.get('requestId'));
        c.header('Cache-Control', 'no-store');
        return c.json(outcome);
      })
      .get('/admin/split-views', (c) => {
        const query = validatedQuery(c, listQuery);
        return c.json({ split_views: listSplitViews(deps, query) });
      })
      .get('/admin/split-views/:hash', (c) => {
        const hash = c.req.param('hash');
        if (!EVIDENCE_HASH.test(hash)) throw new AppError('evidence_not_found', 'no split-view evidence with this hash');
        return c.json(splitViewEvidence(deps, hash));
      })
      .post('/admin/split-views/forward', async (c) => c.json(await forwardEvidence(deps, { force: true })))
  );
}
