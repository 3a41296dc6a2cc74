// The connectome of one authority: built once per change, rebuilt lazily when data or the clock moves on.
import type { ChangeEvent } from '../authority/changes.ts';
import type { AppDeps } from '../authority/context.ts';
import { buildConnectome, type Connectome } from './connectome.ts';
import { loadConnectomeInput, type ConnectomeSourceDeps } from './loader.ts';

/** What the service needs: the loader's reads, plus change events and a place to register its shutdown. */
export type ConnectomeServiceDeps = ConnectomeSourceDeps & Pick<AppDeps, 'changes' | 'background'>;

/** Change events (deps.changes) after which the connectome is out of date. */
export const CONNECTOME_EVENTS: readonly ChangeEvent[] = [
  'treaties',
  'revocation',
  'feed-imported',
  'feed-published',
  'peers',
  'feed-receipt',
];

export class ConnectomeService {
  private current: Connectome | undefined;
  private stale = true;
  private builds = 0;
  /** Clock time of the last build, and how long it took (wall time, ms). */
  private builtAt = 0;
  private buildMs = 0;
  private readonly onChange = () => {
    this.stale = true;
  };

  constructor(private readonly deps: ConnectomeServiceDeps) {
    for (const event of CONNECTOME_EVENTS) deps.changes.on(event, this.onChange);
    deps.background.push({ stop: () => this.close() });
  }

  /**
   * The current connectome. Rebuilt when a change event arrived since the last build, or when the
   * clock has passed the next lifecycle boundary (a treaty became valid, entered its expiry window
   * or expired, a feed went stale). Building is synchronous, so concurrent requests share one build.
   *
   * Clock-only rebuilds are spaced at least ten build-durations apart (in clock time): a network of
   * 100,000 treaties crosses a lifecycle boundary every few seconds, and rebuilding for each would
   * leave no time to serve. Small networks build in milliseconds, so for them this changes nothing.
   */
  get(): Connectome {
    const now = this.deps.clock().getTime();
    const current = this.current;
    const clockDue = current !== undefined && now >= current.nextBoundaryMs && now - this.builtAt >= 10 * this.buildMs;
    if (this.stale || !current || clockDue) {
      const started = performance.now();
      this.current = buildConnectome(loadConnectomeInput(this.deps), current ? { sizeHint: current.length } : {});
      this.buildMs = performance.now() - started;
      this.builtAt = now;
      this.stale = false;
      this.builds++;
    }
    return this.current!;
  }

  /** Marks the connectome out of date (a change another thread saw). */
  markStale(): void {
    this.stale = true;
  }

  /** How many times the connectome was built (for tests and the operator's curiosity). */
  get buildCount(): number {
    return this.builds;
  }

  close(): void {
    for (const event of CONNECTOME_EVENTS) this.deps.changes.off(event, this.onChange);
  }
}
