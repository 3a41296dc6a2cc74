// The serving authority's mirror upkeep (ACCORD_MIRROR_DIR): after every publication and connectome change, debounced, the mirror is brought up to date.
import type { ChangeEvent } from '../authority/changes.ts';
import type { AppDeps } from '../authority/context.ts';
import { CONNECTOME_EVENTS } from '../connectome/service.ts';
import { authorityMirrorInputs } from './inputs.ts';
import { MirrorWriter, type MirrorInputs, type MirrorOptions, type MirrorSyncReport } from './mirror.ts';

/** Changes after which some mirrored file differs: a publication, a cosignature, new follower updates, the keys, or anything the connectome shows. */
export const MIRROR_EVENTS: readonly ChangeEvent[] = [
  ...new Set<ChangeEvent>(['feed-published', 'log-cosigned', 'follower-updates', 'signing-keys', ...CONNECTOME_EVENTS]),
];

/** Changes arriving within this time are written together. */
export const MIRROR_DEBOUNCE_MS = 250;
/** The connectome also changes with the clock (a feed goes stale, a treaty expires): looked at this often. */
export const MIRROR_REFRESH_MS = 60_000;
/** After a failed update, the next try (also made at the next change). */
const RETRY_MS = 30_000;

export interface MirrorUpkeep {
  readonly dir: string;
  /** Resolves once no update is pending or running (with the last report, null if none ran). */
  settled(): Promise<MirrorSyncReport | null>;
  stop(): Promise<void>;
}

/**
 * Keeps `dir` a mirror of this authority: one update at start, then one per burst of changes (after
 * `debounceMs` of quiet, never two at once) and one every `refreshMs`. The work off the database —
 * building and gzipping the connectome, writing and fsyncing files — runs on the connectome's worker
 * thread and libuv's pool; the serving thread reads stored rows between awaits. A failed update is
 * logged, counted and retried; the mirror keeps showing its last consistent head meanwhile.
 */
export function startMirrorUpkeep(
  deps: AppDeps,
  dir: string,
  options: MirrorOptions & { debounceMs?: number; refreshMs?: number; extraFiles?: MirrorInputs['extraFiles'] } = {},
): MirrorUpkeep {
  const writer = new MirrorWriter(dir, authorityMirrorInputs(deps, options.extraFiles), options);
  const debounceMs = options.debounceMs ?? MIRROR_DEBOUNCE_MS;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  let last: MirrorSyncReport | null = null;
  const idle: Array<() => void> = [];

  const run = () => {
    timer = null;
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = writer
      .sync()
      .then(
        (report) => {
          last = report;
          deps.metrics.mirrorSequence.set(report.sequence);
          if (report.files_written > 0) deps.logger.debug({ mirror: dir, ...report }, 'mirror updated');
        },
        (err: unknown) => {
          deps.metrics.mirrorSyncFailures.inc();
          deps.logger.error({ err, mirror: dir }, 'mirror update failed');
          schedule(RETRY_MS);
        },
      )
      .finally(() => {
        running = null;
        if (again && !stopped) {
          again = false;
          schedule(debounceMs);
        } else if (!timer) for (const resolve of idle.splice(0)) resolve();
      });
  };
  const schedule = (ms: number) => {
    if (stopped || timer) return;
    timer = setTimeout(run, ms);
    timer.unref();
  };
  const onChange = () => {
    if (running) again = true;
    else schedule(debounceMs);
  };
  for (const event of MIRROR_EVENTS) deps.changes.on(event, onChange);
  const refresh = setInterval(() => schedule(0), options.refreshMs ?? MIRROR_REFRESH_MS);
  refresh.unref();
  schedule(0);

  const upkeep: MirrorUpkeep = {
    dir,
    settled: () =>
      new Promise((resolve) => {
        if (!running && !timer) resolve(last);
        else idle.push(() => resolve(last));
      }),
    stop: async () => {
      stopped = true;
      for (const event of MIRROR_EVENTS) deps.changes.off(event, onChange);
      clearInterval(refresh);
      if (timer) clearTimeout(timer);
      timer = null;
      while (running) await running;
      for (const resolve of idle.splice(0)) resolve();
    },
  };
  deps.background.push({ stop: upkeep.stop });
  return upkeep;
}

/**
 * The background job of a serving authority: the mirror upkeep when ACCORD_MIRROR_DIR is set, with
 * `extraFiles` (the follower updates) beside its own files. A follower keeps none: it signs nothing,
 * and a mirror of its primary is the primary's to write.
 */
export function startMirror(deps: AppDeps, extraFiles?: MirrorInputs['extraFiles']): void {
  if (!deps.config.mirrorDir) return;
  if (deps.identity.primaryUrl !== undefined) {
    deps.logger.warn({ mirror: deps.config.mirrorDir }, 'ACCORD_MIRROR_DIR is ignored by a follower: mirror the primary');
    return;
  }
  startMirrorUpkeep(deps, deps.config.mirrorDir, extraFiles ? { extraFiles } : {});
}
