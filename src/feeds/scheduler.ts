// Background work of the feeds domain: debounced publish after revocations, publish and pull schedules, freshness.
import cron from 'node-cron';
import type { AppDeps } from '../authority/context.ts';
import { setPublishTimers, type PublishTimers } from '../log/publication.ts';
import { runDeclarationWatch } from './declaration-watch.ts';
import { refreshIssuerStaleness } from './freshness.ts';
import { publishFeeds, type PublishTrigger } from './publish.ts';
import { runPullJob } from './pull.ts';

/** Revocations arriving within this window are published together. */
export const PUBLISH_DEBOUNCE_MS = 2_000;
const FRESHNESS_INTERVAL_MS = 30_000;

function publishSafely(deps: AppDeps, trigger: PublishTrigger): void {
  try {
    publishFeeds(deps, { trigger });
  } catch (err) {
    deps.logger.error({ err, trigger }, 'feed publishing failed');
  }
}

/** Starts the feed jobs of a serving authority; each registers a stop handle in deps.background. */
export function startFeedJobs(deps: AppDeps): void {
  let debounce: NodeJS.Timeout | undefined;
  const publishTask = cron.createTask(deps.config.feedPublishCron, () => publishSafely(deps, 'schedule'), {
    name: 'feed-publish',
    noOverlap: true,
  });
  const outlook: PublishTimers = { debounceDueMs: null, publishTask };
  setPublishTimers(deps, outlook);
  const onRevocation = () => {
    if (debounce) clearTimeout(debounce);
    outlook.debounceDueMs = Date.now() + PUBLISH_DEBOUNCE_MS;
    debounce = setTimeout(() => {
      debounce = undefined;
      outlook.debounceDueMs = null;
      publishSafely(deps, 'revocation');
    }, PUBLISH_DEBOUNCE_MS);
    debounce.unref();
  };
  deps.changes.on('revocation', onRevocation);
  deps.background.push({
    stop: () => {
      deps.changes.off('revocation', onRevocation);
      if (debounce) clearTimeout(debounce);
      setPublishTimers(deps, null);
    },
  });

  let pulling = false;
  const pullTask = cron.createTask(
    deps.config.feedPullCron,
    async () => {
      if (pulling) return;
      pulling = true;
      try {
        await runPullJob(deps);
        // Declarations change rarely: the watch polls each peer only once per ACCORD_PEER_DECLARATION_INTERVAL_S.
        await runDeclarationWatch(deps);
      } catch (err) {
        deps.logger.error({ err }, 'pull job failed');
      } finally {
        pulling = false;
      }
    },
    { name: 'feed-pull', noOverlap: true },
  );
  void publishTask.start();
  void pullTask.start();
  deps.background.push({ stop: () => publishTask.destroy() }, { stop: () => pullTask.destroy() });

  const freshness = setInterval(() => {
    try {
      refreshIssuerStaleness(deps);
    } catch (err) {
      deps.logger.warn({ err }, 'feed freshness refresh failed');
    }
  }, FRESHNESS_INTERVAL_MS);
  freshness.unref();
  deps.background.push({ stop: () => clearInterval(freshness) });

  // Publish at start: a first heartbeat (sequence 1) or a backlog left by a stop appears at once.
  const initial = setTimeout(() => publishSafely(deps, 'schedule'), 0);
  initial.unref();
  deps.background.push({ stop: () => clearTimeout(initial) });
}
