// Wire model of the treaties domain: strict zod schemas and types of RecognitionTreaty and MembershipAttestation (SPEC §4).
import { z } from 'zod';
import { IDENTIFIER_PATTERN, identifier } from '../authority/identifiers.ts';
import { signableProblem } from '../authority/canonical-json.ts';
import { isTimestamp } from '../authority/clock.ts';

/** Treaty and attestation ids: lowercase UUID v4. */
export const UUID_V4_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const KEY_ID_PATTERN = /^sha256:[0-9a-f]{64}$/;
/** `role:anchor | role:bridge | role:client | role:operator | role:service:<name>`. */
export const ROLE_PATTERN = /^role:(?:anchor|bridge|client|operator|service:[A-Za-z0-9][A-Za-z0-9._-]{0,63})$/;
/** Attestation statuses named in `accepted_statuses` (this authority only issues "active"). */
export const STATUS_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;

export const MAX_SUBJECT_KEYS = 16;
export const MAX_ROLES = 32;
export const MAX_STATUSES = 16;
export const MAX_METADATA_ENTRIES = 64;
export const MAX_SIGNATURES = 16;

export const uuidV4 = z.string().regex(UUID_V4_PATTERN, 'must be a lowercase UUID v4');
export const keyId = z.string().regex(KEY_ID_PATTERN, 'must be sha256: followed by 64 lowercase hex digits');
export const role = z.string().regex(ROLE_PATTERN, 'must be role:anchor|bridge|client|operator or role:service:<name>');
export const status = z.string().regex(STATUS_PATTERN, 'must match ^[a-z][a-z0-9_]{0,31}$');
/** RFC 3339 UTC with second precision, and a real calendar instant. */
export const timestamp = z
  .string()
  .refine(isTimestamp, 'must be an RFC 3339 UTC timestamp with second precision, e.g. 2026-01-01T00:00:00Z');
/** Base64 of a 32-byte key; point validity is checked separately (it needs the crypto module). */
export const publicKeyText = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be standard base64 of 32 bytes');

/** Any JSON value that can be signed (no floats, no unsafe integers, no lone surrogates). */
const signableRecord = z.record(z.string(), z.json()).superRefine((value, ctx) => {
  const problem = signableProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const distinct = (values: string[]) => new Set(values).size === values.length;

export const signatureEntry = z.strictObject({ key_id: keyId, sig: z.string().min(1).max(200) });
/** A key signs once: a repeated key_id is malformed, not a second vote. */
const signatures = z
  .array(signatureEntry)
  .min(1)
  .max(MAX_SIGNATURES)
  .refine((list) => distinct(list.map((s) => s.key_id)), 'each key_id may sign once');

export const treatyScope = z.strictObject({
  /** Empty means "any role" in the reference; this authority never issues that and flags it on verify. */
  allowed_roles: z.array(role).max(MAX_ROLES).refine(distinct, 'roles must be distinct'),
  accepted_statuses: z.array(status).min(1).max(MAX_STATUSES).refine(distinct, 'statuses must be distinct'),
  claims: signableRecord,
});

export const metadata = z
  .record(z.string().min(1).max(128), z.string().max(1024))
  .refine((m) => Object.keys(m).length <= MAX_METADATA_ENTRIES, `at most ${MAX_METADATA_ENTRIES} metadata entries`)
  .superRefine((value, ctx) => {
    const problem = signableProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const windowOrdered = (o: { valid_from: string; expires_at: string }) => o.expires_at > o.valid_from;

/** A signed RecognitionTreaty exactly as on the wire. All fields are required: defaults are filled in before signing. */
export const recognitionTreatySchema = z
  .strictObject({
    treaty_id: uuidV4,
    issuer_sovereign_id: identifier,
    subject_sovereign_id: identifier,
    subject_public_keys: z.array(publicKeyText).min(1).max(MAX_SUBJECT_KEYS).refine(distinct, 'keys must be distinct'),
    scope: treatyScope,
    status: status,
    issued_at: timestamp,
    valid_from: timestamp,
    expires_at: timestamp,
    issued_by: keyId,
    metadata: metadata,
    signatures: signatures,
  })
  .refine(windowOrdered, { message: 'expires_at must be after valid_from', path: ['expires_at'] });

export type RecognitionTreaty = z.infer<typeof recognitionTreatySchema>;
export type UnsignedRecognitionTreaty = Omit<RecognitionTreaty, 'signatures'>;

/**
 * A signed MembershipAttestation exactly as on the wire. `subject_public_key` is the one optional
 * field; this authority writes `null` when there is no subject key, because Genesis Mesh verifiers
 * fill that default in before checking and would otherwise check other bytes. Omitted is still read.
 */
export const membershipAttestationSchema = z
  .strictObject({
    attestation_id: uuidV4,
    issuer_sovereign_id: identifier,
    subject_id: identifier,
    subject_public_key: publicKeyText.nullable().optional(),
    roles: z.array(role).min(1).max(MAX_ROLES).refine(distinct, 'roles must be distinct'),
    status: status,
    issued_at: timestamp,
    valid_from: timestamp,
    expires_at: timestamp,
    issued_by: keyId,
    claims: signableRecord,
    signatures: signatures,
  })
  .refine(windowOrdered, { message: 'expires_at must be after valid_from', path: ['expires_at'] });

export type MembershipAttestation = z.infer<typeof membershipAttestationSchema>;
export type UnsignedMembershipAttestation = Omit<MembershipAttestation, 'signatures'>;

// ---- Fast acceptance. Verification parses an attestation on every request; these checks accept
// only what the schema accepts, and anything they do not accept goes through the schema, which
// then produces the error. A property test holds them to that.

const ATTESTATION_FIELDS = new Set([
  'attestation_id',
  'issuer_sovereign_id',
  'subject_id',
  'subject_public_key',
  'roles',
  'status',
  'issued_at',
  'valid_from',
  'expires_at',
  'issued_by',
  'claims',
  'signatures',
]);
const PUBLIC_KEY_TEXT = /^[A-Za-z0-9+/]{43}=$/;

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && !Object.hasOwn(value, '__proto__');
}

/** Whether a JSON value holds an own `__proto__` key at any depth (the schema's copy drops those). */
function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasProtoKey);
  return Object.hasOwn(value, '__proto__') || Object.values(value).some(hasProtoKey);
}

const matches = (pattern: RegExp, value: unknown): boolean => typeof value === 'string' && pattern.test(value);
const isTimestampText = (value: unknown): value is string => typeof value === 'string' && isTimestamp(value);

function distinctMatching(list: unknown, pattern: RegExp, min: number, max: number): boolean {
  if (!Array.isArray(list) || list.length < min || list.length > max) return false;
  for (const item of list) if (!matches(pattern, item)) return false;
  return distinct(list as string[]);
}

function acceptsSignatures(list: unknown): boolean {
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_SIGNATURES) return false;
  const ids = new Set<string>();
  for (const entry of list) {
    if (!isPlainRecord(entry)) return false;
    const keys = Object.keys(entry);
    if (
      keys.length !== 2 ||
      !matches(KEY_ID_PATTERN, entry.key_id) ||
      typeof entry.sig !== 'string' ||
      entry.sig.length < 1 ||
      entry.sig.length > 200
    )
      return false;
    ids.add(entry.key_id as string);
  }
  return ids.size === list.length;
}

/** True only for values `membershipAttestationSchema` accepts unchanged (false means: ask the schema). */
export function acceptsMembershipAttestation(value: unknown): value is MembershipAttestation {
  if (!isPlainRecord(value)) return false;
  let count = 0;
  for (const key of Object.keys(value)) {
    if (!ATTESTATION_FIELDS.has(key)) return false;
    count++;
  }
  const v = value;
  const optionalKey = Object.hasOwn(v, 'subject_public_key');
  if (count !== ATTESTATION_FIELDS.size - (optionalKey ? 0 : 1)) return false;
  if (optionalKey && v.subject_public_key !== null && !matches(PUBLIC_KEY_TEXT, v.subject_public_key)) return false;
  return (
    matches(UUID_V4_PATTERN, v.attestation_id) &&
    matches(IDENTIFIER_PATTERN, v.issuer_sovereign_id) &&
    matches(IDENTIFIER_PATTERN, v.subject_id) &&
    distinctMatching(v.roles, ROLE_PATTERN, 1, MAX_ROLES) &&
    matches(STATUS_PATTERN, v.status) &&
    isTimestampText(v.issued_at) &&
    isTimestampText(v.valid_from) &&
    isTimestampText(v.expires_at) &&
    v.expires_at > v.valid_from &&
    matches(KEY_ID_PATTERN, v.issued_by) &&
    isPlainRecord(v.claims) &&
    signableProblem(v.claims) === null &&
    !hasProtoKey(v.claims) &&
    acceptsSignatures(v.signatures)
  );
}

// ---- Admin request bodies. Shapes only: grammar of roles, keys and windows is checked by the
// service so each failure gets its own error code.

const validityFields = {
  validity_hours: z
    .number()
    .int()
    .min(1)
    .max(3650 * 24)
    .optional(),
  valid_from: z.string().optional(),
  expires_at: z.string().optional(),
};

export const SUBJECT_PROFILES = ['accord/1', 'genesis-mesh'] as const;
export type SubjectProfile = (typeof SUBJECT_PROFILES)[number];

export const issueTreatyInputSchema = z.strictObject({
  /** Optional: when given it must be this authority (an admin cannot issue in another sovereign's name). */
  issuer_sovereign_id: z.string().optional(),
  subject_sovereign_id: identifier,
  subject_public_keys: z.array(z.string()).max(64),
  scope: z.strictObject({
    allowed_roles: z.array(z.string()).max(64),
    accepted_statuses: z.array(status).min(1).max(MAX_STATUSES).refine(distinct, 'statuses must be distinct').optional(),
    claims: signableRecord.optional(),
  }),
  ...validityFields,
  metadata: metadata.optional(),
  /** Local setting: the subject's wire profile (used to verify its objects and read its feeds). Not part of the signed treaty. */
  profile: z.enum(SUBJECT_PROFILES).optional(),
});
export type IssueTreatyInput = z.infer<typeof issueTreatyInputSchema>;

/** Supersede takes new terms; the subject defaults to (and must equal) the old treaty's subject. */
export const supersedeTreatyInputSchema = issueTreatyInputSchema.extend({
  subject_sovereign_id: identifier.optional(),
  incident: identifier.optional(),
});
export type SupersedeTreatyInput = z.infer<typeof supersedeTreatyInputSchema>;

export const issueAttestationInputSchema = z.strictObject({
  issuer_sovereign_id: z.string().optional(),
  subject_id: identifier,
  subject_public_key: z.string().optional(),
  roles: z.array(z.string()).max(64),
  ...validityFields,
  claims: signableRecord.optional(),
});
export type IssueAttestationInput = z.infer<typeof issueAttestationInputSchema>;

/** Reasons an operator may give; `superseded` is set only by the supersede operation. */
export const OPERATOR_REVOCATION_REASONS = [
  'unspecified',
  'key_compromise',
  'affiliation_changed',
  'cessation_of_operation',
  'privilege_withdrawn',
  'policy_violation',
] as const;

/** Incident labels share the identifier grammar so they travel safely in revocation feeds. */
const incident = identifier;

export const revokeInputSchema = z.strictObject({
  reason: z.string(),
  incident: incident.optional(),
  /** When the revoked material stopped being trustworthy, if before the revocation (SPEC §5). */
  invalid_since: timestamp.optional(),
});
export type RevokeInput = z.infer<typeof revokeInputSchema>;

export const revokeByOperatorInputSchema = z.strictObject({
  key_id: keyId,
  since: timestamp.optional(),
  until: timestamp.optional(),
  reason: z.string(),
  incident: incident.optional(),
});
export type RevokeByOperatorInput = z.infer<typeof revokeByOperatorInputSchema>;

export const verifyTreatyInputSchema = z.strictObject({
  treaty: z.unknown(),
  issuer_public_keys: z.array(z.string()).min(1).max(MAX_SUBJECT_KEYS).optional(),
  expected_issuer: identifier.optional(),
  expected_subject: identifier.optional(),
});

export const verifyAttestationInputSchema = z.strictObject({
  attestation: z.unknown(),
  treaty: z.unknown().optional(),
});

/** True only for request bodies `verifyAttestationInputSchema` accepts unchanged. */
export function acceptsVerifyAttestationInput(value: unknown): value is z.infer<typeof verifyAttestationInputSchema> {
  if (!isPlainRecord(value) || !Object.hasOwn(value, 'attestation')) return false;
  for (const key of Object.keys(value)) if (key !== 'attestation' && key !== 'treaty') return false;
  return true;
}
