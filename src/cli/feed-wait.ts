// `--wait`: polls an authority's public feed routes until a published feed carries a given log entry.
import { httpError, publicRequest } from './admin-client.ts';
import { CliError, EXIT } from './output.ts';

export const DEFAULT_WAIT_SECONDS = 30;
const MAX_WAIT_SECONDS = 3600;
const POLL_MS = 250;

interface FeedHead {
  sequence: number;
  issued_at: string;
  log: { size: number };
  entries: Array<{ index: number }>;
}

export interface CarryingFeed {
  sequence: number;
  issued_at: string;
  log_size: number;
}

/** `--wait` alone means the default; `--wait 90` waits up to 90 s. */
export function waitSeconds(value: string | boolean | undefined): number | null {
  if (value === undefined || value === false) return null;
  if (value === true) return DEFAULT_WAIT_SECONDS;
  if (!/^[1-9][0-9]{0,3}$/.test(value) || Number(value) > MAX_WAIT_SECONDS)
    throw new CliError(`--wait takes a whole number of seconds from 1 to ${MAX_WAIT_SECONDS}`);
  return Number(value);
}

function carrying(feed: FeedHead): CarryingFeed {
  return { sequence: feed.sequence, issued_at: feed.issued_at, log_size: feed.log.size };
}

/** The first entry index a feed carries (its entries are contiguous and end at log.size). */
const firstIndex = (feed: FeedHead) => feed.log.size - feed.entries.length;

/**
 * Finds the published feed that carries log entry `index`: the first feed whose log grew past it.
 * Starts from the latest feed (walking back if that one is already past the entry), then follows new
 * feeds with `GET /revocation-feeds?since=N`.
 */
export async function waitForCarryingFeed(url: string | undefined, index: number, seconds: number, pending: string): Promise<CarryingFeed> {
  const deadline = Date.now() + seconds * 1000;
  const get = async (path: string) => {
    const res = await publicRequest({ ...(url ? { url } : {}), path });
    if (res.status !== 200 && res.status !== 404) throw httpError(res);
    return res;
  };
  let since = 0;
  const latest = await get('/revocation-feeds/latest');
  if (latest.status === 200) {
    let feed = latest.body as FeedHead;
    if (feed.log.size <= index) since = feed.sequence;
    else {
      // Already published: walk back to the feed whose entries include it.
      while (firstIndex(feed) > index && feed.sequence > 1) {
        const previous = await get(`/revocation-feeds/${feed.sequence - 1}`);
        if (previous.status !== 200) break;
        feed = previous.body as FeedHead;
      }
      return carrying(feed);
    }
  }
  for (;;) {
    const page = (await get(`/revocation-feeds?since=${since}&limit=20`)).body as { feeds?: FeedHead[]; more?: boolean } | null;
    for (const feed of page?.feeds ?? []) {
      if (feed.log.size > index) return carrying(feed);
      since = feed.sequence;
    }
    if (page?.more) continue;
    if (Date.now() >= deadline) {
      throw new CliError(
        `revocation recorded (log index ${index}) but no published feed carried it within ${seconds} s (${pending}); it stands: run accord feed publish`,
        EXIT.notConfirmed,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
  }
}
