// Before a restore trusts a backup: its audit chain, and the signatures of everything it would serve, under keys this installation already trusts.
import { ChangeBus } from '../authority/changes.ts';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import pino from 'pino';
import { verifyStoredAuditChain } from '../authority/audit.ts';
import type { Clock } from '../authority/clock.ts';
import { defaultConfig } from '../authority/config.ts';
import type { AppDeps } from '../authority/context.ts';
import { hashRef, parsePublicKey, verifySignedObject, type PublicKeyInfo } from '../authority/crypto.ts';
import { createMetrics } from '../authority/metrics.ts';
import { OperatorKeyring } from '../authority/operator-keys.ts';
import type { Sqlite } from '../db/database.ts';
import { safeParseRevocationFeed, signedPartHash } from '../feeds/model.ts';
import { verifyAttestation, verifyTreaty } from '../verification/verification.ts';
import type { TrustAnchor } from './checkpoint.ts';

/** Problems listed one by one in the report (the rest are counted). */
const LISTED = 20;

export interface BackupVerification {
  ok: boolean;
  audit_chain: { ok: boolean; count: number; last_seq: number | null; breaks: number };
  checked: { signing_keys: number; treaties: number; attestations: number; published_feeds: number };
  /** One line per problem (the first 20); `problem_count` counts them all. */
  problems: string[];
  problem_count: number;
  /** key_ids the signatures were checked against, and where the trust in each came from. */
  trusted_keys: Array<{ key_id: string; from: TrustedKeySource }>;
}

export type TrustedKeySource = 'live_database' | 'key_file' | 'public_key' | 'key_id';

export interface TrustInput {
  /** `public_key` of each row of the live database's `authority_signing_keys` (the keys it serves now). */
  liveKeys: Array<{ key_id: string; public_key: string }>;
  /** Public keys of the signing key files of this installation. */
  keyFiles: string[];
  /** `--public-key`: keys, or key_ids, confirmed out of band. */
  anchors: TrustAnchor[];
}

function parsedKey(keyId: string | null, base64: string): PublicKeyInfo | null {
  const parsed = parsePublicKey(base64);
  return parsed.ok && (keyId === null || parsed.key.keyId === keyId) ? parsed.key : null;
}

/**
 * The keys a backup's signatures are checked against. Never the backup's own key table alone (a
 * forged backup would list its forger's key): the live database's keys, this installation's key
 * files, and keys the operator confirmed out of band. A pinned key_id takes the backup's public key
 * only when it hashes to that key_id.
 */
function trustedKeys(sqlite: Sqlite, trust: TrustInput): Map<string, { key: PublicKeyInfo; from: TrustedKeySource }> {
  const trusted = new Map<string, { key: PublicKeyInfo; from: TrustedKeySource }>();
  const add = (key: PublicKeyInfo | null, from: TrustedKeySource) => {
    if (key && !trusted.has(key.keyId)) trusted.set(key.keyId, { key, from });
  };
  for (const row of trust.liveKeys) add(parsedKey(row.key_id, row.public_key), 'live_database');
  for (const text of trust.keyFiles) add(parsedKey(null, text), 'key_file');
  for (const anchor of trust.anchors) {
    if (anchor.key) add(anchor.key, 'public_key');
    else {
      const row = sqlite.prepare('SELECT public_key FROM authority_signing_keys WHERE key_id = ?').get(anchor.keyId) as
        | { public_key: string }
        | undefined;
      add(row ? parsedKey(anchor.keyId, row.public_key) : null, 'key_id');
    }
  }
  return trusted;
}

/**
 * The dependencies treaty and attestation verification run on, over the backup's database: this
 * authority's identity carries only the trusted keys, so an object of ours verifies only under them.
 * Verification reads; nothing here writes to the database.
 */
function verificationDeps(sqlite: Sqlite, dbPath: string, clock: Clock, sovereignId: string, keys: PublicKeyInfo[]): AppDeps {
  return {
    db: { sqlite, orm: drizzle(sqlite), path: dbPath, close: () => {} },
    clock,
    config: defaultConfig({ dataDir: path.dirname(dbPath), dbPath, sovereignId, logLevel: 'silent' }),
    identity: { sovereignId, signingKeys: [], publishedKeys: keys.map((k) => ({ key_id: k.keyId, public_key: k.base64 })) },
    operatorKeys: OperatorKeyring.fromKeys([]),
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
    changes: new ChangeBus(),
    background: [],
  };
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return null;
  }
}

/** One line for a report: the error, and the first failing field of a validation error. */
function why(err: unknown): string {
  const e = err as { code?: string; message?: string; details?: { issues?: Array<{ path?: unknown; message?: unknown }> } };
  const issue = e.details?.issues?.[0];
  const field = issue ? `: ${String(issue.path ?? '')} ${String(issue.message ?? '')}`.trimEnd() : '';
  return `${e.code ?? e.message ?? String(err)}${field}`.split('\n')[0]!;
}

/**
 * Verifies a backup's content, read-only, with the verification each kind of object already has:
 * the stored audit chain (`verifyStoredAuditChain`: every hash, every link, no missing event),
 * treaties (`verifyTreaty`) and attestations (`verifyAttestation`) as this authority's own objects,
 * published feeds (the feed schema and `verifySignedObject`, as an import checks them, plus the
 * stored hashes the served bytes and the next feed's chain link are taken from), and the signing keys it would announce (each one trusted).
 */
export function verifyBackupContent(
  sqlite: Sqlite,
  input: { dbPath: string; sovereignId: string; clock: Clock; trust: TrustInput },
): BackupVerification {
  const problems: string[] = [];
  let problemCount = 0;
  const problem = (line: string) => {
    problemCount++;
    if (problems.length < LISTED) problems.push(line);
  };
  const self = input.sovereignId;

  const chain = verifyStoredAuditChain(sqlite);
  for (const b of chain.breaks) problem(`audit event ${b.seq === null ? '(no seq)' : `seq ${b.seq}`}: ${b.reason.replace(/_/g, ' ')}`);

  const trusted = trustedKeys(sqlite, input.trust);
  const keys = [...trusted.values()].map((t) => t.key);
  const checked = { signing_keys: 0, treaties: 0, attestations: 0, published_feeds: 0 };

  for (const row of sqlite.prepare('SELECT key_id, public_key FROM authority_signing_keys ORDER BY rowid').iterate() as Iterable<{
    key_id: string;
    public_key: string;
  }>) {
    checked.signing_keys++;
    const key = parsedKey(row.key_id, row.public_key);
    if (!key) problem(`signing key ${row.key_id}: its public key is not a valid key with that key_id`);
    else if (trusted.get(key.keyId)?.key.base64 !== key.base64) {
      problem(
        `signing key ${row.key_id} is not a key of this installation (not in the live database or a key file); if it is, confirm it out of band and pass --public-key`,
      );
    }
  }

  const deps = verificationDeps(sqlite, input.dbPath, input.clock, self, keys);
  for (const row of sqlite.prepare('SELECT treaty_id, body FROM treaties ORDER BY rowid').iterate() as Iterable<{
    treaty_id: string;
    body: string;
  }>) {
    checked.treaties++;
    try {
      const v = verifyTreaty(deps, { treaty: parseBody(row.body), expected_issuer: self });
      if (v.signed_by === null) problem(`treaty ${row.treaty_id}: ${v.reason.replace(/_/g, ' ')}`);
      else if (v.issuer_sovereign_id !== self || v.treaty_id !== row.treaty_id)
        problem(`treaty ${row.treaty_id}: the signed treaty is ${v.issuer_sovereign_id}'s ${v.treaty_id}`);
    } catch (err) {
      problem(`treaty ${row.treaty_id}: not a valid signed treaty (${why(err)})`);
    }
  }

  for (const row of sqlite.prepare('SELECT attestation_id, body FROM attestations ORDER BY rowid').iterate() as Iterable<{
    attestation_id: string;
    body: string;
  }>) {
    checked.attestations++;
    try {
      const v = verifyAttestation(deps, { attestation: parseBody(row.body) });
      if (v.issuer_sovereign_id !== self || v.attestation_id !== row.attestation_id)
        problem(`attestation ${row.attestation_id}: the signed attestation is ${v.issuer_sovereign_id}'s ${v.attestation_id}`);
      else if (v.signed_by === null) problem(`attestation ${row.attestation_id}: ${v.reason.replace(/_/g, ' ')}`);
    } catch (err) {
      problem(`attestation ${row.attestation_id}: not a valid signed attestation (${why(err)})`);
    }
  }

  const feeds = sqlite.prepare('SELECT sequence, feed_hash, signed_hash, body FROM published_feeds ORDER BY sequence');
  for (const row of feeds.iterate() as Iterable<{ sequence: number; feed_hash: string; signed_hash: string | null; body: string }>) {
    checked.published_feeds++;
    const parsed = safeParseRevocationFeed(parseBody(row.body));
    if (!parsed.success) {
      problem(
        `published feed ${row.sequence}: not a valid feed (${parsed.error.issues[0]?.path.join('.') || 'root'}: ${parsed.error.issues[0]?.message ?? 'invalid'})`,
      );
      continue;
    }
    const feed = parsed.data;
    const check = verifySignedObject(feed, keys);
    if (!check.valid) problem(`published feed ${row.sequence}: ${check.reason.replace(/_/g, ' ')}`);
    else if (feed.issuer_sovereign_id !== self || feed.sequence !== row.sequence)
      problem(`published feed ${row.sequence}: the signed feed is ${feed.issuer_sovereign_id}'s sequence ${feed.sequence}`);
    else if (hashRef(row.body) !== row.feed_hash) problem(`published feed ${row.sequence}: feed_hash is not the hash of the stored feed`);
    // The next feed chains to signed_hash (a row from before the column has none: it is computed from the body).
    else if (row.signed_hash !== null && row.signed_hash !== signedPartHash(row.body))
      problem(`published feed ${row.sequence}: signed_hash is not the hash of the feed's signed part`);
  }

  return {
    ok: problemCount === 0,
    audit_chain: { ok: chain.ok, count: chain.count, last_seq: chain.lastSeq, breaks: chain.breaks.length },
    checked,
    problems,
    problem_count: problemCount,
    trusted_keys: [...trusted.values()].map((t) => ({ key_id: t.key.keyId, from: t.from })),
  };
}
