// `accord split-view list | show | export | submit | forward`: evidence that a log showed two histories, and its gossip to peers.
import fs from 'node:fs';
import type { Command } from 'commander';
import { canonicalJson } from '../authority/canonical-json.ts';
import { writeFileDurably } from '../ops/files.ts';
import { adminCall, adminRequest, client, httpError, publicCall, withClientOptions, type CommonOptions } from './admin-client.ts';
import { action, CliError, printJson } from './output.ts';

const EVIDENCE_HASH = /^sha256:[0-9a-f]{64}$/;

function evidenceHash(value: string): string {
  if (!EVIDENCE_HASH.test(value)) throw new CliError('HASH must be an evidence hash: sha256:<64 hex digits> (see accord split-view list)');
  return value;
}

interface DeliveryAnswer {
  deliveries?: Array<{ peer?: string; outcome?: string; error?: string }>;
}

export function registerSplitViewCommands(program: Command): void {
  const splitView = program
    .command('split-view')
    .description('split views: evidence that a log showed two histories (the issuer is paused), and its gossip to peers');

  withClientOptions(
    splitView
      .command('list')
      .description('list the split-view evidence recorded, newest first, with its delivery to each peer')
      .option('--issuer <id>', "only evidence against this issuer's log"),
  ).action(
    action(async (opts: CommonOptions & { issuer?: string }) => {
      const query = opts.issuer === undefined ? '' : `?issuer=${encodeURIComponent(opts.issuer)}`;
      await adminCall({ ...client(opts), method: 'GET', path: `/admin/split-views${query}` });
    }),
  );

  withClientOptions(
    splitView.command('show').description('print one evidence record, its evidence document and its deliveries').argument('<hash>'),
  ).action(
    action(async (hash: string, opts: CommonOptions) => {
      await adminCall({ ...client(opts), method: 'GET', path: `/admin/split-views/${evidenceHash(hash)}` });
    }),
  );

  withClientOptions(
    splitView
      .command('export')
      .description('write the evidence document (both signed checkpoints and the proof) to a file, as POST /log/evidence takes it')
      .argument('<hash>')
      .requiredOption('--output <file>', 'where to write it (refused when it exists)'),
  ).action(
    action(async (hash: string, opts: CommonOptions & { output: string }) => {
      if (fs.existsSync(opts.output)) throw new CliError(`${opts.output} exists; choose another --output`);
      const res = await adminRequest({ ...client(opts), method: 'GET', path: `/admin/split-views/${evidenceHash(hash)}` });
      if (res.status !== 200) throw httpError(res);
      const evidence = (res.body as { evidence?: unknown }).evidence;
      writeFileDurably(opts.output, `${canonicalJson(evidence)}\n`);
      printJson({ evidence_hash: hash, output: opts.output });
    }),
  );

  splitView
    .command('submit')
    .description("send an evidence document to an authority's POST /log/evidence (it verifies it and pauses the issuer)")
    .argument('<file>', 'the evidence document (accord split-view export)')
    .option('--url <url>', 'authority base URL (default: $ACCORD_URL or http://ACCORD_HOST:ACCORD_PORT)')
    .action(
      action(async (file: string, opts: { url?: string }) => {
        let text: string;
        try {
          text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
        } catch {
          throw new CliError(`cannot read ${file}`);
        }
        await publicCall({ ...(opts.url ? { url: opts.url } : {}), method: 'POST', path: '/log/evidence', body: text.trim() });
      }),
    );

  withClientOptions(splitView.command('forward').description('send pending evidence to peers now (ignores the retry backoff)')).action(
    action(async (opts: CommonOptions) => {
      const answer = (await adminCall({ ...client(opts), method: 'POST', path: '/admin/split-views/forward' })) as DeliveryAnswer;
      const failed = (answer?.deliveries ?? []).filter((d) => d.outcome !== 'delivered');
      if (failed.length > 0)
        throw new CliError(`not delivered to ${failed.map((d) => `${d.peer} (${d.outcome}: ${d.error ?? ''})`).join(', ')}`);
    }),
  );
}
