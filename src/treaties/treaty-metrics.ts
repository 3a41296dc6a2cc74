// Treaty gauges computed at scrape time: lifecycle depends on the clock, so counting on change would go stale.
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { EXPIRING_SOON_SECONDS, LIFECYCLE_STATES, type LifecycleState } from './lifecycle.ts';
import { treatyLifecycleCounts } from './store.ts';

type Collectable = { collect?: () => void };

/** Counts this authority's treaties by lifecycle state at `deps.clock()`, and the soonest expiry in force. */
export function treatyGaugeValues(deps: AppDeps): { counts: Record<LifecycleState, number>; minSecondsToExpiry: number } {
  const now = deps.clock();
  const rows = treatyLifecycleCounts(deps.db.sqlite, deps.identity.sovereignId, {
    now: toTimestamp(now),
    soon: toTimestamp(new Date(now.getTime() + EXPIRING_SOON_SECONDS * 1000)),
  });
  const counts = Object.fromEntries(LIFECYCLE_STATES.map((s) => [s, 0])) as Record<LifecycleState, number>;
  let soonest: number | null = null;
  for (const row of rows) {
    counts[row.state] = row.n;
    if (row.state === 'active' || row.state === 'expiring_soon') {
      const ms = Date.parse(row.soonest);
      soonest = soonest === null ? ms : Math.min(soonest, ms);
    }
  }
  // No treaty in force: nothing is about to expire, so the gauge reads +Inf rather than a false 0.
  const minSecondsToExpiry = soonest === null ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor((soonest - now.getTime()) / 1000));
  return { counts, minSecondsToExpiry };
}

/** Hooks the treaty gauges to compute on each scrape (once per app). */
export function installTreatyMetrics(deps: AppDeps): void {
  const gauge = deps.metrics.treaties as unknown as Collectable;
  const minGauge = deps.metrics.treatyMinSecondsToExpiry as unknown as Collectable;
  gauge.collect = () => {
    const { counts } = treatyGaugeValues(deps);
    for (const state of LIFECYCLE_STATES) deps.metrics.treaties.set({ lifecycle_state: state }, counts[state]);
  };
  minGauge.collect = () => {
    deps.metrics.treatyMinSecondsToExpiry.set(treatyGaugeValues(deps).minSecondsToExpiry);
  };
}
