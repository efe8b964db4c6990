#!/usr/bin/env -S MALLOC_TRIM_THRESHOLD_=67108864 node --initial-old-space-size=64
import { Command } from 'commander';
import { registerAdmin } from './admin.js';
import { registerObjectCommands } from './commands.js';
import { registerMigrate } from './migrate.js';
import { registerPan } from './pan.js';
import { registerServe } from './serve.js';

const program = new Command();
program.name('tessera').description('Tessera: storage for large, resumable uploads (S3, OSS and 123pan dialects)');
registerServe(program);
program.showHelpAfterError();
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});
// Registered after the settings above so the object commands inherit them (help after errors, exit 2).
registerObjectCommands(program);
registerPan(program);
registerMigrate(program);
registerAdmin(program);
await program.parseAsync(process.argv);
