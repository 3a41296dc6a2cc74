// The `accord` command: every operator and auditor action of the product.
import { Command, CommanderError } from 'commander';
import { EXIT } from './output.ts';

type Register = (program: Command) => void;

/**
 * The command groups in help order. `accord log …` loads only its own modules: monitors run it from
 * cron on machines with no authority, where loading the whole product would cost more than a quick
 * check of an unchanged log.
 */
async function commandGroups(first: string | undefined): Promise<Register[]> {
  if (first === 'log') return [(await import('./log-commands.ts')).registerLogCommands];
  const [authority, treaty, ops, feed, peer, connectome, witness, splitView, log, mirror] = await Promise.all([
    import('./authority-commands.ts'),
    import('./treaty-commands.ts'),
    import('./ops-commands.ts'),
    import('./feed-commands.ts'),
    import('./peer-commands.ts'),
    import('./connectome-commands.ts'),
    import('./witness-commands.ts'),
    import('./split-view-commands.ts'),
    import('./log-commands.ts'),
    import('./mirror-commands.ts'),
  ]);
  return [
    authority.registerAuthorityCommands,
    treaty.registerTreatyCommands,
    ops.registerOpsCommands,
    feed.registerFeedCommands,
    peer.registerPeerCommands,
    connectome.registerConnectomeCommands,
    witness.registerWitnessCommands,
    splitView.registerSplitViewCommands,
    log.registerLogCommands,
    mirror.registerMirrorCommands,
  ];
}

const program = new Command();
program
  .name('accord')
  .description('Accord: a Network Authority for recognition treaties and signed revocation feeds')
  .version('0.1.0')
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`accord: ${text.replace(/^error: /, '').trim()}\n`) });

for (const register of await commandGroups(process.argv[2])) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`accord: ${(err as Error).message}\n`);
    process.exitCode = EXIT.failed;
  }
}
