// Importers check, not trust: a new feed's tree head must come with a consistency proof (RFC 9162) from the last imported head, once its issuer serves proofs.
import type { JsonValue } from '../authority/canonical-json.ts';
import type { Sqlite } from '../db/database.ts';
import { frontierRoot } from '../feeds/merkle.ts';
import { verifyConsistency } from './proofs.ts';
import { insertConsistencyFailure, issuerRequiresProofs, readImportedHead, recordProofVerified } from './store.ts';

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
  input: { issuer: string; sequence: number; previous: { size: number; frontier: string }; next: { size: number; root_hash: string }; proof: readonly string[] | undefined; at: string },
): ConsistencyRejection | null {
  const { previous, next } = input;
  if (previous.size === 0 || next.size <= previous.size) return null;
  const fromRoot = frontierRoot({ size: previous.size, hashes: JSON.parse(previous.frontier) as string[] });
  const toRoot = next.root_hash.replace(/^sha256:/, '');
  let problem: 'invalid' | 'missing' | null = null;
  if (input.proof !== undefined) {
    const hashes = input.proof.map((h) => h.replace(/^sha256:/, ''));
    if (verifyConsistency(previous.size, next.size, fromRoot, toRoot, hashes)) recordProofVerified(sqlite, input.issuer, next.size, input.at);
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
export async function fetchFeedConsistencyProof(sqlite: Sqlite, issuer: string, feed: JsonValue, get: (path: string) => Promise<JsonValue | null>): Promise<string[] | undefined> {
  const log = typeof feed === 'object' && feed !== null && !Array.isArray(feed) ? feed.log : undefined;
  const to = typeof log === 'object' && log !== null && !Array.isArray(log) ? log.size : undefined;
  const from = readImportedHead(sqlite, issuer).log_size;
  if (typeof to !== 'number' || !Number.isSafeInteger(to) || from === 0 || to <= from) return undefined;
  const answer = await get(`/log/proof/consistency?from=${from}&to=${to}`);
  if (answer === null) return undefined;
  const body = typeof answer === 'object' && !Array.isArray(answer) ? answer : null;
  const proof = body && body.from === from && body.to === to ? readConsistencyProof(body.proof) : null;
  return proof ?? ['malformed'];
}
