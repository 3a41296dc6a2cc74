// `accord connectome [--blast-radius ID] [--trust-path FROM TO]`: reads the public connectome routes and prints JSON.
import type { Command } from 'commander';
import { httpError, publicRequest } from './admin-client.ts';
import { action, CliError } from './output.ts';

interface ConnectomeOptions {
  url?: string;
  blastRadius?: string;
  issuer?: string;
  type?: string;
  trustPath?: string[];
}

const SOVEREIGN_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function pathFor(opts: ConnectomeOptions): { path: string; whole: boolean } {
  if (opts.blastRadius !== undefined && opts.trustPath !== undefined)
    throw new CliError('use either --blast-radius or --trust-path, not both');
  if (opts.trustPath !== undefined) {
    if (opts.trustPath.length !== 2) throw new CliError('--trust-path takes two sovereign ids: FROM TO');
    const [from, to] = opts.trustPath as [string, string];
    for (const id of [from, to]) if (!SOVEREIGN_ID.test(id)) throw new CliError(`not a sovereign id: ${id}`);
    return { path: `/connectome/trust-path?${new URLSearchParams({ from, to })}`, whole: false };
  }
  if (opts.blastRadius !== undefined) {
    const query = new URLSearchParams({ id: opts.blastRadius });
    if (opts.issuer !== undefined) query.set('issuer', opts.issuer);
    if (opts.type !== undefined) query.set('type', opts.type);
    return { path: `/connectome/blast-radius?${query}`, whole: false };
  }
  if (opts.issuer !== undefined || opts.type !== undefined) throw new CliError('--issuer and --type go with --blast-radius');
  return { path: '/connectome.json', whole: true };
}

export function registerConnectomeCommands(program: Command): void {
  program
    .command('connectome')
    .description("print the trust graph (/connectome.json), one revoked item's blast radius, or a trust path")
    .option('--blast-radius <id>', 'the blast radius of one revoked item (attestation, treaty or key id)')
    .option('--issuer <sovereign>', 'with --blast-radius: the revoking sovereign, when several revoked the same id')
    .option('--type <kind>', 'with --blast-radius: membership_attestation | recognition_treaty | public_key')
    .option('--trust-path <ids...>', 'explain trust from one sovereign to another: FROM TO')
    .option('--url <url>', 'authority base URL (default: $ACCORD_URL or http://ACCORD_HOST:ACCORD_PORT)')
    .action(
      action(async (opts: ConnectomeOptions) => {
        const { path, whole } = pathFor(opts);
        const res = await publicRequest({ ...(opts.url ? { url: opts.url } : {}), path, timeoutMs: 60_000 });
        if (res.status !== 200) {
          process.stdout.write(`${res.text}\n`);
          throw httpError(res);
        }
        const text = res.text;
        // The whole document is printed byte for byte (its graph_digest can be checked); answers are pretty-printed.
        process.stdout.write(whole ? `${text}\n` : `${JSON.stringify(JSON.parse(text), null, 2)}\n`);
      }),
    );
}
