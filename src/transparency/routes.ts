// HTTP surface of the transparency log: the checkpoint and its history, tiles and entry bundles, and JSON proofs.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { sha256Hex } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';
import { etagMatches, validatedQuery } from '../authority/http.ts';
import { identifier } from '../authority/identifiers.ts';
import { readCheckpointsSince } from './store.ts';
import {
  catchUpLog,
  checkpointBySequence,
  consistencyProofFor,
  entriesWithProof,
  inclusionProofFor,
  latestCheckpoint,
  logKeys,
  tilesServing,
} from './service.ts';
import { parseTilePath, TILE_WIDTH } from './tile-format.ts';
import { entryBundle } from './tiles.ts';
import { cosignedNote } from './cosigned-note.ts';

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** A partial tile's bytes never change, but it is superseded by the full tile and may go away. */
const PARTIAL = 'public, max-age=60';
const NOTE_TYPE = 'text/plain; charset=utf-8';
const SEQUENCE = /^[1-9][0-9]{0,15}$/;

const count = (name: string) =>
  z
    .string()
    .regex(/^(0|[1-9][0-9]{0,15})$/, `${name} must be a whole number`)
    .transform(Number);
const inclusionQuery = z.strictObject({ index: count('index'), size: count('size').optional() });
const consistencyQuery = z.strictObject({ from: count('from'), to: count('to').optional() });
const listQuery = z.strictObject({
  since: count('since').default(0),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,2}$/, 'limit must be a whole number from 1 to 100')
    .transform(Number)
    .refine((n) => n <= 100, 'limit must be a whole number from 1 to 100')
    .default(100),
});

/** A note served as exact bytes, with its hash as ETag. */
function serveNote(c: Context<AppEnv>, note: string, cacheControl: string): Response {
  const etag = `"sha256:${sha256Hex(note)}"`;
  c.header('ETag', etag);
  c.header('Cache-Control', cacheControl);
  if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304);
  c.header('Content-Type', NOTE_TYPE);
  return c.body(note);
}

export function transparencyRoutes(deps: AppDeps) {
  const sqlite = deps.db.sqlite;
  catchUpLog(deps);

  return (
    new Hono<AppEnv>()
      // With the cosignatures its witnesses returned appended (the stored, log-signed bytes stay at /log/checkpoints/{sequence}).
      .get('/log/checkpoint', (c) => serveNote(c, cosignedNote(sqlite, latestCheckpoint(sqlite)), 'no-cache'))
      .get('/log/checkpoints', (c) => {
        const query = validatedQuery(c, listQuery);
        const rows = readCheckpointsSince(sqlite, query.since, query.limit + 1);
        const page = rows.slice(0, query.limit);
        c.header('Cache-Control', 'no-cache');
        return c.json({
          checkpoints: page.map((r) => ({
            sequence: r.sequence,
            size: r.tree_size,
            root_hash: r.root_hash,
            audit_head: r.audit_seq === null ? null : { seq: r.audit_seq, hash: r.audit_hash },
            signed_at: r.signed_at,
            note: r.note,
          })),
          more: rows.length > page.length,
        });
      })
      .get('/log/checkpoints/:sequence', (c) => {
        const text = c.req.param('sequence');
        if (!SEQUENCE.test(text)) throw new AppError('invalid_sequence', 'sequence must be a positive whole number');
        return serveNote(c, checkpointBySequence(sqlite, Number(text)).note, IMMUTABLE);
      })
      .get('/log/keys', (c) => c.json(logKeys(deps)))
      .get('/log/tile/*', (c) => {
        const tile = parseTilePath(c.req.path.slice('/log/tile/'.length));
        if (!tile)
          throw new AppError(
            'invalid_tile_path',
            'not a tile path: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], N in x-prefixed 3-digit groups',
          );
        const tiles = tilesServing(sqlite, tile);
        if (!tiles)
          throw new AppError('tile_not_found', 'no such tile in the latest checkpoint', {
            latest_size: latestCheckpoint(sqlite).tree_size,
          });
        const bytes = tile.level === 'entries' ? entryBundle(sqlite, tile) : tiles.tileData({ ...tile, level: tile.level });
        c.header('Content-Type', 'application/octet-stream');
        c.header('Cache-Control', tile.width === TILE_WIDTH ? IMMUTABLE : PARTIAL);
        return c.body(new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength));
      })
      .get('/log/proof/inclusion', (c) => {
        const query = validatedQuery(c, inclusionQuery);
        return c.json(inclusionProofFor(sqlite, query.index, query.size));
      })
      .get('/log/proof/consistency', (c) => {
        const query = validatedQuery(c, consistencyQuery);
        return c.json(consistencyProofFor(sqlite, query.from, query.to));
      })
      .get('/log/entries/:id', (c) => {
        const parsed = identifier.safeParse(c.req.param('id'));
        if (!parsed.success) throw new AppError('log_entry_not_found', 'no published log entry revokes this id');
        return c.json(entriesWithProof(sqlite, parsed.data));
      })
  );
}
