// The revocation log as C2SP tlog-tiles (height 8): tile paths, building full tiles as the log is published, and reading tiles, entry bundles and subtree hashes.
import { hash } from 'node:crypto';
import { AppError } from '../authority/errors.ts';
import type { Sqlite } from '../db/database.ts';
import { appendLeafDigests, emptyFrontier, nodeDigest } from '../log/merkle.ts';
import {
  fullTileCount,
  insertTile,
  readEntryTexts,
  readLeafHashes,
  readTile,
  readTileHashes,
  readTileRoots,
  type TileRow,
} from './store.ts';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
export const HASH_SIZE = 32;
const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
const INTERIOR_BYTES = (TILE_WIDTH - 1) * HASH_SIZE;

/** Highest level a tile can have in a log whose size is a safe integer (256^7 > 2^53). */
export const MAX_TILE_LEVEL = 6;

/** A tile (level 0–63) or an entry bundle (`level: 'entries'`), with its width (256 when full). */
export interface TileAddress {
  level: number | 'entries';
  index: number;
  width: number;
}

/** `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, with N in 3-digit groups, all but the last prefixed by `x`. */
export function formatTilePath(tile: TileAddress): string {
  let n = tile.index;
  let digits = String(n % 1000).padStart(3, '0');
  while (n >= 1000) {
    n = Math.floor(n / 1000);
    digits = `x${String(n % 1000).padStart(3, '0')}/${digits}`;
  }
  return `${tile.level}/${digits}${tile.width === TILE_WIDTH ? '' : `.p/${tile.width}`}`;
}

/**
 * Parses the part of a tile URL after `tile/`; null unless it is in the one canonical form
 * (`formatTilePath` gives it back unchanged), so each tile has exactly one URL.
 */
export function parseTilePath(path: string): TileAddress | null {
  const parts = path.split('/');
  if (parts.length < 2 || parts.length > 12) return null;
  const levelText = parts[0]!;
  let level: number | 'entries';
  if (levelText === 'entries') level = 'entries';
  else if (/^(0|[1-9][0-9]?)$/.test(levelText) && Number(levelText) <= 63) level = Number(levelText);
  else return null;
  let width = TILE_WIDTH;
  let groups = parts.slice(1);
  const last = groups[groups.length - 2];
  if (last?.endsWith('.p')) {
    const w = groups[groups.length - 1]!;
    if (!/^[1-9][0-9]{0,2}$/.test(w) || Number(w) >= TILE_WIDTH) return null;
    width = Number(w);
    groups = [...groups.slice(0, -2), last.slice(0, -2)];
  }
  let index = 0;
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i]!;
    const match = (i < groups.length - 1 ? /^x([0-9]{3})$/ : /^([0-9]{3})$/).exec(group);
    if (!match) return null;
    index = index * 1000 + Number(match[1]);
  }
  if (!Number.isSafeInteger(index)) return null;
  const tile = { level, index, width };
  return formatTilePath(tile) === path ? tile : null;
}

/** The 255 interior hashes of a full tile, level by level (128, 64, …, 1), built with the feeds' node hashing. */
export function tileInterior(hashes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(INTERIOR_BYTES);
  let level = hashes.toString('latin1');
  let offset = 0;
  for (let width = TILE_WIDTH / 2; width >= 1; width /= 2) {
    const parts: string[] = new Array(width);
    for (let i = 0; i < width; i++) parts[i] = nodeDigest(level.slice(64 * i, 64 * i + 32), level.slice(64 * i + 32, 64 * i + 64));
    level = parts.join('');
    offset += out.write(level, offset, 'latin1');
  }
  return out;
}

/** Offset in `interior` of the hashes `height` levels (1–8) above the tile's own hashes. */
function interiorOffset(height: number): number {
  return (TILE_WIDTH - ((2 * TILE_WIDTH) >> height)) * HASH_SIZE;
}

/** The hashes a full tile at `level`, index `n` is made of, read from the level below. */
function tileSourceHashes(sqlite: Sqlite, level: number, n: number): Buffer {
  const from = n * TILE_WIDTH;
  const to = from + TILE_WIDTH;
  if (level === 0) {
    const leaves = readLeafHashes(sqlite, from, to);
    if (leaves.length !== TILE_WIDTH)
      throw new AppError('revocation_log_corrupt', 'the revocation log has a gap', { tile_level: 0, tile_index: n });
    const out = Buffer.allocUnsafe(FULL_TILE_BYTES);
    for (let i = 0; i < TILE_WIDTH; i++) out.write(leaves[i]!, i * HASH_SIZE, 'hex');
    return out;
  }
  const roots = readTileRoots(sqlite, level - 1, from, to);
  if (roots.length !== TILE_WIDTH) throw new Error(`tile ${level - 1}/${from}… is missing below tile ${level}/${n}`);
  return Buffer.concat(roots, FULL_TILE_BYTES);
}

/**
 * Stores every full tile of the first `size` leaves that is not stored yet, lowest level first (a
 * full tile needs the full tiles below it). Must run inside the caller's transaction, and only for
 * a published size: full tiles are immutable once served. Returns the number of tiles written.
 */
export function buildTiles(sqlite: Sqlite, size: number): number {
  if (!sqlite.inTransaction) throw new Error('buildTiles must run inside a transaction');
  let written = 0;
  for (let level = 0, span = TILE_WIDTH; level <= MAX_TILE_LEVEL && span <= size; level++, span *= TILE_WIDTH) {
    const want = Math.floor(size / span);
    for (let n = fullTileCount(sqlite, level); n < want; n++) {
      const hashes = tileSourceHashes(sqlite, level, n);
      const interior = tileInterior(hashes);
      insertTile(sqlite, level, n, interior.subarray(INTERIOR_BYTES - HASH_SIZE), hashes, interior);
      written++;
    }
  }
  return written;
}

/** A bounded map that forgets the least recently used entry. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly limit: number) {}

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, value);
  }
}

/**
 * What a connection remembers between requests. Everything here is immutable once the tree it
 * belongs to is published — a full tile, the hash of a complete subtree — so no entry is ever stale.
 */
export interface ReadCache {
  tiles: Lru<TileRow>;
  /** Hex hashes of complete subtrees of height ≥ 8 and on the partial edge (the levels every proof shares). */
  subtrees: Lru<string>;
}

const readCaches = new WeakMap<Sqlite, ReadCache>();

export function freshReadCache(): ReadCache {
  return { tiles: new Lru(512), subtrees: new Lru(16_384) };
}

function readCache(sqlite: Sqlite): ReadCache {
  let cache = readCaches.get(sqlite);
  if (!cache) readCaches.set(sqlite, (cache = freshReadCache()));
  return cache;
}

/**
 * Drops what a connection remembers. Publishing calls it: the only way a remembered hash could go
 * stale is published history being rewritten underneath (which publishing then refuses to sign).
 */
export function forgetTileReads(sqlite: Sqlite): void {
  readCaches.delete(sqlite);
}

/**
 * Reads hashes of a published tree of `size` leaves from its tiles. Every full tile of that size is
 * stored (they are built in the transaction that signs its checkpoint), so which tiles are full is
 * arithmetic, and the rightmost partial ones are assembled from the level below.
 */
export class TileReader {
  private readonly cache: ReadCache;

  /** `cache`: the connection's shared one by default; a private one inside a write transaction, so nothing uncommitted is remembered. */
  constructor(
    private readonly sqlite: Sqlite,
    readonly size: number,
    cache?: ReadCache,
  ) {
    this.cache = cache ?? readCache(sqlite);
  }

  private isFull(level: number, n: number): boolean {
    return (n + 1) * TILE_WIDTH ** (level + 1) <= this.size;
  }

  private fullTile(level: number, n: number): TileRow {
    const key = `${level}/${n}`;
    let row = this.cache.tiles.get(key);
    if (!row) {
      row = readTile(this.sqlite, level, n);
      if (!row)
        throw new AppError('revocation_log_corrupt', 'a full tile of the published log is missing', { tile_level: level, tile_index: n });
      this.cache.tiles.set(key, row);
    }
    return row;
  }

  /** Hashes of tile level `level` at positions [start, start + count), all in one tile. */
  levelHashes(level: number, start: number, count: number): Buffer {
    const n = Math.floor(start / TILE_WIDTH);
    if (this.isFull(level, n)) {
      const at = (start % TILE_WIDTH) * HASH_SIZE;
      return this.fullTile(level, n).hashes.subarray(at, at + count * HASH_SIZE);
    }
    if (level === 0) {
      const leaves = readLeafHashes(this.sqlite, start, start + count);
      if (leaves.length !== count)
        throw new AppError('revocation_log_corrupt', 'the revocation log has a gap', { from: start, to: start + count });
      return Buffer.from(leaves.join(''), 'hex');
    }
    const roots = readTileRoots(this.sqlite, level - 1, start, start + count);
    if (roots.length !== count)
      throw new AppError('revocation_log_corrupt', 'a full tile of the published log is missing', { tile_level: level - 1, from: start });
    return Buffer.concat(roots);
  }

  /**
   * Hex hash of the perfect subtree of height `height` at position `index` (leaves
   * [index·2^height, (index+1)·2^height)), which must lie inside the tree: one lookup in a full tile,
   * or at most 128 hashes of the partial edge combined (and remembered).
   */
  subtreeHash(height: number, index: number): string {
    const level = Math.floor(height / TILE_HEIGHT);
    const above = height % TILE_HEIGHT;
    const start = index * 2 ** above;
    const n = Math.floor(start / TILE_WIDTH);
    if (this.isFull(level, n)) {
      const tile = this.fullTile(level, n);
      if (above === 0)
        return tile.hashes.subarray((start % TILE_WIDTH) * HASH_SIZE, ((start % TILE_WIDTH) + 1) * HASH_SIZE).toString('hex');
      const at = interiorOffset(above) + ((start % TILE_WIDTH) >> above) * HASH_SIZE;
      return tile.interior.subarray(at, at + HASH_SIZE).toString('hex');
    }
    const key = `${height}/${index}`;
    const known = this.cache.subtrees.get(key);
    if (known) return known;
    let hash: string;
    if (above === 0) hash = this.levelHashes(level, start, 1).toString('hex');
    else {
      const units = this.levelHashes(level, start, 2 ** above).toString('latin1');
      const digests: string[] = new Array(2 ** above);
      for (let i = 0; i < digests.length; i++) digests[i] = units.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE);
      hash = appendLeafDigests(emptyFrontier(), digests).hashes[0]!;
    }
    this.cache.subtrees.set(key, hash);
    return hash;
  }

  /** The bytes of a hash tile inside the tree (check `tileExists` first). */
  tileData(tile: TileAddress & { level: number }): Buffer {
    if (tile.width === TILE_WIDTH) {
      // Serving needs only the hashes: half the bytes of a row, and no room taken in the proof cache.
      const hashes = this.cache.tiles.get(`${tile.level}/${tile.index}`)?.hashes ?? readTileHashes(this.sqlite, tile.level, tile.index);
      if (!hashes)
        throw new AppError('revocation_log_corrupt', 'a full tile of the published log is missing', {
          tile_level: tile.level,
          tile_index: tile.index,
        });
      return hashes;
    }
    return Buffer.from(this.levelHashes(tile.level, tile.index * TILE_WIDTH, tile.width));
  }
}

/** Whether a tile lies inside a tree of `size` leaves: full tiles below the edge, partial ones of any width up to it. */
export function tileExists(tile: TileAddress, size: number): boolean {
  const level = tile.level === 'entries' ? 0 : tile.level;
  if (level > MAX_TILE_LEVEL) return false;
  const span = TILE_WIDTH ** level;
  const end = (tile.index * TILE_WIDTH + tile.width) * span;
  return Number.isSafeInteger(end) && end <= size;
}

/** Entries longer than this cannot be length-prefixed in a bundle (uint16). */
export const MAX_BUNDLED_ENTRY = 0xffff;

/** An entry bundle: each entry's JCS bytes behind a big-endian uint16 length, in index order. */
export function entryBundle(sqlite: Sqlite, tile: TileAddress): Buffer {
  const from = tile.index * TILE_WIDTH;
  const texts = readEntryTexts(sqlite, from, from + tile.width);
  if (texts.length !== tile.width)
    throw new AppError('revocation_log_corrupt', 'the revocation log has a gap', { from, to: from + tile.width });
  // Entries are mostly ASCII, whose UTF-8 bytes are their latin1 bytes: then the bundle is one
  // string — each length as two characters, then the entry — encoded in one go.
  const parts = new Array<string>(2 * texts.length);
  let ascii = true;
  for (let i = 0; i < texts.length && ascii; i++) {
    const text = texts[i]!;
    const length = Buffer.byteLength(text, 'utf8');
    if (length > MAX_BUNDLED_ENTRY) throw new Error('a revocation entry is longer than an entry bundle can carry');
    if (length !== text.length) ascii = false;
    parts[2 * i] = String.fromCharCode(length >> 8, length & 0xff);
    parts[2 * i + 1] = text;
  }
  if (ascii) return Buffer.from(parts.join(''), 'latin1');
  const lengths = texts.map((text) => Buffer.byteLength(text, 'utf8'));
  const out = Buffer.allocUnsafe(lengths.reduce((sum, length) => sum + 2 + length, 0));
  let at = 0;
  for (let i = 0; i < texts.length; i++) {
    if (lengths[i]! > MAX_BUNDLED_ENTRY) throw new Error('a revocation entry is longer than an entry bundle can carry');
    out[at] = lengths[i]! >> 8;
    out[at + 1] = lengths[i]! & 0xff;
    at += 2 + out.write(texts[i]!, at + 2, 'utf8');
  }
  return out;
}

/** The entries of a bundle and their leaf hashes, or why the bundle is not `width` well-framed entries. */
export type BundleLeaves =
  | {
      ok: true;
      /** SHA-256(0x00 ‖ entry) of each entry, as `leafDigest` binary strings. */
      digests: string[];
      /** Entry i is `bundle[spans[2i] … spans[2i+1])`. */
      spans: Uint32Array;
    }
  | { ok: false; problem: string; entry: number };

/**
 * Splits an entry bundle that must hold exactly `width` entries and hashes each one (the RFC 6962
 * leaf hash). Hashes in place: the 0x00 leaf prefix is written over the low byte of each entry's
 * length once that length is read, so no entry is copied — the bundle's bytes change.
 */
export function bundleLeafDigests(bundle: Buffer, width: number): BundleLeaves {
  const digests = new Array<string>(width);
  const spans = new Uint32Array(2 * width);
  let at = 0;
  for (let i = 0; i < width; i++) {
    if (at + 2 > bundle.length)
      return {
        ok: false,
        problem: at === bundle.length ? `the bundle ends after ${i} of ${width} entries` : 'the bundle ends inside a length prefix',
        entry: i,
      };
    const start = at + 2;
    const end = start + ((bundle[at]! << 8) | bundle[at + 1]!);
    if (end > bundle.length) return { ok: false, problem: `entry ${i} runs past the end of the bundle`, entry: i };
    bundle[start - 1] = 0x00;
    digests[i] = hash('sha256', bundle.subarray(start - 1, end), 'binary');
    spans[2 * i] = start;
    spans[2 * i + 1] = end;
    at = end;
  }
  if (at !== bundle.length) return { ok: false, problem: `${bundle.length - at} bytes follow the bundle's ${width} entries`, entry: width };
  return { ok: true, digests, spans };
}
