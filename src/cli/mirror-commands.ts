// `accord mirror --output DIR`: writes a static mirror of this authority's public files from its database (read-only; safe while the server runs).
import path from 'node:path';
import type { Command } from 'commander';
import { systemClock } from '../authority/clock.ts';
import { loadConfig } from '../authority/config.ts';
import { loadIdentity } from '../authority/identity.ts';
import { followerFiles } from '../follow/publish.ts';
import { databaseMirrorInputs } from '../mirror/inputs.ts';
import { MirrorWriter } from '../mirror/mirror.ts';
import { openAccordReadOnly } from '../ops/audit-export.ts';
import { action, printJson } from './output.ts';

export function registerMirrorCommands(program: Command): void {
  program
    .command('mirror')
    .description(
      'write a static mirror of the public files (feeds, log checkpoint, tiles and bundles, declaration, connectome, follower updates) into DIR; safe while the server runs',
    )
    .requiredOption('--output <dir>', 'the mirror directory (created if missing; files already there are kept or brought up to date)')
    .option('--db <path>', 'database file (default: the configured database)')
    .action(
      action(async (opts: { output: string; db?: string }) => {
        const config = loadConfig();
        const { db } = openAccordReadOnly(path.resolve(opts.db ?? config.dbPath));
        try {
          const inputs = databaseMirrorInputs(db, loadIdentity(config, db), systemClock, config.maxPathLength, () => followerFiles({ db }));
          const output = path.resolve(opts.output);
          const report = await new MirrorWriter(output, inputs).sync();
          printJson({ output, ...report });
        } finally {
          db.close();
        }
      }),
    );
}
