// HTTP routes of following: a primary serves the follower updates it signed, as stored bytes (serving never signs).
import { Hono, type Context } from 'hono';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { etagMatches } from '../authority/http.ts';
import { FOLLOWER_UPDATES_PATH } from './model.ts';
import { followerUpdate, latestFollowerUpdate } from './publish.ts';

const SEQUENCE = /^[1-9][0-9]{0,15}$/;

function serveUpdate(c: Context<AppEnv>, update: { update_hash: string; body: string }, cacheControl: string): Response {
  const etag = `"${update.update_hash}"`;
  c.header('ETag', etag);
  c.header('Cache-Control', cacheControl);
  if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304);
  c.header('Content-Type', 'application/json');
  return c.body(update.body);
}

export function followerUpdateRoutes(deps: AppDeps) {
  const sqlite = deps.db.sqlite;
  return new Hono<AppEnv>()
    .get(`${FOLLOWER_UPDATES_PATH}/latest`, (c) => {
      const update = latestFollowerUpdate(sqlite);
      if (!update) throw new AppError('follower_update_not_found', 'no follower update has been published yet');
      return serveUpdate(c, update, 'no-cache');
    })
    .get(`${FOLLOWER_UPDATES_PATH}/:sequence`, (c) => {
      const text = c.req.param('sequence');
      if (!SEQUENCE.test(text)) throw new AppError('invalid_sequence', 'sequence must be a positive whole number');
      const update = followerUpdate(sqlite, Number(text));
      if (!update) throw new AppError('follower_update_not_found', 'no follower update with this sequence', { sequence: Number(text) });
      return serveUpdate(c, update, 'public, max-age=31536000, immutable');
    });
}
