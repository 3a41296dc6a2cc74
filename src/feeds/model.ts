// Wire shapes of the feeds domain (SPEC §5): revocation entries, signed feeds and feed receipts, as strict zod schemas.
import { z } from 'zod';
import { TIMESTAMP_PATTERN } from '../authority/clock.ts';
import { SOVEREIGN_ID_PATTERN } from '../authority/config.ts';
import type { SignatureEntry } from '../authority/crypto.ts';
import { REVOCATION_KINDS, REVOCATION_REASONS, type RevocationEntry } from './revocation-log.ts';

/** At most this many entries in one feed; a larger backlog is published as several feeds. */
export const MAX_FEED_ENTRIES = 10_000;
/** A feed's canonical form may be at most 8 MiB. */
export const MAX_FEED_BYTES = 8 * 1024 * 1024;
export const FEED_TYPE = 'revocation_feed';
export const FEED_VERSION = 1;
export const RECEIPT_TYPE = 'feed_receipt';
export const RECEIPT_VERSION = 1;

const HASH_REF = /^sha256:[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Incident labels are short operator-chosen tags; no control characters. */
const INCIDENT = /^[^\u0000-\u001f\u007f]{1,256}$/;

export const identifier = z.string().regex(SOVEREIGN_ID_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$');
export const hashRefSchema = z.string().regex(HASH_REF, 'must be "sha256:" followed by 64 lowercase hex digits');
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Same answer as `parseTimestamp(v) !== null`, without building Dates: a feed carries a timestamp per
 * entry and this check runs 10,000 times per import (test/feeds/model.test.ts pins the equivalence).
 */
export function isTimestamp(v: string): boolean {
  if (!TIMESTAMP_PATTERN.test(v)) return false;
  const year = Number(v.slice(0, 4));
  const month = Number(v.slice(5, 7));
  const day = Number(v.slice(8, 10));
  if (month < 1 || month > 12 || day < 1 || Number(v.slice(11, 13)) > 23 || Number(v.slice(14, 16)) > 59 || Number(v.slice(17, 19)) > 59) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!);
}

export const timestamp = z.string().refine(isTimestamp, 'must be an RFC 3339 UTC timestamp with second precision, e.g. 2026-01-01T00:00:00Z');
const safeIndex = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const signatureSchema = z.strictObject({
  key_id: hashRefSchema,
  sig: z.string().min(1).max(128),
});

export const revocationEntrySchema = z.strictObject({
  index: safeIndex,
  kind: z.enum(REVOCATION_KINDS),
  id: identifier,
  reason: z.enum(REVOCATION_REASONS),
  revoked_at: timestamp,
  subject_sovereign_id: identifier.optional(),
  invalid_since: timestamp.optional(),
  incident: z.string().regex(INCIDENT, 'must be 1 to 256 characters without control characters').optional(),
});

export const revocationFeedSchema = z
  .strictObject({
    type: z.literal(FEED_TYPE),
    version: z.literal(FEED_VERSION),
    feed_id: z.string().regex(UUID, 'must be a lowercase UUID'),
    issuer_sovereign_id: identifier,
    sequence: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    previous_feed_hash: hashRefSchema.nullable(),
    issued_at: timestamp,
    next_update: timestamp,
    entries: z.array(revocationEntrySchema).max(MAX_FEED_ENTRIES),
    log: z.strictObject({ size: safeIndex, root_hash: hashRefSchema }),
    issued_by: hashRefSchema,
    signatures: z.array(signatureSchema).min(1).max(16),
  })
  .refine((f) => (f.sequence === 1) === (f.previous_feed_hash === null), {
    message: 'previous_feed_hash is null exactly when sequence is 1',
    path: ['previous_feed_hash'],
  })
  .refine((f) => f.signatures.some((s) => s.key_id === f.issued_by), {
    message: 'issued_by must be the key_id of one of the signatures',
    path: ['issued_by'],
  });

export interface RevocationFeed {
  type: typeof FEED_TYPE;
  version: typeof FEED_VERSION;
  feed_id: string;
  issuer_sovereign_id: string;
  sequence: number;
  previous_feed_hash: string | null;
  issued_at: string;
  next_update: string;
  entries: RevocationEntry[];
  log: { size: number; root_hash: string };
  issued_by: string;
  signatures: SignatureEntry[];
}

export const feedReceiptSchema = z.strictObject({
  type: z.literal(RECEIPT_TYPE),
  version: z.literal(RECEIPT_VERSION),
  importer_sovereign_id: identifier,
  issuer_sovereign_id: identifier,
  sequence: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  feed_hash: hashRefSchema,
  received_at: timestamp,
  issued_by: hashRefSchema,
  signatures: z.array(signatureSchema).min(1).max(16),
});

export type FeedReceipt = z.infer<typeof feedReceiptSchema>;

const EMPTY_ENTRIES_PREFIX = '{"entries":[]';

/**
 * JCS text of a feed whose entries are given as JCS texts. "entries" sorts first among the feed's
 * keys, so the canonical form of the whole is the canonical form with an empty array, with the
 * entry texts spliced in. This avoids re-parsing and re-canonicalizing thousands of stored entries.
 */
export function spliceEntries(canonicalWithEmptyEntries: string, entryTexts: readonly string[]): string {
  if (!canonicalWithEmptyEntries.startsWith(EMPTY_ENTRIES_PREFIX)) throw new Error('feed canonical form must start with its entries');
  return `{"entries":[${entryTexts.join(',')}]${canonicalWithEmptyEntries.slice(EMPTY_ENTRIES_PREFIX.length)}`;
}
