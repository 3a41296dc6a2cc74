// When the revocation log's next entries will be published: the feed scheduler records its timers
// here, and the routes that revoke something tell the caller when the revocation will appear in a feed.
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';

/**
 * When a revocation made now will be published: `scheduled` when the debounced publish after a
 * revocation is due (its expected time, on the authority's clock), else `pending` until the next run
 * of the publish schedule (null when this process runs no schedule: only `accord feed publish` will).
 */
export type PublicationOutlook =
  | { publish: 'scheduled'; expected_publication: string }
  | { publish: 'pending'; next_scheduled_run: string | null };

/** The publishing timers of a serving authority. */
export interface PublishTimers {
  /** Wall-clock time (ms) the debounced publish fires, while one is set. */
  debounceDueMs: number | null;
  /** The scheduled publish task: when it runs next. */
  publishTask: { getNextRun(): Date | null };
}

const timers = new WeakMap<AppDeps, PublishTimers>();

/** Records (or, with null, forgets) the publishing timers of an authority. */
export function setPublishTimers(deps: AppDeps, value: PublishTimers | null): void {
  if (value) timers.set(deps, value);
  else timers.delete(deps);
}

export function publicationOutlook(deps: AppDeps): PublicationOutlook {
  const t = timers.get(deps);
  // The timers run on wall-clock time; the answer is stated on the authority's clock.
  const onClock = (wallMs: number) => toTimestamp(new Date(deps.clock().getTime() + Math.max(0, wallMs - Date.now()) + 999));
  if (t?.debounceDueMs != null) return { publish: 'scheduled', expected_publication: onClock(t.debounceDueMs) };
  const next = t?.publishTask.getNextRun() ?? null;
  return { publish: 'pending', next_scheduled_run: next ? onClock(next.getTime()) : null };
}
