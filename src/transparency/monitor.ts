// An outside monitor of a revocation log served as C2SP tlog-tiles: the signed checkpoint, its consistency with the head seen before, and the tree rebuilt from the entry bundles against the tiles and the checkpoint root.
import { decodeUtf8Strict } from '../authority/canonical-json.ts';
import { parsePublicKey } from '../authority/crypto.ts';
import { appendLeafDigests, EMPTY_ROOT, emptyFrontier, frontierRoot } from '../log/merkle.ts';
import { parseCheckpoint, type CheckpointBody } from './checkpoint.ts';
import { consistencyProof, verifyConsistency } from './proofs.ts';
import { tileSubtrees } from './tile-proofs.ts';
import {
  MAX_NOTE_BYTES,
  openNote,
  parseNote,
  parseVerifierKey,
  verifierFor,
  type NoteSignature,
  type NoteVerifier,
} from '../authority/signed-note.ts';
import { bundleLeafDigests, formatTilePath, HASH_SIZE, MAX_TILE_LEVEL, TILE_WIDTH } from './tile-format.ts';

/** Failures that mean the log misbehaved: it served something its signed checkpoint does not vouch for. */
export const LOG_FAILURE_CODES = [
  'checkpoint_malformed',
  'checkpoint_signature',
  'origin_mismatch',
  'checkpoint_rollback',
  'checkpoint_inconsistent',
  'root_mismatch',
  'tile_mismatch',
  'bundle_malformed',
  'entry_invalid',
  'response_too_large',
] as const;

/** Failures that mean the log could not be checked (nothing is known about it either way). */
export const CHECK_FAILURE_CODES = ['unreachable', 'timeout', 'http_error'] as const;

export type MonitorCode = (typeof LOG_FAILURE_CODES)[number] | (typeof CHECK_FAILURE_CODES)[number];

export class MonitorFailure extends Error {
  override name = 'MonitorFailure';
  constructor(
    readonly code: MonitorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** True when the log served something wrong; false when it could not be read. */
  get logMisbehaved(): boolean {
    return (LOG_FAILURE_CODES as readonly string[]).includes(this.code);
  }
}

/**
 * Where the log's files come from. `get` answers the body of a 200 response to `<prefix>/<path>`
 * (`checkpoint`, `tile/0/001`, `tile/entries/002.p/7`), never more than `maxBytes` (else
 * `response_too_large`), and throws `MonitorFailure` for anything else.
 */
export interface LogSource {
  get(path: string, maxBytes: number): Promise<Buffer>;
}

/** Accord's entries are well under this (ids of 128 characters, incidents of 256): a longer one is no revocation entry, and it bounds a bundle. */
export const MAX_ENTRY_BYTES = 4096;

/** Keys trusted to sign checkpoints: note verifier keys, and raw authority keys (taken under the checkpoint's origin). */
export interface TrustedKeys {
  vkeys: NoteVerifier[];
  publicKeys: Buffer[];
}

/** A `--key`: a vkey (`<name>+<hex id>+<base64>`) or a standard base64 Ed25519 public key; null when it is neither. */
export function parseTrustedKey(text: string): { vkey: NoteVerifier } | { publicKey: Buffer } | null {
  // 32 bytes in base64 are 44 characters; a vkey is longer (a name, a key id, 33 bytes).
  const publicKey = /^[A-Za-z0-9+/]{43}=$/.test(text) ? parsePublicKey(text) : null;
  if (publicKey?.ok) return { publicKey: Buffer.from(publicKey.key.raw) };
  const vkey = parseVerifierKey(text);
  return vkey ? { vkey } : null;
}

/** The head a monitor verified last time: where the next run must continue from. */
export interface VerifiedHead {
  origin: string;
  size: number;
  /** "sha256:" + hex. */
  rootHash: string;
}

export interface MonitorProgress {
  entriesChecked: number;
  entriesToCheck: number;
}

export interface MonitorOptions {
  keys: TrustedKeys;
  /** The origin the checkpoint must carry. */
  origin?: string;
  previous?: VerifiedHead | null;
  /** Requests in flight at once. */
  concurrency: number;
  /**
   * Also check every entry's content: the reader of canonical revocation entries (the feeds' reader,
   * given by the caller since feeds sit above this floor); each entry must read whole, at its index.
   */
  entryReader?: EntryReader;
  onProgress?: (progress: MonitorProgress) => void;
}

export interface MonitorReport {
  origin: string;
  size: number;
  root_hash: string;
  previous_size: number | null;
  previous_root_hash: string | null;
  /** How the checkpoint relates to the previous head: none before, the same head, or proved to extend it. */
  consistency: 'first_check' | 'unchanged' | 'proved';
  new_entries: number;
  /** Entries read from bundles, hashed and checked (a run after a partial bundle re-reads that bundle's first entries). */
  entries_checked: number;
  /** Whether each entry's content was checked too (a revocation entry at its index), not only its hash. */
  entry_contents_checked: boolean;
  tiles_fetched: number;
  bundles_fetched: number;
  bytes_fetched: number;
  /** The verified checkpoint note, exactly as served. */
  checkpoint: string;
}

const hex8 = (id: number) => id.toString(16).padStart(8, '0');
const tilePath = (level: number | 'entries', index: number, width: number) => `tile/${formatTilePath({ level, index, width })}`;

/** Hashes of the tree of `size` leaves at tile level `level`: complete subtrees of 256^level leaves. */
const levelSize = (size: number, level: number) => Math.floor(size / TILE_WIDTH ** level);

/** Runs `count` tasks with at most `concurrency` started and not yet consumed, yielding results in order. */
async function* inOrder<T>(count: number, task: (i: number) => Promise<T>, concurrency: number): AsyncGenerator<T> {
  const queue: Array<Promise<T>> = [];
  let next = 0;
  const start = () => {
    const p = task(next++);
    // Consumed in order below; a failure of one not reached yet must not go unhandled meanwhile.
    p.catch(() => {});
    queue.push(p);
  };
  while (next < count && queue.length < concurrency) start();
  while (queue.length > 0) {
    const value = await queue.shift()!;
    if (next < count) start();
    yield value;
  }
}

/** Counts what is fetched and enforces the exact size of tiles. */
class Fetcher {
  tiles = 0;
  bundles = 0;
  bytes = 0;

  constructor(private readonly source: LogSource) {}

  async checkpoint(): Promise<string> {
    const body = await this.source.get('checkpoint', MAX_NOTE_BYTES);
    this.bytes += body.length;
    try {
      return decodeUtf8Strict(body);
    } catch {
      throw new MonitorFailure('checkpoint_malformed', 'the checkpoint is not UTF-8 text');
    }
  }

  async tile(level: number, index: number, width: number): Promise<Buffer> {
    const path = tilePath(level, index, width);
    const body = await this.source.get(path, width * HASH_SIZE);
    this.tiles++;
    this.bytes += body.length;
    if (body.length !== width * HASH_SIZE) {
      throw new MonitorFailure('tile_mismatch', `${path} has ${body.length} bytes; a tile of ${width} hashes has ${width * HASH_SIZE}`, {
        tile: path,
      });
    }
    return body;
  }

  async bundle(index: number, width: number): Promise<Buffer> {
    const body = await this.source.get(tilePath('entries', index, width), width * (2 + MAX_ENTRY_BYTES));
    this.bundles++;
    this.bytes += body.length;
    return body;
  }
}

/** Opens the note under the trusted keys and reads the checkpoint in it. */
export function openCheckpoint(note: string, keys: TrustedKeys): CheckpointBody {
  const parsed = parseNote(note);
  if ('problem' in parsed)
    throw new MonitorFailure(
      'checkpoint_malformed',
      parsed.problem === 'too_many_signatures'
        ? 'the checkpoint carries too many signature lines'
        : 'the checkpoint is not a well-formed signed note',
    );
  const claimed = parseCheckpoint(parsed.text);
  if (!claimed)
    throw new MonitorFailure('checkpoint_malformed', 'the signed note is not a checkpoint (origin, tree size, base64 root hash)');
  // A raw key signs checkpoints under the log's origin, as the authority's vkeys do.
  const verifiers = [...keys.vkeys, ...keys.publicKeys.map((key) => verifierFor(claimed.origin, key))];
  const opened = openNote(note, verifiers);
  if (!opened.ok) {
    const signers = parsed.signatures.map((sig: NoteSignature) => `${sig.name}+${hex8(sig.keyId)}`);
    throw new MonitorFailure(
      'checkpoint_signature',
      opened.problem === 'invalid_signature' ? `the checkpoint's ${opened.detail}` : 'the checkpoint is not signed by a trusted key',
      { problem: opened.problem, signed_by: signers.join(', ') },
    );
  }
  return claimed;
}

/** What a run fetches and checks: tiles and bundles of the tree of `size` from the first one the previous head did not cover. */
class TreePlan {
  readonly levels: number;

  constructor(
    readonly size: number,
    readonly from: number,
  ) {
    let levels = 0;
    while (levels <= MAX_TILE_LEVEL && levelSize(size, levels) >= 1) levels++;
    this.levels = levels;
  }

  /** First tile index at `level` holding hashes the previous head did not cover (its first `prefix(level)` hashes it did). */
  firstTile(level: number): number {
    return Math.floor(this.from / TILE_WIDTH ** (level + 1));
  }

  prefix(level: number): number {
    return levelSize(this.from, level) % TILE_WIDTH;
  }

  /** Tile indexes at `level`: [firstTile, end). */
  endTile(level: number): number {
    return Math.ceil(levelSize(this.size, level) / TILE_WIDTH);
  }

  width(level: number, index: number): number {
    return Math.min(TILE_WIDTH, levelSize(this.size, level) - index * TILE_WIDTH);
  }
}

/** The first entry whose leaf hash differs between the bundle and the tile, or -1. */
function firstDifference(computed: string, served: string): number {
  for (let i = 0; i < computed.length; i += HASH_SIZE)
    if (computed.slice(i, i + HASH_SIZE) !== served.slice(i, i + HASH_SIZE)) return i / HASH_SIZE;
  return -1;
}

const NON_ASCII = /[^\u0000-\u007f]/;

/** Reads the canonical JSON of one revocation entry at `at` of `text`: its index and where it ends, or null. */
export type EntryReader = (text: string, at: number) => { entry: { index: number }; end: number } | null;

/** Why one entry is not a revocation entry of this log at `index` (its canonical JSON), or null; `text` holds its characters from `at`. */
function entryProblem(readCanonicalEntry: EntryReader, text: string, at: number, stop: number, index: number): string | null {
  const read = readCanonicalEntry(text, at);
  if (!read || read.end !== stop) return 'is not the canonical JSON of a revocation entry';
  if (read.entry.index !== index) return `carries "index": ${read.entry.index}`;
  return null;
}

/**
 * The first entry of a bundle that is not a revocation entry at its index, or null. The bundle is
 * read once as latin1: after hashing, every length prefix's low byte is 0x00 and (entries being
 * short) its high byte is ASCII, so when the whole text is ASCII every entry reads the same as UTF-8;
 * otherwise each entry with other bytes is decoded strictly on its own.
 */
function invalidEntry(
  read: EntryReader,
  bundle: Buffer,
  spans: Uint32Array,
  firstIndex: number,
): { index: number; problem: string } | null {
  const text = bundle.toString('latin1');
  const ascii = !NON_ASCII.test(text);
  for (let e = 0; e < spans.length / 2; e++) {
    const [start, end] = [spans[2 * e]!, spans[2 * e + 1]!];
    let problem: string | null;
    if (end - start > MAX_ENTRY_BYTES) problem = `is longer than ${MAX_ENTRY_BYTES} bytes`;
    else if (ascii || !NON_ASCII.test(text.slice(start, end))) problem = entryProblem(read, text, start, end, firstIndex + e);
    else {
      let utf8: string | null;
      try {
        utf8 = decodeUtf8Strict(bundle.subarray(start, end));
      } catch {
        utf8 = null;
      }
      problem = utf8 === null ? 'is not UTF-8' : entryProblem(read, utf8, 0, utf8.length, firstIndex + e);
    }
    if (problem) return { index: firstIndex + e, problem };
  }
  return null;
}

/**
 * Rebuilds the tree bottom-up as hashes arrive: each level keeps its current (last) tile; a full
 * tile is compared with the served one and its root goes one level up.
 */
class TreeBuilder {
  /** Binary digests of each level's current tile. */
  readonly pending: string[][];
  readonly index: number[];
  tileMismatch: { tile: string; hash: number } | null = null;

  constructor(
    private readonly plan: TreePlan,
    private readonly tiles: Map<string, Buffer>,
  ) {
    this.pending = [];
    this.index = [];
    for (let level = 0; level < plan.levels; level++) {
      const first = plan.firstTile(level);
      this.index.push(first);
      // Above level 0 the previous head's part of the first tile comes from the served tile (the
      // consistency proof and the root vouch for it); level 0 is rebuilt whole from its bundle.
      const prefix = level === 0 ? 0 : plan.prefix(level);
      const hashes: string[] = [];
      if (prefix > 0) {
        const served = this.tiles.get(`${level}/${first}`)!.toString('latin1');
        for (let i = 0; i < prefix; i++) hashes.push(served.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE));
      }
      this.pending.push(hashes);
    }
  }

  private noteMismatch(level: number, index: number, computed: string, served: Buffer): void {
    if (this.tileMismatch) return;
    const hash = firstDifference(computed, served.toString('latin1'));
    if (hash >= 0) this.tileMismatch = { tile: tilePath(level, index, computed.length / HASH_SIZE), hash };
  }

  /** Adds a level-0 tile computed from its bundle; returns the first entry whose leaf differs from the served tile, or -1. */
  addLeaves(index: number, digests: string[], served: Buffer): number {
    const computed = digests.join('');
    const servedText = served.toString('latin1');
    const differs = computed === servedText ? -1 : firstDifference(computed, servedText);
    if (differs >= 0 && !this.tileMismatch) this.tileMismatch = { tile: tilePath(0, index, digests.length), hash: differs };
    if (digests.length === TILE_WIDTH) {
      this.index[0] = index + 1;
      this.push(1, tileRoot(digests));
    } else this.pending[0] = digests;
    return differs;
  }

  private push(level: number, digest: string): void {
    const pending = this.pending[level]!;
    pending.push(digest);
    if (pending.length < TILE_WIDTH) return;
    const index = this.index[level]!;
    const computed = pending.join('');
    const served = this.tiles.get(`${level}/${index}`)!;
    if (computed !== served.toString('latin1')) this.noteMismatch(level, index, computed, served);
    this.pending[level] = [];
    this.index[level] = index + 1;
    this.push(level + 1, tileRoot(pending));
  }

  /** Compares the partial tiles left at the right edge and returns the root (hex) of the whole tree. */
  finish(): string {
    const compactRange: string[] = [];
    for (let level = this.plan.levels - 1; level >= 0; level--) {
      const pending = this.pending[level]!;
      if (pending.length === 0) continue;
      // Level 0 was compared bundle by bundle.
      if (level > 0) {
        const index = this.index[level]!;
        this.noteMismatch(level, index, pending.join(''), this.tiles.get(`${level}/${index}`)!);
      }
      compactRange.push(...appendLeafDigests(emptyFrontier(), pending).hashes);
    }
    return frontierRoot({ size: this.plan.size, hashes: compactRange });
  }
}

/** Root (binary digest) of a full tile from its 256 binary digests. */
function tileRoot(digests: readonly string[]): string {
  return Buffer.from(appendLeafDigests(emptyFrontier(), digests).hashes[0]!, 'hex').toString('latin1');
}

/**
 * Checks the log: the checkpoint's signature, origin and consistency with `previous`; then every
 * entry bundle and tile the previous head did not cover, rebuilt into the tree, which must hash to the
 * checkpoint's root and match every served tile. Throws `MonitorFailure` at the first problem.
 */
export async function verifyLog(source: LogSource, options: MonitorOptions): Promise<MonitorReport> {
  const fetch = new Fetcher(source);
  const note = await fetch.checkpoint();
  const checkpoint = openCheckpoint(note, options.keys);
  try {
    return await checkSignedLog(fetch, note, checkpoint, options);
  } catch (err) {
    // The checkpoint a trusted key signed is the log's own word: it goes with any failure as evidence.
    if (err instanceof MonitorFailure && err.logMisbehaved) err.details.checkpoint = note;
    throw err;
  }
}

/** Everything after the checkpoint's signature: origin, the previous head, then the tree. */
async function checkSignedLog(fetch: Fetcher, note: string, checkpoint: CheckpointBody, options: MonitorOptions): Promise<MonitorReport> {
  const concurrency = Math.max(1, options.concurrency);
  const { origin, size, rootHash } = checkpoint;
  if (options.origin !== undefined && origin !== options.origin) {
    throw new MonitorFailure(
      'origin_mismatch',
      `the checkpoint's origin is ${JSON.stringify(origin)}, not ${JSON.stringify(options.origin)}`,
      { origin, expected: options.origin },
    );
  }
  const previous = options.previous ?? null;
  if (previous && previous.origin !== origin) {
    throw new MonitorFailure(
      'origin_mismatch',
      `the checkpoint's origin is ${JSON.stringify(origin)}, but the state was verified for ${JSON.stringify(previous.origin)}`,
      { origin, expected: previous.origin },
    );
  }
  const report = (consistency: MonitorReport['consistency'], entriesChecked: number): MonitorReport => ({
    origin,
    size,
    root_hash: rootHash,
    previous_size: previous?.size ?? null,
    previous_root_hash: previous?.rootHash ?? null,
    consistency,
    new_entries: size - (previous?.size ?? 0),
    entries_checked: entriesChecked,
    entry_contents_checked: options.entryReader !== undefined,
    tiles_fetched: fetch.tiles,
    bundles_fetched: fetch.bundles,
    bytes_fetched: fetch.bytes,
    checkpoint: note,
  });
  const heads = {
    checkpoint_size: size,
    checkpoint_root_hash: rootHash,
    previous_size: previous?.size,
    previous_root_hash: previous?.rootHash,
  };

  if (previous && size < previous.size) {
    throw new MonitorFailure(
      'checkpoint_rollback',
      `the checkpoint's tree (size ${size}) is smaller than the one verified before (size ${previous.size})`,
      heads,
    );
  }
  if (previous && size === previous.size) {
    if (rootHash !== previous.rootHash)
      throw new MonitorFailure(
        'checkpoint_inconsistent',
        `the checkpoint has another root hash at size ${size} than the one verified before: the log forked`,
        heads,
      );
    return report('unchanged', 0);
  }
  if (size === 0) {
    if (rootHash !== `sha256:${EMPTY_ROOT}`)
      throw new MonitorFailure('root_mismatch', 'the checkpoint of the empty tree does not carry the empty root hash', heads);
    return report('first_check', 0);
  }

  const from = previous?.size ?? 0;
  const plan = new TreePlan(size, from);
  const tiles = new Map<string, Buffer>();

  // Every tile above level 0 and, after a previous head, the level-0 tiles its consistency proof reads.
  const wanted = new Set<string>();
  for (let level = 1; level < plan.levels; level++)
    for (let n = plan.firstTile(level); n < plan.endTile(level); n++) wanted.add(`${level}/${n}`);
  if (from > 0) consistencyProof(tileSubtrees(tiles, wanted), from, size);
  const list = [...wanted].map((key) => key.split('/').map(Number) as [number, number]);
  let i = 0;
  for await (const body of inOrder(
    list.length,
    (k) => fetch.tile(list[k]![0], list[k]![1], plan.width(list[k]![0], list[k]![1])),
    concurrency,
  )) {
    const [level, n] = list[i++]!;
    tiles.set(`${level}/${n}`, body);
  }
  if (from > 0) {
    const proof = consistencyProof(tileSubtrees(tiles), from, size);
    if (!verifyConsistency(from, size, previous!.rootHash.slice(7), rootHash.slice(7), proof)) {
      throw new MonitorFailure(
        'checkpoint_inconsistent',
        `the log's tiles do not prove the checkpoint (size ${size}) extends the tree verified before (size ${from}): the log forked, or serves tiles its checkpoint does not vouch for`,
        heads,
      );
    }
  }

  // Then every bundle from the one the previous head ends in, each after its level-0 tile, in order.
  const readEntry = options.entryReader ?? null;
  const builder = new TreeBuilder(plan, tiles);
  const first = plan.firstTile(0);
  const bundles = plan.endTile(0) - first;
  const entriesToCheck = size - first * TILE_WIDTH;
  let entriesChecked = 0;
  let invalid: { index: number; problem: string } | null = null;
  let leafMismatch: { index: number; bundle: string } | null = null;
  const request = (k: number): Promise<Buffer> => {
    const n = first + (k >> 1);
    const width = plan.width(0, n);
    if (k % 2 === 1) return fetch.bundle(n, width);
    const known = tiles.get(`0/${n}`);
    return known ? Promise.resolve(known) : fetch.tile(0, n, width);
  };
  let k = 0;
  let tile: Buffer | undefined;
  for await (const body of inOrder(2 * bundles, request, concurrency)) {
    const n = first + (k >> 1);
    if (k++ % 2 === 0) {
      tile = body;
      continue;
    }
    const width = plan.width(0, n);
    const start = n * TILE_WIDTH;
    const path = tilePath('entries', n, width);
    const leaves = bundleLeafDigests(body, width);
    if (!leaves.ok)
      throw new MonitorFailure('bundle_malformed', `${path}: ${leaves.problem}`, { bundle: path, entry_index: start + leaves.entry });
    if (readEntry) invalid ??= invalidEntry(readEntry, body, leaves.spans, start);
    const differs = builder.addLeaves(n, leaves.digests, tile!);
    if (differs >= 0 && !leafMismatch) leafMismatch = { index: start + differs, bundle: path };
    entriesChecked += width;
    options.onProgress?.({ entriesChecked, entriesToCheck });
  }

  const root = builder.finish();
  if (`sha256:${root}` !== rootHash) {
    throw new MonitorFailure(
      'root_mismatch',
      leafMismatch
        ? `entry ${leafMismatch.index} (${leafMismatch.bundle}) does not hash to its leaf in the tiles, and the entries do not hash to the checkpoint's root`
        : "the entries and tiles do not hash to the checkpoint's root",
      {
        ...heads,
        computed_root_hash: `sha256:${root}`,
        ...(leafMismatch ? { entry_index: leafMismatch.index, bundle: leafMismatch.bundle } : {}),
      },
    );
  }
  if (builder.tileMismatch) {
    const { tile: path, hash } = builder.tileMismatch;
    throw new MonitorFailure('tile_mismatch', `${path} (hash ${hash}) is not the tree the entries and the checkpoint's root make`, {
      tile: path,
      hash_index: hash,
    });
  }
  if (invalid)
    throw new MonitorFailure('entry_invalid', `the log's entry ${invalid.index} ${invalid.problem}`, { entry_index: invalid.index });
  return report(previous ? 'proved' : 'first_check', entriesChecked);
}

// ---- The state file: the head verified last, so the next run checks only what is new.

export const STATE_TYPE = 'accord_log_monitor_state';

export interface MonitorState {
  type: typeof STATE_TYPE;
  version: 1;
  origin: string;
  size: number;
  /** "sha256:" + hex. */
  root_hash: string;
  /** The verified checkpoint note, kept as evidence. */
  checkpoint: string;
  /** Where the log was read from. */
  url: string;
  verified_at: string;
}

const STATE_FIELDS: ReadonlySet<string> = new Set(['type', 'version', 'origin', 'size', 'root_hash', 'checkpoint', 'url', 'verified_at']);
const HASH_REF = /^sha256:[0-9a-f]{64}$/;

/**
 * Reads a state file's text strictly (every field, no other); the reason instead when it is not one.
 * Checked by hand rather than with zod: a monitor run from cron on an unchanged log is mostly
 * start-up, and this is the only schema on its path.
 */
export function parseMonitorState(text: string): { ok: true; state: MonitorState; head: VerifiedHead } | { ok: false; problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  const bad = (problem: string) => ({ ok: false as const, problem });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('(root): not an object');
  const o = value as Record<string, unknown>;
  const unknown = Object.keys(o).find((key) => !STATE_FIELDS.has(key));
  if (unknown !== undefined) return bad(`${unknown}: not a field of the state`);
  if (o.type !== STATE_TYPE) return bad(`type: must be "${STATE_TYPE}"`);
  if (o.version !== 1) return bad('version: must be 1');
  if (typeof o.origin !== 'string' || o.origin.length === 0) return bad('origin: must be a non-empty string');
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) return bad('size: must be a whole number');
  if (typeof o.root_hash !== 'string' || !HASH_REF.test(o.root_hash))
    return bad('root_hash: must be "sha256:" and 64 lowercase hex digits');
  for (const key of ['checkpoint', 'url', 'verified_at']) if (typeof o[key] !== 'string') return bad(`${key}: must be a string`);
  const state = o as unknown as MonitorState;
  return { ok: true, state, head: { origin: state.origin, size: state.size, rootHash: state.root_hash } };
}

export function monitorState(report: MonitorReport, url: string, verifiedAt: string): MonitorState {
  return {
    type: STATE_TYPE,
    version: 1,
    origin: report.origin,
    size: report.size,
    root_hash: report.root_hash,
    checkpoint: report.checkpoint,
    url,
    verified_at: verifiedAt,
  };
}
