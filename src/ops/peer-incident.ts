// A peer's key change or compromise, handled by commands: status, contain (pause, revoke, publish, evidence), repin (supersede the pin), resume.
import { appendAudit, type RequestOrigin } from '../authority/audit.ts';
import { addSeconds, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { reevaluatePeerKeys, refreshPeerKeyGauge } from '../feeds/declaration-watch.ts';
import { countImportedFeeds, readEquivocations } from '../feeds/imported-store.ts';
import { getPeer, pauseIssuer } from '../feeds/peers.ts';
import {
  readKeyChanges,
  readLatestDeclaration,
  readDeclarations,
  ensurePeerWatch,
  readPeerWatch,
  recordContained,
  recordRepinned,
} from '../feeds/peer-watch-store.ts';
import { publishFeeds } from '../feeds/publish.ts';
import { wireProfileOf } from '../interop/profile.ts';
import { checkPublicKey } from '../treaties/issuance-checks.ts';
import type { RecognitionTreaty } from '../treaties/model.ts';
import { recognizedIssuer, unrevokedTreatiesFor } from '../treaties/recognition.ts';
import { getTreaty, issueTreaty, listTreaties, revokeTreaty, supersedeTreaty, type Operator } from '../treaties/service.ts';
import { buildEvidenceBundle, type EvidenceBundle } from './peer-evidence.ts';

/** Who runs an incident command: the operator (for the treaty services) and the request origin (for audit events). */
export interface IncidentActor {
  operator: Operator | undefined;
  origin: RequestOrigin;
}

const parseList = (json: string | null | undefined): string[] => (json ? (JSON.parse(json) as string[]) : []);

/** Everything this authority knows about a peer's keys and health, in one document. */
export function peerStatus(deps: AppDeps, id: string) {
  const sqlite = deps.db.sqlite;
  const peer = getPeer(deps, id);
  const recognized = recognizedIssuer(sqlite, id, deps.clock());
  const watch = readPeerWatch(sqlite, id);
  const latest = readLatestDeclaration(sqlite, id);
  const unresolved = parseList(watch?.unresolved_keys);
  return {
    sovereign_id: id,
    base_url: peer.base_url,
    recognized: peer.recognized,
    pin: {
      treaty_ids: recognized.treatyIds,
      keys: recognized.keys.map((k) => ({ key_id: k.keyId, public_key: k.base64 })),
    },
    observed: {
      checked_at: watch?.declaration_checked_at ?? null,
      error: watch?.declaration_error ?? null,
      declaration: latest
        ? {
            id: latest.id,
            profile: latest.profile,
            url: latest.url,
            observed_at: latest.observed_at,
            last_seen_at: latest.last_seen_at,
            body_hash: latest.body_hash,
            keys: JSON.parse(latest.keys) as unknown,
            signed_by: JSON.parse(latest.signed_by) as unknown,
          }
        : null,
      unresolved_keys: unresolved,
      key_mismatch: unresolved.length > 0,
    },
    pulls: {
      last_attempt_at: peer.last_attempt_at,
      last_success_at: peer.last_success_at,
      last_error: peer.last_error,
      consecutive_failures: peer.consecutive_failures,
      next_attempt_at: peer.next_attempt_at,
      imported_sequence: peer.imported_sequence,
      last_import_at: peer.last_import_at,
      next_update: peer.next_update,
      stale: peer.stale,
      verified_pull_at: watch?.verified_pull_at ?? null,
    },
    pause: { paused: peer.paused, reason: peer.paused_reason },
    containment: {
      contained: watch?.contained_at != null,
      contained_at: watch?.contained_at ?? null,
      reason: watch?.contained_reason ?? null,
      contained_by: watch?.contained_by ?? null,
      repinned_at: watch?.repinned_at ?? null,
      verification_required: watch?.verification_required === 1,
    },
    evidence: {
      declarations: readDeclarations(sqlite, id).length,
      imported_feeds: countImportedFeeds(sqlite, id),
      key_changes: readKeyChanges(sqlite, id).map((c) => ({
        id: c.id,
        kind: c.kind,
        detected_at: c.detected_at,
        declaration_id: c.declaration_id,
        previous_declaration_id: c.previous_declaration_id,
        appeared: JSON.parse(c.appeared) as unknown,
        disappeared: JSON.parse(c.disappeared) as unknown,
      })),
      equivocations: readEquivocations(sqlite)
        .filter((e) => e.issuer_sovereign_id === id)
        .map(({ conflicting_body: _body, ...rest }) => rest),
    },
  };
}

export interface ContainInput {
  reason: string;
  revoke_treaties?: boolean | undefined;
  incident?: string | undefined;
}

export interface ContainResult {
  sovereign_id: string;
  contained_at: string;
  reason: string;
  paused: { changed: boolean };
  revoked_treaties: Array<{ treaty_id: string; log_index: number }>;
  publication: null | { published: true; latest_sequence: number } | { published: false; error: string };
  evidence: EvidenceBundle;
}

/**
 * Contains a peer in one command: pauses pulls and imports from it, optionally revokes this
 * authority's treaties for it (reason key_compromise) and publishes the revocation at once, and
 * builds the evidence bundle. Pause, revocations and the `peer_contained` event commit together;
 * every step is audited with the operator as actor.
 */
export function containPeer(deps: AppDeps, id: string, input: ContainInput, actor: IncidentActor): ContainResult {
  const sqlite = deps.db.sqlite;
  getPeer(deps, id);
  const contained = sqlite
    .transaction(() => {
      const at = toTimestamp(deps.clock());
      const paused = pauseIssuer(deps, id, actor.origin, 'contained');
      const revoked: ContainResult['revoked_treaties'] = [];
      if (input.revoke_treaties) {
        for (const t of unrevokedTreatiesFor(sqlite, id, deps.clock())) {
          const r = revokeTreaty(
            deps,
            t.treatyId,
            { reason: 'key_compromise', ...(input.incident ? { incident: input.incident } : {}) },
            actor.operator,
            { requestId: actor.origin.requestId ?? null },
          );
          revoked.push({ treaty_id: r.treaty_id, log_index: r.log_index });
        }
      }
      ensurePeerWatch(sqlite, id);
      recordContained(sqlite, id, at, input.reason, actor.origin.actor.key_id ?? null);
      appendAudit(sqlite, deps.clock, {
        eventType: 'peer_contained',
        ...actor.origin,
        details: {
          peer: id,
          reason: input.reason,
          ...(input.incident ? { incident: input.incident } : {}),
          paused_now: paused.changed,
          revoke_treaties: input.revoke_treaties === true,
          revoked_treaty_ids: revoked.map((r) => r.treaty_id),
        },
      });
      return { at, paused: { changed: paused.changed }, revoked };
    })
    .immediate();
  deps.changes.emit('peers');

  let publication: ContainResult['publication'] = null;
  if (contained.revoked.length > 0) {
    // Published now, not after the debounce: peers must learn at once that we no longer recognize it.
    try {
      const published = publishFeeds(deps, { trigger: 'admin', actor: actor.origin.actor, requestId: actor.origin.requestId ?? null });
      publication = { published: true, latest_sequence: published.latest_sequence };
    } catch (err) {
      // The revocations are committed; the scheduled publisher retries them.
      publication = { published: false, error: err instanceof AppError ? err.code : 'internal_error' };
      deps.logger.error({ err, peer: id }, 'publishing the containment revocations failed');
    }
  }
  const evidence = exportEvidence(deps, id, input.reason, actor.origin);
  return {
    sovereign_id: id,
    contained_at: contained.at,
    reason: input.reason,
    paused: contained.paused,
    revoked_treaties: contained.revoked,
    publication,
    evidence,
  };
}

/** Builds the peer's evidence bundle and audits that it was handed out (with its hash). */
export function exportEvidence(deps: AppDeps, id: string, reason: string | null, origin: RequestOrigin): EvidenceBundle {
  const evidence = buildEvidenceBundle(deps, id, reason);
  appendAudit(deps.db.sqlite, deps.clock, {
    eventType: 'peer_evidence_exported',
    ...origin,
    details: {
      peer: id,
      file_sha256: evidence.manifest.file_sha256,
      bytes: evidence.manifest.bytes,
      counts: evidence.manifest.counts,
      audit_last_seq: evidence.manifest.audit.last_seq,
      signed_by: evidence.manifest.issued_by,
    },
  });
  return evidence;
}

export interface RepinInput {
  public_key: string;
  confirm_out_of_band: boolean;
  overlap_seconds?: number | undefined;
  incident?: string | undefined;
}

export interface RepinResult {
  sovereign_id: string;
  key_id: string;
  public_key: string;
  previous_key_ids: string[];
  superseded: Array<{ old_treaty_id: string; new_treaty_id: string }>;
  issued: string[];
  overlap: null | { treaty_id: string; key_ids: string[]; until: string };
  unresolved_keys: string[];
}

/** The most recently issued treaty of this authority for the subject (any state), if any. */
function latestTreatyFor(deps: AppDeps, id: string): RecognitionTreaty | null {
  let latest: RecognitionTreaty | null = null;
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const listed = listTreaties(deps, { subject: id, limit: 500, ...(cursor ? { cursor } : {}) });
    for (const view of listed.treaties) if (!latest || view.treaty.issued_at >= latest.issued_at) latest = view.treaty;
    if (!listed.next_cursor) break;
    cursor = listed.next_cursor;
  }
  return latest;
}

/**
 * Pins a new key for a peer after its operator confirmed it out of band: every treaty of this
 * authority in force for the peer is superseded by one that names only the new key (same scope,
 * same end); with none in force (revoked at containment) a new treaty is issued on the terms of the
 * latest one. With an overlap, the keys pinned before stay recognized by a separate treaty that
 * ends when the overlap does. The peer then needs a verified test pull before it is resumed.
 * Everything commits in one transaction.
 */
export function repinPeer(deps: AppDeps, id: string, input: RepinInput, actor: IncidentActor): RepinResult {
  getPeer(deps, id);
  if (input.confirm_out_of_band !== true)
    throw new AppError('repin_not_confirmed', 'confirm the new key with the peer out of band first (confirm_out_of_band: true)');
  const key = checkPublicKey(input.public_key, 'public_key');
  const sqlite = deps.db.sqlite;
  const options = { requestId: actor.origin.requestId ?? null };
  const result = sqlite
    .transaction((): RepinResult => {
      const now = deps.clock();
      const at = toTimestamp(now);
      const inForce = unrevokedTreatiesFor(sqlite, id, now);
      const previous = [...new Map(inForce.flatMap((t) => t.keys.map((k) => [k.keyId, k] as const))).values()];
      if (inForce.length > 0 && previous.length === 1 && previous[0]!.keyId === key.keyId)
        throw new AppError('key_already_pinned', 'this key is already the only key pinned for the peer', { key_id: key.keyId });
      const superseded: RepinResult['superseded'] = [];
      const issued: string[] = [];
      let template: RecognitionTreaty | null = null;
      for (const t of inForce) {
        const old = getTreaty(deps, t.treatyId).treaty;
        template ??= old;
        const replaced = supersedeTreaty(
          deps,
          old.treaty_id,
          {
            subject_public_keys: [key.base64],
            scope: old.scope,
            expires_at: old.expires_at,
            metadata: old.metadata,
            ...(input.incident ? { incident: input.incident } : {}),
          },
          actor.operator,
          options,
        );
        superseded.push({ old_treaty_id: old.treaty_id, new_treaty_id: replaced.treaty.treaty_id });
      }
      if (inForce.length === 0) {
        template = latestTreatyFor(deps, id);
        if (!template) throw new AppError('no_treaty_to_repin', 'this authority never issued a treaty for this peer', { sovereign_id: id });
        const ends = Date.parse(template.expires_at) > now.getTime() + 3600_000;
        const treaty = issueTreaty(
          deps,
          {
            subject_sovereign_id: id,
            subject_public_keys: [key.base64],
            scope: template.scope,
            ...(ends ? { expires_at: template.expires_at } : { validity_hours: 24 * 30 }),
            metadata: template.metadata,
            profile: wireProfileOf(sqlite, id, null),
          },
          actor.operator,
          options,
        );
        issued.push(treaty.treaty_id);
      }
      let overlap: RepinResult['overlap'] = null;
      const kept = previous.filter((k) => k.keyId !== key.keyId);
      if (input.overlap_seconds && input.overlap_seconds > 0 && kept.length > 0 && template) {
        // Never past the end of the terms it keeps (timestamps of one form compare as text).
        const until = [toTimestamp(addSeconds(now, input.overlap_seconds)), template.expires_at].sort()[0]!;
        const treaty = issueTreaty(
          deps,
          {
            subject_sovereign_id: id,
            subject_public_keys: kept.map((k) => k.base64),
            scope: template.scope,
            expires_at: until,
            metadata: { ...template.metadata, 'accord.key_overlap': 'true' },
            profile: wireProfileOf(sqlite, id, null),
          },
          actor.operator,
          options,
        );
        overlap = { treaty_id: treaty.treaty_id, key_ids: kept.map((k) => k.keyId), until: treaty.expires_at };
      }
      ensurePeerWatch(sqlite, id);
      recordRepinned(sqlite, id, at);
      const unresolved = reevaluatePeerKeys(deps, id);
      appendAudit(sqlite, deps.clock, {
        eventType: 'peer_repinned',
        ...actor.origin,
        details: {
          peer: id,
          key_id: key.keyId,
          public_key: key.base64,
          previous_key_ids: previous.map((k) => k.keyId),
          confirmed_out_of_band: true,
          superseded,
          issued,
          overlap,
          unresolved_keys: unresolved,
        },
      });
      return {
        sovereign_id: id,
        key_id: key.keyId,
        public_key: key.base64,
        previous_key_ids: previous.map((k) => k.keyId),
        superseded,
        issued,
        overlap,
        unresolved_keys: unresolved,
      };
    })
    .immediate();
  refreshPeerKeyGauge(deps);
  deps.changes.emit('peers');
  return result;
}
