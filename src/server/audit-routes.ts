// Admin audit log reading: operators page through events by sequence, in their stored form.
import { Hono } from 'hono';
import { z } from 'zod';
import { AUDIT_EVENT_TYPES, listAuditCanonical } from '../authority/audit.ts';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { validate } from '../authority/http.ts';

const MAX_PAGE = 1000;

/** A decimal whole number written plainly (no sign, exponent, fraction or blanks). */
const wholeNumber = (max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n <= max, `must be at most ${max}`);

const querySchema = z.strictObject({
  after_seq: wholeNumber(Number.MAX_SAFE_INTEGER).default(0),
  limit: wholeNumber(MAX_PAGE)
    .refine((n) => n >= 1, 'must be at least 1')
    .default(100),
  event_type: z.array(z.enum(AUDIT_EVENT_TYPES)).default([]),
});

export function auditRoutes(deps: AppDeps) {
  return new Hono<AppEnv>().get('/admin/audit', (c) => {
    const raw = c.req.queries();
    const query = validate(
      querySchema,
      {
        ...Object.fromEntries(
          Object.entries(raw)
            .filter(([k]) => k !== 'event_type')
            .map(([k, v]) => [k, v[v.length - 1]]),
        ),
        ...(raw.event_type ? { event_type: raw.event_type } : {}),
      },
      'invalid_query',
      'query parameters failed validation',
    );
    const page = listAuditCanonical(deps.db.sqlite, { afterSeq: query.after_seq, limit: query.limit, eventTypes: query.event_type });
    const next = page.rows.length === query.limit ? page.lastSeq : null;
    // Events are returned byte-for-byte as stored (JCS), so clients can recompute every hash.
    c.header('Content-Type', 'application/json');
    c.header('Cache-Control', 'no-store');
    return c.body(`{"events":[${page.rows.join(',')}],"next_after_seq":${next === null ? 'null' : next}}`);
  });
}
