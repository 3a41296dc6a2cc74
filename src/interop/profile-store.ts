// All SQL of wire profile dispatch: the profile the operator chose for a peer, and the profile of the newest treaty recognizing an issuer.
// It reads the peers and treaties tables directly because their stores live on higher floors (feeds/,
// treaties/) than this one.
//
// What a second backend must guarantee to implement this store: reads only, no lock; when called
// inside a write transaction (a feed import) they must see that transaction's own writes.
import { statementOnce, type Sqlite } from '../db/database.ts';

const peerProfileOf = statementOnce('SELECT profile FROM peers WHERE sovereign_id = ?');
const lastTreatyProfileOf = statementOnce(
  `SELECT subject_profile FROM treaties WHERE subject_sovereign_id = ? AND issuer_sovereign_id = (SELECT value FROM authority_meta WHERE key = 'sovereign_id')
   ORDER BY issued_at DESC, treaty_id DESC LIMIT 1`,
  { pluck: true },
);

/** The profile chosen when the issuer was registered as a peer; null when it is not a peer or none was chosen. */
export function peerProfile(sqlite: Sqlite, issuer: string): string | null {
  return (peerProfileOf(sqlite).get(issuer) as { profile: string | null } | undefined)?.profile ?? null;
}

/** The profile of the most recently issued of this authority's treaties for the issuer, revoked or expired too; null when there is none. */
export function lastTreatyProfile(sqlite: Sqlite, issuer: string): string | null {
  return (lastTreatyProfileOf(sqlite).get(issuer) as string | undefined) ?? null;
}
