import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTimestamp, parseTimestamp, toTimestamp } from '../../src/authority/clock.ts';

/** The definition: a second-precision UTC timestamp is one that survives a round trip through Date unchanged. */
function roundTrips(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(value)) return false;
  const date = new Date(value);
  return !Number.isNaN(date.getTime()) && toTimestamp(date) === value;
}

const digits = (n: number) => fc.integer({ min: 0, max: 10 ** n - 1 }).map((v) => String(v).padStart(n, '0'));
const shaped = fc
  .tuple(
    fc.oneof(digits(4), fc.constantFrom('2000', '1900', '2100', '2024', '2023', '0000', '9999')),
    digits(2),
    digits(2),
    digits(2),
    digits(2),
    digits(2),
    fc.constantFrom('Z', 'Z', 'Z', 'z', '+00:00', '.0Z', '', 'ZZ'),
  )
  .map(([y, mo, d, h, mi, s, tail]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${tail}`);
const nearValid = fc
  .tuple(
    fc.integer({ min: 0, max: 9999 }),
    fc.integer({ min: 0, max: 13 }),
    fc.integer({ min: 0, max: 32 }),
    fc.integer({ min: 0, max: 24 }),
    fc.integer({ min: 0, max: 60 }),
    fc.integer({ min: 0, max: 60 }),
  )
  .map(
    ([y, mo, d, h, mi, s]) =>
      `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}Z`,
  );

describe('isTimestamp and parseTimestamp', () => {
  it('accepts exactly the timestamps that round-trip through Date (property)', () => {
    fc.assert(
      fc.property(fc.oneof(shaped, nearValid, fc.string()), (value) => {
        const parsed = parseTimestamp(value);
        expect(parsed !== null).toBe(roundTrips(value));
        expect(isTimestamp(value)).toBe(roundTrips(value));
        if (parsed) expect(toTimestamp(parsed)).toBe(value);
      }),
      { numRuns: 20_000, seed: 20261122 },
    );
  });

  it('knows leap years and month lengths', () => {
    expect(parseTimestamp('2024-02-29T00:00:00Z')).not.toBeNull();
    expect(parseTimestamp('2023-02-29T00:00:00Z')).toBeNull();
    expect(parseTimestamp('1900-02-29T00:00:00Z')).toBeNull();
    expect(parseTimestamp('2000-02-29T00:00:00Z')).not.toBeNull();
    expect(parseTimestamp('2026-04-31T00:00:00Z')).toBeNull();
    expect(parseTimestamp('2026-12-31T23:59:59Z')).not.toBeNull();
    expect(parseTimestamp('2026-12-31T23:59:60Z')).toBeNull();
    expect(parseTimestamp('2026-12-31T24:00:00Z')).toBeNull();
    expect(parseTimestamp('2026-00-10T00:00:00Z')).toBeNull();
    expect(parseTimestamp('2026-01-01T00:00:00.000Z')).toBeNull();
    expect(parseTimestamp('2026-01-01T00:00:00+00:00')).toBeNull();
  });
});
