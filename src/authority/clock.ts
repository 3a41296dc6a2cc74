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
  const date = new Date(value);
  if (Number.isNaN(date.getTime()) || toTimestamp(date) !== value) return null;
  return date;
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
