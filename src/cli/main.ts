// The `accord` command: every operator and auditor action of the product.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../authority/config.ts';
import { registerAuthorityCommands } from './authority-commands.ts';
import { registerConnectomeCommands } from './connectome-commands.ts';
import { registerFeedCommands } from './feed-commands.ts';
import { registerLogCommands } from './log-commands.ts';
import { registerOpsCommands } from './ops-commands.ts';
import { EXIT } from './output.ts';
import { registerTreatyCommands } from './treaty-commands.ts';

const program = new Command();
program
  .name('accord')
  .description('Accord: a Network Authority for recognition treaties and signed revocation feeds')
  .version('0.1.0')
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`accord: ${text.replace(/^error: /, '').trim()}\n`) });

registerAuthorityCommands(program);
registerTreatyCommands(program);
registerOpsCommands(program);
registerFeedCommands(program);
registerConnectomeCommands(program);
registerLogCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`accord: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
    process.exitCode = EXIT.failed;
  }
}
