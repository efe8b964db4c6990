#!/usr/bin/env node
import { Command } from 'commander';
import { registerServe } from './serve.js';

const program = new Command();
program.name('tessera').description('Tessera: storage for large, resumable uploads (S3, OSS and 123pan dialects)');
registerServe(program);
program.showHelpAfterError();
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});
await program.parseAsync(process.argv);
