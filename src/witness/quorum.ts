// Importers require a quorum: per issuer, "k of these witnesses" must have cosigned a checkpoint that holds a feed's log head before the feed is imported.
import { z } from 'zod';
import { appendAudit, originOf, type RequestOrigin } from '../authority/audit.ts';
import { toTimestamp, type Clock } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { parseCosignatureLine, parseCosignerKey, verifyCosignature, type Cosigner } from '../authority/cosignature.ts';
import type { PublicKeyInfo } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';
import { MAX_NOTE_BYTES, openNote, parseNote, verifierFor } from '../authority/signed-note.ts';
import { MAX_WITNESSES } from '../authority/witness-config.ts';
import type { Sqlite } from '../db/database.ts';
import { EMPTY_ROOT } from '../log/merkle.ts';
import { parseCheckpoint } from '../transparency/checkpoint.ts';
import { verifyConsistency } from '../transparency/proofs.ts';
import { readIssuerLastCheckpoint } from '../transparency/store.ts';
import {
  clearQuorumAwaited,
  deleteQuorumPolicy,
  markQuorumAwaited,
  readQuorumPolicies,
  readQuorumPolicy,
  upsertQuorumPolicy,
  type QuorumPolicyRow,
} from './quorum-store.ts';

/** A witness of a policy: its key name and cosignature/v1 verifier key. */
export interface PolicyWitness {
  name: string;
  vkey: string;
  cosigner: Cosigner;
}

export interface QuorumPolicyView {
  issuer_sovereign_id: string;
  quorum: number;
  witnesses: Array<{ name: string; vkey: string }>;
  updated_at: string;
  /** Set while the pull job holds the issuer's feeds back for want of the quorum. */
  awaiting_quorum: { since: string; sequence: number | null } | null;
}

/** The body of `PUT /admin/witness/quorum/{issuer}`. */
export const quorumPolicyBody = z.strictObject({
  quorum: z.number().int().min(1).max(MAX_WITNESSES),
  witnesses: z
    .array(z.strictObject({ name: z.string().min(1).max(255), vkey: z.string().min(1).max(512) }))
    .min(1)
    .max(MAX_WITNESSES),
});
export type QuorumPolicyInput = z.infer<typeof quorumPolicyBody>;

function invalidPolicy(message: string, details: Record<string, unknown>): AppError {
  return new AppError('invalid_quorum_policy', message, details);
}

/**
 * The witnesses of a policy body: each vkey a cosignature/v1 (Ed25519, type 0x04) verifier key named
 * as the entry's name, names and public keys each listed once (one key under two names would let one
 * party count twice), and a quorum no larger than the list.
 */
export function policyWitnesses(input: QuorumPolicyInput): PolicyWitness[] {
  const witnesses: PolicyWitness[] = [];
  input.witnesses.forEach((entry, i) => {
    const field = `witnesses.${i}`;
    const cosigner = parseCosignerKey(entry.vkey);
    if (!cosigner)
      throw invalidPolicy('vkey is not a cosignature/v1 Ed25519 verifier key (<name>+<key id>+<base64 of 0x04 and the public key>)', {
        field: `${field}.vkey`,
      });
    if (cosigner.name !== entry.name)
      throw invalidPolicy(`vkey is for ${JSON.stringify(cosigner.name)}, not ${JSON.stringify(entry.name)}`, { field: `${field}.name` });
    if (witnesses.some((w) => w.name === entry.name)) throw invalidPolicy('a witness is listed twice', { field: `${field}.name` });
    if (witnesses.some((w) => w.cosigner.publicKey.equals(cosigner.publicKey)))
      throw invalidPolicy('two witnesses of the policy have the same key', { field: `${field}.vkey` });
    witnesses.push({ name: entry.name, vkey: entry.vkey, cosigner });
  });
  if (input.quorum > witnesses.length)
    throw invalidPolicy('quorum is larger than the number of witnesses listed', { field: 'quorum', witnesses: witnesses.length });
  return witnesses;
}

function storedWitnesses(row: QuorumPolicyRow): PolicyWitness[] {
  return (JSON.parse(row.witnesses) as Array<{ name: string; vkey: string }>).map((w) => ({ ...w, cosigner: parseCosignerKey(w.vkey)! }));
}

function policyView(row: QuorumPolicyRow): QuorumPolicyView {
  return {
    issuer_sovereign_id: row.issuer_sovereign_id,
    quorum: row.quorum,
    witnesses: JSON.parse(row.witnesses) as Array<{ name: string; vkey: string }>,
    updated_at: row.updated_at,
    awaiting_quorum: row.awaiting_since === null ? null : { since: row.awaiting_since, sequence: row.awaiting_sequence },
  };
}

type PolicyDeps = Pick<AppDeps, 'db' | 'clock' | 'metrics'>;

/** Sets the awaiting-quorum gauge of one issuer (or of every issuer with a policy) from the stored state. */
export function refreshQuorumGauges(deps: PolicyDeps, issuer?: string): void {
  const sqlite = deps.db.sqlite;
  const rows = issuer === undefined ? readQuorumPolicies(sqlite) : [readQuorumPolicy(sqlite, issuer)];
  if (issuer !== undefined && rows[0] === undefined) {
    deps.metrics.feedIssuerAwaitingQuorum.remove({ issuer });
    return;
  }
  for (const row of rows) {
    if (row) deps.metrics.feedIssuerAwaitingQuorum.set({ issuer: row.issuer_sovereign_id }, row.awaiting_since === null ? 0 : 1);
  }
}

export function listQuorumPolicies(deps: PolicyDeps): QuorumPolicyView[] {
  return readQuorumPolicies(deps.db.sqlite).map(policyView);
}

export function getQuorumPolicy(deps: PolicyDeps, issuer: string): QuorumPolicyView {
  const row = readQuorumPolicy(deps.db.sqlite, issuer);
  if (!row)
    throw new AppError('quorum_policy_not_found', 'no quorum policy for this issuer', { issuer_sovereign_id: issuer.slice(0, 128) });
  return policyView(row);
}

/** Sets (or replaces) the quorum policy for an issuer's feeds. Audited; a replaced policy keeps the held-back state. */
export function setQuorumPolicy(
  deps: PolicyDeps & Pick<AppDeps, 'identity'>,
  issuer: string,
  input: QuorumPolicyInput,
  request: RequestOrigin,
): QuorumPolicyView & { changed: boolean } {
  if (issuer === deps.identity.sovereignId)
    throw invalidPolicy("an authority does not import its own feeds; a quorum policy names another sovereign's log", {
      field: 'issuer_sovereign_id',
    });
  const witnesses = policyWitnesses(input);
  const stored = JSON.stringify(witnesses.map((w) => ({ name: w.name, vkey: w.vkey })));
  const sqlite = deps.db.sqlite;
  const changed = sqlite
    .transaction(() => {
      const before = readQuorumPolicy(sqlite, issuer);
      if (before && before.quorum === input.quorum && before.witnesses === stored) return false;
      upsertQuorumPolicy(sqlite, { issuer, quorum: input.quorum, witnesses: stored, at: toTimestamp(deps.clock()) });
      appendAudit(sqlite, deps.clock, {
        eventType: 'witness_quorum_policy_set',
        ...request,
        details: {
          issuer,
          quorum: input.quorum,
          witnesses: witnesses.map((w) => ({ name: w.name, vkey: w.vkey })),
          previous: before ? { quorum: before.quorum, witnesses: storedWitnesses(before).map((w) => w.name) } : null,
        },
      });
      return true;
    })
    .immediate();
  refreshQuorumGauges(deps, issuer);
  return { ...policyView(readQuorumPolicy(sqlite, issuer)!), changed };
}

/** Removes an issuer's quorum policy: its feeds import again without cosignatures (the next pull takes any held back). Audited. */
export function clearQuorumPolicy(
  deps: PolicyDeps,
  issuer: string,
  request: RequestOrigin,
): { issuer_sovereign_id: string; cleared: true } {
  const sqlite = deps.db.sqlite;
  sqlite
    .transaction(() => {
      const before = readQuorumPolicy(sqlite, issuer);
      if (!before || !deleteQuorumPolicy(sqlite, issuer))
        throw new AppError('quorum_policy_not_found', 'no quorum policy for this issuer', { issuer_sovereign_id: issuer.slice(0, 128) });
      appendAudit(sqlite, deps.clock, {
        eventType: 'witness_quorum_policy_cleared',
        ...request,
        details: {
          issuer,
          quorum: before.quorum,
          witnesses: storedWitnesses(before).map((w) => w.name),
          was_awaiting_quorum: before.awaiting_since !== null,
        },
      });
    })
    .immediate();
  refreshQuorumGauges(deps, issuer);
  return { issuer_sovereign_id: issuer, cleared: true };
}

// ---- Checking a feed against the policy.

/** What an import carries to satisfy a policy: the issuer's cosigned checkpoint, and the consistency proof from the feed's log size to its size. */
export interface WitnessedCheckpointInput {
  note: string;
  proof?: readonly string[] | undefined;
}

export type QuorumProblem =
  | 'no_cosigned_checkpoint'
  | 'checkpoint_not_verified'
  | 'origin_mismatch'
  | 'not_enough_cosignatures'
  | 'checkpoint_behind_feed'
  | 'feed_not_in_checkpoint';

export interface QuorumShortfall {
  ok: false;
  problem: QuorumProblem;
  quorum: number;
  /** Policy witnesses whose valid cosignature the checkpoint carries (each counted once). */
  cosigned_by: string[];
  witnessed_size: number | null;
  feed_size: number;
}

export interface QuorumMet {
  ok: true;
  quorum: number;
  cosigned_by: string[];
  witnessed_size: number;
  witnessed_root: string;
}

/** The policy witnesses (each once) with a valid cosignature/v1 line on the note text: right name and key id, timestamp from 1 to now plus the skew, verifying signature. */
export function cosignersOf(note: string, text: string, witnesses: readonly PolicyWitness[], latestTimestamp: number): string[] {
  const cut = note.lastIndexOf('\n\n');
  const lines = cut < 0 ? [] : note.slice(cut + 2, -1).split('\n');
  const found = new Set<string>();
  for (const line of lines) {
    const cosignature = parseCosignatureLine(line);
    if (!cosignature || cosignature.timestamp < 1 || cosignature.timestamp > latestTimestamp) continue;
    const witness = witnesses.find((w) => w.name === cosignature.name && w.cosigner.keyId === cosignature.keyId);
    if (witness && !found.has(witness.name) && verifyCosignature(cosignature, text, witness.cosigner)) found.add(witness.name);
  }
  return witnesses.filter((w) => found.has(w.name)).map((w) => w.name);
}

/**
 * Check 9b of an import: with a quorum policy for the issuer, the feed's log head must lie in a
 * checkpoint of the issuer (signed by a key recognized for it, of the origin last verified for it)
 * that carries valid cosignatures of at least `quorum` of the policy's witnesses: the same root at
 * the same size, or a consistency proof from the feed's size to the checkpoint's. Null when the
 * issuer has no policy. Reads only.
 */
export function checkFeedQuorum(
  sqlite: Sqlite,
  input: {
    issuer: string;
    keys: readonly PublicKeyInfo[];
    head: { size: number; rootHash: string };
    witnessed: WitnessedCheckpointInput | undefined;
    now: Date;
    skewSeconds: number;
  },
): QuorumShortfall | QuorumMet | null {
  const row = readQuorumPolicy(sqlite, input.issuer);
  if (!row) return null;
  const witnesses = storedWitnesses(row);
  const short = (problem: QuorumProblem, cosignedBy: string[] = [], witnessedSize: number | null = null): QuorumShortfall => ({
    ok: false,
    problem,
    quorum: row.quorum,
    cosigned_by: cosignedBy,
    witnessed_size: witnessedSize,
    feed_size: input.head.size,
  });
  const note = input.witnessed?.note;
  if (note === undefined || note.length > MAX_NOTE_BYTES) return short('no_cosigned_checkpoint');
  const parsed = parseNote(note);
  const names = 'signatures' in parsed ? [...new Set(parsed.signatures.map((s) => s.name))] : [];
  const opened = openNote(
    note,
    input.keys.flatMap((key) => names.map((name) => verifierFor(name, key.raw))),
  );
  const checkpoint = opened.ok ? parseCheckpoint(opened.text) : null;
  if (!opened.ok || !checkpoint) return short('checkpoint_not_verified');
  const known = readIssuerLastCheckpoint(sqlite, input.issuer);
  const knownParsed = known === null ? null : parseNote(known);
  const knownOrigin = knownParsed && 'text' in knownParsed ? (parseCheckpoint(knownParsed.text)?.origin ?? null) : null;
  if (knownOrigin !== null && knownOrigin !== checkpoint.origin) return short('origin_mismatch', [], checkpoint.size);
  const cosignedBy = cosignersOf(note, opened.text, witnesses, Math.floor(input.now.getTime() / 1000) + input.skewSeconds);
  if (cosignedBy.length < row.quorum) return short('not_enough_cosignatures', cosignedBy, checkpoint.size);
  const { size, rootHash } = input.head;
  if (size > checkpoint.size) return short('checkpoint_behind_feed', cosignedBy, checkpoint.size);
  const hex = (h: string) => h.replace(/^sha256:/, '');
  const holds =
    size === checkpoint.size
      ? rootHash === checkpoint.rootHash
      : size === 0
        ? hex(rootHash) === EMPTY_ROOT
        : verifyConsistency(size, checkpoint.size, hex(rootHash), hex(checkpoint.rootHash), (input.witnessed?.proof ?? []).map(hex));
  if (!holds) return short('feed_not_in_checkpoint', cosignedBy, checkpoint.size);
  return { ok: true, quorum: row.quorum, cosigned_by: cosignedBy, witnessed_size: checkpoint.size, witnessed_root: checkpoint.rootHash };
}

/**
 * The pull job held a feed back: the issuer enters the awaiting-quorum state, audited once on entering
 * (`feed_awaiting_quorum`); later pulls that still find no quorum record nothing. In its own transaction.
 */
export function enterAwaitingQuorum(
  sqlite: Sqlite,
  clock: Clock,
  origin: RequestOrigin,
  issuer: string,
  sequence: number,
  shortfall: QuorumShortfall,
): boolean {
  return sqlite
    .transaction(() => {
      if (!markQuorumAwaited(sqlite, issuer, toTimestamp(clock()), sequence)) return false;
      const { ok: _ok, ...details } = shortfall;
      appendAudit(sqlite, clock, { eventType: 'feed_awaiting_quorum', ...originOf(origin), details: { issuer, sequence, ...details } });
      return true;
    })
    .immediate();
}

/** A feed that met the quorum is being imported: the awaiting state ends, audited (`feed_quorum_met`). In the import's transaction. */
export function leaveAwaitingQuorum(
  sqlite: Sqlite,
  clock: Clock,
  origin: RequestOrigin,
  issuer: string,
  sequence: number,
  met: QuorumMet,
): void {
  const row = readQuorumPolicy(sqlite, issuer);
  if (!row?.awaiting_since || !clearQuorumAwaited(sqlite, issuer)) return;
  appendAudit(sqlite, clock, {
    eventType: 'feed_quorum_met',
    ...originOf(origin),
    details: {
      issuer,
      sequence,
      quorum: met.quorum,
      cosigned_by: met.cosigned_by,
      witnessed_size: met.witnessed_size,
      awaiting_since: row.awaiting_since,
    },
  });
}

/** Whether imports from the issuer need a quorum of witnesses (the pull job then fetches its cosigned checkpoint). */
export function hasQuorumPolicy(sqlite: Sqlite, issuer: string): boolean {
  return readQuorumPolicy(sqlite, issuer) !== undefined;
}
