// `accord feed publish | show | import | pull | peers | peer-add | pause | resume | rollback-import`: thin admin-API wrappers.
import fs from 'node:fs';
import type { Command } from 'commander';
import { adminCall, client, httpError, publicRequest, withClientOptions, type CommonOptions } from './admin-client.ts';
import { action, CliError } from './output.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

function sovereignId(value: string, name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(value)) throw new CliError(`${name} must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`);
  return value;
}

function wholeNumber(value: string, name: string, min: number): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < min) throw new CliError(`${name} must be a whole number ≥ ${min}`);
  return Number(value);
}

interface PullAnswer {
  outcome?: string;
  reason?: string;
  message?: string;
}

function pullFailure(peer: string, answer: PullAnswer | null): string {
  const outcome = typeof answer?.outcome === 'string' ? answer.outcome : 'failed';
  const reason = answer?.reason ? `: ${answer.reason}` : '';
  const message = answer?.message ? ` (${answer.message.replace(/\s+/g, ' ')})` : '';
  return `pull of ${peer} ${outcome}${reason}${message}`;
}

export function registerFeedCommands(program: Command): void {
  const feed = program.command('feed').description('revocation feeds: publish, show, import, pull from peers, roll back an import');

  withClientOptions(feed.command('publish').description('publish pending revocations (and a heartbeat when due)'))
    .option('--heartbeat', 'publish a heartbeat feed even when none is due')
    .action(
      action(async (opts: CommonOptions & { heartbeat?: boolean }) => {
        await adminCall({
          ...client(opts),
          method: 'POST',
          path: '/admin/revocation-feeds/publish',
          body: JSON.stringify(opts.heartbeat ? { heartbeat: true } : {}),
        });
      }),
    );

  feed
    .command('show')
    .description('print a published feed exactly as served (the latest, or SEQ)')
    .argument('[seq]', 'feed sequence number')
    .option('--url <url>', 'authority base URL (default: $ACCORD_URL or http://ACCORD_HOST:ACCORD_PORT)')
    .action(
      action(async (seq: string | undefined, opts: { url?: string }) => {
        const path = seq === undefined ? '/revocation-feeds/latest' : `/revocation-feeds/${wholeNumber(seq, 'SEQ', 1)}`;
        const res = await publicRequest({ ...(opts.url ? { url: opts.url } : {}), path });
        // The feed's bytes exactly as served: its hash is what importers chain to.
        process.stdout.write(`${res.text}\n`);
        if (res.status !== 200) throw httpError(res);
      }),
    );

  withClientOptions(
    feed
      .command('import')
      .description("import another sovereign's signed feed from a JSON file")
      .argument('<file>', 'the feed JSON')
      .option('--cosigned-checkpoint <file>', "the issuer's cosigned checkpoint (its /log/checkpoint), for an issuer with a quorum policy")
      .option(
        '--checkpoint-proof <file>',
        "the issuer's consistency proof from the feed's log size to the checkpoint's (its /log/proof/consistency answer)",
      ),
  ).action(
    action(async (file: string, opts: CommonOptions & { cosignedCheckpoint?: string; checkpointProof?: string }) => {
      const read = (name: string) => {
        try {
          return fs.readFileSync(name === '-' ? 0 : name, 'utf8');
        } catch {
          throw new CliError(`cannot read ${name}`);
        }
      };
      const text = read(file);
      if (opts.checkpointProof !== undefined && opts.cosignedCheckpoint === undefined)
        throw new CliError('--checkpoint-proof goes with --cosigned-checkpoint');
      let extra = '';
      if (opts.cosignedCheckpoint !== undefined) extra += `,"cosigned_checkpoint":${JSON.stringify(read(opts.cosignedCheckpoint))}`;
      if (opts.checkpointProof !== undefined) {
        let proof: unknown;
        try {
          proof = JSON.parse(read(opts.checkpointProof));
        } catch {
          throw new CliError(`${opts.checkpointProof} is not JSON`);
        }
        const hashes = Array.isArray(proof) ? proof : (proof as { proof?: unknown } | null)?.proof;
        if (!Array.isArray(hashes)) throw new CliError(`${opts.checkpointProof} holds no proof (an array of hashes, or {"proof": [...]})`);
        extra += `,"checkpoint_proof":${JSON.stringify(hashes)}`;
      }
      // The file's bytes travel as they are: the server parses strictly and checks the signature.
      await adminCall({ ...client(opts), method: 'POST', path: '/admin/revocation-feeds/import', body: `{"feed":${text.trim()}${extra}}` });
    }),
  );

  withClientOptions(
    feed
      .command('pull')
      .description('pull one peer now (ignores backoff)')
      .argument('<peer>', 'peer sovereign id')
      .option(
        '--once',
        'a verification pull instead: fetch the declaration and feeds, verify them with the keys pinned now, import nothing (works while paused)',
      ),
  ).action(
    action(async (peer: string, opts: CommonOptions & { once?: boolean }) => {
      if (opts.once) {
        const checked = (await adminCall({
          ...client(opts),
          method: 'POST',
          path: `/admin/peers/${encodeURIComponent(sovereignId(peer, 'PEER'))}/test-pull`,
        })) as { verified?: unknown; reason?: unknown; message?: unknown };
        if (checked?.verified !== true)
          throw new CliError(
            `verification pull of ${peer} failed: ${String(checked?.reason ?? 'unknown')} (${String(checked?.message ?? '')})`,
          );
        return;
      }
      const result = (await adminCall({
        ...client(opts),
        method: 'POST',
        path: `/admin/peers/${encodeURIComponent(sovereignId(peer, 'PEER'))}/pull`,
      })) as PullAnswer;
      // The request worked but nothing was pulled: a script must see that as a failure.
      if (result?.outcome !== 'ok') throw new CliError(pullFailure(peer, result));
    }),
  );

  withClientOptions(feed.command('peers').description('list peers with import state, pull health, staleness and pauses')).action(
    action(async (opts: CommonOptions) => {
      await adminCall({ ...client(opts), method: 'GET', path: '/admin/peers' });
    }),
  );

  withClientOptions(
    feed
      .command('peer-add')
      .description('register a peer to pull feeds from')
      .argument('<sovereign-id>')
      .argument('<base-url>')
      .option(
        '--mirror <url>',
        "a static mirror of the peer's files, tried when the peer cannot be reached (repeatable, in order)",
        collect,
        [],
      ),
  ).action(
    action(async (id: string, baseUrl: string, opts: CommonOptions & { mirror: string[] }) => {
      await adminCall({
        ...client(opts),
        method: 'POST',
        path: '/admin/peers',
        body: JSON.stringify({
          sovereign_id: sovereignId(id, 'SOVEREIGN_ID'),
          base_url: baseUrl,
          ...(opts.mirror.length > 0 ? { mirror_urls: opts.mirror } : {}),
        }),
      });
    }),
  );

  withClientOptions(
    feed
      .command('peer-mirrors')
      .description("set the static mirrors a peer's feeds are pulled from when the peer cannot be reached (none: clear them)")
      .argument('<peer>', 'peer sovereign id')
      .argument('[mirror-urls...]', 'mirror base URLs, in the order they are tried'),
  ).action(
    action(async (peer: string, urls: string[], opts: CommonOptions) => {
      await adminCall({
        ...client(opts),
        method: 'PUT',
        path: `/admin/peers/${encodeURIComponent(sovereignId(peer, 'PEER'))}/mirrors`,
        body: JSON.stringify({ mirror_urls: urls }),
      });
    }),
  );

  for (const verb of ['pause', 'resume'] as const) {
    withClientOptions(
      feed.command(verb).description(`${verb} imports from an issuer`).argument('<peer>', 'peer or issuer sovereign id'),
    ).action(
      action(async (peer: string, opts: CommonOptions) => {
        await adminCall({ ...client(opts), method: 'POST', path: `/admin/peers/${encodeURIComponent(sovereignId(peer, 'PEER'))}/${verb}` });
      }),
    );
  }

  withClientOptions(
    feed
      .command('rollback-import')
      .description("undo an issuer's imports above a sequence: removes its revocations, resets its chain state, pauses it")
      .requiredOption('--issuer <id>', 'issuer sovereign id')
      .requiredOption('--to-sequence <n>', 'keep feeds up to and including this sequence (0 removes all)'),
  ).action(
    action(async (opts: CommonOptions & { issuer: string; toSequence: string }) => {
      const body = {
        issuer_sovereign_id: sovereignId(opts.issuer, '--issuer'),
        to_sequence: wholeNumber(opts.toSequence, '--to-sequence', 0),
      };
      await adminCall({ ...client(opts), method: 'POST', path: '/admin/revocation-feeds/rollback-import', body: JSON.stringify(body) });
    }),
  );
}
