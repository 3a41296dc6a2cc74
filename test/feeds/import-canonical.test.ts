// A request whose feed is in canonical form is read in one pass; every outcome must equal the general path's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { AppError } from '../../src/authority/errors.ts';
import { importFeedRequest, type ImportContext } from '../../src/feeds/import.ts';
import { REVOCATION_KINDS, REVOCATION_REASONS, type NewRevocationEntry } from '../../src/log/store.ts';
import { createTestAuthority, testKey, type TestAuthority } from '../helpers/authority.ts';
import { recognize, SimulatedIssuer, type Feed } from './simulated-issuer.ts';

const ISSUER = 'issuer-b';
const CTX: ImportContext = { actor: { type: 'system' }, requestId: 'req-1', via: 'admin' };
const FEED_TABLES = ['imported_feeds', 'imported_revocations', 'feed_issuers', 'feed_equivocations'];

/** The same feed, as the exact canonical request and as the request JSON.stringify makes (other key order). */
const canonicalRequest = (feed: unknown) => Buffer.from(`{"feed":${canonicalJson(feed)}}`, 'utf8');
const plainRequest = (feed: unknown) => Buffer.from(JSON.stringify({ feed }), 'utf8');

function setup(): { a: TestAuthority; sim: SimulatedIssuer } {
  const a = createTestAuthority();
  const key = testKey('issuer-b');
  recognize(a, ISSUER, [key]);
  return { a, sim: new SimulatedIssuer(ISSUER, [key], a.clock) };
}

function outcome(a: TestAuthority, body: Buffer): unknown {
  try {
    return { result: importFeedRequest(a.deps, body, CTX) };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { code: err.code, status: err.status, details: err.details };
  }
}

/** Everything an import writes: the feed tables and the feed audit events (treaty ids differ between authorities). */
function feedState(a: TestAuthority): unknown {
  const tables = Object.fromEntries(FEED_TABLES.map((t) => [t, a.db.sqlite.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()]));
  const audit = (
    a.db.sqlite.prepare("SELECT canonical FROM audit_events WHERE event_type LIKE '%feed%' ORDER BY seq").all() as Array<{
      canonical: string;
    }>
  ).map((r) => {
    // The chain hashes also cover the (differing) treaty events before them.
    const { event_id: _id, hash: _hash, prev_hash: _prev, ...rest } = JSON.parse(r.canonical) as Record<string, unknown>;
    return rest;
  });
  return { tables, audit };
}

const incident = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  fc.constantFrom('a"b', 'back\\slash', 'é 🔑', '\u2028', 'x'.repeat(256), 'tab\there'),
);
const entry: fc.Arbitrary<NewRevocationEntry> = fc.record(
  {
    kind: fc.constantFrom(...REVOCATION_KINDS),
    id: fc.oneof(fc.uuid(), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,20}$/)),
    reason: fc.constantFrom(...REVOCATION_REASONS),
    revoked_at: fc.constantFrom('2026-01-01T00:00:00Z', '2025-12-31T23:59:59Z'),
    subject_sovereign_id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,20}$/),
    invalid_since: fc.constantFrom('2025-06-01T00:00:00Z', '2025-02-29T00:00:00Z'),
    incident,
  },
  { requiredKeys: ['kind', 'id', 'reason', 'revoked_at'] },
);

type Step =
  | { kind: 'next'; entries: NewRevocationEntry[] }
  | { kind: 'replay' }
  | { kind: 'tampered' }
  | { kind: 'bad_entry' }
  | { kind: 'gap' }
  | { kind: 'resigned' };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.array(entry, { maxLength: 6 }).map((entries) => ({ kind: 'next' as const, entries })) },
  fc.constantFrom<Step>({ kind: 'replay' }, { kind: 'tampered' }, { kind: 'bad_entry' }, { kind: 'gap' }, { kind: 'resigned' }),
);

/** The feed a step sends (built once, sent to both authorities). */
function feedFor(sim: SimulatedIssuer, s: Step, other: SimulatedIssuer): Feed {
  switch (s.kind) {
    case 'next':
      other.next({ entries: s.entries });
      return sim.next({ entries: s.entries });
    case 'replay':
      return sim.feeds.at(-1) ?? sim.next({ entries: 1, dryRun: true });
    case 'tampered': {
      const feed = structuredClone(sim.next({ entries: 2, dryRun: true }));
      feed.entries[1]!.reason = feed.entries[1]!.reason === 'superseded' ? 'unspecified' : 'superseded';
      return feed;
    }
    case 'bad_entry':
      return sim.next({ entries: 1, dryRun: true, mutate: (f) => ((f.entries as Array<Record<string, unknown>>)[0]!.kind = 'device') });
    case 'gap':
      return sim.next({ entries: 1, dryRun: true, mutate: (f) => (f.sequence = (f.sequence as number) + 1) });
    case 'resigned':
      // An already imported sequence with different content: equivocation.
      return sim.feeds.length === 0
        ? sim.next({ entries: 1, dryRun: true })
        : sim.next({ entries: 1, dryRun: true, mutate: (f) => Object.assign(f, { sequence: 1, previous_feed_hash: null }) });
  }
}

describe('canonical feed requests', () => {
  it('import exactly like the same feed in another JSON form: results, rejections, stored rows and audit (property)', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 6 }), (steps) => {
        const canonical = setup();
        const plain = setup();
        for (const s of steps) {
          const feed = feedFor(canonical.sim, s, plain.sim);
          const viaCanonical = outcome(canonical.a, canonicalRequest(feed));
          const viaPlain = outcome(plain.a, plainRequest(feed));
          expect(viaCanonical).toEqual(viaPlain);
        }
        expect(feedState(canonical.a)).toEqual(feedState(plain.a));
      }),
      { seed: 20260306, numRuns: 60 },
    );
  });

  it('stores the canonical request’s feed byte for byte and hashes those bytes', () => {
    const { a, sim } = setup();
    const feed = sim.next({
      entries: [
        sim.revocation({
          kind: 'public_key',
          id: `sha256:${'e'.repeat(64)}`,
          incident: 'é "quoted" \\ 🔑',
          invalid_since: '2025-01-01T00:00:00Z',
        }),
      ],
    });
    const body = canonicalRequest(feed);
    const result = importFeedRequest(a.deps, body, CTX);
    const stored = a.db.sqlite.prepare('SELECT body, feed_hash FROM imported_feeds').get() as { body: string; feed_hash: string };
    expect(Buffer.from(stored.body, 'utf8')).toEqual(body.subarray('{"feed":'.length, body.length - 1));
    expect(result.feed_hash).toBe(stored.feed_hash);
  });

  it('refuses a duplicate key inside an otherwise canonical request as malformed JSON, changing nothing', () => {
    for (const duplicate of [
      (t: string) => t.replace('"type":', '"type":"x","type":'),
      (t: string) => t.replace('"index":0,', '"index":0,"index":0,'),
    ]) {
      const { a, sim } = setup();
      const text = canonicalRequest(sim.next({ entries: 1 })).toString('utf8');
      const body = Buffer.from(duplicate(text), 'utf8');
      expect(body.toString('utf8')).not.toBe(text);
      expect(outcome(a, body)).toMatchObject({
        code: 'invalid_revocation_feed',
        details: { issues: [{ path: '(root)', message: 'JSON object has a duplicate key' }] },
      });
      expect(a.db.sqlite.prepare('SELECT count(*) AS n FROM imported_revocations').get()).toEqual({ n: 0 });
    }
  });

  it('treats a canonical feed behind a byte-order mark or with an extra envelope field like the general path does', () => {
    const { a, sim } = setup();
    const feed = sim.next({ entries: 2 });
    const withExtra = Buffer.from(`{"feed":${canonicalJson(feed)},"x":1}`, 'utf8');
    expect(outcome(a, withExtra)).toMatchObject({
      code: 'invalid_revocation_feed',
      details: {
        issues: [
          { message: 'the request body must be {"feed": {…}} with optional consistency_proof, cosigned_checkpoint, checkpoint_proof' },
        ],
      },
    });
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), canonicalRequest(feed)]);
    expect(outcome(a, withBom)).toMatchObject({ result: { status: 'imported', revoked_count: 2 } });
  });
});
