/**
 * `tessera config`: writes ossutil's INI config file (`~/.ossutilconfig` unless `-c`), keeping
 * any `[Bucket-Endpoint]`, `[Bucket-Cname]` and `[Default]` sections already there. Values come
 * from the options; on a terminal, the missing ones are asked for.
 */
import { readFile, writeFile, chmod } from 'node:fs/promises';
import type { Command } from 'commander';
import ini from 'ini';
import { defaultConfigPath, runner, UsageError } from './cloud.js';
import { readLine } from './terminal.js';

interface ConfigFlags {
  endpoint?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  stsToken?: string;
  configFile?: string;
  language?: string;
}

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description("write the config file (ossutil's INI format) with an endpoint and credentials")
    .option('-e, --endpoint <endpoint>', 'service endpoint, e.g. http://127.0.0.1:9000')
    .option('-i, --access-key-id <id>', 'access key id')
    .option('-k, --access-key-secret <secret>', 'access key secret')
    .option('-t, --sts-token <token>', 'STS security token')
    .option('-c, --config-file <file>', 'the file to write (default ~/.ossutilconfig, or TESSERA_CONFIG_FILE)')
    .option('-L, --language <language>', 'CH or EN, as ossutil records it', 'EN')
    .action(runner(configure));
}

async function ask(question: string, current: string | undefined): Promise<string | undefined> {
  process.stdout.write(`${question}${current ? ` [${current}]` : ''}: `);
  const answer = (await readLine())?.trim();
  return answer ? answer : current;
}

async function configure(command: Command): Promise<{ elapsed: false }> {
  const flags = command.opts<ConfigFlags>();
  const path = flags.configFile ?? defaultConfigPath();
  let existing: Record<string, unknown> = {};
  try {
    existing = ini.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const credentials = { ...((existing.Credentials as Record<string, string> | undefined) ?? {}) };
  let { endpoint, accessKeyId, accessKeySecret, stsToken } = flags;
  const given = endpoint !== undefined || accessKeyId !== undefined || accessKeySecret !== undefined;
  if (!given) {
    if (!process.stdin.isTTY) throw new UsageError('give at least one of -e, -i and -k (or run it on a terminal to be asked)');
    process.stdout.write(`The config file is ${path}.\n`);
    endpoint = await ask('Endpoint', credentials.endpoint);
    accessKeyId = await ask('AccessKeyID', credentials.accessKeyID);
    accessKeySecret = await ask('AccessKeySecret', credentials.accessKeySecret);
    stsToken = await ask('StsToken (optional)', credentials.stsToken);
    process.stdin.pause();
  }
  credentials.language = flags.language ?? credentials.language ?? 'EN';
  if (endpoint !== undefined) credentials.endpoint = endpoint;
  if (accessKeyId !== undefined) credentials.accessKeyID = accessKeyId;
  if (accessKeySecret !== undefined) credentials.accessKeySecret = accessKeySecret;
  if (stsToken !== undefined) credentials.stsToken = stsToken;
  const document: Record<string, unknown> = { Credentials: credentials };
  for (const [section, values] of Object.entries(existing)) if (section !== 'Credentials') document[section] = values;
  await writeFile(path, ini.stringify(document), { mode: 0o600 });
  await chmod(path, 0o600);
  return { elapsed: false };
}
