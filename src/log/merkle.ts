// RFC 6962 Merkle tree hashing over revocation-log entries, with a compact frontier for O(log n) appends.
// crypto.hash (one-shot) is about three times cheaper per call than createHash, and a log import
// hashes two nodes per entry.
import { createHash, hash } from 'node:crypto';

const LEAF = Buffer.from([0x00]);

export const EMPTY_ROOT = createHash('sha256').digest('hex');

/** Hex SHA-256(0x00 ‖ data): the leaf hash of one entry's JCS bytes (a string is hashed as UTF-8). */
export function leafHash(data: Uint8Array | string): string {
  return typeof data === 'string' ? hash('sha256', `\u0000${data}`) : hash('sha256', Buffer.concat([LEAF, data]));
}

/** Hex SHA-256(0x01 ‖ left ‖ right) for two hex child hashes. */
export function nodeHash(leftHex: string, rightHex: string): string {
  return hash('sha256', Buffer.from(`01${leftHex}${rightHex}`, 'hex'));
}

/**
 * The compact range of a tree of `size` leaves: one perfect-subtree root per set bit of `size`,
 * largest subtree first.
 */
export interface Frontier {
  size: number;
  hashes: string[];
}

export const emptyFrontier = (): Frontier => ({ size: 0, hashes: [] });

/** Appends leaf hashes to a frontier (returns a new frontier; the input is unchanged). */
export function appendLeaves(frontier: Frontier, leafHashes: Iterable<string>): Frontier {
  const hashes = [...frontier.hashes];
  let size = frontier.size;
  for (const leaf of leafHashes) {
    let node = leaf;
    // Merge while the new subtree completes a larger perfect subtree: one merge per trailing 1-bit of size.
    for (let s = size; s % 2 === 1; s = Math.floor(s / 2)) node = nodeHash(hashes.pop()!, node);
    hashes.push(node);
    size++;
  }
  return { size, hashes };
}

/**
 * SHA-256(0x00 ‖ UTF-8 text) as a 32-character binary string (one character per byte, Node's 'binary'
 * alias of latin1): the working form of bulk appends, which saves a hex encode and decode per node.
 */
export function leafDigest(text: string): string {
  return hash('sha256', `\u0000${text}`, 'binary');
}

const NODE_INPUT = Buffer.alloc(65, 0x01);

/** nodeHash on binary digests: the 65 input bytes are assembled in one reused buffer (a plain loop beats Buffer#write here). */
export function nodeDigest(left: string, right: string): string {
  for (let i = 0; i < 32; i++) {
    NODE_INPUT[1 + i] = left.charCodeAt(i);
    NODE_INPUT[33 + i] = right.charCodeAt(i);
  }
  return hash('sha256', NODE_INPUT, 'binary');
}

/** `appendLeaves` for leaves given as `leafDigest` values; the returned frontier holds hex like every stored one. */
export function appendLeafDigests(frontier: Frontier, digests: readonly string[]): Frontier {
  const stack = frontier.hashes.map((h) => Buffer.from(h, 'hex').toString('latin1'));
  let size = frontier.size;
  for (let i = 0; i < digests.length; i++) {
    let node = digests[i]!;
    for (let s = size; s % 2 === 1; s = Math.floor(s / 2)) node = nodeDigest(stack.pop()!, node);
    stack.push(node);
    size++;
  }
  return { size, hashes: stack.map((d) => Buffer.from(d, 'latin1').toString('hex')) };
}

/** The RFC 6962 tree head of the frontier's tree. */
export function frontierRoot(frontier: Frontier): string {
  if (frontier.size === 0) return EMPTY_ROOT;
  let acc = frontier.hashes[frontier.hashes.length - 1]!;
  for (let i = frontier.hashes.length - 2; i >= 0; i--) acc = nodeHash(frontier.hashes[i]!, acc);
  return acc;
}

/** Reference computation straight from RFC 6962 §2.1 (used by tests and audits, not hot paths). */
export function merkleTreeHash(leaves: string[]): string {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(merkleTreeHash(leaves.slice(0, k)), merkleTreeHash(leaves.slice(k)));
}
