// Tiles of height 8: canonical paths, tile contents by the C2SP formula, immutability, and subtree hashes read from them.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { merkleTreeHash } from '../../src/log/merkle.ts';
import { readLogHead } from '../../src/log/store.ts';
import { treeRoot } from '../../src/transparency/service.ts';
import {
  formatTilePath,
  frameJoinedEntries,
  parseTilePath,
  tileExists,
  TILE_WIDTH,
  type TileAddress,
} from '../../src/transparency/tile-format.ts';
import { entryBundle, freshReadCache, TileReader } from '../../src/transparency/tiles.ts';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';
import { growLog, publishAtSizes } from './helpers.ts';

describe('tile paths', () => {
  it('encodes the index in x-prefixed 3-digit groups (the C2SP example) and marks partial widths', () => {
    expect(formatTilePath({ level: 4, index: 1234067, width: 256 })).toBe('4/x001/x234/067');
    expect(formatTilePath({ level: 4, index: 1234067, width: 1 })).toBe('4/x001/x234/067.p/1');
    expect(formatTilePath({ level: 'entries', index: 0, width: 188 })).toBe('entries/000.p/188');
    expect(parseTilePath('4/x001/x234/067.p/1')).toEqual({ level: 4, index: 1234067, width: 1 });
    expect(parseTilePath('entries/x001/000')).toEqual({ level: 'entries', index: 1000, width: 256 });
    expect(parseTilePath('63/000')).toEqual({ level: 63, index: 0, width: 256 });
  });

  it.each([
    '0',
    '0/',
    '64/000',
    '01/000',
    '-1/000',
    'data/000',
    '0/0',
    '0/0000',
    '0/x000/001',
    '0/001/x002',
    '0/x1/001',
    '0/000.p/0',
    '0/000.p/256',
    '0/000.p/01',
    '0/000.p',
    '0/000.p/1/2',
    '0/.p/1',
    'entries/000.p/300',
    '0/abc',
    '0//000',
    `0/${Array(12).fill('x001').join('/')}/000`,
  ])('refuses the non-canonical or malformed path %j', (path) => {
    expect(parseTilePath(path)).toBeNull();
  });

  it('property: every tile has one path, and it parses back', () => {
    const tile = fc.record({
      level: fc.oneof(fc.integer({ min: 0, max: 63 }), fc.constant('entries' as const)),
      index: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      width: fc.integer({ min: 1, max: 256 }),
    });
    fc.assert(
      fc.property(tile, (t: TileAddress) => {
        expect(parseTilePath(formatTilePath(t))).toEqual(t);
      }),
    );
  });
});

describe('framing entry bundles', () => {
  const framed = (texts: string[]) =>
    Buffer.concat(
      texts.flatMap((t) => {
        const bytes = Buffer.from(t, 'utf8');
        return [Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes];
      }),
    );
  const joined = (texts: string[]) => Buffer.from(texts.join('\n'), 'utf8');
  const entryText = fc.string({ unit: 'grapheme', maxLength: 300 }).map((t) => t.replace(/\n/g, ' '));

  it('property: entries joined by newlines are framed each behind the uint16 length of its UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.array(entryText, { minLength: 1, maxLength: 40 }), (texts) => {
        expect(frameJoinedEntries(joined(texts), texts.length)).toEqual(framed(texts));
      }),
    );
    const unicode = ['{"incident":"Störfall — ✓"}', '{"id":"😀"}', ''];
    expect(frameJoinedEntries(joined(unicode), 3)).toEqual(framed(unicode));
  });

  it('joined bytes that are not exactly the count of entries are no bundle', () => {
    expect(frameJoinedEntries(joined(['{"a":1}', '{"b":2}']), 3)).toBeNull();
    expect(frameJoinedEntries(joined(['{"a":1}', '{"b":2}', '{"c":3}']), 2)).toBeNull();
    expect(frameJoinedEntries(Buffer.alloc(0), 1)).toEqual(Buffer.from([0, 0]));
  });

  it('an entry longer than a uint16 length cannot be framed', () => {
    expect(() => frameJoinedEntries(Buffer.alloc(0x10000, 0x78), 1)).toThrow(/longer than an entry bundle can carry/);
  });
});

describe('tiles of a published log', () => {
  let a: TestAuthority;
  let leaves: string[];
  const SIZE = 66_000;
  const mth = (lo: number, hi: number) => merkleTreeHash(leaves.slice(lo, hi));
  const reader = () => new TileReader(a.db.sqlite, SIZE);

  beforeAll(() => {
    a = createTestAuthority({ sovereignId: 'tiles.example' });
    publishAtSizes(a, [300, SIZE]);
    leaves = a.db.sqlite.prepare('SELECT leaf_hash FROM revocation_log ORDER BY idx').pluck().all() as string[];
  });

  const hashesOf = (data: Buffer) => Array.from({ length: data.length / 32 }, (_, i) => data.subarray(32 * i, 32 * i + 32).toString('hex'));

  it('level 0 holds the leaf hashes; level l hash i of tile n is MTH(D[(n·256+i)·256^l : (n·256+i+1)·256^l])', () => {
    expect(hashesOf(reader().tileData({ level: 0, index: 0, width: 256 }))).toEqual(leaves.slice(0, 256));
    expect(hashesOf(reader().tileData({ level: 0, index: 257, width: 208 }))).toEqual(leaves.slice(257 * 256, SIZE));
    const level1 = hashesOf(reader().tileData({ level: 1, index: 0, width: 256 }));
    for (const i of [0, 1, 128, 255]) expect(level1[i]).toBe(mth(i * 256, (i + 1) * 256));
    expect(hashesOf(reader().tileData({ level: 1, index: 1, width: 1 }))).toEqual([mth(65536, 65536 + 256)]);
    expect(hashesOf(reader().tileData({ level: 2, index: 0, width: 1 }))).toEqual([mth(0, 65536)]);
  });

  it('stores exactly the full tiles of the published size, and nothing for unpublished entries', () => {
    const count = (level: number) => a.db.sqlite.prepare('SELECT count(*) FROM log_tiles WHERE level = ?').pluck().get(level) as number;
    const bundles = () => a.db.sqlite.prepare('SELECT count(*) FROM log_entry_bundles').pluck().get() as number;
    expect([count(0), count(1), count(2), bundles()]).toEqual([Math.floor(SIZE / 256), 1, 0, Math.floor(SIZE / 256)]);
    growLog(a, SIZE + 300);
    expect(readLogHead(a.db.sqlite).size).toBe(SIZE + 300);
    expect([count(0), bundles()]).toEqual([Math.floor(SIZE / 256), Math.floor(SIZE / 256)]);
  });

  it('stores each full entry bundle once, with its level-0 tile: the entries framed, byte for byte; none for the partial edge', () => {
    const bundles = a.db.sqlite.prepare('SELECT idx, bundle FROM log_entry_bundles ORDER BY idx').raw(true).all() as Array<
      [number, Buffer]
    >;
    expect(bundles.map(([idx]) => idx)).toEqual(Array.from({ length: Math.floor(SIZE / 256) }, (_, i) => i));
    const texts = a.db.sqlite.prepare('SELECT entry FROM revocation_log WHERE idx < ? ORDER BY idx').pluck().all(SIZE) as string[];
    const framed = (from: number, to: number) =>
      Buffer.concat(
        texts.slice(from, to).flatMap((t) => {
          const bytes = Buffer.from(t, 'utf8');
          return [Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes];
        }),
      );
    for (const n of [0, 1, 128, 256]) expect(bundles[n]![1].equals(framed(n * 256, (n + 1) * 256)), `bundle ${n}`).toBe(true);
    expect(entryBundle(a.db.sqlite, { level: 'entries', index: 7, width: 256 }).equals(framed(7 * 256, 8 * 256))).toBe(true);
    // The partial bundle at the edge is framed from the entries on request.
    expect(entryBundle(a.db.sqlite, { level: 'entries', index: 257, width: 208 }).equals(framed(257 * 256, SIZE))).toBe(true);
  });

  it('which tiles exist for a size: full ones below the edge, partial ones up to it', () => {
    const cases: Array<[TileAddress, number, boolean]> = [
      [{ level: 0, index: 0, width: 256 }, 255, false],
      [{ level: 0, index: 0, width: 255 }, 255, true],
      [{ level: 0, index: 0, width: 256 }, 256, true],
      [{ level: 1, index: 0, width: 1 }, 256, true],
      [{ level: 1, index: 0, width: 2 }, 511, false],
      [{ level: 'entries', index: 1, width: 1 }, 257, true],
      [{ level: 'entries', index: 1, width: 2 }, 257, false],
      [{ level: 6, index: 0, width: 31 }, Number.MAX_SAFE_INTEGER, true],
      [{ level: 6, index: 0, width: 32 }, Number.MAX_SAFE_INTEGER, false],
      [{ level: 7, index: 0, width: 1 }, Number.MAX_SAFE_INTEGER, false],
      [{ level: 0, index: Number.MAX_SAFE_INTEGER, width: 256 }, Number.MAX_SAFE_INTEGER, false],
    ];
    for (const [tile, size, exists] of cases) expect(tileExists(tile, size), `${formatTilePath(tile)} in ${size}`).toBe(exists);
  });

  it('subtree hashes read from the tiles equal the reference, inside full tiles and on the partial edge', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), fc.nat(), (height, k) => {
        const count = Math.floor(SIZE / 2 ** height);
        const index = k % count;
        expect(reader().subtreeHash(height, index)).toBe(mth(index * 2 ** height, (index + 1) * 2 ** height));
      }),
      { numRuns: 100 },
    );
    // The last perfect subtrees before the edge, at every height.
    for (let height = 0; height <= 16; height++) {
      const last = Math.floor(SIZE / 2 ** height) - 1;
      expect(reader().subtreeHash(height, last), `height ${height}`).toBe(mth(last * 2 ** height, (last + 1) * 2 ** height));
    }
  });

  it('property: the path of a leaf read without its tile (the leaf, its neighbour, a sibling per height) equals the reference', () => {
    fc.assert(
      // Leaves of full tiles (on the partial edge a sibling may reach past the tree).
      fc.property(fc.nat({ max: Math.floor(SIZE / 256) * 256 - 1 }), (index) => {
        const r = new TileReader(a.db.sqlite, SIZE, freshReadCache());
        r.readPath(index);
        expect(r.subtreeHash(0, index)).toBe(leaves[index]);
        expect(r.subtreeHash(0, index ^ 1)).toBe(leaves[index ^ 1]);
        for (let h = 1; h < 8; h++) {
          const sibling = (index >> h) ^ 1;
          expect(r.subtreeHash(h, sibling), `height ${h}`).toBe(mth(sibling * 2 ** h, (sibling + 1) * 2 ** h));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('tree roots from the tiles equal every published head', () => {
    for (const size of [1, 255, 256, 257, 300, 65_535, 65_536, 65_537, SIZE])
      expect(treeRoot(reader(), size), String(size)).toBe(mth(0, size));
  });

  it('full tiles never change as the log grows', () => {
    const before = Buffer.from(reader().tileData({ level: 0, index: 3, width: TILE_WIDTH }));
    const level1 = Buffer.from(reader().tileData({ level: 1, index: 0, width: TILE_WIDTH }));
    publishAtSizes(a, [SIZE + 2_000]);
    expect(reader().tileData({ level: 0, index: 3, width: TILE_WIDTH }).equals(before)).toBe(true);
    const stored = a.db.sqlite.prepare('SELECT hashes FROM log_tiles WHERE level = 1 AND idx = 0').pluck().get() as Buffer;
    expect(stored.equals(level1)).toBe(true);
  });
});
