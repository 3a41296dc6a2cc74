// A follower's side: checking one follower update against the primary's pinned keys and its own copy, then applying it in one transaction.
import { canonicalJson, parseJsonStrict } from '../authority/canonical-json.ts';
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps, PublishedKey } from '../authority/context.ts';
import { hashRef, parsePublicKey, verifySignedObject, type PublicKeyInfo } from '../authority/crypto.ts';
import { openNote, verifierFor } from '../authority/signed-note.ts';
import { deleteIssuerCopy, insertImportedRevocationCopies, maxImportedLogIndex, writeIssuerCopy } from '../feeds/imported-store.ts';
import { safeParseRevocationFeed, signedPartHash } from '../feeds/model.ts';
import { replacePeerProfiles } from '../feeds/peer-store.ts';
import { insertPublishedFeed, readLastPublished } from '../feeds/published-store.ts';
import { appendLogEntryTexts, readLogHead } from '../log/store.ts';
import { parseCheckpoint } from '../transparency/checkpoint.ts';
import { storeCheckpointCopy } from '../transparency/service.ts';
import { recognitionTreatySchema } from '../treaties/model.ts';
import { insertTreatyCopy, insertTreatyRevocationCopy, treatyExists } from '../treaties/store.ts';
import { followerUpdateSchema, MAX_UPDATE_BYTES, type FollowerUpdate } from './model.ts';
import { readFollowerState, recordApplied, type FollowerStateRow } from './store.ts';

export const REFUSAL_REASONS = [
  'too_large',
  'malformed_update',
  'wrong_sovereign',
  'invalid_signature',
  'sequence_gap',
  'chain_mismatch',
  'invalid_timestamps',
  'invalid_declaration',
  'invalid_treaty',
  'invalid_feed',
  'invalid_checkpoint',
  'invalid_issuer_state',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** An update the follower did not apply: nothing of it was written. */
export class FollowerRefusal extends Error {
  override name = 'FollowerRefusal';
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

/** The primary's signed declaration as a follower reads it. */
export interface DeclarationView {
  type: string;
  sovereign_id: string;
  public_keys: PublishedKey[];
  signatures: unknown;
}

/** Parses a declaration's text and checks it is signed by one of `keys`; null when it is not a valid declaration so signed. */
export function checkDeclaration(
  text: string,
  keys: readonly PublicKeyInfo[],
): { declaration: DeclarationView; keys: PublicKeyInfo[] } | null {
  let value: unknown;
  try {
    value = parseJsonStrict(text, { integersOnly: true });
  } catch {
    return null;
  }
  const d = value as Partial<DeclarationView>;
  if (typeof d !== 'object' || d === null || d.type !== 'network_authority_declaration' || typeof d.sovereign_id !== 'string') return null;
  if (!Array.isArray(d.public_keys) || d.public_keys.length === 0) return null;
  const declared: PublicKeyInfo[] = [];
  for (const k of d.public_keys) {
    const parsed = typeof k?.public_key === 'string' ? parsePublicKey(k.public_key) : null;
    if (!parsed?.ok || parsed.key.keyId !== k.key_id) return null;
    declared.push(parsed.key);
  }
  if (!verifySignedObject(d as Record<string, unknown>, [...keys]).valid) return null;
  return { declaration: d as DeclarationView, keys: declared };
}

/** The keys a follower pinned, parsed. */
export function pinnedKeysOf(state: Pick<FollowerStateRow, 'pinned_keys'>): PublicKeyInfo[] {
  return (JSON.parse(state.pinned_keys) as string[]).flatMap((text) => {
    const parsed = parsePublicKey(text);
    return parsed.ok ? [parsed.key] : [];
  });
}

function refuseUpdate(reason: RefusalReason, message: string): never {
  throw new FollowerRefusal(reason, message);
}

function parseText(text: string, reason: RefusalReason, what: string): unknown {
  try {
    return parseJsonStrict(text, { integersOnly: true });
  } catch {
    return refuseUpdate(reason, `${what} is not valid JSON`);
  }
}

export interface AppliedUpdate {
  sequence: number;
  treaties: number;
  feeds: number;
  entries: number;
  issuers: Array<{ issuer: string; sequence: number }>;
  peers: boolean;
  /** The primary's declared keys when the update changed its declaration. */
  declaredKeys: PublishedKey[] | null;
  nextUpdate: string;
}

/** Checks the update's signature and its place in the chain; returns it parsed. Reads only. */
function checkUpdate(deps: AppDeps, text: string, state: FollowerStateRow): FollowerUpdate {
  if (Buffer.byteLength(text, 'utf8') > MAX_UPDATE_BYTES) refuseUpdate('too_large', `the update is larger than ${MAX_UPDATE_BYTES} bytes`);
  const parsed = followerUpdateSchema.safeParse(parseText(text, 'malformed_update', 'the update'));
  if (!parsed.success)
    refuseUpdate('malformed_update', `the update does not match its schema (${parsed.error.issues[0]?.path.join('.') || 'root'})`);
  const update = parsed.data;
  if (canonicalJson(update) !== text) refuseUpdate('malformed_update', 'the update is not in canonical form (RFC 8785)');
  if (update.sovereign_id !== state.sovereign_id)
    refuseUpdate('wrong_sovereign', `the update is from "${update.sovereign_id}", not from "${state.sovereign_id}"`);
  if (!verifySignedObject(update, pinnedKeysOf(state)).valid)
    refuseUpdate('invalid_signature', "the update's signature does not verify under the pinned keys");
  if (update.sequence !== state.applied_sequence + 1)
    refuseUpdate('sequence_gap', `expected update ${state.applied_sequence + 1}, got ${update.sequence}`);
  if (update.previous_update_hash !== state.applied_hash)
    refuseUpdate('chain_mismatch', 'the update does not chain to the last one applied');
  const now = deps.clock().getTime();
  const issued = Date.parse(update.issued_at);
  if (
    issued > now + deps.config.clockSkewSeconds * 1000 ||
    (state.applied_issued_at !== null && issued < Date.parse(state.applied_issued_at)) ||
    Date.parse(update.next_update) <= issued
  )
    refuseUpdate('invalid_timestamps', 'issued_at is in the future, before the previous update, or not before next_update');
  return update;
}

/**
 * Applies one update (its exact bytes as served) if every check passes: signature by a pinned key,
 * next in sequence, chained to the last one applied, and each piece inside it consistent with the
 * copy (treaties and feeds signed by the primary, feeds chained and their Merkle roots recomputed,
 * checkpoints signed and matching). One transaction: a refusal writes nothing.
 */
export function applyFollowerUpdate(deps: AppDeps, text: string): AppliedUpdate {
  const sqlite = deps.db.sqlite;
  const state = readFollowerState(sqlite);
  if (!state) throw new Error('this database is not a follower');
  const update = checkUpdate(deps, text, state);
  let keys = pinnedKeysOf(state);
  let declaredKeys: PublishedKey[] | null = null;
  let pinned: string | null = null;
  if (update.declaration !== null) {
    const checked = checkDeclaration(update.declaration, keys);
    if (!checked || checked.declaration.sovereign_id !== state.sovereign_id)
      refuseUpdate('invalid_declaration', 'the declaration is malformed, for another sovereign, or not signed by a pinned key');
    // The declaration is the primary's word, signed by a key already pinned: its keys are pinned from now on (key rotation).
    declaredKeys = checked.declaration.public_keys.map((k) => ({ ...k }));
    keys = [...new Map([...keys, ...checked.keys].map((k) => [k.keyId, k])).values()];
    pinned = JSON.stringify(checked.keys.map((k) => k.base64));
  }

  const treaties = update.treaties.map(({ treaty: treatyText, subject_profile }) => {
    const parsed = recognitionTreatySchema.safeParse(parseText(treatyText, 'invalid_treaty', 'a treaty'));
    if (!parsed.success) return refuseUpdate('invalid_treaty', 'a treaty does not match the treaty schema');
    const treaty = parsed.data;
    if (
      treaty.issuer_sovereign_id !== state.sovereign_id ||
      canonicalJson(treaty) !== treatyText ||
      !verifySignedObject(treaty, keys).valid
    )
      refuseUpdate('invalid_treaty', `treaty ${treaty.treaty_id} is not the primary's, not canonical, or not signed by its keys`);
    return { treaty, text: treatyText, subject_profile };
  });

  const feeds = update.feeds.map((feedText) => {
    const parsed = safeParseRevocationFeed(parseText(feedText, 'invalid_feed', 'a feed'));
    if (!parsed.success) return refuseUpdate('invalid_feed', 'a feed does not match the feed schema');
    const feed = parsed.data;
    if (feed.issuer_sovereign_id !== state.sovereign_id || !verifySignedObject(feed as unknown as Record<string, unknown>, keys).valid)
      refuseUpdate('invalid_feed', `feed ${feed.sequence} is not the primary's or not signed by its keys`);
    return { feed, text: feedText, entryTexts: feed.entries.map((e) => canonicalJson(e)) };
  });
  const replacedBy = new Map(update.replacements.map((r) => [r.treaty_id, r.replaced_by]));

  const applied = sqlite
    .transaction((): AppliedUpdate => {
      for (const t of treaties) {
        const treaty = t.treaty;
        insertTreatyCopy(sqlite, {
          treaty_id: treaty.treaty_id,
          issuer_sovereign_id: treaty.issuer_sovereign_id,
          subject_sovereign_id: treaty.subject_sovereign_id,
          issued_at: treaty.issued_at,
          valid_from: treaty.valid_from,
          expires_at: treaty.expires_at,
          issued_by: treaty.issued_by,
          subject_profile: t.subject_profile,
          body: t.text,
        });
      }

      let entries = 0;
      const feedSizes = new Map<number, { size: number; root: string }>();
      for (const { feed, text: feedText, entryTexts } of feeds) {
        const previous = readLastPublished(sqlite);
        if (feed.sequence !== (previous?.sequence ?? 0) + 1)
          refuseUpdate('invalid_feed', `feed ${feed.sequence} does not follow feed ${previous?.sequence ?? 0}`);
        const expected = previous
          ? feed.version === 1
            ? previous.feed_hash
            : (previous.signed_hash ?? signedPartHash(previous.body))
          : null;
        if (feed.previous_feed_hash !== expected)
          refuseUpdate('invalid_feed', `feed ${feed.sequence} does not chain to feed ${previous?.sequence}`);
        const before = readLogHead(sqlite);
        if (entryTexts.length > 0 && feed.entries[0]!.index !== before.size)
          refuseUpdate('invalid_feed', `feed ${feed.sequence} does not continue the log at ${before.size}`);
        let head: ReturnType<typeof readLogHead>;
        try {
          head = entryTexts.length > 0 ? appendLogEntryTexts(sqlite, entryTexts) : before;
        } catch {
          return refuseUpdate('invalid_feed', `feed ${feed.sequence} has entries out of order`);
        }
        if (head.size !== feed.log.size || head.rootHash !== feed.log.root_hash)
          refuseUpdate('invalid_feed', `feed ${feed.sequence}'s log head does not match its entries`);
        for (const entry of feed.entries) {
          if (entry.kind !== 'recognition_treaty') continue;
          if (!treatyExists(sqlite, entry.id))
            refuseUpdate('invalid_feed', `feed ${feed.sequence} revokes treaty ${entry.id}, which was never sent`);
          insertTreatyRevocationCopy(sqlite, {
            treaty_id: entry.id,
            reason: entry.reason,
            revoked_at: entry.revoked_at,
            incident: entry.incident ?? null,
            replaced_by: replacedBy.get(entry.id) ?? null,
            log_index: entry.index,
          });
        }
        insertPublishedFeed(sqlite, {
          sequence: feed.sequence,
          feed_id: feed.feed_id,
          feed_hash: hashRef(feedText),
          signed_hash: signedPartHash(feedText),
          issued_at: feed.issued_at,
          next_update: feed.next_update,
          first_index: before.size,
          entry_count: entryTexts.length,
          log_size: head.size,
          root_hash: head.rootHash,
          body: feedText,
          frontier: JSON.stringify(head.frontier.hashes),
        });
        feedSizes.set(feed.sequence, { size: head.size, root: head.rootHash });
        entries += entryTexts.length;
      }

      for (const cp of update.checkpoints) {
        const feed = feedSizes.get(cp.sequence);
        if (!feed) refuseUpdate('invalid_checkpoint', `checkpoint ${cp.sequence} is for a feed this update does not carry`);
        const origin = cp.note.slice(0, Math.max(0, cp.note.indexOf('\n')));
        const opened = openNote(
          cp.note,
          keys.map((k) => verifierFor(origin, k.raw)),
        );
        const body = opened.ok ? parseCheckpoint(opened.text) : null;
        if (
          !body ||
          body.size !== feed.size ||
          body.rootHash !== feed.root ||
          (body.auditHead?.seq ?? null) !== cp.audit_seq ||
          (body.auditHead?.hash ?? null) !== cp.audit_hash
        )
          refuseUpdate('invalid_checkpoint', `checkpoint ${cp.sequence} is not signed by the primary's keys or does not match its feed`);
        storeCheckpointCopy(
          sqlite,
          {
            sequence: cp.sequence,
            tree_size: body.size,
            root_hash: body.rootHash,
            audit_seq: cp.audit_seq,
            audit_hash: cp.audit_hash,
            note: cp.note,
            signed_at: cp.signed_at,
          },
          origin,
        );
      }

      const issuers: Array<{ issuer: string; sequence: number }> = [];
      for (const delta of update.issuers) {
        const id = delta.issuer_sovereign_id;
        if (delta.reset) deleteIssuerCopy(sqlite, id);
        if (delta.state === null) {
          if (!delta.reset || delta.revocations.length > 0)
            refuseUpdate('invalid_issuer_state', `issuer ${id} has revocations but no state`);
        } else {
          writeIssuerCopy(sqlite, { issuer_sovereign_id: id, ...delta.state, paused: delta.state.paused ? 1 : 0 });
        }
        let last = maxImportedLogIndex(sqlite, id);
        for (const r of delta.revocations) {
          if (r.log_index <= last)
            refuseUpdate('invalid_issuer_state', `issuer ${id}'s revocations do not continue its log at ${last + 1}`);
          last = r.log_index;
        }
        insertImportedRevocationCopies(
          sqlite,
          delta.revocations.map((r) => ({ issuer_sovereign_id: id, ...r })),
        );
        issuers.push({ issuer: id, sequence: delta.state?.last_sequence ?? 0 });
      }

      const at = toTimestamp(deps.clock());
      if (update.peers !== null) replacePeerProfiles(sqlite, update.peers, at);
      recordApplied(sqlite, {
        applied_sequence: update.sequence,
        applied_hash: hashRef(text),
        applied_issued_at: update.issued_at,
        next_update: update.next_update,
        applied_at: at,
        declaration: update.declaration,
        pinned_keys: pinned,
      });
      return {
        sequence: update.sequence,
        treaties: treaties.length,
        feeds: feeds.length,
        entries,
        issuers,
        peers: update.peers !== null,
        declaredKeys,
        nextUpdate: update.next_update,
      };
    })
    .immediate();

  // Caches that read these tables (verification's per-issuer state, treaty metrics) drop what changed.
  if (declaredKeys) deps.identity.publishedKeys.splice(0, deps.identity.publishedKeys.length, ...declaredKeys);
  if (applied.treaties > 0 || applied.entries > 0) deps.changes.emit('treaties');
  if (applied.entries > 0) deps.changes.emit('revocation');
  for (const issuer of applied.issuers) deps.changes.emit('feed-imported', issuer);
  if (applied.peers) deps.changes.emit('peers');
  if (applied.feeds > 0) deps.metrics.feedPublishedSequence.set(readLastPublished(sqlite)?.sequence ?? 0);
  return applied;
}
