// HTTP routes of verification: may a treaty or an attestation presented to this authority be relied on now?
import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { jsonBody } from '../authority/http.ts';
import { verifyAttestationAsync, verifyTreaty } from './verification.ts';

export function verificationRoutes(deps: AppDeps) {
  return new Hono<AppEnv>()
    .post('/recognition-treaties/verify', async (c) => c.json(verifyTreaty(deps, await jsonBody(c)), 200))
    .post('/attestations/verify', async (c) => c.json(await verifyAttestationAsync(deps, await jsonBody(c)), 200));
}
