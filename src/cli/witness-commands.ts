// `accord witness enable | disable | logs | conflicts | status | submit | quorum set|show|clear`: thin admin-API wrappers for witnessing.
import type { Command } from 'commander';
import { adminCall, client, withClientOptions, type CommonOptions } from './admin-client.ts';
import { action, CliError } from './output.ts';

function sovereignId(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(value)) throw new CliError('SOVEREIGN_ID must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$');
  return value;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** A policy witness from its vkey: the name is the vkey's first field. */
function policyWitness(vkey: string): { name: string; vkey: string } {
  const name = vkey.slice(0, Math.max(0, vkey.indexOf('+')));
  if (name.length === 0)
    throw new CliError(`--witness ${JSON.stringify(vkey)} is not a witness verifier key (<name>+<hex key id>+<base64 key>)`);
  return { name, vkey };
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

  const quorum = witness
    .command('quorum')
    .description("importing: require an issuer's checkpoint cosigned by k of the witnesses you name before importing its feeds");

  withClientOptions(
    quorum
      .command('set')
      .description("set (or replace) the quorum policy for an issuer's feeds")
      .argument('<issuer>', 'issuer sovereign id')
      .requiredOption('--quorum <k>', 'how many of the witnesses must have cosigned')
      .option(
        '--witness <vkey>',
        "a witness's cosigner verifier key (<name>+<hex key id>+<base64 key>), confirmed out of band; repeat for each",
        collect,
        [],
      ),
  ).action(
    action(async (issuer: string, opts: CommonOptions & { quorum: string; witness: string[] }) => {
      if (!/^[1-9][0-9]?$/.test(opts.quorum)) throw new CliError('--quorum must be a whole number from 1 to 99');
      if (opts.witness.length === 0) throw new CliError('--witness is required (one per witness of the policy)');
      const body = { issuer_sovereign_id: sovereignId(issuer), quorum: Number(opts.quorum), witnesses: opts.witness.map(policyWitness) };
      await adminCall({ ...client(opts), method: 'POST', path: '/admin/witness/quorum', body: JSON.stringify(body) });
    }),
  );

  withClientOptions(
    quorum
      .command('show')
      .description("show the quorum policies (or one issuer's), and whether an issuer's feeds are awaiting their quorum")
      .argument('[issuer]', 'issuer sovereign id'),
  ).action(
    action(async (issuer: string | undefined, opts: CommonOptions) => {
      const path = issuer === undefined ? '/admin/witness/quorum' : `/admin/witness/quorum/${encodeURIComponent(sovereignId(issuer))}`;
      await adminCall({ ...client(opts), method: 'GET', path });
    }),
  );

  withClientOptions(
    quorum
      .command('clear')
      .description("remove an issuer's quorum policy (its feeds import without cosignatures again)")
      .argument('<issuer>', 'issuer sovereign id'),
  ).action(
    action(async (issuer: string, opts: CommonOptions) => {
      await adminCall({ ...client(opts), method: 'DELETE', path: `/admin/witness/quorum/${encodeURIComponent(sovereignId(issuer))}` });
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
