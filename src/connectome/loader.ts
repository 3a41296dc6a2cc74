// Reads the current trust state for the connectome: own and mirrored treaties, revocations, feeds, receipts.
import type { AppDeps } from '../authority/context.ts';
import type { Sqlite } from '../db/database.ts';
import { listImportedRevocations, listIssuerFeedStatuses } from '../feeds/imported-revocations.ts';
import { readMirroredTreaties } from '../feeds/peer-store.ts';
import { listPeerIds } from '../feeds/peers.ts';
import { readPublishedSpans } from '../feeds/published-store.ts';
import { receiptsByImporter } from '../feeds/receipts.ts';
import { readLogSummaries } from '../log/store.ts';
import { readTreatySummaries, type TreatySummaryRow } from '../treaties/store.ts';
import type { ConnectomeInput, RevocationRecord, TreatyRecord } from './model.ts';

/*
 * Read-only, and only through the owning domains' read functions (their stores): the connectome
 * never touches another domain's tables itself.
 */

/** This authority's treaties with the replacement of any superseded one. */
function ownTreaties(sqlite: Sqlite): TreatyRecord[] {
  const rows = readTreatySummaries(sqlite);
  return rows.map(toTreaty);
}

/** Treaties that recognized peers published, as mirrored by the pull job (issuer = the peer). */
function mirroredTreaties(sqlite: Sqlite): TreatyRecord[] {
  const rows = readMirroredTreaties(sqlite);
  return rows.map(toTreaty);
}

function toTreaty([
  treaty_id,
  issuer_sovereign_id,
  subject_sovereign_id,
  valid_from,
  expires_at,
  roles,
  replacedBy,
  body,
]: TreatySummaryRow): TreatyRecord {
  const record: TreatyRecord = {
    treaty_id,
    issuer_sovereign_id,
    subject_sovereign_id,
    valid_from,
    expires_at,
    roles: roles ? (JSON.parse(roles) as string[]) : [],
    body,
  };
  if (replacedBy) record.replaced_by = replacedBy;
  return record;
}

/** Every entry of this authority's revocation log, with the sequence of the published feed that carried it. */
function ownRevocations(sqlite: Sqlite, selfId: string): RevocationRecord[] {
  const feeds = readPublishedSpans(sqlite);
  const rows = readLogSummaries(sqlite);
  // Both lists are ordered by log index: walk them together.
  let f = 0;
  return rows.map(([idx, kind, id, reason, revoked_at, subject]) => {
    while (f < feeds.length && feeds[f]![1] + feeds[f]![2] <= idx) f++;
    const feed = feeds[f];
    const record: RevocationRecord = { issuer_sovereign_id: selfId, kind, id, reason, revoked_at };
    if (subject) record.subject_sovereign_id = subject;
    if (feed && feed[1] <= idx) record.feed_sequence = feed[0];
    return record;
  });
}

/** What reading the connectome needs: a database connection, who we are, the clock and one setting. */
export interface ConnectomeSourceDeps {
  db: Pick<AppDeps['db'], 'sqlite'>;
  identity: Pick<AppDeps['identity'], 'sovereignId'>;
  clock: AppDeps['clock'];
  config: Pick<AppDeps['config'], 'maxPathLength'>;
}

export function loadConnectomeInput(deps: ConnectomeSourceDeps): ConnectomeInput {
  const sqlite = deps.db.sqlite;
  const selfId = deps.identity.sovereignId;
  const now = deps.clock();
  // One read transaction: every table is read at the same instant.
  return sqlite.transaction(() => ({
    selfId,
    now,
    maxPathLength: deps.config.maxPathLength,
    treaties: [...ownTreaties(sqlite), ...mirroredTreaties(sqlite)],
    revocations: [
      ...ownRevocations(sqlite, selfId),
      ...listImportedRevocations(sqlite).map((r) => {
        const record: RevocationRecord = {
          issuer_sovereign_id: r.issuer_sovereign_id,
          kind: r.kind,
          id: r.id,
          reason: r.reason,
          revoked_at: r.revoked_at,
          feed_sequence: r.feed_sequence,
        };
        if (r.subject_sovereign_id) record.subject_sovereign_id = r.subject_sovereign_id;
        return record;
      }),
    ],
    feeds: listIssuerFeedStatuses(sqlite, now).map(({ issuer_sovereign_id, imported_sequence, last_import_at, next_update, paused }) => ({
      issuer_sovereign_id,
      imported_sequence,
      last_import_at,
      next_update,
      paused,
    })),
    acknowledgements: receiptsByImporter(sqlite).map((r) => ({
      issuer_sovereign_id: selfId,
      sovereign_id: r.importer_sovereign_id,
      sequence: r.sequence,
    })),
    knownSovereigns: listPeerIds(sqlite),
  }))();
}
