// Publishing and serving this authority's revocation feeds: sequence, chain, chunking, heartbeats, bytes served.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { canonicalJson, parseJsonStrict } from '../../src/authority/canonical-json.ts';
import { toTimestamp } from '../../src/authority/clock.ts';
import { canonicalHash, hashRef, parsePublicKey, verifySignedObject, type PublicKeyInfo } from '../../src/authority/crypto.ts';
import { leafHash, merkleTreeHash } from '../../src/log/merkle.ts';
import { revocationFeedSchema, spliceEntries } from '../../src/feeds/model.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { appendRevocations, readLogHead, type NewRevocationEntry } from '../../src/log/store.ts';
import { startFeedJobs } from '../../src/feeds/scheduler.ts';
import { issueAttestation, revokeAttestation } from '../../src/treaties/attestations.ts';
import { auditCount, createTestAuthority, testKey, type TestAuthority } from '../helpers/authority.ts';

function entry(i: number): NewRevocationEntry {
  return {
    kind: 'membership_attestation',
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    reason: 'key_compromise',
    revoked_at: '2026-03-01T00:00:00Z',
  };
}

function appendN(a: TestAuthority, n: number, start = readLogHead(a.db.sqlite).size): void {
  a.db.sqlite.transaction(() =>
    appendRevocations(
      a.db.sqlite,
      Array.from({ length: n }, (_, i) => entry(start + i)),
    ),
  )();
}

type StoredFeed = Record<string, unknown> & {
  sequence: number;
  entries: Array<{ index: number }>;
  log: { size: number; root_hash: string };
  signatures: unknown;
};

function storedFeeds(a: TestAuthority): StoredFeed[] {
  return (a.db.sqlite.prepare('SELECT body FROM published_feeds ORDER BY sequence').all() as Array<{ body: string }>).map((r) =>
    JSON.parse(r.body),
  );
}

function keyInfo(a: TestAuthority): PublicKeyInfo[] {
  const parsed = parsePublicKey(a.signingKey.publicKey);
  if (!parsed.ok) throw new Error('bad key');
  return [parsed.key];
}

async function errorOf(res: Response): Promise<{ code: string; details: Record<string, unknown> }> {
  return ((await res.json()) as { error: { code: string; details: Record<string, unknown> } }).error;
}

const publish = (a: TestAuthority, heartbeat?: 'force') => publishFeeds(a.deps, { trigger: 'admin', ...(heartbeat ? { heartbeat } : {}) });

/** What a version 2 feed chains to, computed independently of the publisher: JCS of the feed without `signatures`. */
function signedPartHashOf(feed: { signatures: unknown }): string {
  const { signatures: _signatures, ...signed } = feed;
  return hashRef(canonicalJson(signed));
}

describe('publishing', () => {
  it('the first run publishes sequence 1 with no predecessor, an empty log head and a valid signature', () => {
    const a = createTestAuthority();
    const result = publish(a);
    expect(result.latest_sequence).toBe(1);
    const [feed] = storedFeeds(a);
    expect(revocationFeedSchema.safeParse(feed).success).toBe(true);
    expect(feed).toMatchObject({
      type: 'revocation_feed',
      version: 2,
      sequence: 1,
      previous_feed_hash: null,
      entries: [],
      issuer_sovereign_id: a.sovereignId,
    });
    expect(feed!.log).toEqual({ size: 0, root_hash: `sha256:${merkleTreeHash([])}` });
    expect(verifySignedObject(feed!, keyInfo(a)).valid).toBe(true);
    expect(feed!.next_update).toBe(toTimestamp(new Date(a.clock().getTime() + a.config.feedNextUpdateSeconds * 1000)));
  });

  it('chains feeds: sequence +1, previous_feed_hash = SHA-256 of JCS of the previous feed without its signatures (version 2)', () => {
    const a = createTestAuthority();
    appendN(a, 3);
    publish(a);
    appendN(a, 2);
    publish(a);
    const [f1, f2] = storedFeeds(a);
    expect(f2!.sequence).toBe(2);
    expect(f2!.previous_feed_hash).toBe(signedPartHashOf(f1!));
    expect(f2!.previous_feed_hash).not.toBe(canonicalHash(f1));
    const stored = a.db.sqlite.prepare('SELECT signed_hash FROM published_feeds WHERE sequence = 1').get() as { signed_hash: string };
    expect(stored.signed_hash).toBe(signedPartHashOf(f1!));
    expect(f1!.entries.map((e) => e.index)).toEqual([0, 1, 2]);
    expect(f2!.entries.map((e) => e.index)).toEqual([3, 4]);
    expect(f2!.log).toEqual({ size: 5, root_hash: readLogHead(a.db.sqlite).rootHash });
  });

  it('stores exactly the canonical bytes and their hash', () => {
    const a = createTestAuthority();
    appendN(a, 4);
    publish(a);
    const row = a.db.sqlite.prepare('SELECT body, feed_hash FROM published_feeds').get() as { body: string; feed_hash: string };
    expect(canonicalJson(JSON.parse(row.body))).toBe(row.body);
    expect(row.feed_hash).toBe(hashRef(row.body));
  });

  it('splicing stored entry texts gives the same bytes as canonicalizing the whole feed', () => {
    const entries = [
      { index: 0, id: 'é-ü', kind: 'public_key' },
      { index: 1, id: 'x', kind: 'recognition_treaty' },
    ];
    const header = { type: 'revocation_feed', sequence: 9, log: { size: 2 }, previous_feed_hash: null };
    expect(
      spliceEntries(
        canonicalJson({ ...header, entries: [] }),
        entries.map((e) => canonicalJson(e)),
      ),
    ).toBe(canonicalJson({ ...header, entries }));
  });

  it('splits a large backlog into feeds of at most 10,000 entries in one run, each with the right tree head', () => {
    const a = createTestAuthority();
    appendN(a, 25_000);
    const result = publish(a);
    expect(result.published.map((p) => [p.sequence, p.first_index, p.entry_count, p.log_size])).toEqual([
      [1, 0, 10_000, 10_000],
      [2, 10_000, 10_000, 20_000],
      [3, 20_000, 5_000, 25_000],
    ]);
    const feeds = storedFeeds(a);
    const leaves = (a.db.sqlite.prepare('SELECT entry FROM revocation_log ORDER BY idx').all() as Array<{ entry: string }>).map((r) =>
      leafHash(Buffer.from(r.entry)),
    );
    for (const feed of feeds) expect(feed.log.root_hash).toBe(`sha256:${merkleTreeHash(leaves.slice(0, feed.log.size))}`);
    expect(feeds[1]!.previous_feed_hash).toBe(signedPartHashOf(feeds[0]!));
    expect(feeds[2]!.previous_feed_hash).toBe(signedPartHashOf(feeds[1]!));
    expect(auditCount(a.db, 'revocation_feed_published')).toBe(3);
  });

  it('is idempotent: nothing new and no heartbeat due publishes nothing', () => {
    const a = createTestAuthority();
    appendN(a, 1);
    publish(a);
    expect(publish(a).published).toEqual([]);
    expect(publish(a).latest_sequence).toBe(1);
    expect(auditCount(a.db, 'revocation_feed_published')).toBe(1);
  });

  it('publishes a heartbeat when next_update approaches, keeping next_update ahead', () => {
    const a = createTestAuthority();
    publish(a);
    a.clock.advance(a.config.feedNextUpdateSeconds / 2 - 60);
    expect(publish(a).published).toEqual([]);
    a.clock.advance(120);
    const result = publish(a);
    expect(result.published).toHaveLength(1);
    expect(result.published[0]).toMatchObject({ sequence: 2, entry_count: 0, log_size: 0 });
    expect(Date.parse(result.published[0]!.next_update)).toBeGreaterThan(a.clock().getTime() + (a.config.feedNextUpdateSeconds / 2) * 1000);
  });

  it('signs with every signing key during a rotation overlap', () => {
    const a = createTestAuthority();
    const next = testKey('authority:rotated');
    a.deps.identity.signingKeys.push(next);
    publish(a);
    const [feed] = storedFeeds(a);
    expect((feed!.signatures as Array<{ key_id: string }>).map((s) => s.key_id)).toEqual([a.signingKey.keyId, next.keyId]);
    const nextInfo = parsePublicKey(next.publicKey);
    expect(nextInfo.ok && verifySignedObject(feed!, [nextInfo.key]).valid).toBe(true);
  });

  it('sets the published-sequence gauge and emits feed-published', async () => {
    const a = createTestAuthority();
    const seen: unknown[] = [];
    a.deps.changes.on('feed-published', (e) => seen.push(e));
    appendN(a, 1);
    publish(a);
    publish(a, 'force');
    expect(seen).toEqual([]); // delivered after the publishing call, never inside it
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([{ latest_sequence: 1 }, { latest_sequence: 2 }]);
    expect(await (await a.app.request('/metrics')).text()).toContain('accord_feed_published_sequence 2');
  });

  it('refuses to publish when the log is shorter than what was already published (after a bad restore)', () => {
    const a = createTestAuthority();
    appendN(a, 3);
    publish(a);
    a.db.sqlite.prepare('DELETE FROM revocation_log WHERE idx = 2').run();
    a.db.sqlite.prepare("UPDATE revocation_log_state SET size = 2, frontier = '[]'").run();
    expect(() => publish(a, 'force')).toThrow(expect.objectContaining({ code: 'revocation_log_behind_published' }));
  });

  it('publishes a revocation made through the treaties service, with its reason and incident', () => {
    const a = createTestAuthority();
    const op = { label: a.operator.label, keyId: a.operator.key.keyId };
    const att = issueAttestation(a.deps, { subject_id: 'node-1', roles: ['role:client'], validity_hours: 24 }, op);
    revokeAttestation(a.deps, att.attestation_id, { reason: 'privilege_withdrawn', incident: 'INC-7' }, op);
    publish(a);
    const [feed] = storedFeeds(a);
    expect(feed!.entries).toEqual([
      expect.objectContaining({
        index: 0,
        kind: 'membership_attestation',
        id: att.attestation_id,
        reason: 'privilege_withdrawn',
        incident: 'INC-7',
      }),
    ]);
    expect(revocationFeedSchema.safeParse(feed).success).toBe(true);
  });
});

describe('publish triggers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a revocation triggers one debounced publish for a burst of revocations', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const a = createTestAuthority({ config: { feedPublishCron: '0 0 1 1 *', feedPullCron: '0 0 1 1 *' } });
    publish(a); // sequence 1 exists, so the start-up run has nothing to do
    startFeedJobs(a.deps);
    try {
      await vi.advanceTimersByTimeAsync(1); // the start-up run: nothing pending
      expect(storedFeeds(a)).toHaveLength(1);
      for (let i = 0; i < 5; i++) {
        appendN(a, 1);
        a.deps.changes.emit('revocation');
        await vi.advanceTimersByTimeAsync(500);
      }
      expect(storedFeeds(a)).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(2_000);
      const feeds = storedFeeds(a);
      expect(feeds).toHaveLength(2);
      expect(feeds[1]!.entries).toHaveLength(5);
    } finally {
      await a.close();
    }
  });

  it('POST /admin/revocation-feeds/publish publishes, audits the operator, and forces a heartbeat on request', async () => {
    const a = createTestAuthority();
    appendN(a, 2);
    const first = await a.admin('POST', '/admin/revocation-feeds/publish');
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ latest_sequence: 1, published: [{ sequence: 1, entry_count: 2 }] });
    const again = await (await a.admin('POST', '/admin/revocation-feeds/publish', {})).json();
    expect(again).toEqual({ published: [], latest_sequence: 1 });
    const forced = await (await a.admin('POST', '/admin/revocation-feeds/publish', { heartbeat: true })).json();
    expect(forced).toMatchObject({ latest_sequence: 2, published: [{ sequence: 2, entry_count: 0 }] });
    const events = a.db.sqlite.prepare("SELECT actor_key_id FROM audit_events WHERE event_type = 'revocation_feed_published'").all();
    expect(events).toEqual([{ actor_key_id: a.operator.key.keyId }, { actor_key_id: a.operator.key.keyId }]);
    const bad = await a.admin('POST', '/admin/revocation-feeds/publish', { heartbeat: 'yes' });
    expect(bad.status).toBe(422);
    expect((await errorOf(bad)).code).toBe('invalid_publish_request');
  });

  it('concurrent publish requests never duplicate or skip a sequence', async () => {
    const a = createTestAuthority();
    const requests: Array<Promise<Response>> = [];
    for (let i = 0; i < 30; i++) {
      appendN(a, 1 + (i % 3));
      requests.push(a.admin('POST', '/admin/revocation-feeds/publish', i % 4 === 0 ? { heartbeat: true } : {}));
    }
    const results = await Promise.all(requests);
    expect(results.every((r) => r.status === 200)).toBe(true);
    const feeds = storedFeeds(a);
    expect(feeds.map((f) => f.sequence)).toEqual(feeds.map((_, i) => i + 1));
    const indexes = feeds.flatMap((f) => f.entries.map((e) => e.index));
    expect(indexes).toEqual(indexes.map((_, i) => i));
    expect(indexes.length).toBe(readLogHead(a.db.sqlite).size);
  });
});

describe('serving', () => {
  async function published(): Promise<TestAuthority> {
    const a = createTestAuthority();
    for (let i = 0; i < 5; i++) {
      appendN(a, 2);
      publish(a);
    }
    return a;
  }

  it('GET /revocation-feeds/latest serves the stored bytes with ETag = feed hash, and 304 on If-None-Match', async () => {
    const a = await published();
    const row = a.db.sqlite.prepare('SELECT body, feed_hash FROM published_feeds WHERE sequence = 5').get() as {
      body: string;
      feed_hash: string;
    };
    const res = await a.app.request('/revocation-feeds/latest');
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${row.feed_hash}"`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.text();
    expect(text).toBe(row.body);
    expect(hashRef(text)).toBe(row.feed_hash);
    const cached = await a.app.request('/revocation-feeds/latest', { headers: { 'If-None-Match': `"${row.feed_hash}"` } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    const stale = await a.app.request('/revocation-feeds/latest', { headers: { 'If-None-Match': '"sha256:0000"' } });
    expect(stale.status).toBe(200);
  });

  it('GET /revocation-feeds/{sequence} is immutable and cacheable; unknown or malformed sequences are errors', async () => {
    const a = await published();
    const res = await a.app.request('/revocation-feeds/2');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((JSON.parse(await res.text()) as { sequence: number }).sequence).toBe(2);
    expect((await a.app.request('/revocation-feeds/99')).status).toBe(404);
    const bad = await a.app.request('/revocation-feeds/01');
    expect(bad.status).toBe(422);
    expect((await errorOf(bad)).code).toBe('invalid_sequence');
  });

  it('GET /revocation-feeds?since=N&limit=L pages through feeds in order', async () => {
    const a = await published();
    const page = parseJsonStrict(await (await a.app.request('/revocation-feeds?since=1&limit=2')).text()) as {
      feeds: Array<{ sequence: number }>;
      latest_sequence: number;
      more: boolean;
    };
    expect(page.feeds.map((f) => f.sequence)).toEqual([2, 3]);
    expect(page.latest_sequence).toBe(5);
    expect(page.more).toBe(true);
    const rest = (await (await a.app.request('/revocation-feeds?since=3&limit=100')).json()) as typeof page;
    expect(rest.feeds.map((f) => f.sequence)).toEqual([4, 5]);
    expect(rest.more).toBe(false);
    const text = await (await a.app.request('/revocation-feeds?since=4')).text();
    const stored = (a.db.sqlite.prepare('SELECT body FROM published_feeds WHERE sequence = 5').get() as { body: string }).body;
    expect(text).toBe(`{"feeds":[${stored}],"latest_sequence":5,"more":false}`);
  });

  it('bounds the page size and rejects unknown query parameters', async () => {
    const a = await published();
    for (const q of ['limit=101', 'limit=0', 'since=-1', 'since=x', 'offset=3']) {
      const res = await a.app.request(`/revocation-feeds?${q}`);
      expect(res.status, q).toBe(422);
      expect((await errorOf(res)).code).toBe('invalid_query');
    }
  });

  it('before anything is published: latest is 404 and the list is empty', async () => {
    const a = createTestAuthority();
    const latest = await a.app.request('/revocation-feeds/latest');
    expect(latest.status).toBe(404);
    expect((await errorOf(latest)).code).toBe('feed_not_found');
    expect(await (await a.app.request('/revocation-feeds')).json()).toEqual({ feeds: [], latest_sequence: 0, more: false });
  });

  it('serving never signs: it works with no signing key loaded and returns identical bytes', async () => {
    const a = await published();
    const before = await (await a.app.request('/revocation-feeds/latest')).text();
    a.deps.identity.signingKeys.splice(0);
    const after = await (await a.app.request('/revocation-feeds/latest')).text();
    expect(after).toBe(before);
    expect((await a.app.request('/revocation-feeds/3')).status).toBe(200);
    expect(() => publish(a, 'force')).toThrow(expect.objectContaining({ code: 'no_signing_key' }));
  });

  it('feed ids are UUIDs and unique per feed', async () => {
    const a = await published();
    const ids = storedFeeds(a).map((f) => f.feed_id as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^[0-9a-f-]{36}$/.test(id))).toBe(true);
    expect(randomUUID()).not.toBe(ids[0]);
  });
});
