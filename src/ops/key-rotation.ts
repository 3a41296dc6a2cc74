// Rotation and retirement of the authority's signing keys: overlap, declaration, public_key revocation.
import fs from 'node:fs';
import cron from 'node-cron';
import { appendAudit, originOf, SYSTEM_ACTOR, type RequestOrigin } from '../authority/audit.ts';
import { addSeconds, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { generateSeed, signingKeyFromSeed, type SigningKey } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';
import { insertSigningKey, markSigningKeyRetired, setSigningKeyNotAfter } from '../authority/identity-store.ts';
import { listSigningKeyRows, publishedKeysOf, rotatedSigningKeyFile, type SigningKeyRow } from '../authority/identity.ts';
import { createSigningKeyFile } from '../authority/key-files.ts';
import { appendRevocations, type RevocationEntry } from '../log/store.ts';

export type KeyDeps = Pick<AppDeps, 'db' | 'clock' | 'config' | 'identity' | 'changes' | 'logger'>;

export const ROTATION_REASONS = ['superseded', 'key_compromise'] as const;
export type RotationReason = (typeof ROTATION_REASONS)[number];

export const DEFAULT_OVERLAP_DAYS = 14;
export const MAX_OVERLAP_DAYS = 365;

export interface SigningKeyStatus extends SigningKeyRow {
  status: 'active' | 'retiring' | 'retired';
  /** The private key is loaded and signs new feeds. */
  signing: boolean;
}

export function signingKeyStatus(deps: KeyDeps): { sovereign_id: string; keys: SigningKeyStatus[] } {
  const loaded = new Set(deps.identity.signingKeys.map((k) => k.keyId));
  return {
    sovereign_id: deps.identity.sovereignId,
    keys: listSigningKeyRows(deps.db).map((row) => ({
      ...row,
      status: row.retired_at ? 'retired' : row.not_after ? 'retiring' : 'active',
      signing: !row.retired_at && loaded.has(row.key_id),
    })),
  };
}

/** Re-reads the published key list and drops retired keys from the signing set; tells the app. */
function refreshIdentity(deps: KeyDeps, added: AppDeps['identity']['signingKeys']): void {
  const rows = listSigningKeyRows(deps.db);
  const retired = new Set(rows.filter((r) => r.retired_at).map((r) => r.key_id));
  const known = new Set(added.map((k) => k.keyId));
  deps.identity.signingKeys = [...added, ...deps.identity.signingKeys.filter((k) => !retired.has(k.keyId) && !known.has(k.keyId))];
  deps.identity.publishedKeys = publishedKeysOf(rows);
  deps.changes.emit('signing-keys', { signing_key_ids: deps.identity.signingKeys.map((k) => k.keyId) });
}

/** Inside a transaction: marks keys retired and publishes each retirement as a public_key revocation. */
function retireInTransaction(
  deps: KeyDeps,
  keys: SigningKeyRow[],
  reason: RotationReason,
  at: string,
  origin: RequestOrigin,
): RevocationEntry[] {
  const sqlite = deps.db.sqlite;
  for (const key of keys) markSigningKeyRetired(sqlite, key.key_id, at);
  const entries = appendRevocations(
    sqlite,
    keys.map((k) => ({
      kind: 'public_key' as const,
      id: k.key_id,
      reason,
      revoked_at: at,
      subject_sovereign_id: deps.identity.sovereignId,
    })),
  );
  entries.forEach((entry, i) => {
    appendAudit(sqlite, deps.clock, {
      eventType: 'signing_key_retired',
      ...origin,
      details: { key_id: keys[i]!.key_id, reason, not_after: keys[i]!.not_after, log_index: entry.index },
    });
  });
  return entries;
}

export interface RotationResult {
  new_key: { key_id: string; public_key: string; file: string; created_at: string };
  /** Keys that keep signing until `not_after` (empty when the overlap is 0 days). */
  overlapping_keys: Array<{ key_id: string; not_after: string }>;
  retired: Array<{ key_id: string; log_index: number }>;
  overlap_days: number;
  reason: RotationReason;
}

/**
 * Creates a new signing key (file in `<data dir>/signing-keys/`, row in the database) and gives
 * every current key a `not_after` at the end of the overlap. During the overlap new objects are
 * issued by the new key and feeds carry a signature of every active key; at `not_after` the old key
 * is retired (start-up, the hourly job, or `accord keys retire`). An overlap of 0 days retires the
 * old keys at once, in the same transaction (a compromised key).
 */
export function rotateSigningKey(deps: KeyDeps, input: { overlapDays?: number; reason?: RotationReason } & RequestOrigin): RotationResult {
  const overlapDays = input.overlapDays ?? DEFAULT_OVERLAP_DAYS;
  if (!Number.isInteger(overlapDays) || overlapDays < 0 || overlapDays > MAX_OVERLAP_DAYS) {
    throw new AppError('invalid_overlap', `overlap_days must be a whole number from 0 to ${MAX_OVERLAP_DAYS}`);
  }
  const reason = input.reason ?? 'superseded';
  const now = deps.clock();
  const at = toTimestamp(now);
  const notAfter = toTimestamp(addSeconds(now, overlapDays * 86400));
  const seed = generateSeed();
  const created = createRotatedKeyFile(deps, seed, at);
  const sqlite = deps.db.sqlite;

  const rotate = sqlite.transaction((): RotationResult => {
    const previous = listSigningKeyRows(deps.db).filter((k) => !k.retired_at);
    insertSigningKey(sqlite, { keyId: created.key.keyId, publicKey: created.key.publicKey, createdAt: at });
    const overlapping = previous.map((k) => {
      const effective = k.not_after && k.not_after < notAfter ? k.not_after : notAfter;
      setSigningKeyNotAfter(sqlite, k.key_id, effective);
      return { ...k, not_after: effective };
    });
    appendAudit(sqlite, deps.clock, {
      eventType: 'signing_key_rotated',
      ...originOf(input),
      details: {
        new_key_id: created.key.keyId,
        new_public_key: created.key.publicKey,
        previous_key_ids: previous.map((k) => k.key_id),
        not_after: notAfter,
        overlap_days: overlapDays,
        reason,
      },
    });
    const due = overlapping.filter((k) => k.not_after <= at);
    const entries = due.length > 0 ? retireInTransaction(deps, due, reason, at, originOf(input)) : [];
    return {
      new_key: { key_id: created.key.keyId, public_key: created.key.publicKey, file: created.file, created_at: at },
      overlapping_keys: overlapping.filter((k) => k.not_after > at).map((k) => ({ key_id: k.key_id, not_after: k.not_after })),
      retired: entries.map((e) => ({ key_id: e.id, log_index: e.index })),
      overlap_days: overlapDays,
      reason,
    };
  });
  let result: RotationResult;
  try {
    result = rotate.immediate();
  } catch (err) {
    // A key the database never recorded must not linger on disk.
    fs.rmSync(created.file, { force: true });
    throw err;
  }

  refreshIdentity(deps, [created.key]);
  if (result.retired.length > 0) deps.changes.emit('revocation', { kind: 'public_key', ids: result.retired.map((r) => r.key_id) });
  deps.logger.info({ new_key_id: result.new_key.key_id, overlap_days: overlapDays }, 'signing key rotated');
  return result;
}

/** Writes the new key's private file (0600, never overwriting) under its key_id in the rotated keys directory. */
function createRotatedKeyFile(deps: KeyDeps, seed: Buffer, at: string): { key: SigningKey; file: string } {
  const file = rotatedSigningKeyFile(deps.config, signingKeyFromSeed(seed).keyId);
  return { key: createSigningKeyFile(file, at, seed), file };
}

export interface RetireResult {
  retired: Array<{ key_id: string; not_after: string | null; log_index: number }>;
  signing_key_ids: string[];
}

/**
 * Retires every key whose `not_after` has passed: marks it retired, appends a `public_key`
 * revocation entry (published in the next feed), and audits `signing_key_retired`, all in one
 * transaction. Refuses when no loaded key would remain to sign.
 */
export function retireDueSigningKeys(deps: KeyDeps, input: Partial<RequestOrigin> = {}): RetireResult {
  const now = toTimestamp(deps.clock());
  const sqlite = deps.db.sqlite;
  const entries = sqlite
    .transaction(() => {
      const rows = listSigningKeyRows(deps.db).filter((k) => !k.retired_at);
      const due = rows.filter((k) => k.not_after !== null && k.not_after <= now);
      if (due.length === 0) return [];
      const remaining = new Set(rows.filter((k) => !due.includes(k)).map((k) => k.key_id));
      if (!deps.identity.signingKeys.some((k) => remaining.has(k.keyId))) {
        throw new AppError(
          'no_successor_key',
          'retiring would leave no signing key loaded; make sure the new key file exists in the data directory and restart',
        );
      }
      const written = retireInTransaction(deps, due, 'superseded', now, { ...input, actor: input.actor ?? SYSTEM_ACTOR });
      return written.map((e, i) => ({ key_id: e.id, not_after: due[i]!.not_after, log_index: e.index }));
    })
    .immediate();
  if (entries.length > 0) {
    refreshIdentity(deps, []);
    deps.changes.emit('revocation', { kind: 'public_key', ids: entries.map((e) => e.key_id) });
    deps.logger.info({ retired: entries.map((e) => e.key_id) }, 'signing keys retired');
  }
  return { retired: entries, signing_key_ids: deps.identity.signingKeys.map((k) => k.keyId) };
}

/** Background starter: retire due keys at start-up and then hourly. */
export function startKeyRetirement(deps: AppDeps): void {
  const run = () => {
    try {
      retireDueSigningKeys(deps);
    } catch (err) {
      deps.logger.error({ err: (err as Error).message }, 'signing key retirement failed');
    }
  };
  run();
  const task = cron.createTask('7 * * * *', run);
  task.start();
  deps.background.push({ stop: () => void task.stop() });
}
