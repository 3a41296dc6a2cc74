// `accord peer status | contain | evidence | repin | resume`: a peer's key change or compromise, each step one command.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { canonicalJson } from '../authority/canonical-json.ts';
import { refuseOverwrite, writeFileDurably } from '../ops/files.ts';
import { manifestPath } from '../ops/peer-evidence.ts';
import { adminCall, client, withClientOptions, type CommonOptions } from './admin-client.ts';
import { action, CliError, printJson } from './output.ts';

function sovereignId(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(value)) throw new CliError('SOVEREIGN must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$');
  return value;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90s`, `30m`, `12h`, `7d` → seconds. */
export function durationSeconds(value: string, name: string): number {
  const match = /^([0-9]{1,9})([smhd])$/.exec(value);
  if (!match) throw new CliError(`${name} must be a duration like 30m, 12h or 7d`);
  return Number(match[1]) * UNITS[match[2]!]!;
}

interface EvidenceAnswer {
  evidence?: { bundle?: unknown; manifest?: { file_sha256?: unknown; counts?: unknown; issued_by?: unknown } };
  bundle?: unknown;
  manifest?: { file_sha256?: unknown; counts?: unknown; issued_by?: unknown };
}

/** Both output files must be free before anything is asked of the server (a refusal changes nothing). */
function outputFiles(out: string, force: boolean | undefined): { bundle: string; manifest: string } {
  const bundle = path.resolve(out);
  const manifest = manifestPath(bundle);
  refuseOverwrite(bundle, force);
  refuseOverwrite(manifest, force);
  if (!fs.existsSync(path.dirname(bundle))) throw new CliError(`directory ${path.dirname(bundle)} does not exist`);
  return { bundle, manifest };
}

/** Writes the bundle (exact bytes the manifest hashes) and its manifest; returns what was written. */
function writeEvidence(files: { bundle: string; manifest: string }, evidence: { bundle?: unknown; manifest?: unknown }) {
  if (typeof evidence.bundle !== 'string' || typeof evidence.manifest !== 'object' || evidence.manifest === null)
    throw new CliError('the server did not return an evidence bundle');
  writeFileDurably(files.bundle, evidence.bundle);
  writeFileDurably(files.manifest, `${canonicalJson(evidence.manifest)}\n`);
  const manifest = evidence.manifest as { file_sha256?: unknown; counts?: unknown; issued_by?: unknown };
  return {
    file: files.bundle,
    manifest: files.manifest,
    file_sha256: manifest.file_sha256,
    signed_by: manifest.issued_by,
    counts: manifest.counts,
  };
}

export function registerPeerCommands(program: Command): void {
  const peer = program
    .command('peer')
    .description("a peer's keys and incidents: status, contain, evidence, repin, resume (test pull: accord feed pull PEER --once)");

  withClientOptions(
    peer.command('status').description('pin, observed keys, last pulls, pause, containment and evidence of a peer, as one JSON document'),
  )
    .argument('<sovereign>', 'peer sovereign id')
    .action(
      action(async (id: string, opts: CommonOptions) => {
        await adminCall({ ...client(opts), method: 'GET', path: `/admin/peers/${encodeURIComponent(sovereignId(id))}/status` });
      }),
    );

  withClientOptions(
    peer
      .command('contain')
      .description(
        'pause pulls and imports from a peer, optionally revoke our treaties for it (published at once), and write an evidence bundle',
      )
      .argument('<sovereign>', 'peer sovereign id')
      .requiredOption('--reason <text>', 'why (recorded in the audit log and the evidence manifest)')
      .option('--revoke-treaties', 'also revoke every treaty of ours for the peer (reason key_compromise) and publish at once')
      .option('--incident <label>', 'incident label carried by the revocations')
      .requiredOption('--out <file>', 'evidence bundle to write (JSONL); its signed manifest goes to FILE.manifest.json')
      .option('--force', 'overwrite existing output files'),
  ).action(
    action(
      async (
        id: string,
        opts: CommonOptions & { reason: string; revokeTreaties?: boolean; incident?: string; out: string; force?: boolean },
      ) => {
        const files = outputFiles(opts.out, opts.force);
        const body = {
          reason: opts.reason,
          ...(opts.revokeTreaties ? { revoke_treaties: true } : {}),
          ...(opts.incident ? { incident: opts.incident } : {}),
        };
        const answer = (await adminCall({
          ...client(opts),
          method: 'POST',
          path: `/admin/peers/${encodeURIComponent(sovereignId(id))}/contain`,
          body: JSON.stringify(body),
          quiet: true,
        })) as EvidenceAnswer & Record<string, unknown>;
        const { evidence, ...summary } = answer;
        printJson({ ...summary, evidence: writeEvidence(files, evidence ?? {}) });
      },
    ),
  );

  withClientOptions(
    peer
      .command('evidence')
      .description("write a peer's evidence bundle (JSONL) and its manifest signed by this authority's key, without changing anything else")
      .argument('<sovereign>', 'peer sovereign id')
      .requiredOption('--out <file>', 'evidence bundle to write; its signed manifest goes to FILE.manifest.json')
      .option('--reason <text>', 'why (recorded in the manifest)')
      .option('--force', 'overwrite existing output files'),
  ).action(
    action(async (id: string, opts: CommonOptions & { out: string; reason?: string; force?: boolean }) => {
      const files = outputFiles(opts.out, opts.force);
      const answer = (await adminCall({
        ...client(opts),
        method: 'POST',
        path: `/admin/peers/${encodeURIComponent(sovereignId(id))}/evidence`,
        body: JSON.stringify(opts.reason ? { reason: opts.reason } : {}),
        quiet: true,
      })) as EvidenceAnswer;
      printJson({ sovereign_id: id, evidence: writeEvidence(files, answer) });
    }),
  );

  // `--key` is the new public key here (as the runbooks write it); the operator key file is `--admin-key`.
  peer
    .command('repin')
    .description("supersede our treaties for a peer with its new key, confirmed with the peer's operator out of band")
    .argument('<sovereign>', 'peer sovereign id')
    .requiredOption('--key <public-key>', 'the new public key (standard base64), as confirmed out of band')
    .option('--confirm-out-of-band', 'confirm that the key was checked with the peer outside the network (required)')
    .option('--overlap <duration>', 'keep the previously pinned keys recognized this long (e.g. 12h, 7d)')
    .option('--incident <label>', 'incident label carried by the superseded treaties')
    .option('--url <url>', 'authority base URL (default: $ACCORD_URL or http://ACCORD_HOST:ACCORD_PORT)')
    .option('--admin-key <file>', 'operator key file (default: $ACCORD_ADMIN_KEY_FILE or <data dir>/operator-dev.key)')
    .action(
      action(
        async (
          id: string,
          opts: { key: string; confirmOutOfBand?: boolean; overlap?: string; incident?: string; url?: string; adminKey?: string },
        ) => {
          const body = {
            public_key: opts.key,
            confirm_out_of_band: opts.confirmOutOfBand === true,
            ...(opts.overlap ? { overlap_seconds: durationSeconds(opts.overlap, '--overlap') } : {}),
            ...(opts.incident ? { incident: opts.incident } : {}),
          };
          await adminCall({
            ...client({ ...(opts.url ? { url: opts.url } : {}), ...(opts.adminKey ? { key: opts.adminKey } : {}) }),
            method: 'POST',
            path: `/admin/peers/${encodeURIComponent(sovereignId(id))}/repin`,
            body: JSON.stringify(body),
          });
        },
      ),
    );

  withClientOptions(
    peer
      .command('resume')
      .description('lift the pause of a peer; refused (peer_not_verified) until a verified test pull since its containment or repin')
      .argument('<sovereign>', 'peer sovereign id'),
  ).action(
    action(async (id: string, opts: CommonOptions) => {
      await adminCall({ ...client(opts), method: 'POST', path: `/admin/peers/${encodeURIComponent(sovereignId(id))}/resume` });
    }),
  );
}
