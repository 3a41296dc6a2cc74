// Reading a peer's answers to the pull job (a page of feeds, the latest feed): strict JSON, integers only,
// the expected shape; each feed then handed to the import as an import request body.
import { canonicalJson, decodeUtf8Strict, parseJsonStrict, type JsonValue } from '../authority/canonical-json.ts';
import { hashRef } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';

export interface PageFeed {
  /** The feed's `log.size` when it has one (the pull fetches a consistency proof up to it). */
  logSize: number | null;
}

export type PageProblem = 'not_utf8' | 'not_strict_json' | 'non_canonical_number' | 'not_a_feed_page' | 'no_valid_sequence';

export type PageReading = { ok: true; more: boolean; feeds: PageFeed[] } | { ok: false; problem: PageProblem };

/**
 * A peer's latest feed (GET /revocation-feeds/latest), or one feed by sequence: its sequence, the hash
 * of its canonical form (null if it has none) and its `log.size` (null if it has none).
 */
export type LatestReading =
  | { ok: true; sequence: number; feedHash: string | null; logSize: number | null }
  | { ok: false; problem: PageProblem };

const isObject = (value: JsonValue | undefined): value is Record<string, JsonValue> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Peer responses held where they are imported: received in chunks, read whole (a page that is not
 * strict JSON imports nothing), then each feed handed to the import as the body of an import request.
 * On a worker thread the serving thread never holds a page: it passes chunks on as they arrive.
 */
export class ReceivedPages {
  private readonly pages = new Map<number, { chunks: Uint8Array[]; feeds: JsonValue[] | null }>();

  write(page: number, chunk: Uint8Array): void {
    let held = this.pages.get(page);
    if (!held) this.pages.set(page, (held = { chunks: [], feeds: null }));
    held.chunks.push(chunk);
  }

  /** The page as the pull job needs it (`{feeds, more}`), or what is wrong with it. */
  readPage(page: number): PageReading {
    const read = this.readWhole(page);
    if (!read.ok) return read;
    const body = read.value;
    if (!isObject(body) || !Array.isArray(body.feeds) || typeof body.more !== 'boolean') return { ok: false, problem: 'not_a_feed_page' };
    this.hold(page, body.feeds);
    return {
      ok: true,
      more: body.more,
      feeds: body.feeds.map((feed) => {
        const size = isObject(feed) && isObject(feed.log) ? feed.log.size : undefined;
        return { logSize: typeof size === 'number' ? size : null };
      }),
    };
  }

  /** The latest feed: which sequence it is, and the hash that tells whether it is the one already imported there. */
  readLatest(page: number): LatestReading {
    const read = this.readWhole(page);
    if (!read.ok) return read;
    const feed = read.value;
    const sequence = isObject(feed) ? feed.sequence : undefined;
    if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 1) return { ok: false, problem: 'no_valid_sequence' };
    this.hold(page, [feed]);
    let feedHash: string | null = null;
    try {
      feedHash = hashRef(canonicalJson(feed));
    } catch {
      feedHash = null;
    }
    const size = isObject(feed) && isObject(feed.log) ? feed.log.size : undefined;
    return { ok: true, sequence, feedHash, logSize: typeof size === 'number' ? size : null };
  }

  /**
   * The import request body for feed `index` of a page read before. JSON.stringify gives back the
   * served text of a canonical (JCS) server: parsing keeps the key order, and JavaScript's number and
   * string forms are JCS's; so the import takes its canonical-bytes path.
   */
  feedRequest(page: number, index: number): Buffer {
    const feed = this.pages.get(page)?.feeds?.[index];
    if (feed === undefined) throw new Error(`no feed ${index} in received page ${page}`);
    return feedRequestBody(JSON.stringify(feed));
  }

  discard(page: number): void {
    this.pages.delete(page);
  }

  private hold(page: number, feeds: JsonValue[]): void {
    this.pages.set(page, { chunks: [], feeds });
  }

  private readWhole(page: number): { ok: true; value: JsonValue } | { ok: false; problem: PageProblem } {
    const chunks = this.pages.get(page)?.chunks ?? [];
    let text: string;
    try {
      text = decodeUtf8Strict(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    } catch {
      return { ok: false, problem: 'not_utf8' };
    }
    this.hold(page, []);
    try {
      return { ok: true, value: parseJsonStrict(text, { integersOnly: true }) };
    } catch (err) {
      return {
        ok: false,
        problem: err instanceof AppError && err.code === 'non_canonical_number' ? 'non_canonical_number' : 'not_strict_json',
      };
    }
  }
}

/** Feed text → the import request body that carries it. */
export function feedRequestBody(feedText: string): Buffer {
  return Buffer.from(`{"feed":${feedText}}`, 'utf8');
}
