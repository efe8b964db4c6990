/**
 * `tessera admin user|key|policy|kms-key …`: the server's admin API (`/-/admin/`, see
 * src/server/admin-api.ts), as root or an admin user. Requests are SigV4-signed in their headers
 * with the same signer the client SDK uses; endpoint and credentials come as for every object
 * command (`-e -i -k`, the environment, the config file).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Command } from 'commander';
import type { KmsKeyView } from '../core/kms.js';
import { signRequest } from '../dialects/s3/sigv4.js';
import { out, resolveConnection, runner, withCommonOptions, type CommonFlags } from './cloud.js';

interface AdminFlags extends CommonFlags {
  displayName?: string;
  admin?: boolean;
  json?: boolean;
}

interface UserView {
  id: string;
  displayName: string;
  enabled: boolean;
  admin: boolean;
  readOnly: boolean;
  created?: string;
  /** Inline policy names. */
  policies: string[];
  /** Attached managed policy names. */
  attachedPolicies: string[];
}

interface KeyView {
  accessKeyId: string;
  enabled: boolean;
  readOnly: boolean;
  created?: string;
  secretAccessKey?: string;
}

/** An answer of the admin API that is an error: its code and message, as the server wrote them. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message} (HTTP ${status})`);
  }
}

const command = (parent: Command, name: string, description: string) =>
  withCommonOptions(parent.command(name).description(description)).option('--json', 'print the JSON answer');

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description("manage the server's users, access keys, policies and KMS keys (root or an admin user)");
  const user = admin.command('user').description('users');
  const key = admin.command('key').description("a user's access keys");
  registerKmsKeys(admin);
  registerPolicies(admin);

  command(user, 'ls', 'list users').action(
    runner(async (cmd) => {
      const flags = cmd.opts<AdminFlags>();
      const { users } = (await call(flags, 'GET', 'users')) as { users: UserView[] };
      if (flags.json) return printJson({ users });
      for (const one of users) {
        const policies = [...one.policies, ...one.attachedPolicies].join(',') || '-';
        out(`${one.id}\t${one.enabled ? 'enabled' : 'disabled'}\t${one.admin ? 'admin' : '-'}\t${one.readOnly ? 'config' : 'api'}\t${policies}\t${one.displayName}\n`);
      }
      return { elapsed: false };
    }),
  );
  command(user, 'add', 'create a user')
    .argument('<user>', 'user id: letters, digits, ".", "_" or "-"')
    .option('--display-name <name>', 'the name shown as owner (default: the id)')
    .option('--admin', 'may use the admin API')
    .action(
      runner(async (cmd) => {
        const [id] = cmd.args as [string];
        const flags = cmd.opts<AdminFlags>();
        const created = await call(flags, 'POST', 'users', { id, displayName: flags.displayName, admin: flags.admin === true });
        return flags.json ? printJson(created) : say(`created user ${id}`);
      }),
    );
  for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
    command(user, name, `${name} a user (a disabled user's keys and sessions are refused)`)
      .argument('<user>', 'user id')
      .action(
        runner(async (cmd) => {
        const [id] = cmd.args as [string];
          const flags = cmd.opts<AdminFlags>();
          const answer = await call(flags, 'PATCH', `users/${encodeURIComponent(id)}`, { enabled });
          return flags.json ? printJson(answer) : say(`${name}d user ${id}`);
        }),
      );
  }
  command(user, 'rm', 'remove a user and their keys (their buckets stay)')
    .argument('<user>', 'user id')
    .action(
      runner(async (cmd) => {
        const [id] = cmd.args as [string];
        await call(cmd.opts<AdminFlags>(), 'DELETE', `users/${encodeURIComponent(id)}`);
        return say(`removed user ${id}`);
      }),
    );

  command(key, 'ls', "list a user's access keys (never their secrets)")
    .argument('<user>', 'user id')
    .action(
      runner(async (cmd) => {
        const [id] = cmd.args as [string];
        const flags = cmd.opts<AdminFlags>();
        const { keys } = (await call(flags, 'GET', `users/${encodeURIComponent(id)}/keys`)) as { keys: KeyView[] };
        if (flags.json) return printJson({ keys });
        for (const one of keys) out(`${one.accessKeyId}\t${one.enabled ? 'enabled' : 'disabled'}\t${one.readOnly ? 'config' : 'api'}\t${one.created ?? ''}\n`);
        return { elapsed: false };
      }),
    );
  command(key, 'add', 'create an access key; its secret is shown this once')
    .argument('<user>', 'user id')
    .action(
      runner(async (cmd) => {
        const [id] = cmd.args as [string];
        const flags = cmd.opts<AdminFlags>();
        const created = (await call(flags, 'POST', `users/${encodeURIComponent(id)}/keys`)) as KeyView;
        if (flags.json) return printJson(created);
        out(`access key id:     ${created.accessKeyId}\nsecret access key: ${created.secretAccessKey}\n`);
        process.stderr.write('The secret is shown only now: keep it.\n');
        return { elapsed: false };
      }),
    );
  for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
    command(key, name, `${name} an access key`)
      .argument('<user>', 'user id')
      .argument('<access-key-id>', 'access key id')
      .action(
        runner(async (cmd) => {
          const [id, keyId] = cmd.args as [string, string];
          const flags = cmd.opts<AdminFlags>();
          const answer = await call(flags, 'PATCH', `users/${encodeURIComponent(id)}/keys/${encodeURIComponent(keyId)}`, { enabled });
          return flags.json ? printJson(answer) : say(`${name}d access key ${keyId}`);
        }),
      );
  }
  command(key, 'rm', 'remove an access key')
    .argument('<user>', 'user id')
    .argument('<access-key-id>', 'access key id')
    .action(
      runner(async (cmd) => {
          const [id, keyId] = cmd.args as [string, string];
        await call(cmd.opts<AdminFlags>(), 'DELETE', `users/${encodeURIComponent(id)}/keys/${encodeURIComponent(keyId)}`);
        return say(`removed access key ${keyId}`);
      }),
    );
}

/**
 * `tessera admin policy …`: what users may do, in the AWS policy language without a Principal.
 * Managed policies are named documents attached to any number of users (`add`, `attach`,
 * `detach`, `ls`, `show NAME`, `rm NAME`); a user's inline policies are kept with that user (`put`,
 * `ls USER`, `show USER NAME`, `rm USER NAME`).
 */
function registerPolicies(admin: Command): void {
  const policy = admin.command('policy').description('what users may do: policies in the AWS policy language (managed, attached to users, or inline in one user)');
  const managed = (name?: string) => `policies${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
  const inline = (user: string, name?: string) => `users/${encodeURIComponent(user)}/policies${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
  const attached = (user: string, name?: string) => `users/${encodeURIComponent(user)}/attached-policies${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
  command(policy, 'add', 'create a managed policy, or replace its document (in force at once for every user it is attached to)')
    .argument('<name>', 'policy name')
    .argument('<file>', 'the policy document (JSON), or - for standard input')
    .action(
      runner(async (cmd) => {
        const [name, file] = cmd.args as [string, string];
        const flags = cmd.opts<AdminFlags>();
        const answer = await call(flags, 'PUT', managed(name), await readDocument(file));
        return flags.json ? printJson(answer) : say(`stored policy ${name}`);
      }),
    );
  command(policy, 'attach', 'attach a managed policy to a user: the user is then confined to what their policies allow')
    .argument('<name>', 'policy name')
    .argument('<user>', 'user id')
    .action(
      runner(async (cmd) => {
        const [name, user] = cmd.args as [string, string];
        const flags = cmd.opts<AdminFlags>();
        const answer = await call(flags, 'PUT', attached(user, name));
        return flags.json ? printJson(answer) : say(`attached policy ${name} to ${user}`);
      }),
    );
  command(policy, 'detach', 'detach a managed policy from a user (a user left with no policy has their default access again)')
    .argument('<name>', 'policy name')
    .argument('<user>', 'user id')
    .action(
      runner(async (cmd) => {
        const [name, user] = cmd.args as [string, string];
        await call(cmd.opts<AdminFlags>(), 'DELETE', attached(user, name));
        return say(`detached policy ${name} from ${user}`);
      }),
    );
  command(policy, 'put', "store an inline policy in a user (replacing one of that name); the user is then confined to what their policies allow")
    .argument('<user>', 'user id')
    .argument('<name>', 'policy name')
    .argument('<file>', 'the policy document (JSON), or - for standard input')
    .action(
      runner(async (cmd) => {
        const [user, name, file] = cmd.args as [string, string, string];
        const flags = cmd.opts<AdminFlags>();
        const answer = await call(flags, 'PUT', inline(user, name), await readDocument(file));
        return flags.json ? printJson(answer) : say(`attached policy ${name} to ${user}`);
      }),
    );
  command(policy, 'ls', "list the managed policies (name, last change, users attached), or a user's policies (name, date, inline or attached)")
    .argument('[user]', 'user id')
    .action(
      runner(async (cmd) => {
        const [user] = cmd.args as [string | undefined];
        const flags = cmd.opts<AdminFlags>();
        if (user === undefined) {
          const { policies } = (await call(flags, 'GET', managed())) as { policies: Array<{ name: string; updated: string; users: string[] }> };
          if (flags.json) return printJson({ policies });
          for (const one of policies) out(`${one.name}\t${one.updated}\t${one.users.join(',') || '-'}\n`);
          return { elapsed: false };
        }
        const [own, attachedOnes] = await Promise.all([
          call(flags, 'GET', inline(user)) as Promise<{ policies: Array<{ name: string; created: string }> }>,
          call(flags, 'GET', attached(user)) as Promise<{ policies: Array<{ name: string; attached: string }> }>,
        ]);
        if (flags.json) return printJson({ policies: own.policies, attachedPolicies: attachedOnes.policies });
        for (const one of own.policies) out(`${one.name}\t${one.created}\tinline\n`);
        for (const one of attachedOnes.policies) out(`${one.name}\t${one.attached}\tattached\n`);
        return { elapsed: false };
      }),
    );
  command(policy, 'show', "print a managed policy's document (NAME), or a user's inline one (USER NAME)")
    .argument('<name-or-user>', 'policy name; or, with a second argument, user id')
    .argument('[name]', 'the inline policy name')
    .action(
      runner(async (cmd) => {
        const [first, second] = cmd.args as [string, string | undefined];
        return printJson(await call(cmd.opts<AdminFlags>(), 'GET', second === undefined ? managed(first) : inline(first, second)));
      }),
    );
  command(policy, 'rm', "delete a managed policy (NAME; refused while attached to a user), or a user's inline one (USER NAME)")
    .argument('<name-or-user>', 'policy name; or, with a second argument, user id')
    .argument('[name]', 'the inline policy name')
    .action(
      runner(async (cmd) => {
        const [first, second] = cmd.args as [string, string | undefined];
        await call(cmd.opts<AdminFlags>(), 'DELETE', second === undefined ? managed(first) : inline(first, second));
        return say(second === undefined ? `removed policy ${first}` : `removed policy ${second} of ${first}`);
      }),
    );
}

/** A policy document from a file or standard input (`-`), checked to be JSON before it is sent. */
async function readDocument(file: string): Promise<unknown> {
  const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${file === '-' ? 'standard input' : file} is not JSON`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `tessera admin kms-key …`: the local KMS key store behind SSE-KMS. */
function registerKmsKeys(admin: Command): void {
  const kms = admin.command('kms-key').description('keys of the local KMS key store (SSE-KMS)');
  command(kms, 'ls', 'list the keys (never their material)').action(
    runner(async (cmd) => {
      const flags = cmd.opts<AdminFlags>();
      const { keys } = (await call(flags, 'GET', 'kms-keys')) as { keys: KmsKeyView[] };
      if (flags.json) return printJson({ keys });
      for (const one of keys) out(`${one.keyId}	${one.enabled ? 'enabled' : 'disabled'}	${one.alias ?? '-'}	${one.created}	${one.description}\n`);
      return { elapsed: false };
    }),
  );
  command(kms, 'add', 'create a key; objects name it by id or ARN in x-amz-server-side-encryption-aws-kms-key-id')
    .option('--description <text>', 'what the key is for')
    .action(
      runner(async (cmd) => {
        const flags = cmd.opts<AdminFlags & { description?: string }>();
        const created = (await call(flags, 'POST', 'kms-keys', { description: flags.description ?? '' })) as KmsKeyView;
        return flags.json ? printJson(created) : say(`created KMS key ${created.keyId} (${created.arn})`);
      }),
    );
  for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
    command(kms, name, `${name} a key (objects under a disabled key cannot be read, and it seals nothing new)`)
      .argument('<key-id>', 'key id or ARN')
      .action(
        runner(async (cmd) => {
          const [id] = cmd.args as [string];
          const flags = cmd.opts<AdminFlags>();
          const answer = await call(flags, 'PATCH', `kms-keys/${encodeURIComponent(id)}`, { enabled });
          return flags.json ? printJson(answer) : say(`${name}d KMS key ${id}`);
        }),
      );
  }
}


function say(line: string): { elapsed: false } {
  out(`${line}\n`);
  return { elapsed: false };
}

function printJson(value: unknown): { elapsed: false } {
  out(`${JSON.stringify(value, null, 2)}\n`);
  return { elapsed: false };
}

/** One signed admin API request; the parsed JSON answer, or an AdminError. */
async function call(flags: CommonFlags, method: string, path: string, body?: unknown): Promise<unknown> {
  const connection = resolveConnection('s3', flags);
  const base = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(connection.endpoint) ? connection.endpoint : `http://${connection.endpoint}`);
  const url = new URL(`/-/admin/${path}`, base.origin);
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { 'content-length': String(payload.length) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  Object.assign(
    headers,
    signRequest({
      method,
      url,
      headers,
      payloadHash: createHash('sha256').update(payload).digest('hex'),
      credentials: connection.credentials,
      region: connection.region ?? 'us-east-1',
    }),
  );
  const { status, text } = await send(url, method, headers, payload);
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    // Not Tessera's admin API answering (an old server, a proxy's page).
    throw new AdminError(status, 'NotAdminApi', `the endpoint did not answer JSON: ${text.slice(0, 200)}`);
  }
  if (status >= 400) {
    throw new AdminError(status, String(parsed?.code ?? 'Error'), String(parsed?.message ?? text));
  }
  return parsed;
}

function send(url: URL, method: string, headers: Record<string, string>, payload: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : request)(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}
