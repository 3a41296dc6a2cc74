// This authority's revocations as a Genesis Mesh snapshot feed, signed once per native feed publication.
import type { Statement } from 'better-sqlite3';
import { gmCanonicalJson } from '../authority/canonical-json.ts';
import type { AppDeps } from '../authority/context.ts';
import { hashRef, signBytes } from '../authority/crypto.ts';
import type { Sqlite } from '../db/database.ts';
import { latestPublishedFeed } from '../feeds/publish.ts';

/** A GM snapshot feed as served: the exact bytes and their hash (the ETag). */
export interface GmSnapshot {
  sequence: number;
  body: string;
  feedHash: string;
}

interface NativeFeedHead {
  feed_id: string;
  sequence: number;
  issued_at: string;
  log: { size: number };
}

const snapshots = new WeakMap<Sqlite, GmSnapshot>();
const revokedStatements = new WeakMap<Sqlite, Statement<unknown[]>>();

function revokedAttestations(sqlite: Sqlite, logSize: number): Array<{ id: string; reason: string }> {
  let stmt = revokedStatements.get(sqlite);
  if (!stmt) {
    stmt = sqlite.prepare("SELECT id, reason FROM revocation_log WHERE kind = 'membership_attestation' AND idx < ? ORDER BY idx");
    revokedStatements.set(sqlite, stmt);
  }
  return stmt.all(logSize) as Array<{ id: string; reason: string }>;
}

/**
 * Builds and signs the snapshot for the latest native feed. Its sequence, feed_id and issued_at are
 * the native feed's, and it lists every membership attestation revoked in the log up to that feed's
 * tree size, so a GM importer and a native importer see the same state at the same sequence.
 * Ed25519 signatures are deterministic: rebuilding after a restart yields the same bytes.
 */
function buildSnapshot(deps: AppDeps, native: NativeFeedHead): GmSnapshot {
  const reasons: Record<string, string> = {};
  for (const { id, reason } of revokedAttestations(deps.db.sqlite, native.log.size)) reasons[id] ??= reason;
  // Sorted by code point and unique, as GM signs them (ids are ASCII identifiers, so UTF-16 order is code point order).
  const ids = Object.keys(reasons).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const keys = deps.identity.signingKeys;
  const unsigned = {
    feed_id: native.feed_id,
    issuer_sovereign_id: deps.identity.sovereignId,
    sequence: native.sequence,
    issued_at: native.issued_at,
    revoked_attestation_ids: ids,
    revocation_reasons: Object.fromEntries(ids.map((id) => [id, reasons[id]!])),
    // GM's convention: issued_by and signature key_id are the signer's base64 public key.
    issued_by: keys[0]!.publicKey,
  };
  const payload = Buffer.from(gmCanonicalJson(unsigned, 'revocation_feed'), 'utf8');
  const signatures = keys.map((key) => ({ key_id: key.publicKey, sig: signBytes(key, payload).toString('base64') }));
  const body = JSON.stringify({ ...unsigned, signatures });
  return { sequence: native.sequence, body, feedHash: hashRef(body) };
}

/** The snapshot for the latest published native feed (null before the first publication); signed only when that feed is new. */
export function currentGmSnapshot(deps: AppDeps): GmSnapshot | null {
  const sqlite = deps.db.sqlite;
  const latest = latestPublishedFeed(sqlite);
  if (!latest) return null;
  const cached = snapshots.get(sqlite);
  if (cached && cached.sequence === latest.sequence) return cached;
  const snapshot = buildSnapshot(deps, JSON.parse(latest.body) as NativeFeedHead);
  snapshots.set(sqlite, snapshot);
  return snapshot;
}
