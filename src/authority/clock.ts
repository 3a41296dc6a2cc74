// The one clock: every time in the product comes from an injected `Clock`.
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/** RFC 3339 UTC with second precision, the only timestamp form in signed objects: 2026-01-01T00:00:00Z. */
export function toTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** Parses a second-precision UTC timestamp; returns null for anything else (no zone, offsets, fractions). */
export function parseTimestamp(value: string): Date | null {
  if (!TIMESTAMP_PATTERN.test(value)) return null;
  // Field ranges instead of a round trip through toISOString: this runs for every timestamp of every signed object.
  const year = Number(value.slice(0, 4));
  const month = Number(value.slice(5, 7));
  const day = Number(value.slice(8, 10));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (Number(value.slice(11, 13)) > 23 || Number(value.slice(14, 16)) > 59 || Number(value.slice(17, 19)) > 59) return null;
  return new Date(value);
}

/** Days of a month in the proleptic Gregorian calendar (the one Date uses). */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
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
