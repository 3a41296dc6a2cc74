// Proofs computed from a log's tiles, the way a tlog-tiles client does: for sources that serve files only (a static mirror), not JSON proofs.
import { appendLeafDigests, EMPTY_ROOT, emptyFrontier } from '../log/merkle.ts';
import { consistencyProof, type SubtreeHashes } from './proofs.ts';
import { formatTilePath, HASH_SIZE, TILE_HEIGHT, TILE_WIDTH } from './tile-format.ts';

/**
 * Subtree hashes (hex) read from fetched tiles (`level/index` → the tile's bytes; a wider tile of a
 * larger tree serves too, its first hashes being the same). With `needed`, a dry run: it records
 * which tiles a computation reads and answers placeholders.
 */
export function tileSubtrees(tiles: Map<string, Buffer>, needed?: Set<string>): SubtreeHashes {
  return (height, index) => {
    const level = Math.floor(height / TILE_HEIGHT);
    const above = height % TILE_HEIGHT;
    const start = index * 2 ** above;
    const n = Math.floor(start / TILE_WIDTH);
    const path = `${level}/${n}`;
    if (needed) {
      needed.add(path);
      return EMPTY_ROOT;
    }
    const tile = tiles.get(path);
    if (!tile) throw new Error(`tile ${path} was not fetched`);
    const at = (start % TILE_WIDTH) * HASH_SIZE;
    if (above === 0) return tile.subarray(at, at + HASH_SIZE).toString('hex');
    const units = tile.toString('latin1', at, at + 2 ** above * HASH_SIZE);
    const digests = new Array<string>(2 ** above);
    for (let i = 0; i < digests.length; i++) digests[i] = units.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE);
    return appendLeafDigests(emptyFrontier(), digests).hashes[0]!;
  };
}

/** A tile the source does not have (404 for the partial tile and for the full one). */
export class TileUnavailable extends Error {
  override name = 'TileUnavailable';
  constructor(readonly path: string) {
    super(`the log tile ${path} is not served`);
  }
}

/** A tile whose length is not that of a tile of its width. */
export class TileMalformed extends Error {
  override name = 'TileMalformed';
  constructor(readonly path: string) {
    super(`the log tile ${path} does not have the length of its width`);
  }
}

/** Fetches `tile/…` of the log (a path under its prefix), at most `maxBytes`; null for a 404. */
export type TileFetch = (path: string, maxBytes: number) => Promise<Buffer | null>;

/**
 * Consistency proofs within a published tree of `treeSize` leaves, from the tiles of that tree as a
 * source serves them: the tiles a proof needs are found by a dry run, fetched once and kept. A partial
 * tile the source no longer has is read from its full tile (tlog-tiles lets a log remove partial tiles
 * once the full one exists). Nothing here is trusted: the proof is checked against signed roots.
 */
export class TileProofs {
  private readonly tiles = new Map<string, Buffer>();

  constructor(
    readonly treeSize: number,
    private readonly fetch: TileFetch,
  ) {}

  /** Hex hashes of the consistency proof from `from` to `to` leaves (0 < from ≤ to ≤ treeSize). */
  async consistency(from: number, to: number): Promise<string[]> {
    if (!(from > 0 && from <= to && to <= this.treeSize)) throw new RangeError('consistency needs 0 < from ≤ to ≤ the tree size');
    const needed = new Set<string>();
    consistencyProof(tileSubtrees(this.tiles, needed), from, to);
    for (const key of needed) {
      if (this.tiles.has(key)) continue;
      const [level, index] = key.split('/').map(Number) as [number, number];
      this.tiles.set(key, await this.tile(level, index));
    }
    return consistencyProof(tileSubtrees(this.tiles), from, to);
  }

  private async tile(level: number, index: number): Promise<Buffer> {
    const width = Math.min(TILE_WIDTH, Math.floor(this.treeSize / TILE_WIDTH ** level) - index * TILE_WIDTH);
    const path = `tile/${formatTilePath({ level, index, width })}`;
    let body = await this.fetch(path, width * HASH_SIZE);
    let expected = width * HASH_SIZE;
    if (body === null && width < TILE_WIDTH) {
      body = await this.fetch(`tile/${formatTilePath({ level, index, width: TILE_WIDTH })}`, TILE_WIDTH * HASH_SIZE);
      expected = TILE_WIDTH * HASH_SIZE;
    }
    if (body === null) throw new TileUnavailable(path);
    if (body.length !== expected) throw new TileMalformed(path);
    return body;
  }
}
