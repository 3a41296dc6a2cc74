// The revocation log as a transparency log: its origin, a signed checkpoint per published feed, tiles, and proofs against them.
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { listSigningKeyRows } from '../authority/identity.ts';
import { parsePublicKey } from '../authority/crypto.ts';
import type { Sqlite } from '../db/database.ts';
import { EMPTY_ROOT } from '../log/merkle.ts';
import { formatCheckpoint } from './checkpoint.ts';
import { consistencyProof, inclusionProof, rangeHash, type SubtreeHashes } from './proofs.ts';
import { formatVerifierKey, signNote } from '../authority/signed-note.ts';
import {
  insertCheckpoint,
  insertMetaValue,
  readAuditHead,
  readCheckpoint,
  inReadTransaction,
  readDataVersion,
  readEntriesById,
  readLatestCheckpoint,
  readMetaValue,
  readPublishedSize,
  readUncheckpointedFeeds,
  type CheckpointRow,
} from './store.ts';
import { tileExists, type TileAddress } from './tile-format.ts';
import { buildTiles, forgetTileReads, freshReadCache, TileReader } from './tiles.ts';
import { cosignedNote } from './cosigned-note.ts';

type LogDeps = Pick<AppDeps, 'db' | 'clock' | 'config' | 'identity'>;

const ORIGIN_META = 'log_origin';

/**
 * The latest checkpoint, remembered per connection: this connection forgets it when it signs one,
 * and `data_version` tells when another connection has committed.
 */
const latestSeen = new WeakMap<Sqlite, { version: number; row: CheckpointRow }>();

/** The origin when none is configured: the sovereign id, then the path the log is served under. */
export function defaultLogOrigin(sovereignId: string): string {
  return `${sovereignId}/log`;
}

/**
 * The log's origin: fixed in the database by the first checkpoint, since a checkpoint under another
 * origin would be another log to every verifier. Before that, the configured value or the default.
 */
export function logOrigin(deps: LogDeps): string {
  return readMetaValue(deps.db.sqlite, ORIGIN_META) ?? deps.config.logOrigin ?? defaultLogOrigin(deps.identity.sovereignId);
}

export class LogOriginMismatchError extends Error {
  override name = 'LogOriginMismatchError';
}

/** Refuses a configured origin that differs from the one the log's checkpoints already carry. */
export function checkLogOrigin(deps: LogDeps): void {
  const stored = readMetaValue(deps.db.sqlite, ORIGIN_META);
  if (stored !== undefined && deps.config.logOrigin !== undefined && deps.config.logOrigin !== stored) {
    throw new LogOriginMismatchError(
      `ACCORD_LOG_ORIGIN is "${deps.config.logOrigin}" but this authority's revocation log was published as "${stored}"; an origin cannot change`,
    );
  }
}

/** Subtree hashes of the published log, read from the tiles of a tree of `size` leaves (all of which are built). */
export function logHashes(reader: TileReader): SubtreeHashes {
  return (height, index) => reader.subtreeHash(height, index);
}

/** Hex root of the first `size` leaves, from the tiles of the published tree of `reader`. */
export function treeRoot(reader: TileReader, size: number = reader.size): string {
  return size === 0 ? EMPTY_ROOT : rangeHash(logHashes(reader), 0, size, reader.ranges);
}

/** A reader over the tiles of the latest checkpoint. */
export function latestTiles(sqlite: Sqlite): { checkpoint: CheckpointRow; tiles: TileReader } {
  const checkpoint = latestCheckpoint(sqlite);
  return { checkpoint, tiles: new TileReader(sqlite, checkpoint.tree_size) };
}

/**
 * A reader for serving `tile`, or null when the tile is not inside the latest checkpoint. A tile
 * inside a published tree stays inside every later one, so a tile inside the checkpoint this
 * connection remembers is served without asking the database whether anything was published since
 * (a monitor reads thousands of tiles in a row); only a tile beyond it needs the fresh look.
 */
export function tilesServing(sqlite: Sqlite, tile: TileAddress): TileReader | null {
  const seen = latestSeen.get(sqlite);
  if (seen && tileExists(tile, seen.row.tree_size)) return new TileReader(sqlite, seen.row.tree_size);
  const { tiles } = latestTiles(sqlite);
  return tileExists(tile, tiles.size) ? tiles : null;
}

/**
 * Signs and stores the checkpoint of one published feed, after building the tiles of its tree and
 * checking their root is the feed's. Runs inside the publishing transaction, after the feed's audit
 * event, so the checkpoint's audit head is that event and everything commits together.
 */
export function recordCheckpoint(deps: LogDeps, feed: { sequence: number; size: number; rootHash: string }): CheckpointRow {
  const sqlite = deps.db.sqlite;
  if (!sqlite.inTransaction) throw new Error('recordCheckpoint must run inside a transaction');
  if (deps.identity.signingKeys.length === 0) throw new AppError('no_signing_key', 'this authority has no signing key loaded');
  if (readCheckpoint(sqlite, feed.sequence)) {
    // The feed sequence was published before (its feed row lost, e.g. by a restore that did not carry it):
    // a second checkpoint under the same sequence would be a second history.
    throw new AppError(
      'log_checkpoint_exists',
      'a checkpoint for this feed sequence was already signed; restore the published feeds first',
      { sequence: feed.sequence },
    );
  }
  forgetTileReads(sqlite);
  latestSeen.delete(sqlite);
  buildTiles(sqlite, feed.size);
  checkTiles(sqlite, feed);
  const origin = logOrigin(deps);
  if (readMetaValue(sqlite, ORIGIN_META) === undefined) insertMetaValue(sqlite, ORIGIN_META, origin);
  const audit = readAuditHead(sqlite);
  const text = formatCheckpoint({ origin, size: feed.size, rootHash: feed.rootHash, auditHead: audit ?? null });
  const row: CheckpointRow = {
    sequence: feed.sequence,
    tree_size: feed.size,
    root_hash: feed.rootHash,
    audit_seq: audit?.seq ?? null,
    audit_hash: audit?.hash ?? null,
    note: signNote(text, origin, deps.identity.signingKeys),
    signed_at: toTimestamp(deps.clock()),
  };
  insertCheckpoint(sqlite, row);
  return row;
}

/** Refuses tiles that do not hash to a signed (or about to be signed) tree head. Runs inside the transaction that built them. */
function checkTiles(sqlite: Sqlite, head: { sequence: number; size: number; rootHash: string }): void {
  if (`sha256:${treeRoot(new TileReader(sqlite, head.size, freshReadCache()))}` !== head.rootHash) {
    throw new AppError('revocation_log_corrupt', 'the log tiles do not hash to the published tree head', {
      sequence: head.sequence,
      log_size: head.size,
    });
  }
}

/**
 * Stores a checkpoint its primary signed (a follower's copy, its signature checked by the caller) and
 * the full tiles up to its size, checking they hash to its root. In the caller's transaction.
 */
export function storeCheckpointCopy(sqlite: Sqlite, row: CheckpointRow, origin: string): void {
  if (!sqlite.inTransaction) throw new Error('storeCheckpointCopy must run inside a transaction');
  forgetTileReads(sqlite);
  latestSeen.delete(sqlite);
  buildTiles(sqlite, row.tree_size);
  if (`sha256:${treeRoot(new TileReader(sqlite, row.tree_size, freshReadCache()))}` !== row.root_hash) {
    throw new AppError('revocation_log_corrupt', 'the log tiles do not hash to the checkpoint', { sequence: row.sequence });
  }
  if (readMetaValue(sqlite, ORIGIN_META) === undefined) insertMetaValue(sqlite, ORIGIN_META, origin);
  insertCheckpoint(sqlite, row);
}

/**
 * Brings the transparency view up to the published feeds: builds missing tiles and bundles, checks
 * them against the latest checkpoint, and signs a checkpoint for every published feed that has none
 * (feeds published before checkpoints existed). Idempotent; run when the app starts.
 */
export function catchUpLog(deps: LogDeps): { tiles: number; checkpoints: number } {
  checkLogOrigin(deps);
  const sqlite = deps.db.sqlite;
  return sqlite
    .transaction(() => {
      const missing = readUncheckpointedFeeds(sqlite);
      const tiles = buildTiles(sqlite, readPublishedSize(sqlite));
      const latest = readLatestCheckpoint(sqlite);
      if (tiles > 0 && latest) checkTiles(sqlite, { sequence: latest.sequence, size: latest.tree_size, rootHash: latest.root_hash });
      if (missing.length > 0 && deps.identity.signingKeys.length > 0) {
        for (const feed of missing) recordCheckpoint(deps, { sequence: feed.sequence, size: feed.log_size, rootHash: feed.root_hash });
        return { tiles, checkpoints: missing.length };
      }
      return { tiles, checkpoints: 0 };
    })
    .immediate();
}

export function latestCheckpoint(sqlite: Sqlite): CheckpointRow {
  const version = readDataVersion(sqlite);
  const seen = latestSeen.get(sqlite);
  if (seen && seen.version === version) return seen.row;
  const row = readLatestCheckpoint(sqlite);
  if (!row) throw new AppError('checkpoint_not_found', 'no checkpoint has been published yet');
  latestSeen.set(sqlite, { version, row });
  return row;
}

export function checkpointBySequence(sqlite: Sqlite, sequence: number): CheckpointRow {
  const row = readCheckpoint(sqlite, sequence);
  if (!row) throw new AppError('checkpoint_not_found', 'no checkpoint with this sequence', { sequence });
  return row;
}

export interface LogKey {
  key_id: string;
  vkey: string;
  created_at: string;
  retired_at: string | null;
}

/** Every key that ever signed for this authority as a note verifier key, retired ones included so old checkpoints stay verifiable. */
export function logKeys(deps: LogDeps): { origin: string; keys: LogKey[] } {
  const origin = logOrigin(deps);
  const keys = listSigningKeyRows(deps.db).flatMap((row) => {
    const parsed = parsePublicKey(row.public_key);
    return parsed.ok
      ? [{ key_id: row.key_id, vkey: formatVerifierKey(origin, parsed.key.raw), created_at: row.created_at, retired_at: row.retired_at }]
      : [];
  });
  return { origin, keys };
}

const ref = (hex: string) => `sha256:${hex}`;

function proofRangeError(message: string, latestSize: number): AppError {
  return new AppError('proof_range_invalid', message, { latest_size: latestSize });
}

export interface InclusionProofResponse {
  index: number;
  size: number;
  leaf_hash: string;
  root_hash: string;
  proof: string[];
}

/** An inclusion proof for a published leaf; `size` defaults to the latest checkpoint's. */
export function inclusionProofFor(sqlite: Sqlite, index: number, size?: number): InclusionProofResponse {
  return inReadTransaction(sqlite, () => {
    const { checkpoint, tiles } = latestTiles(sqlite);
    const latest = checkpoint.tree_size;
    const treeSize = size ?? latest;
    if (treeSize > latest) throw proofRangeError('size is beyond the latest checkpoint', latest);
    if (index >= treeSize) throw proofRangeError('index must be below size', latest);
    tiles.readPath(index);
    const hashes = logHashes(tiles);
    return {
      index,
      size: treeSize,
      leaf_hash: ref(hashes(0, index)),
      root_hash: treeSize === latest ? checkpoint.root_hash : ref(treeRoot(tiles, treeSize)),
      proof: inclusionProof(hashes, index, treeSize, tiles.ranges).map(ref),
    };
  });
}

export interface ConsistencyProofResponse {
  from: number;
  to: number;
  from_root_hash: string;
  to_root_hash: string;
  proof: string[];
}

/** A consistency proof between two published sizes; `to` defaults to the latest checkpoint's. */
export function consistencyProofFor(sqlite: Sqlite, from: number, to?: number): ConsistencyProofResponse {
  return inReadTransaction(sqlite, () => {
    const { checkpoint, tiles } = latestTiles(sqlite);
    const latest = checkpoint.tree_size;
    const toSize = to ?? latest;
    if (toSize > latest) throw proofRangeError('to is beyond the latest checkpoint', latest);
    if (from < 1 || from > toSize) throw proofRangeError('from must be at least 1 and at most to', latest);
    return {
      from,
      to: toSize,
      from_root_hash: ref(treeRoot(tiles, from)),
      to_root_hash: toSize === latest ? checkpoint.root_hash : ref(treeRoot(tiles, toSize)),
      proof: consistencyProof(logHashes(tiles), from, toSize, tiles.ranges).map(ref),
    };
  });
}

/** At most this many log entries answer one id (an id is normally revoked once). */
export const MAX_ENTRIES_PER_ID = 16;

/** Published log entries that revoke `id`, each with its inclusion proof to the latest checkpoint (which is included). */
export function entriesWithProof(sqlite: Sqlite, id: string) {
  return inReadTransaction(sqlite, () => {
    const { checkpoint, tiles } = latestTiles(sqlite);
    const rows = readEntriesById(sqlite, id, checkpoint.tree_size, MAX_ENTRIES_PER_ID);
    if (rows.length === 0) throw new AppError('log_entry_not_found', 'no published log entry revokes this id', { id });
    for (const row of rows) tiles.readPath(row.idx);
    const hashes = logHashes(tiles);
    return {
      id,
      checkpoint: {
        sequence: checkpoint.sequence,
        size: checkpoint.tree_size,
        root_hash: checkpoint.root_hash,
        note: cosignedNote(sqlite, checkpoint),
      },
      entries: rows.map((row) => ({
        index: row.idx,
        entry: JSON.parse(row.entry) as Record<string, unknown>,
        leaf_hash: ref(row.leaf_hash),
        proof: inclusionProof(hashes, row.idx, checkpoint.tree_size, tiles.ranges).map(ref),
      })),
    };
  });
}
