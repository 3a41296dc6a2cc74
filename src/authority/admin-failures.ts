// Failed admin authentications: bounded per-address and per-label counts, and audit rows that stay
// bounded under a flood (the first failures of a window one by one, the rest as counts).
import type { Sqlite } from '../db/database.ts';
import { appendAudit, type Actor } from './audit.ts';
import { toTimestamp, type Clock } from './clock.ts';

/** Attacker-chosen text (labels, paths, addresses) is cut to this many characters in audit rows. */
export const AUDIT_TEXT_LIMIT = 128;

/** At most this many failures are audited one by one per window; the rest are counted. */
export const INDIVIDUAL_FAILURES_PER_WINDOW = 100;

/** How many distinct addresses, labels and summary groups are tracked at once. */
export const MAX_TRACKED = 10_000;

/** Verifications per second a known label gets while its address is over the failure limit. */
export const LABEL_VERIFICATIONS_PER_SECOND = 50;

export function truncateText(text: string, limit = AUDIT_TEXT_LIMIT): string {
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

/**
 * Failure timestamps per key within a sliding window. When more than `maxKeys` keys are tracked,
 * the keys with the fewest recent failures are forgotten first, so rotating through fresh keys
 * (addresses) can never push the worst offenders out.
 */
export class SlidingCounts {
  private readonly entries = new Map<string, number[]>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys = MAX_TRACKED,
  ) {}

  private recent(key: string, nowMs: number): number[] {
    const list = this.entries.get(key);
    if (!list) return [];
    const kept = list.filter((t) => t > nowMs - this.windowMs);
    if (kept.length === 0) this.entries.delete(key);
    else if (kept.length !== list.length) this.entries.set(key, kept);
    return kept;
  }

  count(key: string, nowMs: number): number {
    return this.recent(key, nowMs).length;
  }

  /** Seconds until the key is below the limit again (0 when it is below now). */
  blockedForSeconds(key: string, nowMs: number): number {
    const list = this.recent(key, nowMs);
    if (list.length < this.limit) return 0;
    return Math.max(1, Math.ceil((list[list.length - this.limit]! + this.windowMs - nowMs) / 1000));
  }

  record(key: string, nowMs: number): void {
    const list = this.recent(key, nowMs);
    list.push(nowMs);
    this.entries.set(key, list.slice(-this.limit));
    if (this.entries.size > this.maxKeys) this.evict(nowMs);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops expired keys, then the least-failing tenth: amortized over many inserts. */
  private evict(nowMs: number): void {
    for (const key of [...this.entries.keys()]) this.recent(key, nowMs);
    if (this.entries.size <= this.maxKeys) return;
    const byCount = [...this.entries].sort((a, b) => a[1].length - b[1].length || a[1][a[1].length - 1]! - b[1][b[1].length - 1]!);
    const drop = this.entries.size - Math.floor(this.maxKeys * 0.9);
    for (let i = 0; i < drop; i++) this.entries.delete(byCount[i]![0]);
  }
}

/** A per-key token bucket on the injected clock. */
class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly perSecond: number) {}

  take(key: string, nowMs: number): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.perSecond, at: nowMs };
    b.tokens = Math.min(this.perSecond, b.tokens + ((nowMs - b.at) / 1000) * this.perSecond);
    b.at = nowMs;
    if (this.buckets.size > MAX_TRACKED) this.buckets.clear();
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

export interface AdminFailure {
  reason: string;
  client: string;
  method: string;
  path: string;
  /** The label the request claimed (attacker-chosen unless it names a configured key). */
  label?: string;
  actor: Actor;
  requestId: string | null;
}

/**
 * Bookkeeping of failed admin authentications for one authority: who is over the limit, and the
 * audit rows for failures. Within a window the first failures are audited one by one; the rest are
 * counted per (client, reason) and written as one `admin_auth_failures_summarized` event when the
 * window has passed, so a flood of bad requests grows the audit log by a bounded amount.
 */
export class AdminFailureGuard {
  readonly byClient: SlidingCounts;
  readonly byLabel: SlidingCounts;
  private readonly labelBudget = new TokenBuckets(LABEL_VERIFICATIONS_PER_SECOND);
  private windowStart: number | null = null;
  private individual = 0;
  private counted = new Map<string, { client: string; reason: string; count: number }>();
  private countedTotal = 0;

  constructor(
    private readonly sqlite: Sqlite,
    private readonly clock: Clock,
    limit: number,
    private readonly windowMs = 60_000,
  ) {
    this.byClient = new SlidingCounts(limit, windowMs);
    this.byLabel = new SlidingCounts(limit, windowMs);
  }

  /**
   * Whether a request from `client` claiming `label` may be checked. A client over the limit is
   * refused without any work, unless the request names a configured key: then it is checked (at a
   * bounded rate per label), so noise from a shared address never locks out a valid operator.
   */
  admission(client: string, knownLabel: string | null, nowMs: number): { allowed: true } | { allowed: false; retryAfter: number } {
    const retryAfter = this.byClient.blockedForSeconds(client, nowMs);
    if (retryAfter === 0) return { allowed: true };
    if (knownLabel !== null && this.labelBudget.take(knownLabel, nowMs)) return { allowed: true };
    return { allowed: false, retryAfter };
  }

  record(failure: AdminFailure, nowMs: number): void {
    this.byClient.record(failure.client, nowMs);
    if (failure.label !== undefined) this.byLabel.record(truncateText(failure.label), nowMs);
    this.flushIfDue(nowMs);
    this.windowStart ??= nowMs;
    if (this.individual < INDIVIDUAL_FAILURES_PER_WINDOW) {
      this.individual++;
      appendAudit(this.sqlite, this.clock, {
        eventType: 'admin_auth_failed',
        actor: failure.actor,
        requestId: failure.requestId,
        details: {
          reason: failure.reason,
          method: truncateText(failure.method, 16),
          path: truncateText(failure.path),
          client: truncateText(failure.client),
          ...(failure.label !== undefined && failure.actor.type !== 'operator' ? { claimed_key: truncateText(failure.label) } : {}),
        },
      });
      return;
    }
    const key = `${failure.client}\u0000${failure.reason}`;
    const entry = this.counted.get(key);
    if (entry) entry.count++;
    else if (this.counted.size < MAX_TRACKED)
      this.counted.set(key, { client: truncateText(failure.client), reason: failure.reason, count: 1 });
    else {
      const other = this.counted.get('\u0000other') ?? { client: '(other)', reason: '(other)', count: 0 };
      other.count++;
      this.counted.set('\u0000other', other);
    }
    this.countedTotal++;
  }

  /** Writes the summary of a window that has passed (called on each failure and admin request). */
  flushIfDue(nowMs: number): void {
    if (this.windowStart === null || nowMs - this.windowStart < this.windowMs) return;
    this.flush(nowMs);
  }

  /** Writes the current window's summary now, if anything was counted (also on shutdown). */
  flush(nowMs = this.clock().getTime()): void {
    if (this.windowStart === null) return;
    if (this.countedTotal > 0) {
      const groups = [...this.counted.values()].sort((a, b) => b.count - a.count || (a.client < b.client ? -1 : 1));
      const top = groups.slice(0, 20);
      const rest = groups.slice(20).reduce((n, g) => n + g.count, 0);
      appendAudit(this.sqlite, this.clock, {
        eventType: 'admin_auth_failures_summarized',
        actor: { type: 'system' },
        details: {
          window_start: toTimestamp(new Date(this.windowStart)),
          window_end: toTimestamp(new Date(Math.max(nowMs, this.windowStart))),
          audited_individually: this.individual,
          counted: this.countedTotal,
          top: top.map((g) => ({ client: g.client, reason: g.reason, count: g.count })),
          other_count: rest,
        },
      });
    }
    this.windowStart = null;
    this.individual = 0;
    this.counted = new Map();
    this.countedTotal = 0;
  }
}
