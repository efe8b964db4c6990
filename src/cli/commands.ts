import type { Command } from 'commander';
import { registerApi } from './api.js';
import { registerBucketCommands } from './buckets.js';
import { registerConfig } from './config-command.js';
import { registerCp } from './cp.js';
import { registerLs } from './ls.js';
import { registerParts } from './parts.js';
import { registerRm } from './rm.js';

/** The ossutil-style object commands: they speak to any S3 or OSS endpoint (Tessera's included). */
export function registerObjectCommands(program: Command): void {
  registerConfig(program);
  registerLs(program);
  registerCp(program);
  registerRm(program);
  registerParts(program);
  registerBucketCommands(program);
  registerApi(program);
}
