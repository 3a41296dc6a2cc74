// Admin routes for a peer's key change or compromise: status, contain, evidence, repin, and the verification pull.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { adminOrigin } from '../authority/admin-auth.ts';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { identifier } from '../authority/identifiers.ts';
import { optionalBody, validatedBody } from '../authority/http.ts';
import { refreshPeerKeyGauge } from '../feeds/declaration-watch.ts';
import { getPeer } from '../feeds/peers.ts';
import { testPullPeer } from '../feeds/test-pull.ts';
import { containPeer, exportEvidence, peerStatus, repinPeer, type IncidentActor } from './peer-incident.ts';

/** The longest overlap a repin may keep the previous keys for: the longest signing-key overlap. */
export const MAX_REPIN_OVERLAP_SECONDS = 365 * 86400;

const reasonText = z
  .string()
  .min(1)
  .max(500)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must be printable text without control characters');

const containBody = z.strictObject({
  reason: reasonText,
  revoke_treaties: z.boolean().optional(),
  incident: identifier.optional(),
});

const repinBody = z.strictObject({
  public_key: z.string().min(1).max(128),
  confirm_out_of_band: z.boolean(),
  overlap_seconds: z.number().int().min(0).max(MAX_REPIN_OVERLAP_SECONDS).optional(),
  incident: identifier.optional(),
});

const evidenceBody = z.strictObject({ reason: reasonText.optional() });
const testPullBody = z.strictObject({});

function peerId(c: Context<AppEnv>): string {
  const parsed = identifier.safeParse(c.req.param('id') ?? '');
  if (!parsed.success) throw new AppError('peer_not_found', 'no peer with this sovereign id');
  return parsed.data;
}

function actorOf(c: Context<AppEnv>): IncidentActor {
  return { operator: c.get('operator'), origin: adminOrigin(c) };
}

export function peerIncidentRoutes(deps: AppDeps) {
  refreshPeerKeyGauge(deps);
  return new Hono<AppEnv>()
    .get('/admin/peers/:id/status', (c) => c.json(peerStatus(deps, peerId(c))))
    .post('/admin/peers/:id/contain', async (c) => {
      const id = peerId(c);
      getPeer(deps, id);
      const body = await validatedBody(c, containBody, 'invalid_peer_request');
      return c.json(containPeer(deps, id, body, actorOf(c)));
    })
    .post('/admin/peers/:id/evidence', async (c) => {
      const id = peerId(c);
      getPeer(deps, id);
      const body = await optionalBody(c, evidenceBody, 'invalid_peer_request');
      return c.json(exportEvidence(deps, id, body.reason ?? null, adminOrigin(c)));
    })
    .post('/admin/peers/:id/repin', async (c) => {
      const id = peerId(c);
      getPeer(deps, id);
      const body = await validatedBody(c, repinBody, 'invalid_peer_request');
      return c.json(repinPeer(deps, id, body, actorOf(c)));
    })
    .post('/admin/peers/:id/test-pull', async (c) => {
      const id = peerId(c);
      getPeer(deps, id);
      await optionalBody(c, testPullBody, 'invalid_peer_request');
      return c.json(await testPullPeer(deps, id, adminOrigin(c)));
    });
}
