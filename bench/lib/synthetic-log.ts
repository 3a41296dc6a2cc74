// A log a witness can be fed without a database: synthetic leaf hashes, every perfect subtree kept in memory,
// roots and RFC 9162 consistency proofs at any size, and signed checkpoints. Forks share a prefix and then differ.
import { hash } from 'node:crypto';
import type { SigningKey } from '../../src/authority/crypto.ts';
import { signNote } from '../../src/authority/signed-note.ts';
import { formatCheckpoint } from '../../src/transparency/checkpoint.ts';
import { consistencyProof, rangeHash, type SubtreeHashes } from '../../src/transparency/proofs.ts';

/** The synthetic leaf hash of entry `index` of the history named `label`: SHA-256(0x00 ‖ label ‖ ":" ‖ u64be index), 32 bytes. */
export function syntheticLeaf(label: string, index: number): Buffer {
  return Buffer.from(leafHasher(label)(index), 'latin1');
}

/**
 * Hashes leaves of one history through one reused input buffer, each digest as a 32-character binary
 * string (a million leaves are made per benchmark run, and a binary digest is several times cheaper than a Buffer).
 */
function leafHasher(label: string): (index: number) => string {
  const prefix = Buffer.from(`\u0000${label}:`, 'utf8');
  const input = Buffer.alloc(prefix.length + 8);
  prefix.copy(input);
  return (index) => {
    input.writeBigUInt64BE(BigInt(index), prefix.length);
    return hash('sha256', input, 'binary');
  };
}

/** A Merkle tree over synthetic leaves with every perfect subtree kept in memory: roots and proofs at any size. */
export class SyntheticTree {
  /** levels[h]: the roots of the perfect subtrees of height h, 32 bytes each, left to right. */
  private readonly levels: Buffer[] = [];
  readonly subtree: SubtreeHashes = (height, index) => {
    const level = this.levels[height];
    if (!level || (index + 1) * 32 > level.length) throw new RangeError(`no subtree ${height}/${index} in a tree of ${this.size}`);
    return level.toString('hex', index * 32, index * 32 + 32);
  };

  /**
   * A tree of `size` leaves: leaf i is `syntheticLeaf(label, i)`, or, from `fork.at` on, `syntheticLeaf(fork.label, i)`
   * (a second history that agrees with the first on its first `fork.at` leaves).
   */
  constructor(
    readonly size: number,
    readonly label = 'honest',
    readonly fork?: { at: number; label: string },
  ) {
    const level = Buffer.allocUnsafe(size * 32);
    const honest = leafHasher(label);
    const forked = fork ? leafHasher(fork.label) : honest;
    for (let i = 0; i < size; i++) level.write((fork && i >= fork.at ? forked : honest)(i), i * 32, 'latin1');
    this.levels.push(level);
    // Each level up: SHA-256(0x01 ‖ left ‖ right) over pairs, one reused 65-byte input.
    const input = Buffer.alloc(65, 0x01);
    for (let below = level; below.length >= 64; ) {
      const pairs = Math.floor(below.length / 64);
      const up = Buffer.allocUnsafe(pairs * 32);
      for (let j = 0; j < pairs; j++) {
        below.copy(input, 1, j * 64, j * 64 + 64);
        up.write(hash('sha256', input, 'binary'), j * 32, 'latin1');
      }
      this.levels.push(up);
      below = up;
    }
  }

  /** Hex root of the tree of the first `size` leaves. */
  root(size: number): string {
    if (size > this.size) throw new RangeError(`size ${size} beyond the tree's ${this.size} leaves`);
    return rangeHash(this.subtree, 0, size);
  }

  /** The consistency proof from `from` to `to` (none from 0 or to the same size), as 32-byte hashes. */
  proof(from: number, to: number): Buffer[] {
    if (from === 0 || from === to) return [];
    return consistencyProof(this.subtree, from, to).map((h) => Buffer.from(h, 'hex'));
  }
}

/** A log: a tree, its origin, and the key its checkpoints are signed with (logs may share one tree). */
export class SyntheticLog {
  constructor(
    readonly tree: SyntheticTree,
    readonly origin: string,
    readonly key: SigningKey,
  ) {}

  get size(): number {
    return this.tree.size;
  }

  root(size: number): string {
    return this.tree.root(size);
  }

  proof(from: number, to: number): Buffer[] {
    return this.tree.proof(from, to);
  }

  /** Checkpoint note text at `size` (no extension lines). */
  text(size: number): string {
    return formatCheckpoint({ origin: this.origin, size, rootHash: `sha256:${this.root(size)}` });
  }

  /** The checkpoint at `size`, signed by the log key under its origin. */
  note(size: number): string {
    return signNote(this.text(size), this.origin, [this.key]);
  }

  /** A checkpoint at `size` whose root is `rootHex` (what a log showing two histories signs), signed by the log key. */
  forgedNote(size: number, rootHex: string): string {
    return signNote(formatCheckpoint({ origin: this.origin, size, rootHash: `sha256:${rootHex}` }), this.origin, [this.key]);
  }
}

/** An add-checkpoint body: `old N`, the proof lines, a blank line, the note (c2sp.org/tlog-witness). */
export function addCheckpointBody(old: number, proof: readonly Buffer[], note: string): string {
  return `old ${old}\n${proof.map((h) => `${h.toString('base64')}\n`).join('')}\n${note}`;
}
