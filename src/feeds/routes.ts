// HTTP surface of the feeds domain: serving published feeds, receipts, and the admin routes for import, peers, rollback.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { adminOrigin } from '../authority/admin-auth.ts';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { etagMatches, jsonBody, jsonRawBody, optionalBody, validatedBody, validatedQuery } from '../authority/http.ts';
import { refreshIssuerStaleness, refreshStalenessOnScrape } from './freshness.ts';
import { listIssuerFeedStatuses } from './imported-revocations.ts';
import { readEquivocations } from './imported-store.ts';
import { feedImporterFor } from './import-runner.ts';
import { identifier } from '../authority/identifiers.ts';
import { getPeer, listPeers, MAX_PEER_MIRRORS, pauseIssuer, registerPeer, removePeer, resumeIssuer, setPeerMirrors } from './peers.ts';
import { WIRE_PROFILES } from '../interop/gm-model.ts';
import { latestPublishedFeed, latestPublishedSequence, publishedFeed, publishedFeedsSince, publishFeeds } from './publish.ts';
import { pullPeer } from './pull.ts';
import { receiptsByImporter, recordReceipt } from './receipts.ts';
import { rollbackImport } from './rollback.ts';

/** Page bounds of GET /revocation-feeds: at most 100 feeds and about 8 MiB per answer. */
export const MAX_LIST_LIMIT = 100;
export const DEFAULT_LIST_LIMIT = 20;
export const LIST_BYTE_BUDGET = 8 * 1024 * 1024;

const IMMUTABLE = 'public, max-age=31536000, immutable';
const SEQUENCE = /^[1-9][0-9]{0,15}$/;

const listQuery = z.strictObject({
  since: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,15})$/, 'must be a whole number')
    .transform(Number)
    .default(0),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,3}$/, `must be a whole number from 1 to ${MAX_LIST_LIMIT}`)
    .transform(Number)
    .refine((n) => n <= MAX_LIST_LIMIT, `must be a whole number from 1 to ${MAX_LIST_LIMIT}`)
    .default(DEFAULT_LIST_LIMIT),
});

const publishBody = z.strictObject({ heartbeat: z.boolean().optional() });
const rollbackBody = z.strictObject({ issuer_sovereign_id: identifier, to_sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });
const peerBody = z.strictObject({
  sovereign_id: identifier,
  base_url: z.string().min(1).max(2048),
  profile: z.enum(WIRE_PROFILES).optional(),
  mirror_urls: z.array(z.string().min(1).max(2048)).max(MAX_PEER_MIRRORS).optional(),
});
const mirrorsBody = z.strictObject({ mirror_urls: z.array(z.string().min(1).max(2048)).max(MAX_PEER_MIRRORS) });

/** Serves stored feed bytes exactly as signed. */
function serveFeed(c: Context<AppEnv>, feed: { feed_hash: string; body: string }, cacheControl: string): Response {
  const etag = `"${feed.feed_hash}"`;
  c.header('ETag', etag);
  c.header('Cache-Control', cacheControl);
  if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304);
  c.header('Content-Type', 'application/json');
  return c.body(feed.body);
}

function peerId(c: Context<AppEnv>): string {
  const id = c.req.param('id') ?? '';
  const parsed = identifier.safeParse(id);
  if (!parsed.success) throw new AppError('peer_not_found', 'no peer with this sovereign id');
  return parsed.data;
}

export function feedRoutes(deps: AppDeps) {
  refreshStalenessOnScrape(deps);
  const sqlite = deps.db.sqlite;
  deps.metrics.feedPublishedSequence.set(latestPublishedSequence(sqlite));

  return (
    new Hono<AppEnv>()
      // ---- Serving: stored bytes only; never signs, never touches a signing key.
      .get('/revocation-feeds/latest', (c) => {
        const feed = latestPublishedFeed(sqlite);
        if (!feed) throw new AppError('feed_not_found', 'no feed has been published yet');
        return serveFeed(c, feed, 'no-cache');
      })
      .get('/revocation-feeds', (c) => {
        const query = validatedQuery(c, listQuery);
        const page = publishedFeedsSince(sqlite, query.since, query.limit, LIST_BYTE_BUDGET);
        c.header('Content-Type', 'application/json');
        c.header('Cache-Control', 'no-cache');
        return c.body(
          `{"feeds":[${page.feeds.map((f) => f.body).join(',')}],"latest_sequence":${latestPublishedSequence(sqlite)},"more":${page.more}}`,
        );
      })
      .get('/revocation-feeds/:sequence', (c) => {
        const text = c.req.param('sequence');
        if (!SEQUENCE.test(text)) throw new AppError('invalid_sequence', 'sequence must be a positive whole number');
        const feed = publishedFeed(sqlite, Number(text));
        if (!feed) throw new AppError('feed_not_found', 'no feed with this sequence', { sequence: Number(text) });
        return serveFeed(c, feed, IMMUTABLE);
      })
      .post('/revocation-feeds/receipts', async (c) => {
        const input = await jsonBody(c, { integersOnly: true }).catch((err: unknown) => {
          if (!(err instanceof AppError) || err.code !== 'non_canonical_number') throw err;
          throw new AppError('invalid_feed_receipt', 'the receipt does not match the feed receipt schema', {
            issues: [{ path: '(root)', message: err.message }],
          });
        });
        const outcome = recordReceipt(deps, input, c.get('requestId'));
        return c.json({ accepted: true, ...outcome });
      })

      // ---- Admin: publishing, import, rollback, state.
      .post('/admin/revocation-feeds/publish', async (c) => {
        const body = await optionalBody(c, publishBody, 'invalid_publish_request');
        const result = publishFeeds(deps, {
          trigger: 'admin',
          heartbeat: body.heartbeat ? 'force' : 'if_due',
          ...adminOrigin(c),
        });
        return c.json(result);
      })
      .post('/admin/revocation-feeds/import', async (c) => {
        const result = await feedImporterFor(deps).importRequest(await jsonRawBody(c), { ...adminOrigin(c), via: 'admin' });
        const { feed_hash: _hash, ...response } = result;
        return c.json(response);
      })
      .post('/admin/revocation-feeds/rollback-import', async (c) => {
        const body = await validatedBody(c, rollbackBody, 'invalid_rollback_request');
        return c.json(rollbackImport(deps, body, adminOrigin(c)));
      })
      .get('/admin/revocation-feeds/issuers', (c) => {
        refreshIssuerStaleness(deps);
        return c.json({ issuers: listIssuerFeedStatuses(sqlite, deps.clock()) });
      })
      .get('/admin/revocation-feeds/receipts', (c) =>
        c.json({ receipts: receiptsByImporter(sqlite), latest_sequence: latestPublishedSequence(sqlite) }),
      )
      .get('/admin/revocation-feeds/equivocations', (c) => {
        const rows = readEquivocations(sqlite);
        return c.json({
          equivocations: rows.map(({ conflicting_body, ...rest }) => ({
            ...rest,
            conflicting_feed: JSON.parse(conflicting_body) as unknown,
          })),
        });
      })

      // ---- Admin: peers.
      .post('/admin/peers', async (c) => {
        const body = await validatedBody(c, peerBody, 'invalid_peer');
        return c.json(registerPeer(deps, body, adminOrigin(c)), 201);
      })
      .get('/admin/peers', (c) => {
        refreshIssuerStaleness(deps);
        return c.json({ peers: listPeers(deps) });
      })
      .get('/admin/peers/:id', (c) => c.json(getPeer(deps, peerId(c))))
      .delete('/admin/peers/:id', (c) => c.json(removePeer(deps, peerId(c), adminOrigin(c))))
      .put('/admin/peers/:id/mirrors', async (c) => {
        const id = peerId(c);
        const body = await validatedBody(c, mirrorsBody, 'invalid_peer');
        return c.json(setPeerMirrors(deps, id, body.mirror_urls, adminOrigin(c)));
      })
      .post('/admin/peers/:id/pause', (c) => c.json(pauseIssuer(deps, peerId(c), adminOrigin(c))))
      .post('/admin/peers/:id/resume', (c) => c.json(resumeIssuer(deps, peerId(c), adminOrigin(c))))
      .post('/admin/peers/:id/pull', async (c) => {
        const id = peerId(c);
        getPeer(deps, id);
        return c.json(await pullPeer(deps, id, { force: true }));
      })
  );
}
