// Import of Genesis Mesh snapshot revocation feeds from sovereigns recognized under the genesis-mesh profile.
import type { RequestOrigin } from '../authority/audit.ts';
import { decodeUtf8Strict, parseJsonStrict } from '../authority/canonical-json.ts';
import { gmDocumentJson, gmJson } from '../interop/gm-canonical.ts';
import { addSeconds, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { hashRef, type PublicKeyInfo } from '../authority/crypto.ts';
import { AppError, type ErrorCode } from '../authority/errors.ts';
import { REVOCATION_REASONS, type RevocationReason } from '../log/store.ts';
import { recognizedIssuer } from '../treaties/recognition.ts';
import { wireProfileOf } from '../interop/profile.ts';
import { GENESIS_MESH_PROFILE, parseGmObject, parseGmTimestamp, verifyGmSignature, type GmFeed } from '../interop/gm-model.ts';
import { auditImported, auditRejection, recordAcceptedFeed, recordEquivocation } from './import-record.ts';
import { maxImportedLogIndex, readImportedFeed, readImportedRevocation, readIssuerHead, type ImportedEntry } from './imported-store.ts';

export interface GmImportContext extends RequestOrigin {
  /** Where the feed came from: an operator's admin request or the pull job. */
  via: 'admin' | 'pull';
}

export interface GmImportResult {
  accepted: true;
  status: 'imported' | 'already_imported';
  profile: typeof GENESIS_MESH_PROFILE;
  issuer_sovereign_id: string;
  sequence: number;
  /** Revocations this snapshot added (ids not already imported from this issuer). */
  revoked_count: number;
  /** Ids in the snapshot. */
  snapshot_count: number;
  feed_hash: string;
}

const KIND = 'membership_attestation' as const;

/** Best-effort identification of a rejected feed for its audit event. */
function identify(raw: unknown): { issuer: string | null; sequence: number | null; feedHash: string | null } {
  const o = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  let feedHash: string | null = null;
  try {
    feedHash =
      raw && typeof raw === 'object' && !Array.isArray(raw)
        ? hashRef(gmDocumentJson(raw as Record<string, unknown>, 'revocation_feed'))
        : null;
  } catch {
    feedHash = null;
  }
  return {
    issuer: typeof o.issuer_sovereign_id === 'string' ? o.issuer_sovereign_id.slice(0, 128) : null,
    sequence: typeof o.sequence === 'number' && Number.isSafeInteger(o.sequence) ? o.sequence : null,
    feedHash,
  };
}

function issuerKeysFor(deps: AppDeps, issuer: string, now: Date): PublicKeyInfo[] {
  const recognized = recognizedIssuer(deps.db.sqlite, issuer, now);
  if (recognized.keys.length === 0)
    throw new AppError('issuer_not_recognized', 'no treaty in force recognizes this issuer', { issuer_sovereign_id: issuer });
  // The profile is the operator's choice when recognizing the issuer; a snapshot feed is never
  // accepted from an issuer recognized under another profile.
  const profile = wireProfileOf(deps.db.sqlite, issuer, recognized.profile);
  if (profile !== GENESIS_MESH_PROFILE) {
    throw new AppError('wire_profile_mismatch', 'this issuer is recognized under another wire profile', {
      issuer_sovereign_id: issuer,
      profile,
      expected_profile: GENESIS_MESH_PROFILE,
    });
  }
  return recognized.keys;
}

function knownReason(reason: string): RevocationReason {
  return (REVOCATION_REASONS as readonly string[]).includes(reason) ? (reason as RevocationReason) : 'unspecified';
}

/**
 * Imports one GM snapshot feed. Checks run in the order of SPEC §5 where they apply to snapshots;
 * nothing changes unless every check passes, and every rejection is audited and counted.
 */
export function importGmFeed(deps: AppDeps, raw: unknown, ctx: GmImportContext): GmImportResult {
  try {
    return importChecked(deps, raw, ctx);
  } catch (err) {
    if (err instanceof AppError) recordRejection(deps, raw, ctx, err);
    throw err;
  }
}

/**
 * The admin request: raw body bytes → `{feed}`. Bad UTF-8, bad JSON or a wrong envelope is the first
 * check failing (422 invalid_revocation_feed), audited and counted like every other rejection.
 */
export function importGmFeedRequest(deps: AppDeps, body: Uint8Array, ctx: GmImportContext): GmImportResult {
  let envelope: unknown;
  try {
    envelope = parseJsonStrict(decodeUtf8Strict(body));
  } catch (err) {
    const message = err instanceof AppError ? err.message : 'request body is not valid JSON';
    throw recordRejection(
      deps,
      undefined,
      ctx,
      new AppError('invalid_revocation_feed', 'revocation feed failed validation', {
        reason: 'malformed_json',
        issues: [{ path: '(root)', message }],
      }),
    );
  }
  const o = envelope as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o) || !('feed' in o) || Object.keys(o).length !== 1) {
    throw recordRejection(
      deps,
      o && typeof o === 'object' ? (o as Record<string, unknown>).feed : undefined,
      ctx,
      new AppError('invalid_revocation_feed', 'revocation feed failed validation', {
        reason: 'unknown_field',
        issues: [{ path: '(root)', message: 'the request body must be {"feed": {…}} with no other fields' }],
      }),
    );
  }
  return importGmFeed(deps, o.feed, ctx);
}

const BEFORE_RECOGNITION = new Set<ErrorCode>(['invalid_revocation_feed', 'issuer_not_recognized']);

function recordRejection(deps: AppDeps, raw: unknown, ctx: GmImportContext, err: AppError): AppError {
  const { issuer, sequence, feedHash } = identify(raw);
  // An equivocation was audited in the transaction that stored its evidence.
  if (err.code !== 'equivocation') {
    auditRejection(deps.db.sqlite, deps.clock, ctx, { issuer, sequence, feedHash }, err.code, {
      via: ctx.via,
      profile: GENESIS_MESH_PROFILE,
    });
  }
  // Metric labels only name recognized issuers, so arbitrary request content cannot grow the label set.
  const label = issuer === null || BEFORE_RECOGNITION.has(err.code) ? 'unrecognized' : issuer;
  deps.metrics.feedImports.inc({ issuer: label, outcome: err.code });
  return err;
}

/** The ids and reasons of a validated snapshot, with GM's defaults for omitted lists. */
function revocationsOf(feed: GmFeed): { ids: string[]; reasons: Record<string, string> } {
  return { ids: feed.revoked_attestation_ids ?? [], reasons: feed.revocation_reasons ?? {} };
}

/**
 * What a snapshot states: issuer, sequence, revoked ids and their reasons. GM signs a new snapshot
 * (fresh feed_id, issued_at and signature) on every GET, so two snapshots with the same statement are
 * one statement re-signed, and two with different statements at one sequence are an equivocation.
 */
function statementOf(feed: {
  issuer_sovereign_id: string;
  sequence: number;
  revoked_attestation_ids?: string[];
  revocation_reasons?: Record<string, string>;
}): string {
  return gmJson([feed.issuer_sovereign_id, feed.sequence, feed.revoked_attestation_ids ?? [], feed.revocation_reasons ?? {}]);
}

function storedStatement(body: string): string {
  return statementOf(JSON.parse(body) as GmFeed);
}

/**
 * Whether a fetched snapshot is validly signed and states exactly what was last imported from its
 * issuer (a re-signed copy of it): the pull job then has nothing to import and nothing to audit.
 */
export function gmSnapshotUnchanged(deps: AppDeps, issuer: string, raw: unknown): boolean {
  const parsed = parseGmObject('revocation_feed', raw);
  if (!parsed.ok || parsed.value.issuer_sovereign_id !== issuer) return false;
  const state = readIssuerHead(deps.db.sqlite, issuer);
  if (!state || state.last_feed_hash === null || state.paused || state.last_sequence !== parsed.value.sequence) return false;
  const stored = readImportedFeed(deps.db.sqlite, issuer, state.last_sequence);
  if (!stored || storedStatement(stored.body) !== statementOf(parsed.value)) return false;
  const recognized = recognizedIssuer(deps.db.sqlite, issuer, deps.clock());
  return verifyGmSignature(raw as Record<string, unknown>, 'revocation_feed', recognized.keys).valid;
}

/** For a verification pull that imports nothing: whether a snapshot states something else than the one stored at its sequence. */
export function gmSnapshotContradicts(deps: AppDeps, issuer: string, feed: GmFeed): boolean {
  const stored = readImportedFeed(deps.db.sqlite, issuer, feed.sequence);
  return stored !== undefined && storedStatement(stored.body) !== statementOf(feed);
}

function importChecked(deps: AppDeps, raw: unknown, ctx: GmImportContext): GmImportResult {
  const sqlite = deps.db.sqlite;
  const now = deps.clock();

  // 1. strict schema, and a faithful canonical form
  const parsed = parseGmObject('revocation_feed', raw);
  if (!parsed.ok)
    throw new AppError('invalid_revocation_feed', 'revocation feed failed validation', { reason: parsed.reason, issues: parsed.issues });
  const feed: GmFeed = parsed.value;
  const rawFeed = raw as Record<string, unknown>;
  const issuer = feed.issuer_sovereign_id;

  // 2. issuer recognized under the genesis-mesh profile; its keys come from the treaty, never from the feed
  const keys = issuerKeysFor(deps, issuer, now);

  // 3. signature (over the feed as sent, number texts kept), before anything that reveals import state
  const check = verifyGmSignature(rawFeed, 'revocation_feed', keys);
  if (!check.valid) {
    deps.metrics.signatureVerificationFailures.inc({ surface: 'gm_feed_import', reason: check.reason });
    throw new AppError('invalid_signature', 'feed signature does not verify under the issuer keys', { reason: check.reason });
  }

  const body = gmDocumentJson(rawFeed, 'revocation_feed');
  const feedHash = hashRef(body);
  const statement = statementOf(feed);
  const issuedAt = parseGmTimestamp(feed.issued_at)!;
  const { ids, reasons } = revocationsOf(feed);

  const outcome = sqlite
    .transaction((): GmImportResult | { equivocation: Record<string, unknown> } => {
      const state = readIssuerHead(sqlite, issuer);
      // 4. paused issuer
      if (state?.paused) throw new AppError('issuer_paused', 'imports from this issuer are paused', { issuer_sovereign_id: issuer });

      // 5. a sequence at or below the last imported one: the same statement re-signed is already
      // imported; a different one at a sequence held here is equivocation; one never held is stale.
      // (A pause alone leaves a row without a feed, so "imported before" is a stored feed hash.)
      const importedBefore = state !== undefined && state.last_feed_hash !== null;
      if (importedBefore && feed.sequence <= state.last_sequence) {
        const stored = readImportedFeed(sqlite, issuer, feed.sequence);
        if (stored && storedStatement(stored.body) === statement) {
          auditImported(sqlite, deps.clock, ctx, { issuer, sequence: feed.sequence, feedHash }, 'already_imported', 0, {
            via: ctx.via,
            profile: GENESIS_MESH_PROFILE,
          });
          return result('already_imported', feed, 0, feedHash);
        }
        if (stored) {
          const nowText = toTimestamp(now);
          const evidence = {
            issuer,
            sequence: feed.sequence,
            knownFeedHash: stored.feed_hash,
            conflictingFeedHash: feedHash,
            conflictingBody: body,
            detectedAt: nowText,
          };
          recordEquivocation(sqlite, deps.clock, ctx, evidence, { via: ctx.via, profile: GENESIS_MESH_PROFILE });
          auditRejection(sqlite, deps.clock, ctx, { issuer, sequence: feed.sequence, feedHash }, 'equivocation', {
            via: ctx.via,
            profile: GENESIS_MESH_PROFILE,
          });
          // Evidence and the pause must survive the rejection, so they commit here and the error is raised after.
          return { equivocation: { sequence: feed.sequence, known_feed_hash: stored.feed_hash, conflicting_feed_hash: feedHash } };
        }
        throw new AppError('sequence_not_increasing', 'a snapshot feed must have a higher sequence than the last one imported', {
          last_sequence: state.last_sequence,
          sequence: feed.sequence,
        });
      }

      // 6. timestamps: not from the future (beyond skew), never older than the last imported snapshot
      const skewLimit = addSeconds(now, deps.config.clockSkewSeconds);
      const previous = state?.last_issued_at ? new Date(state.last_issued_at) : null;
      if (issuedAt.getTime() > skewLimit.getTime() || (previous && issuedAt.getTime() < previous.getTime())) {
        throw new AppError('invalid_timestamps', 'feed issued_at is in the future or older than the last imported feed', {
          issued_at: feed.issued_at,
          ...(state?.last_issued_at ? { previous_issued_at: state.last_issued_at } : {}),
        });
      }

      // 7. apply: only additions; ids missing from this snapshot stay revoked
      let nextIndex = maxImportedLogIndex(sqlite, issuer) + 1;
      const revokedAt = toTimestamp(issuedAt);
      const added: ImportedEntry[] = [];
      const adding = new Set<string>();
      for (const id of ids) {
        if (adding.has(id) || readImportedRevocation(sqlite, issuer, KIND, id)) continue;
        adding.add(id);
        added.push({ index: nextIndex++, kind: KIND, id, reason: knownReason(reasons[id] ?? 'unspecified'), revoked_at: revokedAt });
      }
      const nowText = toTimestamp(now);
      const record = {
        issuer,
        sequence: feed.sequence,
        feedHash,
        signedHash: null,
        body,
        importedAt: nowText,
        issuedAt: feed.issued_at,
        headIssuedAt: toTimestamp(issuedAt),
        nextUpdate: null,
        logSize: nextIndex,
        frontier: null,
        revocations: added,
      };
      recordAcceptedFeed(sqlite, deps.clock, ctx, record, added.length, {
        snapshot_count: ids.length,
        via: ctx.via,
        profile: GENESIS_MESH_PROFILE,
      });
      return result('imported', feed, added.length, feedHash);
    })
    .immediate();

  if ('equivocation' in outcome) {
    throw new AppError('equivocation', 'the issuer signed two different feeds with the same sequence; imports are paused', {
      issuer_sovereign_id: issuer,
      ...outcome.equivocation,
    });
  }
  deps.metrics.feedImports.inc({ issuer, outcome: outcome.status });
  if (outcome.status === 'imported') deps.changes.emit('feed-imported', { issuer, sequence: feed.sequence });
  return outcome;
}

function result(status: GmImportResult['status'], feed: GmFeed, added: number, feedHash: string): GmImportResult {
  return {
    accepted: true,
    status,
    profile: GENESIS_MESH_PROFILE,
    issuer_sovereign_id: feed.issuer_sovereign_id,
    sequence: feed.sequence,
    revoked_count: added,
    snapshot_count: (feed.revoked_attestation_ids ?? []).length,
    feed_hash: feedHash,
  };
}
