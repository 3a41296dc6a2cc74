// RFC 6962 Merkle hashing of the revocation log: known roots, an independent computation, and frontier appends.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  appendLeafDigests,
  appendLeaves,
  EMPTY_ROOT,
  emptyFrontier,
  frontierRoot,
  leafDigest,
  leafHash,
  merkleTreeHash,
  nodeHash,
} from '../../src/log/merkle.ts';

/** Independent RFC 6962 computation: bottom-up pairing, an unpaired last node is promoted unchanged. */
function bottomUpRoot(leafData: Buffer[]): string {
  if (leafData.length === 0) return createHash('sha256').digest('hex');
  let level: Buffer[] = leafData.map((d) =>
    createHash('sha256')
      .update(Buffer.concat([Buffer.from([0]), d]))
      .digest(),
  );
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(
        i + 1 < level.length
          ? createHash('sha256')
              .update(Buffer.concat([Buffer.from([1]), level[i]!, level[i + 1]!]))
              .digest()
          : level[i]!,
      );
    }
    level = next;
  }
  return level[0]!.toString('hex');
}

// The leaf inputs and tree heads used by the Certificate Transparency reference implementations.
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) =>
  Buffer.from(h, 'hex'),
);
const CT_ROOTS: Record<number, string> = {
  0: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  1: '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  2: 'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  3: 'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  7: 'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  8: '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
};

describe('RFC 6962 tree hashing', () => {
  it('the empty tree is SHA-256 of the empty string', () => {
    expect(EMPTY_ROOT).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(frontierRoot(emptyFrontier())).toBe(EMPTY_ROOT);
  });

  it.each([0, 1, 2, 3, 7, 8])('roots of %i leaves match the published CT tree heads and an independent computation', (n) => {
    const data = CT_LEAVES.slice(0, n);
    const leaves = data.map((d) => leafHash(d));
    expect(merkleTreeHash(leaves)).toBe(CT_ROOTS[n]);
    expect(bottomUpRoot(data)).toBe(CT_ROOTS[n]);
    expect(frontierRoot(appendLeaves(emptyFrontier(), leaves))).toBe(CT_ROOTS[n]);
  });

  it('leaf and node hashes are domain-separated', () => {
    const a = leafHash(Buffer.from('x'));
    expect(a).toBe(
      createHash('sha256')
        .update(Buffer.from([0x00]))
        .update('x')
        .digest('hex'),
    );
    expect(nodeHash(a, a)).toBe(
      createHash('sha256')
        .update(Buffer.from([0x01]))
        .update(Buffer.from(a + a, 'hex'))
        .digest('hex'),
    );
    expect(nodeHash(a, a)).not.toBe(leafHash(Buffer.from(a + a, 'hex')));
    // A string is hashed as its UTF-8 bytes.
    expect(leafHash('é 🔑')).toBe(leafHash(Buffer.from('é 🔑', 'utf8')));
  });

  it('the frontier keeps one subtree root per set bit of the size', () => {
    const leaves = Array.from({ length: 13 }, (_, i) => leafHash(Buffer.from([i])));
    const f = appendLeaves(emptyFrontier(), leaves);
    expect(f.size).toBe(13);
    expect(f.hashes).toHaveLength(3); // 13 = 8 + 4 + 1
    expect(f.hashes[0]).toBe(merkleTreeHash(leaves.slice(0, 8)));
    expect(f.hashes[1]).toBe(merkleTreeHash(leaves.slice(8, 12)));
    expect(f.hashes[2]).toBe(leaves[12]);
  });

  it('appending leaves in any batches to a stored frontier equals the reference tree hash (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 260 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
        (size, batches) => {
          const leaves = Array.from({ length: size }, (_, i) => leafHash(Buffer.from(`entry-${i}`)));
          let frontier = emptyFrontier();
          let at = 0;
          let b = 0;
          while (at < size) {
            const take = Math.min(batches[b++ % batches.length]!, size - at);
            // Round-trip through JSON like the stored frontier column does.
            frontier = JSON.parse(JSON.stringify(appendLeaves(frontier, leaves.slice(at, at + take)))) as typeof frontier;
            at += take;
            if (b <= 3) expect(frontierRoot(frontier)).toBe(merkleTreeHash(leaves.slice(0, at)));
          }
          expect(frontier.size).toBe(size);
          expect(frontierRoot(frontier)).toBe(merkleTreeHash(leaves));
          expect(frontier.hashes.length).toBe(
            size
              .toString(2)
              .split('')
              .filter((c) => c === '1').length,
          );
        },
      ),
      { seed: 6962, numRuns: 150 },
    );
  });

  it('binary leaf digests append to the same frontier as hex leaf hashes, from any stored frontier (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.string({ unit: 'grapheme', maxLength: 12 }), { maxLength: 70 }),
        (before, texts) => {
          const start = appendLeaves(
            emptyFrontier(),
            Array.from({ length: before }, (_, i) => leafHash(`earlier-${i}`)),
          );
          const digests = texts.map((t) => leafDigest(t));
          expect(digests.map((d) => Buffer.from(d, 'latin1').toString('hex'))).toEqual(texts.map((t) => leafHash(t)));
          expect(appendLeafDigests(start, digests)).toEqual(
            appendLeaves(
              start,
              texts.map((t) => leafHash(t)),
            ),
          );
        },
      ),
      { seed: 6963, numRuns: 150 },
    );
  });
});
