// RFC 9162 §2.1.3–2.1.4 inclusion and consistency proofs: built from subtree hashes, and verified.
import { EMPTY_ROOT, nodeHash } from '../log/merkle.ts';

/** Hex hash of the perfect subtree of height `height` at position `index` of the tree being proved. */
export type SubtreeHashes = (height: number, index: number) => string;

/**
 * Remembers hashes of ranges that are not perfect subtrees, keyed `lo/hi`: the ranges along a tree's
 * right edge, which every proof in that tree needs. A range's hash never changes once its leaves do not.
 */
export interface RangeMemo {
  get(key: string): string | undefined;
  set(key: string, hash: string): void;
}

const TWO_31 = 2 ** 31;

/** Largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  if (n <= TWO_31) return 2 ** (31 - Math.clz32(n - 1));
  let k = TWO_31;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  if (n < TWO_31) return n > 0 && (n & (n - 1)) === 0;
  return 2 ** Math.round(Math.log2(n)) === n;
}

/**
 * MTH(D[lo:hi]) for a range that is a node of some RFC 6962 tree (lo a multiple of the split
 * sizes above it): perfect subtrees come from `hashes`, the rest is combined here (or remembered in `memo`).
 */
export function rangeHash(hashes: SubtreeHashes, lo: number, hi: number, memo?: RangeMemo): string {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (isPowerOfTwo(n) && lo % n === 0) return hashes(Math.log2(n), lo / n);
  const key = memo ? `${lo}/${hi}` : '';
  const known = memo?.get(key);
  if (known !== undefined) return known;
  const k = splitPoint(n);
  const hash = nodeHash(rangeHash(hashes, lo, lo + k, memo), rangeHash(hashes, lo + k, hi, memo));
  memo?.set(key, hash);
  return hash;
}

/** PATH(m, D[0:size]) of RFC 9162 §2.1.3.1, leaf side first (iterative: the sibling of each split on the way down, then reversed). */
function path(hashes: SubtreeHashes, m: number, size: number, out: string[], memo?: RangeMemo): void {
  const siblings: number[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (m < lo + k) {
      siblings.push(lo + k, hi);
      hi = lo + k;
    } else {
      siblings.push(lo, lo + k);
      lo += k;
    }
  }
  for (let i = siblings.length - 2; i >= 0; i -= 2) out.push(rangeHash(hashes, siblings[i]!, siblings[i + 1]!, memo));
}

/** The inclusion proof of leaf `index` in the tree of the first `size` leaves (hex hashes). */
export function inclusionProof(hashes: SubtreeHashes, index: number, size: number, memo?: RangeMemo): string[] {
  if (!(index >= 0 && index < size)) throw new RangeError('index must be below size');
  const out: string[] = [];
  path(hashes, index, size, out, memo);
  return out;
}

/** SUBPROOF(m, D[lo:hi], b) of RFC 9162 §2.1.4.1. */
function subproof(hashes: SubtreeHashes, m: number, lo: number, hi: number, complete: boolean, out: string[], memo?: RangeMemo): void {
  if (lo + m === hi) {
    if (!complete) out.push(rangeHash(hashes, lo, hi, memo));
    return;
  }
  const k = splitPoint(hi - lo);
  if (m <= k) {
    subproof(hashes, m, lo, lo + k, complete, out, memo);
    out.push(rangeHash(hashes, lo + k, hi, memo));
  } else {
    subproof(hashes, m - k, lo + k, hi, false, out, memo);
    out.push(rangeHash(hashes, lo, lo + k, memo));
  }
}

/** The consistency proof from the tree of `from` leaves to the tree of `to` leaves (0 < from ≤ to). */
export function consistencyProof(hashes: SubtreeHashes, from: number, to: number, memo?: RangeMemo): string[] {
  if (!(from > 0 && from <= to)) throw new RangeError('consistency needs 0 < from ≤ to');
  const out: string[] = [];
  if (from < to) subproof(hashes, from, 0, to, true, out, memo);
  return out;
}

const HEX_HASH = /^[0-9a-f]{64}$/;
const isHexHash = (h: unknown): h is string => typeof h === 'string' && HEX_HASH.test(h);

/** RFC 9162 §2.1.3.2: whether `proof` shows leaf `leafHash` at `index` in the tree of `size` leaves with root `root` (all hex). */
export function verifyInclusion(leafHash: string, index: number, size: number, proof: readonly string[], root: string): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  if (!isHexHash(leafHash) || !isHexHash(root) || !proof.every(isHexHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r === root;
}

/** RFC 9162 §2.1.4.2: whether `proof` shows the tree of `from` leaves (root `fromRoot`) is a prefix of the tree of `to` leaves (root `toRoot`). */
export function verifyConsistency(from: number, to: number, fromRoot: string, toRoot: string, proof: readonly string[]): boolean {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || from > to) return false;
  if (!isHexHash(fromRoot) || !isHexHash(toRoot) || !proof.every(isHexHash)) return false;
  if (from === to) return proof.length === 0 && fromRoot === toRoot;
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : [...proof];
  const roots = consistencyWalk(from, to, path);
  return roots !== null && roots.from === fromRoot && roots.to === toRoot;
}

/**
 * RFC 9162 §2.1.4.2's walk of a consistency path (the proof, preceded by the old root when `from` is
 * a power of two): the roots it computes for the first `from` leaves and for all `to` leaves, or null
 * when the path is empty or of the wrong length for the two sizes.
 */
function consistencyWalk(from: number, to: number, path: readonly string[]): { from: string; to: string } | null {
  if (path.length === 0) return null;
  let fn = from - 1;
  let sn = to - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? { from: fr, to: sr } : null;
}

/**
 * Split-view evidence: the root of the first `from` leaves that `path` shows inside the tree of `to`
 * leaves whose root is `toRoot` (all hex), or null when the path does not lead to `toRoot`. `path` is
 * the RFC 9162 consistency proof from `from` to `to` computed in that tree, preceded, when `from` is
 * a power of two, by the root of that subtree (which the standard proof leaves out because its
 * verifier already holds it). The walk is §2.1.4.2's: if it ends at `toRoot`, the hashes it combined
 * are nodes of that tree, so the root it computes for the first `from` leaves is the one that tree
 * has. A signed checkpoint of size `from` with another root is one no single log could have signed.
 */
export function impliedPrefixRoot(from: number, to: number, toRoot: string, path: readonly string[]): string | null {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || from >= to) return null;
  if (!isHexHash(toRoot) || !path.every(isHexHash)) return null;
  const roots = consistencyWalk(from, to, path);
  return roots !== null && roots.to === toRoot ? roots.from : null;
}
