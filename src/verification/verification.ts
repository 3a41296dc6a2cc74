// Verifying treaties and attestations against this authority's own treaties, revocations and imported feeds.
import type { AppDeps, AuthorityIdentity } from '../authority/context.ts';
import {
  parsePublicKey,
  signatureCandidates,
  signingPayload,
  verifySignedObject,
  verifyWithKey,
  verifyWithKeyAsync,
  type PublicKeyInfo,
  type SignatureCandidates,
} from '../authority/crypto.ts';
import { validate } from '../authority/http.ts';
import {
  feedStatusAt,
  findImportedRevocation,
  hasImportedRevocations,
  importedRevokedIds,
  issuerFeedRow,
  type IssuerFeedRow,
} from '../feeds/imported-revocations.ts';
import { ownAttestationRevocation } from '../treaties/attestations.ts';
import { IDENTIFIER_PATTERN } from '../authority/identifiers.ts';
import { checkPublicKey } from '../treaties/issuance-checks.ts';
import {
  acceptsMembershipAttestation,
  acceptsVerifyAttestationInput,
  membershipAttestationSchema,
  recognitionTreatySchema,
  verifyAttestationInputSchema,
  verifyTreatyInputSchema,
  type MembershipAttestation,
  type RecognitionTreaty,
} from '../treaties/model.ts';
import {
  GENESIS_MESH_PROFILE,
  gmWindowAt,
  verifyGmSignature,
  type GmAttestation,
  type GmTreaty,
  type WireProfile,
} from '../interop/gm-model.ts';
import { claimedIssuer, gmValidSigners, parseGmAttestation, parseGmTreaty, profileOfTreaties, wireProfileOf } from '../interop/profile.ts';
import { everRecognized, inWindow, unrevokedTreatiesFor, type RecognizedTreaty } from '../treaties/recognition.ts';
import { statements, type RevocationRow } from '../treaties/store.ts';

export type TreatyVerifyReason =
  | 'accepted'
  | 'unknown_issuer'
  | 'issuer_not_recognized'
  | 'invalid_signature'
  | 'wrong_issuer'
  | 'wrong_subject'
  | 'signing_key_revoked'
  | 'not_active'
  | 'revoked'
  | 'revoked_by_issuer_feed'
  | 'not_yet_valid'
  | 'expired';

export interface TreatyVerification {
  accepted: boolean;
  reason: TreatyVerifyReason;
  warnings: string[];
  treaty_id: string;
  issuer_sovereign_id: string;
  subject_sovereign_id: string;
  /** key_id of the issuer key whose signature verified; null when none did. */
  signed_by: string | null;
}

export type AttestationVerifyReason =
  | 'accepted'
  | 'unknown_issuer'
  | 'issuer_not_recognized'
  | 'treaty_not_recognized'
  | 'treaty_subject_mismatch'
  | 'treaty_not_in_force'
  | 'invalid_signature'
  | 'signing_key_revoked'
  | 'revoked'
  | 'revoked_by_issuer_feed'
  | 'not_yet_valid'
  | 'expired'
  | 'role_not_in_scope'
  | 'status_not_accepted';

export interface AttestationVerification {
  accepted: boolean;
  reason: AttestationVerifyReason;
  warnings: string[];
  treaty_id: string | null;
  attestation_id: string;
  issuer_sovereign_id: string;
  subject_id: string;
  signed_by: string | null;
}

const ownKeysCache = new WeakMap<AuthorityIdentity, { fingerprint: string; keys: PublicKeyInfo[] }>();

/** This authority's published and signing keys, parsed once per key set. */
export function ownKeys(identity: AuthorityIdentity): PublicKeyInfo[] {
  const texts = [...identity.publishedKeys.map((k) => k.public_key), ...identity.signingKeys.map((k) => k.publicKey)];
  const fingerprint = texts.join(',');
  const cached = ownKeysCache.get(identity);
  if (cached && cached.fingerprint === fingerprint) return cached.keys;
  const keys = new Map<string, PublicKeyInfo>();
  for (const text of texts) {
    const parsed = parsePublicKey(text);
    if (parsed.ok) keys.set(parsed.key.keyId, parsed.key);
  }
  const entry = { fingerprint, keys: [...keys.values()] };
  ownKeysCache.set(identity, entry);
  return entry.keys;
}

interface IssuerEntry {
  /** Unrevoked treaties unexpired at `loadedAtMs`; filtered by window again on each use. */
  treaties: Array<RecognizedTreaty & { profile: string }>;
  ever: boolean;
  /** Wire profile: picks the schema and canonical form of the issuer's objects. */
  profile: WireProfile;
  /** Stored import state of the issuer's feed; its staleness is judged at request time. */
  feed: IssuerFeedRow | null;
  /** key_ids the issuer revoked in its imported feeds. */
  revokedKeys: Set<string>;
  /** Whether any of the issuer's attestations is revoked in its imported feeds (else no lookup is needed). */
  revokesAttestations: boolean;
  loadedAtMs: number;
}

const ISSUER_CACHE_TTL_MS = 60_000;
const ISSUER_CACHE_LIMIT = 10_000;

/**
 * What verification needs to know about an issuer (recognizing treaties, wire profile, feed state,
 * revoked keys), per issuer, dropped on every change that could alter it ('treaties', 'revocation',
 * 'feed-imported' (imports, pauses, rollbacks), 'peers') and after a minute of clock time. Entries
 * keep each treaty's window and the feed's next_update, judged at request time, so a cached entry
 * stays correct when the clock crosses a validity boundary.
 */
class IssuerCache {
  private entries = new Map<string, IssuerEntry>();

  constructor(private readonly deps: AppDeps) {
    const clear = () => this.entries.clear();
    for (const event of ['treaties', 'revocation', 'feed-imported', 'peers'] as const) deps.changes.on(event, clear);
  }

  get(issuer: string, now: Date): IssuerEntry {
    const nowMs = now.getTime();
    const hit = this.entries.get(issuer);
    // A clock moved backwards could revive treaties the cached query already dropped as expired.
    if (hit && nowMs >= hit.loadedAtMs && nowMs - hit.loadedAtMs < ISSUER_CACHE_TTL_MS) return hit;
    const sqlite = this.deps.db.sqlite;
    const treaties = unrevokedTreatiesFor(sqlite, issuer, now);
    const entry: IssuerEntry = {
      treaties,
      ever: everRecognized(sqlite, issuer),
      profile: wireProfileOf(sqlite, issuer, profileOfTreaties(treaties)),
      feed: issuerFeedRow(sqlite, issuer),
      revokedKeys: importedRevokedIds(sqlite, issuer, 'public_key'),
      revokesAttestations: hasImportedRevocations(sqlite, issuer, 'membership_attestation'),
      loadedAtMs: nowMs,
    };
    if (this.entries.size >= ISSUER_CACHE_LIMIT) this.entries.clear();
    this.entries.set(issuer, entry);
    return entry;
  }
}

const issuerCaches = new WeakMap<AppDeps, IssuerCache>();

function issuerCache(deps: AppDeps): IssuerCache {
  let cache = issuerCaches.get(deps);
  if (!cache) {
    cache = new IssuerCache(deps);
    issuerCaches.set(deps, cache);
  }
  return cache;
}

/** Whether the object's claimed issuer is a foreign sovereign recognized under the genesis-mesh wire profile. */
function isGenesisMeshIssuer(deps: AppDeps, raw: unknown, now: Date): boolean {
  const issuer = claimedIssuer(raw);
  if (issuer === null || issuer === deps.identity.sovereignId || !IDENTIFIER_PATTERN.test(issuer)) return false;
  return issuerCache(deps).get(issuer, now).profile === GENESIS_MESH_PROFILE;
}

/**
 * Where `now` falls in an object's validity window. accord/1: from `valid_from` (included) to
 * `expires_at` (excluded), widened on both sides by `ACCORD_VALIDITY_SKEW_S`. genesis-mesh: as GM
 * judges it, 5 minutes on both sides, both ends included.
 */
function windowAt(
  deps: AppDeps,
  object: { valid_from: string; expires_at: string },
  now: Date,
  gm: boolean,
): 'in_window' | 'not_yet_valid' | 'expired' {
  if (gm) return gmWindowAt(object, now);
  const skewMs = deps.config.validitySkewSeconds * 1000;
  const nowMs = now.getTime();
  if (nowMs < Date.parse(object.valid_from) - skewMs) return 'not_yet_valid';
  if (nowMs >= Date.parse(object.expires_at) + skewMs) return 'expired';
  return 'in_window';
}

function recordSignatureFailure(deps: AppDeps, surface: string, reason: string): void {
  deps.metrics.signatureVerificationFailures.inc({ surface, reason });
}

function feedWarnings(entry: IssuerEntry, now: Date): string[] {
  if (!entry.feed) return ['issuer_feed_unknown'];
  return feedStatusAt(entry.feed, now).stale ? ['issuer_feed_stale'] : [];
}

/**
 * Verifies a signed treaty. The signature is checked before anything that depends on local state
 * (revocations, feeds). Keys: `issuer_public_keys` if given, else this authority's keys when it is
 * the issuer, else the keys this authority recognizes for the issuer now.
 */
export function verifyTreaty(deps: AppDeps, rawInput: unknown): TreatyVerification {
  const input = validate(verifyTreatyInputSchema, rawInput, 'invalid_treaty', 'verify request failed validation');
  const now = deps.clock();
  // Wire profile of the issuer (set by the operator on the recognizing treaty) picks schema and canonical form.
  const gm = isGenesisMeshIssuer(deps, input.treaty, now);
  const treaty: RecognitionTreaty | GmTreaty = gm
    ? parseGmTreaty(input.treaty)
    : validate(recognitionTreatySchema, input.treaty, 'invalid_treaty', 'treaty failed validation');
  const provided = input.issuer_public_keys?.map((k, i) => checkPublicKey(k, 'issuer_public_keys', i));
  const self = deps.identity.sovereignId;
  const issuer = treaty.issuer_sovereign_id;
  const isOwn = issuer === self;
  const base = { treaty_id: treaty.treaty_id, issuer_sovereign_id: issuer, subject_sovereign_id: treaty.subject_sovereign_id };
  const warnings: string[] = [];
  const answer = (reason: TreatyVerifyReason, signedBy: string | null): TreatyVerification => ({
    accepted: reason === 'accepted',
    reason,
    warnings,
    ...base,
    signed_by: signedBy,
  });

  let keys: PublicKeyInfo[];
  if (provided) keys = provided;
  else if (isOwn) keys = ownKeys(deps.identity);
  else {
    const entry = issuerCache(deps).get(issuer, now);
    const seen = new Map<string, PublicKeyInfo>();
    for (const t of entry.treaties) if (inWindow(t, now.getTime())) for (const k of t.keys) seen.set(k.keyId, k);
    keys = [...seen.values()];
    if (keys.length === 0) return answer(entry.ever ? 'issuer_not_recognized' : 'unknown_issuer', null);
  }
  // A GM signature is checked over the treaty as sent: its number texts are part of the signed bytes.
  const check = gm
    ? verifyGmSignature(input.treaty as Record<string, unknown>, 'recognition_treaty', keys)
    : verifySignedObject(treaty, keys);
  if (!check.valid) {
    recordSignatureFailure(deps, 'treaty_verify', check.reason);
    return answer('invalid_signature', null);
  }
  if (input.expected_issuer !== undefined && input.expected_issuer !== issuer) return answer('wrong_issuer', check.keyId);
  if (input.expected_subject !== undefined && input.expected_subject !== treaty.subject_sovereign_id)
    return answer('wrong_subject', check.keyId);
  if (!isOwn) {
    if ((treaty.scope.allowed_roles ?? []).length === 0) warnings.push('scope_unrestricted');
    const entry = issuerCache(deps).get(issuer, now);
    warnings.push(...feedWarnings(entry, now));
    if (entry.revokedKeys.has(check.keyId)) return answer('signing_key_revoked', check.keyId);
  }
  if (treaty.status !== 'active') return answer('not_active', check.keyId);
  if (isOwn) {
    const revocation = statements(deps.db.sqlite).treatyRevocation.get(treaty.treaty_id) as RevocationRow | undefined;
    if (revocation) return answer('revoked', check.keyId);
  } else if (findImportedRevocation(deps.db.sqlite, issuer, 'recognition_treaty', treaty.treaty_id)) {
    return answer('revoked_by_issuer_feed', check.keyId);
  }
  const window = windowAt(deps, treaty, now, gm);
  if (window !== 'in_window') return answer(window, check.keyId);
  return answer('accepted', check.keyId);
}

/** The well-formed signatures by allowed keys of an object, and the payload they sign. */
interface SignerQuery {
  payload: Buffer;
  candidates: SignatureCandidates['candidates'];
}

function signerQuery(object: { signatures?: unknown }, keys: ReadonlyMap<string, PublicKeyInfo>, payload: Buffer): SignerQuery {
  const listed = signatureCandidates(object, keys);
  return { payload, candidates: 'reason' in listed ? [] : listed.candidates };
}

/** Every allowed key with a valid signature on the object, in signature order. */
function validSigners(query: SignerQuery): string[] {
  return query.candidates.filter((c) => verifyWithKey(c.key, query.payload, c.sig)).map((c) => c.key.keyId);
}

async function validSignersAsync(query: SignerQuery): Promise<string[]> {
  const valid = await Promise.all(query.candidates.map((c) => verifyWithKeyAsync(c.key, query.payload, c.sig)));
  return query.candidates.filter((_, i) => valid[i]).map((c) => c.key.keyId);
}

/**
 * Verifies a membership attestation with this authority's own treaties: its issuer must be
 * recognized by an in-force treaty whose keys verify it (or it is this authority's own), its roles
 * within that treaty's scope, its status accepted, inside its window, and revoked neither here nor in
 * the issuer's imported feed. One stable reason code per failure.
 */
export function verifyAttestation(deps: AppDeps, rawInput: unknown): AttestationVerification {
  const steps = attestationVerification(deps, rawInput);
  let step = steps.next();
  while (!step.done) step = steps.next(validSigners(step.value));
  return step.value;
}

function attestationAnswer(
  attestation: { attestation_id: string; issuer_sovereign_id: string; subject_id: string },
  warnings: string[],
  reason: AttestationVerifyReason,
  treatyId: string | null,
  signedBy: string | null,
): AttestationVerification {
  return {
    accepted: reason === 'accepted',
    reason,
    warnings,
    treaty_id: treatyId,
    attestation_id: attestation.attestation_id,
    issuer_sovereign_id: attestation.issuer_sovereign_id,
    subject_id: attestation.subject_id,
    signed_by: signedBy,
  };
}

/** The first in-force treaty naming the key. */
function treatyNaming(candidates: RecognizedTreaty[], keyId: string): string | null {
  return candidates.find((t) => t.keys.some((k) => k.keyId === keyId))?.treatyId ?? null;
}

/** `verifyAttestation` with the signature checks on the thread pool (the HTTP route). */
export async function verifyAttestationAsync(deps: AppDeps, rawInput: unknown): Promise<AttestationVerification> {
  const steps = attestationVerification(deps, rawInput);
  let step = steps.next();
  while (!step.done) step = steps.next(await validSignersAsync(step.value));
  return step.value;
}

/** The verification, yielding where it needs the valid signers of the attestation (checked by the caller). */
function* attestationVerification(deps: AppDeps, rawInput: unknown): Generator<SignerQuery, AttestationVerification, string[]> {
  const input = acceptsVerifyAttestationInput(rawInput)
    ? rawInput
    : validate(verifyAttestationInputSchema, rawInput, 'invalid_attestation', 'verify request failed validation');
  const now = deps.clock();
  const gm = isGenesisMeshIssuer(deps, input.attestation, now);
  const attestation: MembershipAttestation | GmAttestation = gm
    ? parseGmAttestation(input.attestation)
    : acceptsMembershipAttestation(input.attestation)
      ? input.attestation
      : validate(membershipAttestationSchema, input.attestation, 'invalid_attestation', 'attestation failed validation');
  const presented: RecognitionTreaty | undefined =
    input.treaty === undefined ? undefined : validate(recognitionTreatySchema, input.treaty, 'invalid_treaty', 'treaty failed validation');
  const nowMs = now.getTime();
  const self = deps.identity.sovereignId;
  const issuer = attestation.issuer_sovereign_id;
  const warnings: string[] = [];
  const answer = (reason: AttestationVerifyReason, treatyId: string | null, signedBy: string | null) =>
    attestationAnswer(attestation, warnings, reason, treatyId, signedBy);
  // GM objects are checked over their own canonical form (below); JCS may not even exist for them (floats).
  const payload = gm ? null : signingPayload(attestation);

  if (issuer === self && presented === undefined) {
    const check = verifySignedObject(attestation, ownKeys(deps.identity), payload!);
    if (!check.valid) {
      recordSignatureFailure(deps, 'attestation_verify', check.reason);
      return answer('invalid_signature', null, null);
    }
    if (ownAttestationRevocation(deps, attestation.attestation_id)) return answer('revoked', null, check.keyId);
    const window = windowAt(deps, attestation, now, false);
    if (window !== 'in_window') return answer(window, null, check.keyId);
    if (attestation.status !== 'active') return answer('status_not_accepted', null, check.keyId);
    return answer('accepted', null, check.keyId);
  }

  const entry = issuerCache(deps).get(issuer, now);
  let candidates = entry.treaties.filter((t) => inWindow(t, nowMs) && t.status === 'active');
  if (presented) {
    if (presented.issuer_sovereign_id !== self || !verifySignedObject(presented, ownKeys(deps.identity)).valid)
      return answer('treaty_not_recognized', presented.treaty_id, null);
    if (presented.subject_sovereign_id !== issuer) return answer('treaty_subject_mismatch', presented.treaty_id, null);
    candidates = candidates.filter((t) => t.treatyId === presented.treaty_id);
    if (candidates.length === 0) return answer('treaty_not_in_force', presented.treaty_id, null);
  }
  if (candidates.length === 0) return answer(entry.ever ? 'issuer_not_recognized' : 'unknown_issuer', null, null);

  const keys = new Map<string, PublicKeyInfo>();
  for (const t of candidates) for (const k of t.keys) keys.set(k.keyId, k);
  const signers = gm
    ? gmValidSigners(input.attestation as Record<string, unknown>, 'membership_attestation', [...keys.values()])
    : yield signerQuery(attestation, keys, payload!);
  if (signers.length === 0) {
    recordSignatureFailure(deps, 'attestation_verify', 'invalid_signature');
    return answer('invalid_signature', null, null);
  }
  warnings.push(...feedWarnings(entry, now));
  const liveSigners = signers.filter((keyId) => !entry.revokedKeys.has(keyId));
  if (liveSigners.length === 0) return answer('signing_key_revoked', treatyNaming(candidates, signers[0]!), signers[0]!);
  const signedBy = liveSigners[0]!;
  const fail = (reason: AttestationVerifyReason) => answer(reason, treatyNaming(candidates, signedBy), signedBy);
  if (entry.revokesAttestations && findImportedRevocation(deps.db.sqlite, issuer, 'membership_attestation', attestation.attestation_id))
    return fail('revoked_by_issuer_feed');
  const window = windowAt(deps, attestation, now, gm);
  if (window !== 'in_window') return fail(window);

  // Among in-force treaties naming a key that signed: one must cover the roles and accept the status.
  const covering = candidates.filter((t) => t.keys.some((k) => liveSigners.includes(k.keyId)));
  const roles = attestation.roles ?? [];
  const inScope = covering.filter((t) => t.allowedRoles === null || roles.every((r) => t.allowedRoles!.has(r)));
  if (inScope.length === 0) return answer('role_not_in_scope', covering[0]?.treatyId ?? null, signedBy);
  const accepting = inScope.find((t) => t.acceptedStatuses.has(attestation.status));
  if (!accepting) return answer('status_not_accepted', inScope[0]!.treatyId, signedBy);
  if (accepting.allowedRoles === null) warnings.push('scope_unrestricted');
  const signer = liveSigners.find((keyId) => accepting.keys.some((k) => k.keyId === keyId))!;
  return answer('accepted', accepting.treatyId, signer);
}
