// The C2SP tlog-tiles formats, apart from storage so a monitor loads no database: tile paths, which tiles a tree has, entry bundles framed and split.
import { hash } from 'node:crypto';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
export const HASH_SIZE = 32;

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

/**
 * Frames `count` entries, given as their JCS texts' UTF-8 bytes joined by newlines (JCS text never
 * holds a raw newline), as an entry bundle; null when `joined` is not exactly `count` entries.
 */
export function frameJoinedEntries(joined: Buffer, count: number): Buffer | null {
  const out = Buffer.allocUnsafe(joined.length + count + 1);
  let at = 0;
  let written = 0;
  for (let i = 0; i < count; i++) {
    const newline = joined.indexOf(0x0a, at);
    if (newline < 0 !== (i === count - 1)) return null;
    const end = newline < 0 ? joined.length : newline;
    const length = end - at;
    if (length > MAX_BUNDLED_ENTRY) throw new Error('a revocation entry is longer than an entry bundle can carry');
    out[written] = length >> 8;
    out[written + 1] = length & 0xff;
    written += 2 + joined.copy(out, written + 2, at, end);
    at = end + 1;
  }
  return out.subarray(0, written);
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
