// What a restore carries forward from the replaced database: everything this authority has already published or signed.
import type { Sqlite } from '../db/database.ts';
import { AppError } from '../authority/errors.ts';
import { rebuildLogState } from '../log/store.ts';

/**
 * One table whose newer rows survive a restore. Rows of the replaced database whose key is missing
 * from the restored one are copied; `refresh` columns take the replaced database's value where it
 * is set and the restored one's is not (a key retired after the backup stays retired).
 */
export interface CarryRule {
  table: string;
  key: string[];
  why: string;
  refresh?: string[];
  /** Rows present in both must agree on these columns, or the histories have forked. */
  mustAgree?: string[];
  /** Replace the restored row when the replaced one is newer by this column. */
  newerBy?: string;
}

/**
 * The rule set. Published feeds and the revocation log are the public history: a sequence or log
 * index, once served, must never be reused with different content. The revocations that produced
 * those log entries, and the treaties and attestations they revoke (this authority signed and
 * handed them out), come along so local state agrees with the published log. Signing keys keep
 * rotation and retirement. Admin nonces keep replay protection across the restore. Receipts keep
 * the blast radius of carried-forward feeds accurate. What this authority cosigned as a witness is a
 * statement made with its key, like a published feed; evidence of conflicts and split views is never
 * lost. Imported feeds, quorum policies,
 * peers, issuer state and which logs are witnessed are not carried: undoing them is what a restore is for.
 */
export const CARRY_RULES: CarryRule[] = [
  {
    table: 'authority_signing_keys',
    key: ['key_id'],
    refresh: ['not_after', 'retired_at'],
    why: 'keys rotated or retired after the backup stay so',
  },
  { table: 'published_feeds', key: ['sequence'], mustAgree: ['feed_hash'], why: 'published sequences are never reused' },
  { table: 'revocation_log', key: ['idx'], mustAgree: ['leaf_hash'], why: 'published log entries are never reused' },
  { table: 'log_checkpoints', key: ['sequence'], mustAgree: ['note'], why: 'every signed checkpoint stays published' },
  { table: 'treaties', key: ['treaty_id'], why: 'treaties this authority signed' },
  { table: 'treaty_revocations', key: ['treaty_id'], why: 'the revocations behind carried-forward log entries' },
  { table: 'attestations', key: ['attestation_id'], why: 'attestations this authority signed' },
  { table: 'attestation_revocations', key: ['attestation_id'], why: 'the revocations behind carried-forward log entries' },
  { table: 'feed_receipts', key: ['importer_sovereign_id'], newerBy: 'sequence', why: 'who acknowledged the carried-forward feeds' },
  { table: 'admin_nonces', key: ['key_id', 'nonce'], why: 'a signed admin request cannot be replayed after a restore' },
  {
    table: 'witness_checkpoints',
    key: ['origin'],
    newerBy: 'size',
    why: 'a witness never cosigns below what it already cosigned, not even after a restore',
  },
  { table: 'witness_conflicts', key: ['evidence_hash'], why: 'evidence of a log showing two histories is never lost' },
  { table: 'split_view_evidence', key: ['evidence_hash'], why: 'evidence of a split view (found here or sent by a peer) is never lost' },
  { table: 'log_cosignatures', key: ['sequence', 'witness', 'key_id'], why: 'carried-forward checkpoints keep their cosignatures' },
];

function columns(sqlite: Sqlite, schema: string, table: string): string[] {
  return (sqlite.prepare(`PRAGMA ${schema}.table_info("${table}")`).all() as Array<{ name: string }>).map((c) => c.name);
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

export interface ForkReport {
  table: string;
  key: Record<string, unknown>;
  column: string;
}

/**
 * Rows present in both databases that disagree on a must-agree column: the backup is from a
 * different history than the one this authority published (refuse rather than merge).
 */
export function findFork(sqlite: Sqlite, source: string): ForkReport | null {
  for (const rule of CARRY_RULES) {
    if (!rule.mustAgree) continue;
    if (columns(sqlite, 'main', rule.table).length === 0 || columns(sqlite, source, rule.table).length === 0) continue;
    const on = rule.key.map((k) => `m.${q(k)} = s.${q(k)}`).join(' AND ');
    for (const col of rule.mustAgree) {
      const row = sqlite
        .prepare(
          `SELECT ${rule.key.map((k) => `m.${q(k)} AS ${q(k)}`).join(', ')} FROM main.${q(rule.table)} m JOIN ${source}.${q(rule.table)} s ON ${on} WHERE m.${q(col)} IS NOT s.${q(col)} LIMIT 1`,
        )
        .get() as Record<string, unknown> | undefined;
      if (row) return { table: rule.table, key: row, column: col };
    }
  }
  return null;
}

/**
 * Copies forward from the attached `source` schema into main, per the rules, then recomputes the
 * revocation log's stored head (frontier) from the entries so the next append and publish continue
 * the carried-forward tree. Must run inside the caller's transaction. Returns rows per table.
 */
export function carryForward(sqlite: Sqlite, source: string): Record<string, number> {
  if (!sqlite.inTransaction) throw new Error('carryForward must run inside a transaction');
  const counts: Record<string, number> = {};
  for (const rule of CARRY_RULES) {
    const mainCols = columns(sqlite, 'main', rule.table);
    const sourceCols = new Set(columns(sqlite, source, rule.table));
    if (mainCols.length === 0 || sourceCols.size === 0) continue;
    const shared = mainCols.filter((c) => sourceCols.has(c));
    const list = shared.map(q).join(', ');
    const matches = rule.key.map((k) => `m.${q(k)} = s.${q(k)}`).join(' AND ');
    let changed = sqlite
      .prepare(
        `INSERT INTO main.${q(rule.table)} (${list}) SELECT ${shared.map((c) => `s.${q(c)}`).join(', ')} FROM ${source}.${q(rule.table)} s WHERE NOT EXISTS (SELECT 1 FROM main.${q(rule.table)} m WHERE ${matches})`,
      )
      .run().changes;
    if (rule.newerBy && shared.includes(rule.newerBy)) {
      const set = shared
        .filter((c) => !rule.key.includes(c))
        .map(
          (c) =>
            `${q(c)} = (SELECT s.${q(c)} FROM ${source}.${q(rule.table)} s WHERE ${matches.replace(/m\./g, `main.${q(rule.table)}.`)})`,
        );
      changed += sqlite
        .prepare(
          `UPDATE main.${q(rule.table)} SET ${set.join(', ')} WHERE EXISTS (SELECT 1 FROM ${source}.${q(rule.table)} s WHERE ${matches.replace(/m\./g, `main.${q(rule.table)}.`)} AND s.${q(rule.newerBy)} > main.${q(rule.table)}.${q(rule.newerBy)})`,
        )
        .run().changes;
    }
    for (const col of rule.refresh ?? []) {
      if (!shared.includes(col)) continue;
      const match = matches.replace(/m\./g, `main.${q(rule.table)}.`);
      changed += sqlite
        .prepare(
          `UPDATE main.${q(rule.table)} SET ${q(col)} = (SELECT s.${q(col)} FROM ${source}.${q(rule.table)} s WHERE ${match})
           WHERE ${q(col)} IS NULL AND EXISTS (SELECT 1 FROM ${source}.${q(rule.table)} s WHERE ${match} AND s.${q(col)} IS NOT NULL)`,
        )
        .run().changes;
    }
    counts[rule.table] = changed;
  }
  if (columns(sqlite, 'main', 'revocation_log').length > 0) {
    try {
      rebuildLogState(sqlite);
    } catch (err) {
      throw new AppError(
        'restore_refused',
        `refusing to restore: the carried-forward revocation log is inconsistent (${(err as Error).message})`,
      );
    }
  }
  return counts;
}
