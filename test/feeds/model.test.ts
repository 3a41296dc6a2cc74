// Wire-shape details of the feed model that other checks rely on.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTimestamp } from '../../src/authority/clock.ts';
import { isTimestamp, revocationEntrySchema } from '../../src/feeds/model.ts';

describe('feed model', () => {
  it('isTimestamp agrees with the clock’s parseTimestamp (property, including calendar edge cases)', () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const candidate = fc
      .tuple(fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')), two(13), two(32), two(25), two(61), two(61), fc.constantFrom('Z', 'z', '+00:00', '.0Z', ''))
      .map(([y, mo, d, h, mi, s, tail]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${tail}`);
    fc.assert(
      fc.property(fc.oneof(candidate, fc.string()), (v) => isTimestamp(v) === (parseTimestamp(v) !== null)),
      { seed: 20260301, numRuns: 5000 },
    );
    for (const v of ['2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2000-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-12-31T23:59:59Z', '2026-12-31T23:59:60Z', '2026-01-01T24:00:00Z']) {
      expect(isTimestamp(v), v).toBe(parseTimestamp(v) !== null);
    }
  });

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
