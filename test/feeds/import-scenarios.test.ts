// Feed import conformance: attack and edge scenarios as a table, one row each, against a simulated issuer.
import { describe, expect, it } from 'vitest';
import { canonicalHash, signObject } from '../../src/authority/crypto.ts';
import { findImportedRevocation, issuerFeedStatus } from '../../src/feeds/imported-revocations.ts';
import { revokeTreaty } from '../../src/treaties/service.ts';
import { auditCount, createTestAuthority, dbDigest, testKey, type TestAuthority } from '../helpers/authority.ts';
import { importVia, recognize, SimulatedIssuer, type Feed } from './simulated-issuer.ts';

const ISSUER = 'issuer-b';

interface Ctx {
  a: TestAuthority;
  sim: SimulatedIssuer;
}

interface Scenario {
  name: string;
  /** State before the action (imports, treaties, clock). Not part of the digest comparison. */
  arrange?: (ctx: Ctx) => Promise<void> | void;
  act: (ctx: Ctx) => Promise<Response>;
  status: number;
  /** Error code, or the `status` field of a successful import. */
  code?: string;
  /** Audit event the action must add (null: none at all). */
  audit: string | null;
  /** A rejection changes nothing but the audit log. */
  dbUnchanged: boolean;
  check?: (ctx: Ctx, body: Record<string, unknown>) => void | Promise<void>;
}

async function imported(ctx: Ctx, feed: Feed): Promise<void> {
  const res = await importVia(ctx.a, feed);
  if (res.status !== 200) throw new Error(`arrange import failed: ${res.status} ${await res.text()}`);
}

/** Next feed of the chain, imported. */
async function importNext(ctx: Ctx, entries = 1): Promise<Feed> {
  const feed = ctx.sim.next({ entries });
  await imported(ctx, feed);
  return feed;
}

/** The feed as a relay might pass it on: the issuer's signatures plus one entry of its own. */
const padded = (feed: Feed): Feed => ({
  ...feed,
  signatures: [...feed.signatures, { key_id: `sha256:${'0'.repeat(64)}`, sig: Buffer.alloc(64, 7).toString('base64') }],
});

/** Hash of a feed without its signatures, computed here, independently of the importer. */
const signedPartHash = ({ signatures: _signatures, ...signed }: Feed): string => canonicalHash(signed);

const stateOf = (ctx: Ctx) => issuerFeedStatus(ctx.a.db.sqlite, ISSUER, ctx.a.clock());

const scenarios: Scenario[] = [
  {
    name: 'first import',
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 2 })),
    status: 200,
    code: 'imported',
    audit: 'sovereign_revocation_feed_imported',
    dbUnchanged: false,
    check: (ctx, body) => {
      expect(body).toEqual({ accepted: true, status: 'imported', issuer_sovereign_id: ISSUER, sequence: 1, revoked_count: 2 });
      const entry = ctx.sim.feeds[0]!.entries[1]!;
      expect(findImportedRevocation(ctx.a.db.sqlite, ISSUER, 'membership_attestation', entry.id)).toMatchObject({
        reason: 'key_compromise',
        feed_sequence: 1,
      });
      expect(stateOf(ctx)?.imported_sequence).toBe(1);
    },
  },
  {
    name: 'first import must be sequence 1',
    arrange: (ctx) => void ctx.sim.next({ entries: 1 }),
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1 })),
    status: 409,
    code: 'sequence_gap',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
    check: (_ctx, body) => expect((body.error as { details: { expected: number } }).details.expected).toBe(1),
  },
  {
    name: 'next feed in order',
    arrange: async (ctx) => void (await importNext(ctx, 3)),
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 2 })),
    status: 200,
    code: 'imported',
    audit: 'sovereign_revocation_feed_imported',
    dbUnchanged: false,
    check: (ctx) => {
      const row = ctx.a.db.sqlite.prepare('SELECT last_sequence, log_size FROM feed_issuers WHERE issuer_sovereign_id = ?').get(ISSUER);
      expect(row).toEqual({ last_sequence: 2, log_size: 5 });
    },
  },
  {
    name: 'identical re-import is idempotent',
    arrange: async (ctx) => void (await importNext(ctx, 2)),
    act: (ctx) => importVia(ctx.a, ctx.sim.feeds[0]),
    status: 200,
    code: 'already_imported',
    audit: 'sovereign_revocation_feed_imported',
    dbUnchanged: true,
  },
  {
    name: 'rollback to an older sequence does not roll state back',
    arrange: async (ctx) => {
      await importNext(ctx, 1);
      await importNext(ctx, 1);
      await importNext(ctx, 1);
    },
    act: (ctx) => importVia(ctx.a, ctx.sim.feeds[0]),
    status: 200,
    code: 'already_imported',
    audit: 'sovereign_revocation_feed_imported',
    dbUnchanged: true,
    check: (ctx) => expect(stateOf(ctx)?.imported_sequence).toBe(3),
  },
  {
    name: 'same signed content with an extra signature entry is not equivocation',
    arrange: async (ctx) => void (await importNext(ctx, 1)),
    act: (ctx) => {
      const feed = ctx.sim.feeds[0]!;
      // Anyone relaying the feed can append a signature entry; the issuer said nothing new.
      return importVia(ctx.a, {
        ...feed,
        signatures: [...feed.signatures, { key_id: testKey('mallory').keyId, sig: feed.signatures[0]!.sig }],
      });
    },
    status: 200,
    code: 'already_imported',
    audit: 'sovereign_revocation_feed_imported',
    dbUnchanged: true,
    check: (ctx) => expect(stateOf(ctx)?.paused).toBe(false),
  },
  {
    name: 'equivocation at the same sequence',
    arrange: async (ctx) => {
      await importNext(ctx, 1);
      await importNext(ctx, 1);
    },
    act: (ctx) => {
      // The issuer signs a second, different feed 2 on the same chain position.
      const fork = new SimulatedIssuer(ISSUER, ctx.sim.keys, ctx.a.clock);
      fork.next({ entries: ctx.sim.feeds[0]!.entries.map(({ index: _i, ...e }) => e) });
      fork.previousHash = ctx.sim.previousHash === null ? null : canonicalHash(ctx.sim.feeds[0]);
      return importVia(ctx.a, fork.next({ entries: 3 }));
    },
    status: 409,
    code: 'equivocation',
    audit: 'feed_equivocation_detected',
    dbUnchanged: false,
    check: (ctx) => {
      const evidence = ctx.a.db.sqlite.prepare('SELECT sequence, known_feed_hash FROM feed_equivocations').all();
      expect(evidence).toEqual([{ sequence: 2, known_feed_hash: canonicalHash(ctx.sim.feeds[1]) }]);
      expect(stateOf(ctx)).toMatchObject({ paused: true, imported_sequence: 2 });
      expect(auditCount(ctx.a.db, 'sovereign_revocation_feed_rejected')).toBe(1);
      expect(auditCount(ctx.a.db, 'feed_issuer_paused')).toBe(1);
      // Nothing of the conflicting feed was imported.
      expect((ctx.a.db.sqlite.prepare('SELECT count(*) AS n FROM imported_revocations').get() as { n: number }).n).toBe(2);
    },
  },
  {
    name: 'sequence gap',
    arrange: async (ctx) => {
      await importNext(ctx, 1);
      ctx.sim.next({ entries: 1 }); // feed 2 never reaches the importer
    },
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1 })),
    status: 409,
    code: 'sequence_gap',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
    check: (_ctx, body) => expect((body.error as { details: Record<string, unknown> }).details).toMatchObject({ expected: 2 }),
  },
  {
    name: 'wrong chain link',
    arrange: async (ctx) => void (await importNext(ctx, 1)),
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1, mutate: (f) => void (f.previous_feed_hash = `sha256:${'ab'.repeat(32)}`) })),
    status: 409,
    code: 'chain_mismatch',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: "version 2: a feed padded by a relay and imported first does not break the issuer's chain",
    arrange: async (ctx) => {
      ctx.sim.version = 2;
      const feed = ctx.sim.next({ entries: 1 });
      await imported(ctx, padded(feed));
    },
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1 })),
    status: 200,
    code: 'imported',
    audit: 'sovereign_revocation_feed_imported',
    dbUnchanged: false,
    check: (ctx) => expect(stateOf(ctx)?.imported_sequence).toBe(2),
  },
  {
    name: 'version 1: the same padding breaks a version 1 chain (kept for version 1 issuers)',
    arrange: async (ctx) => {
      const feed = ctx.sim.next({ entries: 1 });
      await imported(ctx, padded(feed));
    },
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1 })),
    status: 409,
    code: 'chain_mismatch',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'version 2 linked over the whole previous feed (the version 1 link) is a chain mismatch',
    arrange: async (ctx) => {
      ctx.sim.version = 2;
      await importNext(ctx, 1);
    },
    act: (ctx) =>
      importVia(ctx.a, ctx.sim.next({ entries: 1, mutate: (f) => void (f.previous_feed_hash = canonicalHash(ctx.sim.feeds[0])) })),
    status: 409,
    code: 'chain_mismatch',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
    check: (_ctx, body) => expect(JSON.stringify(body)).toContain('"version":2'),
  },
  {
    name: 'an issuer moving from version 1 to version 2 links to the signed part of its last version 1 feed',
    arrange: async (ctx) => {
      await importNext(ctx, 1);
      ctx.sim.previousHash = signedPartHash(ctx.sim.feeds[0]!);
      ctx.sim.version = 2;
    },
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1 })),
    status: 200,
    code: 'imported',
    audit: 'sovereign_revocation_feed_imported',
    dbUnchanged: false,
  },
  {
    name: 'Merkle root mismatch',
    arrange: async (ctx) => void (await importNext(ctx, 2)),
    act: (ctx) =>
      importVia(
        ctx.a,
        ctx.sim.next({ entries: 2, mutate: (f) => void ((f.log as { root_hash: string }).root_hash = `sha256:${'00'.repeat(32)}`) }),
      ),
    status: 422,
    code: 'log_root_mismatch',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'a rewritten earlier entry changes the root',
    arrange: async (ctx) => void (await importNext(ctx, 2)),
    act: (ctx) => {
      // The issuer re-publishes history: same indexes, log size and a root over a different log.
      const liar = new SimulatedIssuer(ISSUER, ctx.sim.keys, ctx.a.clock);
      liar.next({ entries: 2 });
      const honest = ctx.sim.next({ entries: 1, dryRun: true });
      const lying = liar.next({ entries: 1, dryRun: true, mutate: (f) => void (f.previous_feed_hash = ctx.sim.previousHash) });
      expect(lying.log.size).toBe(honest.log.size);
      return importVia(ctx.a, lying);
    },
    status: 422,
    code: 'log_root_mismatch',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'entries out of order',
    arrange: async (ctx) => void (await importNext(ctx, 1)),
    act: (ctx) =>
      importVia(
        ctx.a,
        ctx.sim.next({
          entries: 3,
          mutate: (f) => {
            const e = f.entries as unknown[];
            [e[0], e[1]] = [e[1], e[0]];
          },
        }),
      ),
    status: 422,
    code: 'log_root_mismatch',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
    check: (_ctx, body) =>
      expect((body.error as { details: Record<string, unknown> }).details).toMatchObject({ problem: 'non_contiguous_indexes' }),
  },
  {
    name: 'log size that does not match the entries',
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 2, mutate: (f) => void ((f.log as { size: number }).size = 3) })),
    status: 422,
    code: 'log_root_mismatch',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'forged signature',
    act: (ctx) => {
      const { signatures: _genuine, ...unsigned } = ctx.sim.next({ entries: 1 });
      const forged = signObject(unsigned, [testKey('mallory')]);
      // Mallory's signature presented under the issuer's key id.
      return importVia(ctx.a, { ...unsigned, signatures: [{ key_id: unsigned.issued_by as string, sig: forged.signatures[0]!.sig }] });
    },
    status: 422,
    code: 'invalid_signature',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'content changed after signing',
    act: (ctx) => {
      const feed = ctx.sim.next({ entries: 1 });
      return importVia(ctx.a, { ...feed, next_update: '2099-01-01T00:00:00Z' });
    },
    status: 422,
    code: 'invalid_signature',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'signature by a key of an expired treaty',
    arrange: (ctx) => {
      ctx.a.db.sqlite.prepare('DELETE FROM treaties').run();
      recognize(ctx.a, ISSUER, [testKey('issuer-b:old')], { validity_hours: 1 });
      ctx.a.clock.advance(2 * 3600);
      recognize(ctx.a, ISSUER, [testKey('issuer-b:new')]);
    },
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1, keys: [testKey('issuer-b:old')] })),
    status: 422,
    code: 'invalid_signature',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'signature by a key of a revoked treaty',
    arrange: (ctx) => {
      ctx.a.db.sqlite.prepare('DELETE FROM treaties').run();
      const old = recognize(ctx.a, ISSUER, [testKey('issuer-b:old')]);
      recognize(ctx.a, ISSUER, [testKey('issuer-b:new')]);
      revokeTreaty(ctx.a.deps, old, { reason: 'key_compromise' });
    },
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1, keys: [testKey('issuer-b:old')] })),
    status: 422,
    code: 'invalid_signature',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'signature by a key the issuer revoked in an earlier feed',
    arrange: async (ctx) => {
      ctx.a.db.sqlite.prepare('DELETE FROM treaties').run();
      recognize(ctx.a, ISSUER, [testKey('issuer-b:old'), testKey('issuer-b:new')]);
      ctx.sim.keys.splice(0, ctx.sim.keys.length, testKey('issuer-b:new'));
      await imported(ctx, ctx.sim.next({ entries: [ctx.sim.revocation({ kind: 'public_key', id: testKey('issuer-b:old').keyId })] }));
    },
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1, keys: [testKey('issuer-b:old')] })),
    status: 422,
    code: 'invalid_signature',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'unknown issuer',
    act: (ctx) => importVia(ctx.a, new SimulatedIssuer('stranger', [testKey('stranger')], ctx.a.clock).next({ entries: 1 })),
    status: 403,
    code: 'issuer_not_recognized',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'paused issuer',
    arrange: async (ctx) => {
      await importNext(ctx, 1);
      const res = await ctx.a.admin('POST', `/admin/peers/${ISSUER}/pause`);
      expect(res.status).toBe(200);
    },
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1 })),
    status: 423,
    code: 'issuer_paused',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'issued_at in the future beyond the clock skew',
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1, issuedAtOffset: ctx.a.config.clockSkewSeconds + 60 })),
    status: 422,
    code: 'invalid_timestamps',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'issued_at within the clock skew is accepted',
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1, issuedAtOffset: ctx.a.config.clockSkewSeconds - 10 })),
    status: 200,
    code: 'imported',
    audit: 'sovereign_revocation_feed_imported',
    dbUnchanged: false,
  },
  {
    name: 'issued_at going backwards',
    arrange: async (ctx) => void (await importNext(ctx, 1)),
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1, issuedAtOffset: -60 })),
    status: 422,
    code: 'invalid_timestamps',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'next_update not after issued_at',
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1, nextUpdateSeconds: 0 })),
    status: 422,
    code: 'invalid_timestamps',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'stale after next_update',
    arrange: async (ctx) => {
      await ctx.a.admin('POST', '/admin/peers', { sovereign_id: ISSUER, base_url: 'http://127.0.0.1:9' });
      await importNext(ctx, 1);
      ctx.a.clock.advance(3601);
    },
    act: (ctx) => ctx.a.admin('GET', '/admin/peers'),
    status: 200,
    audit: null,
    dbUnchanged: true,
    check: async (ctx, body) => {
      expect((body.peers as Array<Record<string, unknown>>)[0]).toMatchObject({
        sovereign_id: ISSUER,
        stale: true,
        paused: false,
        imported_sequence: 1,
      });
      const metrics = await (await ctx.a.app.request('/metrics')).text();
      expect(metrics).toContain(`accord_feed_issuer_stale{issuer="${ISSUER}"} 1`);
    },
  },
  {
    name: 'oversized feed (> 8 MiB body)',
    act: (ctx) => {
      const feed = ctx.sim.next({ entries: 1 });
      return ctx.a.admin(
        'POST',
        '/admin/revocation-feeds/import',
        JSON.stringify({ feed }).replace(/}$/, `${' '.repeat(8 * 1024 * 1024)}}`),
      );
    },
    status: 413,
    code: 'body_too_large',
    // Refused by the transport limit before authentication: unauthenticated bytes never write the audit log.
    audit: null,
    dbUnchanged: true,
  },
  {
    name: 'unknown field, even when signed',
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 1, mutate: (f) => void (f.note = 'unsigned extras are never accepted') })),
    status: 422,
    code: 'invalid_revocation_feed',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'unknown field in an entry',
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: [{ ...ctx.sim.revocation(), severity: 'high' } as never] })),
    status: 422,
    code: 'invalid_revocation_feed',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'malformed JSON body',
    act: (ctx) => ctx.a.admin('POST', '/admin/revocation-feeds/import', '{"feed": {'),
    status: 422,
    code: 'invalid_revocation_feed',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: 'a float in a signed field',
    act: (ctx) =>
      ctx.a.admin(
        'POST',
        '/admin/revocation-feeds/import',
        JSON.stringify({ feed: ctx.sim.next({ entries: 0 }) }).replace('"version":1', '"version":1.5'),
      ),
    status: 422,
    code: 'invalid_revocation_feed',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  ...(['2.0', '2e0', '20E-1'] as const).map(
    (written): Scenario => ({
      name: `an integer field written as ${written} (a signature over "sequence":2 must not cover it)`,
      arrange: async (ctx) => {
        await importNext(ctx);
      },
      act: (ctx) =>
        ctx.a.admin(
          'POST',
          '/admin/revocation-feeds/import',
          JSON.stringify({ feed: ctx.sim.next({ entries: 1 }) }).replace('"sequence":2', `"sequence":${written}`),
        ),
      status: 422,
      code: 'invalid_revocation_feed',
      audit: 'sovereign_revocation_feed_rejected',
      dbUnchanged: true,
      check: (_ctx, body) => expect(JSON.stringify(body)).toContain('fraction or exponent'),
    }),
  ),
  {
    name: 'a lone surrogate in a string (no canonical form)',
    act: (ctx) => {
      const feed = ctx.sim.next({ entries: [{ ...ctx.sim.revocation(), incident: 'PLACEHOLDER' }] });
      return ctx.a.admin('POST', '/admin/revocation-feeds/import', JSON.stringify({ feed }).replace('"PLACEHOLDER"', '"\\ud800"'));
    },
    status: 422,
    code: 'invalid_revocation_feed',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
    check: (_ctx, body) => expect(JSON.stringify(body)).toContain('lone surrogate'),
  },
  {
    name: '10,001 entries',
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 10_001 })),
    status: 422,
    code: 'invalid_revocation_feed',
    audit: 'sovereign_revocation_feed_rejected',
    dbUnchanged: true,
  },
  {
    name: '10,000 entries (the maximum)',
    act: (ctx) => importVia(ctx.a, ctx.sim.next({ entries: 10_000 })),
    status: 200,
    code: 'imported',
    audit: 'sovereign_revocation_feed_imported',
    dbUnchanged: false,
    check: (_ctx, body) => expect(body.revoked_count).toBe(10_000),
  },
  {
    name: 'empty heartbeat',
    arrange: async (ctx) => void (await importNext(ctx, 2)),
    act: (ctx) => {
      ctx.a.clock.advance(1800);
      return importVia(ctx.a, ctx.sim.next({ entries: 0 }));
    },
    status: 200,
    code: 'imported',
    audit: 'sovereign_revocation_feed_imported',
    dbUnchanged: false,
    check: (ctx, body) => {
      expect(body).toMatchObject({ status: 'imported', sequence: 2, revoked_count: 0 });
      expect(stateOf(ctx)).toMatchObject({ imported_sequence: 2, next_update: ctx.sim.feeds[1]!.next_update, stale: false });
    },
  },
];

describe('feed import scenarios', () => {
  it.each(scenarios.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const a = createTestAuthority({ sovereignId: 'authority-a' });
    const issuerKey = testKey('issuer-b');
    recognize(a, ISSUER, [issuerKey]);
    const ctx: Ctx = { a, sim: new SimulatedIssuer(ISSUER, [issuerKey], a.clock) };
    await scenario.arrange?.(ctx);

    const digest = dbDigest(a.db);
    const auditBefore = auditCount(a.db);
    const lastSeqBefore = (a.db.sqlite.prepare('SELECT max(seq) AS s FROM audit_events').get() as { s: number }).s;

    const res = await scenario.act(ctx);
    const text = await res.text();
    const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;

    expect(res.status, text.slice(0, 300)).toBe(scenario.status);
    if (scenario.code !== undefined) {
      const code = res.status >= 400 ? (body.error as { code: string }).code : body.status;
      expect(code).toBe(scenario.code);
    }
    if (scenario.dbUnchanged) expect(dbDigest(a.db)).toBe(digest);
    else expect(dbDigest(a.db)).not.toBe(digest);

    const newEvents = a.db.sqlite
      .prepare('SELECT event_type, canonical FROM audit_events WHERE seq > ? ORDER BY seq')
      .all(lastSeqBefore) as Array<{ event_type: string; canonical: string }>;
    if (scenario.audit === null) {
      expect(auditCount(a.db)).toBe(auditBefore);
    } else {
      expect(newEvents.map((e) => e.event_type)).toContain(scenario.audit);
      if (scenario.audit === 'sovereign_revocation_feed_rejected') {
        const details = (
          JSON.parse(newEvents.find((e) => e.event_type === scenario.audit)!.canonical) as { details: Record<string, unknown> }
        ).details;
        expect(details.reason).toBe(scenario.code);
        expect(Object.keys(details)).toEqual(expect.arrayContaining(['issuer', 'sequence', 'reason', 'feed_hash']));
      }
    }
    await scenario.check?.(ctx, body);
  });
});
