// `accord witness enable | disable | logs | conflicts | status | submit`: thin admin-API wrappers for witnessing.
import type { Command } from 'commander';
import { adminCall, client, withClientOptions, type CommonOptions } from './admin-client.ts';
import { action, CliError } from './output.ts';

function sovereignId(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(value)) throw new CliError('SOVEREIGN_ID must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$');
  return value;
}

interface SubmitAnswer {
  witnesses?: Array<{ witness?: string; outcome?: string; reason?: string }>;
}

export function registerWitnessCommands(program: Command): void {
  const witness = program
    .command('witness')
    .description("witnessing: cosign recognized sovereigns' logs, and have this log cosigned by its witnesses");

  withClientOptions(witness.command('enable').description("start witnessing a recognized sovereign's log").argument('<sovereign-id>'))
    .option('--origin <origin>', "the log's origin (default: the one of its checkpoint this authority verified when pulling)")
    .action(
      action(async (id: string, opts: CommonOptions & { origin?: string }) => {
        const body = { sovereign_id: sovereignId(id), ...(opts.origin !== undefined ? { origin: opts.origin } : {}) };
        await adminCall({ ...client(opts), method: 'POST', path: '/admin/witness/logs', body: JSON.stringify(body) });
      }),
    );

  withClientOptions(
    witness.command('disable').description("stop witnessing a sovereign's log (what was cosigned is kept)").argument('<sovereign-id>'),
  ).action(
    action(async (id: string, opts: CommonOptions) => {
      await adminCall({ ...client(opts), method: 'POST', path: `/admin/witness/logs/${encodeURIComponent(sovereignId(id))}/disable` });
    }),
  );

  withClientOptions(
    witness.command('logs').description('list the logs this authority witnesses, with what it last cosigned and conflicts seen'),
  ).action(
    action(async (opts: CommonOptions) => {
      await adminCall({ ...client(opts), method: 'GET', path: '/admin/witness/logs' });
    }),
  );

  withClientOptions(witness.command('conflicts').description('print the evidence of logs that showed two histories')).action(
    action(async (opts: CommonOptions) => {
      await adminCall({ ...client(opts), method: 'GET', path: '/admin/witness/conflicts' });
    }),
  );

  withClientOptions(
    witness.command('status').description("the witnesses of this authority's log: what each cosigned, failures, backoff"),
  ).action(
    action(async (opts: CommonOptions) => {
      await adminCall({ ...client(opts), method: 'GET', path: '/admin/log/witnesses' });
    }),
  );

  withClientOptions(
    witness.command('submit').description("submit this log's latest checkpoint to every witness now (ignores backoff)"),
  ).action(
    action(async (opts: CommonOptions) => {
      const answer = (await adminCall({ ...client(opts), method: 'POST', path: '/admin/log/witnesses/submit' })) as SubmitAnswer;
      // The request worked but a witness did not cosign: a script must see that as a failure.
      const failed = (answer?.witnesses ?? []).filter((w) => w.outcome === 'failed');
      if (failed.length > 0) throw new CliError(`not cosigned by ${failed.map((w) => `${w.witness} (${w.reason})`).join(', ')}`);
    }),
  );
}
