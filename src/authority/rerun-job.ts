// A background job run after a change event, once at start and on an interval: one round at a time, a
// request during a round runs one more round after it, and stopping waits for the round under way.
import type { AppDeps } from './context.ts';
import type { ChangeEvent } from './changes.ts';

export interface RerunJob {
  /** The change event that asks for a round. */
  event: ChangeEvent;
  /** Milliseconds between rounds asked for by the clock (retries whose backoff has passed). */
  intervalMs: number;
  /** One round; its failure is logged with `failure` and the next round runs as usual. */
  round(): Promise<unknown>;
  failure: string;
}

export function startRerunJob(deps: Pick<AppDeps, 'changes' | 'logger' | 'background'>, job: RerunJob): void {
  let current: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  const run = () => {
    if (stopped) return;
    if (current) {
      again = true;
      return;
    }
    current = job
      .round()
      .then(
        () => {},
        (err: unknown) => deps.logger.error({ err }, job.failure),
      )
      .finally(() => {
        current = null;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const onEvent = () => run();
  deps.changes.on(job.event, onEvent);
  const retry = setInterval(run, job.intervalMs);
  retry.unref();
  const initial = setTimeout(run, 0);
  initial.unref();
  deps.background.push({
    // Waits for a round under way: it writes to the database the caller is about to close.
    stop: async () => {
      stopped = true;
      deps.changes.off(job.event, onEvent);
      clearInterval(retry);
      clearTimeout(initial);
      while (current) await current;
    },
  });
}
