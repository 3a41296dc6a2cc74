// Genesis Mesh (wire profile `genesis-mesh`) signed objects: strict zod schemas, timestamps, validity windows, signature check.
import { z } from 'zod';
import { numberSourceText } from '../authority/canonical-json.ts';
import { gmCanonicalJson, type GmObjectType } from './gm-canonical.ts';
import { issueList } from '../authority/http.ts';
import { decodeBase64Strict, parsePublicKey, verifyWithKey, type PublicKeyInfo, type SignatureCheck } from '../authority/crypto.ts';

export const WIRE_PROFILES = ['accord/1', 'genesis-mesh'] as const;
export const GENESIS_MESH_PROFILE = 'genesis-mesh';
export type WireProfile = (typeof WIRE_PROFILES)[number];
export const DEFAULT_WIRE_PROFILE: WireProfile = 'accord/1';

/** Sovereign ids: Accord's identifier grammar (a sovereign outside it could never be recognized here). */
const SOVEREIGN_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Object ids (treaty, attestation, feed, revoked ids) and key labels: printable ASCII without spaces. GM writes uuid4/uuid5. */
const ASCII_ID = /^[\x21-\x7e]{1,256}$/;
/** GM issues only roles with these prefixes (its `VALID_ROLE_PREFIXES`). */
const ROLE = /^role:(?:anchor|bridge|client|operator|service:)[\x21-\x7e]{0,128}$/;
const GM_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;
/** GM's statuses (a Literal in its models); only `active` is ever accepted by a verifier. */
const STATUSES = ['active', 'suspended', 'revoked'] as const;

/** GM accepts a treaty or attestation from 5 minutes before `valid_from` to 5 minutes after `expires_at`, both ends included. */
export const GM_VALIDITY_TOLERANCE_SECONDS = 300;

/** Why a value is rejected, as a stable reason code carried in validation issues. */
export type GmReason =
  | 'unknown_field'
  | 'invalid_field'
  | 'missing_field'
  | 'timestamp_without_zone'
  | 'invalid_timestamp'
  | 'malformed_base64'
  | 'malformed_public_key'
  | 'unsorted_id_list'
  | 'duplicate_id'
  | 'reason_for_unlisted_id'
  | 'non_canonical_value';

const issue = (reason: GmReason, message: string) => ({ message, params: { reason } });

/**
 * Microseconds since the epoch of a Genesis Mesh timestamp (RFC 3339 with a zone; digits beyond the
 * sixth are cut, as Python's datetime keeps microseconds). Null when it is not one. A timestamp
 * without a zone is refused rather than read as local or UTC time.
 */
export function gmMicros(value: string): number | null {
  const m = GM_TIMESTAMP.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59) return null;
  let offsetMinutes = 0;
  if (m[8] !== 'Z') {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const base = new Date(0);
  base.setUTCFullYear(y, mo - 1, d);
  base.setUTCHours(h, mi, s, 0);
  const micros = Number((m[7] ?? '').slice(0, 6).padEnd(6, '0'));
  return (base.getTime() - offsetMinutes * 60_000) * 1000 + micros;
}

/** The instant of a Genesis Mesh timestamp (millisecond precision), or null. */
export function parseGmTimestamp(value: string): Date | null {
  const micros = gmMicros(value);
  return micros === null ? null : new Date(Math.floor(micros / 1000));
}

/**
 * Where `now` falls in a GM object's validity window, judged as GM judges it: with 5 minutes of
 * tolerance on both sides, both ends included, at microsecond precision.
 */
export function gmWindowAt(object: { valid_from: string; expires_at: string }, now: Date): 'in_window' | 'not_yet_valid' | 'expired' {
  const tolerance = GM_VALIDITY_TOLERANCE_SECONDS * 1_000_000;
  const nowMicros = now.getTime() * 1000;
  if (nowMicros < gmMicros(object.valid_from)! - tolerance) return 'not_yet_valid';
  if (nowMicros > gmMicros(object.expires_at)! + tolerance) return 'expired';
  return 'in_window';
}

const gmTimestamp = z.string().superRefine((value, ctx) => {
  if (gmMicros(value) !== null) return;
  const noZone = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?$/.test(value);
  ctx.addIssue({
    code: 'custom',
    ...(noZone
      ? issue('timestamp_without_zone', 'timestamp has no zone (Z or ±hh:mm required)')
      : issue('invalid_timestamp', 'not an RFC 3339 timestamp')),
  });
});

const sovereignId = z.string().regex(SOVEREIGN_ID, 'must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$');
const asciiId = z.string().regex(ASCII_ID, 'must be 1-256 printable ASCII characters without spaces');
/** `issued_by`: the signer's key label (GM's configured key_id, e.g. na-2025-q1). It selects nothing: keys come from treaties. */
const keyLabel = z.string().regex(ASCII_ID, 'must be a key label of 1-256 printable ASCII characters without spaces');
const role = z.string().regex(ROLE, 'must start with role:anchor, role:bridge, role:client, role:operator or role:service:');
const status = z.enum(STATUSES);

const publicKey = z.string().superRefine((value, ctx) => {
  const parsed = parsePublicKey(value);
  if (parsed.ok) return;
  ctx.addIssue({
    code: 'custom',
    ...(parsed.reason === 'malformed_base64'
      ? issue('malformed_base64', 'public key is not standard padded base64')
      : issue('malformed_public_key', `public key rejected: ${parsed.reason}`)),
  });
});

const signature = z.strictObject({
  key_id: z.string().max(256),
  sig: z
    .string()
    .refine((v) => decodeBase64Strict(v, 64) !== null, issue('malformed_base64', 'sig must be standard padded base64 of 64 bytes')),
});

/** GM's free `dict` fields (metadata, claims): any JSON object; the canonical form decides what is representable. */
const freeObject = z.record(z.string(), z.unknown());

const signatures = z.array(signature).min(1).max(16);

/** GM's model validator: expires_at after valid_from, issued_at not after expires_at. */
const windowOrdered = (o: { issued_at: string; valid_from: string; expires_at: string }) => {
  const issued = gmMicros(o.issued_at);
  const from = gmMicros(o.valid_from);
  const until = gmMicros(o.expires_at);
  return issued === null || from === null || until === null || (until > from && issued <= until);
};
const windowRule = { message: 'expires_at must be after valid_from and not before issued_at', path: ['expires_at'] };

/** A treaty as GM issues it. `scope` and `status` must be written out (GM always does); the rest of its defaults may be omitted. */
export const gmTreatySchema = z
  .strictObject({
    treaty_id: asciiId,
    issuer_sovereign_id: sovereignId,
    subject_sovereign_id: sovereignId,
    subject_public_keys: z.array(publicKey).min(1).max(16).superRefine(uniqueList),
    scope: z.strictObject({
      allowed_roles: z.array(role).max(64).optional(),
      accepted_statuses: z.array(status).max(16).optional(),
      claims: freeObject.optional(),
    }),
    status,
    issued_at: gmTimestamp,
    valid_from: gmTimestamp,
    expires_at: gmTimestamp,
    issued_by: keyLabel,
    metadata: freeObject.optional(),
    signatures,
  })
  .refine(windowOrdered, windowRule);
export type GmTreaty = z.infer<typeof gmTreatySchema>;

export const gmAttestationSchema = z
  .strictObject({
    attestation_id: asciiId,
    issuer_sovereign_id: sovereignId,
    /** Free text in GM (`spiffe://…/agent/alice`, `member/zoë`). */
    subject_id: z.string().max(1024),
    // GM writes an absent key as null (its model default); both forms are read, and sign the same.
    subject_public_key: publicKey.nullable().optional(),
    roles: z.array(role).max(64).optional(),
    status,
    issued_at: gmTimestamp,
    valid_from: gmTimestamp,
    expires_at: gmTimestamp,
    issued_by: keyLabel,
    claims: freeObject.optional(),
    signatures,
  })
  .refine(windowOrdered, windowRule);
export type GmAttestation = z.infer<typeof gmAttestationSchema>;

const byCodePoint = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

function uniqueList(list: string[], ctx: z.RefinementCtx): void {
  if (new Set(list).size !== list.length) ctx.addIssue({ code: 'custom', ...issue('duplicate_id', 'list contains a duplicate') });
}

/**
 * GM's snapshot revocation feed. `sequence` is the number of revoked ids (0 when none). Signed id
 * lists must arrive sorted and unique: GM sorts them before signing, so its own feeds always are.
 */
export const gmFeedSchema = z
  .strictObject({
    feed_id: asciiId,
    issuer_sovereign_id: sovereignId,
    sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    issued_at: gmTimestamp,
    revoked_attestation_ids: z
      .array(asciiId)
      .superRefine((ids, ctx) => {
        for (let i = 1; i < ids.length; i++) {
          const order = byCodePoint(ids[i - 1]!, ids[i]!);
          if (order === 0) {
            ctx.addIssue({ code: 'custom', path: [i], ...issue('duplicate_id', `duplicate id ${ids[i]}`) });
            return;
          }
          if (order > 0) {
            ctx.addIssue({ code: 'custom', path: [i], ...issue('unsorted_id_list', 'ids must be sorted by code point') });
            return;
          }
        }
      })
      .optional(),
    revocation_reasons: z.record(asciiId, z.string().max(1024)).optional(),
    issued_by: keyLabel,
    signatures,
  })
  .superRefine((feed, ctx) => {
    const listed = new Set(feed.revoked_attestation_ids ?? []);
    const unlisted = Object.keys(feed.revocation_reasons ?? {}).find((id) => !listed.has(id));
    if (unlisted !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['revocation_reasons', unlisted],
        ...issue('reason_for_unlisted_id', 'reason given for an id that is not revoked'),
      });
    }
  });
export type GmFeed = z.infer<typeof gmFeedSchema>;

/** The first stable reason code among validation issues (unknown fields first: they are never dropped). */
export function gmReasonOf(error: z.ZodError): GmReason {
  if (error.issues.some((i) => i.code === 'unrecognized_keys')) return 'unknown_field';
  for (const i of error.issues) {
    const reason = (i as { params?: { reason?: GmReason } }).params?.reason;
    if (reason) return reason;
  }
  return 'invalid_field';
}

/**
 * Fields GM would fill with a model default that Accord still requires written out: a treaty without
 * `scope` or `status`, an attestation without `status`. GM itself always writes them.
 */
const REQUIRED_DEFAULTED: Record<GmObjectType, string[]> = {
  recognition_treaty: ['scope', 'status'],
  membership_attestation: ['status'],
  revocation_feed: [],
};

export type GmParse<T> = { ok: true; value: T } | { ok: false; reason: GmReason; issues: Array<{ path: string; message: string }> };

const SCHEMAS = { recognition_treaty: gmTreatySchema, membership_attestation: gmAttestationSchema, revocation_feed: gmFeedSchema } as const;
type GmValue<T extends GmObjectType> = z.infer<(typeof SCHEMAS)[T]>;

/**
 * Validates a parsed GM object: required fields, the strict schema, then whether it has a faithful
 * canonical form. One stable reason code per failure, the first one found.
 */
export function parseGmObject<T extends GmObjectType>(type: T, raw: unknown): GmParse<GmValue<T>> {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const missing = REQUIRED_DEFAULTED[type].find((field) => !Object.hasOwn(raw, field));
    if (missing !== undefined)
      return {
        ok: false,
        reason: 'missing_field',
        issues: [{ path: missing, message: `${missing} must be written out (GM always writes it)` }],
      };
  }
  const parsed = SCHEMAS[type].safeParse(raw);
  if (!parsed.success) return { ok: false, reason: gmReasonOf(parsed.error), issues: issueList(parsed.error) };
  const problem = gmRepresentationProblem(raw as Record<string, unknown>, type);
  if (problem) return { ok: false, reason: 'non_canonical_value', issues: [{ path: '(root)', message: problem }] };
  return { ok: true, value: parsed.data as GmValue<T> };
}

/**
 * Why a parsed GM object cannot be signed or checked faithfully, or null: its canonical form must
 * exist, and `sequence` must have been written as an integer (GM reads `1.0` into an int and signs `1`).
 */
export function gmRepresentationProblem(raw: Record<string, unknown>, type: GmObjectType): string | null {
  if (type === 'revocation_feed') {
    const text = numberSourceText(raw, 'sequence');
    if (text !== undefined && !/^\d+$/.test(text)) return `$.sequence: ${text.slice(0, 32)} is not written as an integer`;
  }
  try {
    gmCanonicalJson(raw, type);
    return null;
  } catch (err) {
    const problem = (err as { details?: { problem?: unknown } }).details?.problem;
    if (typeof problem === 'string') return problem;
    throw err;
  }
}

/** The bytes a genesis-mesh signature covers. */
export function gmSigningPayload(object: Record<string, unknown>, type: GmObjectType): Buffer {
  return Buffer.from(gmCanonicalJson(object, type), 'utf8');
}

/**
 * Verifies a genesis-mesh signed object (as parsed, so number texts are kept): at least one signature
 * valid under an allowed key. GM's `issued_by` and `key_id` are labels, so they cannot select the key:
 * every allowed key is tried once per signature (both lists are bounded by the schemas).
 */
export function verifyGmSignature(
  object: Record<string, unknown> & { signatures?: unknown },
  type: GmObjectType,
  allowedKeys: PublicKeyInfo[],
): SignatureCheck {
  const entries = object.signatures;
  if (!Array.isArray(entries) || entries.length === 0) return { valid: false, reason: 'no_signatures' };
  if (allowedKeys.length === 0) return { valid: false, reason: 'no_allowed_key' };
  const payload = gmSigningPayload(object, type);
  let sawMalformed = false;
  for (const entry of entries as Array<{ sig?: unknown }>) {
    const sig = typeof entry?.sig === 'string' ? decodeBase64Strict(entry.sig, 64) : null;
    if (!sig) {
      sawMalformed = true;
      continue;
    }
    for (const key of allowedKeys) if (verifyWithKey(key, payload, sig)) return { valid: true, keyId: key.keyId };
  }
  return { valid: false, reason: sawMalformed ? 'malformed_signature' : 'invalid_signature' };
}
