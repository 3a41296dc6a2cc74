// Feed freshness: an issuer past the next_update of its latest imported feed is stale (metric, listings, connectome).
import type { AppDeps } from '../authority/context.ts';
import { listIssuerFeedStatuses } from './imported-revocations.ts';

type FreshnessDeps = Pick<AppDeps, 'db' | 'clock' | 'metrics'>;

/**
 * Sets accord_feed_issuer_stale{issuer} from the stored import state at the injected clock's now,
 * for one issuer or for all. Called after imports and rollbacks, on every scrape and on a timer.
 */
export function refreshIssuerStaleness(deps: FreshnessDeps, issuer?: string): void {
  const gauge = deps.metrics.feedIssuerStale;
  const statuses = listIssuerFeedStatuses(deps.db.sqlite, deps.clock());
  if (issuer === undefined) gauge.reset();
  for (const status of statuses) {
    if (issuer !== undefined && status.issuer_sovereign_id !== issuer) continue;
    if (status.imported_sequence === 0) gauge.remove({ issuer: status.issuer_sovereign_id });
    else gauge.set({ issuer: status.issuer_sovereign_id }, status.stale ? 1 : 0);
  }
}

/** Makes every scrape of accord_feed_issuer_stale reflect the current time (prom-client calls `collect` before reading). */
export function refreshStalenessOnScrape(deps: FreshnessDeps): void {
  const gauge = deps.metrics.feedIssuerStale as unknown as { collect?: () => void };
  gauge.collect = () => {
    try {
      refreshIssuerStaleness(deps);
    } catch (err) {
      // A scrape must never fail because of this gauge; the timer refreshes it again.
      void err;
    }
  };
}
