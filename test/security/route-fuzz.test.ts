// Property: every route (enumerated from app.routes) answers hostile input with the JSON error
// envelope and a 4xx — never a 5xx, never a hang — and a rejection leaves the database unchanged;
// audit-worthy rejections (admin auth, feed imports) are audited. fast-check, fixed seeds.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCosignerKey } from '../../src/authority/cosignature.ts';
import { signingPayload } from '../../src/authority/crypto.ts';
import { IMPORT_REJECTIONS } from '../../src/feeds/import.ts';
import { auditCount, dbDigest, testKey } from '../helpers/authority.ts';
import { errorCode, GM_ID, IMPORTER_ID, ISSUER_ID, populatedAuthority, send, type Populated } from './fixture.ts';
import { hostileBodyArb, queryArb, segmentArb, WELL_FORMED, type HostileBody, type Json } from './hostile-inputs.ts';

/**
 * How each route is fuzzed:
 * - read: any answer below 500; the database never changes.
 * - write: an admin change; a well-formed body may be accepted (2xx), anything else must be a 4xx.
 * - signed: takes a signed object; a mutated object is accepted only if its signed content is intact.
 */
type Kind = 'read' | 'write' | 'signed';
interface RouteSpec {
  kind: Kind;
  /** Valid bodies to mutate (POST/DELETE). */
  bodies?: (p: Populated) => Json[];
  /** Valid values for each path parameter. */
  params?: (p: Populated) => Record<string, string[]>;
  /** Valid query strings (GET). */
  queries?: string[];
  /** For signed routes: the signed object inside a body sample (the part whose signature matters). */
  signedPart?: (body: Json) => Json;
  /** The route takes no body; whatever is sent is ignored (the action depends on the path only). */
  bodiless?: boolean;
}

const treatyBody = {
  subject_sovereign_id: 'peer-x',
  subject_public_keys: [testKey('fuzz:x').publicKey],
  scope: { allowed_roles: ['role:client'], claims: { k: 1 } },
  validity_hours: 48,
  metadata: { a: 'b' },
};
const attestationBody = { subject_id: 'node-9', roles: ['role:client'], validity_hours: 24, claims: { n: 1 } };

const ROUTES: Record<string, RouteSpec> = {
  'GET /healthz': { kind: 'read' },
  'GET /readyz': { kind: 'read' },
  'GET /metrics': { kind: 'read' },
  'GET /.well-known/network-authority': { kind: 'read' },
  'GET /admin/audit': { kind: 'read', queries: ['?after_seq=1&limit=5', '?event_type=admin_auth_failed'] },
  'GET /admin/signing-keys': { kind: 'read' },
  'POST /admin/signing-keys/rotate': { kind: 'write', bodies: () => [{ overlap_days: 7, reason: 'superseded' }, {}] },
  'POST /admin/signing-keys/retire': { kind: 'write', bodies: () => [{}] },
  'POST /admin/recognition-treaties': { kind: 'write', bodies: () => [treatyBody] },
  'POST /admin/recognition-treaties/revoke-by-operator': {
    kind: 'write',
    bodies: (p) => [
      { key_id: testKey('nobody').keyId, reason: 'key_compromise' },
      { key_id: p.a.operator.key.keyId, reason: 'policy_violation', since: '2030-01-01T00:00:00Z' },
    ],
  },
  'POST /admin/recognition-treaties/:id/revoke': {
    kind: 'write',
    bodies: () => [{ reason: 'key_compromise', incident: 'inc-1' }],
    params: (p) => ({ id: [p.treatyId] }),
  },
  'POST /admin/recognition-treaties/:id/supersede': {
    kind: 'write',
    bodies: () => [{ ...treatyBody, subject_sovereign_id: 'peer-d' }],
    params: (p) => ({ id: [p.treatyId] }),
  },
  'POST /admin/attestations': { kind: 'write', bodies: () => [attestationBody] },
  'POST /admin/attestations/revoke-by-operator': {
    kind: 'write',
    bodies: () => [{ key_id: testKey('nobody').keyId, reason: 'key_compromise' }],
  },
  'POST /admin/attestations/:id/revoke': {
    kind: 'write',
    bodies: () => [{ reason: 'privilege_withdrawn' }],
    params: (p) => ({ id: [p.attestationId] }),
  },
  'GET /admin/attestations/:id': { kind: 'read', params: (p) => ({ id: [p.attestationId] }) },
  'GET /recognition-treaties': { kind: 'read', queries: ['?limit=2', `?subject=peer-d`, '?state=active', '?issuer=na-main&limit=500'] },
  'POST /recognition-treaties/verify': {
    kind: 'signed',
    bodies: (p) => [{ treaty: p.ownTreaty }, { treaty: p.ownTreaty, expected_subject: 'peer-d' }],
    signedPart: (b) => b.treaty,
  },
  'GET /recognition-treaties/:id': { kind: 'read', params: (p) => ({ id: [p.treatyId] }) },
  'POST /attestations/verify': {
    kind: 'signed',
    bodies: (p) => [{ attestation: p.ownAttestation }, { attestation: p.foreignAttestation }],
    signedPart: (b) => b.attestation,
  },
  'POST /admin/sovereign-revocation-feeds/import': { kind: 'signed', bodies: (p) => [{ feed: p.gmFeed }], signedPart: (b) => b.feed },
  'GET /sovereign-revocation-feed': { kind: 'read', queries: ['?issuer_sovereign_id=na-main', '?issuer_sovereign_id=other'] },
  'GET /revocation-feeds/latest': { kind: 'read' },
  'GET /follower/updates/latest': { kind: 'read' },
  'GET /follower/updates/:sequence': { kind: 'read', params: () => ({ sequence: ['1', '2'] }) },
  'GET /revocation-feeds': { kind: 'read', queries: ['?since=0&limit=1', '?since=1', '?limit=100'] },
  'GET /revocation-feeds/:sequence': { kind: 'read', params: () => ({ sequence: ['1', '2'] }) },
  'POST /revocation-feeds/receipts': { kind: 'signed', bodies: (p) => [p.receipt], signedPart: (b) => b },
  'POST /admin/revocation-feeds/publish': { kind: 'write', bodies: () => [{}, { heartbeat: true }] },
  'POST /admin/revocation-feeds/import': {
    kind: 'signed',
    bodies: (p) => [{ feed: p.nextFeed }, { feed: p.issuer.feeds[1] }],
    signedPart: (b) => b.feed,
  },
  'POST /admin/revocation-feeds/rollback-import': { kind: 'write', bodies: () => [{ issuer_sovereign_id: ISSUER_ID, to_sequence: 1 }] },
  'GET /admin/revocation-feeds/issuers': { kind: 'read' },
  'GET /admin/revocation-feeds/receipts': { kind: 'read' },
  'GET /admin/revocation-feeds/equivocations': { kind: 'read' },
  'POST /admin/peers': {
    kind: 'write',
    bodies: () => [
      { sovereign_id: IMPORTER_ID, base_url: 'http://127.0.0.1:9/x' },
      { sovereign_id: GM_ID, base_url: 'https://gm.example', profile: 'genesis-mesh' },
    ],
  },
  'GET /admin/peers': { kind: 'read' },
  'GET /admin/peers/:id': { kind: 'read', params: () => ({ id: [ISSUER_ID] }) },
  'DELETE /admin/peers/:id': { kind: 'write', bodiless: true, params: () => ({ id: [ISSUER_ID] }) },
  'PUT /admin/peers/:id/mirrors': {
    kind: 'write',
    params: () => ({ id: [ISSUER_ID] }),
    bodies: () => [{ mirror_urls: ['https://mirror.example/a', 'http://127.0.0.1:9/m'] }, { mirror_urls: [] }],
  },
  'POST /admin/peers/:id/pause': { kind: 'write', bodiless: true, params: () => ({ id: [ISSUER_ID] }) },
  'POST /admin/peers/:id/resume': { kind: 'write', bodiless: true, params: () => ({ id: [ISSUER_ID] }) },
  'POST /admin/peers/:id/pull': { kind: 'write', bodiless: true, params: () => ({ id: [ISSUER_ID] }) },
  'GET /admin/peers/:id/status': { kind: 'read', params: () => ({ id: [ISSUER_ID] }) },
  'POST /admin/peers/:id/contain': {
    kind: 'write',
    bodies: () => [
      { reason: 'fuzz', revoke_treaties: false },
      { reason: 'fuzz', incident: 'inc-1' },
    ],
    params: () => ({ id: [ISSUER_ID] }),
  },
  'POST /admin/peers/:id/evidence': { kind: 'write', bodies: () => [{}, { reason: 'auditor' }], params: () => ({ id: [ISSUER_ID] }) },
  'POST /admin/peers/:id/repin': {
    kind: 'write',
    bodies: () => [{ public_key: testKey('fuzz:repin').publicKey, confirm_out_of_band: true, overlap_seconds: 3600 }],
    params: () => ({ id: [ISSUER_ID] }),
  },
  'POST /admin/peers/:id/test-pull': { kind: 'write', bodies: () => [{}], params: () => ({ id: [ISSUER_ID] }) },
  // The connectome (SPEC §6).
  'GET /connectome.json': { kind: 'read' },
  'GET /connectome': { kind: 'read' },
  'GET /connectome/trust-path': { kind: 'read', queries: ['?from=na-main&to=peer-b', '?from=na-main&to=na-main'] },
  'GET /connectome/blast-radius': { kind: 'read', params: () => ({}), queries: ['?id=x'] },
  // The transparency log (test/transparency/routes.test.ts fuzzes tile paths themselves).
  'GET /log/checkpoint': { kind: 'read' },
  'GET /log/checkpoints': { kind: 'read', queries: ['?since=0&limit=1', '?since=1'] },
  'GET /log/checkpoints/:sequence': { kind: 'read', params: () => ({ sequence: ['1', '2'] }) },
  'GET /log/keys': { kind: 'read' },
  'GET /log/tile/*': { kind: 'read' },
  'GET /log/proof/inclusion': { kind: 'read', queries: ['?index=0', '?index=0&size=1'] },
  'GET /log/proof/consistency': { kind: 'read', queries: ['?from=1', '?from=1&to=1'] },
  'GET /log/entries/:id': { kind: 'read', params: (p) => ({ id: [p.attestationId, p.treatyId] }) },
  // Witnessing (test/witness/request-body.test.ts fuzzes the add-checkpoint body grammar itself).
  'POST /witness/add-checkpoint': { kind: 'write', bodies: () => [{}] },
  'GET /witness/:originHash/checkpoint': { kind: 'read', params: () => ({ originHash: ['0'.repeat(64)] }) },
  'GET /witness': { kind: 'read' },
  'GET /admin/witness/logs': { kind: 'read' },
  'POST /admin/witness/logs': {
    kind: 'write',
    bodies: () => [{ sovereign_id: ISSUER_ID }, { sovereign_id: ISSUER_ID, origin: 'issuer.example/log' }],
  },
  'POST /admin/witness/logs/:id/disable': { kind: 'write', bodiless: true, params: () => ({ id: [ISSUER_ID] }) },
  'GET /admin/witness/conflicts': { kind: 'read' },
  'GET /admin/log/witnesses': { kind: 'read' },
  'POST /admin/log/witnesses/submit': { kind: 'write', bodiless: true },
  // Quorum policies (issuer peer-q: held-back imports of the fixture's issuer would not be fuzz findings).
  'GET /admin/witness/quorum': { kind: 'read' },
  'GET /admin/witness/quorum/:issuer': { kind: 'read', params: () => ({ issuer: ['peer-q'] }) },
  'POST /admin/witness/quorum': {
    kind: 'write',
    bodies: () => [
      {
        issuer_sovereign_id: 'peer-q',
        quorum: 1,
        witnesses: [{ name: 'q/witness', vkey: formatCosignerKey('q/witness', testKey('fuzz:q').raw) }],
      },
    ],
  },
  'DELETE /admin/witness/quorum/:issuer': { kind: 'write', bodiless: true, params: () => ({ issuer: ['peer-q'] }) },
  // Split-view evidence (test/gossip/evidence-parser.test.ts fuzzes the evidence document itself).
  'POST /log/evidence': {
    kind: 'write',
    bodies: () => [{ type: 'split_view_evidence', issuer_sovereign_id: ISSUER_ID, checkpoints: [], consistency_proof: [] }],
  },
  'GET /admin/split-views': { kind: 'read', queries: ['?issuer=peer-b', '?limit=5'] },
  'GET /admin/split-views/:hash': { kind: 'read', params: () => ({ hash: [`sha256:${'0'.repeat(64)}`] }) },
  'POST /admin/split-views/forward': { kind: 'write', bodiless: true },
};

const RUNS_PER_ROUTE = Number(process.env.ACCORD_FUZZ_RUNS ?? 60);
const HANG_MS = 5_000;
const SEED = 20261121;

let p: Populated;
let appRoutes: Array<{ method: string; path: string }>;
const stats = { requests: 0, byCategory: {} as Record<string, number>, accepted: 0, statuses: {} as Record<string, number> };

beforeAll(() => {
  p = populatedAuthority();
  appRoutes = [
    ...new Map(
      p.a.app.routes.filter((r) => r.method !== 'ALL').map((r) => [`${r.method} ${r.path}`, { method: r.method, path: r.path }]),
    ).values(),
  ];
});
afterAll(() => {
  p.cleanup();
  // Figures for docs/security.md.
  console.info(`[route-fuzz] ${JSON.stringify({ routes: appRoutes.length, ...stats })}`);
});

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`hang: ${what} took more than ${HANG_MS} ms`)), HANG_MS))),
  ]).finally(() => clearTimeout(timer));
}

function fillPath(pattern: string, values: Record<string, string>): string {
  return pattern.replace(/:([A-Za-z_]+)/g, (_, name: string) => values[name] ?? 'x');
}

function signedContentIntact(spec: RouteSpec, sample: Json, sent: Json): boolean {
  if (!spec.signedPart) return false;
  const before = spec.signedPart(sample);
  const after = (() => {
    try {
      return spec.signedPart!(sent);
    } catch {
      return undefined;
    }
  })();
  if (!after || typeof after !== 'object' || Array.isArray(after)) return false;
  try {
    return signingPayload(before).equals(signingPayload(after));
  } catch {
    return false;
  }
}

/** True when a 2xx answer to this input is a legitimate acceptance. */
function acceptable(spec: RouteSpec, route: string, body: HostileBody | null, json: unknown, samples: Json[]): string | null {
  if (spec.kind === 'read' || spec.bodiless) return null;
  if (body && !WELL_FORMED.has(body.category)) return `accepted a ${body.category} body`;
  if (spec.kind === 'write') return null;
  // Signed routes: verification answers 200 either way; only `accepted: true` counts.
  const answer = json as Record<string, unknown>;
  const accepted = route.endsWith('/verify') ? answer.accepted === true : true;
  if (!accepted) return null;
  if (!body || body.value === undefined) return 'accepted a request without a signed object';
  if (samples.some((s) => JSON.stringify(s) === JSON.stringify(body.value))) return null;
  if (samples.some((s) => signedContentIntact(spec, s, body.value))) return null;
  return `accepted a mutated signed object (${body.note ?? body.category})`;
}

describe('route fuzz: hostile input never gets a 5xx, never changes the database on rejection', () => {
  it('every route in app.routes has a fuzz specification', () => {
    const missing = appRoutes.map((r) => `${r.method} ${r.path}`).filter((k) => !(k in ROUTES));
    expect(missing, 'routes without fuzz coverage: add them to ROUTES in test/security/route-fuzz.test.ts').toEqual([]);
    expect(appRoutes.length).toBeGreaterThan(30);
  });

  it.each(Object.keys(ROUTES))('%s', async (route) => {
    const known = appRoutes.find((r) => `${r.method} ${r.path}` === route);
    expect(known, `${route} is specified here but not served: update ROUTES`).toBeDefined();
    if (!known) return;
    const spec = ROUTES[route]!;
    const { method, path } = known;
    const samples = spec.bodies?.(p) ?? [];
    const params = spec.params?.(p) ?? {};
    const paramNames = [...path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!);
    const segments = fc.record(
      Object.fromEntries(paramNames.map((n) => [n, segmentArb(params[n] ?? ['x'])])) as Record<string, fc.Arbitrary<string>>,
    );
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const bodyArb: fc.Arbitrary<HostileBody | null> = hasBody ? hostileBodyArb(samples.length > 0 ? samples : [{}]) : fc.constant(null);
    const query = method === 'GET' ? queryArb(spec.queries ?? []) : fc.constant('');

    const outcome = await fc.check(
      fc.asyncProperty(segments, bodyArb, query, async (segs, body, q) => {
        const target = `${fillPath(path, segs)}${q}`;
        const admin = path.startsWith('/admin/');
        const before = dbDigest(p.a.db);
        const rejectedBefore = auditCount(p.a.db, 'sovereign_revocation_feed_rejected');
        const headers: Record<string, string> = {};
        if (body?.contentType) headers['Content-Type'] = body.contentType;
        const res = await withTimeout(send(p.a, { method, path: target, body: body?.bytes, headers, sign: admin }), `${method} ${target}`);
        stats.requests++;
        stats.byCategory[body?.category ?? 'query'] = (stats.byCategory[body?.category ?? 'query'] ?? 0) + 1;
        stats.statuses[String(res.status)] = (stats.statuses[String(res.status)] ?? 0) + 1;
        const what = `${method} ${target.slice(0, 120)} [${body?.category ?? 'query'}${body?.note ? `: ${body.note}` : ''}] → ${res.status}`;

        expect(res.status, what).toBeLessThan(500);
        if (res.status >= 400) {
          const code = await errorCode(res);
          // Equivocation stores evidence and pauses the issuer; the fuzzer cannot sign, so it must never cause one.
          expect(code, `${what}: equivocation without a second signed feed`).not.toBe('equivocation');
          expect(dbDigest(p.a.db), `${what} ${code}: database changed on a rejection`).toBe(before);
          const importRoute = route === 'POST /admin/revocation-feeds/import' || route === 'POST /admin/sovereign-revocation-feeds/import';
          // A feed held back for a quorum of witnesses is not a rejection: nothing at all is written.
          if (
            importRoute &&
            (IMPORT_REJECTIONS as readonly string[]).includes(code) &&
            code !== 'body_too_large' &&
            code !== 'awaiting_quorum'
          ) {
            expect(auditCount(p.a.db, 'sovereign_revocation_feed_rejected'), `${what}: import rejection not audited`).toBe(
              rejectedBefore + 1,
            );
          }
          return;
        }
        if (res.status === 304) return;
        const text = await res.text();
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          // /metrics and the dashboard page are not JSON.
        }
        if (spec.kind === 'read') {
          expect(dbDigest(p.a.db), `${what}: a read changed the database`).toBe(before);
          return;
        }
        const problem = acceptable(spec, route, body, json, samples);
        expect(problem, what).toBeNull();
        stats.accepted++;
      }),
      { seed: SEED, numRuns: RUNS_PER_ROUTE, endOnFailure: true },
    );
    // Counterexamples can be megabytes; report the failing request line and the first lines of the error.
    if (outcome.failed)
      throw new Error(
        `${route}: ${String((outcome.errorInstance as Error | undefined)?.message ?? 'property failed').slice(0, 1500)} (seed ${SEED}, path ${outcome.counterexamplePath})`,
      );
  });
});

describe('route fuzz: tampered admin authentication on every admin route → 401, audited, nothing changes', () => {
  const TAMPER = [
    'drop_header',
    'wrong_signature',
    'other_body',
    'other_path',
    'stale_timestamp',
    'future_timestamp',
    'bad_nonce',
    'unknown_label',
    'url_safe_signature',
    'replayed_nonce',
  ] as const;
  it('every admin route rejects every kind of tampering', async () => {
    const admin = appRoutes.filter((r) => r.path.startsWith('/admin/'));
    expect(admin.length).toBeGreaterThan(20);
    const { signAdminRequest } = await import('../../src/authority/admin-auth.ts');
    const { toTimestamp } = await import('../../src/authority/clock.ts');
    const outcome = await fc.check(
      fc.asyncProperty(
        fc.constantFrom(...admin),
        fc.constantFrom(...TAMPER),
        fc.constantFrom('X-Admin-Key-Id', 'X-Admin-Timestamp', 'X-Admin-Nonce', 'X-Admin-Signature'),
        async (route, tamper, header) => {
          // A fresh failure window per request: the first failures of each window are audited one by one.
          p.a.clock.advance(61);
          const path = fillPath(route.path, { id: ISSUER_ID });
          const body = route.method === 'GET' ? '' : '{"reason":"key_compromise"}';
          const now = p.a.clock();
          const sign = (over: Partial<{ path: string; body: string; timestamp: string; nonce: string; label: string }> = {}) =>
            signAdminRequest({
              authority: p.a.sovereignId,
              method: route.method,
              path: over.path ?? path,
              body: over.body ?? body,
              label: over.label ?? p.a.operator.label,
              key: p.a.operator.key,
              timestamp: over.timestamp ?? toTimestamp(now),
              ...(over.nonce ? { nonce: over.nonce } : {}),
            }) as unknown as Record<string, string>;
          let headers: Record<string, string> = sign();
          if (tamper === 'drop_header') delete headers[header];
          else if (tamper === 'wrong_signature') headers['X-Admin-Signature'] = sign({ body: `${body} ` })['X-Admin-Signature']!;
          else if (tamper === 'other_body') headers = sign({ body: '{"reason":"unspecified"}' });
          else if (tamper === 'other_path') headers = sign({ path: `${path}x` });
          else if (tamper === 'stale_timestamp') headers = sign({ timestamp: toTimestamp(new Date(now.getTime() - 301_000)) });
          else if (tamper === 'future_timestamp') headers = sign({ timestamp: toTimestamp(new Date(now.getTime() + 301_000)) });
          else if (tamper === 'bad_nonce') headers = sign({ nonce: 'short' });
          else if (tamper === 'unknown_label') headers = sign({ label: 'intruder' });
          else if (tamper === 'url_safe_signature')
            headers['X-Admin-Signature'] = headers['X-Admin-Signature']!.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
          else if (tamper === 'replayed_nonce') {
            headers = sign({ nonce: 'replayed-nonce-0123456789abcdef' });
            await p.a.app.request(`http://localhost${path}`, {
              method: route.method,
              headers: { ...headers, 'Content-Type': 'application/json' },
              ...(body ? { body } : {}),
            });
          }
          if (tamper === 'url_safe_signature' && !/[+/=]/.test(sign()['X-Admin-Signature']!)) return; // nothing to change
          const before = dbDigest(p.a.db);
          const failures = auditCount(p.a.db, 'admin_auth_failed');
          const res = await withTimeout(
            Promise.resolve(
              p.a.app.request(`http://localhost${path}`, {
                method: route.method,
                headers: { ...headers, 'Content-Type': 'application/json' },
                ...(body ? { body } : {}),
              }),
            ),
            `${route.method} ${path}`,
          );
          stats.requests++;
          const what = `${route.method} ${path} [${tamper}${tamper === 'drop_header' ? ` ${header}` : ''}] → ${res.status}`;
          expect(res.status, what).toBe(401);
          expect(await errorCode(res), what).toBe('admin_auth_failed');
          expect(dbDigest(p.a.db), what).toBe(before);
          expect(auditCount(p.a.db, 'admin_auth_failed'), `${what}: not audited`).toBe(failures + 1);
        },
      ),
      { seed: SEED, numRuns: 300, endOnFailure: true },
    );
    if (outcome.failed) throw new Error(String((outcome.errorInstance as Error | undefined)?.message ?? 'property failed').slice(0, 1500));
  });
});

describe('route fuzz: dot-segment and encoded paths into every admin area → 400, audited, nothing changes', () => {
  // Each variant starts in one admin area and, after URL normalization, would route to another. The
  // raw target is what the server sees on the wire (`incoming.url`); app.request normalizes its URL.
  const VARIANTS = [
    (from: string, to: string) => `/admin/${from}/../${to}`,
    (from: string, to: string) => `/admin/${from}/%2e%2e/${to}`,
    (from: string, to: string) => `/admin/${from}/%2E%2E/${to}`,
    (from: string, to: string) => `/admin/${from}/.%2e/${to}`,
    (from: string, to: string) => `/admin/${from}/%2e./${to}`,
    (from: string, to: string) => `/admin/${from}/./../${to}`,
    (from: string, to: string) => `/admin/${from}%2f..%2f${to}`,
    (from: string, to: string) => `/admin/${from}%5c..%5c${to}`,
    (_from: string, to: string) => `/admin//${to}`,
    (_from: string, to: string) => `/admin/${to.replace(/^./, (c) => `%${c.charCodeAt(0).toString(16)}`)}`,
  ];

  it('for every admin route, entered from another area, even when validly signed', async () => {
    const { signAdminRequest } = await import('../../src/authority/admin-auth.ts');
    const { toTimestamp } = await import('../../src/authority/clock.ts');
    const admin = appRoutes.filter((r) => r.path.startsWith('/admin/'));
    const areas = [...new Set(admin.map((r) => r.path.split('/')[2]!))];
    expect(areas.length).toBeGreaterThan(5);
    let sent = 0;
    for (const route of admin) {
      const to = fillPath(route.path, { id: ISSUER_ID }).replace(/^\/admin\//, '');
      for (const from of areas) {
        if (to.startsWith(`${from}/`) || to === from) continue;
        for (const variant of VARIANTS) {
          p.a.clock.advance(61);
          const target = variant(from, to);
          const body = route.method === 'GET' ? '' : '{"reason":"key_compromise"}';
          const headers = signAdminRequest({
            authority: p.a.sovereignId,
            method: route.method,
            path: target,
            body,
            label: p.a.operator.label,
            key: p.a.operator.key,
            timestamp: toTimestamp(p.a.clock()),
          });
          const before = dbDigest(p.a.db);
          const failures = auditCount(p.a.db, 'admin_auth_failed');
          const res = await p.a.app.request(
            target,
            { method: route.method, headers: { ...headers, 'Content-Type': 'application/json' }, ...(body ? { body } : {}) },
            {
              incoming: { url: target, socket: { remoteAddress: '192.0.2.77' } } as never,
            },
          );
          const what = `${route.method} ${target} → ${res.status}`;
          expect(res.status, what).toBe(400);
          expect(await errorCode(res), what).toBe('non_canonical_path');
          expect(dbDigest(p.a.db), what).toBe(before);
          expect(auditCount(p.a.db, 'admin_auth_failed'), `${what}: not audited`).toBe(failures + 1);
          sent++;
        }
        break; // one source area per route keeps the run short; the source rotates with the route below
      }
      areas.push(areas.shift()!);
    }
    stats.requests += sent;
    expect(sent).toBeGreaterThan(admin.length * 5);
  });
});
