// Peers: the sovereigns whose feeds this authority pulls, their pull health, and pausing an issuer's imports.
import { appendAudit, type RequestOrigin } from '../authority/audit.ts';
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import type { Sqlite } from '../db/database.ts';
import { AppError } from '../authority/errors.ts';
import { recognizedIssuer } from '../treaties/recognition.ts';
import { pauseIssuerRow, readIssuerFeedRow, readIssuerHead, resumeIssuerRow } from './imported-store.ts';
import { readPeerWatch, recordReleased } from './peer-watch-store.ts';
import {
  clearPeerBackoff,
  deletePeer,
  insertPeer,
  readPeer,
  readPeerIds,
  readPeers,
  setPeerMirrorUrls,
  type PeerRow,
} from './peer-store.ts';

export type { PeerRow };

export interface PeerView extends Omit<PeerRow, 'mirror_urls'> {
  /** Static mirrors of the peer's public files, tried in order after the peer itself (docs/scaling.md). */
  mirror_urls: string[];
  /** This authority has an active, in-window treaty for the peer (only then is it pulled). */
  recognized: boolean;
  imported_sequence: number;
  last_import_at: string | null;
  next_update: string | null;
  stale: boolean;
  paused: boolean;
  paused_reason: string | null;
}

/** Normalizes a peer base URL: http(s), no credentials, query or fragment, no trailing slash. */
export function normalizeBaseUrl(text: string, field: 'base_url' | 'mirror_urls' = 'base_url'): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AppError('invalid_peer', `${field === 'base_url' ? 'base_url' : 'a mirror URL'} is not a URL`, { field });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AppError('invalid_peer', `${field === 'base_url' ? 'base_url' : 'a mirror URL'} must be http or https`, { field });
  if (url.username || url.password || url.search || url.hash) {
    throw new AppError(
      'invalid_peer',
      `${field === 'base_url' ? 'base_url' : 'a mirror URL'} must not contain credentials, a query or a fragment`,
      {
        field,
      },
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Mirrors one peer may name. */
export const MAX_PEER_MIRRORS = 8;

/** Normalized mirror URLs: at most 8, each a base URL, none repeated and none the peer's own base URL. */
export function normalizeMirrorUrls(urls: readonly string[], baseUrl: string): string[] {
  if (urls.length > MAX_PEER_MIRRORS)
    throw new AppError('invalid_peer', `a peer may name at most ${MAX_PEER_MIRRORS} mirrors`, { field: 'mirror_urls' });
  const normalized = urls.map((u) => normalizeBaseUrl(u, 'mirror_urls'));
  if (normalized.some((u, i) => u === baseUrl || normalized.indexOf(u) !== i))
    throw new AppError('invalid_peer', "mirror URLs must differ from each other and from the peer's base_url", { field: 'mirror_urls' });
  return normalized;
}

/** The mirror URLs stored for a peer. */
export function peerMirrorUrls(row: PeerRow): string[] {
  return JSON.parse(row.mirror_urls) as string[];
}

function peerRow(deps: AppDeps, id: string): PeerRow | undefined {
  return readPeer(deps.db.sqlite, id);
}

export function getPeerRow(deps: AppDeps, id: string): PeerRow {
  const row = peerRow(deps, id);
  if (!row) throw new AppError('peer_not_found', 'no peer with this sovereign id', { sovereign_id: id.slice(0, 128) });
  return row;
}

export function registerPeer(
  deps: AppDeps,
  input: { sovereign_id: string; base_url: string; profile?: string | undefined; mirror_urls?: string[] | undefined },
  origin: RequestOrigin,
): PeerView {
  if (input.sovereign_id === deps.identity.sovereignId)
    throw new AppError('invalid_peer', 'an authority is not its own peer', { field: 'sovereign_id' });
  const baseUrl = normalizeBaseUrl(input.base_url);
  const mirrors = normalizeMirrorUrls(input.mirror_urls ?? [], baseUrl);
  const sqlite = deps.db.sqlite;
  sqlite
    .transaction(() => {
      if (peerRow(deps, input.sovereign_id))
        throw new AppError('peer_exists', 'this sovereign is already a peer', { sovereign_id: input.sovereign_id });
      insertPeer(sqlite, {
        sovereign_id: input.sovereign_id,
        base_url: baseUrl,
        profile: input.profile ?? null,
        created_at: toTimestamp(deps.clock()),
        mirror_urls: JSON.stringify(mirrors),
      });
      appendAudit(sqlite, deps.clock, {
        eventType: 'peer_registered',
        ...origin,
        details: {
          sovereign_id: input.sovereign_id,
          base_url: baseUrl,
          ...(input.profile ? { profile: input.profile } : {}),
          ...(mirrors.length > 0 ? { mirror_urls: mirrors } : {}),
        },
      });
    })
    .immediate();
  deps.changes.emit('peers');
  return peerView(deps, getPeerRow(deps, input.sovereign_id));
}

export function removePeer(deps: AppDeps, id: string, origin: RequestOrigin): { removed: true; sovereign_id: string } {
  const sqlite = deps.db.sqlite;
  sqlite
    .transaction(() => {
      const row = getPeerRow(deps, id);
      deletePeer(sqlite, id);
      appendAudit(sqlite, deps.clock, { eventType: 'peer_removed', ...origin, details: { sovereign_id: id, base_url: row.base_url } });
    })
    .immediate();
  deps.changes.emit('peers');
  return { removed: true, sovereign_id: id };
}

/**
 * Replaces the mirrors a peer's feeds are also pulled from. Audited `peer_mirrors_changed` with the
 * old and new lists; the same list again changes nothing.
 */
export function setPeerMirrors(deps: AppDeps, id: string, urls: readonly string[], origin: RequestOrigin): PeerView & { changed: boolean } {
  const sqlite = deps.db.sqlite;
  const changed = sqlite
    .transaction(() => {
      const row = getPeerRow(deps, id);
      const mirrors = normalizeMirrorUrls(urls, row.base_url);
      const previous = peerMirrorUrls(row);
      if (JSON.stringify(previous) === JSON.stringify(mirrors)) return false;
      setPeerMirrorUrls(sqlite, id, JSON.stringify(mirrors));
      appendAudit(sqlite, deps.clock, {
        eventType: 'peer_mirrors_changed',
        ...origin,
        details: { sovereign_id: id, mirror_urls: mirrors, previous_mirror_urls: previous },
      });
      return true;
    })
    .immediate();
  if (changed) deps.changes.emit('peers');
  return { ...peerView(deps, getPeerRow(deps, id)), changed };
}

function peerView(deps: AppDeps, row: PeerRow): PeerView {
  const now = deps.clock();
  const issuer = readIssuerFeedRow(deps.db.sqlite, row.sovereign_id);
  return {
    ...row,
    mirror_urls: peerMirrorUrls(row),
    recognized: recognizedIssuer(deps.db.sqlite, row.sovereign_id, now).keys.length > 0,
    imported_sequence: issuer?.last_sequence ?? 0,
    last_import_at: issuer?.last_import_at ?? null,
    next_update: issuer?.next_update ?? null,
    stale: issuer?.next_update != null && Date.parse(issuer.next_update) < now.getTime(),
    paused: issuer?.paused === 1,
    paused_reason: issuer?.paused ? issuer.paused_reason : null,
  };
}

export function getPeer(deps: AppDeps, id: string): PeerView {
  return peerView(deps, getPeerRow(deps, id));
}

/** Sovereign ids of the configured peers, in order. */
export function listPeerIds(sqlite: Sqlite): string[] {
  return readPeerIds(sqlite);
}

export function listPeers(deps: AppDeps): PeerView[] {
  return readPeers(deps.db.sqlite).map((row) => peerView(deps, row));
}

function knownIssuer(deps: AppDeps, id: string): { paused: number } | undefined {
  return readIssuerHead(deps.db.sqlite, id);
}

/**
 * Pauses imports from a sovereign (pull skips it, imports answer 423). Works for a registered peer
 * or any issuer with import state; pausing an already paused issuer changes nothing.
 */
export function pauseIssuer(
  deps: AppDeps,
  id: string,
  origin: RequestOrigin,
  reason = 'operator',
): { sovereign_id: string; paused: true; changed: boolean } {
  const sqlite = deps.db.sqlite;
  const changed = sqlite
    .transaction(() => {
      const issuer = knownIssuer(deps, id);
      if (!issuer && !peerRow(deps, id))
        throw new AppError('peer_not_found', 'no peer or feed issuer with this sovereign id', { sovereign_id: id.slice(0, 128) });
      if (issuer?.paused) return false;
      pauseIssuerRow(sqlite, id, reason, toTimestamp(deps.clock()));
      appendAudit(sqlite, deps.clock, { eventType: 'feed_issuer_paused', ...origin, details: { issuer: id, reason } });
      return true;
    })
    .immediate();
  if (changed) deps.changes.emit('peers');
  return { sovereign_id: id, paused: true, changed };
}

/**
 * Resumes imports from a sovereign and clears its pull backoff so the next pull runs at once. A peer
 * that was contained or repinned is resumed only after a verified test pull since then (409
 * `peer_not_verified` otherwise, nothing changed); resuming it ends its containment.
 */
export function resumeIssuer(deps: AppDeps, id: string, origin: RequestOrigin): { sovereign_id: string; paused: false; changed: boolean } {
  const sqlite = deps.db.sqlite;
  const changed = sqlite
    .transaction(() => {
      const issuer = knownIssuer(deps, id);
      if (!issuer && !peerRow(deps, id))
        throw new AppError('peer_not_found', 'no peer or feed issuer with this sovereign id', { sovereign_id: id.slice(0, 128) });
      if (!issuer?.paused) return false;
      const watch = readPeerWatch(sqlite, id);
      if (watch?.verification_required) {
        throw new AppError(
          'peer_not_verified',
          'no verified test pull since the peer was contained or repinned: run `accord feed pull PEER --once`',
          {
            sovereign_id: id,
            contained_at: watch.contained_at,
            repinned_at: watch.repinned_at,
            verified_pull_at: watch.verified_pull_at,
          },
        );
      }
      resumeIssuerRow(sqlite, id);
      clearPeerBackoff(sqlite, id);
      appendAudit(sqlite, deps.clock, { eventType: 'feed_issuer_resumed', ...origin, details: { issuer: id } });
      if (watch?.contained_at) {
        recordReleased(sqlite, id);
        appendAudit(sqlite, deps.clock, {
          eventType: 'peer_containment_lifted',
          ...origin,
          details: { peer: id, contained_at: watch.contained_at, reason: watch.contained_reason, verified_pull_at: watch.verified_pull_at },
        });
      }
      return true;
    })
    .immediate();
  if (changed) deps.changes.emit('peers');
  return { sovereign_id: id, paused: false, changed };
}
