// Admin routes for the authority's signing keys: list, rotate, retire (the running server swaps keys live).
import { Hono } from 'hono';
import { z } from 'zod';
import { adminOrigin } from '../authority/admin-auth.ts';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { optionalBody } from '../authority/http.ts';
import {
  DEFAULT_OVERLAP_DAYS,
  MAX_OVERLAP_DAYS,
  retireDueSigningKeys,
  rotateSigningKey,
  ROTATION_REASONS,
  signingKeyStatus,
} from './key-rotation.ts';

const rotateBody = z.strictObject({
  overlap_days: z.number().int().min(0).max(MAX_OVERLAP_DAYS).default(DEFAULT_OVERLAP_DAYS),
  reason: z.enum(ROTATION_REASONS).default('superseded'),
});
const retireBody = z.strictObject({});

export function signingKeyRoutes(deps: AppDeps) {
  return new Hono<AppEnv>()
    .get('/admin/signing-keys', (c) => c.json(signingKeyStatus(deps)))
    .post('/admin/signing-keys/rotate', async (c) => {
      const body = await optionalBody(c, rotateBody, 'invalid_rotation_request');
      const result = rotateSigningKey(deps, { overlapDays: body.overlap_days, reason: body.reason, ...adminOrigin(c) });
      return c.json(result, 201);
    })
    .post('/admin/signing-keys/retire', async (c) => {
      await optionalBody(c, retireBody, 'invalid_retire_request');
      return c.json(retireDueSigningKeys(deps, adminOrigin(c)));
    });
}
