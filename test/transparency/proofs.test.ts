// RFC 9162 inclusion and consistency proofs: built from subtree hashes, checked against the RFC 6962 reference tree hash.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leafHash, merkleTreeHash } from '../../src/log/merkle.ts';
import {
  consistencyProof,
  inclusionProof,
  rangeHash,
  verifyConsistency,
  verifyInclusion,
  type SubtreeHashes,
} from '../../src/transparency/proofs.ts';

const LEAVES = Array.from({ length: 140 }, (_, i) => leafHash(`entry ${i}`));

/** Subtree hashes straight from the reference: MTH of the leaves below (memoized; the reference is slow). */
const memo = new Map<string, string>();
const reference: SubtreeHashes = (height, index) => {
  const key = `${height}/${index}`;
  let hash = memo.get(key);
  if (hash === undefined) memo.set(key, (hash = merkleTreeHash(LEAVES.slice(index * 2 ** height, (index + 1) * 2 ** height))));
  return hash;
};
const ROOTS = Array.from({ length: LEAVES.length + 1 }, (_, n) => merkleTreeHash(LEAVES.slice(0, n)));
const root = (n: number) => ROOTS[n]!;

describe('proofs against the reference tree', () => {
  it('rangeHash of [0, n) is the tree head for every n', () => {
    for (let n = 0; n <= LEAVES.length; n++) expect(rangeHash(reference, 0, n)).toBe(root(n));
  });

  it('every inclusion proof of every leaf in every tree up to 140 leaves verifies; other leaves or roots do not', () => {
    for (let n = 1; n <= LEAVES.length; n++) {
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(reference, i, n);
        expect(verifyInclusion(LEAVES[i]!, i, n, proof, root(n)), `${i} in ${n}`).toBe(true);
        expect(verifyInclusion(LEAVES[(i + 1) % n]!, i, n, proof, root(n))).toBe(n === 1);
        if (n > 1) expect(verifyInclusion(LEAVES[i]!, i, n, proof, root(n - 1))).toBe(false);
      }
    }
  });

  it('every consistency proof between trees up to 140 leaves verifies; swapped roots do not', () => {
    for (let n = 1; n <= LEAVES.length; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(reference, m, n);
        expect(verifyConsistency(m, n, root(m), root(n), proof), `${m} → ${n}`).toBe(true);
        if (m < n) expect(verifyConsistency(m, n, root(n), root(m), proof)).toBe(false);
      }
    }
  });

  it('the worked example of RFC 9162 §2.1.5 (7 leaves), hash for hash', () => {
    const [a, b, c, d, e, f, j] = LEAVES.slice(0, 7) as [string, string, string, string, string, string, string];
    const r = (lo: number, hi: number) => rangeHash(reference, lo, hi);
    const [g, h, i, k, l] = [r(0, 2), r(2, 4), r(4, 6), r(0, 4), r(4, 7)];
    expect([a, b, c, d, e, f].every((x) => x.length === 64)).toBe(true);
    expect(inclusionProof(reference, 0, 7)).toEqual([b, h, l]);
    expect(inclusionProof(reference, 3, 7)).toEqual([c, g, l]);
    expect(inclusionProof(reference, 4, 7)).toEqual([f, j, k]);
    expect(inclusionProof(reference, 6, 7)).toEqual([i, k]);
    expect(consistencyProof(reference, 3, 7)).toEqual([c, d, g, l]);
    expect(consistencyProof(reference, 4, 7)).toEqual([l]);
    expect(consistencyProof(reference, 6, 7)).toEqual([i, j, k]);
    expect(consistencyProof(reference, 7, 7)).toEqual([]);
  });

  it('refuses out-of-range requests instead of proving nonsense', () => {
    expect(() => inclusionProof(reference, 5, 5)).toThrow(RangeError);
    expect(() => consistencyProof(reference, 0, 5)).toThrow(RangeError);
    expect(() => consistencyProof(reference, 6, 5)).toThrow(RangeError);
    expect(verifyInclusion(LEAVES[0]!, 0, 0, [], root(0))).toBe(false);
    expect(verifyConsistency(0, 3, root(0), root(3), [])).toBe(false);
    expect(verifyConsistency(3, 3, root(3), root(3), [root(3)])).toBe(false);
  });
});

describe('tampered proofs never verify (property)', () => {
  const tree = fc.integer({ min: 2, max: LEAVES.length });
  const otherHash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));

  it('inclusion: a changed, dropped or added proof hash, or another index', () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), otherHash, fc.constantFrom('change', 'drop', 'add', 'index'), (n, i0, at, h, how) => {
        const i = i0 % n;
        const proof = inclusionProof(reference, i, n);
        const bad = [...proof];
        let index = i;
        if (how === 'change' && bad.length > 0) bad[at % bad.length] = h;
        else if (how === 'drop' && bad.length > 0) bad.splice(at % bad.length, 1);
        else if (how === 'add') bad.splice(at % (bad.length + 1), 0, h);
        else index = (i + 1 + (at % (n - 1))) % n;
        if (index === i && bad.join() === proof.join()) return;
        expect(verifyInclusion(LEAVES[i]!, index, n, bad, root(n))).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('consistency: a changed, dropped or added proof hash, or another old size', () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), otherHash, fc.constantFrom('change', 'drop', 'add', 'size'), (n, m0, at, h, how) => {
        const m = 1 + (m0 % (n - 1));
        const proof = consistencyProof(reference, m, n);
        const bad = [...proof];
        let from = m;
        if (how === 'change' && bad.length > 0) bad[at % bad.length] = h;
        else if (how === 'drop' && bad.length > 0) bad.splice(at % bad.length, 1);
        else if (how === 'add') bad.splice(at % (bad.length + 1), 0, h);
        else from = m === 1 ? 2 : m - 1;
        if (from === m && bad.join() === proof.join()) return;
        expect(verifyConsistency(from, n, root(m), root(n), bad)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
