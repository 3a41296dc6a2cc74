// Background jobs of a serving authority (cron schedules and timers); each registers a stop handle.
import { startFeedJobs } from '../feeds/scheduler.ts';
import { startMirror } from '../mirror/service.ts';
import { startKeyRetirement } from '../ops/key-rotation.ts';
import { startWitnessSubmissions } from '../witness/submission.ts';
import { startEvidenceGossip } from '../gossip/forwarding.ts';
import type { AppDeps } from '../authority/context.ts';
import { followerFiles, startFollowerPublishing } from '../follow/publish.ts';

export type BackgroundJobStarter = (deps: AppDeps) => void;

/** The static mirror (ACCORD_MIRROR_DIR) carries the follower updates too, so followers can follow it. */
const startMirrorWithUpdates: BackgroundJobStarter = (deps) => startMirror(deps, () => followerFiles(deps));

/** Jobs every serving authority runs. Domain folders add their starters here. */
const STARTERS: BackgroundJobStarter[] = [
  startFeedJobs,
  startKeyRetirement,
  startWitnessSubmissions,
  startFollowerPublishing,
  startEvidenceGossip,
  startMirrorWithUpdates,
];

export function startBackgroundJobs(deps: AppDeps): void {
  for (const start of STARTERS) start(deps);
}
