// Importers check, not trust: a new feed's head needs a consistency proof (RFC 9162) from the last imported head once its issuer serves proofs, and the issuer's signed checkpoint must agree with what was imported.
import { parseJsonStrict, type JsonValue } from '../authority/canonical-json.ts';
import { toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import type { Sqlite } from '../db/database.ts';
import { EMPTY_ROOT, frontierRoot } from '../log/merkle.ts';
import { recognizedIssuer } from '../treaties/recognition.ts';
import { parseCheckpoint } from './checkpoint.ts';
import { verifyConsistency } from './proofs.ts';
import type { TileProofs } from './tile-proofs.ts';
import { openNote, parseNote, verifierFor } from '../authority/signed-note.ts';
import {
  insertConsistencyFailure,
  issuerRequiresProofs,
  readImportedHead,
  readIssuerLogState,
  recordCheckpointVerified,
  readIssuerLastCheckpoint,
  recordProofVerified,
  type ConsistencyFailureRow,
} from './store.ts';

/** More hashes than a consistency proof of any safe-integer tree size can have (2 per level). */
export const MAX_PROOF_HASHES = 128;

const PROOF_HASH = /^sha256:[0-9a-f]{64}$/;

/**
 * A consistency proof as a request carries it (`consistency_proof` beside `feed`): an array of
 * `sha256:<hex>` strings. Null when it is not one.
 */
export function readConsistencyProof(value: unknown): string[] | null {
  if (!Array.isArray(value) || value.length > MAX_PROOF_HASHES) return null;
  return value.every((h) => typeof h === 'string' && PROOF_HASH.test(h)) ? (value as string[]) : null;
}

export interface ConsistencyRejection {
  code: 'consistency_proof_invalid';
  details: { problem: 'invalid' | 'missing'; from_size: number; to_size: number };
}

/**
 * Check 8b of an import, inside its transaction, after the entries were shown to extend the stored
 * frontier to the announced root: the issuer's own proof must agree. With a proof, it must verify
 * from the last imported head (size and root) to the feed's `log`; the first one that does makes
 * proofs required for this issuer from then on. Without one, the feed is accepted only while the
 * issuer has never proved anything (an issuer that does not serve proofs). A failure is kept as
 * evidence. A feed that adds no entries (or the first one) has nothing to prove.
 */
export function checkFeedConsistency(
  sqlite: Sqlite,
  input: {
    issuer: string;
    sequence: number;
    previous: { size: number; frontier: string };
    next: { size: number; root_hash: string };
    proof: readonly string[] | undefined;
    at: string;
  },
): ConsistencyRejection | null {
  const { previous, next } = input;
  if (previous.size === 0 || next.size <= previous.size) return null;
  const fromRoot = frontierRoot({ size: previous.size, hashes: JSON.parse(previous.frontier) as string[] });
  const toRoot = next.root_hash.replace(/^sha256:/, '');
  let problem: 'invalid' | 'missing' | null = null;
  if (input.proof !== undefined) {
    const hashes = input.proof.map((h) => h.replace(/^sha256:/, ''));
    if (verifyConsistency(previous.size, next.size, fromRoot, toRoot, hashes))
      recordProofVerified(sqlite, input.issuer, next.size, input.at);
    else problem = 'invalid';
  } else if (issuerRequiresProofs(sqlite, input.issuer)) {
    problem = 'missing';
  }
  if (problem === null) return null;
  insertConsistencyFailure(sqlite, {
    issuer: input.issuer,
    sequence: input.sequence,
    fromSize: previous.size,
    fromRoot: `sha256:${fromRoot}`,
    toSize: next.size,
    toRoot: next.root_hash,
    proof: input.proof ?? null,
    problem,
    at: input.at,
  });
  return { code: 'consistency_proof_invalid', details: { problem, from_size: previous.size, to_size: next.size } };
}

/**
 * For the pull job: the issuer's consistency proof from this authority's last imported head of its
 * log to a fetched feed's `log.size`, from `GET /log/proof/consistency` (`get` fetches a path of the
 * issuer's base URL; null for a 404). Undefined when there is nothing to prove or the issuer serves
 * no proof; a malformed answer comes back as a proof that will not verify.
 */
export async function fetchFeedConsistencyProof(
  sqlite: Sqlite,
  issuer: string,
  to: number | null,
  get: (path: string) => Promise<JsonValue | null>,
): Promise<string[] | undefined> {
  const from = readImportedHead(sqlite, issuer).log_size;
  if (typeof to !== 'number' || !Number.isSafeInteger(to) || from === 0 || to <= from) return undefined;
  const answer = await get(`/log/proof/consistency?from=${from}&to=${to}`);
  if (answer === null) return undefined;
  const body = typeof answer === 'object' && !Array.isArray(answer) ? answer : null;
  const proof = body && body.from === from && body.to === to ? readConsistencyProof(body.proof) : null;
  if (proof) return proof;
  // Something that is no proof at all, from an issuer that never proved its log, is a server without
  // one (some answer every path); once it has proved, it is a proof that fails.
  return issuerRequiresProofs(sqlite, issuer) ? ['malformed'] : undefined;
}

/**
 * For the pull job reading a static mirror (which serves files, not JSON proofs): the consistency
 * proof from the last imported head to a fetched feed's `log.size`, computed from the tiles of the
 * mirror's tree (`tiles`, a tree at least that large). Undefined when there is nothing to prove; a
 * feed beyond the tree the tiles belong to gets a proof that will not verify.
 */
export async function tileFeedConsistencyProof(
  sqlite: Sqlite,
  issuer: string,
  to: number | null,
  tiles: TileProofs | null,
): Promise<string[] | undefined> {
  const from = readImportedHead(sqlite, issuer).log_size;
  if (typeof to !== 'number' || !Number.isSafeInteger(to) || from === 0 || to <= from) return undefined;
  if (!tiles || to > tiles.treeSize) return ['malformed'];
  return (await tiles.consistency(from, to)).map((h) => `sha256:${h}`);
}

/** Where the checkpoint came from: the issuer itself, or a static mirror of its files (checked with proofs from its tiles). */
export type CheckpointSource = { mirror: false } | { mirror: true; url: string; tiles: (treeSize: number) => TileProofs };

export type CheckpointCheck =
  | { ok: true; checked: boolean; size?: number; stale?: true }
  | {
      ok: false;
      reason: 'checkpoint_signature' | 'checkpoint_rollback' | 'checkpoint_inconsistent' | 'checkpoint_missing' | 'malformed_response';
      message: string;
      details: Record<string, unknown>;
      /**
       * For an inconsistent checkpoint: the last checkpoint verified for the issuer, the new one and
       * the proof fetched between them, for split-view detection to judge (it may prove nothing).
       */
      conflict?: { notes: [string, string]; proof: string[] };
    };

/** An answer of the issuer's server (status and text); `fetchText` gets a path of its base URL. */
export type FetchText = (path: string) => Promise<{ status: number; text: string }>;

/**
 * For the pull job, after importing an Accord issuer's feeds: its latest signed checkpoint
 * (`GET /log/checkpoint`) must verify under a key this authority recognizes for it, must not be
 * smaller than the last one seen or than the log imported from its feeds, and must be consistent
 * with the imported head — the same root at the same size, or a consistency proof to a larger size.
 * A checkpoint that disagrees with the signed feeds is the issuer showing two histories; it is kept
 * as evidence. An issuer that serves no checkpoint (404, or an answer that is no checkpoint note)
 * passes until it has proved its log once. From a static mirror (`source.mirror`), a proof comes from
 * the mirror's tiles; an older checkpoint than seen before is a mirror that is behind (stale, no
 * evidence); and an unsigned one is the mirror's fault, not evidence against the issuer.
 */
export async function checkIssuerCheckpoint(
  deps: Pick<AppDeps, 'db' | 'clock'>,
  issuer: string,
  fetchText: FetchText,
  source: CheckpointSource = { mirror: false },
): Promise<CheckpointCheck> {
  const sqlite = deps.db.sqlite;
  const known = readIssuerLogState(sqlite, issuer);
  const answer = await fetchText('/log/checkpoint');
  if (answer.status === 404) {
    return known.required
      ? { ok: false, reason: 'checkpoint_missing', message: `${issuer} no longer serves its log checkpoint`, details: {} }
      : { ok: true, checked: false };
  }
  if (answer.status !== 200)
    return {
      ok: false,
      reason: 'malformed_response',
      message: `${issuer}'s log checkpoint answered HTTP ${answer.status}`,
      details: { status: answer.status },
    };
  const note = answer.text;
  const head = readImportedHead(sqlite, issuer);
  const headRoot = head.log_size === 0 ? EMPTY_ROOT : frontierRoot({ size: head.log_size, hashes: JSON.parse(head.frontier) as string[] });
  const at = toTimestamp(deps.clock());
  const parsed = parseNote(note);
  const claimed = 'text' in parsed ? parseCheckpoint(parsed.text) : null;
  // Not a checkpoint note at all, from an issuer that never proved its log: a server without one.
  if (!claimed && !known.required) return { ok: true, checked: false };
  const evidence = (problem: ConsistencyFailureRow['problem'], proof: readonly string[] | null = null) =>
    sqlite
      .transaction(() =>
        insertConsistencyFailure(sqlite, {
          issuer,
          sequence: head.last_sequence,
          fromSize: head.log_size,
          fromRoot: `sha256:${headRoot}`,
          toSize: claimed?.size ?? 0,
          toRoot: claimed?.rootHash ?? '',
          proof,
          checkpoint: note.slice(0, 64 * 1024),
          problem,
          at,
        }),
      )
      .immediate();

  // The note's key names, paired with every key recognized for the issuer: a vkey needs both.
  const names = 'signatures' in parsed ? [...new Set(parsed.signatures.map((sig) => sig.name))] : [];
  const keys = recognizedIssuer(sqlite, issuer, deps.clock()).keys;
  const opened = openNote(
    note,
    keys.flatMap((key) => names.map((name) => verifierFor(name, key.raw))),
  );
  const body = opened.ok ? parseCheckpoint(opened.text) : null;
  if (!body) {
    // What a mirror serves unsigned is the mirror's doing, not the issuer's: no evidence against the issuer.
    if (!source.mirror) evidence('checkpoint_signature');
    return {
      ok: false,
      reason: 'checkpoint_signature',
      message: `${issuer}'s log checkpoint${source.mirror ? ` from the mirror ${source.url}` : ''} is not signed by a key recognized for it`,
      details: { problem: opened.ok ? 'malformed_checkpoint' : opened.problem },
    };
  }
  if ((known.lastCheckpointSize !== null && body.size < known.lastCheckpointSize) || body.size < head.log_size) {
    // A mirror that has not caught up shows an older checkpoint the issuer signed: stale, nothing new.
    if (source.mirror) return { ok: true, checked: false, stale: true };
    evidence('checkpoint_rollback');
    return {
      ok: false,
      reason: 'checkpoint_rollback',
      message: `${issuer}'s log checkpoint (size ${body.size}) is behind what it already showed`,
      details: { checkpoint_size: body.size, imported_size: head.log_size, last_checkpoint_size: known.lastCheckpointSize },
    };
  }
  let proof: string[] = [];
  if (source.mirror && head.log_size > 0 && body.size > head.log_size) {
    proof = (await source.tiles(body.size).consistency(head.log_size, body.size)).map((h) => `sha256:${h}`);
  } else if (head.log_size > 0 && body.size > head.log_size) {
    const fetched = await fetchText(`/log/proof/consistency?from=${head.log_size}&to=${body.size}`);
    let value: unknown = null;
    try {
      value = fetched.status === 200 ? parseJsonStrict(fetched.text, { integersOnly: true }) : null;
    } catch {
      value = null;
    }
    const o = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
    proof = (o && o.from === head.log_size && o.to === body.size ? readConsistencyProof(o.proof) : null) ?? ['malformed'];
  }
  const consistent =
    head.log_size === 0 ||
    (body.size === head.log_size
      ? `sha256:${headRoot}` === body.rootHash
      : verifyConsistency(
          head.log_size,
          body.size,
          headRoot,
          body.rootHash.slice(7),
          proof.map((h) => h.replace(/^sha256:/, '')),
        ));
  if (!consistent) {
    evidence('checkpoint_inconsistent', proof);
    const previous = readIssuerLastCheckpoint(sqlite, issuer);
    return {
      ok: false,
      reason: 'checkpoint_inconsistent',
      message: `${issuer}'s log checkpoint is not consistent with the feeds imported from it`,
      details: { checkpoint_size: body.size, imported_size: head.log_size },
      ...(previous !== null
        ? { conflict: { notes: [previous, note] as [string, string], proof: proof.filter((h) => h !== 'malformed') } }
        : {}),
    };
  }
  sqlite.transaction(() => recordCheckpointVerified(sqlite, issuer, body.size, note, at)).immediate();
  return { ok: true, checked: true, size: body.size };
}
