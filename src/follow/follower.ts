// A follower: pinning its primary's keys, pulling follower updates on an interval, applying them, and knowing how far behind it is.
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps, AuthorityIdentity, PublishedKey } from '../authority/context.ts';
import { parsePublicKey, type PublicKeyInfo } from '../authority/crypto.ts';
import { insertAuthorityMeta, readAuthorityMetaIfPresent } from '../authority/identity-store.ts';
import type { Sqlite } from '../db/database.ts';
import { applyFollowerUpdate, checkDeclaration, FollowerRefusal, type DeclarationView, type RefusalReason } from './apply.ts';
import { FOLLOWER_UPDATES_PATH, MAX_UPDATE_BYTES } from './model.ts';
import { insertFollowerState, readFollowerState, setFollowerPrimaryUrl, type FollowerStateRow } from './store.ts';

/** Pull interval when none is given: with it, a follower reflects a publication within about a second. */
export const DEFAULT_PULL_INTERVAL_MS = 1_000;
const FETCH_TIMEOUT_MS = 10_000;

export class FollowerStartError extends Error {
  override name = 'FollowerStartError';
}

/** The primary's base URL without a trailing slash; throws on anything but http(s). */
export function normalizePrimaryUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FollowerStartError(`--follow must be an http(s) URL (got ${JSON.stringify(url)})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new FollowerStartError('--follow must be an http(s) URL');
  if (parsed.search || parsed.hash) throw new FollowerStartError('--follow must be a base URL without query or fragment');
  return parsed.toString().replace(/\/+$/, '');
}

async function fetchText(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; etag: string | null }> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > MAX_UPDATE_BYTES) {
    await response.body?.cancel();
    throw new Error(`${url} answered with ${length} bytes, more than ${MAX_UPDATE_BYTES}`);
  }
  const bytes = Buffer.from(await response.arrayBuffer());
  if (bytes.length > MAX_UPDATE_BYTES) throw new Error(`${url} answered with more than ${MAX_UPDATE_BYTES} bytes`);
  return { status: response.status, text: bytes.toString('utf8'), etag: response.headers.get('etag') };
}

/**
 * Makes `db` a follower's database of the primary at `url`, or checks that it is one. On the first
 * start the primary's keys are pinned: the `--key` ones (the declaration the primary serves must be
 * signed by one of them), else the keys its declaration names, trusted on first use. Later starts use
 * the pinned keys and need not reach the primary.
 */
export async function prepareFollower(
  sqlite: Sqlite,
  options: { url: string; keys?: readonly string[] | undefined; now: Date },
): Promise<{ state: FollowerStateRow; pinnedOnFirstUse: boolean }> {
  const url = normalizePrimaryUrl(options.url);
  const given: PublicKeyInfo[] = (options.keys ?? []).map((text) => {
    const parsed = parsePublicKey(text);
    if (!parsed.ok) throw new FollowerStartError(`--key ${JSON.stringify(text)} is not an Ed25519 public key (${parsed.reason})`);
    return parsed.key;
  });
  const existing = readFollowerState(sqlite);
  if (existing) {
    const pinned = new Set(JSON.parse(existing.pinned_keys) as string[]);
    const stray = given.find((k) => !pinned.has(k.base64));
    if (stray)
      throw new FollowerStartError(
        `--key ${stray.base64} is not among the keys this follower pinned for "${existing.sovereign_id}"; a follower of another key needs a new database`,
      );
    if (existing.primary_url !== url) setFollowerPrimaryUrl(sqlite, url);
    return { state: readFollowerState(sqlite)!, pinnedOnFirstUse: false };
  }
  if (readAuthorityMetaIfPresent(sqlite, 'sovereign_id') !== undefined)
    throw new FollowerStartError(
      'this database belongs to an authority; a follower needs a database of its own (set ACCORD_DATA_DIR or ACCORD_DB_PATH)',
    );
  let text: string;
  try {
    const answer = await fetchText(`${url}/.well-known/network-authority`);
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
    text = answer.text;
  } catch (err) {
    throw new FollowerStartError(`cannot read the declaration of ${url} to pin its keys on the first start: ${(err as Error).message}`);
  }
  const selfSigned = given.length > 0 ? checkDeclaration(text, given) : selfSignedDeclaration(text);
  if (!selfSigned)
    throw new FollowerStartError(
      given.length > 0
        ? `the declaration ${url} serves is not signed by the --key given`
        : `the declaration ${url} serves is malformed or not signed by the keys it names`,
    );
  const pinnedKeys = given.length > 0 ? given : selfSigned.keys;
  const state = {
    primary_url: url,
    sovereign_id: selfSigned.declaration.sovereign_id,
    pinned_keys: JSON.stringify(pinnedKeys.map((k) => k.base64)),
    pinned_by: given.length > 0 ? ('command_line' as const) : ('first_use' as const),
    pinned_at: toTimestamp(options.now),
    declaration: text,
  };
  sqlite
    .transaction(() => {
      insertAuthorityMeta(sqlite, 'sovereign_id', state.sovereign_id);
      insertFollowerState(sqlite, state);
    })
    .immediate();
  return { state: readFollowerState(sqlite)!, pinnedOnFirstUse: given.length === 0 };
}

/** A declaration signed by one of the keys it names (what trust on first use accepts). */
function selfSignedDeclaration(text: string): { declaration: DeclarationView; keys: PublicKeyInfo[] } | null {
  try {
    const keys = ((JSON.parse(text) as DeclarationView).public_keys ?? []).flatMap((k) => {
      const parsed = parsePublicKey(k.public_key);
      return parsed.ok ? [parsed.key] : [];
    });
    return keys.length > 0 ? checkDeclaration(text, keys) : null;
  } catch {
    return null;
  }
}

/** The identity a follower serves under: its primary's sovereign id and declared keys, and no signing key. */
export function followerIdentity(state: FollowerStateRow): AuthorityIdentity {
  const declared = state.declaration ? (JSON.parse(state.declaration) as DeclarationView).public_keys : null;
  const publishedKeys: PublishedKey[] =
    declared?.map((k) => ({ ...k })) ??
    (JSON.parse(state.pinned_keys) as string[]).flatMap((text) => {
      const parsed = parsePublicKey(text);
      return parsed.ok ? [{ key_id: parsed.key.keyId, public_key: parsed.key.base64 }] : [];
    });
  return { sovereignId: state.sovereign_id, signingKeys: [], publishedKeys, primaryUrl: state.primary_url };
}

export type FollowerCondition = 'starting' | 'following' | 'catching_up' | 'primary_unreachable' | 'refusing';

export interface FollowerStatus {
  primary: string;
  condition: FollowerCondition;
  pull_interval_ms: number;
  applied_sequence: number;
  /** The newest sequence the primary announced at the last successful pull. */
  primary_sequence: number | null;
  applied_issued_at: string | null;
  /** The next_update of the last applied update: past it, the copy is stale. */
  next_update: string | null;
  stale: boolean;
  /** When a pull last found the follower holding everything the primary announced. */
  caught_up_at: string | null;
  /** Seconds since then: how old the copy may be. Null before the first time. */
  lag_seconds: number | null;
  last_pull_at: string | null;
  last_error: { reason: RefusalReason | 'unreachable' | 'primary_behind'; message: string; at: string } | null;
}

/** Pulls and applies follower updates from the primary every interval. */
export class Follower {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private latestEtag: string | null = null;
  private primarySequence: number | null = null;
  private caughtUpAtMs: number | null = null;
  private lastPullAt: string | null = null;
  private condition: FollowerCondition = 'starting';
  private lastError: FollowerStatus['last_error'] = null;

  constructor(
    private readonly deps: AppDeps,
    readonly pullIntervalMs: number = DEFAULT_PULL_INTERVAL_MS,
  ) {}

  private get url(): string {
    return this.deps.identity.primaryUrl!;
  }

  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      const started = Date.now();
      this.running = this.pullOnce().then(
        () => undefined,
        (err: unknown) => this.deps.logger.error({ err }, 'follower pull failed'),
      );
      await this.running;
      this.running = undefined;
      if (this.stopped) return;
      this.timer = setTimeout(loop, Math.max(0, this.pullIntervalMs - (Date.now() - started)));
    };
    this.timer = setTimeout(loop, 0);
    this.deps.background.push({ stop: () => this.stop() });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pull: the latest update's sequence, then every missing update in order. Never throws for the primary's faults. */
  async pullOnce(): Promise<'applied' | 'current' | 'unreachable' | 'refused'> {
    const deps = this.deps;
    const sqlite = deps.db.sqlite;
    this.lastPullAt = toTimestamp(deps.clock());
    let latestText: string | null = null;
    let latestSequence = this.primarySequence ?? 0;
    try {
      const answer = await fetchText(
        `${this.url}${FOLLOWER_UPDATES_PATH}/latest`,
        this.latestEtag ? { 'If-None-Match': this.latestEtag } : {},
      );
      if (answer.status === 304 && this.primarySequence !== null) {
        // Unchanged since the last pull.
      } else if (answer.status === 200) {
        latestText = answer.text;
        this.latestEtag = answer.etag;
      } else throw new Error(`HTTP ${answer.status} from ${FOLLOWER_UPDATES_PATH}/latest`);
    } catch (err) {
      return this.failed('unreachable', 'unreachable', (err as Error).message);
    }
    if (latestText !== null) {
      let sequence: unknown;
      try {
        sequence = (JSON.parse(latestText) as { sequence?: unknown }).sequence;
      } catch {
        sequence = undefined;
      }
      if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 1) {
        this.latestEtag = null;
        deps.metrics.followerRefusedUpdates.inc({ reason: 'malformed_update' });
        return this.failed('refused', 'malformed_update', 'the latest update is not JSON with a sequence');
      }
      latestSequence = sequence;
    }
    this.primarySequence = latestSequence;
    deps.metrics.followerPrimarySequence.set(latestSequence);
    let applied = readFollowerState(sqlite)!.applied_sequence;
    if (latestSequence < applied)
      return this.failed('refused', 'primary_behind', `the primary announces update ${latestSequence}, older than ${applied} applied here`);
    let appliedAny = false;
    while (applied < latestSequence) {
      const sequence = applied + 1;
      let text: string;
      if (sequence === latestSequence && latestText !== null) text = latestText;
      else {
        try {
          const answer = await fetchText(`${this.url}${FOLLOWER_UPDATES_PATH}/${sequence}`);
          if (answer.status !== 200) throw new Error(`HTTP ${answer.status} from ${FOLLOWER_UPDATES_PATH}/${sequence}`);
          text = answer.text;
        } catch (err) {
          return this.failed('unreachable', 'unreachable', (err as Error).message);
        }
      }
      try {
        applyFollowerUpdate(deps, text);
      } catch (err) {
        if (!(err instanceof FollowerRefusal)) throw err;
        deps.metrics.followerRefusedUpdates.inc({ reason: err.reason });
        deps.logger.error({ sequence, reason: err.reason, message: err.message }, 'follower update refused; nothing applied');
        // A refused latest update is fetched again next time (a mirror may have been repaired meanwhile).
        this.latestEtag = null;
        return this.failed('refused', err.reason, err.message);
      }
      applied = sequence;
      appliedAny = true;
      deps.metrics.followerAppliedSequence.set(applied);
    }
    this.caughtUpAtMs = deps.clock().getTime();
    this.condition = 'following';
    this.lastError = null;
    this.refreshGauges();
    const outcome = appliedAny ? 'applied' : 'current';
    deps.metrics.followerPulls.inc({ outcome });
    return outcome;
  }

  private failed<O extends 'unreachable' | 'refused'>(
    outcome: O,
    reason: NonNullable<FollowerStatus['last_error']>['reason'],
    message: string,
  ): O {
    const firstFailure = this.lastError?.reason !== reason;
    this.lastError = { reason, message, at: toTimestamp(this.deps.clock()) };
    this.condition = outcome === 'unreachable' ? 'primary_unreachable' : 'refusing';
    if (firstFailure && outcome === 'unreachable')
      this.deps.logger.warn({ primary: this.url, message }, 'primary unreachable; serving the copy held');
    this.deps.metrics.followerPulls.inc({ outcome });
    this.refreshGauges();
    return outcome;
  }

  /** Sets the lag and staleness gauges to now (also called when metrics are scraped). */
  refreshGauges(): FollowerStatus {
    const status = this.status();
    this.deps.metrics.followerLagSeconds.set(status.lag_seconds ?? -1);
    this.deps.metrics.followerStale.set(status.stale ? 1 : 0);
    this.deps.metrics.followerAppliedSequence.set(status.applied_sequence);
    return status;
  }

  status(): FollowerStatus {
    const now = this.deps.clock();
    const state = readFollowerState(this.deps.db.sqlite)!;
    const stale = state.next_update !== null && Date.parse(state.next_update) < now.getTime();
    const behind = this.primarySequence !== null && state.applied_sequence < this.primarySequence;
    return {
      primary: state.primary_url,
      condition: this.condition === 'following' && behind ? 'catching_up' : this.condition,
      pull_interval_ms: this.pullIntervalMs,
      applied_sequence: state.applied_sequence,
      primary_sequence: this.primarySequence,
      applied_issued_at: state.applied_issued_at,
      next_update: state.next_update,
      stale,
      caught_up_at: this.caughtUpAtMs === null ? null : toTimestamp(new Date(this.caughtUpAtMs)),
      lag_seconds: this.caughtUpAtMs === null ? null : Math.max(0, (now.getTime() - this.caughtUpAtMs) / 1000),
      last_pull_at: this.lastPullAt,
      last_error: this.lastError,
    };
  }
}

const followers = new WeakMap<AppDeps, Follower>();

/** Starts following for an app built with a follower identity; the app's health routes report it. */
export function startFollowing(deps: AppDeps, pullIntervalMs = DEFAULT_PULL_INTERVAL_MS): Follower {
  const follower = new Follower(deps, pullIntervalMs);
  followers.set(deps, follower);
  follower.start();
  return follower;
}

/** The follower of an app (set when it was started), for health and metrics. */
export function followerOf(deps: AppDeps): Follower | undefined {
  return followers.get(deps);
}

/** Registers a follower object for an app without starting its loop (tests drive `pullOnce` themselves). */
export function attachFollower(deps: AppDeps, pullIntervalMs = DEFAULT_PULL_INTERVAL_MS): Follower {
  const follower = new Follower(deps, pullIntervalMs);
  followers.set(deps, follower);
  return follower;
}
