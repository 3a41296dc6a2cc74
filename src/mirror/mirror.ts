// A static mirror of an authority's public files: every feed, the transparency log's checkpoint, tiles and entry bundles, the declaration and the connectome, as the live routes serve them.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { mapConcurrently } from '../authority/concurrency.ts';
import { AppError } from '../authority/errors.ts';
import type { Sqlite } from '../db/database.ts';
import { publishedFeed } from '../feeds/publish.ts';
import { cosignedNote } from '../transparency/cosigned-note.ts';
import { checkpointBySequence, latestCheckpoint } from '../transparency/service.ts';
import { formatTilePath, MAX_TILE_LEVEL, TILE_WIDTH, type TileAddress } from '../transparency/tile-format.ts';
import { entryBundle, TileReader } from '../transparency/tiles.ts';
import { MirrorFiles } from './files.ts';
import { mirrorFile, routeOfPath } from './paths.ts';

/** What a mirror copies besides the database's stored bytes: the documents the authority signs or builds in memory. */
export interface MirrorInputs {
  sqlite: Sqlite;
  /** The signed declaration as `/.well-known/network-authority` serves it. */
  declaration(): string;
  /** The Genesis Mesh snapshot as `/sovereign-revocation-feed` serves it; null before the first publication. */
  gmSnapshot(): Uint8Array | null;
  /** The connectome document as `/connectome.json` serves it, and its gzip answer. */
  connectome(): Promise<{ etag: string; body: Uint8Array; gzip(): Promise<Uint8Array> }>;
  /**
   * Files the floors above publish (the follower updates): URL paths without the leading `/` and their
   * bytes. Only paths of `MIRRORED_ROUTES` are written: immutable ones once, heads with the other heads.
   */
  extraFiles?(): Iterable<[string, Uint8Array]>;
}

export interface MirrorOptions {
  /** How long a partial tile stays after its full tile appeared (readers of an older checkpoint may still ask for it). */
  partialGraceMs?: number;
  /** Files written at once while catching up on immutable files. */
  concurrency?: number;
}

export interface MirrorSyncReport {
  /** The feed sequence and log size of the head the mirror now shows (0 before the first publication). */
  sequence: number;
  tree_size: number;
  files_written: number;
  bytes_written: number;
  partial_tiles_removed: number;
  /** Milliseconds until the checkpoint and the latest feed were in place, and until the whole update was. */
  heads_ms: number;
  ms: number;
}

/** Partial tiles stay this long after their full tile appeared: ten times the cache lifetime a partial tile is served with. */
export const PARTIAL_GRACE_MS = 10 * 60_000;
const DEFAULT_CONCURRENCY = 8;

/** Hashes at tile level `level` of a tree of `size` leaves. */
const levelSize = (size: number, level: number) => Math.floor(size / TILE_WIDTH ** level);

const tileUrl = (tile: TileAddress) => `/log/tile/${formatTilePath(tile)}`;

function bytesOf(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * Keeps one mirror directory in step with one authority's database. Each `sync` writes what is new,
 * in an order that keeps every state a reader can see consistent: sequenced feeds, stored checkpoints,
 * tiles and entry bundles first (written once, skipped when present), then — once the directories
 * holding the new files are fsynced — the checkpoint and the latest feed, then the documents (the
 * declaration, the Genesis Mesh snapshot, the connectome), which point at nothing. A reader who finds
 * a checkpoint or a latest feed therefore finds every tile and feed it points at.
 */
export class MirrorWriter {
  private readonly files: MirrorFiles;
  private opened = false;
  /** Sequences 1..feedsDone are known present. */
  private feedsDone = 0;
  /** Full tiles known present per level ('entries' for bundles). */
  private readonly tilesDone = new Map<number | 'entries', number>();
  /** The content (or entity tag) last written or found at each document's file. */
  private readonly documents = new Map<string, string>();
  private pruneDue = true;
  private readonly graceMs: number;
  private readonly concurrency: number;

  constructor(
    readonly dir: string,
    private readonly inputs: MirrorInputs,
    options: MirrorOptions = {},
  ) {
    this.files = new MirrorFiles(path.resolve(dir));
    this.graceMs = options.partialGraceMs ?? PARTIAL_GRACE_MS;
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  }

  private file(urlPath: string): string {
    return mirrorFile(this.files.root, urlPath);
  }

  /** Writes an immutable file unless it is present (`bytes` is read only when it is not). */
  private async immutable(urlPath: string, bytes: () => Uint8Array | string | null): Promise<void> {
    const file = this.file(urlPath);
    if (await this.files.exists(file)) return;
    const content = bytes();
    if (content !== null) await this.files.write(file, content);
  }

  /** Writes a replaceable file when its content differs from what it holds. */
  private async replace(urlPath: string, content: Uint8Array | string, key?: string): Promise<void> {
    const file = this.file(urlPath);
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const seen = key ?? createHash('sha256').update(bytes).digest('hex');
    if (this.documents.get(file) === seen) return;
    if (!(await this.holds(file, bytes))) await this.files.write(file, bytes);
    this.documents.set(file, seen);
  }

  private async holds(file: string, bytes: Uint8Array): Promise<boolean> {
    try {
      const existing = await fs.promises.readFile(file);
      return existing.equals(bytes);
    } catch {
      return false;
    }
  }

  /** Brings the directory up to the database's current state. */
  async sync(): Promise<MirrorSyncReport> {
    if (!this.opened) {
      await this.files.open();
      this.opened = true;
    }
    const started = performance.now();
    const before = { written: this.files.written, bytes: this.files.bytes };
    const sqlite = this.inputs.sqlite;
    let checkpoint: { sequence: number; tree_size: number; note: string } | null = null;
    try {
      checkpoint = latestCheckpoint(sqlite);
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'checkpoint_not_found')) throw err;
    }
    const sequence = checkpoint?.sequence ?? 0;
    const size = checkpoint?.tree_size ?? 0;

    // Immutable files below the head: sequenced feeds and their stored checkpoints.
    const firstFeed = this.feedsDone + 1;
    await mapConcurrently(sequence - this.feedsDone, this.concurrency, async (i) => {
      const n = firstFeed + i;
      await this.immutable(`/revocation-feeds/${n}`, () => publishedFeed(sqlite, n)?.body ?? null);
      await this.immutable(`/log/checkpoints/${n}`, () => checkpointBySequence(sqlite, n).note);
    });
    this.feedsDone = Math.max(this.feedsDone, sequence);

    // Tiles and entry bundles of the head's tree: full ones written once, then the partial ones at its right edge.
    if (size > 0) await this.tiles(size);

    // Files of the floors above: immutable ones now, heads with the heads.
    const extraHeads: Array<[string, Uint8Array]> = [];
    for (const [rel, bytes] of this.inputs.extraFiles?.() ?? []) {
      const kind = routeOfPath(`/${rel}`)?.kind;
      if (kind === 'immutable') await this.immutable(`/${rel}`, () => bytes);
      else if (kind === 'head') extraHeads.push([`/${rel}`, bytes]);
    }

    // The heads, once everything they point at is durable.
    await this.files.syncDirectories();
    if (checkpoint) {
      await this.replace('/log/checkpoint', cosignedNote(sqlite, checkpoint));
      const latest = publishedFeed(sqlite, sequence);
      if (latest) await this.replace('/revocation-feeds/latest', latest.body);
    }
    for (const [urlPath, bytes] of extraHeads) await this.replace(urlPath, bytes);
    const headsMs = performance.now() - started;

    // Then the documents, which point at nothing: the connectome may take a while to build and gzip,
    // and a new feed must not wait for it.
    await this.replace('/.well-known/network-authority', this.inputs.declaration());
    const snapshot = this.inputs.gmSnapshot();
    if (snapshot) await this.replace('/sovereign-revocation-feed', snapshot);
    const connectome = await this.inputs.connectome();
    if (this.documents.get(this.file('/connectome.json')) !== connectome.etag) {
      await this.replace('/connectome.json.gz', await connectome.gzip(), connectome.etag);
      await this.replace('/connectome.json', connectome.body, connectome.etag);
    }
    await this.files.syncDirectories();

    const removed = this.pruneDue ? await this.prunePartials() : 0;
    return {
      sequence,
      tree_size: size,
      files_written: this.files.written - before.written,
      bytes_written: this.files.bytes - before.bytes,
      partial_tiles_removed: removed,
      heads_ms: Math.round(headsMs),
      ms: Math.round(performance.now() - started),
    };
  }

  private async tiles(size: number): Promise<void> {
    const sqlite = this.inputs.sqlite;
    const reader = new TileReader(sqlite, size);
    for (let level = 0; level <= MAX_TILE_LEVEL && levelSize(size, level) >= 1; level++) {
      const hashes = levelSize(size, level);
      const full = Math.floor(hashes / TILE_WIDTH);
      const kinds: Array<number | 'entries'> = level === 0 ? [0, 'entries'] : [level];
      for (const kind of kinds) {
        const read = (tile: TileAddress) =>
          bytesOf(kind === 'entries' ? entryBundle(sqlite, tile) : reader.tileData({ ...tile, level: kind as number }));
        const done = this.tilesDone.get(kind) ?? 0;
        if (full > done) this.pruneDue = true;
        await mapConcurrently(full - done, this.concurrency, async (i) => {
          const tile = { level: kind, index: done + i, width: TILE_WIDTH };
          await this.immutable(tileUrl(tile), () => read(tile));
        });
        this.tilesDone.set(kind, Math.max(done, full));
        const width = hashes % TILE_WIDTH;
        if (width > 0) {
          const tile = { level: kind, index: full, width };
          await this.immutable(tileUrl(tile), () => read(tile));
        }
      }
    }
  }

  /**
   * Removes partial tiles and bundles whose full tile exists, once they are older than the grace
   * period (a reader of an older checkpoint falls back to the full tile, as tlog-tiles clients do).
   * The partial tiles of the current head never have a full tile, so they are never removed.
   */
  private async prunePartials(): Promise<number> {
    const root = this.file('/log/tile');
    const cutoff = Date.now() - this.graceMs;
    let removed = 0;
    let waiting = false;
    const walk = async (dir: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      const names = new Set(entries.map((e) => e.name));
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        const sub = path.join(dir, entry.name);
        if (!entry.name.endsWith('.p')) {
          await walk(sub);
          continue;
        }
        if (!names.has(entry.name.slice(0, -2))) continue;
        for (const partial of await fs.promises.readdir(sub)) {
          const file = path.join(sub, partial);
          const stat = await fs.promises.stat(file).catch(() => null);
          if (!stat) continue;
          if (stat.mtimeMs > cutoff) {
            waiting = true;
            continue;
          }
          await fs.promises.rm(file, { force: true });
          removed++;
        }
        await fs.promises.rmdir(sub).catch(() => {});
      }
    };
    await walk(root);
    this.pruneDue = waiting;
    return removed;
  }
}
