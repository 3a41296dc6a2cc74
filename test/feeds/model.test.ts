// Wire-shape details of the feed model that other checks rely on.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, signableProblem } from '../../src/authority/canonical-json.ts';
import { issueList } from '../../src/authority/http.ts';
import {
  isRevocationEntry,
  readCanonicalEntry,
  revocationEntrySchema,
  revocationFeedSchema,
  safeParseRevocationFeed,
  signedPartOf,
} from '../../src/feeds/model.ts';
import { REVOCATION_KINDS, REVOCATION_REASONS } from '../../src/log/store.ts';

describe('feed model', () => {
  it('entries are strict: unknown fields, nulls for optional fields and unknown kinds or reasons are refused', () => {
    const entry = { index: 0, kind: 'public_key', id: 'sha256:ab', reason: 'key_compromise', revoked_at: '2026-01-01T00:00:00Z' };
    expect(revocationEntrySchema.safeParse(entry).success).toBe(true);
    expect(revocationEntrySchema.safeParse({ ...entry, note: 'x' }).success).toBe(false);
    expect(revocationEntrySchema.safeParse({ ...entry, incident: null }).success).toBe(false);
    expect(revocationEntrySchema.safeParse({ ...entry, kind: 'device' }).success).toBe(false);
    expect(revocationEntrySchema.safeParse({ ...entry, reason: 'oops' }).success).toBe(false);
    expect(revocationEntrySchema.safeParse({ ...entry, index: -1 }).success).toBe(false);
    expect(revocationEntrySchema.safeParse({ ...entry, incident: 'line\nbreak' }).success).toBe(false);
  });
});

// The fast readers of the import path must answer exactly like the zod schemas and canonicalJson.
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const identifierArb = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,40}$/),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{126,128}$/),
);
const timestampArb = fc.oneof(
  fc
    .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
    .map((d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')),
  fc.constantFrom(
    '2026-02-29T00:00:00Z',
    '2024-02-29T00:00:00Z',
    '2026-04-31T10:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T00:00:00z',
    '2026-01-01 00:00:00Z',
    '2026-01-01T00:00:00.000Z',
  ),
);
const incidentArb = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
  fc.string({
    unit: fc.constantFrom('a', '"', '\\', '/', '\u2028', '\u00e9', '\ud83d\udd11', '\ud800', '\udc00', '\u007f', '\n', '\u0000'),
    minLength: 0,
    maxLength: 8,
  }),
  fc.string({ unit: 'binary', minLength: 255, maxLength: 258 }),
);
const validEntryArb = fc.record(
  {
    index: fc.oneof(fc.nat({ max: 20 }), fc.constantFrom(MAX_SAFE, MAX_SAFE - 1)),
    kind: fc.constantFrom(...REVOCATION_KINDS),
    id: identifierArb,
    reason: fc.constantFrom(...REVOCATION_REASONS),
    revoked_at: timestampArb,
    subject_sovereign_id: identifierArb,
    invalid_since: timestampArb,
    incident: incidentArb,
  },
  { requiredKeys: ['index', 'kind', 'id', 'reason', 'revoked_at'] },
);
const oddValue = fc.oneof(
  fc.anything(),
  fc.constantFrom(
    undefined,
    null,
    -1,
    -0,
    1.5,
    MAX_SAFE + 1,
    Infinity,
    NaN,
    '',
    'device',
    'sha256:ab',
    '7',
    'x'.repeat(129),
    '-abc',
    'a b',
  ),
);
const ENTRY_FIELDS = ['index', 'kind', 'id', 'reason', 'revoked_at', 'subject_sovereign_id', 'invalid_since', 'incident'] as const;
/** Entries near the boundary: valid ones, one field replaced or removed, an extra key, or not an entry at all. */
const entryCandidateArb: fc.Arbitrary<unknown> = fc.oneof(
  validEntryArb,
  fc.tuple(validEntryArb, fc.constantFrom(...ENTRY_FIELDS), oddValue).map(([e, k, v]) => ({ ...e, [k]: v })),
  fc.tuple(validEntryArb, fc.constantFrom(...ENTRY_FIELDS)).map(([e, k]) => {
    const copy: Record<string, unknown> = { ...e };
    delete copy[k];
    return copy;
  }),
  fc.tuple(validEntryArb, fc.constantFrom('note', '__proto__', 'Index', 'constructor'), oddValue).map(([e, k, v]) => {
    const copy: Record<string, unknown> = { ...e };
    Object.defineProperty(copy, k, { value: v, enumerable: true, configurable: true, writable: true });
    return copy;
  }),
  fc.oneof(fc.anything(), fc.array(validEntryArb, { maxLength: 2 })),
);

describe('fast entry checks', () => {
  it('isRevocationEntry accepts exactly what revocationEntrySchema accepts (property)', () => {
    fc.assert(
      fc.property(entryCandidateArb, (v) => isRevocationEntry(v) === revocationEntrySchema.safeParse(v).success),
      { seed: 20260302, numRuns: 10000 },
    );
  });

  it('safeParseRevocationFeed gives revocationFeedSchema’s success, data and issues (property)', () => {
    const key = `sha256:${'a'.repeat(64)}`;
    const feedArb = fc.record({
      entries: fc.oneof(fc.array(validEntryArb, { maxLength: 4 }), fc.array(entryCandidateArb, { maxLength: 4 }), oddValue),
      sequence: fc.oneof(fc.constantFrom(1, 2), oddValue),
      previous_feed_hash: fc.constantFrom(null, `sha256:${'b'.repeat(64)}`, 'x'),
      issued_at: fc.oneof(timestampArb, oddValue),
      issued_by: fc.constantFrom(key, `sha256:${'c'.repeat(64)}`),
      extra: fc.option(oddValue, { nil: undefined }),
    });
    fc.assert(
      fc.property(feedArb, ({ entries, sequence, previous_feed_hash, issued_at, issued_by, extra }) => {
        const feed: Record<string, unknown> = {
          type: 'revocation_feed',
          version: 1,
          feed_id: '0b6c2c8e-4a8f-4c39-9d61-0e6f3c3a9b11',
          issuer_sovereign_id: 'issuer-b',
          sequence,
          previous_feed_hash,
          issued_at,
          next_update: '2026-03-01T00:00:00Z',
          entries,
          log: { size: 1, root_hash: `sha256:${'d'.repeat(64)}` },
          issued_by,
          signatures: [{ key_id: key, sig: 'AA==' }],
          ...(extra === undefined ? {} : { extra }),
        };
        const fast = safeParseRevocationFeed(feed);
        const reference = revocationFeedSchema.safeParse(feed);
        expect(fast.success).toBe(reference.success);
        if (fast.success && reference.success) expect(fast.data).toEqual(reference.data);
        if (!fast.success && !reference.success) expect(issueList(fast.error)).toEqual(issueList(reference.error));
      }),
      { seed: 20260303, numRuns: 3000 },
    );
  });

  it('safeParseRevocationFeed reports too many valid entries like the schema does', () => {
    const key = `sha256:${'a'.repeat(64)}`;
    const entries = Array.from({ length: 10_001 }, (_, index) => ({
      index,
      kind: 'public_key',
      id: `k${index}`,
      reason: 'superseded',
      revoked_at: '2026-01-01T00:00:00Z',
    }));
    const feed = {
      type: 'revocation_feed',
      version: 1,
      feed_id: '0b6c2c8e-4a8f-4c39-9d61-0e6f3c3a9b11',
      issuer_sovereign_id: 'issuer-b',
      sequence: 1,
      previous_feed_hash: null,
      issued_at: '2026-01-01T00:00:00Z',
      next_update: '2026-01-02T00:00:00Z',
      entries,
      log: { size: 10_001, root_hash: `sha256:${'d'.repeat(64)}` },
      issued_by: key,
      signatures: [{ key_id: key, sig: 'AA==' }],
    };
    const fast = safeParseRevocationFeed(feed);
    const reference = revocationFeedSchema.safeParse(feed);
    expect(fast.success || reference.success).toBe(false);
    if (!fast.success && !reference.success) expect(issueList(fast.error)).toEqual(issueList(reference.error));
    entries.pop();
    expect(safeParseRevocationFeed(feed)).toEqual({ success: true, data: revocationFeedSchema.parse(feed) });
  });

  it('readCanonicalEntry reads every valid entry’s canonical text, at any offset, back to the entry (property)', () => {
    fc.assert(
      fc.property(validEntryArb, fc.string({ maxLength: 3 }), (entry, prefix) => {
        fc.pre(isRevocationEntry(entry) && signableProblem(entry) === null);
        const text = canonicalJson(entry);
        const read = readCanonicalEntry(`${prefix}${text},{`, prefix.length);
        expect(read).not.toBeNull();
        expect(read!.end).toBe(prefix.length + text.length);
        expect(read!.entry).toEqual(entry);
        expect(Object.keys(read!.entry)).toEqual(Object.keys(JSON.parse(text) as object));
      }),
      { seed: 20260304, numRuns: 3000 },
    );
  });

  it('readCanonicalEntry accepts only canonical text of a valid entry, read as JSON.parse reads it (property)', () => {
    // Near misses: other serializations, single-character edits, invalid entries' canonical text.
    const edit = fc.tuple(
      fc.nat(),
      fc.constantFrom('', '"', '\\', ',', ':', '{', '}', ' ', '0', '1', 'a', 'A', '-', 'é', '\\"', '\\u0041'),
    );
    // Entries in canonical key order with each value spelled in canonical and non-canonical ways.
    const spelled = fc
      .record(
        {
          id: fc.constantFrom('"a"', '"a\\u0062"', '"-a"', '"a.b:c_d-e"', '""'),
          incident: fc.constantFrom(
            '"x"',
            '"\\u0041"',
            '"\\/"',
            '"/"',
            '"\\ud800"',
            '"\\udc00\\ud800"',
            '"\\ud83d\\udd11"',
            '"a\\"b"',
            '"\\\\"',
            '"\\n"',
            '"é"',
            '"\\u00e9"',
            '""',
          ),
          index: fc.constantFrom('0', '00', '01', '7', '10', '-0', '-1', '1e2', '1.0', '9007199254740991', '9007199254740992', ' 1'),
          invalid_since: fc.constantFrom('"2026-01-01T00:00:00Z"', '"2026-02-30T00:00:00Z"'),
          kind: fc.constantFrom('"public_key"', '"device"', '"public\\u005fkey"'),
          reason: fc.constantFrom('"superseded"', '"oops"'),
          revoked_at: fc.constantFrom(
            '"2026-01-01T00:00:00Z"',
            '"2024-02-29T23:59:59Z"',
            '"2026-01-01T00:00:00\\u005a"',
            '"2026-01-01T00:00:60Z"',
          ),
          subject_sovereign_id: fc.constantFrom('"b"', '"b c"', '"\\u0062"'),
        },
        { requiredKeys: ['id', 'index', 'kind', 'reason', 'revoked_at'] },
      )
      .map(
        (fields) =>
          `{${Object.entries(fields)
            .map(([k, v]) => `"${k}":${v}`)
            .join(',')}}`,
      );
    const candidate = fc.oneof(
      spelled,
      fc.tuple(entryCandidateArb, edit, fc.boolean()).map(([e, [at, c], insert]) => {
        let text: string;
        try {
          text = canonicalJson(e);
        } catch {
          // No canonical form (a lone surrogate): its sorted-key JSON is the nearest text.
          text = (e !== null && typeof e === 'object' ? JSON.stringify(e, Object.keys(e).sort()) : JSON.stringify(e)) ?? 'null';
        }
        const i = at % (text.length + 1);
        return `${text.slice(0, i)}${c}${text.slice(insert ? i : i + 1)}`;
      }),
      entryCandidateArb.map((e) => JSON.stringify(e) ?? 'null'),
      fc.tuple(validEntryArb, fc.constantFrom(' ', '\n')).map(([e, space]) => JSON.stringify(e, null, space)),
      fc.string({ maxLength: 60 }),
      validEntryArb.filter((e) => signableProblem(e) === null).map((e) => canonicalJson(e)),
    );
    let accepted = 0;
    fc.assert(
      fc.property(candidate, (text) => {
        const read = readCanonicalEntry(text, 0);
        if (read === null) return;
        accepted++;
        const slice = text.slice(0, read.end);
        const parsed = JSON.parse(slice) as object;
        expect(read.entry).toEqual(parsed);
        expect(Object.keys(read.entry)).toEqual(Object.keys(parsed));
        expect(revocationEntrySchema.safeParse(parsed).success).toBe(true);
        expect(canonicalJson(parsed)).toBe(slice);
      }),
      { seed: 20260305, numRuns: 10000 },
    );
    // The property must have seen acceptances, not only rejections.
    expect(accepted).toBeGreaterThan(250);
  });
});

describe('signedPartOf (what a version 2 feed chains to)', () => {
  it('property: the canonical feed text without its signatures member is the JCS of the feed without signatures', () => {
    // Incident text may itself spell the member being cut; inside a JSON string its quotes are escaped.
    const incident = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constant(',"signatures":[{"key_id":"x"}]'));
    const signature = fc.record({ key_id: fc.constant(`sha256:${'a'.repeat(64)}`), sig: fc.base64String({ minLength: 4, maxLength: 88 }) });
    fc.assert(
      fc.property(
        fc.array(incident, { maxLength: 4 }),
        fc.array(signature, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(1, 2),
        (incidents, signatures, version) => {
          const unsigned = {
            type: 'revocation_feed',
            version,
            sequence: 3,
            previous_feed_hash: `sha256:${'b'.repeat(64)}`,
            entries: incidents.map((text, index) => ({
              index,
              kind: 'membership_attestation',
              id: `id-${index}`,
              reason: 'unspecified',
              revoked_at: '2026-01-01T00:00:00Z',
              incident: text,
            })),
            log: { size: incidents.length, root_hash: `sha256:${'c'.repeat(64)}` },
          };
          expect(signedPartOf(canonicalJson({ ...unsigned, signatures }))).toBe(canonicalJson(unsigned));
        },
      ),
      { seed: 2207, numRuns: 200 },
    );
  });
});
