// Connectome benchmark: build time at 10k sovereigns / 100k treaties / 100k revocations versus JSON.stringify of
// the output, lookups, and reading the network from SQLite. `npm run bench -- connectome` records it (bench/workloads).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createApp } from '../src/server/app.ts';
import { fixedClock } from '../src/authority/clock.ts';
import { defaultConfig } from '../src/authority/config.ts';
import { OperatorKeyring } from '../src/authority/operator-keys.ts';
import { buildConnectome } from '../src/connectome/connectome.ts';
import { loadConnectomeInput } from '../src/connectome/loader.ts';
import { openMemoryDatabase } from '../src/db/database.ts';
import type { ConnectomeInput, RevocationRecord, TreatyRecord } from '../src/connectome/model.ts';

export interface SyntheticNetworkSize {
  sovereigns: number;
  treaties: number;
  revocations: number;
}

/** Deterministic PRNG (mulberry32), so every run measures the same network. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOUR = 3600_000;
const ts = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const uuid = (kind: number, n: number) => `${hex(kind, 8)}-0000-4000-8000-${hex(n, 12)}`;

/**
 * A federation-shaped network: sovereigns in regional clusters of 20, each recognizing three partners
 * (mostly in its cluster); every partnership renewed over several treaty generations (older ones
 * superseded or expired), plus attestation and key revocations spread over the issuers.
 */
export function syntheticNetwork(size: SyntheticNetworkSize, now = new Date('2026-03-01T00:00:00Z'), seed = 7): ConnectomeInput {
  const random = prng(seed);
  const nowMs = now.getTime();
  const ids = Array.from({ length: size.sovereigns }, (_, i) => `sovereign-${String(i).padStart(5, '0')}`);
  const pick = (n: number) => Math.floor(random() * n);
  const treaties: TreatyRecord[] = [];
  const revocations: RevocationRecord[] = [];
  const partnerships: Array<[number, number]> = [];
  for (let i = 0; i < size.sovereigns; i++) {
    const cluster = Math.floor(i / 20) * 20;
    const partners = new Set<number>();
    while (partners.size < 3) {
      const p = random() < 0.85 ? Math.min(size.sovereigns - 1, cluster + pick(20)) : pick(size.sovereigns);
      if (p !== i) partners.add(p);
    }
    for (const p of partners) partnerships.push([i, p]);
  }
  let t = 0;
  while (treaties.length < size.treaties) {
    const [from, to] = partnerships[t % partnerships.length]!;
    const generation = Math.floor(t / partnerships.length);
    const id = uuid(1, t);
    // Generation 0 is current; older generations were superseded or simply ran out.
    const current = generation === 0;
    const validFrom = nowMs - (generation + 1) * 200 * 24 * HOUR - pick(1000) * HOUR;
    const roll = random();
    const expires = current
      ? nowMs + (roll < 0.05 ? pick(70) + 1 : roll < 0.08 ? -pick(100) - 1 : 100 * 24 + pick(5000)) * HOUR
      : validFrom + 398 * 24 * HOUR;
    const body = JSON.stringify({
      expires_at: ts(expires),
      issued_at: ts(validFrom),
      issued_by: `sha256:${hex(from, 64)}`,
      issuer_sovereign_id: ids[from],
      metadata: {},
      scope: { accepted_statuses: ['active'], allowed_roles: ['role:anchor'], claims: {} },
      signatures: [{ key_id: `sha256:${hex(from, 64)}`, sig: `${'A'.repeat(86)}==` }],
      status: 'active',
      subject_public_keys: ['A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg='],
      subject_sovereign_id: ids[to],
      treaty_id: id,
      valid_from: ts(validFrom),
    });
    treaties.push({
      treaty_id: id,
      issuer_sovereign_id: ids[from]!,
      subject_sovereign_id: ids[to]!,
      valid_from: ts(validFrom),
      expires_at: ts(expires),
      roles: ['role:anchor'],
      body,
    });
    if (!current && revocations.length < size.revocations / 2 && roll < 0.7) {
      revocations.push({
        issuer_sovereign_id: ids[from]!,
        kind: 'recognition_treaty',
        id,
        reason: 'superseded',
        revoked_at: ts(validFrom + 300 * 24 * HOUR),
        feed_sequence: 1 + pick(50),
      });
    }
    t++;
  }
  for (let r = 0; revocations.length < size.revocations; r++) {
    const issuer = ids[pick(size.sovereigns)]!;
    const key = random() < 0.02;
    revocations.push({
      issuer_sovereign_id: issuer,
      kind: key ? 'public_key' : 'membership_attestation',
      id: key ? `sha256:${hex(r, 64)}` : uuid(2, r),
      reason: key ? 'key_compromise' : 'affiliation_changed',
      revoked_at: ts(nowMs - pick(2000) * HOUR),
      feed_sequence: 1 + pick(50),
    });
  }
  const feeds = ids.slice(1, 1 + Math.min(1000, size.sovereigns - 1)).map((issuer, i) => ({
    issuer_sovereign_id: issuer,
    imported_sequence: 1 + pick(50),
    last_import_at: ts(nowMs - pick(48) * HOUR),
    next_update: ts(nowMs + (i % 10 === 0 ? -HOUR : 24 * HOUR)),
    paused: i % 97 === 0,
  }));
  const acknowledgements = ids.slice(0, Math.min(500, size.sovereigns)).flatMap((importer) =>
    Array.from({ length: 3 }, () => ({
      issuer_sovereign_id: ids[pick(size.sovereigns)]!,
      sovereign_id: importer,
      sequence: 1 + pick(50),
    })),
  );
  return { selfId: ids[0]!, now, maxPathLength: 3, treaties, revocations, feeds, acknowledgements, knownSovereigns: [] };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export interface ConnectomeBenchResult {
  sovereigns: number;
  treaties: number;
  revocations: number;
  document_mib: number;
  first_build_ms: number;
  build_ms: number;
  stringify_ms: number;
  build_to_stringify_ratio: number;
  target_ratio: number;
  blast_radius_lookup_p50_ms: number;
  blast_radius_lookup_p99_ms: number;
  trust_path_p99_ms: number;
  /** Reading the same network from SQLite (informational; not part of the ratio). */
  load_ms?: number;
  load_and_build_ms?: number;
}

export function runConnectomeBench(
  size: SyntheticNetworkSize = { sovereigns: 10_000, treaties: 100_000, revocations: 100_000 },
  runs = 3,
): ConnectomeBenchResult {
  const input = syntheticNetwork(size);
  // The first build sizes its buffer by estimate; later ones (a rebuild after a change) by the previous build.
  let started = performance.now();
  let connectome = buildConnectome(input);
  const firstBuild = performance.now() - started;
  const builds: number[] = [];
  for (let i = 0; i < runs; i++) {
    started = performance.now();
    connectome = buildConnectome(input, { sizeHint: connectome.length });
    builds.push(performance.now() - started);
  }
  const parsed = JSON.parse(connectome.body.toString('utf8')) as unknown;
  const stringifies: number[] = [];
  for (let i = 0; i < runs; i++) {
    started = performance.now();
    JSON.stringify(parsed);
    stringifies.push(performance.now() - started);
  }
  const lookups: number[] = [];
  const items = connectome.graph.items;
  for (let i = 0; i < 2000; i++) {
    const item = items[(i * 7919) % items.length]!.record;
    started = performance.now();
    connectome.blastRadiusText({ id: item.id, issuer: item.issuer_sovereign_id, type: item.kind });
    lookups.push(performance.now() - started);
  }
  const paths: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const ids = connectome.graph.ids;
    started = performance.now();
    connectome.trustPathText(ids[(i * 31) % ids.length]!, ids[(i * 7907) % ids.length]!);
    paths.push(performance.now() - started);
  }
  const build = median(builds);
  const stringify = median(stringifies);
  return {
    ...size,
    document_mib: Math.round((connectome.body.length / 1048576) * 10) / 10,
    first_build_ms: Math.round(firstBuild),
    build_ms: Math.round(build),
    stringify_ms: Math.round(stringify),
    build_to_stringify_ratio: Math.round((build / stringify) * 100) / 100,
    target_ratio: 3,
    blast_radius_lookup_p50_ms: Math.round(median(lookups) * 1000) / 1000,
    blast_radius_lookup_p99_ms: Math.round(percentile(lookups, 0.99) * 1000) / 1000,
    trust_path_p99_ms: Math.round(percentile(paths, 0.99) * 1000) / 1000,
  };
}

/**
 * Stores a synthetic network the way an authority holds it — its own treaties and revocation log,
 * mirrored peer treaties, imported revocations, feed state — and times reading it back. Bench
 * fixture only: rows are written directly, not through the owning domains' services.
 */
export function runLoaderBench(size: SyntheticNetworkSize): { load_ms: number; load_and_build_ms: number } {
  const input = syntheticNetwork(size);
  const db = openMemoryDatabase();
  const sqlite = db.sqlite;
  sqlite.transaction(() => {
    const own = sqlite.prepare(
      'INSERT INTO treaties (treaty_id, issuer_sovereign_id, subject_sovereign_id, issued_at, valid_from, expires_at, issued_by, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const peer = sqlite.prepare(
      'INSERT INTO peer_treaties (peer_sovereign_id, treaty_id, subject_sovereign_id, valid_from, expires_at, body, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const t of input.treaties) {
      if (t.issuer_sovereign_id === input.selfId)
        own.run(t.treaty_id, t.issuer_sovereign_id, t.subject_sovereign_id, t.valid_from, t.valid_from, t.expires_at, 'sha256:00', t.body);
      else peer.run(t.issuer_sovereign_id, t.treaty_id, t.subject_sovereign_id, t.valid_from, t.expires_at, t.body, t.valid_from);
    }
    const log = sqlite.prepare(
      'INSERT INTO revocation_log (idx, kind, id, reason, revoked_at, entry, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const imported = sqlite.prepare(
      'INSERT INTO imported_revocations (issuer_sovereign_id, log_index, kind, id, reason, revoked_at, feed_sequence) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const nextIndex = new Map<string, number>();
    for (const r of input.revocations) {
      const index = nextIndex.get(r.issuer_sovereign_id) ?? 0;
      nextIndex.set(r.issuer_sovereign_id, index + 1);
      if (r.issuer_sovereign_id === input.selfId)
        log.run(
          index,
          r.kind,
          r.id,
          r.reason,
          r.revoked_at,
          JSON.stringify({ id: r.id, index, kind: r.kind, reason: r.reason, revoked_at: r.revoked_at }),
          '00',
        );
      else imported.run(r.issuer_sovereign_id, index, r.kind, r.id, r.reason, r.revoked_at, r.feed_sequence ?? 1);
    }
    const issuer = sqlite.prepare(
      'INSERT INTO feed_issuers (issuer_sovereign_id, last_sequence, last_import_at, next_update, paused) VALUES (?, ?, ?, ?, ?)',
    );
    for (const f of input.feeds) issuer.run(f.issuer_sovereign_id, f.imported_sequence, f.last_import_at, f.next_update, f.paused ? 1 : 0);
  })();
  const { deps } = createApp({
    db,
    clock: fixedClock(input.now),
    config: defaultConfig({ logLevel: 'silent' }),
    identity: { sovereignId: input.selfId, signingKeys: [], publishedKeys: [] },
    operatorKeys: OperatorKeyring.fromKeys([]),
    logger: pino({ level: 'silent' }),
  });
  let started = performance.now();
  const loaded = loadConnectomeInput(deps);
  const load = performance.now() - started;
  started = performance.now();
  buildConnectome(loadConnectomeInput(deps));
  const loadAndBuild = performance.now() - started;
  void loaded;
  db.close();
  return { load_ms: Math.round(load), load_and_build_ms: Math.round(loadAndBuild) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const size = { sovereigns: 10_000, treaties: 100_000, revocations: 100_000 };
  const result: ConnectomeBenchResult = { ...runConnectomeBench(size), ...runLoaderBench(size) };
  console.table([result]);
  if (result.build_to_stringify_ratio > result.target_ratio) process.exitCode = 1;
}
