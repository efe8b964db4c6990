/**
 * Issue #16, part 1: users and access keys made at runtime through the admin API (`/-/admin/`),
 * kept in the metadata with sealed secrets, and live: a key disabled is refused by the very next
 * request (S3 SDK, ali-oss, presigned URLs), enabled again it works, with no restart. On each
 * metadata backend.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import OSS from 'ali-oss';
import pg from 'pg';
import { postgresBinDir, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { admin, type Credentials } from '../helpers/admin.js';
import { multipartBody, postForm, s3PolicyFields, xmlText } from '../helpers/form.js';
import { signedRequest, type RawResponse } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { login, ok, panCall, panConfig } from '../pan/helpers.js';

const CONFIG_USER = { id: 'carol', displayName: 'Carol', accessKey: 'carol-access-key', secretKey: 'carol-secret-key-0123456789' };

async function expectS3Refused(send: () => Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(send, (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(err.name, code);
    assert.equal(err.$metadata?.httpStatusCode, 403);
    return true;
  });
}

function ossAs(server: TestServer, credentials: Credentials, bucket: string, v4: boolean): OSS {
  return new OSS({
    accessKeyId: credentials.accessKeyId,
    accessKeySecret: credentials.secretAccessKey,
    bucket,
    endpoint: server.url,
    authorizationV4: v4,
    region: 'oss-cn-hangzhou',
    timeout: 60_000,
  } as OSS.Options);
}

/** Every byte the metadata keeps, as text: the SQLite files, or every row of the identity tables. */
async function metadataText(server: TestServer, postgres: TestPostgres | undefined): Promise<string> {
  if (!postgres) {
    const names = (await readdir(server.dataDir)).filter((name) => name.startsWith('meta.db'));
    assert.ok(names.includes('meta.db'));
    return (await Promise.all(names.map((name) => readFile(join(server.dataDir, name))))).map((bytes) => bytes.toString('latin1')).join('\n');
  }
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    const rows = await client.query('SELECT * FROM access_keys');
    assert.ok(rows.rows.length > 0);
    return JSON.stringify(rows.rows);
  } finally {
    await client.end();
  }
}

const backends: Array<[string, boolean]> = [['SQLite', false]];
if (postgresBinDir()) backends.push(['PostgreSQL', true]);

for (const [backend, onPostgres] of backends) {
  describe(`live users and access keys (${backend})`, () => {
    let server: TestServer;
    let postgres: TestPostgres | undefined;
    const clients: S3Client[] = [];
    /** Servers stopped for a restart: cleaned up (their data directory removed) after. */
    const stopped: TestServer[] = [];

    before(async () => {
      postgres = onPostgres ? await startPostgres() : undefined;
      server = await startServer({ singleNode: true, metadata: postgres?.url, config: { users: [CONFIG_USER] } });
    });
    after(async () => {
      for (const client of clients) client.destroy();
      await server?.cleanup();
      for (const old of stopped) await old.cleanup();
      await postgres?.cleanup();
    });

    it('creates a user and a key whose secret is answered once; lists and gets never show it', async () => {
      const created = await admin(server, 'POST', 'users', { id: 'alice', displayName: 'Alice' });
      assert.equal(created.status, 201, created.body);
      assert.equal(created.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual({ ...created.json, created: undefined }, {
        id: 'alice',
        displayName: 'Alice',
        enabled: true,
        admin: false,
        root: false,
        readOnly: false,
        created: undefined,
        policies: [],
        attachedPolicies: [],
      });
      const key = await admin(server, 'POST', 'users/alice/keys');
      assert.equal(key.status, 201, key.body);
      assert.match(key.json.accessKeyId, /^[A-Z0-9]{20}$/);
      assert.match(key.json.secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
      assert.equal(key.json.userId, 'alice');
      assert.equal(key.json.enabled, true);

      const listed = await admin(server, 'GET', 'users/alice/keys');
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.json.keys.map((one: { accessKeyId: string }) => one.accessKeyId), [key.json.accessKeyId]);
      assert.ok(!listed.body.includes(key.json.secretAccessKey) && !('secretAccessKey' in listed.json.keys[0]));
      const users = await admin(server, 'GET', 'users');
      assert.deepEqual(
        users.json.users.map((one: { id: string; readOnly: boolean; root: boolean }) => [one.id, one.readOnly, one.root]),
        [['root', true, true], ['carol', true, false], ['alice', false, false]],
      );
      const got = await admin(server, 'GET', 'users/alice');
      assert.equal(got.status, 200);
      assert.equal(got.json.displayName, 'Alice');
      assert.ok(!(await metadataText(server, postgres)).includes(key.json.secretAccessKey), 'the secret is sealed in the metadata');
    });

    it('a runtime user writes with the S3 SDK and ali-oss; its key disabled is refused at once (InvalidAccessKeyId), enabled works again', async () => {
      await admin(server, 'POST', 'users', { id: 'bob' });
      const key = (await admin(server, 'POST', 'users/bob/keys')).json as Credentials;
      const s3 = s3Client(server, key, { maxAttempts: 1 });
      clients.push(s3);
      const oss = ossAs(server, key, 'bob-bucket', false);
      const ossV4 = ossAs(server, key, 'bob-bucket', true);
      await oss.putBucket('bob-bucket');
      await s3.send(new PutObjectCommand({ Bucket: 'bob-bucket', Key: 'from-s3.txt', Body: 'by the S3 SDK' }));
      await ossV4.put('from-oss.txt', Buffer.from('by ali-oss'));
      const read = await s3.send(new GetObjectCommand({ Bucket: 'bob-bucket', Key: 'from-oss.txt' }));
      assert.equal(await read.Body!.transformToString(), 'by ali-oss');
      const presigned = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bob-bucket', Key: 'from-s3.txt' }), { expiresIn: 600 });
      assert.equal((await fetch(presigned)).status, 200);

      const postPolicy = () => {
        const auth = s3PolicyFields({ conditions: [{ bucket: 'bob-bucket' }, ['starts-with', '$key', 'forms/']], credentials: key });
        return postForm(server, '/bob-bucket', multipartBody([['key', 'forms/a.txt'], ...auth.fields], { filename: 'a.txt', content: 'posted', contentType: 'text/plain' }));
      };
      assert.equal((await postPolicy()).status, 204);

      const disabled = await admin(server, 'PATCH', `users/bob/keys/${key.accessKeyId}`, { enabled: false });
      assert.equal(disabled.status, 200, disabled.body);
      assert.equal(disabled.json.enabled, false);
      await expectS3Refused(() => s3.send(new GetObjectCommand({ Bucket: 'bob-bucket', Key: 'from-s3.txt' })), 'InvalidAccessKeyId');
      await assert.rejects(oss.get('from-s3.txt'), (err: { code?: string; status?: number }) => err.code === 'InvalidAccessKeyId' && err.status === 403);
      await assert.rejects(ossV4.get('from-s3.txt'), (err: { code?: string; status?: number }) => err.code === 'InvalidAccessKeyId' && err.status === 403);
      const refused = await fetch(presigned);
      assert.equal(refused.status, 403);
      assert.match(await refused.text(), /<Code>InvalidAccessKeyId<\/Code>/);
      const refusedPost = await postPolicy();
      assert.equal(refusedPost.status, 403);
      assert.equal(xmlText(refusedPost.body, 'Code'), 'InvalidAccessKeyId');

      assert.equal((await admin(server, 'PATCH', `users/bob/keys/${key.accessKeyId}`, { enabled: true })).status, 200);
      const again = await s3.send(new GetObjectCommand({ Bucket: 'bob-bucket', Key: 'from-s3.txt' }));
      assert.equal(await again.Body!.transformToString(), 'by the S3 SDK');
      assert.equal((await fetch(presigned)).status, 200);
      assert.equal((await postPolicy()).status, 204);

      // The user disabled: every key of theirs is refused; enabled: back.
      assert.equal((await admin(server, 'PATCH', 'users/bob', { enabled: false })).json.enabled, false);
      await expectS3Refused(() => s3.send(new GetObjectCommand({ Bucket: 'bob-bucket', Key: 'from-s3.txt' })), 'InvalidAccessKeyId');
      assert.equal((await admin(server, 'PATCH', 'users/bob', { enabled: true })).json.enabled, true);
      await s3.send(new GetObjectCommand({ Bucket: 'bob-bucket', Key: 'from-s3.txt' }));

      // Removed: refused, and gone from the lists.
      assert.equal((await admin(server, 'DELETE', `users/bob/keys/${key.accessKeyId}`)).status, 204);
      await expectS3Refused(() => s3.send(new GetObjectCommand({ Bucket: 'bob-bucket', Key: 'from-s3.txt' })), 'InvalidAccessKeyId');
      assert.deepEqual((await admin(server, 'GET', 'users/bob/keys')).json.keys, []);
    });

    it('only root and admin users may use it; others get 403 JSON', async () => {
      await admin(server, 'POST', 'users', { id: 'plain' });
      const plain = (await admin(server, 'POST', 'users/plain/keys')).json as Credentials;
      const refused = await admin(server, 'GET', 'users', undefined, { credentials: plain });
      assert.equal(refused.status, 403);
      assert.equal(refused.json.code, 'AccessDenied');
      const carol = { accessKeyId: CONFIG_USER.accessKey, secretAccessKey: CONFIG_USER.secretKey };
      assert.equal((await admin(server, 'POST', 'users', { id: 'by-carol' }, { credentials: carol })).status, 403);
      const unknown = await admin(server, 'GET', 'users', undefined, { credentials: { accessKeyId: 'TKNOSUCHKEY000000000', secretAccessKey: 'x' } });
      assert.equal(unknown.status, 403);
      assert.equal(unknown.json.code, 'InvalidAccessKeyId');
      const wrongSecret = await admin(server, 'GET', 'users', undefined, { credentials: { ...plain, secretAccessKey: 'wrong' } });
      assert.equal(wrongSecret.json.code, 'SignatureDoesNotMatch');

      await admin(server, 'POST', 'users', { id: 'ops', admin: true });
      const ops = (await admin(server, 'POST', 'users/ops/keys')).json as Credentials;
      const byOps = await admin(server, 'POST', 'users', { id: 'made-by-ops' }, { credentials: ops });
      assert.equal(byOps.status, 201, byOps.body);
      const presigned = await signedRequest(server.url, 'GET', '/-/admin/users?X-Amz-Credential=x&X-Amz-Signature=y');
      assert.equal(presigned.status, 403);
    });

    it('bad input 400, unknown 404, conflicts and read-only users 409, never 500', async () => {
      const expect = async (answer: Promise<RawResponse & { json: any }>, status: number, code: string) => {
        const res = await answer;
        assert.equal(res.status, status, res.body);
        assert.equal(res.json.code, code, res.body);
        assert.equal(typeof res.json.message, 'string');
      };
      await expect(admin(server, 'POST', 'users', undefined, { rawBody: '{"id": ' }), 400, 'MalformedJSON');
      await expect(admin(server, 'POST', 'users', undefined, { rawBody: '[]' }), 400, 'MalformedJSON');
      await expect(admin(server, 'POST', 'users', undefined, { rawBody: 'id=x', contentType: 'text/plain' }), 415, 'UnsupportedMediaType');
      await expect(admin(server, 'POST', 'users', { id: '../etc' }), 400, 'InvalidArgument');
      await expect(admin(server, 'POST', 'users', { id: 'ok', admin: 'yes' }), 400, 'InvalidArgument');
      await expect(admin(server, 'POST', 'users', { id: 'ok', displayName: '' }), 400, 'InvalidArgument');
      await expect(admin(server, 'POST', 'users', { id: 'x'.repeat(65) }), 400, 'InvalidArgument');
      await expect(admin(server, 'POST', 'users', undefined, { rawBody: JSON.stringify({ id: 'big', displayName: 'x'.repeat(20_000) }) }), 400, 'MaxMessageLengthExceeded');
      await expect(admin(server, 'GET', 'users/nobody'), 404, 'NoSuchUser');
      await expect(admin(server, 'POST', 'users/nobody/keys'), 404, 'NoSuchUser');
      await expect(admin(server, 'GET', 'users/nobody/keys'), 404, 'NoSuchUser');
      await expect(admin(server, 'PATCH', 'users/nobody', { enabled: false }), 404, 'NoSuchUser');
      await expect(admin(server, 'DELETE', 'users/nobody'), 404, 'NoSuchUser');
      await admin(server, 'POST', 'users', { id: 'dup' });
      await expect(admin(server, 'POST', 'users', { id: 'dup' }), 409, 'UserAlreadyExists');
      await expect(admin(server, 'POST', 'users', { id: 'carol' }), 409, 'UserAlreadyExists');
      await expect(admin(server, 'PATCH', 'users/dup', { enabled: 'no' }), 400, 'InvalidArgument');
      await expect(admin(server, 'PATCH', 'users/dup/keys/TKNOSUCHKEY000000000', { enabled: false }), 404, 'NoSuchAccessKey');
      await expect(admin(server, 'DELETE', 'users/dup/keys/TKNOSUCHKEY000000000'), 404, 'NoSuchAccessKey');
      for (const id of ['root', 'carol']) {
        await expect(admin(server, 'PATCH', `users/${id}`, { enabled: false }), 409, 'ReadOnlyUser');
        await expect(admin(server, 'DELETE', `users/${id}`), 409, 'ReadOnlyUser');
        await expect(admin(server, 'POST', `users/${id}/keys`), 409, 'ReadOnlyUser');
      }
      const carolKeys = await admin(server, 'GET', 'users/carol/keys');
      assert.deepEqual(carolKeys.json.keys, [{ accessKeyId: CONFIG_USER.accessKey, userId: 'carol', enabled: true, readOnly: true }]);
      await expect(admin(server, 'GET', 'nothing-here'), 404, 'NotFound');
      await expect(admin(server, 'PUT', 'users'), 405, 'MethodNotAllowed');
      // Removing a user takes their keys with them.
      const dupKey = (await admin(server, 'POST', 'users/dup/keys')).json as Credentials;
      assert.equal((await admin(server, 'DELETE', 'users/dup')).status, 204);
      await expect(admin(server, 'GET', 'users/dup'), 404, 'NoSuchUser');
      const s3 = s3Client(server, dupKey, { maxAttempts: 1 });
      clients.push(s3);
      await expectS3Refused(() => s3.send(new GetObjectCommand({ Bucket: 'bob-bucket', Key: 'k' })), 'InvalidAccessKeyId');
      // Made again with the same id: no old key comes back.
      await admin(server, 'POST', 'users', { id: 'dup' });
      assert.deepEqual((await admin(server, 'GET', 'users/dup/keys')).json.keys, []);
    });

    it('users and keys survive a restart (secrets opened with the same master key)', async () => {
      await admin(server, 'POST', 'users', { id: 'durable' });
      const key = (await admin(server, 'POST', 'users/durable/keys')).json as Credentials;
      await server.stop();
      stopped.push(server);
      server = await startServer({ singleNode: true, dataDir: server.dataDir, metadata: postgres?.url, config: { users: [CONFIG_USER] } });
      const s3 = s3Client(server, key, { maxAttempts: 1 });
      clients.push(s3);
      await assert.rejects(
        () => s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'k' })),
        (err: Error) => err.name === 'NoSuchBucket',
      );
    });
  });
}

describe('the master key at start', () => {
  it('a TESSERA_MASTER_KEY that is not 32 bytes stops the start with a clear error', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tessera-test-'));
    try {
      await assert.rejects(startServer({ singleNode: true, dataDir, env: { TESSERA_MASTER_KEY: 'too-short' } }), /TESSERA_MASTER_KEY must be 32 bytes/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('a good one is used (and no master.key is written)', async () => {
    const server = await startServer({ singleNode: true, env: { TESSERA_MASTER_KEY: 'ab'.repeat(32) } });
    try {
      const created = await admin(server, 'POST', 'users', { id: 'env-key' });
      assert.equal(created.status, 201);
      assert.ok(!(await readdir(server.dataDir)).includes('master.key'));
    } finally {
      await server.cleanup();
    }
  });
});

describe('a 123pan app acting as a runtime user', () => {
  const GINA_APP = { clientID: 'gina-app', clientSecret: 'gina-app-secret', user: 'gina' };
  let first: TestServer | undefined;
  let server: TestServer | undefined;

  after(async () => {
    await server?.cleanup();
    await first?.cleanup();
  });

  it('is refused (code 401) while its user is disabled, token and sign-in alike, and works again once enabled', async () => {
    // The app names a user made through the admin API: that user exists before the config that names them is loaded.
    first = await startServer({ singleNode: true });
    assert.equal((await admin(first, 'POST', 'users', { id: 'gina' })).status, 201);
    await first.stop();
    server = await startServer({ singleNode: true, dataDir: first.dataDir, config: panConfig({ users: [], panApps: [GINA_APP] }) });
    const token = await login(server.url, GINA_APP);
    const info = await ok<{ nickname: string }>(server.url, 'GET', '/api/v1/user/info', { token });
    assert.equal(info.nickname, 'gina');

    assert.equal((await admin(server, 'PATCH', 'users/gina', { enabled: false })).status, 200);
    const refused = await panCall(server.url, 'GET', '/api/v1/user/info', { token });
    assert.equal(refused.body.code, 401, JSON.stringify(refused.body));
    const signIn = await panCall(server.url, 'POST', '/api/v1/access_token', { json: { clientID: GINA_APP.clientID, clientSecret: GINA_APP.clientSecret } });
    assert.equal(signIn.body.code, 401, JSON.stringify(signIn.body));

    assert.equal((await admin(server, 'PATCH', 'users/gina', { enabled: true })).status, 200);
    assert.equal((await ok<{ nickname: string }>(server.url, 'GET', '/api/v1/user/info', { token: await login(server.url, GINA_APP) })).nickname, 'gina');
  });
});
