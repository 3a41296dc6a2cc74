// Which keys this authority recognizes for a sovereign: the union of its own in-force treaties' subject keys.
import { toTimestamp } from '../authority/clock.ts';
import { parsePublicKey, type PublicKeyInfo } from '../authority/crypto.ts';
import type { Sqlite } from '../db/database.ts';
import type { RecognitionTreaty, SubjectProfile } from './model.ts';
import { selfSovereignId, statements } from './store.ts';

/** A stored treaty of this authority, parsed once (signed bodies never change). */
export interface RecognizedTreaty {
  treatyId: string;
  validFromMs: number;
  expiresAtMs: number;
  issuedAt: string;
  keys: PublicKeyInfo[];
  /** null: any role (never issued here, but kept exact). */
  allowedRoles: ReadonlySet<string> | null;
  acceptedStatuses: ReadonlySet<string>;
  status: string;
}

const parsedCache = new WeakMap<Sqlite, Map<string, RecognizedTreaty>>();
const PARSED_CACHE_LIMIT = 20_000;

function parsedTreaty(sqlite: Sqlite, row: { treaty_id: string; body: string }): RecognizedTreaty {
  let byId = parsedCache.get(sqlite);
  if (!byId) {
    byId = new Map();
    parsedCache.set(sqlite, byId);
  }
  let parsed = byId.get(row.treaty_id);
  if (!parsed) {
    const treaty = JSON.parse(row.body) as RecognitionTreaty;
    const keys: PublicKeyInfo[] = [];
    for (const text of treaty.subject_public_keys) {
      const key = parsePublicKey(text);
      if (key.ok && !keys.some((k) => k.keyId === key.key.keyId)) keys.push(key.key);
    }
    parsed = {
      treatyId: treaty.treaty_id,
      validFromMs: Date.parse(treaty.valid_from),
      expiresAtMs: Date.parse(treaty.expires_at),
      issuedAt: treaty.issued_at,
      keys,
      allowedRoles: treaty.scope.allowed_roles.length > 0 ? new Set(treaty.scope.allowed_roles) : null,
      acceptedStatuses: new Set(treaty.scope.accepted_statuses),
      status: treaty.status,
    };
    if (byId.size >= PARSED_CACHE_LIMIT) byId.clear();
    byId.set(row.treaty_id, parsed);
  }
  return parsed;
}

/**
 * This authority's unrevoked treaties whose subject is `sovereignId` and that have not expired at
 * `at` (including ones not yet valid). Callers filter by time again when they reuse the list.
 */
export function unrevokedTreatiesFor(sqlite: Sqlite, sovereignId: string, at: Date): Array<RecognizedTreaty & { profile: string }> {
  const self = selfSovereignId(sqlite);
  if (self === undefined) return [];
  const rows = statements(sqlite).unexpiredUnrevoked.all(sovereignId, self, toTimestamp(at)) as Array<{
    treaty_id: string;
    body: string;
    subject_profile: string;
  }>;
  return rows.map((row) => ({ ...parsedTreaty(sqlite, row), profile: row.subject_profile }));
}

/** Whether this authority ever issued a treaty for the sovereign (revoked and expired ones included). */
export function everRecognized(sqlite: Sqlite, sovereignId: string): boolean {
  const self = selfSovereignId(sqlite);
  return self !== undefined && statements(sqlite).anyTreatyFor.get(sovereignId, self) !== undefined;
}

export function inWindow(t: { validFromMs: number; expiresAtMs: number }, atMs: number): boolean {
  return t.validFromMs <= atMs && atMs < t.expiresAtMs;
}

export interface RecognizedIssuer {
  /** Union of subject keys, each key once. Empty when the sovereign is not recognized at `at`. */
  keys: PublicKeyInfo[];
  treatyIds: string[];
  /** Wire profile from the most recently issued of those treaties; null when none. */
  profile: SubjectProfile | null;
}

/**
 * Keys this authority recognizes for `sovereignId` at `at`: the union of `subject_public_keys` of its
 * own treaties (issuer = self) whose subject is that sovereign, not revoked, with
 * valid_from ≤ at < expires_at. This is how feed import and attestation verification find issuer keys.
 */
export function recognizedIssuer(sqlite: Sqlite, sovereignId: string, at: Date): RecognizedIssuer {
  const atMs = at.getTime();
  const inForce = unrevokedTreatiesFor(sqlite, sovereignId, at).filter((t) => inWindow(t, atMs));
  const keys = new Map<string, PublicKeyInfo>();
  for (const t of inForce) for (const k of t.keys) if (!keys.has(k.keyId)) keys.set(k.keyId, k);
  const latest = inForce.reduce<(typeof inForce)[number] | undefined>(
    (best, t) => (!best || t.issuedAt >= best.issuedAt ? t : best),
    undefined,
  );
  return {
    keys: [...keys.values()],
    treatyIds: inForce.map((t) => t.treatyId),
    profile: (latest?.profile as SubjectProfile | undefined) ?? null,
  };
}
