// Property tests: blast radius and trust paths agree with a brute-force model; output is canonical and order-free.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { sha256Hex } from '../../src/authority/crypto.ts';
import { lifecycleAt } from '../../src/treaties/lifecycle.ts';
import { buildConnectome } from '../../src/connectome/connectome.ts';
import { timestampMs } from '../../src/connectome/graph.ts';
import type { RevocationRecord } from '../../src/connectome/model.ts';
import { blast, build, input, NOW, revokeAttestation, revokeTreaty, treaty, type ConnectomeDoc } from './fixtures.ts';

const NODES = ['a', 'b', 'c', 'd', 'e', 'f'];

const graphArb = fc.record({
  pairs: fc.uniqueArray(fc.tuple(fc.constantFrom(...NODES), fc.constantFrom(...NODES)), {
    maxLength: 14,
    selector: ([f, t]) => `${f}>${t}`,
  }),
  revokedMask: fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }),
  cap: fc.integer({ min: 1, max: 4 }),
});

/** Hop distance from every sovereign to `target` over the given edges, by Bellman-Ford style relaxation. */
function distancesTo(target: string, edges: Array<[string, string]>): Map<string, number> {
  const dist = new Map<string, number>([[target, 0]]);
  for (let round = 0; round < NODES.length; round++) {
    for (const [from, to] of edges) {
      const d = dist.get(to);
      if (d !== undefined && (dist.get(from) ?? Infinity) > d + 1) dist.set(from, d + 1);
    }
  }
  return dist;
}

describe('blast radius matches a brute-force model', () => {
  it('attestation revocations: every sovereign within the cap, at its shortest distance', () => {
    fc.assert(
      fc.property(graphArb, fc.constantFrom(...NODES), ({ pairs, revokedMask, cap }, issuer) => {
        const edges = pairs.filter(([f, t]) => f !== t);
        const revokedPairs = edges.filter((_, i) => revokedMask[i]);
        const activePairs = edges.filter((_, i) => !revokedMask[i]);
        const { doc } = build({
          treaties: edges.map(([f, t]) => treaty(f, t)),
          revocations: [...revokedPairs.map(([f, t]) => revokeTreaty(f, t)), revokeAttestation(issuer, 'att')],
          maxPathLength: cap,
        });
        const dist = distancesTo(issuer, activePairs);
        const expected = Object.fromEntries([...dist].filter(([s, d]) => s !== issuer && d <= cap));
        const item = blast(doc, 'att');
        expect(Object.fromEntries(item.downstream.map((d) => [d.sovereign_id, d.hops]))).toEqual(expected);
        expect(item.affected_accepting_sovereigns).toEqual(
          Object.keys(expected)
            .filter((s) => expected[s] === 1)
            .sort(),
        );
      }),
      { seed: 20260301, numRuns: 300 },
    );
  });

  it('treaty revocations: the issuer, plus everyone who reached the subject within the cap only through it', () => {
    fc.assert(
      fc.property(graphArb, ({ pairs, revokedMask, cap }) => {
        const edges = pairs.filter(([f, t]) => f !== t);
        fc.pre(edges.length > 0);
        const [from, to] = edges[0]!;
        const others = edges.slice(1);
        const activeOthers = others.filter((_, i) => !revokedMask[i]);
        const { doc } = build({
          treaties: edges.map(([f, t]) => treaty(f, t)),
          revocations: [revokeTreaty(from, to), ...others.filter((_, i) => revokedMask[i]).map(([f, t]) => revokeTreaty(f, t))],
          maxPathLength: cap,
        });
        const before = distancesTo(to, [[from, to], ...activeOthers]);
        const after = distancesTo(to, activeOthers);
        const expected: Record<string, number> = { [from]: 1 };
        for (const [s, d] of before) {
          if (s !== to && s !== from && d <= cap && (after.get(s) ?? Infinity) > cap) expected[s] = d;
        }
        const item = blast(doc, `t-${from}-${to}`);
        expect(Object.fromEntries(item.downstream.map((d) => [d.sovereign_id, d.hops]))).toEqual(expected);
        expect(item.affected_accepting_sovereigns).toEqual([from]);
      }),
      { seed: 20260302, numRuns: 300 },
    );
  });

  it('trust paths are shortest active paths within the cap', () => {
    fc.assert(
      fc.property(graphArb, fc.constantFrom(...NODES), fc.constantFrom(...NODES), ({ pairs, revokedMask, cap }, from, to) => {
        const edges = pairs.filter(([f, t]) => f !== t);
        const { connectome } = build({
          treaties: edges.map(([f, t]) => treaty(f, t)),
          revocations: edges.filter((_, i) => revokedMask[i]).map(([f, t]) => revokeTreaty(f, t)),
          maxPathLength: cap,
        });
        const result = JSON.parse(connectome.trustPathText(from, to)) as {
          trusted: boolean;
          hop_count: number;
          reason: string;
          path: Array<{ from: string; to: string }>;
        };
        const d = distancesTo(
          to,
          edges.filter((_, i) => !revokedMask[i]),
        ).get(from);
        if (from === to) expect(result.reason).toBe('same_sovereign');
        else if (d !== undefined && d <= cap) {
          expect(result).toMatchObject({ trusted: true, reason: 'active_treaty_path', hop_count: d });
          expect(result.path[0]!.from).toBe(from);
          expect(result.path.at(-1)!.to).toBe(to);
          result.path.slice(1).forEach((edge, i) => {
            expect(edge.from).toBe(result.path[i]!.to);
          });
        } else {
          expect(result.trusted).toBe(false);
          const directRevoked = edges.some(([f, t], i) => revokedMask[i] && f === from && t === to);
          expect(result.reason).toBe(directRevoked ? 'direct_treaty_revoked' : 'no_active_treaty_path');
        }
      }),
      { seed: 20260303, numRuns: 300 },
    );
  });
});

describe('the document is canonical and independent of input order', () => {
  it('is JCS text, and graph_digest is the SHA-256 of the JCS of everything but generated_at', () => {
    const { connectome, doc } = build({
      treaties: [treaty('a', 'b', { roles: ['role:service:ünïcode'] }), treaty('b', 'c')],
      revocations: [revokeTreaty('b', 'c'), revokeAttestation('c', 'att')],
      feeds: [{ issuer_sovereign_id: 'b', imported_sequence: 3, last_import_at: NOW, next_update: null, paused: true }],
    });
    const text = connectome.body.toString('utf8');
    expect(canonicalJson(doc)).toBe(text);
    const { generated_at: _g, graph_digest: digest, ...rest } = doc as ConnectomeDoc & Record<string, unknown>;
    expect(digest).toBe(`sha256:${sha256Hex(canonicalJson(rest))}`);
  });

  it('shuffled input gives byte-identical output apart from generated_at', () => {
    const recordsArb = fc.record({
      pairs: fc.uniqueArray(fc.tuple(fc.constantFrom(...NODES), fc.constantFrom(...NODES)), {
        maxLength: 12,
        selector: ([f, t]) => `${f}>${t}`,
      }),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(recordsArb, ({ pairs }) => {
        const treaties = pairs.map(([f, t]) => treaty(f, t));
        const revocations: RevocationRecord[] = [
          ...pairs.slice(0, 3).map(([f, t]) => revokeTreaty(f, t)),
          ...NODES.map((n, i) => revokeAttestation(n, `att-${i}`, { feed_sequence: i + 1 })),
        ];
        const a = buildConnectome(input({ treaties, revocations, knownSovereigns: ['z'] }));
        const b = buildConnectome(
          input({
            treaties: [...treaties].reverse(),
            revocations: [...revocations].reverse(),
            knownSovereigns: ['z'],
            now: new Date('2026-03-01T00:00:07Z'),
          }),
        );
        expect(b.digest).toBe(a.digest);
        expect(b.body.toString().replace(b.generatedAt, a.generatedAt)).toBe(a.body.toString());
      }),
      { seed: 20260304, numRuns: 100 },
    );
  });
});

describe('timestamp reading', () => {
  it('reads second-precision timestamps exactly as Date.parse does', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(9999, 11, 31) }), (ms) => {
        const text = new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
        expect(timestampMs(text)).toBe(Date.parse(text));
      }),
      { seed: 20260306, numRuns: 500 },
    );
    for (const odd of [
      '2026-03-01T00:00:00.500Z',
      '2026-03-01T00:00:00+01:00',
      '2026-0X-01T00:00:00Z',
      '2026-02-30T00:00:00Z',
      '2026-02-01T25:00:00Z',
      '2026-13-01T00:00:00Z',
      'nonsense',
    ]) {
      expect(Object.is(timestampMs(odd), Date.parse(odd)), odd).toBe(true);
    }
  });
});

describe('next lifecycle boundary', () => {
  it('nothing in lifecycleAt changes before it, and something changes at it', () => {
    const base = Date.parse(NOW);
    fc.assert(
      fc.property(
        fc.integer({ min: -200_000, max: 400_000 }),
        fc.integer({ min: 1, max: 500_000 }),
        fc.integer({ min: 0, max: 999 }),
        (fromOffset, length, ms) => {
          const validFrom = new Date(base + fromOffset * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
          const expiresAt = new Date(base + (fromOffset + length) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
          const now = new Date(base + ms);
          const { connectome } = build({ treaties: [treaty('a', 'b', { valid_from: validFrom, expires_at: expiresAt })], now });
          const state = (t: number) => {
            const l = lifecycleAt({ valid_from: validFrom, expires_at: expiresAt, revocation: null }, new Date(t));
            return `${l.state}/${l.expiry_risk}`;
          };
          const boundary = connectome.nextBoundaryMs;
          const end = Number.isFinite(boundary) ? boundary : now.getTime() + 600_000_000;
          for (const t of [now.getTime(), end - 1, Math.floor((now.getTime() + end) / 2)]) expect(state(t)).toBe(state(now.getTime()));
          if (Number.isFinite(boundary)) expect(state(boundary)).not.toBe(state(now.getTime()));
        },
      ),
      { seed: 20260305, numRuns: 400 },
    );
  });
});
