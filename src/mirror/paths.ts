// The URL paths a static mirror holds: each route it copies, how its file is named, what it carries and how long it may be cached.
import path from 'node:path';
import { parseTilePath, TILE_WIDTH } from '../transparency/tile-format.ts';

/**
 * How a mirrored file changes:
 * - `immutable`: written once, never changed (a sequenced feed, a stored checkpoint, a full tile or entry bundle);
 * - `partial`: never changed either, but superseded by the full tile and removed some time after it appears;
 * - `head`: replaced as the authority publishes (the checkpoint, the latest feed, the Genesis Mesh snapshot);
 * - `document`: replaced when what it describes changes (the declaration, the connectome).
 */
export type MirrorFileKind = 'immutable' | 'partial' | 'head' | 'document';

export interface MirroredRoute {
  /** The route as served, with its variable parts in braces. */
  pattern: string;
  kind: MirrorFileKind;
  /** The Content-Type the mirror's web server sends (the live route's). */
  contentType: string;
  /** The Cache-Control the mirror's web server sends (ops/nginx/accord-mirror.conf). */
  cacheControl: string;
  /** A `.gz` copy of the file is kept beside it (the live route's gzip answer, byte for byte). */
  gzip?: true;
}

export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';
/** Heads and documents: revalidated after a few seconds, so readers follow the authority closely. */
export const HEAD_CACHE = 'public, max-age=5';
/** A partial tile: its bytes never change, but it is superseded by the full tile and may go away. */
export const PARTIAL_CACHE = 'public, max-age=60';
/** The declaration, as the live route caches it. */
export const DECLARATION_CACHE = 'public, max-age=300';

const JSON_TYPE = 'application/json';
const NOTE_TYPE = 'text/plain; charset=utf-8';
const TILE_TYPE = 'application/octet-stream';

/**
 * Every route a mirror copies, in no particular order. A file's URL path is its path under the mirror
 * directory; `routeOfPath` tells which route a path belongs to. Followers and tests read this list.
 */
export const MIRRORED_ROUTES: readonly MirroredRoute[] = [
  { pattern: '/.well-known/network-authority', kind: 'document', contentType: JSON_TYPE, cacheControl: DECLARATION_CACHE },
  { pattern: '/connectome.json', kind: 'document', contentType: 'application/json; charset=utf-8', cacheControl: HEAD_CACHE, gzip: true },
  { pattern: '/revocation-feeds/latest', kind: 'head', contentType: JSON_TYPE, cacheControl: HEAD_CACHE },
  { pattern: '/revocation-feeds/{sequence}', kind: 'immutable', contentType: JSON_TYPE, cacheControl: IMMUTABLE_CACHE },
  { pattern: '/sovereign-revocation-feed', kind: 'head', contentType: JSON_TYPE, cacheControl: HEAD_CACHE },
  { pattern: '/log/checkpoint', kind: 'head', contentType: NOTE_TYPE, cacheControl: HEAD_CACHE },
  { pattern: '/log/checkpoints/{sequence}', kind: 'immutable', contentType: NOTE_TYPE, cacheControl: IMMUTABLE_CACHE },
  { pattern: '/log/tile/{level}/{index}', kind: 'immutable', contentType: TILE_TYPE, cacheControl: IMMUTABLE_CACHE },
  { pattern: '/log/tile/{level}/{index}.p/{width}', kind: 'partial', contentType: TILE_TYPE, cacheControl: PARTIAL_CACHE },
  { pattern: '/log/tile/entries/{index}', kind: 'immutable', contentType: TILE_TYPE, cacheControl: IMMUTABLE_CACHE },
  { pattern: '/log/tile/entries/{index}.p/{width}', kind: 'partial', contentType: TILE_TYPE, cacheControl: PARTIAL_CACHE },
  // The signed follower updates (docs/followers.md): a follower may follow a mirror.
  { pattern: '/follower/updates/latest', kind: 'head', contentType: JSON_TYPE, cacheControl: HEAD_CACHE },
  { pattern: '/follower/updates/{sequence}', kind: 'immutable', contentType: JSON_TYPE, cacheControl: IMMUTABLE_CACHE },
];

const route = (pattern: string): MirroredRoute => MIRRORED_ROUTES.find((r) => r.pattern === pattern)!;
const SEQUENCE = /^[1-9][0-9]{0,15}$/;

/** The route a URL path of the mirror belongs to (a `.gz` copy belongs to its file's route), or null. */
export function routeOfPath(urlPath: string): MirroredRoute | null {
  const plain = urlPath.endsWith('.gz') ? urlPath.slice(0, -3) : urlPath;
  const exact = MIRRORED_ROUTES.find((r) => r.pattern === plain && !r.pattern.includes('{'));
  if (exact) return urlPath === plain || exact.gzip ? exact : null;
  if (urlPath !== plain) return null;
  const feed = /^\/revocation-feeds\/([^/]+)$/.exec(urlPath);
  if (feed) return SEQUENCE.test(feed[1]!) ? route('/revocation-feeds/{sequence}') : null;
  const update = /^\/follower\/updates\/([^/]+)$/.exec(urlPath);
  if (update) return SEQUENCE.test(update[1]!) ? route('/follower/updates/{sequence}') : null;
  const checkpoint = /^\/log\/checkpoints\/([^/]+)$/.exec(urlPath);
  if (checkpoint) return SEQUENCE.test(checkpoint[1]!) ? route('/log/checkpoints/{sequence}') : null;
  if (urlPath.startsWith('/log/tile/')) {
    const tile = parseTilePath(urlPath.slice('/log/tile/'.length));
    if (!tile) return null;
    const partial = tile.width !== TILE_WIDTH;
    if (tile.level === 'entries') return route(partial ? '/log/tile/entries/{index}.p/{width}' : '/log/tile/entries/{index}');
    return route(partial ? '/log/tile/{level}/{index}.p/{width}' : '/log/tile/{level}/{index}');
  }
  return null;
}

/** The file of a URL path under the mirror directory. */
export function mirrorFile(dir: string, urlPath: string): string {
  return path.join(dir, ...urlPath.split('/').filter((part) => part.length > 0));
}

/** Where files are written before they are renamed into place; never served. */
export const TEMP_DIR = '.accord-tmp';
