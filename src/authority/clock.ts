// The one clock: every time in the product comes from an injected `Clock`.
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/** RFC 3339 UTC with second precision, the only timestamp form in signed objects: 2026-01-01T00:00:00Z. */
export function toTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number written by `length` ASCII digits at `at`, or -1 when one is not a digit. */
function digitsAt(v: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Whether `v` is a second-precision UTC timestamp of a real instant (YYYY-MM-DDTHH:MM:SSZ, proleptic
 * Gregorian calendar as Date uses). Field ranges, no regex and no Date: it runs for every timestamp
 * of every signed object and every feed entry.
 */
export function isTimestamp(v: string): boolean {
  // Separators: - - T : : Z at 4, 7, 10, 13, 16, 19.
  if (v.length !== 20 || v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 84) return false;
  if (v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58 || v.charCodeAt(19) !== 90) return false;
  const year = digitsAt(v, 0, 4);
  const month = digitsAt(v, 5, 2);
  const day = digitsAt(v, 8, 2);
  const hour = digitsAt(v, 11, 2);
  const minute = digitsAt(v, 14, 2);
  const second = digitsAt(v, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59)
    return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!);
}

/** Parses a second-precision UTC timestamp; returns null for anything else (no zone, offsets, fractions). */
export function parseTimestamp(value: string): Date | null {
  return isTimestamp(value) ? new Date(value) : null;
}

export function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * 1000);
}

/** A settable clock for tests and drills. */
export function fixedClock(start: Date | string): Clock & { set(d: Date | string): void; advance(seconds: number): void } {
  let now = new Date(start);
  const clock = (() => new Date(now)) as Clock & { set(d: Date | string): void; advance(seconds: number): void };
  clock.set = (d) => {
    now = new Date(d);
  };
  clock.advance = (seconds) => {
    now = addSeconds(now, seconds);
  };
  return clock;
}
