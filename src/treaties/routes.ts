// HTTP routes of the treaties domain: admin issue/revoke/supersede (saying when the revocation is published) and public reads.
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { jsonBody, validatedQuery } from '../authority/http.ts';
import { publicationOutlook } from '../log/publication.ts';
import { getAttestation, issueAttestation, revokeAttestation, revokeAttestationsByOperator } from './attestations.ts';
import { LIFECYCLE_STATES } from './lifecycle.ts';
import { identifier } from '../authority/identifiers.ts';
import { getTreaty, issueTreaty, listTreaties, revokeTreatiesByOperator, revokeTreaty, supersedeTreaty } from './service.ts';
import { installTreatyMetrics } from './treaty-metrics.ts';

const listQuery = z.strictObject({
  issuer: identifier.optional(),
  subject: identifier.optional(),
  state: z.enum(LIFECYCLE_STATES).optional(),
  cursor: z.string().min(1).max(512).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export function treatyRoutes(deps: AppDeps) {
  installTreatyMetrics(deps);
  const ctx = (c: { get(key: 'operator'): AppEnv['Variables']['operator']; get(key: 'requestId'): string }) => ({
    operator: c.get('operator'),
    options: { requestId: c.get('requestId') },
  });

  return new Hono<AppEnv>()
    .post('/admin/recognition-treaties', async (c) => {
      const { operator, options } = ctx(c);
      const treaty = issueTreaty(deps, await jsonBody(c), operator, options);
      c.header('Location', `/recognition-treaties/${treaty.treaty_id}`);
      return c.json(treaty, 201);
    })
    .post('/admin/recognition-treaties/revoke-by-operator', async (c) => {
      const { operator, options } = ctx(c);
      const result = revokeTreatiesByOperator(deps, await jsonBody(c), operator, options);
      return c.json({ ...result, ...publicationOutlook(deps) }, 200);
    })
    .post('/admin/recognition-treaties/:id/revoke', async (c) => {
      const { operator, options } = ctx(c);
      const revocation = revokeTreaty(deps, c.req.param('id'), await jsonBody(c), operator, options);
      return c.json({ ...revocation, ...publicationOutlook(deps) }, 200);
    })
    .post('/admin/recognition-treaties/:id/supersede', async (c) => {
      const { operator, options } = ctx(c);
      const result = supersedeTreaty(deps, c.req.param('id'), await jsonBody(c), operator, options);
      c.header('Location', `/recognition-treaties/${result.treaty.treaty_id}`);
      return c.json({ ...result, ...publicationOutlook(deps) }, 201);
    })
    .post('/admin/attestations', async (c) => {
      const { operator, options } = ctx(c);
      const attestation = issueAttestation(deps, await jsonBody(c), operator, options);
      c.header('Location', `/admin/attestations/${attestation.attestation_id}`);
      return c.json(attestation, 201);
    })
    .post('/admin/attestations/revoke-by-operator', async (c) => {
      const { operator, options } = ctx(c);
      const result = revokeAttestationsByOperator(deps, await jsonBody(c), operator, options);
      return c.json({ ...result, ...publicationOutlook(deps) }, 200);
    })
    .post('/admin/attestations/:id/revoke', async (c) => {
      const { operator, options } = ctx(c);
      const revocation = revokeAttestation(deps, c.req.param('id'), await jsonBody(c), operator, options);
      return c.json({ ...revocation, ...publicationOutlook(deps) }, 200);
    })
    .get('/admin/attestations/:id', (c) => {
      c.header('Cache-Control', 'no-store');
      return c.json(getAttestation(deps, c.req.param('id')), 200);
    })
    .get('/recognition-treaties', (c) => {
      const query = validatedQuery(c, listQuery);
      c.header('Cache-Control', 'no-cache');
      return c.json(listTreaties(deps, query), 200);
    })
    .get('/recognition-treaties/:id', (c) => {
      c.header('Cache-Control', 'no-cache');
      return c.json(getTreaty(deps, c.req.param('id')), 200);
    });
}
