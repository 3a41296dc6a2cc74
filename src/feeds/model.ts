// Wire shapes of the feeds domain (SPEC §5): revocation entries, signed feeds and feed receipts, as strict zod schemas.
import { z } from 'zod';
import { isTimestamp } from '../authority/clock.ts';
import { IDENTIFIER_PATTERN, identifier } from '../authority/identifiers.ts';
import { hashRef, type SignatureEntry } from '../authority/crypto.ts';
import { REVOCATION_KINDS, REVOCATION_REASONS, type RevocationEntry } from '../log/store.ts';

/** At most this many entries in one feed; a larger backlog is published as several feeds. */
export const MAX_FEED_ENTRIES = 10_000;
/** A feed's canonical form may be at most 8 MiB. */
export const MAX_FEED_BYTES = 8 * 1024 * 1024;
export const FEED_TYPE = 'revocation_feed';
/**
 * Version this authority publishes. Version 2 chains `previous_feed_hash` over the previous feed's
 * signed part (its canonical form without `signatures`), so a signature entry a relay adds or drops
 * cannot break the chain; version 1 chained over the whole feed. Importers accept both.
 */
export const FEED_VERSION = 2;
export const FEED_VERSIONS = [1, 2] as const;
export type FeedVersion = (typeof FEED_VERSIONS)[number];
export const RECEIPT_TYPE = 'feed_receipt';
export const RECEIPT_VERSION = 1;

const HASH_REF = /^sha256:[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Incident labels are short operator-chosen tags; no control characters. */
const INCIDENT = /^[^\u0000-\u001f\u007f]{1,256}$/;

export const hashRefSchema = z.string().regex(HASH_REF, 'must be "sha256:" followed by 64 lowercase hex digits');
export const timestamp = z
  .string()
  .refine(isTimestamp, 'must be an RFC 3339 UTC timestamp with second precision, e.g. 2026-01-01T00:00:00Z');
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

/** The feed's fields in schema order (issue order); `entries` is filled in by the two schemas below. */
const feedShape = <E extends z.ZodType>(entry: E) =>
  z.strictObject({
    type: z.literal(FEED_TYPE),
    version: z.union([z.literal(1), z.literal(2)]),
    feed_id: z.string().regex(UUID, 'must be a lowercase UUID'),
    issuer_sovereign_id: identifier,
    sequence: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    previous_feed_hash: hashRefSchema.nullable(),
    issued_at: timestamp,
    next_update: timestamp,
    entries: z.array(entry).max(MAX_FEED_ENTRIES),
    log: z.strictObject({ size: safeIndex, root_hash: hashRefSchema }),
    issued_by: hashRefSchema,
    signatures: z.array(signatureSchema).min(1).max(16),
  });

const withFeedRules = <
  S extends z.ZodType<{ sequence: number; previous_feed_hash: string | null; issued_by: string; signatures: SignatureEntry[] }>,
>(
  schema: S,
) =>
  schema
    .refine((f) => (f.sequence === 1) === (f.previous_feed_hash === null), {
      message: 'previous_feed_hash is null exactly when sequence is 1',
      path: ['previous_feed_hash'],
    })
    .refine((f) => f.signatures.some((s) => s.key_id === f.issued_by), {
      message: 'issued_by must be the key_id of one of the signatures',
      path: ['issued_by'],
    });

export const revocationFeedSchema = withFeedRules(feedShape(revocationEntrySchema));

/** The same feed schema with entries left unchecked: used only once every entry is known to pass `isRevocationEntry`. */
const feedOfCheckedEntriesSchema = withFeedRules(feedShape(z.unknown()));

const ENTRY_KEYS: ReadonlySet<string> = new Set(Object.keys(revocationEntrySchema.shape));
const KINDS: ReadonlySet<unknown> = new Set(REVOCATION_KINDS);
const REASONS: ReadonlySet<unknown> = new Set(REVOCATION_REASONS);

/**
 * Same answer as `revocationEntrySchema.safeParse(v).success`, without building issue lists or copies:
 * a feed carries up to 10,000 entries (test/feeds/model.test.ts pins the equivalence). Property reads
 * and the `for…in` key walk mirror zod's strict object.
 */
export function isRevocationEntry(v: unknown): v is RevocationEntry {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  for (const key in v) if (!ENTRY_KEYS.has(key)) return false;
  const { index, kind, id, reason, revoked_at, subject_sovereign_id, invalid_since, incident } = v as Record<string, unknown>;
  return (
    typeof index === 'number' &&
    Number.isSafeInteger(index) &&
    index >= 0 &&
    KINDS.has(kind) &&
    typeof id === 'string' &&
    IDENTIFIER_PATTERN.test(id) &&
    REASONS.has(reason) &&
    typeof revoked_at === 'string' &&
    isTimestamp(revoked_at) &&
    (subject_sovereign_id === undefined || (typeof subject_sovereign_id === 'string' && IDENTIFIER_PATTERN.test(subject_sovereign_id))) &&
    (invalid_since === undefined || (typeof invalid_since === 'string' && isTimestamp(invalid_since))) &&
    (incident === undefined || (typeof incident === 'string' && INCIDENT.test(incident)))
  );
}

type FeedParse = { success: true; data: RevocationFeed } | { success: false; error: z.ZodError };

/** The feed schema's answer for a feed whose entries are already known to be valid. */
function parseFeedOfValidEntries(input: object, entries: RevocationEntry[]): FeedParse {
  // Valid entries add no issues; within the size limit neither does the array, so the rest of the
  // feed is checked with an empty one (zod would otherwise walk 10,000 elements to copy them).
  const rest = entries.length <= MAX_FEED_ENTRIES && Object.getPrototypeOf(input) === Object.prototype ? { ...input, entries: [] } : input;
  const parsed = feedOfCheckedEntriesSchema.safeParse(rest);
  return parsed.success
    ? { success: true, data: { ...(parsed.data as Omit<RevocationFeed, 'entries'>), entries } }
    : { success: false, error: parsed.error };
}

/**
 * Same result as `revocationFeedSchema.safeParse(input)` (success, issues, data). When every entry
 * passes `isRevocationEntry`, only the rest of the feed goes through zod and the entries are kept as
 * given; otherwise the full schema runs and reports every issue.
 */
export function safeParseRevocationFeed(input: unknown): FeedParse {
  const entries = typeof input === 'object' && input !== null ? (input as { entries?: unknown }).entries : undefined;
  if (Array.isArray(entries) && entries.every(isRevocationEntry)) return parseFeedOfValidEntries(input as object, entries);
  const parsed = revocationFeedSchema.safeParse(input);
  return parsed.success ? { success: true, data: parsed.data as RevocationFeed } : { success: false, error: parsed.error };
}

/**
 * `safeParseRevocationFeed` for a feed whose entries all came from `readCanonicalEntry`, which accepts
 * only valid entries (test/feeds/model.test.ts): the entries are not checked a second time.
 */
export function safeParseFeedOfReadEntries(input: Record<string, unknown> & { entries: RevocationEntry[] }): FeedParse {
  return parseFeedOfValidEntries(input, input.entries);
}

export interface RevocationFeed {
  type: typeof FEED_TYPE;
  version: FeedVersion;
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

/** Whether `text` has `token` at `at` (a character loop: startsWith at an offset into a long string costs far more). */
function hasToken(text: string, at: number, token: string): boolean {
  for (let i = 0; i < token.length; i++) if (text.charCodeAt(at + i) !== token.charCodeAt(i)) return false;
  return true;
}

/** Offset of the first `"` at or after `from` that no backslash escapes, or -1. */
function closingQuote(text: string, from: number): number {
  for (let q = text.indexOf('"', from); q >= 0; q = text.indexOf('"', q + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return q;
  }
  return -1;
}

const ENTRY_ID = '{"id":"';
const ENTRY_INCIDENT = ',"incident":';
const ENTRY_INDEX = ',"index":';
const ENTRY_INVALID_SINCE = ',"invalid_since":"';
const ENTRY_KIND = ',"kind":"';
const ENTRY_REASON = ',"reason":"';
const ENTRY_REVOKED_AT = ',"revoked_at":"';
const ENTRY_SUBJECT = ',"subject_sovereign_id":"';

/**
 * Reads one entry at `at` of a feed's text when that text is exactly `canonicalEntryText` of a valid
 * entry (null for anything else, valid JSON in another form included). Returns the entry, with its
 * keys in text order like JSON.parse, and the offset just past it. Accepted text is what JSON.parse
 * reads as that entry and what revocationEntrySchema accepts (test/feeds/model.test.ts), so a
 * canonical feed is read without parsing, validating and re-serializing each entry separately.
 */
export function readCanonicalEntry(text: string, at: number): { entry: RevocationEntry; end: number } | null {
  if (!hasToken(text, at, ENTRY_ID)) return null;
  let p = at + ENTRY_ID.length;
  let q = text.indexOf('"', p);
  const id = text.slice(p, q);
  // Identifiers, timestamps, kinds and reasons have no characters JSON escapes, so their text is their value.
  if (q < 0 || !IDENTIFIER_PATTERN.test(id)) return null;
  p = q + 1;
  let incident: string | undefined;
  if (hasToken(text, p, ENTRY_INCIDENT)) {
    p += ENTRY_INCIDENT.length;
    if (text.charCodeAt(p) !== 0x22) return null;
    q = closingQuote(text, p + 1);
    if (q < 0) return null;
    const raw = text.slice(p, q + 1);
    try {
      incident = JSON.parse(raw) as string;
    } catch {
      return null;
    }
    if (!INCIDENT.test(incident) || !incident.isWellFormed() || JSON.stringify(incident) !== raw) return null;
    p = q + 1;
  }
  if (!hasToken(text, p, ENTRY_INDEX)) return null;
  p += ENTRY_INDEX.length;
  q = p;
  for (let c = text.charCodeAt(q); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++q));
  // Canonical integers: at least one digit, no leading zero.
  if (q === p || (text.charCodeAt(p) === 0x30 && q > p + 1)) return null;
  const index = Number(text.slice(p, q));
  if (!Number.isSafeInteger(index)) return null;
  p = q;
  let invalidSince: string | undefined;
  if (hasToken(text, p, ENTRY_INVALID_SINCE)) {
    p += ENTRY_INVALID_SINCE.length;
    invalidSince = text.slice(p, p + 20);
    if (!isTimestamp(invalidSince) || text.charCodeAt(p + 20) !== 0x22) return null;
    p += 21;
  }
  if (!hasToken(text, p, ENTRY_KIND)) return null;
  p += ENTRY_KIND.length;
  q = text.indexOf('"', p);
  const kind = text.slice(p, q);
  if (q < 0 || !KINDS.has(kind)) return null;
  p = q + 1;
  if (!hasToken(text, p, ENTRY_REASON)) return null;
  p += ENTRY_REASON.length;
  q = text.indexOf('"', p);
  const reason = text.slice(p, q);
  if (q < 0 || !REASONS.has(reason)) return null;
  p = q + 1;
  if (!hasToken(text, p, ENTRY_REVOKED_AT)) return null;
  p += ENTRY_REVOKED_AT.length;
  const revokedAt = text.slice(p, p + 20);
  if (!isTimestamp(revokedAt) || text.charCodeAt(p + 20) !== 0x22) return null;
  p += 21;
  let subject: string | undefined;
  if (hasToken(text, p, ENTRY_SUBJECT)) {
    p += ENTRY_SUBJECT.length;
    q = text.indexOf('"', p);
    subject = text.slice(p, q);
    if (q < 0 || !IDENTIFIER_PATTERN.test(subject)) return null;
    p = q + 1;
  }
  if (text.charCodeAt(p) !== 0x7d) return null;
  const entry = { id } as RevocationEntry;
  if (incident !== undefined) entry.incident = incident;
  entry.index = index;
  if (invalidSince !== undefined) entry.invalid_since = invalidSince;
  entry.kind = kind as RevocationEntry['kind'];
  entry.reason = reason as RevocationEntry['reason'];
  entry.revoked_at = revokedAt;
  if (subject !== undefined) entry.subject_sovereign_id = subject;
  return { entry, end: p + 1 };
}

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

const SIGNATURES_MEMBER = ',"signatures":[';

/**
 * The signed part of a feed from its canonical text: the text without its `signatures` member. In
 * canonical form `signatures` is followed only by `type` and `version`, and its array holds no `]`,
 * so the member is the last occurrence of `,"signatures":[` up to the next `]`.
 */
export function signedPartOf(canonicalFeedText: string): string {
  const start = canonicalFeedText.lastIndexOf(SIGNATURES_MEMBER);
  const end = start < 0 ? -1 : canonicalFeedText.indexOf(']', start);
  if (end < 0) throw new Error('not the canonical text of a signed feed');
  return canonicalFeedText.slice(0, start) + canonicalFeedText.slice(end + 1);
}

/** "sha256:" + hex SHA-256 of a stored feed's signed part: what a version 2 successor chains to. */
export function signedPartHash(canonicalFeedText: string): string {
  return hashRef(signedPartOf(canonicalFeedText));
}
