// Genesis Mesh (wire profile `genesis-mesh`) signed objects: strict zod schemas, timestamps, signature check.
import { z } from 'zod';
import { gmCanonicalJson, type GmObjectType, type JsonValue } from '../authority/canonical-json.ts';
import { decodeBase64Strict, parsePublicKey, verifyWithKey, type PublicKeyInfo, type SignatureCheck } from '../authority/crypto.ts';

export const WIRE_PROFILES = ['accord/1', 'genesis-mesh'] as const;
export const GENESIS_MESH_PROFILE = 'genesis-mesh';
export type WireProfile = (typeof WIRE_PROFILES)[number];
export const DEFAULT_WIRE_PROFILE: WireProfile = 'accord/1';

const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ROLE = /^role:(?:anchor|bridge|client|operator|service:[a-z0-9][a-z0-9._-]{0,63})$/;
const GM_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;

/** Why a value is rejected, as a stable reason code carried in validation issues. */
export type GmReason =
  | 'unknown_field'
  | 'invalid_field'
  | 'timestamp_without_zone'
  | 'invalid_timestamp'
  | 'malformed_base64'
  | 'malformed_public_key'
  | 'unsorted_id_list'
  | 'duplicate_id'
  | 'reason_for_unlisted_id';

const issue = (reason: GmReason, message: string) => ({ message, params: { reason } });

/**
 * Parses a Genesis Mesh timestamp (RFC 3339 with a zone; fractions to nanoseconds are read, the
 * reference keeps microseconds). Null when it is not one. A timestamp without a zone is refused
 * rather than read as local or UTC time.
 */
export function parseGmTimestamp(value: string): Date | null {
  const m = GM_TIMESTAMP.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59) return null;
  let offsetMinutes = 0;
  if (m[8] !== 'Z') {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const millis = Number((m[7] ?? '').slice(0, 3).padEnd(3, '0'));
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s, millis) - offsetMinutes * 60_000);
}

const gmTimestamp = z.string().superRefine((value, ctx) => {
  if (parseGmTimestamp(value)) return;
  const noZone = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?$/.test(value);
  ctx.addIssue({
    code: 'custom',
    ...(noZone
      ? issue('timestamp_without_zone', 'timestamp has no zone (Z or ±hh:mm required)')
      : issue('invalid_timestamp', 'not an RFC 3339 timestamp')),
  });
});

const identifier = z.string().regex(IDENTIFIER, 'must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$');
const uuidV4 = z.string().regex(UUID_V4, 'must be a lowercase UUID v4');

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
  key_id: z.string().min(1).max(256),
  sig: z.string().refine((v) => decodeBase64Strict(v, 64) !== null, issue('malformed_base64', 'sig must be standard padded base64 of 64 bytes')),
});

const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number().int(), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

const signatures = z.array(signature).min(1).max(16);

const windowOrdered = (o: { valid_from: string; expires_at: string }) => {
  const from = parseGmTimestamp(o.valid_from);
  const until = parseGmTimestamp(o.expires_at);
  return !from || !until || until.getTime() > from.getTime();
};

/** A treaty as the reference issues it; `issued_by` is the signer's base64 public key (its convention). */
export const gmTreatySchema = z.strictObject({
  treaty_id: uuidV4,
  issuer_sovereign_id: identifier,
  subject_sovereign_id: identifier,
  subject_public_keys: z.array(publicKey).min(1).max(16).superRefine(uniqueList),
  scope: z.strictObject({
    allowed_roles: z.array(z.string().regex(ROLE, 'not a known role')).max(64),
    accepted_statuses: z.array(z.string().min(1).max(64)).max(16).optional(),
    claims: z.record(z.string(), jsonValue).optional(),
  }),
  status: z.literal('active'),
  issued_at: gmTimestamp,
  valid_from: gmTimestamp,
  expires_at: gmTimestamp,
  issued_by: publicKey,
  metadata: z.record(z.string(), z.string()).optional(),
  signatures,
}).refine(windowOrdered, { message: 'expires_at must be after valid_from', path: ['expires_at'] });
export type GmTreaty = z.infer<typeof gmTreatySchema>;

export const gmAttestationSchema = z.strictObject({
  attestation_id: uuidV4,
  issuer_sovereign_id: identifier,
  subject_id: identifier,
  // The reference serializes an absent optional key as null; both forms are accepted and signed as given.
  subject_public_key: publicKey.nullable().optional(),
  roles: z.array(z.string().regex(ROLE, 'not a known role')).max(64),
  status: z.literal('active'),
  issued_at: gmTimestamp,
  valid_from: gmTimestamp,
  expires_at: gmTimestamp,
  issued_by: publicKey,
  claims: z.record(z.string(), jsonValue).optional(),
  signatures,
}).refine(windowOrdered, { message: 'expires_at must be after valid_from', path: ['expires_at'] });
export type GmAttestation = z.infer<typeof gmAttestationSchema>;

const byCodePoint = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

function uniqueList(list: string[], ctx: z.RefinementCtx): void {
  if (new Set(list).size !== list.length) ctx.addIssue({ code: 'custom', ...issue('duplicate_id', 'list contains a duplicate') });
}

/** GM's snapshot revocation feed. Signed id lists must arrive sorted and unique: the signer sorts them. */
export const gmFeedSchema = z
  .strictObject({
    feed_id: identifier,
    issuer_sovereign_id: identifier,
    sequence: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    issued_at: gmTimestamp,
    revoked_attestation_ids: z.array(identifier).superRefine((ids, ctx) => {
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
    }),
    revocation_reasons: z.record(identifier, z.string().min(1).max(256)),
    issued_by: publicKey,
    signatures,
  })
  .superRefine((feed, ctx) => {
    const listed = new Set(feed.revoked_attestation_ids);
    const unlisted = Object.keys(feed.revocation_reasons).find((id) => !listed.has(id));
    if (unlisted !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['revocation_reasons', unlisted], ...issue('reason_for_unlisted_id', 'reason given for an id that is not revoked') });
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

/** The bytes a genesis-mesh signature covers. */
export function gmSigningPayload(object: Record<string, unknown>, type: GmObjectType): Buffer {
  return Buffer.from(gmCanonicalJson(object, type), 'utf8');
}

/**
 * Verifies a genesis-mesh signed object: at least one signature valid under an allowed key. The
 * reference's `key_id` is a free label, so it cannot select the key: every allowed key is tried
 * once per signature (both lists are bounded by the schemas).
 */
export function verifyGmSignature(object: Record<string, unknown> & { signatures?: unknown }, type: GmObjectType, allowedKeys: PublicKeyInfo[]): SignatureCheck {
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
