// A verification pull of one peer (`accord feed pull PEER --once`): fetch its declaration and feeds, check them against the keys pinned now, import nothing.
import { appendAudit, type RequestOrigin } from '../authority/audit.ts';
import { canonicalJson, parseJsonStrict } from '../authority/canonical-json.ts';
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { hashRef, verifySignedObject, type PublicKeyInfo } from '../authority/crypto.ts';
import { GENESIS_MESH_PROFILE, parseGmObject, verifyGmSignature } from '../interop/gm-model.ts';
import { recognizedIssuer } from '../treaties/recognition.ts';
import { fetchPeerDeclaration, recordPeerDeclaration, type DeclarationCheck } from './declaration-watch.ts';
import { gmSnapshotContradicts } from './gm-import.ts';
import { findImportedRevocation } from './imported-revocations.ts';
import { readImportedFeed, readIssuerHead } from './imported-store.ts';
import { MAX_LATEST_BYTES, MAX_PAGE_BYTES, PULL_PAGE_LIMIT, exchange, PullFailure, type PullOptions } from './pull.ts';
import { safeParseRevocationFeed, signedPartHash, type RevocationFeed } from './model.ts';
import { getPeerRow } from './peers.ts';
import { ensurePeerWatch, readPeerWatch, recordVerifiedPull } from './peer-watch-store.ts';

/**
 * Why a verification pull did not verify, besides a transport failure (`timeout`, `unreachable`,
 * `http_error`, `response_too_large`, `malformed_response`, `foreign_issuer`):
 */
export const TEST_PULL_REASONS = [
  /** This authority has no treaty in force for the peer: nothing to verify against. */
  'not_recognized',
  /** The declaration is not signed by a key this authority pins. */
  'declaration_not_pinned',
  /** An unannounced key change is still open (the declaration and the pin disagree). */
  'key_change_unresolved',
  /** A feed does not match the feed schema. */
  'invalid_revocation_feed',
  /** A feed is not signed by a key this authority pins (and the peer has not revoked). */
  'invalid_signature',
  /** A feed differs from the one imported at its sequence. */
  'equivocation',
  /** The feeds after the last imported one do not follow it (sequence or hash chain). */
  'chain_mismatch',
] as const;

export interface TestPullResult {
  sovereign_id: string;
  verified: boolean;
  reason?: string;
  message?: string;
  pinned_key_ids: string[];
  declaration: DeclarationCheck;
  feeds: {
    /** The peer's latest sequence (null: it has published nothing). */
    latest_sequence: number | null;
    imported_sequence: number;
    /** Feeds fetched and verified (none is imported). */
    checked: number;
    /** Pinned keys whose signatures verified on them. */
    signed_by: string[];
  };
  verified_pull_at: string | null;
}

class NotVerified extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

async function getJson(net: PullOptions, url: string, maxBytes: number, integersOnly: boolean): Promise<unknown | null> {
  const res = await exchange(net, url, {}, maxBytes);
  if (res.status === 404) return null;
  if (res.status !== 200) throw new PullFailure('http_error', `${url} answered HTTP ${res.status}`, { status: res.status });
  try {
    return parseJsonStrict(res.text, { integersOnly });
  } catch {
    throw new PullFailure('malformed_response', `response from ${url} is not strict JSON`);
  }
}

interface Verified {
  feed: RevocationFeed;
  feedHash: string;
  signedHash: string;
  signer: string;
}

function verifyFeed(raw: unknown, peer: string, keys: PublicKeyInfo[]): Verified {
  const parsed = safeParseRevocationFeed(raw);
  if (!parsed.success) throw new NotVerified('invalid_revocation_feed', 'a feed does not match the revocation feed schema');
  const feed = parsed.data;
  if (feed.issuer_sovereign_id !== peer) throw new PullFailure('foreign_issuer', 'the peer served a feed issued by another sovereign');
  const check = verifySignedObject(feed, keys);
  if (!check.valid) throw new NotVerified('invalid_signature', `feed ${feed.sequence} is not signed by a key this authority pins`);
  const body = canonicalJson(raw);
  return { feed, feedHash: hashRef(body), signedHash: signedPartHash(body), signer: check.keyId };
}

/** Checks the peer's native feeds: the latest must agree with what was imported, and the ones after it must chain from it. */
async function verifyNativeFeeds(deps: AppDeps, net: PullOptions, base: string, peer: string, keys: PublicKeyInfo[], out: TestPullResult) {
  const sqlite = deps.db.sqlite;
  const head = readIssuerHead(sqlite, peer);
  const last = head?.last_sequence ?? 0;
  const latestRaw = await getJson(net, `${base}/revocation-feeds/latest`, MAX_LATEST_BYTES, true);
  if (latestRaw === null) return;
  const latest = verifyFeed(latestRaw, peer, keys);
  out.feeds.latest_sequence = latest.feed.sequence;
  out.feeds.checked++;
  const signers = new Set([latest.signer]);
  if (latest.feed.sequence <= last) {
    const stored = readImportedFeed(sqlite, peer, latest.feed.sequence);
    if (stored && stored.feed_hash !== latest.feedHash && (stored.signed_hash ?? signedPartHash(stored.body)) !== latest.signedHash)
      throw new NotVerified('equivocation', `the peer's feed ${latest.feed.sequence} differs from the one imported`);
  } else {
    const raw = await getJson(net, `${base}/revocation-feeds?since=${last}&limit=${PULL_PAGE_LIMIT}`, MAX_PAGE_BYTES, true);
    const feeds = (raw as { feeds?: unknown } | null)?.feeds;
    if (!Array.isArray(feeds) || feeds.length === 0) throw new PullFailure('malformed_response', 'the feed list is not a feed page');
    let sequence = last;
    let feedHash = head?.last_feed_hash ?? null;
    let signedHash = head?.last_signed_hash ?? null;
    if (last > 0 && signedHash === null) {
      const stored = readImportedFeed(sqlite, peer, last);
      signedHash = stored ? (stored.signed_hash ?? signedPartHash(stored.body)) : null;
    }
    for (const item of feeds) {
      const v = verifyFeed(item, peer, keys);
      const expected = v.feed.version === 1 ? feedHash : signedHash;
      if (v.feed.sequence !== sequence + 1 || v.feed.previous_feed_hash !== expected)
        throw new NotVerified('chain_mismatch', `feed ${v.feed.sequence} does not follow feed ${sequence}`);
      sequence = v.feed.sequence;
      feedHash = v.feedHash;
      signedHash = v.signedHash;
      signers.add(v.signer);
      out.feeds.checked++;
    }
  }
  out.feeds.signed_by = [...signers].sort();
}

async function verifyGmSnapshot(deps: AppDeps, net: PullOptions, base: string, peer: string, keys: PublicKeyInfo[], out: TestPullResult) {
  const url = `${base}/sovereign-revocation-feed?issuer_sovereign_id=${encodeURIComponent(peer)}`;
  const raw = await getJson(net, url, MAX_LATEST_BYTES, false);
  if (raw === null) return;
  const parsed = parseGmObject('revocation_feed', raw);
  if (!parsed.ok) throw new NotVerified('invalid_revocation_feed', 'the snapshot does not match the genesis-mesh feed schema');
  if (parsed.value.issuer_sovereign_id !== peer)
    throw new PullFailure('foreign_issuer', 'the peer served a feed issued by another sovereign');
  const check = verifyGmSignature(raw as Record<string, unknown>, 'revocation_feed', keys);
  if (!check.valid) throw new NotVerified('invalid_signature', 'the snapshot is not signed by a key this authority pins');
  out.feeds.latest_sequence = parsed.value.sequence;
  out.feeds.checked = 1;
  out.feeds.signed_by = [check.keyId];
  if (gmSnapshotContradicts(deps, peer, parsed.value))
    throw new NotVerified('equivocation', `the peer's snapshot ${parsed.value.sequence} differs from the one imported`);
}

/**
 * Fetches the peer's declaration (recorded like a scheduled poll) and its feeds after the last
 * imported one, and verifies them with the keys this authority pins now, while the peer may be
 * paused: nothing is imported. A verified pull is what lets a contained or repinned peer be
 * resumed. Audited either way with the operator as actor.
 */
export async function testPullPeer(deps: AppDeps, id: string, origin: RequestOrigin, net: PullOptions = {}): Promise<TestPullResult> {
  const peer = getPeerRow(deps, id);
  const sqlite = deps.db.sqlite;
  const pinned = recognizedIssuer(sqlite, id, deps.clock()).keys;
  const pinnedIds = new Set(pinned.map((k) => k.keyId));
  const result: TestPullResult = {
    sovereign_id: id,
    verified: false,
    pinned_key_ids: [...pinnedIds].sort(),
    declaration: { sovereign_id: id, outcome: 'skipped', reason: 'not_recognized' },
    feeds: { latest_sequence: null, imported_sequence: readIssuerHead(sqlite, id)?.last_sequence ?? 0, checked: 0, signed_by: [] },
    verified_pull_at: null,
  };
  // The network first; then one transaction records the declaration, the outcome and its audit event
  // (with the request's nonce), so a request that cannot be recorded changes nothing.
  const fetched = await fetchPeerDeclaration(deps, id, net);
  const profile = fetched.skipped ? null : fetched.pin.profile;
  let problem: { reason: string; message: string } | null = null;
  try {
    if (pinned.length === 0) throw new NotVerified('not_recognized', 'this authority has no treaty in force for the peer');
    if (!fetched.skipped && 'failure' in fetched) throw fetched.failure;
    // A key the peer itself revoked in an earlier feed no longer signs for it.
    const live = pinned.filter((k) => findImportedRevocation(sqlite, id, 'public_key', k.keyId) === null);
    if (profile === GENESIS_MESH_PROFILE) await verifyGmSnapshot(deps, net, peer.base_url, id, live, result);
    else await verifyNativeFeeds(deps, net, peer.base_url, id, live, result);
  } catch (err) {
    if (err instanceof NotVerified || err instanceof PullFailure) problem = { reason: err.reason, message: err.message };
    else {
      deps.logger.error({ err, peer: id }, 'verification pull failed unexpectedly');
      problem = { reason: 'internal_error', message: 'unexpected error while verifying' };
    }
  }
  const at = toTimestamp(deps.clock());
  sqlite
    .transaction(() => {
      const declaration = recordPeerDeclaration(deps, id, fetched);
      result.declaration = declaration;
      // The declaration must agree with the pin: no open key change, and (accord/1) signed by a pinned key.
      if (problem === null && declaration.outcome === 'ok') {
        if ((declaration.unresolved_keys ?? []).length > 0)
          problem = {
            reason: 'key_change_unresolved',
            message: 'the declaration and the pinned keys disagree (an unannounced key change is open)',
          };
        else if (declaration.profile !== GENESIS_MESH_PROFILE && !(declaration.signed_by ?? []).some((k) => pinnedIds.has(k)))
          problem = { reason: 'declaration_not_pinned', message: 'the declaration is not signed by a key this authority pins' };
      }
      result.verified = problem === null;
      if (problem) {
        result.reason = problem.reason;
        result.message = problem.message;
      }
      ensurePeerWatch(sqlite, id);
      if (result.verified) recordVerifiedPull(sqlite, id, at);
      appendAudit(sqlite, deps.clock, {
        eventType: 'peer_test_pulled',
        ...origin,
        details: {
          peer: id,
          verified: result.verified,
          ...(result.reason ? { reason: result.reason } : {}),
          pinned_key_ids: result.pinned_key_ids,
          declaration_id: declaration.declaration_id ?? null,
          latest_sequence: result.feeds.latest_sequence,
          imported_sequence: result.feeds.imported_sequence,
          checked: result.feeds.checked,
        },
      });
      result.verified_pull_at = readPeerWatch(sqlite, id)?.verified_pull_at ?? null;
    })
    .immediate();
  return result;
}
