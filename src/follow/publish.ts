// A primary's side of following: signing follower updates (what changed since the last one), serving them, and the files a static mirror holds.
import { canonicalJson } from '../authority/canonical-json.ts';
import { addSeconds, parseTimestamp, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { hashRef, sha256Hex, signObject } from '../authority/crypto.ts';
import { currentDeclaration } from '../authority/declaration.ts';
import { AppError } from '../authority/errors.ts';
import type { Sqlite } from '../db/database.ts';
import { readImportedFeedHead, readImportedRevocationsAfter, readIssuerCopies, type IssuerCopy } from '../feeds/imported-store.ts';
import { readPeerProfiles } from '../feeds/peer-store.ts';
import { readPublishedFeedSpansSince } from '../feeds/published-store.ts';
import { heartbeatLeadSeconds } from '../feeds/publish.ts';
import { readCheckpoint } from '../transparency/store.ts';
import { readReplacementsBetween, readTreatiesAfter } from '../treaties/store.ts';
import {
  FOLLOWER_UPDATE_TYPE,
  FOLLOWER_UPDATE_VERSION,
  FOLLOWER_UPDATES_PATH,
  MAX_UPDATE_IMPORTED,
  MAX_UPDATE_LOG_ENTRIES,
  MAX_UPDATE_TREATIES,
  type IssuerDelta,
  type UnsignedFollowerUpdate,
} from './model.ts';
import { insertUpdate, iterateUpdates, readLatestUpdate, readUpdate } from './store.ts';

/** How far the updates published so far brought a follower: the next update starts from here. */
interface Watermark {
  treaty_rowid: number;
  feed_sequence: number;
  log_size: number;
  declaration_hash: string | null;
  peers_hash: string | null;
  issuers: Record<string, { sequence: number; feed_hash: string | null; max_index: number; state_hash: string }>;
}

const START: Watermark = { treaty_rowid: 0, feed_sequence: 0, log_size: 0, declaration_hash: null, peers_hash: null, issuers: {} };

type Delta = Omit<
  UnsignedFollowerUpdate,
  'type' | 'version' | 'sovereign_id' | 'sequence' | 'previous_update_hash' | 'issued_at' | 'next_update' | 'issued_by'
>;

function stateOf(row: IssuerCopy): IssuerDelta['state'] {
  return {
    last_sequence: row.last_sequence,
    last_feed_hash: row.last_feed_hash,
    last_signed_hash: row.last_signed_hash,
    last_issued_at: row.last_issued_at,
    next_update: row.next_update,
    log_size: row.log_size,
    last_import_at: row.last_import_at,
    paused: row.paused === 1,
    paused_reason: row.paused_reason,
    paused_at: row.paused_at,
  };
}

/** Whether the issuer's imports since the watermark only added to what followers hold (else they start it over). */
function extends_(sqlite: Sqlite, row: IssuerCopy, seen: Watermark['issuers'][string]): boolean {
  if (row.last_sequence < seen.sequence) return false;
  if (seen.sequence === 0) return true;
  return (readImportedFeedHead(sqlite, row.issuer_sovereign_id, seen.sequence)?.feed_hash ?? null) === seen.feed_hash;
}

/** What changed since `from`, bounded in size; `more` when a bound cut it short. */
function changesSince(deps: AppDeps, from: Watermark, maxImported: number): { delta: Delta; to: Watermark; more: boolean; empty: boolean } {
  const sqlite = deps.db.sqlite;
  const to: Watermark = { ...from, issuers: { ...from.issuers } };
  let more = false;

  const declarationText = JSON.stringify(currentDeclaration(deps));
  const declarationHash = sha256Hex(declarationText);
  const declaration = declarationHash === from.declaration_hash ? null : declarationText;
  to.declaration_hash = declarationHash;

  const treatyRows = readTreatiesAfter(sqlite, from.treaty_rowid, MAX_UPDATE_TREATIES);
  const treaties = treatyRows.map((r) => ({ treaty: r.body, subject_profile: r.subject_profile as 'accord/1' | 'genesis-mesh' }));
  if (treatyRows.length > 0) to.treaty_rowid = treatyRows[treatyRows.length - 1]!.rowid;

  // Feeds ride only once every treaty stored before them has: a treaty revocation never arrives before its treaty.
  const feeds: string[] = [];
  const checkpoints: Delta['checkpoints'] = [];
  if (treatyRows.length === MAX_UPDATE_TREATIES) more = true;
  else {
    let entries = 0;
    const rows = readPublishedFeedSpansSince(sqlite, from.feed_sequence, 1000);
    for (const row of rows) {
      if (feeds.length > 0 && entries + row.entry_count > MAX_UPDATE_LOG_ENTRIES) break;
      feeds.push(row.body);
      entries += row.entry_count;
      to.feed_sequence = row.sequence;
      to.log_size = row.log_size;
      const checkpoint = readCheckpoint(sqlite, row.sequence);
      if (checkpoint)
        checkpoints.push({
          sequence: checkpoint.sequence,
          note: checkpoint.note,
          signed_at: checkpoint.signed_at,
          audit_seq: checkpoint.audit_seq,
          audit_hash: checkpoint.audit_hash,
        });
    }
    if (feeds.length < rows.length || rows.length === 1000) more = true;
  }
  const replacements = feeds.length > 0 ? readReplacementsBetween(sqlite, from.log_size, to.log_size) : [];

  const issuers: IssuerDelta[] = [];
  let budget = maxImported;
  const current = readIssuerCopies(sqlite);
  const present = new Set<string>();
  for (const row of current) {
    const id = row.issuer_sovereign_id;
    present.add(id);
    if (budget <= 0) {
      more = true;
      break;
    }
    const seen = from.issuers[id];
    const state = stateOf(row);
    const stateHash = sha256Hex(JSON.stringify(state));
    const reset = seen === undefined || !extends_(sqlite, row, seen);
    const after = reset ? -1 : seen.max_index;
    const rows = readImportedRevocationsAfter(sqlite, id, after, budget);
    budget -= rows.length;
    if (!reset && rows.length === 0 && seen.state_hash === stateHash) continue;
    const last = rows[rows.length - 1];
    to.issuers[id] = {
      sequence: row.last_sequence,
      feed_hash: row.last_feed_hash,
      max_index: last ? last.log_index : after,
      state_hash: stateHash,
    };
    issuers.push({
      issuer_sovereign_id: id,
      reset,
      state,
      revocations: rows.map((r) => ({
        log_index: r.log_index,
        kind: r.kind,
        id: r.id,
        reason: r.reason as IssuerDelta['revocations'][number]['reason'],
        revoked_at: r.revoked_at,
        feed_sequence: r.feed_sequence,
        subject_sovereign_id: r.subject_sovereign_id,
        invalid_since: r.invalid_since,
        incident: r.incident,
      })),
    });
  }
  if (!more) {
    for (const id of Object.keys(from.issuers)) {
      if (present.has(id)) continue;
      delete to.issuers[id];
      issuers.push({ issuer_sovereign_id: id, reset: true, state: null, revocations: [] });
    }
  }

  const peerList = readPeerProfiles(sqlite) as NonNullable<Delta['peers']>;
  const peersHash = sha256Hex(JSON.stringify(peerList));
  const peers = peersHash === from.peers_hash ? null : peerList;
  to.peers_hash = peersHash;

  const delta: Delta = { declaration, treaties, feeds, checkpoints, replacements, issuers, peers };
  const empty = declaration === null && treaties.length === 0 && feeds.length === 0 && issuers.length === 0 && peers === null;
  return { delta, to, more, empty };
}

export interface FollowerPublishResult {
  published: number[];
  latest_sequence: number;
  /** True when `maxUpdates` stopped it with changes left to publish. */
  more: boolean;
}

export interface FollowerPublishOptions {
  heartbeat?: 'if_due' | 'force';
  /** Updates signed in this call at most; the result says whether changes were left. */
  maxUpdates?: number;
  /** Imported revocations one update carries at most (up to MAX_UPDATE_IMPORTED, the protocol's bound). */
  maxImportedPerUpdate?: number;
}

/**
 * Signs and stores follower updates for everything that changed since the last one (several when a
 * backlog exceeds one update's bounds, at most `maxUpdates`), or a heartbeat when none changed and
 * next_update is near (or `force`). One IMMEDIATE transaction decides, like feed publishing.
 */
export function publishFollowerUpdates(deps: AppDeps, options: FollowerPublishOptions = {}): FollowerPublishResult {
  const maxUpdates = options.maxUpdates ?? Number.POSITIVE_INFINITY;
  const maxImported = Math.min(options.maxImportedPerUpdate ?? MAX_UPDATE_IMPORTED, MAX_UPDATE_IMPORTED);
  const keys = deps.identity.signingKeys;
  if (keys.length === 0) throw new AppError('no_signing_key', 'this authority has no signing key loaded');
  const sqlite = deps.db.sqlite;
  const result = sqlite
    .transaction((): FollowerPublishResult => {
      const now = deps.clock();
      const last = readLatestUpdate(sqlite);
      let from: Watermark = last?.watermark ? (JSON.parse(last.watermark) as Watermark) : START;
      if (last && !last.watermark) throw new AppError('internal_error', 'the latest follower update has no watermark');
      let previous = last?.update_hash ?? null;
      let sequence = (last?.sequence ?? 0) + 1;
      const lastIssued = last ? parseTimestamp(last.issued_at) : null;
      const issuedAtDate = lastIssued && lastIssued.getTime() > now.getTime() ? lastIssued : now;
      const issuedAt = toTimestamp(issuedAtDate);
      const nextUpdate = toTimestamp(addSeconds(issuedAtDate, deps.config.feedNextUpdateSeconds));
      const heartbeatDue =
        options.heartbeat === 'force' ||
        !last ||
        Date.parse(last.next_update) - now.getTime() <= heartbeatLeadSeconds(deps.config.feedNextUpdateSeconds) * 1000;
      const published: number[] = [];
      let backlog = false;
      for (;;) {
        const { delta, to, more, empty } = changesSince(deps, from, maxImported);
        if (empty && !(published.length === 0 && heartbeatDue)) break;
        const unsigned: UnsignedFollowerUpdate = {
          type: FOLLOWER_UPDATE_TYPE,
          version: FOLLOWER_UPDATE_VERSION,
          sovereign_id: deps.identity.sovereignId,
          sequence,
          previous_update_hash: previous,
          issued_at: issuedAt,
          next_update: nextUpdate,
          ...delta,
          issued_by: keys[0]!.keyId,
        };
        const body = canonicalJson(signObject(unsigned, keys));
        const updateHash = hashRef(body);
        insertUpdate(sqlite, {
          sequence,
          update_hash: updateHash,
          issued_at: issuedAt,
          next_update: nextUpdate,
          body,
          watermark: JSON.stringify(to),
        });
        published.push(sequence);
        previous = updateHash;
        sequence++;
        from = to;
        if (!more) break;
        if (published.length >= maxUpdates) {
          backlog = true;
          break;
        }
      }
      return { published, latest_sequence: sequence - 1, more: backlog };
    })
    .immediate();
  if (result.published.length > 0) {
    deps.metrics.followerUpdateSequence.set(result.latest_sequence);
    deps.changes.emit('follower-updates', { latest_sequence: result.latest_sequence });
  }
  return result;
}

/** Publishing triggers a change may set off are gathered for this long, then published together. */
export const FOLLOWER_PUBLISH_DEBOUNCE_MS = 50;
const HEARTBEAT_CHECK_MS = 60_000;
/**
 * How the background publisher works through a backlog (the first start on a database holding a
 * million imported revocations, a peer's large feed): one update per turn of the event loop, each with
 * at most 1,000 imported revocations (about 30 ms to gather, canonicalize, sign and store, where a full
 * 10,000 took about 270 ms), so requests are answered in between instead of after all of it.
 */
const FOLLOWER_UPDATES_PER_TURN = 1;
const BACKGROUND_IMPORTED_PER_UPDATE = 1_000;

/** Starts publishing follower updates on every change followers need (and heartbeats); registers its stop handle. */
export function startFollowerPublishing(deps: AppDeps): void {
  let timer: NodeJS.Timeout | undefined;
  let draining: NodeJS.Immediate | undefined;
  let stopped = false;
  const publish = (heartbeat: 'if_due' | 'force' = 'if_due') => {
    if (stopped) return;
    try {
      const result = publishFollowerUpdates(deps, {
        heartbeat,
        maxUpdates: FOLLOWER_UPDATES_PER_TURN,
        maxImportedPerUpdate: BACKGROUND_IMPORTED_PER_UPDATE,
      });
      if (result.more && !draining)
        draining = setImmediate(() => {
          draining = undefined;
          publish();
        });
    } catch (err) {
      deps.logger.error({ err }, 'follower update publishing failed');
    }
  };
  const onChange = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      publish();
    }, FOLLOWER_PUBLISH_DEBOUNCE_MS);
    timer.unref();
  };
  const events = ['treaties', 'feed-published', 'feed-imported', 'peers', 'signing-keys'] as const;
  for (const event of events) deps.changes.on(event, onChange);
  const heartbeat = setInterval(() => publish(), HEARTBEAT_CHECK_MS);
  heartbeat.unref();
  const initial = setTimeout(() => publish(), 0);
  initial.unref();
  deps.background.push({
    stop: () => {
      stopped = true;
      for (const event of events) deps.changes.off(event, onChange);
      if (timer) clearTimeout(timer);
      if (draining) clearImmediate(draining);
      clearInterval(heartbeat);
      clearTimeout(initial);
    },
  });
}

export function latestFollowerUpdate(sqlite: Sqlite): { sequence: number; update_hash: string; body: string } | null {
  const row = readLatestUpdate(sqlite);
  return row ? { sequence: row.sequence, update_hash: row.update_hash, body: row.body } : null;
}

export function followerUpdate(sqlite: Sqlite, sequence: number): { sequence: number; update_hash: string; body: string } | null {
  return readUpdate(sqlite, sequence) ?? null;
}

/**
 * The follower updates as files of a static mirror: `[path, bytes]` with paths relative to the mirror's
 * root (`follower/updates/1`, …, and `follower/updates/latest`, a copy of the newest), the exact bytes
 * the routes serve. A follower pointed at the mirror reads the same paths.
 */
export function* followerFiles(deps: Pick<AppDeps, 'db'>): Generator<[string, Buffer]> {
  const sqlite = deps.db.sqlite;
  const latest = readLatestUpdate(sqlite);
  if (!latest) return;
  const dir = FOLLOWER_UPDATES_PATH.slice(1);
  for (const row of iterateUpdates(sqlite)) {
    if (row.sequence > latest.sequence) break;
    yield [`${dir}/${row.sequence}`, Buffer.from(row.body, 'utf8')];
  }
  yield [`${dir}/latest`, Buffer.from(latest.body, 'utf8')];
}
