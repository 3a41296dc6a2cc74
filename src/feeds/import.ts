// Importing another sovereign's signed revocation feed: the ten ordered checks of SPEC §5, all-or-nothing.
import type { RequestOrigin } from '../authority/audit.ts';
import { canonicalJson, decodeUtf8Strict, parseJsonStrict, signableProblem } from '../authority/canonical-json.ts';
import { parseTimestamp, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { hashRef, verifySignedObject } from '../authority/crypto.ts';
import { AppError, type ErrorCode, type ErrorDetails } from '../authority/errors.ts';
import { issueList } from '../authority/http.ts';
import type { Sqlite } from '../db/database.ts';
import { GENESIS_MESH_PROFILE } from '../interop/gm-model.ts';
import { wireProfileOf } from '../interop/profile.ts';
import { recognizedIssuer } from '../treaties/recognition.ts';
import { refreshIssuerStaleness } from './freshness.ts';
import { findImportedRevocation } from './imported-revocations.ts';
import { auditImported, auditRejection, recordAcceptedFeed, recordEquivocation } from './import-record.ts';
import { readImportedFeed, readIssuerHead, type IssuerHead } from './imported-store.ts';
import { appendLeafDigests, frontierRoot, leafDigest } from '../log/merkle.ts';
import {
  MAX_FEED_BYTES,
  MAX_FEED_ENTRIES,
  readCanonicalEntry,
  safeParseFeedOfReadEntries,
  safeParseRevocationFeed,
  signedPartHash,
  spliceEntries,
  type RevocationFeed,
} from './model.ts';
import type { RevocationEntry } from '../log/store.ts';
import { checkFeedConsistency, readConsistencyProof } from '../transparency/importer.ts';
import {
  checkFeedQuorum,
  enterAwaitingQuorum,
  leaveAwaitingQuorum,
  refreshQuorumGauges,
  type QuorumShortfall,
  type WitnessedCheckpointInput,
} from '../witness/quorum.ts';
import { MAX_NOTE_BYTES } from '../authority/signed-note.ts';

export interface ImportContext extends RequestOrigin {
  /** Where the feed came from: an operator's admin request or the pull job. */
  via: 'admin' | 'pull';
  /** For pulls: the peer the feed was fetched from, and the URL. Recorded in the audit event. */
  source?: { peer: string; url: string };
  /**
   * For pulls: the only issuer whose feeds this source may deliver (the peer itself). A peer serving
   * another issuer's feed could otherwise plant a copy (say, with a padded signature list) ahead of
   * the issuer's own and break that issuer's chain at this authority.
   */
  expectedIssuer?: string;
  /** The issuer's consistency proof from the last imported head to this feed's `log` (check 8b). */
  consistencyProof?: string[];
  /** The issuer's cosigned checkpoint and the proof from this feed's log size to it, for a quorum policy (check 9b). */
  witnessed?: WitnessedCheckpointInput;
}

export interface ImportResult {
  accepted: true;
  status: 'imported' | 'already_imported';
  issuer_sovereign_id: string;
  sequence: number;
  revoked_count: number;
  feed_hash: string;
}

/** Stable reason codes of rejected imports, in check order (their HTTP statuses are in the error code table). */
export const IMPORT_REJECTIONS = [
  'body_too_large',
  'invalid_revocation_feed',
  'foreign_issuer',
  'issuer_not_recognized',
  'wire_profile_mismatch',
  'invalid_signature',
  'issuer_paused',
  'equivocation',
  'sequence_gap',
  'chain_mismatch',
  'log_root_mismatch',
  'consistency_proof_invalid',
  'invalid_timestamps',
  'awaiting_quorum',
] as const satisfies readonly ErrorCode[];
export type ImportRejectionCode = (typeof IMPORT_REJECTIONS)[number];

const MESSAGES: Record<ImportRejectionCode, string> = {
  body_too_large: 'the feed is larger than 8 MiB',
  invalid_revocation_feed: 'the feed does not match the revocation feed schema',
  foreign_issuer: 'a peer may deliver only its own feeds; this feed was issued by another sovereign',
  issuer_not_recognized: 'this authority has no active treaty recognizing the feed issuer',
  wire_profile_mismatch:
    'this issuer is recognized under the genesis-mesh wire profile; its feeds are imported at /admin/sovereign-revocation-feeds/import',
  invalid_signature: 'the feed is not signed by a key this authority recognizes for its issuer',
  issuer_paused: 'imports from this issuer are paused',
  equivocation: 'the issuer signed a different feed at an already imported sequence',
  sequence_gap: 'the feed does not follow the last imported sequence',
  chain_mismatch: 'previous_feed_hash does not match the last imported feed',
  log_root_mismatch: 'the feed entries do not extend the issuer log to the announced Merkle root',
  consistency_proof_invalid:
    "the issuer's consistency proof from the last imported log head to this feed's head is missing or does not verify",
  invalid_timestamps: 'the feed timestamps are not acceptable',
  awaiting_quorum: "the feed's log head is in no checkpoint of the issuer cosigned by the quorum of witnesses its policy requires",
};

/**
 * What an import does besides writing the database: metrics, the change bus and the log. On a worker
 * thread these are recorded and replayed by the serving thread (see import-runner.ts).
 */
export interface ImportEffects {
  /** One import attempt ended with this outcome (a status or a rejection code). */
  counted(issuerLabel: string, outcome: string): void;
  signatureFailure(reason: string): void;
  imported(issuer: string, sequence: number): void;
  equivocation(issuer: string, sequence: number): void;
}

/** The effects applied at once to an authority's metrics, change bus and log. */
export function liveEffects(deps: Pick<AppDeps, 'db' | 'clock' | 'metrics' | 'logger' | 'changes'>): ImportEffects {
  return {
    counted: (issuer, outcome) => deps.metrics.feedImports.inc({ issuer, outcome }),
    signatureFailure: (reason) => deps.metrics.signatureVerificationFailures.inc({ surface: 'revocation_feed', reason }),
    imported: (issuer, sequence) => {
      refreshIssuerStaleness(deps, issuer);
      refreshQuorumGauges(deps, issuer);
      deps.changes.emit('feed-imported', { issuer, sequence });
    },
    equivocation: (issuer, sequence) => {
      deps.logger.warn({ issuer, sequence }, 'feed equivocation detected; issuer paused');
      deps.changes.emit('feed-imported', { issuer, sequence, equivocation: true });
    },
  };
}

/** What an import runs on: the database, the clock, the configuration, who we are, and the effects. */
export type ImportDeps = Pick<AppDeps, 'db' | 'clock' | 'config' | 'identity'> & { effects: ImportEffects };

const importDeps = (deps: AppDeps): ImportDeps => ({
  db: deps.db,
  clock: deps.clock,
  config: deps.config,
  identity: deps.identity,
  effects: liveEffects(deps),
});

interface Rejection {
  code: ImportRejectionCode;
  details: ErrorDetails;
}

/** Hash of the signed part of the issuer's last imported feed (derived from its stored bytes on rows imported before it was kept). */
function previousSignedHash(sqlite: Sqlite, issuer: string, state: IssuerHead): string | null {
  if (state.last_sequence === 0) return null;
  if (state.last_signed_hash !== null) return state.last_signed_hash;
  const row = readImportedFeed(sqlite, issuer, state.last_sequence);
  return row ? (row.signed_hash ?? signedPartHash(row.body)) : null;
}

function readState(sqlite: Sqlite, issuer: string): IssuerHead {
  return (
    readIssuerHead(sqlite, issuer) ?? {
      last_sequence: 0,
      last_feed_hash: null,
      last_signed_hash: null,
      last_issued_at: null,
      log_size: 0,
      frontier: '[]',
      paused: 0,
    }
  );
}

/** What the rejection audit and metric know about a feed that may not even parse. */
interface FeedFacts {
  input: unknown;
  issuer: string | null;
  sequence: number | null;
  /** Computed on demand (undefined: not yet); null when the input has no canonical form. */
  feedHash?: string | null;
  /** Metric label: the issuer id only once it is known to be recognized (bounded cardinality). */
  issuerLabel: string;
}

function rawFacts(input: unknown): FeedFacts {
  const o = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  return {
    input,
    issuer: typeof o.issuer_sovereign_id === 'string' ? o.issuer_sovereign_id.slice(0, 128) : null,
    sequence: typeof o.sequence === 'number' && Number.isSafeInteger(o.sequence) ? o.sequence : null,
    issuerLabel: 'unrecognized',
  };
}

/** The feed hash for the rejection audit; canonicalizes only on this (rare) path when not known yet. */
function feedHashOf(facts: FeedFacts): string | null {
  if (facts.feedHash === undefined) {
    facts.feedHash = null;
    if (facts.input !== undefined && signableProblem(facts.input) === null) {
      try {
        facts.feedHash = hashRef(canonicalJson(facts.input));
      } catch {
        facts.feedHash = null;
      }
    }
  }
  return facts.feedHash;
}

function rejectionAudit(sqlite: Sqlite, deps: ImportDeps, ctx: ImportContext, facts: FeedFacts, rejection: Rejection): void {
  auditRejection(sqlite, deps.clock, ctx, { issuer: facts.issuer, sequence: facts.sequence, feedHash: feedHashOf(facts) }, rejection.code, {
    ...sourceOf(ctx),
    ...rejection.details,
  });
}

/** The audit fields that say where an imported or rejected feed came from. */
function sourceOf(ctx: ImportContext): { via: 'admin' | 'pull'; source?: { peer: string; url: string } } {
  return ctx.source ? { via: ctx.via, source: { peer: ctx.source.peer, url: ctx.source.url.slice(0, 512) } } : { via: ctx.via };
}

function rejectionError(rejection: Rejection): AppError {
  return new AppError(rejection.code, MESSAGES[rejection.code], { reason: rejection.code, ...rejection.details });
}

/** Audits (in its own transaction), counts and throws a rejection decided before the import transaction. */
function rejectEarly(deps: ImportDeps, ctx: ImportContext, facts: FeedFacts, rejection: Rejection): never {
  rejectionAudit(deps.db.sqlite, deps, ctx, facts, rejection);
  deps.effects.counted(facts.issuerLabel, rejection.code);
  throw rejectionError(rejection);
}

/** A feed past step 1: valid under the schema, in canonical form, hashed. */
interface CanonicalFeed {
  /** The feed as received (what rejection audits describe). */
  input: unknown;
  feed: RevocationFeed;
  /** The feed's JCS text: stored byte-exact; its SHA-256 is the feed hash. */
  body: string;
  feedHash: string;
  /** JCS bytes of the feed without `signatures`: what the issuer signed. */
  payload: Buffer;
  /** `leafDigest` of each entry's JCS text, in order. */
  leaves: string[];
}

/** `{"entries":[`: every feed's canonical text starts with its entries ("entries" sorts first). */
const ENTRIES_OPEN = '{"entries":[';
const FEED_OPEN = '{"feed":';
const FEED_REQUEST_OPEN = `${FEED_OPEN}${ENTRIES_OPEN}`;
/** Bytes of a request around its feed: `{"feed":` and `}`. */
const FEED_REQUEST_FRAME = FEED_OPEN.length + 1;

/**
 * The common request, `{"feed":<the feed's JCS text>}` (feeds are served as their canonical bytes),
 * read in one pass: each entry is read straight from its canonical text (readCanonicalEntry) and
 * hashed, only the rest of the feed goes through JSON.parse and must be canonical too, and the body,
 * feed hash and signed payload are cut from the request bytes. A text that is the canonical form of
 * what it parses to has no duplicate keys and no deep nesting, so parseJsonStrict accepts it and the
 * general path would reach the same feed, body, hash and payload. Null for anything else (including
 * any step-1 rejection): the general path decides those.
 */
function canonicalFeedRequest(bytes: Uint8Array, text: string): CanonicalFeed | null {
  // No byte-order mark (the decoder drops one), so character and byte offsets agree on the ASCII frame.
  // Too large a feed is left to the general path, which rejects it after the schema checks.
  if (bytes[0] !== 0x7b || bytes.length - FEED_REQUEST_FRAME > MAX_FEED_BYTES) return null;
  if (text.slice(0, FEED_REQUEST_OPEN.length) !== FEED_REQUEST_OPEN || text.charCodeAt(text.length - 1) !== 0x7d) return null;
  const entries: RevocationEntry[] = [];
  const leaves: string[] = [];
  let at = FEED_REQUEST_OPEN.length;
  if (text.charCodeAt(at) !== 0x5d) {
    for (;;) {
      const read = entries.length < MAX_FEED_ENTRIES ? readCanonicalEntry(text, at) : null;
      if (read === null) return null;
      entries.push(read.entry);
      leaves.push(leafDigest(text.slice(at, read.end)));
      at = read.end;
      if (text.charCodeAt(at) === 0x5d) break;
      if (text.charCodeAt(at++) !== 0x2c) return null;
    }
  }
  const entriesEnd = at;
  let envelope: Record<string, unknown>;
  try {
    envelope = JSON.parse(`${FEED_REQUEST_OPEN}${text.slice(entriesEnd)}`) as Record<string, unknown>;
  } catch {
    return null;
  }
  const input = envelope.feed as Record<string, unknown>;
  if (Object.keys(envelope).length !== 1 || typeof input !== 'object' || input === null || Array.isArray(input)) return null;
  input.entries = entries;
  const parsed = safeParseFeedOfReadEntries(input as typeof input & { entries: RevocationEntry[] });
  if (!parsed.success) return null;
  const { entries: _entries, ...header } = input;
  const { signatures: _signatures, ...unsignedHeader } = header;
  let afterEntries: string;
  let unsignedAfterEntries: string;
  try {
    afterEntries = canonicalJson({ ...header, entries: [] }).slice(ENTRIES_OPEN.length);
    unsignedAfterEntries = canonicalJson({ ...unsignedHeader, entries: [] }).slice(ENTRIES_OPEN.length);
  } catch {
    return null;
  }
  if (text.length - 1 - entriesEnd !== afterEntries.length || text.slice(entriesEnd, -1) !== afterEntries) return null;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bodyBytes = buffer.subarray(FEED_OPEN.length, buffer.length - 1);
  const entriesEndByte = buffer.length - 1 - Buffer.byteLength(afterEntries, 'utf8');
  return {
    input,
    feed: parsed.data,
    body: text.slice(FEED_OPEN.length, -1),
    feedHash: hashRef(bodyBytes),
    payload: Buffer.concat([buffer.subarray(FEED_OPEN.length, entriesEndByte), Buffer.from(unsignedAfterEntries, 'utf8')]),
    leaves,
  };
}

/**
 * The admin import request: raw body bytes → `{feed}`. Bad UTF-8, bad JSON or a wrong envelope is
 * step 1 of the checks (422 invalid_revocation_feed, audited like every other rejection).
 */
export function importFeedRequest(deps: AppDeps, body: Uint8Array, ctx: ImportContext): ImportResult {
  return importRequestWith(importDeps(deps), body, ctx);
}

/** importFeedRequest with explicit effects (on a worker thread, recorded for the serving thread). */
export function importRequestWith(deps: ImportDeps, body: Uint8Array, ctx: ImportContext): ImportResult {
  let text: string | null = null;
  try {
    text = decodeUtf8Strict(body);
  } catch {
    // Reported below, as step 1.
  }
  const canonical = text === null ? null : canonicalFeedRequest(body, text);
  if (canonical) return importCanonicalFeed(deps, canonical, ctx, rawFacts(canonical.input));

  let envelope: unknown;
  try {
    envelope = parseJsonStrict(text ?? decodeUtf8Strict(body), { integersOnly: true });
  } catch (err) {
    const message = err instanceof AppError ? err.message : 'request body is not valid JSON';
    rejectEarly(deps, ctx, rawFacts(undefined), { code: 'invalid_revocation_feed', details: { issues: [{ path: '(root)', message }] } });
  }
  const o = envelope as Record<string, unknown> | null;
  const has = (key: string) => o !== null && typeof o === 'object' && Object.hasOwn(o, key);
  const proof = has('consistency_proof') ? readConsistencyProof(o!.consistency_proof) : undefined;
  const cosigned = has('cosigned_checkpoint') ? o!.cosigned_checkpoint : undefined;
  const checkpointProof = has('checkpoint_proof') ? readConsistencyProof(o!.checkpoint_proof) : undefined;
  const issue =
    typeof o !== 'object' || o === null || Array.isArray(o) || !('feed' in o) || Object.keys(o).some((k) => !REQUEST_FIELDS.has(k))
      ? {
          path: '(root)',
          message: 'the request body must be {"feed": {…}} with optional consistency_proof, cosigned_checkpoint, checkpoint_proof',
        }
      : proof === null
        ? { path: 'consistency_proof', message: 'must be an array of at most 128 "sha256:<hex>" hashes' }
        : cosigned !== undefined && (typeof cosigned !== 'string' || cosigned.length > MAX_NOTE_BYTES)
          ? { path: 'cosigned_checkpoint', message: "must be the issuer's cosigned checkpoint note as text (at most 64 KiB)" }
          : checkpointProof === null || (checkpointProof !== undefined && cosigned === undefined)
            ? { path: 'checkpoint_proof', message: 'must be an array of at most 128 "sha256:<hex>" hashes, beside cosigned_checkpoint' }
            : null;
  if (issue !== null) {
    rejectEarly(deps, ctx, rawFacts(o && typeof o === 'object' ? o.feed : undefined), {
      code: 'invalid_revocation_feed',
      details: { issues: [issue] },
    });
  }
  const withProof = proof ? { ...ctx, consistencyProof: proof } : ctx;
  const withWitnessed =
    typeof cosigned === 'string'
      ? { ...withProof, witnessed: { note: cosigned, ...(checkpointProof ? { proof: checkpointProof } : {}) } }
      : withProof;
  return importObjectWith(deps, o!.feed, withWitnessed);
}

/** The fields an import request may carry beside the feed. */
const REQUEST_FIELDS = new Set(['feed', 'consistency_proof', 'cosigned_checkpoint', 'checkpoint_proof']);

/** Thrown inside the import transaction to undo it when a quorum policy holds the feed back. */
class HeldBack {
  constructor(readonly shortfall: QuorumShortfall) {}
}

/**
 * Imports one feed. Checks run in the order of SPEC §5; a rejection changes nothing but the audit
 * log (plus evidence and a pause for equivocation) and throws an AppError with the reason code.
 */
export function importFeed(deps: AppDeps, input: unknown, ctx: ImportContext): ImportResult {
  return importObjectWith(importDeps(deps), input, ctx);
}

function importObjectWith(deps: ImportDeps, input: unknown, ctx: ImportContext): ImportResult {
  const facts = rawFacts(input);

  // 1. Strict schema (and a bounded canonical size).
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    rejectEarly(deps, ctx, facts, {
      code: 'invalid_revocation_feed',
      details: { issues: [{ path: '(root)', message: 'the feed must be a JSON object' }] },
    });
  }
  const parsed = safeParseRevocationFeed(input);
  if (!parsed.success) rejectEarly(deps, ctx, facts, { code: 'invalid_revocation_feed', details: { issues: issueList(parsed.error) } });
  const feed = parsed.data;
  // Each entry is canonicalized once: its text gives the leaf hash, and the stored body and the
  // signed payload are the header's canonical form with those texts spliced in (JCS of the whole).
  // canonicalJson also refuses what the schema cannot see (lone surrogates), still as step 1.
  const { entries: _entries, ...header } = input as Record<string, unknown>;
  const { signatures: _signatures, ...unsignedHeader } = header;
  let entryTexts: string[] = [];
  let headerText = '';
  try {
    entryTexts = feed.entries.map((e) => canonicalJson(e));
    headerText = canonicalJson({ ...header, entries: [] });
  } catch (err) {
    const problem = err instanceof AppError ? String(err.details.problem ?? err.message) : 'the feed has no canonical form';
    rejectEarly(deps, ctx, facts, { code: 'invalid_revocation_feed', details: { issues: [{ path: '(root)', message: problem }] } });
  }
  const body = spliceEntries(headerText, entryTexts);
  const feedHash = hashRef(body);
  facts.feedHash = feedHash;
  if (Buffer.byteLength(body, 'utf8') > MAX_FEED_BYTES)
    rejectEarly(deps, ctx, facts, { code: 'body_too_large', details: { max_bytes: MAX_FEED_BYTES } });
  const payload = Buffer.from(spliceEntries(canonicalJson({ ...unsignedHeader, entries: [] }), entryTexts), 'utf8');
  return importCanonicalFeed(deps, { input, feed, body, feedHash, payload, leaves: entryTexts.map(leafDigest) }, ctx, facts);
}

/** Runs the import transaction; a feed held back by a quorum policy comes out as `heldBack`. */
function heldBackOr<T>(run: () => T): T | { heldBack: QuorumShortfall } {
  try {
    return run();
  } catch (err) {
    if (err instanceof HeldBack) return { heldBack: err.shortfall };
    throw err;
  }
}

/** Steps 2 to 10 for a feed that passed step 1. */
function importCanonicalFeed(deps: ImportDeps, canonical: CanonicalFeed, ctx: ImportContext, facts: FeedFacts): ImportResult {
  const sqlite = deps.db.sqlite;
  const { feed, body, feedHash, payload } = canonical;
  facts.feedHash = feedHash;
  const signedHash = hashRef(payload);
  const issuer = feed.issuer_sovereign_id;

  // 1b. A pulled feed must be the source's own.
  if (ctx.expectedIssuer !== undefined && issuer !== ctx.expectedIssuer) {
    rejectEarly(deps, ctx, facts, { code: 'foreign_issuer', details: { issuer_sovereign_id: issuer, peer: ctx.expectedIssuer } });
  }

  // 2. Keys of this authority's active, in-window treaties whose subject is the issuer.
  const now = deps.clock();
  const recognized = issuer === deps.identity.sovereignId ? { keys: [] } : recognizedIssuer(sqlite, issuer, now);
  if (recognized.keys.length === 0)
    rejectEarly(deps, ctx, facts, { code: 'issuer_not_recognized', details: { issuer_sovereign_id: issuer } });
  facts.issuerLabel = issuer;
  // The issuer's wire profile is the operator's choice on the recognizing treaty; a native feed from a genesis-mesh issuer is refused.
  if ('profile' in recognized && wireProfileOf(sqlite, issuer, recognized.profile) === GENESIS_MESH_PROFILE) {
    rejectEarly(deps, ctx, facts, {
      code: 'wire_profile_mismatch',
      details: { issuer_sovereign_id: issuer, profile: GENESIS_MESH_PROFILE, expected_profile: 'accord/1' },
    });
  }

  // 3. Signature, before anything that would reveal this authority's state for the issuer. A key the
  // issuer itself revoked in an earlier feed (kind public_key) no longer signs for it.
  const liveKeys = recognized.keys.filter((k) => findImportedRevocation(sqlite, issuer, 'public_key', k.keyId) === null);
  const check = verifySignedObject(feed, liveKeys, payload);
  if (!check.valid) {
    deps.effects.signatureFailure(check.reason);
    rejectEarly(deps, ctx, facts, { code: 'invalid_signature', details: { signature_problem: check.reason } });
  }

  const importedAt = toTimestamp(now);
  const outcome = heldBackOr(() =>
    sqlite
      .transaction((): { result: ImportResult } | { rejection: Rejection } => {
        const state = readState(sqlite, issuer);
        const reject = (rejection: Rejection) => {
          rejectionAudit(sqlite, deps, ctx, facts, rejection);
          return { rejection };
        };

        // 4. Paused issuer.
        if (state.paused) return reject({ code: 'issuer_paused', details: {} });

        // 5. A known sequence: identical bytes are a no-op; anything else validly signed is equivocation.
        if (feed.sequence <= state.last_sequence) {
          const storedRow = readImportedFeed(sqlite, issuer, feed.sequence);
          const stored = storedRow?.feed_hash ?? null;
          // The same signed content with a different signature list (an added or dropped entry) is not a
          // second statement by the issuer: anyone can append a signature entry, so it must not pause the issuer.
          const sameContent =
            storedRow !== undefined && stored !== feedHash && (storedRow.signed_hash ?? signedPartHash(storedRow.body)) === signedHash;
          if (stored === feedHash || sameContent) {
            auditImported(sqlite, deps.clock, ctx, { issuer, sequence: feed.sequence, feedHash }, 'already_imported', 0, sourceOf(ctx));
            return {
              result: {
                accepted: true,
                status: 'already_imported',
                issuer_sovereign_id: issuer,
                sequence: feed.sequence,
                revoked_count: 0,
                feed_hash: feedHash,
              },
            };
          }
          const evidence = {
            issuer,
            sequence: feed.sequence,
            knownFeedHash: stored,
            conflictingFeedHash: feedHash,
            conflictingBody: body,
            detectedAt: importedAt,
          };
          recordEquivocation(sqlite, deps.clock, ctx, evidence, sourceOf(ctx));
          return reject({ code: 'equivocation', details: { known_feed_hash: stored, conflicting_feed_hash: feedHash } });
        }

        // 6. No gaps: the first import is sequence 1, then +1.
        const expected = state.last_sequence + 1;
        if (feed.sequence !== expected) return reject({ code: 'sequence_gap', details: { expected } });

        // 7. Hash chain: version 2 links to what the issuer signed, version 1 to the whole feed as imported.
        const expectedPrevious = feed.version === 1 ? state.last_feed_hash : previousSignedHash(sqlite, issuer, state);
        if (feed.previous_feed_hash !== expectedPrevious) {
          return reject({ code: 'chain_mismatch', details: { version: feed.version, expected_previous_feed_hash: expectedPrevious } });
        }

        // 8. Contiguous indexes from the issuer's log size; recomputed root = announced root.
        const entries = feed.entries;
        for (let i = 0; i < entries.length; i++) {
          if (entries[i]!.index !== state.log_size + i) {
            return reject({
              code: 'log_root_mismatch',
              details: { problem: 'non_contiguous_indexes', expected_index: state.log_size + i, position: i },
            });
          }
        }
        if (feed.log.size !== state.log_size + entries.length) {
          return reject({
            code: 'log_root_mismatch',
            details: { problem: 'log_size_mismatch', expected_log_size: state.log_size + entries.length },
          });
        }
        const frontier = appendLeafDigests({ size: state.log_size, hashes: JSON.parse(state.frontier) as string[] }, canonical.leaves);
        const root = `sha256:${frontierRoot(frontier)}`;
        if (root !== feed.log.root_hash)
          return reject({ code: 'log_root_mismatch', details: { problem: 'root_mismatch', computed_root_hash: root } });

        // 8b. The issuer's consistency proof agrees (required once the issuer has served one).
        const unproven = checkFeedConsistency(sqlite, {
          issuer,
          sequence: feed.sequence,
          previous: { size: state.log_size, frontier: state.frontier },
          next: feed.log,
          proof: ctx.consistencyProof,
          at: importedAt,
        });
        if (unproven) return reject(unproven);

        // 9. Timestamps.
        const issuedAt = parseTimestamp(feed.issued_at)!;
        const nextUpdate = parseTimestamp(feed.next_update)!;
        if (issuedAt.getTime() > now.getTime() + deps.config.clockSkewSeconds * 1000) {
          return reject({
            code: 'invalid_timestamps',
            details: { problem: 'issued_at_in_future', max_skew_seconds: deps.config.clockSkewSeconds },
          });
        }
        if (state.last_issued_at && issuedAt.getTime() < parseTimestamp(state.last_issued_at)!.getTime()) {
          return reject({
            code: 'invalid_timestamps',
            details: { problem: 'issued_at_before_previous', previous_issued_at: state.last_issued_at },
          });
        }
        if (nextUpdate.getTime() <= issuedAt.getTime())
          return reject({ code: 'invalid_timestamps', details: { problem: 'next_update_not_after_issued_at' } });

        // 9b. With a quorum policy: the head is in a checkpoint cosigned by the quorum of its witnesses.
        // Held back, the feed changes nothing (not even the proof state of 8b): the transaction is undone.
        const quorum = checkFeedQuorum(sqlite, {
          issuer,
          keys: liveKeys,
          head: { size: frontier.size, rootHash: root },
          witnessed: ctx.witnessed,
          now,
          skewSeconds: deps.config.clockSkewSeconds,
        });
        if (quorum !== null && !quorum.ok) throw new HeldBack(quorum);

        // 10. Apply.
        const record = {
          issuer,
          sequence: feed.sequence,
          feedHash,
          signedHash,
          body,
          importedAt,
          issuedAt: feed.issued_at,
          headIssuedAt: feed.issued_at,
          nextUpdate: feed.next_update,
          logSize: frontier.size,
          frontier: JSON.stringify(frontier.hashes),
          revocations: entries,
        };
        recordAcceptedFeed(sqlite, deps.clock, ctx, record, entries.length, {
          log_size: frontier.size,
          root_hash: root,
          ...sourceOf(ctx),
          ...(quorum
            ? { quorum: { required: quorum.quorum, cosigned_by: quorum.cosigned_by, witnessed_size: quorum.witnessed_size } }
            : {}),
        });
        if (quorum) leaveAwaitingQuorum(sqlite, deps.clock, ctx, issuer, feed.sequence, quorum);
        return {
          result: {
            accepted: true,
            status: 'imported',
            issuer_sovereign_id: issuer,
            sequence: feed.sequence,
            revoked_count: entries.length,
            feed_hash: feedHash,
          },
        };
      })
      .immediate(),
  );

  if ('heldBack' in outcome) {
    // The pull job records the state once (the audit event on entering it); a manual import changes nothing.
    if (ctx.via === 'pull') enterAwaitingQuorum(sqlite, deps.clock, ctx, issuer, feed.sequence, outcome.heldBack);
    deps.effects.counted(issuer, 'awaiting_quorum');
    const { ok: _ok, ...details } = outcome.heldBack;
    throw new AppError('awaiting_quorum', MESSAGES.awaiting_quorum, { reason: 'awaiting_quorum', ...details });
  }
  if ('rejection' in outcome) {
    deps.effects.counted(issuer, outcome.rejection.code);
    if (outcome.rejection.code === 'equivocation') deps.effects.equivocation(issuer, feed.sequence);
    throw rejectionError(outcome.rejection);
  }
  deps.effects.counted(issuer, outcome.result.status);
  if (outcome.result.status === 'imported') deps.effects.imported(issuer, feed.sequence);
  return outcome.result;
}
