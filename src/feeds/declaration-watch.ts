// The declaration watch: polls each peer's declaration on a slower schedule than the pull and reports keys that change without a treaty change or an announced rotation.
import { appendAudit, SYSTEM_ACTOR } from '../authority/audit.ts';
import { mapConcurrently } from '../authority/concurrency.ts';
import { canonicalJson } from '../authority/canonical-json.ts';
import { addSeconds, parseTimestamp, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import type { PublicKeyInfo } from '../authority/crypto.ts';
import type { Sqlite } from '../db/database.ts';
import { GENESIS_MESH_PROFILE, type WireProfile } from '../interop/gm-model.ts';
import { wireProfileOf } from '../interop/profile.ts';
import { recognizedIssuer } from '../treaties/recognition.ts';
import { fetchDeclaration, type FetchedDeclaration } from './declarations.ts';
import { findImportedRevocation } from './imported-revocations.ts';
import { getPeerRow, listPeerIds } from './peers.ts';
import { PullFailure, type PullOptions } from './pull.ts';
import {
  ensurePeerWatch,
  insertDeclaration,
  insertKeyChange,
  readDeclaredKeyLists,
  readLatestDeclaration,
  readPeerWatch,
  readPeerWatches,
  recordDeclarationPolled,
  recordDeclarationPollFailed,
  setUnresolvedKeys,
  touchDeclaration,
  type DeclaredKey,
} from './peer-watch-store.ts';

/** Peers whose declaration is polled at once by the scheduled watch. */
const WATCH_CONCURRENCY = 4;

/**
 * How a key that appeared in (or disappeared from) a declaration is explained:
 * - `pinned` / `unpinned`: this authority's treaties already say so (a treaty change explains it);
 * - `announced`: the peer announced it (an overlap published by a pinned key, a `not_after`, or a
 *   `public_key` revocation in its feed);
 * - `unannounced`: nothing explains it: a `peer_key_changed` event.
 */
export type KeyExplanation = 'pinned' | 'unpinned' | 'announced' | 'unannounced';

export interface ChangedKey {
  key_id: string;
  public_key: string;
  explanation: KeyExplanation;
}

export interface DeclarationCheck {
  sovereign_id: string;
  outcome: 'ok' | 'failed' | 'skipped';
  /** For failures: the stable reason (a pull failure reason); for skips: not_due | not_recognized. */
  reason?: string;
  message?: string;
  profile?: WireProfile;
  declaration_id?: number;
  /** key_ids whose signature on the declaration verifies. */
  signed_by?: string[];
  declared_key_ids?: string[];
  pinned_key_ids?: string[];
  /** A key change seen by this poll. */
  change?: { id: number; kind: 'unannounced' | 'announced'; appeared: ChangedKey[]; disappeared: ChangedKey[] };
  /** Unannounced key changes still open after this poll. */
  unresolved_keys?: string[];
}

/** The keys of the declaration compared with the one before (or with the pin, for the first one). */
export function classifyKeyChange(input: {
  declared: readonly DeclaredKey[];
  previous: readonly DeclaredKey[];
  pinned: ReadonlySet<string>;
  /** The declaration is signed by a pinned key that it gives a `not_after`: a rotation overlap. */
  rotationAnnounced: boolean;
  /** Whether the peer announced the end of this key (not_after, public_key revocation). */
  retirementAnnounced: (keyId: string) => boolean;
}): { appeared: ChangedKey[]; disappeared: ChangedKey[] } {
  const declared = new Map(input.declared.map((k) => [k.key_id, k]));
  const previous = new Map(input.previous.map((k) => [k.key_id, k]));
  const appeared: ChangedKey[] = [];
  const disappeared: ChangedKey[] = [];
  for (const [keyId, k] of declared) {
    if (previous.has(keyId)) continue;
    const explanation: KeyExplanation = input.pinned.has(keyId) ? 'pinned' : input.rotationAnnounced ? 'announced' : 'unannounced';
    appeared.push({ key_id: keyId, public_key: k.public_key, explanation });
  }
  for (const [keyId, k] of previous) {
    if (declared.has(keyId)) continue;
    const explanation: KeyExplanation = !input.pinned.has(keyId)
      ? 'unpinned'
      : input.retirementAnnounced(keyId)
        ? 'announced'
        : 'unannounced';
    disappeared.push({ key_id: keyId, public_key: k.public_key, explanation });
  }
  return { appeared, disappeared };
}

/**
 * Unannounced changes stay open while the declaration and the pin disagree about the key: an
 * appeared key until it is pinned (repin) or gone again, a vanished key until it is unpinned or back.
 */
export function openKeyChanges(candidates: Iterable<string>, declared: ReadonlySet<string>, pinned: ReadonlySet<string>): string[] {
  return [...new Set(candidates)].filter((k) => declared.has(k) !== pinned.has(k)).sort();
}

function keysOf(json: string): DeclaredKey[] {
  return JSON.parse(json) as DeclaredKey[];
}

function parseList(json: string | null | undefined): string[] {
  if (!json) return [];
  const value = JSON.parse(json) as unknown;
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function pinOf(deps: Pick<AppDeps, 'db' | 'clock'>, id: string): { keys: PublicKeyInfo[]; treatyIds: string[]; profile: WireProfile } {
  const recognized = recognizedIssuer(deps.db.sqlite, id, deps.clock());
  return { keys: recognized.keys, treatyIds: recognized.treatyIds, profile: wireProfileOf(deps.db.sqlite, id, recognized.profile) };
}

/** Whether the peer announced the end of a key: a `public_key` revocation in its feed, or a published end. */
function retirementAnnouncer(
  sqlite: Sqlite,
  peer: string,
  profile: WireProfile,
  current: readonly DeclaredKey[],
  now: Date,
  skewSeconds: number,
) {
  const published = new Map<string, string>();
  for (const list of [...readDeclaredKeyLists(sqlite, peer).map(keysOf), current])
    for (const k of list) if (k.not_after) published.set(k.key_id, k.not_after);
  return (keyId: string): boolean => {
    if (findImportedRevocation(sqlite, peer, 'public_key', keyId) !== null) return true;
    const notAfter = published.get(keyId);
    if (notAfter === undefined) return false;
    // accord/1 publishes a not_after only to announce a rotation overlap; genesis-mesh's valid_to is a
    // validity window, so only a key whose window has ended may leave without notice.
    if (profile !== GENESIS_MESH_PROFILE) return true;
    const end = parseTimestamp(notAfter);
    return end !== null && end.getTime() <= addSeconds(now, skewSeconds).getTime();
  };
}

function setMismatchGauge(deps: Pick<AppDeps, 'metrics'>, peer: string, unresolved: readonly string[]): void {
  deps.metrics.peerKeyMismatch.set({ peer }, unresolved.length > 0 ? 1 : 0);
}

/** Records what one poll saw, in one transaction: the declaration (if its keys changed), the key change and its audit event. */
function recordObservation(deps: AppDeps, id: string, fetched: FetchedDeclaration, pin: ReturnType<typeof pinOf>): DeclarationCheck {
  const sqlite = deps.db.sqlite;
  const now = deps.clock();
  const at = toTimestamp(now);
  const pinned = new Set(pin.keys.map((k) => k.keyId));
  const keysJson = canonicalJson(fetched.keys);
  const check = sqlite
    .transaction((): DeclarationCheck => {
      ensurePeerWatch(sqlite, id);
      const previous = readLatestDeclaration(sqlite, id);
      const previousKeys = previous ? keysOf(previous.keys) : pin.keys.map((k) => ({ key_id: k.keyId, public_key: k.base64 }));
      let declarationId: number;
      if (previous && previous.keys === keysJson) {
        declarationId = previous.id;
        touchDeclaration(sqlite, previous.id, at);
      } else {
        declarationId = insertDeclaration(sqlite, {
          peer_sovereign_id: id,
          profile: fetched.profile,
          url: fetched.url,
          body: fetched.body,
          body_hash: fetched.bodyHash,
          keys: keysJson,
          signed_by: canonicalJson(fetched.signedBy),
          observed_at: at,
          last_seen_at: at,
        });
      }
      const rotationAnnounced =
        fetched.signedBy.some((k) => pinned.has(k)) && fetched.keys.some((k) => pinned.has(k.key_id) && k.not_after !== undefined);
      const { appeared, disappeared } = classifyKeyChange({
        declared: fetched.keys,
        previous: previousKeys,
        pinned,
        rotationAnnounced,
        retirementAnnounced: retirementAnnouncer(sqlite, id, fetched.profile, fetched.keys, now, deps.config.clockSkewSeconds),
      });
      const all = [...appeared, ...disappeared];
      const unannounced = all.filter((k) => k.explanation === 'unannounced');
      const kind = unannounced.length > 0 ? 'unannounced' : all.some((k) => k.explanation === 'announced') ? 'announced' : null;
      const watch = readPeerWatch(sqlite, id);
      const unresolved = openKeyChanges(
        [...parseList(watch?.unresolved_keys), ...unannounced.map((k) => k.key_id)],
        new Set(fetched.keys.map((k) => k.key_id)),
        pinned,
      );
      recordDeclarationPolled(sqlite, id, at, canonicalJson(unresolved));
      const result: DeclarationCheck = {
        sovereign_id: id,
        outcome: 'ok',
        profile: fetched.profile,
        declaration_id: declarationId,
        signed_by: fetched.signedBy,
        declared_key_ids: fetched.keys.map((k) => k.key_id),
        pinned_key_ids: [...pinned].sort(),
        unresolved_keys: unresolved,
      };
      if (kind === null) return result;
      const changeId = insertKeyChange(sqlite, {
        peer_sovereign_id: id,
        kind,
        previous_declaration_id: previous?.id ?? null,
        declaration_id: declarationId,
        appeared: canonicalJson(appeared),
        disappeared: canonicalJson(disappeared),
        pinned_key_ids: canonicalJson([...pinned].sort()),
        detected_at: at,
      });
      appendAudit(sqlite, deps.clock, {
        eventType: kind === 'unannounced' ? 'peer_key_changed' : 'peer_key_rotation_announced',
        actor: SYSTEM_ACTOR,
        details: {
          peer: id,
          profile: fetched.profile,
          key_change_id: changeId,
          declaration_id: declarationId,
          declaration_hash: fetched.bodyHash,
          previous_declaration_id: previous?.id ?? null,
          previous_declaration_hash: previous?.body_hash ?? null,
          appeared,
          disappeared,
          pinned_key_ids: [...pinned].sort(),
          treaty_ids: pin.treatyIds,
        },
      });
      return { ...result, change: { id: changeId, kind, appeared, disappeared } };
    })
    .immediate();
  setMismatchGauge(deps, id, check.unresolved_keys ?? []);
  if (check.change) {
    deps.metrics.peerKeyChanges.inc({ peer: id, kind: check.change.kind });
    const log = check.change.kind === 'unannounced' ? deps.logger.warn.bind(deps.logger) : deps.logger.info.bind(deps.logger);
    log({ peer: id, kind: check.change.kind, key_change_id: check.change.id }, 'peer declaration keys changed');
  }
  return check;
}

function recordPollFailure(deps: AppDeps, id: string, failure: PullFailure): void {
  const sqlite = deps.db.sqlite;
  const at = toTimestamp(deps.clock());
  sqlite
    .transaction(() => {
      ensurePeerWatch(sqlite, id);
      recordDeclarationPollFailed(sqlite, id, at, `${failure.reason}: ${failure.message}`.slice(0, 500));
    })
    .immediate();
}

/** A peer's declaration as fetched (nothing recorded yet), with the pin it was read against. */
export type FetchedPeerDeclaration =
  | { skipped: true }
  | { skipped: false; pin: ReturnType<typeof pinOf>; fetched: FetchedDeclaration }
  | { skipped: false; pin: ReturnType<typeof pinOf>; failure: PullFailure };

/**
 * Fetches one peer's declaration. A peer is watched while this authority pins keys for it or once a
 * declaration of it is stored (a contained peer whose treaties were revoked stays watched).
 */
export async function fetchPeerDeclaration(deps: AppDeps, id: string, net: PullOptions = {}): Promise<FetchedPeerDeclaration> {
  const peer = getPeerRow(deps, id);
  const pin = pinOf(deps, id);
  if (pin.keys.length === 0 && readLatestDeclaration(deps.db.sqlite, id) === undefined) return { skipped: true };
  try {
    return { skipped: false, pin, fetched: await fetchDeclaration(net, peer, pin.profile, pin.keys) };
  } catch (err) {
    if (!(err instanceof PullFailure)) deps.logger.error({ err, peer: id }, 'declaration poll failed unexpectedly');
    const failure = err instanceof PullFailure ? err : new PullFailure('internal_error', 'unexpected error while reading the declaration');
    return { skipped: false, pin, failure };
  }
}

/** Records what a fetch showed (its own transaction, or a part of the caller's). */
export function recordPeerDeclaration(deps: AppDeps, id: string, outcome: FetchedPeerDeclaration): DeclarationCheck {
  if (outcome.skipped) return { sovereign_id: id, outcome: 'skipped', reason: 'not_recognized' };
  if ('failure' in outcome) {
    const { failure } = outcome;
    deps.metrics.peerDeclarationPolls.inc({ peer: id, outcome: failure.reason });
    recordPollFailure(deps, id, failure);
    return { sovereign_id: id, outcome: 'failed', reason: failure.reason, message: failure.message, profile: outcome.pin.profile };
  }
  deps.metrics.peerDeclarationPolls.inc({ peer: id, outcome: 'ok' });
  return recordObservation(deps, id, outcome.fetched, outcome.pin);
}

/** Fetches one peer's declaration now and records what it shows. Never throws for a peer's failure: the outcome says why. */
export async function checkPeerDeclaration(deps: AppDeps, id: string, net: PullOptions = {}): Promise<DeclarationCheck> {
  return recordPeerDeclaration(deps, id, await fetchPeerDeclaration(deps, id, net));
}

/** Whether the peer's declaration is due for a poll at `now`. */
function due(deps: AppDeps, id: string, now: Date): boolean {
  const checked = readPeerWatch(deps.db.sqlite, id)?.declaration_checked_at;
  const at = checked ? parseTimestamp(checked) : null;
  return at === null || at.getTime() + deps.config.peerDeclarationIntervalSeconds * 1000 <= now.getTime();
}

/**
 * The scheduled declaration watch (run by the pull schedule): polls every peer whose last poll is at
 * least ACCORD_PEER_DECLARATION_INTERVAL_S old, a few at a time. A failing peer never stops the
 * others, and the job never throws.
 */
export async function runDeclarationWatch(deps: AppDeps, net: PullOptions = {}): Promise<DeclarationCheck[]> {
  let ids: string[];
  try {
    const now = deps.clock();
    ids = listPeerIds(deps.db.sqlite).filter((id) => due(deps, id, now));
  } catch (err) {
    deps.logger.error({ err }, 'declaration watch cannot read peers');
    return [];
  }
  return mapConcurrently(ids.length, WATCH_CONCURRENCY, async (i): Promise<DeclarationCheck> => {
    const id = ids[i]!;
    try {
      return await checkPeerDeclaration(deps, id, net);
    } catch (err) {
      deps.logger.error({ err, peer: id }, 'declaration watch of one peer failed');
      return { sovereign_id: id, outcome: 'failed', reason: 'internal_error' };
    }
  });
}

/**
 * After this authority changed its pin for a peer (repin), recomputes which unannounced key changes
 * are still open against the latest stored declaration. In the caller's transaction; returns them.
 */
export function reevaluatePeerKeys(deps: Pick<AppDeps, 'db' | 'clock'>, id: string): string[] {
  const sqlite = deps.db.sqlite;
  const watch = readPeerWatch(sqlite, id);
  const latest = readLatestDeclaration(sqlite, id);
  if (!watch || !latest) return [];
  const pinned = new Set(pinOf(deps, id).keys.map((k) => k.keyId));
  const unresolved = openKeyChanges(parseList(watch.unresolved_keys), new Set(keysOf(latest.keys).map((k) => k.key_id)), pinned);
  setUnresolvedKeys(sqlite, id, canonicalJson(unresolved));
  return unresolved;
}

/** Sets accord_peer_key_mismatch{peer} from the stored watch state (at start-up and after a repin). */
export function refreshPeerKeyGauge(deps: Pick<AppDeps, 'db' | 'metrics'>): void {
  for (const row of readPeerWatches(deps.db.sqlite)) setMismatchGauge(deps, row.peer_sovereign_id, parseList(row.unresolved_keys));
}
