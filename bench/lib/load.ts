// The load generator: autocannon in its own process, so it never shares a core's event loop with the server.
// Usage: node --import tsx bench/lib/load.ts '<json LoadSpec>'  → prints one JSON LoadResult line.
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { BENCH_NOW, OPERATOR_LABEL, operatorKey, SCALE } from './fixtures.ts';

/** Signed treaty requests prepared per admin-write run (more than 10 connections can send in the run). */
const ADMIN_REQUESTS = Math.max(5000, Math.round(40_000 * SCALE));
import { printJson } from './harness.ts';

export interface LoadSpec {
  url: string;
  path: string;
  connections: number;
  durationSeconds: number;
  /**
   * `post-bodies`: POST the JSON bodies of a file (one array) in turn; `admin-treaty`: signed treaty issue requests; `get`;
   * `get-paths`: GET the paths of a file (one array), dealt out to the connections, each its share in turn; `text-sequences`: POST text bodies from a file of one array
   * per connection, each connection its own bodies `[from, to)` in order, then done (no duration).
   */
  mode: 'post-bodies' | 'admin-treaty' | 'get' | 'get-paths' | 'text-sequences';
  bodiesFile?: string;
  pathsFile?: string;
  headers?: Record<string, string>;
  /** For admin-treaty: the sovereign id of the authority under load (admin signatures are bound to it). */
  authority?: string;
  /** For text-sequences: which bodies of each connection's array are sent. */
  from?: number;
  to?: number;
}

export interface LoadResult {
  requests: number;
  duration_s: number;
  rps: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number; mean: number };
  status: Record<string, number>;
  errors: number;
  timeouts: number;
  bytes_read: number;
}

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
}

interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  statusCodeStats?: Record<string, { count: number }>;
  errors: number;
  timeouts: number;
  duration: number;
  throughput: { total: number };
}

type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: AutocannonResult) => void) => unknown;

/** A pool of distinct, valid Ed25519 subject keys (standard base64 of the raw 32 bytes). */
function subjectKeys(n: number): string[] {
  return Array.from({ length: n }, () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    return Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64');
  });
}

function requestsFor(spec: LoadSpec): AutocannonRequest[] {
  if (spec.mode === 'get') return [{ method: 'GET', path: spec.path, ...(spec.headers ? { headers: spec.headers } : {}) }];
  if (spec.mode === 'post-bodies') {
    const bodies = (JSON.parse(fs.readFileSync(spec.bodiesFile!, 'utf8')) as unknown[]).map((b) => JSON.stringify(b));
    let i = 0;
    return [
      {
        method: 'POST',
        path: spec.path,
        setupRequest: (req) => ({ ...req, headers: { 'content-type': 'application/json' }, body: bodies[i++ % bodies.length]! }),
      },
    ];
  }
  // Each request issues a treaty to a new subject with its own key, signed with a fresh nonce. All are
  // signed before the run starts, so the load generator's own signing never limits the rate measured.
  const keys = subjectKeys(20_000);
  const key = operatorKey();
  const signed = Array.from({ length: ADMIN_REQUESTS }, (_, i) => {
    const body = JSON.stringify({
      subject_sovereign_id: `peer-${String(i).padStart(7, '0')}`,
      subject_public_keys: [keys[i % keys.length]!],
      scope: { allowed_roles: ['role:client', 'role:anchor'] },
      validity_hours: 24 * 90,
      metadata: { ticket: `CHG-${i}` },
    });
    const headers = signAdminRequest({
      authority: spec.authority ?? 'bench-authority',
      method: 'POST',
      path: spec.path,
      body,
      label: OPERATOR_LABEL,
      key,
      timestamp: BENCH_NOW,
    });
    return { headers: { ...headers, 'content-type': 'application/json' }, body };
  });
  let n = 0;
  // Past the pool a nonce would repeat (and be refused): the run reports that as non-201 answers.
  return [{ method: 'POST', path: spec.path, setupRequest: (req) => ({ ...req, ...signed[n++ % signed.length]! }) }];
}

interface AutocannonClient {
  setRequests(requests: AutocannonRequest[]): void;
}

/**
 * text-sequences: connection i sends the bodies `[from, to)` of the i-th array, one after another, and stops (each
 * client gets its own request list; autocannon gives every connection amount / connections requests).
 */
function sequenceOptions(spec: LoadSpec): Record<string, unknown> {
  const sequences = (JSON.parse(fs.readFileSync(spec.bodiesFile!, 'utf8')) as string[][]).map((bodies) =>
    bodies
      .slice(spec.from, spec.to)
      .map((body) => ({ method: 'POST', path: spec.path, headers: { 'content-type': 'text/plain; charset=utf-8' }, body })),
  );
  const perConnection = sequences[0]!.length;
  if (sequences.length !== spec.connections || sequences.some((s) => s.length !== perConnection))
    throw new Error('text-sequences: one array per connection, all of the same length');
  let next = 0;
  return {
    url: spec.url,
    connections: spec.connections,
    amount: perConnection * spec.connections,
    requests: sequences[0],
    setupClient: (client: AutocannonClient) => client.setRequests(sequences[next++ % sequences.length]!),
  };
}

/**
 * get-paths: the paths are dealt out to the connections in turn, and each connection GETs its share in a
 * loop (so connections never ask for the same path at the same moment). The requests are built once, before
 * the run, so building them never takes the generator's time from the server under load.
 */
function pathOptions(spec: LoadSpec): Record<string, unknown> {
  const paths = JSON.parse(fs.readFileSync(spec.pathsFile!, 'utf8')) as string[];
  const shares = Array.from({ length: spec.connections }, (_, c) =>
    (paths.length < spec.connections ? paths : paths.filter((_, i) => i % spec.connections === c)).map((path) => ({ method: 'GET', path })),
  );
  let next = 0;
  return {
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSeconds,
    requests: shares[0],
    setupClient: (client: AutocannonClient) => client.setRequests(shares[next++ % shares.length]!),
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as LoadSpec;
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const options =
    spec.mode === 'text-sequences'
      ? sequenceOptions(spec)
      : spec.mode === 'get-paths'
        ? pathOptions(spec)
        : { url: spec.url, connections: spec.connections, duration: spec.durationSeconds, requests: requestsFor(spec) };
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
  });
  const status = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]));
  const out: LoadResult = {
    requests: result.requests.total,
    duration_s: result.duration,
    rps: result.requests.total / result.duration,
    latency_ms: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.mean,
    },
    status,
    errors: result.errors,
    timeouts: result.timeouts,
    bytes_read: result.throughput.total,
  };
  printJson(out);
}

await main();
