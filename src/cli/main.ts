#!/usr/bin/env -S MALLOC_TRIM_THRESHOLD_=67108864 node --initial-old-space-size=64
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAdmin } from './admin.js';
import { registerObjectCommands } from './commands.js';
import { registerMigrate } from './migrate.js';
import { registerPan } from './pan.js';
import { registerScrub } from './scrub.js';
import { registerServe } from './serve.js';

const program = new Command();
// dist/src/cli/main.js, in a checkout and in an installed package alike: the package's root is three levels up.
const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
program
  .name('tessera')
  .description('Tessera: storage for large, resumable uploads (S3, OSS and 123pan dialects)')
  .version(version, '-V, --version', 'print the version');
registerServe(program);
program.showHelpAfterError();
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});
// Registered after the settings above so the object commands inherit them (help after errors, exit 2).
registerObjectCommands(program);
registerPan(program);
registerMigrate(program);
registerScrub(program);
registerAdmin(program);
await program.parseAsync(process.argv);
