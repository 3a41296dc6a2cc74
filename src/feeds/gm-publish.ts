// This authority's revocations as a Genesis Mesh snapshot feed, signed once per native feed publication and served as stored bytes.
import { gmCanonicalJson, gmDocumentJson } from '../interop/gm-canonical.ts';
import type { AppDeps } from '../authority/context.ts';
import { hashRef, signBytes } from '../authority/crypto.ts';
import type { Sqlite } from '../db/database.ts';
import { readRevokedAttestations } from '../log/store.ts';
import { latestPublishedFeed, latestPublishedSequence } from './publish.ts';

/** A GM snapshot feed as served: the exact bytes, their hash and the entity tag derived from it. */
export interface GmSnapshot {
  sequence: number;
  body: string;
  bytes: Buffer;
  feedHash: string;
  etag: string;
}

interface NativeFeedHead {
  feed_id: string;
  sequence: number;
  issued_at: string;
  log: { size: number };
}

/** What building the snapshot needs: the database and the signing identity. */
type SnapshotDeps = Pick<AppDeps, 'db' | 'identity'>;

const snapshots = new WeakMap<Sqlite, GmSnapshot>();

function revokedAttestations(sqlite: Sqlite, logSize: number): Array<{ id: string; reason: string }> {
  return readRevokedAttestations(sqlite, logSize);
}

/**
 * Builds and signs the snapshot for the latest native feed. Its sequence, feed_id and issued_at are
 * the native feed's, and it lists every membership attestation revoked in the log up to that feed's
 * tree size, so a GM importer and a native importer see the same state at the same sequence.
 * `issued_by` and each signature's `key_id` are key labels, as in GM (here the key_ids). Ed25519
 * signatures are deterministic: rebuilding after a restart yields the same bytes.
 */
function buildSnapshot(deps: SnapshotDeps, native: NativeFeedHead): GmSnapshot {
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
    issued_by: keys[0]!.keyId,
  };
  const payload = Buffer.from(gmCanonicalJson(unsigned, 'revocation_feed'), 'utf8');
  const signatures = keys.map((key) => ({ key_id: key.keyId, sig: signBytes(key, payload).toString('base64') }));
  // Served in the canonical form itself (sorted keys, ASCII), as GM's own responses are.
  const body = gmDocumentJson({ ...unsigned, signatures }, 'revocation_feed');
  const feedHash = hashRef(body);
  return { sequence: native.sequence, body, bytes: Buffer.from(body, 'utf8'), feedHash, etag: `"${feedHash}"` };
}

/**
 * The snapshot for the latest published native feed (null before the first publication). The only
 * per-request work is one look at the highest published sequence (an index seek, no feed body): the
 * snapshot is built and signed once per publication, by the first request that needs it, and its
 * bytes are served from memory after that.
 */
export function currentGmSnapshot(deps: SnapshotDeps): GmSnapshot | null {
  const sqlite = deps.db.sqlite;
  const cached = snapshots.get(sqlite);
  const latestSequence = latestPublishedSequence(sqlite);
  if (cached && cached.sequence === latestSequence) return cached;
  const latest = latestPublishedFeed(sqlite);
  if (!latest) return null;
  const snapshot = buildSnapshot(deps, JSON.parse(latest.body) as NativeFeedHead);
  snapshots.set(sqlite, snapshot);
  return snapshot;
}
