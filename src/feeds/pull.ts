// The pull job: fetch each recognized peer's new feeds, import them in order, mirror its treaties, send a receipt.
import { appendAudit, SYSTEM_ACTOR } from '../authority/audit.ts';
import { mapConcurrently } from '../authority/concurrency.ts';
import { canonicalJson, decodeUtf8Strict, parseJsonStrict, type JsonValue } from '../authority/canonical-json.ts';
import { addSeconds, parseTimestamp, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { verifySignedObject, type PublicKeyInfo } from '../authority/crypto.ts';
import type { PullFailureReason } from '../authority/error-codes.ts';
import { AppError, type ErrorCode } from '../authority/errors.ts';
import { gmSnapshotUnchanged, importGmFeed } from './gm-import.ts';
import { GENESIS_MESH_PROFILE } from '../interop/gm-model.ts';
import { wireProfileOf } from '../interop/profile.ts';
import { recognitionTreatySchema } from '../treaties/model.ts';
import { recognizedIssuer } from '../treaties/recognition.ts';
import type { PageProblem } from './feed-page.ts';
import { feedImporterFor, type IncomingPage } from './import-runner.ts';
import { MAX_FEED_BYTES } from './model.ts';
import { getPeerRow, listPeerIds, peerMirrorUrls, type PeerRow } from './peers.ts';
import { readImportedFeedHead, readIssuerHead } from './imported-store.ts';
import { readPeerFailures, recordPullFailure, recordPullSuccess, recordReceiptSent, replacePeerTreaties } from './peer-store.ts';
import { countPeerRejection, countPeerReplay } from './peer-signals.ts';
import { buildReceipt } from './receipts.ts';
import {
  checkIssuerCheckpoint,
  fetchFeedConsistencyProof,
  readConsistencyProof,
  tileFeedConsistencyProof,
  type CheckpointSource,
} from '../transparency/importer.ts';
import { TileMalformed, TileProofs, TileUnavailable } from '../transparency/tile-proofs.ts';
import { parseCheckpoint } from '../transparency/checkpoint.ts';
import { parseNote } from '../authority/signed-note.ts';
import { hasQuorumPolicy, refreshQuorumGauges, type WitnessedCheckpointInput } from '../witness/quorum.ts';
import { detectSplitView } from '../gossip/service.ts';

export const PULL_TIMEOUT_MS = 5_000;
/** Size caps of peer responses: one feed, a page of feeds, a page of treaties, a receipt answer. */
export const MAX_LATEST_BYTES = MAX_FEED_BYTES + 64 * 1024;
export const MAX_PAGE_BYTES = 2 * MAX_FEED_BYTES;
export const MAX_TREATY_PAGE_BYTES = 8 * 1024 * 1024;
const MAX_SMALL_BYTES = 64 * 1024;
/** Feeds asked for per page, and pages per pull (a very long backlog continues on the next run). */
export const PULL_PAGE_LIMIT = 50;
const MAX_PAGES_PER_PULL = 100;
/** Bytes of feed pages one run takes from one peer; the rest of a long backlog waits for the next run. */
export const MAX_PULL_BYTES_PER_RUN = 64 * 1024 * 1024;
const MAX_TREATY_PAGES = 20;
/** Backoff after consecutive failures: 30 s, 60 s, 120 s, … capped at one hour. */
export const BACKOFF_BASE_SECONDS = 30;
export const BACKOFF_MAX_SECONDS = 3600;
/** Treaties are mirrored at most this often unless a pull imported something. */
const TREATY_SYNC_INTERVAL_SECONDS = 600;
const PULL_CONCURRENCY = 4;

export function backoffSeconds(consecutiveFailures: number): number {
  return Math.min(BACKOFF_BASE_SECONDS * 2 ** Math.max(0, consecutiveFailures - 1), BACKOFF_MAX_SECONDS);
}

/** Why one pull of one peer failed: a stable code (transport problem or import rejection reason). */
export class PullFailure extends Error {
  constructor(
    readonly reason: PullFailureReason | ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'PullFailure';
  }
}

export interface PullOptions {
  /** Per-request timeout (default 5 s). */
  timeoutMs?: number;
  /** Feed-page bytes taken from one peer per run (default MAX_PULL_BYTES_PER_RUN). */
  maxBytesPerRun?: number;
}

export interface FetchedBody {
  status: number;
  text: string;
}

/** One HTTP exchange with a peer, the answer as text: strict UTF-8. */
export async function exchange(
  net: PullOptions,
  url: string,
  init: { method?: string; body?: string },
  maxBytes: number,
): Promise<FetchedBody> {
  const chunks: Uint8Array[] = [];
  const { status } = await exchangeInto(net, url, init, maxBytes, (chunk) => chunks.push(chunk));
  try {
    return { status, text: decodeUtf8Strict(Buffer.concat(chunks)) };
  } catch {
    throw new PullFailure('malformed_response', `response from ${url} is not UTF-8`);
  }
}

/**
 * One HTTP exchange with a peer: 5 s timeout, a byte cap on the response. The body goes to `sink`
 * chunk by chunk as it arrives (a feed page is passed on to the import worker without ever being whole here).
 */
async function exchangeInto(
  net: PullOptions,
  url: string,
  init: { method?: string; body?: string },
  maxBytes: number,
  sink: (chunk: Uint8Array) => void,
): Promise<{ status: number; size: number }> {
  let response: Response;
  const timeoutMs = net.timeoutMs ?? PULL_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    response = await fetch(url, {
      method: init.method ?? 'GET',
      headers: { Accept: 'application/json', ...(init.body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(init.body !== undefined ? { body: init.body } : {}),
      redirect: 'error',
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw new PullFailure('timeout', `no answer from ${url} within ${timeoutMs} ms`);
    throw new PullFailure('unreachable', `cannot reach ${url}: ${(err as Error).message}`);
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    void response.body?.cancel().catch(() => {});
    throw new PullFailure('response_too_large', `response from ${url} is larger than ${maxBytes} bytes`, { max_bytes: maxBytes });
  }
  let size = 0;
  try {
    if (response.body) {
      const reader = response.body.getReader();
      // fetch does not always end a pending read when the signal aborts mid-body (a peer that drips
      // bytes would then hold the pull for ever), so every read also races the signal itself.
      const timedOut = new Promise<never>((_, reject) => {
        const fail = () => {
          reject(new PullFailure('timeout', `no complete answer from ${url} within ${timeoutMs} ms`));
          void reader.cancel().catch(() => {});
        };
        if (signal.aborted) fail();
        else signal.addEventListener('abort', fail, { once: true });
      });
      timedOut.catch(() => {});
      for (;;) {
        const { done, value } = await Promise.race([reader.read(), timedOut]);
        if (done) {
          if (signal.aborted) throw new PullFailure('timeout', `no complete answer from ${url} within ${timeoutMs} ms`);
          break;
        }
        size += value.byteLength;
        if (size > maxBytes) {
          void reader.cancel().catch(() => {});
          throw new PullFailure('response_too_large', `response from ${url} is larger than ${maxBytes} bytes`, { max_bytes: maxBytes });
        }
        sink(value);
      }
    }
  } catch (err) {
    if (err instanceof PullFailure) throw err;
    if (signal.aborted) throw new PullFailure('timeout', `no complete answer from ${url} within ${timeoutMs} ms`);
    throw new PullFailure('unreachable', `reading ${url} failed: ${(err as Error).message}`);
  }
  return { status: response.status, size };
}

/** Native feed pages hold integers only; a Genesis Mesh snapshot or treaty list may carry other numbers. */
type NumberForm = 'integers' | 'any';

function parseJson(url: string, text: string, numbers: NumberForm): JsonValue {
  try {
    return parseJsonStrict(text, { integersOnly: numbers === 'integers' });
  } catch (err) {
    const why =
      err instanceof AppError && err.code === 'non_canonical_number' ? 'has a number with a fraction or exponent' : 'is not strict JSON';
    throw new PullFailure('malformed_response', `response from ${url} ${why}`);
  }
}

async function getJson(
  net: PullOptions,
  url: string,
  maxBytes: number,
  numbers: NumberForm,
  allowNotFound = false,
): Promise<JsonValue | null> {
  const res = await exchange(net, url, {}, maxBytes);
  if (res.status === 404 && allowNotFound) return null;
  if (res.status !== 200) throw new PullFailure('http_error', `${url} answered HTTP ${res.status}`, { status: res.status });
  return parseJson(url, res.text, numbers);
}

/** GETs a file's bytes (a log tile of a mirror); null for a 404. */
async function getBytes(net: PullOptions, url: string, maxBytes: number): Promise<Buffer | null> {
  const chunks: Uint8Array[] = [];
  const { status } = await exchangeInto(net, url, {}, maxBytes, (chunk) => chunks.push(chunk));
  if (status === 404) return null;
  if (status !== 200) throw new PullFailure('http_error', `${url} answered HTTP ${status}`, { status });
  return Buffer.concat(chunks);
}

/** Proofs within a mirror's tree of `treeSize` leaves, from its tiles (a mirror serves files, not JSON proofs). */
function mirrorTiles(net: PullOptions, base: string, treeSize: number): TileProofs {
  return new TileProofs(treeSize, (path, maxBytes) => getBytes(net, `${base}/log/${path}`, maxBytes));
}

function asObject(value: JsonValue | null): Record<string, JsonValue> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : null;
}

function importedState(deps: AppDeps, issuer: string): { last_sequence: number; last_feed_hash: string | null; paused: boolean } {
  const row = readIssuerHead(deps.db.sqlite, issuer);
  return { last_sequence: row?.last_sequence ?? 0, last_feed_hash: row?.last_feed_hash ?? null, paused: row?.paused === 1 };
}

function storedHash(deps: AppDeps, issuer: string, sequence: number): string | null {
  return readImportedFeedHead(deps.db.sqlite, issuer, sequence)?.feed_hash ?? null;
}

/** Imports feed `index` of a received page; a rejection becomes the pull's failure. */
async function importOne(
  deps: AppDeps,
  page: IncomingPage,
  index: number,
  peer: PeerRow,
  url: string,
  consistencyProof?: string[],
  witnessed?: WitnessedCheckpointInput,
): Promise<'imported' | 'already_imported'> {
  try {
    const ctx = {
      actor: SYSTEM_ACTOR,
      via: 'pull' as const,
      source: { peer: peer.sovereign_id, url },
      expectedIssuer: peer.sovereign_id,
      ...(consistencyProof ? { consistencyProof } : {}),
      ...(witnessed ? { witnessed } : {}),
    };
    return (await page.importFeed(index, ctx)).status;
  } catch (err) {
    if (err instanceof AppError) {
      countPeerRejection(deps, peer.sovereign_id, err.code);
      throw new PullFailure(err.code, err.message, err.details);
    }
    throw err;
  }
}

function pageFailure(url: string, problem: PageProblem): PullFailure {
  switch (problem) {
    case 'not_a_feed_page':
      return new PullFailure('malformed_response', `${url} is not a feed page`);
    case 'no_valid_sequence':
      return new PullFailure('malformed_response', 'latest feed has no valid sequence');
    case 'not_utf8':
      return new PullFailure('malformed_response', `response from ${url} is not UTF-8`);
    case 'non_canonical_number':
      return new PullFailure('malformed_response', `response from ${url} has a number with a fraction or exponent`);
    case 'not_strict_json':
      return new PullFailure('malformed_response', `response from ${url} is not strict JSON`);
  }
}

/** GETs `url` into a page received by the importer (discarded unless the answer is 200); null for an allowed 404. */
async function receivePage(
  deps: AppDeps,
  net: PullOptions,
  url: string,
  maxBytes: number,
  allowNotFound: boolean,
): Promise<{ page: IncomingPage; size: number } | null> {
  const page = feedImporterFor(deps).receive();
  try {
    const { status, size } = await exchangeInto(net, url, {}, maxBytes, (chunk) => page.write(chunk));
    if (status === 200) return { page, size };
    if (status === 404 && allowNotFound) {
      page.discard();
      return null;
    }
    throw new PullFailure('http_error', `${url} answered HTTP ${status}`, { status });
  } catch (err) {
    page.discard();
    throw err;
  }
}

/** What a pull did with the peer's feeds: how many it imported, and the feed a quorum policy held back (if one was). */
interface PulledFeeds {
  imported: number;
  heldBack?: PullFailure;
}

/**
 * For an issuer with a quorum policy: its cosigned checkpoint (`GET /log/checkpoint`, the log's note
 * with its witnesses' cosignature lines) and its size as the note says (verified by the import);
 * null when it serves none.
 */
async function fetchCosignedCheckpoint(net: PullOptions, base: string): Promise<{ note: string; size: number | null } | null> {
  const url = `${base}/log/checkpoint`;
  const res = await exchange(net, url, {}, MAX_SMALL_BYTES);
  if (res.status === 404) return null;
  if (res.status !== 200) throw new PullFailure('http_error', `${url} answered HTTP ${res.status}`, { status: res.status });
  const parsed = parseNote(res.text);
  const body = 'text' in parsed ? parseCheckpoint(parsed.text) : null;
  return { note: res.text, size: body?.size ?? null };
}

/** The cosigned checkpoint an import needs for a feed of log size `size`: with the issuer's proof from that size to the checkpoint's. */
async function witnessedFor(
  net: PullOptions,
  base: string,
  cosigned: { note: string; size: number | null } | null,
  size: number | null,
): Promise<WitnessedCheckpointInput | undefined> {
  if (cosigned === null) return undefined;
  if (cosigned.size === null || size === null || size === 0 || size >= cosigned.size) return { note: cosigned.note };
  const answer = asObject(
    await getJson(net, `${base}/log/proof/consistency?from=${size}&to=${cosigned.size}`, MAX_SMALL_BYTES, 'integers', true),
  );
  const proof = answer && answer.from === size && answer.to === cosigned.size ? readConsistencyProof(answer.proof) : null;
  return proof ? { note: cosigned.note, proof } : { note: cosigned.note };
}

/** The same for a mirror, which serves no JSON proofs: the proof comes from the tiles of the cosigned checkpoint's tree. */
async function witnessedFromTiles(
  net: PullOptions,
  base: string,
  cosigned: { note: string; size: number | null } | null,
  size: number | null,
): Promise<WitnessedCheckpointInput | undefined> {
  if (cosigned === null) return undefined;
  if (cosigned.size === null || size === null || size === 0 || size >= cosigned.size) return { note: cosigned.note };
  const proof = await mirrorTiles(net, base, cosigned.size).consistency(size, cosigned.size);
  return { note: cosigned.note, proof: proof.map((h) => `sha256:${h}`) };
}

/**
 * The source's latest feed, when it is beyond the last one imported (null: nothing published, or
 * nothing new). A different feed at a sequence already imported is imported anyway, so the import
 * records it as equivocation.
 */
async function newLatestFeed(
  deps: AppDeps,
  net: PullOptions,
  peer: PeerRow,
  source: PullSource,
): Promise<{ sequence: number; logSize: number | null } | null> {
  const latestUrl = `${source.url}/revocation-feeds/latest`;
  const answer = await receivePage(deps, net, latestUrl, MAX_LATEST_BYTES, true);
  if (answer === null) return null; // nothing published yet
  try {
    const latest = await answer.page.readLatest();
    if (!latest.ok) throw pageFailure(latestUrl, latest.problem);
    const state = importedState(deps, peer.sovereign_id);
    if (latest.sequence <= state.last_sequence) {
      // An older "latest" than we hold is the peer replaying its past (a mirror that is behind is only stale).
      if (latest.sequence < state.last_sequence && !source.mirror) countPeerReplay(deps, peer.sovereign_id, 'feed_replayed');
      // Nothing new; but a different feed at a sequence we hold is a fork: let the import record it.
      if (latest.feedHash === null || latest.feedHash !== storedHash(deps, peer.sovereign_id, latest.sequence))
        await importOne(deps, answer.page, 0, peer, latestUrl);
      return null;
    }
    return { sequence: latest.sequence, logSize: latest.logSize };
  } finally {
    answer.page.discard();
  }
}

/** Fetches and imports the peer's feeds after our last imported sequence, in pages, up to one a quorum policy holds back. */
async function pullFeeds(deps: AppDeps, net: PullOptions, peer: PeerRow, base: string): Promise<PulledFeeds> {
  if ((await newLatestFeed(deps, net, peer, { url: base, mirror: false })) === null) return { imported: 0 };
  let state = importedState(deps, peer.sovereign_id);
  // With a quorum policy, each feed's head must be in the issuer's checkpoint cosigned by its witnesses.
  const cosigned = hasQuorumPolicy(deps.db.sqlite, peer.sovereign_id) ? await fetchCosignedCheckpoint(net, base) : undefined;
  let imported = 0;
  let fetched = 0;
  for (let n = 0; n < MAX_PAGES_PER_PULL && fetched < (net.maxBytesPerRun ?? MAX_PULL_BYTES_PER_RUN); n++) {
    const since = state.last_sequence;
    const url = `${base}/revocation-feeds?since=${since}&limit=${PULL_PAGE_LIMIT}`;
    // Received, read and imported off the serving thread when there is an import worker: a page may hold megabytes of feeds.
    const { page, size } = (await receivePage(deps, net, url, MAX_PAGE_BYTES, false))!;
    fetched += size;
    let more: boolean;
    let count: number;
    try {
      const reading = await page.readPage();
      if (!reading.ok) throw pageFailure(url, reading.problem);
      for (const [index, feed] of reading.feeds.entries()) {
        const proof = await fetchFeedConsistencyProof(deps.db.sqlite, peer.sovereign_id, feed.logSize, (path) =>
          getJson(net, `${base}${path}`, MAX_SMALL_BYTES, 'integers', true),
        );
        const witnessed = cosigned === undefined ? undefined : await witnessedFor(net, base, cosigned, feed.logSize);
        try {
          if ((await importOne(deps, page, index, peer, url, proof, witnessed)) === 'imported') imported++;
        } catch (err) {
          // Not a failure of the peer: the feed waits for its witnesses, and so do the ones after it.
          if (err instanceof PullFailure && err.reason === 'awaiting_quorum') return { imported, heldBack: err };
          throw err;
        }
      }
      more = reading.more;
      count = reading.feeds.length;
    } finally {
      page.discard();
    }
    state = importedState(deps, peer.sovereign_id);
    if (!more || count === 0 || state.last_sequence === since) break;
  }
  return { imported };
}

/**
 * Fetches and imports the peer's feeds from a static mirror: each one by sequence (a mirror holds
 * files, no pages), each new log head proved consistent from the mirror's tiles. Everything is
 * checked as from the peer itself — signatures, chain, log root, consistency, a quorum policy's
 * cosigned checkpoint — so a mirror needs no trust; one that is behind shows nothing new.
 */
async function pullFeedsFromMirror(deps: AppDeps, net: PullOptions, peer: PeerRow, base: string): Promise<PulledFeeds> {
  const latest = await newLatestFeed(deps, net, peer, { url: base, mirror: true });
  if (latest === null) return { imported: 0 };
  const cosigned = hasQuorumPolicy(deps.db.sqlite, peer.sovereign_id) ? await fetchCosignedCheckpoint(net, base) : undefined;
  // The latest feed is written after the tiles of its tree: proofs for every feed up to it come from those tiles.
  const tiles = latest.logSize !== null && Number.isSafeInteger(latest.logSize) ? mirrorTiles(net, base, latest.logSize) : null;
  let imported = 0;
  let fetched = 0;
  const first = importedState(deps, peer.sovereign_id).last_sequence + 1;
  const last = Math.min(latest.sequence, first + MAX_PAGES_PER_PULL * PULL_PAGE_LIMIT - 1);
  for (let n = first; n <= last && fetched < (net.maxBytesPerRun ?? MAX_PULL_BYTES_PER_RUN); n++) {
    const url = `${base}/revocation-feeds/${n}`;
    const { page, size } = (await receivePage(deps, net, url, MAX_LATEST_BYTES, false))!;
    fetched += size;
    try {
      const reading = await page.readLatest();
      if (!reading.ok) throw pageFailure(url, reading.problem);
      if (reading.sequence !== n) throw new PullFailure('malformed_response', `${url} holds feed ${reading.sequence}, not ${n}`);
      const proof = await tileFeedConsistencyProof(deps.db.sqlite, peer.sovereign_id, reading.logSize, tiles);
      const witnessed = cosigned === undefined ? undefined : await witnessedFromTiles(net, base, cosigned, reading.logSize);
      try {
        if ((await importOne(deps, page, 0, peer, url, proof, witnessed)) === 'imported') imported++;
      } catch (err) {
        if (err instanceof PullFailure && err.reason === 'awaiting_quorum') return { imported, heldBack: err };
        throw err;
      }
    } finally {
      page.discard();
    }
  }
  return { imported };
}

/** Fetches a Genesis Mesh peer's current snapshot feed and imports it if it is new. */
async function pullGmSnapshot(deps: AppDeps, net: PullOptions, peer: PeerRow, base: string): Promise<number> {
  const snapshot = await getJson(
    net,
    `${base}/sovereign-revocation-feed?issuer_sovereign_id=${encodeURIComponent(peer.sovereign_id)}`,
    MAX_LATEST_BYTES,
    'any',
    true,
  );
  if (snapshot === null) return 0;
  const issuer = asObject(snapshot)?.issuer_sovereign_id;
  if (issuer !== peer.sovereign_id) {
    throw new PullFailure('foreign_issuer', 'a peer may deliver only its own feeds; its snapshot names another issuer', {
      issuer_sovereign_id: typeof issuer === 'string' ? issuer.slice(0, 128) : null,
    });
  }
  // GM signs a fresh snapshot on every GET: unchanged revocations arrive with a new feed_id and signature.
  if (gmSnapshotUnchanged(deps, peer.sovereign_id, snapshot)) return 0;
  try {
    return importGmFeed(deps, snapshot, { actor: SYSTEM_ACTOR, via: 'pull' }).status === 'imported' ? 1 : 0;
  } catch (err) {
    if (err instanceof AppError) {
      countPeerRejection(deps, peer.sovereign_id, err.code);
      throw new PullFailure(err.code, err.message, err.details);
    }
    throw err;
  }
}

/**
 * Mirrors the peer's published treaties into peer_treaties: each must be a strict, signed treaty
 * issued by the peer and verify under the keys this authority recognizes for the peer. The set for
 * the peer is replaced in one transaction. Returns the number stored.
 */
async function mirrorTreaties(deps: AppDeps, net: PullOptions, peer: PeerRow, keys: PublicKeyInfo[]): Promise<number> {
  const treaties: Array<{ treaty_id: string; subject: string; valid_from: string; expires_at: string; body: string }> = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_TREATY_PAGES; page++) {
    const url = `${peer.base_url}/recognition-treaties${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`;
    const body = asObject(await getJson(net, url, MAX_TREATY_PAGE_BYTES, 'any'));
    const items = body?.treaties;
    if (!body || !Array.isArray(items)) throw new PullFailure('malformed_response', `${url} is not a treaty list`);
    for (const item of items) {
      // Lists may carry the signed treaty itself or a view {treaty, …}; only the signed object counts.
      const candidate = asObject(item)?.treaty ?? item;
      const parsed = recognitionTreatySchema.safeParse(candidate);
      if (!parsed.success || parsed.data.issuer_sovereign_id !== peer.sovereign_id) continue;
      if (!verifySignedObject(parsed.data, keys).valid) {
        deps.metrics.signatureVerificationFailures.inc({ surface: 'peer_treaty', reason: 'invalid_signature' });
        continue;
      }
      treaties.push({
        treaty_id: parsed.data.treaty_id,
        subject: parsed.data.subject_sovereign_id,
        valid_from: parsed.data.valid_from,
        expires_at: parsed.data.expires_at,
        body: canonicalJson(candidate),
      });
    }
    cursor = typeof body.next_cursor === 'string' && body.next_cursor.length > 0 ? body.next_cursor : null;
    if (!cursor) break;
  }
  const sqlite = deps.db.sqlite;
  const at = toTimestamp(deps.clock());
  sqlite.transaction(() => replacePeerTreaties(sqlite, peer.sovereign_id, treaties, at)).immediate();
  return treaties.length;
}

/** Sends a signed receipt for the last imported feed if the peer has not had one for it yet. */
async function sendReceipt(deps: AppDeps, net: PullOptions, peer: PeerRow): Promise<'sent' | 'not_needed'> {
  const state = importedState(deps, peer.sovereign_id);
  if (state.last_sequence === 0 || state.last_feed_hash === null || state.last_sequence <= peer.receipt_sequence) return 'not_needed';
  const receipt = buildReceipt(deps, peer.sovereign_id, state.last_sequence, state.last_feed_hash);
  const url = `${peer.base_url}/revocation-feeds/receipts`;
  const res = await exchange(net, url, { method: 'POST', body: canonicalJson(receipt) }, MAX_SMALL_BYTES);
  if (res.status !== 200) throw new PullFailure('receipt_refused', `${url} answered HTTP ${res.status}`, { status: res.status });
  recordReceiptSent(deps.db.sqlite, peer.sovereign_id, state.last_sequence);
  return 'sent';
}

export interface PeerPullResult {
  sovereign_id: string;
  /** `awaiting_quorum`: the peer answered, and its next feed waits for a checkpoint cosigned by the quorum its policy names. */
  outcome: 'ok' | 'failed' | 'skipped' | 'awaiting_quorum';
  /** For failures: the stable reason; for skips: paused | not_recognized | backoff; `awaiting_quorum`. */
  reason?: string;
  message?: string;
  /** For `awaiting_quorum`: what is missing (`problem`, `quorum`, `cosigned_by`, `witnessed_size`, `feed_size`). */
  quorum?: Record<string, unknown>;
  imported: number;
  imported_sequence: number;
  treaties_mirrored?: number;
  treaties_error?: string;
  receipt?: 'sent' | 'not_needed' | 'failed';
  /** The base URL the feeds were read from, when a mirror was read or the peer could not be. */
  source?: string;
  /** Sources tried before it that could not be read (unreachable, timeout, 5xx), in order. */
  fell_through?: Array<{ url: string; reason: string }>;
}

export interface PullReport {
  started_at: string;
  peers: PeerPullResult[];
}

/** Records the pull outcome; audits only transitions between healthy and failing. */
function recordOutcome(deps: AppDeps, peer: PeerRow, failure: PullFailure | null): void {
  const sqlite = deps.db.sqlite;
  const now = deps.clock();
  const at = toTimestamp(now);
  sqlite
    .transaction(() => {
      const current = readPeerFailures(sqlite, peer.sovereign_id);
      if (current === undefined) return; // removed while the pull ran
      if (failure === null) {
        recordPullSuccess(sqlite, peer.sovereign_id, at);
        if (current > 0) {
          appendAudit(sqlite, deps.clock, {
            eventType: 'feed_pull_recovered',
            actor: SYSTEM_ACTOR,
            details: { peer: peer.sovereign_id, failures: current },
          });
        }
      } else {
        const failures = current + 1;
        const lastError = `${failure.reason}: ${failure.message}`.slice(0, 500);
        recordPullFailure(sqlite, peer.sovereign_id, {
          at,
          error: lastError,
          failures,
          nextAttemptAt: toTimestamp(addSeconds(now, backoffSeconds(failures))),
        });
        if (current === 0) {
          appendAudit(sqlite, deps.clock, {
            eventType: 'feed_pull_failing',
            actor: SYSTEM_ACTOR,
            details: { peer: peer.sovereign_id, reason: failure.reason },
          });
        }
      }
    })
    .immediate();
}

/** Where a pull reads a peer's files: the peer itself, or one of its static mirrors. */
interface PullSource {
  url: string;
  mirror: boolean;
}

/**
 * The peer first, then its mirrors in the order given. The peer is the freshest source: a mirror lags
 * by its update delay, and one that is behind shows "nothing new" without any error. So mirrors are
 * read while the peer cannot be — they keep imports going through its outage — not to spare it load.
 */
function pullSources(peer: PeerRow): PullSource[] {
  return [{ url: peer.base_url, mirror: false }, ...peerMirrorUrls(peer).map((url) => ({ url, mirror: true }))];
}

/**
 * Whether the next source may be tried after this failure: the source could not be reached, did not
 * answer in time, or answered 5xx. A failed check (signature, chain, proofs, equivocation, a malformed
 * answer) is never handed to another source to be "fixed": every source serves the same signed bytes.
 */
export function fallsThrough(failure: PullFailure): boolean {
  if (failure.reason === 'unreachable' || failure.reason === 'timeout') return true;
  const status = failure.details.status;
  return (failure.reason === 'http_error' || failure.reason === 'malformed_response') && typeof status === 'number' && status >= 500;
}

function asPullFailure(deps: AppDeps, err: unknown, peer: string): PullFailure {
  if (err instanceof PullFailure) return err;
  if (err instanceof TileUnavailable)
    return new PullFailure('http_error', `${err.message} (needed for a consistency proof)`, { status: 404, tile: err.path });
  if (err instanceof TileMalformed) return new PullFailure('malformed_response', err.message, { tile: err.path });
  deps.logger.error({ err, peer }, 'feed pull failed unexpectedly');
  return new PullFailure('internal_error', 'unexpected error while pulling');
}

async function pullPeerOnce(deps: AppDeps, peer: PeerRow, options: { force: boolean }, net: PullOptions): Promise<PeerPullResult> {
  const now = deps.clock();
  const id = peer.sovereign_id;
  const base = { sovereign_id: id, imported: 0, imported_sequence: importedState(deps, id).last_sequence };
  if (importedState(deps, id).paused) return { ...base, outcome: 'skipped', reason: 'paused' };
  const recognized = recognizedIssuer(deps.db.sqlite, id, now);
  if (recognized.keys.length === 0) return { ...base, outcome: 'skipped', reason: 'not_recognized' };
  const nextAttempt = peer.next_attempt_at ? parseTimestamp(peer.next_attempt_at) : null;
  if (!options.force && nextAttempt && nextAttempt.getTime() > now.getTime()) return { ...base, outcome: 'skipped', reason: 'backoff' };

  // Peers recognized under the Genesis Mesh wire profile publish one snapshot feed, no chain, no receipts.
  const genesisMesh = wireProfileOf(deps.db.sqlite, id, recognized.profile) === GENESIS_MESH_PROFILE;
  const sources = pullSources(peer);
  const fellThrough: Array<{ url: string; reason: string }> = [];
  let imported = 0;
  let heldBack: PullFailure | undefined;
  let failure: PullFailure | null = null;
  let used = sources[0]!;
  for (const [i, source] of sources.entries()) {
    used = source;
    try {
      if (genesisMesh) imported += await pullGmSnapshot(deps, net, peer, source.url);
      else {
        const pulled = source.mirror
          ? await pullFeedsFromMirror(deps, net, peer, source.url)
          : await pullFeeds(deps, net, peer, source.url);
        imported += pulled.imported;
        heldBack = pulled.heldBack;
        // The issuer's signed checkpoint must agree with the feeds just imported from it.
        const checkpointSource: CheckpointSource = source.mirror
          ? { mirror: true, url: source.url, tiles: (size) => mirrorTiles(net, source.url, size) }
          : { mirror: false };
        const log = await checkIssuerCheckpoint(
          deps,
          id,
          (path) => exchange(net, `${source.url}${path}`, {}, MAX_SMALL_BYTES),
          checkpointSource,
        );
        if (!log.ok) {
          // Two checkpoints the issuer signed that no one log can have: a split view (evidence, pause, gossip).
          if (log.conflict) detectSplitView(deps, { issuer: id, ...log.conflict }, { source: 'pull', detail: source.url });
          throw new PullFailure(log.reason, log.message, log.details);
        }
      }
      failure = null;
      break;
    } catch (err) {
      failure = asPullFailure(deps, err, id);
      // Only a source that cannot be read hands over to the next; anything that failed a check stops the pull.
      if (!fallsThrough(failure) || i === sources.length - 1) break;
      fellThrough.push({ url: source.url, reason: failure.reason });
    }
  }
  const via = used.mirror || fellThrough.length > 0 ? { source: used.url, fell_through: fellThrough } : {};
  if (failure) {
    recordOutcome(deps, peer, failure);
    refreshQuorumGauges(deps, id);
    return {
      ...base,
      outcome: 'failed',
      reason: failure.reason,
      message: failure.message,
      imported: 0,
      imported_sequence: importedState(deps, id).last_sequence,
      ...via,
    };
  }
  recordOutcome(deps, peer, null);
  refreshQuorumGauges(deps, id);
  const result: PeerPullResult = heldBack
    ? {
        ...base,
        outcome: 'awaiting_quorum',
        reason: 'awaiting_quorum',
        message: heldBack.message,
        quorum: heldBack.details,
        imported,
        imported_sequence: importedState(deps, id).last_sequence,
        ...via,
      }
    : { ...base, outcome: 'ok', imported, imported_sequence: importedState(deps, id).last_sequence, ...via };
  if (genesisMesh) return result;
  // Treaties and receipts are the peer's own routes; while it cannot be reached, they wait for the next pull.
  if (fellThrough.length > 0) {
    result.treaties_error = fellThrough[0]!.reason;
    result.receipt = 'failed';
    return result;
  }

  const synced = peer.treaties_synced_at ? parseTimestamp(peer.treaties_synced_at) : null;
  if (options.force || imported > 0 || !synced || now.getTime() - synced.getTime() >= TREATY_SYNC_INTERVAL_SECONDS * 1000) {
    try {
      result.treaties_mirrored = await mirrorTreaties(deps, net, peer, recognized.keys);
      deps.changes.emit('peers');
    } catch (err) {
      result.treaties_error = err instanceof PullFailure ? err.reason : 'internal_error';
      deps.logger.warn({ peer: id, reason: result.treaties_error }, 'treaty mirror failed');
    }
  }
  try {
    result.receipt = await sendReceipt(deps, net, getPeerRow(deps, id));
  } catch (err) {
    result.receipt = 'failed';
    deps.logger.warn({ peer: id, reason: err instanceof PullFailure ? err.reason : 'internal_error' }, 'feed receipt not delivered');
  }
  return result;
}

const inFlight = new WeakMap<AppDeps, Map<string, Promise<PeerPullResult>>>();

/** Pulls one peer; concurrent requests for the same peer share one run. */
export function pullPeer(deps: AppDeps, id: string, options: PullOptions & { force?: boolean } = {}): Promise<PeerPullResult> {
  let running = inFlight.get(deps);
  if (!running) {
    running = new Map();
    inFlight.set(deps, running);
  }
  const existing = running.get(id);
  if (existing) return existing;
  const map = running;
  const promise = (async () => {
    const peer = getPeerRow(deps, id);
    return pullPeerOnce(deps, peer, { force: options.force ?? false }, options);
  })().finally(() => map.delete(id));
  running.set(id, promise);
  return promise;
}

/**
 * The scheduled job: pulls every registered peer (a few at a time). A peer that fails, hangs or
 * misbehaves is recorded and backed off; it never stops the others, and the job never throws.
 */
export async function runPullJob(deps: AppDeps, options: PullOptions = {}): Promise<PullReport> {
  const startedAt = toTimestamp(deps.clock());
  let ids: string[];
  try {
    ids = listPeerIds(deps.db.sqlite);
  } catch (err) {
    deps.logger.error({ err }, 'pull job cannot read peers');
    return { started_at: startedAt, peers: [] };
  }
  const peers = await mapConcurrently(ids.length, PULL_CONCURRENCY, async (i): Promise<PeerPullResult> => {
    const id = ids[i]!;
    try {
      return await pullPeer(deps, id, options);
    } catch (err) {
      deps.logger.error({ err, peer: id }, 'pull of one peer failed');
      return {
        sovereign_id: id,
        outcome: 'failed',
        reason: err instanceof AppError ? err.code : 'internal_error',
        imported: 0,
        imported_sequence: 0,
      };
    }
  });
  return { started_at: startedAt, peers };
}
