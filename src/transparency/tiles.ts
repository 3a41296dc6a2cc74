// The revocation log as C2SP tlog-tiles (height 8) in storage: building full tiles and entry bundles as the log is published, and reading tiles, entry bundles and subtree hashes.
import { hash } from 'node:crypto';
import { AppError } from '../authority/errors.ts';
import type { Sqlite } from '../db/database.ts';
import { appendLeafDigests, emptyFrontier } from '../log/merkle.ts';
import {
  fullBundleCount,
  fullTileCount,
  insertBundle,
  insertTile,
  readBundle,
  readEntryTexts,
  readLeafTileSource,
  readLeafHashes,
  readTile,
  readTileHashes,
  readTilePath,
  readTileRoots,
  type TileRow,
} from './store.ts';
import type { RangeMemo } from './proofs.ts';
import { frameJoinedEntries, HASH_SIZE, MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH, type TileAddress } from './tile-format.ts';

const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
const INTERIOR_BYTES = (TILE_WIDTH - 1) * HASH_SIZE;

const NODE_INPUT = Buffer.alloc(1 + 2 * HASH_SIZE, 0x01);

/**
 * The 255 interior hashes of a full tile, level by level (128, 64, …, 1): RFC 6962 node hashes of
 * each pair below, written straight into the result (byte loops beat Buffer#copy and write here).
 */
export function tileInterior(hashes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(INTERIOR_BYTES);
  let below: Buffer = hashes;
  let belowAt = 0;
  let at = 0;
  for (let width = TILE_WIDTH / 2; width >= 1; width /= 2) {
    const levelAt = at;
    for (let i = 0; i < width; i++) {
      const pair = belowAt + 2 * HASH_SIZE * i;
      for (let j = 0; j < 2 * HASH_SIZE; j++) NODE_INPUT[1 + j] = below[pair + j]!;
      const digest = hash('sha256', NODE_INPUT, 'binary');
      for (let j = 0; j < HASH_SIZE; j++) out[at + j] = digest.charCodeAt(j);
      at += HASH_SIZE;
    }
    below = out;
    belowAt = levelAt;
  }
  return out;
}

/** Offset in `interior` of the hashes `height` levels (1–8) above the tile's own hashes. */
function interiorOffset(height: number): number {
  return (TILE_WIDTH - ((2 * TILE_WIDTH) >> height)) * HASH_SIZE;
}

/** The hashes a full tile at `level` ≥ 1, index `n` is made of: the roots of 256 full tiles of the level below. */
function tileSourceHashes(sqlite: Sqlite, level: number, n: number): Buffer {
  const from = n * TILE_WIDTH;
  const roots = readTileRoots(sqlite, level - 1, from, from + TILE_WIDTH);
  if (roots.length !== TILE_WIDTH) throw new Error(`tile ${level - 1}/${from}… is missing below tile ${level}/${n}`);
  return Buffer.concat(roots, FULL_TILE_BYTES);
}

function storeTile(sqlite: Sqlite, level: number, n: number, hashes: Buffer): void {
  const interior = tileInterior(hashes);
  insertTile(sqlite, level, n, interior.subarray(INTERIOR_BYTES - HASH_SIZE), hashes, interior);
}

/** The bundle of `count` newline-joined entries from index `from`; an entry with a raw newline is no JCS text. */
function framedOrCorrupt(joined: Buffer, count: number, from: number): Buffer {
  const bundle = frameJoinedEntries(joined, count);
  if (!bundle)
    throw new AppError('revocation_log_corrupt', 'a revocation log entry is not canonical JSON (it holds a raw newline)', {
      from,
      to: from + count,
    });
  return bundle;
}

/**
 * Stores the level-0 tiles and the entry bundles of the first `leafTiles` × 256 entries that are not
 * stored yet. One read of 256 entries gives both; a log whose tiles were built before bundles were
 * stored gets its bundles here, from entries checked against the stored tile. Returns the number of
 * tiles written.
 */
function buildLeafTiles(sqlite: Sqlite, leafTiles: number): number {
  const tilesFrom = fullTileCount(sqlite, 0);
  const bundlesFrom = fullBundleCount(sqlite);
  let written = 0;
  for (let n = Math.min(tilesFrom, bundlesFrom); n < leafTiles; n++) {
    const from = n * TILE_WIDTH;
    const source = readLeafTileSource(sqlite, from, from + TILE_WIDTH);
    if (source.count !== TILE_WIDTH || source.leafHashes.length !== FULL_TILE_BYTES)
      throw new AppError('revocation_log_corrupt', 'the revocation log has a gap', { tile_level: 0, tile_index: n });
    if (n >= bundlesFrom) {
      if (n < tilesFrom && !readTileHashes(sqlite, 0, n)?.equals(source.leafHashes))
        throw new AppError('revocation_log_corrupt', 'the log entries do not hash to their stored tile', { tile_level: 0, tile_index: n });
      insertBundle(sqlite, n, framedOrCorrupt(source.entries, TILE_WIDTH, from));
    }
    if (n >= tilesFrom) {
      storeTile(sqlite, 0, n, source.leafHashes);
      written++;
    }
  }
  return written;
}

/**
 * Stores every full tile and full entry bundle of the first `size` leaves that is not stored yet,
 * lowest level first (a full tile needs the full tiles below it). Must run inside the caller's
 * transaction, and only for a published size: full tiles and bundles are immutable once served.
 * Returns the number of tiles written.
 */
export function buildTiles(sqlite: Sqlite, size: number): number {
  if (!sqlite.inTransaction) throw new Error('buildTiles must run inside a transaction');
  let written = buildLeafTiles(sqlite, Math.floor(size / TILE_WIDTH));
  for (let level = 1, span = TILE_WIDTH ** 2; level <= MAX_TILE_LEVEL && span <= size; level++, span *= TILE_WIDTH) {
    const want = Math.floor(size / span);
    for (let n = fullTileCount(sqlite, level); n < want; n++) {
      storeTile(sqlite, level, n, tileSourceHashes(sqlite, level, n));
      written++;
    }
  }
  return written;
}

/** A bounded map that forgets the least recently used entry. */
class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly limit: number) {}

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, value);
  }
}

/** A number naming full tile `n` of `level` (0–MAX_TILE_LEVEL): cheaper to build and look up than a string. */
const tileKey = (level: number, n: number) => n * 8 + level;

/**
 * What a connection remembers between requests. Everything here is immutable once the tree it
 * belongs to is published — a full tile, the hash of a complete subtree — so no entry is ever stale.
 */
export interface ReadCache {
  /** Full tiles by `tileKey`. */
  tiles: Lru<number, TileRow>;
  /** Hex hashes of complete subtrees of height ≥ 8 and on the partial edge (the levels every proof shares). */
  subtrees: Lru<string, string>;
  /** Hex hashes of ranges that are not perfect subtrees: the right edge of each published tree. */
  ranges: Lru<string, string>;
}

const readCaches = new WeakMap<Sqlite, ReadCache>();

export function freshReadCache(): ReadCache {
  return { tiles: new Lru(512), subtrees: new Lru(16_384), ranges: new Lru(4096) };
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
  /** The tile read last: a proof reads up to eight hashes of each tile on its path in a row. */
  private last: { key: number; row: TileRow } | null = null;
  /** Hex hashes read without their tile (`readPath`), by `height/index`. */
  private readonly path = new Map<string, string>();

  /** `cache`: the connection's shared one by default; a private one inside a write transaction, so nothing uncommitted is remembered. */
  constructor(
    private readonly sqlite: Sqlite,
    readonly size: number,
    cache?: ReadCache,
  ) {
    this.cache = cache ?? readCache(sqlite);
  }

  /** Remembers range hashes for proofs over this reader's tiles (every range of a published tree is immutable). */
  get ranges(): RangeMemo {
    return this.cache.ranges;
  }

  private isFull(level: number, n: number): boolean {
    return (n + 1) * TILE_WIDTH ** (level + 1) <= this.size;
  }

  private fullTile(level: number, n: number): TileRow {
    const key = tileKey(level, n);
    if (this.last?.key === key) return this.last.row;
    let row = this.cache.tiles.get(key);
    if (!row) {
      row = readTile(this.sqlite, level, n);
      if (!row)
        throw new AppError('revocation_log_corrupt', 'a full tile of the published log is missing', { tile_level: level, tile_index: n });
      this.cache.tiles.set(key, row);
    }
    this.last = { key, row };
    return row;
  }

  /**
   * Reads what a proof of leaf `index` needs from the leaf's full level-0 tile when that tile is not
   * remembered: the leaf, its neighbour and its sibling at each height inside the tile, nine hashes
   * instead of the 16 KB tile (a proof of a random leaf would otherwise read, and soon forget, a
   * whole tile). Nothing happens for a leaf of the partial edge or of a remembered tile.
   */
  readPath(index: number): void {
    const n = Math.floor(index / TILE_WIDTH);
    if (!this.isFull(0, n) || this.cache.tiles.get(tileKey(0, n))) return;
    const at = index % TILE_WIDTH;
    const heights = Array.from({ length: TILE_HEIGHT - 1 }, (_, h) => h + 1);
    const hashes = readTilePath(
      this.sqlite,
      0,
      n,
      (at & ~1) * HASH_SIZE,
      heights.map((h) => interiorOffset(h) + ((at >> h) ^ 1) * HASH_SIZE),
    );
    if (!hashes)
      throw new AppError('revocation_log_corrupt', 'a full tile of the published log is missing', { tile_level: 0, tile_index: n });
    const pair = index & ~1;
    this.path.set(`0/${pair}`, hashes[0]!.slice(0, 2 * HASH_SIZE));
    this.path.set(`0/${pair + 1}`, hashes[0]!.slice(2 * HASH_SIZE));
    for (const h of heights) this.path.set(`${h}/${(index >> h) ^ 1}`, hashes[h]!);
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
      const read = level === 0 ? this.path.get(`${height}/${index}`) : undefined;
      if (read !== undefined) return read;
      const tile = this.fullTile(level, n);
      if (above === 0) return tile.hashes.toString('hex', (start % TILE_WIDTH) * HASH_SIZE, ((start % TILE_WIDTH) + 1) * HASH_SIZE);
      const at = interiorOffset(above) + ((start % TILE_WIDTH) >> above) * HASH_SIZE;
      return tile.interior.toString('hex', at, at + HASH_SIZE);
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
      const hashes = this.cache.tiles.get(tileKey(tile.level, tile.index))?.hashes ?? readTileHashes(this.sqlite, tile.level, tile.index);
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

/**
 * An entry bundle of the published log (check `tileExists` first): a full one as stored when its
 * tile was built, a partial one framed from the log entries.
 */
export function entryBundle(sqlite: Sqlite, tile: TileAddress): Buffer {
  if (tile.width === TILE_WIDTH) {
    const stored = readBundle(sqlite, tile.index);
    if (!stored)
      throw new AppError('revocation_log_corrupt', 'a full entry bundle of the published log is missing', { bundle_index: tile.index });
    return stored;
  }
  const from = tile.index * TILE_WIDTH;
  const texts = readEntryTexts(sqlite, from, from + tile.width);
  if (texts.length !== tile.width)
    throw new AppError('revocation_log_corrupt', 'the revocation log has a gap', { from, to: from + tile.width });
  return framedOrCorrupt(Buffer.from(texts.join('\n'), 'utf8'), tile.width, from);
}
