// `accord audit-export | audit-verify | backup | restore | keys`: what the on-call operator and the auditor run.
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../authority/config.ts';
import { parsePublicKey, verifySignedObject, type PublicKeyInfo, type SigningKey } from '../authority/crypto.ts';
import { activeSigningKeys, availableSigningKeys, listSigningKeyRows } from '../authority/identity.ts';
import { readSigningKeyFile } from '../authority/key-files.ts';
import { exportAudit, openAccordReadOnly } from '../ops/audit-export.ts';
import type { ExportFormat } from '../ops/export-format.ts';
import { verifyAuditExport } from '../ops/audit-verify.ts';
import { isEvidenceBundle, verifyEvidenceBundle } from '../ops/peer-evidence.ts';
import { backupDatabase, type BackupProgress } from '../ops/backup.ts';
import { buildCheckpoint, parseTrustAnchor, writeCheckpoint, type TrustAnchor } from '../ops/checkpoint.ts';
import { DEFAULT_OVERLAP_DAYS, ROTATION_REASONS } from '../ops/key-rotation.ts';
import { restoreDatabase } from '../ops/restore.ts';
import { adminCall } from './admin-client.ts';
import { action, CliError, printJson } from './output.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

function wholeNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(value)) throw new CliError(`${name} must be a whole number`);
  return Number(value);
}

/** `--db`, else the configured database (ACCORD_DB_PATH / ACCORD_DATA_DIR). */
function dbPathFrom(db: string | undefined): string {
  return path.resolve(db ?? loadConfig().dbPath);
}

function configOrNull(): Config | null {
  try {
    return loadConfig();
  } catch {
    return null;
  }
}

/** The key that signs an export checkpoint: `--signing-key`, else the newest active key on disk. */
function checkpointKey(dbPath: string, signingKeyFile: string | undefined): SigningKey {
  const { db, sovereignId } = openAccordReadOnly(dbPath);
  try {
    const rows = listSigningKeyRows(db);
    if (signingKeyFile) {
      const key = readSigningKeyFile(path.resolve(signingKeyFile));
      const row = rows.find((r) => r.key_id === key.keyId);
      if (!row || row.retired_at) throw new CliError(`signing key ${key.keyId} is not an active key of sovereign "${sovereignId}"`);
      return key;
    }
    const config = configOrNull();
    if (!config)
      throw new CliError(
        '--signed needs the authority signing key: set ACCORD_SIGNING_KEY_FILE / ACCORD_DATA_DIR or pass --signing-key FILE',
      );
    const [key] = activeSigningKeys(rows, availableSigningKeys(config));
    if (!key)
      throw new CliError(`no active signing key of sovereign "${sovereignId}" found (${config.signingKeyFile}); pass --signing-key FILE`);
    return key;
  } finally {
    db.close();
  }
}

/** Trust anchors from the authority's well-known declaration, fetched over the operator-chosen URL. */
async function wellKnownAnchors(url: string): Promise<TrustAnchor[]> {
  const target = `${url.replace(/\/+$/, '')}/.well-known/network-authority`;
  let body: unknown;
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(15_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
  } catch (err) {
    throw new CliError(`cannot fetch ${target}: ${(err as Error).message}`);
  }
  const decl = body as { sovereign_id?: unknown; public_keys?: unknown; signatures?: unknown };
  if (typeof decl?.sovereign_id !== 'string' || !Array.isArray(decl.public_keys))
    throw new CliError(`${target} is not a network authority declaration`);
  const keys: PublicKeyInfo[] = [];
  for (const entry of decl.public_keys as Array<{ public_key?: unknown }>) {
    const parsed = typeof entry?.public_key === 'string' ? parsePublicKey(entry.public_key) : null;
    if (parsed?.ok) keys.push(parsed.key);
  }
  // The declaration is signed by its own keys: this proves it arrived intact, not who owns the keys.
  // The trust comes from the channel the operator chose (HTTPS to the authority's known address).
  if (keys.length === 0 || !verifySignedObject(decl as { signatures?: unknown }, keys).valid)
    throw new CliError(`${target}: the declaration's signature does not verify`);
  return keys.map((key) => ({ source: 'well_known' as const, keyId: key.keyId, key, sovereignId: decl.sovereign_id as string }));
}

/** Progress on stderr at each 10 % for large databases (or always with --progress), and a last line at 100 %. */
function progressPrinter(always: boolean): { onProgress: (p: BackupProgress) => void; finish: () => void } {
  let lastDecile = -1;
  let total = 0;
  const print = (done: number) => {
    const pct = total === 0 ? 100 : Math.floor((done * 100) / total);
    const decile = Math.floor(pct / 10);
    if (decile === lastDecile) return;
    lastDecile = decile;
    process.stderr.write(`accord: backup ${pct}% (${done}/${total} pages)\n`);
  };
  return {
    onProgress: ({ totalPages, remainingPages }) => {
      total = totalPages;
      if (always || totalPages >= 25_000) print(totalPages - remainingPages);
    },
    finish: () => {
      if (always || total >= 25_000) print(total);
    },
  };
}

export function registerOpsCommands(program: Command): void {
  program
    .command('audit-export')
    .description('export audit events (one JCS event per line) from a read-only connection; safe while the server runs')
    .option('--db <path>', 'database file (default: the configured database)')
    .requiredOption('--output <file>', 'file to write (refuses to overwrite without --force)')
    .option('--event-type <type>', 'only this event type (repeatable)', collect, [])
    .option('--since <ts>', 'only events at or after this time (RFC 3339 UTC)')
    .option('--until <ts>', 'only events before this time (RFC 3339 UTC)')
    .option('--actor-key <key>', 'only events by this operator key: its key_id (sha256:…) or its label')
    .option('--after-seq <n>', 'only events with seq greater than N')
    .option('--format <format>', 'jsonl (one event per line) or json', 'jsonl')
    .option('--signed', 'also write FILE.checkpoint.json signed by the authority signing key')
    .option('--signing-key <file>', 'authority signing key file for --signed (default: the configured key)')
    .option('--force', 'overwrite an existing output file')
    .action(
      action(
        async (opts: {
          db?: string;
          output: string;
          eventType: string[];
          since?: string;
          until?: string;
          actorKey?: string;
          afterSeq?: string;
          format: string;
          signed?: boolean;
          signingKey?: string;
          force?: boolean;
        }) => {
          if (opts.format !== 'jsonl' && opts.format !== 'json') throw new CliError('--format must be jsonl or json');
          const dbPath = dbPathFrom(opts.db);
          // Resolve the key before exporting, so a missing key fails fast.
          const key = opts.signed ? checkpointKey(dbPath, opts.signingKey) : null;
          const summary = await exportAudit({
            dbPath,
            output: opts.output,
            format: opts.format as ExportFormat,
            force: opts.force,
            filters: {
              eventTypes: opts.eventType,
              since: opts.since,
              until: opts.until,
              actorKey: opts.actorKey,
              afterSeq: wholeNumber('--after-seq', opts.afterSeq),
            },
          });
          const checkpoint = key ? writeCheckpoint(summary.output, buildCheckpoint(summary, key, new Date()), opts.force) : null;
          printJson({ ...summary, checkpoint, signed_by: key?.keyId ?? null });
        },
      ),
    );

  program
    .command('audit-verify')
    .description(
      "verify an audit export: every hash, every chain link, gaps against the export's filters, and the signed checkpoint (exit 0 only if all hold)",
    )
    .argument('<file>', 'the export (jsonl or json), or a peer evidence bundle')
    .option(
      '--checkpoint <file>',
      "the signed checkpoint (FILE.checkpoint.json), or an evidence bundle's manifest (default FILE.manifest.json)",
    )
    .option('--public-key <key>', 'a trusted authority key, confirmed out of band: base64 public key or key_id (repeatable)', collect, [])
    .option('--authority-url <url>', "trust the keys of the authority's well-known declaration at this URL")
    .option('--complete', 'the export is unfiltered from seq 1: treat any gap as a deletion')
    .option('--allow-gaps', 'for an export without a header line (older versions) and without a checkpoint: report gaps instead of failing')
    .option(
      '--checkpoint-note <file>',
      'a signed revocation-log checkpoint (GET /log/checkpoint) kept outside the authority: the export must reach its audit head',
    )
    .option(
      '--note-key <vkey>',
      'a trusted note verifier key for --checkpoint-note (GET /log/keys, confirmed out of band; repeatable)',
      collect,
      [],
    )
    .action(
      action(
        async (
          file: string,
          opts: {
            checkpoint?: string;
            publicKey: string[];
            authorityUrl?: string;
            complete?: boolean;
            allowGaps?: boolean;
            checkpointNote?: string;
            noteKey: string[];
          },
        ) => {
          if (opts.noteKey.length > 0 && !opts.checkpointNote) throw new CliError('--note-key only applies with --checkpoint-note');
          const anchors = opts.publicKey.map(parseTrustAnchor);
          if (opts.authorityUrl) anchors.push(...(await wellKnownAnchors(opts.authorityUrl)));
          if (isEvidenceBundle(path.resolve(file))) {
            // A peer evidence bundle (`accord peer contain|evidence`): its audit events and its signed manifest.
            const bundle = verifyEvidenceBundle(path.resolve(file), {
              ...(opts.checkpoint ? { manifestFile: path.resolve(opts.checkpoint) } : {}),
              anchors,
            });
            printJson(bundle);
            if (!bundle.ok)
              throw new CliError(
                `evidence verification failed: ${bundle.failures.length} problem(s); first: ${bundle.failures[0] ?? 'chain break'}`,
              );
            return;
          }
          const report = await verifyAuditExport(path.resolve(file), {
            ...(opts.checkpoint ? { checkpointFile: path.resolve(opts.checkpoint) } : {}),
            anchors,
            complete: opts.complete,
            allowGaps: opts.allowGaps,
            ...(opts.checkpointNote ? { checkpointNote: { file: path.resolve(opts.checkpointNote), noteKeys: opts.noteKey } } : {}),
          });
          printJson(report);
          if (!report.ok)
            throw new CliError(
              `audit verification failed: ${report.failures.length} problem(s); first: ${report.failures[0] ?? 'chain break'}`,
            );
        },
      ),
    );

  program
    .command('backup')
    .description('online, consistent backup with the SQLite backup API (safe while the server runs); writes FILE.sha256')
    .option('--db <path>', 'database file (default: the configured database)')
    .requiredOption('--output <file>', 'backup file to write')
    .option('--force', 'overwrite an existing backup file')
    .option('--progress', 'report progress on stderr even for small databases')
    .action(
      action(async (opts: { db?: string; output: string; force?: boolean; progress?: boolean }) => {
        const progress = progressPrinter(opts.progress === true);
        const summary = await backupDatabase({
          dbPath: dbPathFrom(opts.db),
          output: opts.output,
          force: opts.force,
          onProgress: progress.onProgress,
        });
        progress.finish();
        printJson(summary);
      }),
    );

  program
    .command('restore')
    .description('restore a backup over the database (server stopped): checks, pre-restore backup, carry-forward, atomic swap')
    .option('--db <path>', 'database file to replace (default: the configured database)')
    .requiredOption('--backup <file>', 'the backup to restore')
    .option('--pre-restore-backup <file>', 'where to keep a copy of the database being replaced (default: DB.pre-restore-<time>)')
    .option('--signing-key <file>', 'signing key file that confirms the identity when no database exists (default: the configured key)')
    .option(
      '--public-key <key>',
      "a key of this authority confirmed out of band, trusted to verify the backup's signatures: base64 public key or key_id (repeatable)",
      collect,
      [],
    )
    .option(
      '--accept-unverified',
      'restore even if the audit chain or a signature in the backup does not verify (forensic use; recorded in the audit log)',
    )
    .option('--yes', 'confirm: the database will be replaced')
    .action(
      action(
        async (opts: {
          db?: string;
          backup: string;
          preRestoreBackup?: string;
          signingKey?: string;
          publicKey: string[];
          acceptUnverified?: boolean;
          yes?: boolean;
        }) => {
          if (!opts.yes)
            throw new CliError('refusing to restore without --yes (the database will be replaced; a pre-restore backup is kept)');
          const config = configOrNull();
          let signingKeys: SigningKey[] = [];
          try {
            if (opts.signingKey) signingKeys = [readSigningKeyFile(path.resolve(opts.signingKey))];
            else if (config) signingKeys = [...availableSigningKeys(config).values()];
          } catch (err) {
            if (opts.signingKey) throw err;
          }
          const summary = await restoreDatabase({
            dbPath: dbPathFrom(opts.db),
            backupFile: opts.backup,
            ...(opts.preRestoreBackup ? { preRestoreBackup: opts.preRestoreBackup } : {}),
            clock: () => new Date(),
            signingKeys,
            anchors: opts.publicKey.map(parseTrustAnchor),
            acceptUnverified: opts.acceptUnverified === true,
            ...(config?.sovereignId ? { sovereignId: config.sovereignId } : {}),
          });
          printJson(summary);
          for (const warning of summary.warnings) process.stderr.write(`accord: warning: ${warning}\n`);
        },
      ),
    );

  const keys = program.command('keys').description("the authority's signing keys (through the running server's admin API)");
  const client = (cmd: Command) => cmd.option('--key <file>', 'operator key file').option('--url <url>', 'authority base URL');
  client(
    keys
      .command('rotate')
      .description('create a new signing key; old keys keep co-signing feeds until the overlap ends, then are retired')
      .option('--overlap-days <n>', 'days the old key stays valid and co-signs (0 retires it now)', String(DEFAULT_OVERLAP_DAYS))
      .option(
        '--reason <reason>',
        `why: ${ROTATION_REASONS.join(' | ')} (key_compromise with --overlap-days 0 for a compromised key)`,
        'superseded',
      ),
  ).action(
    action(async (opts: { overlapDays: string; reason: string; key?: string; url?: string }) => {
      if (!(ROTATION_REASONS as readonly string[]).includes(opts.reason))
        throw new CliError(`--reason must be one of ${ROTATION_REASONS.join(', ')}`);
      const body = JSON.stringify({ overlap_days: wholeNumber('--overlap-days', opts.overlapDays), reason: opts.reason });
      await adminCall({
        method: 'POST',
        path: '/admin/signing-keys/rotate',
        body,
        ...(opts.key ? { key: opts.key } : {}),
        ...(opts.url ? { url: opts.url } : {}),
      });
    }),
  );
  client(keys.command('retire').description('retire keys whose overlap has ended (publishes a public_key revocation for each)')).action(
    action(async (opts: { key?: string; url?: string }) => {
      await adminCall({
        method: 'POST',
        path: '/admin/signing-keys/retire',
        body: '{}',
        ...(opts.key ? { key: opts.key } : {}),
        ...(opts.url ? { url: opts.url } : {}),
      });
    }),
  );
  client(keys.command('list').description('list signing keys with their status (active, retiring, retired)')).action(
    action(async (opts: { key?: string; url?: string }) => {
      await adminCall({
        method: 'GET',
        path: '/admin/signing-keys',
        ...(opts.key ? { key: opts.key } : {}),
        ...(opts.url ? { url: opts.url } : {}),
      });
    }),
  );
}
