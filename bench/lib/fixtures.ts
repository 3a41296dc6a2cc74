// Deterministic benchmark data: fixed-seed keys, temp-file authorities with production pragmas, signed feeds.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { createApp, type AuthorityApp } from '../../src/server/app.ts';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { fixedClock } from '../../src/authority/clock.ts';
import { defaultConfig, type Config } from '../../src/authority/config.ts';
import { signingKeyFromSeed, signObject, type SigningKey } from '../../src/authority/crypto.ts';
import { initAuthority, loadIdentity, operatorKeysFor } from '../../src/authority/identity.ts';
import { createSigningKeyFile } from '../../src/authority/key-files.ts';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { appendLeaves, emptyFrontier, frontierRoot, leafHash, type Frontier } from '../../src/log/merkle.ts';
import { FEED_TYPE, FEED_VERSION, signedPartHash } from '../../src/feeds/model.ts';
import { signFeedText, type FeedHeader } from '../../src/feeds/publish.ts';
import type { NewRevocationEntry, RevocationEntry } from '../../src/log/store.ts';
import type { MembershipAttestation } from '../../src/treaties/model.ts';

/** Every benchmark authority runs at this instant (an injected clock), so every run sees the same data. */
export const BENCH_NOW = '2026-03-01T00:00:00Z';
export const BENCH_NOW_MS = Date.parse(BENCH_NOW);
export const OPERATOR_LABEL = 'bench';

/** BENCH_SCALE (default 1) shrinks every data set for development runs. */
export const SCALE = (() => {
  const raw = process.env.BENCH_SCALE;
  const n = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new Error(`BENCH_SCALE must be a number in (0, 1], got ${raw}`);
  return n;
})();

export function scaled(n: number, min = 1): number {
  return Math.max(min, Math.round(n * SCALE));
}

/** The run's scratch directory (set by bench/run.ts; a workload started alone makes its own). */
export function workDir(): string {
  const dir = process.env.BENCH_WORKDIR ?? path.join(process.env.TMPDIR ?? '/tmp', `accord-bench-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export function benchSeed(label: string): Buffer {
  return createHash('sha256').update(`accord-bench-seed:${label}`).digest();
}

export function benchKey(label: string): SigningKey {
  return signingKeyFromSeed(benchSeed(label));
}

export const operatorKey = (): SigningKey => benchKey(`operator:${OPERATOR_LABEL}`);

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A lowercase UUID v4 drawn from the PRNG. */
export function uuidFrom(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = '89ab'[Math.floor(random() * 4)]!;
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const ts = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface BenchAuthority extends AuthorityApp {
  db: Database;
  config: Config;
  dir: string;
  sovereignId: string;
  operator: { label: string; key: SigningKey; keyId: string };
  close(): Promise<void>;
}

/** Environment for `accord serve` on a bench data dir (same operator key, same identity). */
export function serveEnv(dir: string, sovereignId: string): Record<string, string> {
  return {
    ACCORD_DATA_DIR: dir,
    ACCORD_SOVEREIGN_ID: sovereignId,
    OPERATOR_PUBLIC_KEYS_JSON: JSON.stringify({ [OPERATOR_LABEL]: operatorKey().publicKey }),
    LOG_LEVEL: 'warn',
  };
}

/**
 * An authority on a temp-file database opened by `openDatabase` (production pragmas, WAL), with a
 * fixed-seed signing key and operator key and a fixed clock; `overrides` change its configuration. Opening an existing dir reuses it.
 */
export function openBenchAuthority(dir: string, sovereignId = 'bench-authority', overrides: Partial<Config> = {}): BenchAuthority {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const clock = fixedClock(BENCH_NOW);
  const config = defaultConfig({
    dataDir: dir,
    dbPath: path.join(dir, 'accord.db'),
    signingKeyFile: path.join(dir, 'authority-signing-key.json'),
    sovereignId,
    logLevel: 'silent',
    operatorPublicKeysJson: JSON.stringify({ [OPERATOR_LABEL]: operatorKey().publicKey }),
    ...overrides,
  });
  if (!fs.existsSync(config.signingKeyFile)) createSigningKeyFile(config.signingKeyFile, BENCH_NOW, benchSeed(`authority:${sovereignId}`));
  const db = openDatabase(config.dbPath, { backgroundCheckpoints: true });
  initAuthority(config, db, clock, { devOperatorKey: false });
  const identity = loadIdentity(config, db);
  const app = createApp({ db, clock, config, identity, operatorKeys: operatorKeysFor(config), logger: pino({ level: 'silent' }) });
  const key = operatorKey();
  return {
    ...app,
    db,
    config,
    dir,
    sovereignId,
    operator: { label: OPERATOR_LABEL, key, keyId: key.keyId },
    close: async () => {
      await app.close();
      db.close();
    },
  };
}

export interface Issuer {
  id: string;
  key: SigningKey;
}

export const sovereignId = (i: number): string => `sovereign-${String(i).padStart(5, '0')}`;

const issuers = new Map<number, Issuer>();

/** Foreign sovereign number i with its fixed-seed key (derived once). */
export function issuer(i: number): Issuer {
  let who = issuers.get(i);
  if (!who) {
    const id = sovereignId(i);
    who = { id, key: benchKey(`sovereign:${id}`) };
    issuers.set(i, who);
  }
  return who;
}

const REASONS: NewRevocationEntry['reason'][] = [
  'key_compromise',
  'affiliation_changed',
  'privilege_withdrawn',
  'cessation_of_operation',
  'policy_violation',
  'unspecified',
];

/** A revocation entry as an issuer would log it: mostly attestations, some treaties and keys. */
export function revocationEntry(random: () => number, index: number, extraIds?: () => string | undefined): RevocationEntry {
  const roll = random();
  const revokedAt = ts(BENCH_NOW_MS - 3600_000 * 24 * 30 + Math.floor(random() * 3600 * 24 * 29) * 1000);
  const reason = REASONS[Math.floor(random() * REASONS.length)]!;
  const forced = extraIds?.();
  if (forced) return { index, kind: 'membership_attestation', id: forced, reason, revoked_at: revokedAt };
  if (roll < 0.9) return { index, kind: 'membership_attestation', id: uuidFrom(random), reason, revoked_at: revokedAt };
  if (roll < 0.98) {
    return {
      index,
      kind: 'recognition_treaty',
      id: uuidFrom(random),
      reason,
      revoked_at: revokedAt,
      subject_sovereign_id: `sovereign-${String(Math.floor(random() * 100000)).padStart(5, '0')}`,
    };
  }
  const keyId = `sha256:${createHash('sha256').update(String(random())).digest('hex')}`;
  return {
    index,
    kind: 'public_key',
    id: keyId,
    reason: 'key_compromise',
    revoked_at: revokedAt,
    invalid_since: revokedAt,
    incident: `incident-${index}`,
  };
}

/**
 * The signed feeds of one issuer: `feeds` feeds of `entriesPerFeed` entries, hash-chained, with the
 * Merkle head recomputed with the product's merkle module and signed by the product's feed signer.
 * Yields each feed's canonical signed text. Deterministic for a given issuer and seed.
 */
export function* issuerFeeds(
  who: Issuer,
  feeds: number,
  entriesPerFeed: number,
  seed: number,
  extraIds?: () => string | undefined,
): Generator<string> {
  const random = prng(seed);
  let frontier: Frontier = emptyFrontier();
  let previous: string | null = null;
  let index = 0;
  for (let sequence = 1; sequence <= feeds; sequence++) {
    const texts: string[] = new Array(entriesPerFeed);
    const leaves: string[] = new Array(entriesPerFeed);
    for (let i = 0; i < entriesPerFeed; i++) {
      const text = canonicalJson(revocationEntry(random, index++, extraIds));
      texts[i] = text;
      leaves[i] = leafHash(Buffer.from(text, 'utf8'));
    }
    frontier = appendLeaves(frontier, leaves);
    const issuedMs = BENCH_NOW_MS - (feeds - sequence + 1) * 3600_000;
    const header: FeedHeader = {
      type: FEED_TYPE,
      version: FEED_VERSION,
      feed_id: uuidFrom(random),
      issuer_sovereign_id: who.id,
      sequence,
      previous_feed_hash: previous,
      issued_at: ts(issuedMs),
      next_update: ts(issuedMs + 86400_000),
      log: { size: frontier.size, root_hash: `sha256:${frontierRoot(frontier)}` },
      issued_by: who.key.keyId,
    };
    const text = signFeedText(header, texts, [who.key]);
    // Feeds of the version published here chain over the signed part (the feed without its signatures).
    previous = signedPartHash(text);
    yield text;
  }
}

/** Issues (through the treaty service) one treaty recognizing each issuer, as an operator would. */
export async function recognize(
  authority: BenchAuthority,
  issuers: Issuer[],
  roles = ['role:client', 'role:service:payments'],
): Promise<void> {
  const { issueTreaty } = await import('../../src/treaties/service.ts');
  for (const who of issuers) {
    issueTreaty(
      authority.deps,
      { subject_sovereign_id: who.id, subject_public_keys: [who.key.publicKey], scope: { allowed_roles: roles }, validity_hours: 24 * 300 },
      { label: authority.operator.label, keyId: authority.operator.keyId },
    );
  }
}

/** A membership attestation signed by a foreign issuer's key (what a federated node presents). */
export function foreignAttestation(who: Issuer, random: () => number, n: number): MembershipAttestation {
  const issuedMs = BENCH_NOW_MS - Math.floor(random() * 90) * 86400_000;
  return signObject(
    {
      attestation_id: uuidFrom(random),
      issuer_sovereign_id: who.id,
      subject_id: `member-${who.id}-${n}`,
      roles: random() < 0.5 ? ['role:client'] : ['role:client', 'role:service:payments'],
      status: 'active',
      issued_at: ts(issuedMs),
      valid_from: ts(issuedMs),
      expires_at: ts(issuedMs + 365 * 86400_000),
      issued_by: who.key.keyId,
      claims: { tier: n % 3 === 0 ? 'gold' : 'standard' },
    },
    [who.key],
  ) as MembershipAttestation;
}
