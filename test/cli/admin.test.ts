/**
 * `tessera admin user|key|policy|kms-key …` (src/cli/admin.ts) against a real server: the
 * built CLI, signed as root through `-e -i -k` or the environment, and as a user it made.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/s3.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';
import { creds, runCli } from './run.js';

describe('tessera admin', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ singleNode: true });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('adds a user and a key (the secret printed once), lists, disables, enables and removes them', async () => {
    const added = await runCli(['admin', 'user', 'add', 'erin', '--display-name', 'Erin E.', ...creds(server)]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, 'created user erin\n');

    const key = await runCli(['admin', 'key', 'add', 'erin', '--json', ...creds(server)]);
    assert.equal(key.code, 0, key.stderr);
    const { accessKeyId, secretAccessKey } = JSON.parse(key.stdout) as { accessKeyId: string; secretAccessKey: string };
    assert.match(accessKeyId, /^[A-Z0-9]{20}$/);
    assert.equal(secretAccessKey.length, 40);

    const s3 = s3Client(server, { accessKeyId, secretAccessKey }, { maxAttempts: 1 });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'erin-bucket' }));
      await s3.send(new PutObjectCommand({ Bucket: 'erin-bucket', Key: 'a.txt', Body: 'erin' }));

      const users = await runCli(['admin', 'user', 'ls', ...creds(server)]);
      assert.equal(users.code, 0, users.stderr);
      assert.deepEqual(users.stdout.trim().split('\n'), ['root\tenabled\tadmin\tconfig\t-\troot', 'erin\tenabled\t-\tapi\t-\tErin E.']);
      const keys = await runCli(['admin', 'key', 'ls', 'erin', ...creds(server)]);
      assert.equal(keys.code, 0, keys.stderr);
      assert.match(keys.stdout, new RegExp(`^${accessKeyId}\tenabled\tapi\t\\d{4}-`));
      assert.ok(!keys.stdout.includes(secretAccessKey));

      const disabled = await runCli(['admin', 'key', 'disable', 'erin', accessKeyId, ...creds(server)]);
      assert.equal(disabled.code, 0, disabled.stderr);
      assert.equal(disabled.stdout, `disabled access key ${accessKeyId}\n`);
      await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'erin-bucket', Key: 'a.txt' })), (err: Error) => err.name === 'InvalidAccessKeyId');
      assert.equal((await runCli(['admin', 'key', 'enable', 'erin', accessKeyId, ...creds(server)])).code, 0);
      await s3.send(new GetObjectCommand({ Bucket: 'erin-bucket', Key: 'a.txt' }));

      // Credentials from the environment, as every object command takes them.
      const env = { TESSERA_ENDPOINT: server.url, TESSERA_ACCESS_KEY_ID: ROOT_ACCESS_KEY, TESSERA_ACCESS_KEY_SECRET: ROOT_SECRET_KEY };
      assert.equal((await runCli(['admin', 'user', 'disable', 'erin'], { env })).stdout, 'disabled user erin\n');
      await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'erin-bucket', Key: 'a.txt' })), (err: Error) => err.name === 'InvalidAccessKeyId');
      assert.equal((await runCli(['admin', 'user', 'enable', 'erin'], { env })).code, 0);
      await s3.send(new GetObjectCommand({ Bucket: 'erin-bucket', Key: 'a.txt' }));

      assert.equal((await runCli(['admin', 'key', 'rm', 'erin', accessKeyId, ...creds(server)])).stdout, `removed access key ${accessKeyId}\n`);
      await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'erin-bucket', Key: 'a.txt' })), (err: Error) => err.name === 'InvalidAccessKeyId');
      assert.equal((await runCli(['admin', 'user', 'rm', 'erin', ...creds(server)])).stdout, 'removed user erin\n');
      const gone = await runCli(['admin', 'key', 'ls', 'erin', ...creds(server)]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /^Error: NoSuchUser: The user "erin" does not exist\. \(HTTP 404\)\n$/);
    } finally {
      s3.destroy();
    }
  });

  it('attaches, lists, shows and removes a user policy, read from a file or standard input', async () => {
    assert.equal((await runCli(['admin', 'user', 'add', 'paula', ...creds(server)])).code, 0);
    const dir = await mkdtemp(join(tmpdir(), 'tessera-policy-'));
    try {
      const file = join(dir, 'read.json');
      const document = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/*' }] };
      await writeFile(file, JSON.stringify(document));
      assert.equal((await runCli(['admin', 'policy', 'put', 'paula', 'read', file, ...creds(server)])).stdout, 'attached policy read to paula\n');
      assert.match((await runCli(['admin', 'policy', 'ls', 'paula', ...creds(server)])).stdout, /^read\t\d{4}-/);
      assert.deepEqual(JSON.parse((await runCli(['admin', 'policy', 'show', 'paula', 'read', ...creds(server)])).stdout), document);
      const bad = join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify({ ...document, Statement: [{ ...document.Statement[0], Principal: '*' }] }));
      const refused = await runCli(['admin', 'policy', 'put', 'paula', 'bad', bad, ...creds(server)]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /MalformedPolicyDocument: Policy document should not specify a principal/);
      assert.equal((await runCli(['admin', 'policy', 'rm', 'paula', 'read', ...creds(server)])).stdout, 'removed policy read of paula\n');
      assert.equal((await runCli(['admin', 'policy', 'ls', 'paula', ...creds(server)])).stdout, '');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('adds managed policies from a file or standard input, attaches, lists, shows, detaches and removes them', async () => {
    const root = s3Client(server, undefined, { maxAttempts: 1 });
    await root.send(new CreateBucketCommand({ Bucket: 'cli-shared' }));
    await root.send(new PutObjectCommand({ Bucket: 'cli-shared', Key: 'a.txt', Body: 'shared' }));
    assert.equal((await runCli(['admin', 'user', 'add', 'quinn', ...creds(server)])).code, 0);
    const { accessKeyId, secretAccessKey } = JSON.parse((await runCli(['admin', 'key', 'add', 'quinn', '--json', ...creds(server)])).stdout);
    const quinn = s3Client(server, { accessKeyId, secretAccessKey }, { maxAttempts: 1 });
    const dir = await mkdtemp(join(tmpdir(), 'tessera-policy-'));
    try {
      const file = join(dir, 'read.json');
      const read = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::cli-shared/*' }] };
      await writeFile(file, JSON.stringify(read));
      assert.equal((await runCli(['admin', 'policy', 'add', 'read-shared', file, ...creds(server)])).stdout, 'stored policy read-shared\n');
      const noDelete = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::*' }] };
      const fromStdin = await runCli(['admin', 'policy', 'add', 'no-delete', '-', ...creds(server)], { input: JSON.stringify(noDelete) });
      assert.equal(fromStdin.stdout, 'stored policy no-delete\n', fromStdin.stderr);
      assert.equal((await runCli(['admin', 'policy', 'attach', 'read-shared', 'quinn', ...creds(server)])).stdout, 'attached policy read-shared to quinn\n');

      assert.match((await runCli(['admin', 'policy', 'ls', ...creds(server)])).stdout, /^no-delete\t\d{4}-[^\t]+\t-\nread-shared\t\d{4}-[^\t]+\tquinn\n$/);
      assert.match((await runCli(['admin', 'policy', 'ls', 'quinn', ...creds(server)])).stdout, /^read-shared\t\d{4}-[^\t]+\tattached\n$/);
      assert.deepEqual(JSON.parse((await runCli(['admin', 'policy', 'show', 'read-shared', ...creds(server)])).stdout), read);
      assert.ok((await runCli(['admin', 'user', 'ls', ...creds(server)])).stdout.includes('quinn\tenabled\t-\tapi\tread-shared\tquinn\n'));
      // In force: quinn reads the shared bucket and may do nothing else.
      assert.equal(await (await quinn.send(new GetObjectCommand({ Bucket: 'cli-shared', Key: 'a.txt' }))).Body!.transformToString(), 'shared');
      await assert.rejects(quinn.send(new CreateBucketCommand({ Bucket: 'quinn-own' })), (err: Error) => err.name === 'AccessDenied');

      const conflict = await runCli(['admin', 'policy', 'rm', 'read-shared', ...creds(server)]);
      assert.equal(conflict.code, 1);
      assert.match(conflict.stderr, /DeleteConflict: The policy "read-shared" is attached to "quinn": detach it first\. \(HTTP 409\)/);
      const notJson = join(dir, 'bad.json');
      await writeFile(notJson, '{"Version":');
      const refused = await runCli(['admin', 'policy', 'add', 'bad', notJson, ...creds(server)]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /bad\.json is not JSON/);

      assert.equal((await runCli(['admin', 'policy', 'detach', 'read-shared', 'quinn', ...creds(server)])).stdout, 'detached policy read-shared from quinn\n');
      await quinn.send(new CreateBucketCommand({ Bucket: 'quinn-own' }));
      assert.equal((await runCli(['admin', 'policy', 'rm', 'read-shared', ...creds(server)])).stdout, 'removed policy read-shared\n');
      assert.match((await runCli(['admin', 'policy', 'ls', ...creds(server)])).stdout, /^no-delete\t[^\n]+\n$/);
      const gone = await runCli(['admin', 'policy', 'show', 'read-shared', ...creds(server)]);
      assert.match(gone.stderr, /NoSuchEntity: .*\(HTTP 404\)/);
    } finally {
      root.destroy();
      quinn.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('makes, lists, disables and enables KMS keys (never showing their material); an unknown key is named', async () => {
    const added = await runCli(['admin', 'kms-key', 'add', '--description', 'backups', '--json', ...creds(server)]);
    assert.equal(added.code, 0, added.stderr);
    const key = JSON.parse(added.stdout) as { keyId: string; arn: string; enabled: boolean };
    assert.equal(key.enabled, true);
    assert.match(key.arn, new RegExp(`key/${key.keyId}$`));
    const listed = await runCli(['admin', 'kms-key', 'ls', ...creds(server)]);
    const line = listed.stdout.split('\n').find((row) => row.startsWith(key.keyId));
    assert.ok(line, listed.stdout);
    assert.deepEqual(line.split('\t').filter((_, i) => i !== 3), [key.keyId, 'enabled', '-', 'backups']);
    assert.equal((await runCli(['admin', 'kms-key', 'disable', key.keyId, ...creds(server)])).stdout, `disabled KMS key ${key.keyId}\n`);
    assert.match((await runCli(['admin', 'kms-key', 'ls', ...creds(server)])).stdout, new RegExp(`${key.keyId}\tdisabled`));
    assert.equal((await runCli(['admin', 'kms-key', 'enable', key.arn, ...creds(server)])).code, 0);
    const unknown = await runCli(['admin', 'kms-key', 'disable', 'no-such-key', ...creds(server)]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /KMS\.NotFoundException/);
  });

  it('says why it is refused: a read-only user, a non-admin caller, a duplicate', async () => {
    const readOnly = await runCli(['admin', 'user', 'disable', 'root', ...creds(server)]);
    assert.equal(readOnly.code, 1);
    assert.match(readOnly.stderr, /ReadOnlyUser: .*cannot be changed through the admin API\. \(HTTP 409\)/);

    assert.equal((await runCli(['admin', 'user', 'add', 'frank', ...creds(server)])).code, 0);
    const duplicate = await runCli(['admin', 'user', 'add', 'frank', ...creds(server)]);
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /UserAlreadyExists/);
    const key = JSON.parse((await runCli(['admin', 'key', 'add', 'frank', '--json', ...creds(server)])).stdout) as { accessKeyId: string; secretAccessKey: string };
    const asFrank = await runCli(['admin', 'user', 'ls', '-e', server.url, '-i', key.accessKeyId, '-k', key.secretAccessKey]);
    assert.equal(asFrank.code, 1);
    assert.match(asFrank.stderr, /AccessDenied: Only root or a user with the admin flag may use the admin API\. \(HTTP 403\)/);
  });
});
