/**
 * The console's sign-in and API over HTTP, and its temporary credentials with real clients:
 * @aws-sdk/client-s3 (Node) with a session token, presigned URLs carrying one, the exact errors
 * for expired, forged and missing tokens, and a user who sees only what is theirs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { expectError } from '../helpers/assertions.js';
import { consoleApi, issueAs, postSession, ROOT_USER, signInApi, type ConsoleSession } from '../helpers/console.js';
import { s3Client } from '../helpers/s3.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

const ALICE = { id: 'alice', displayName: 'Alice', accessKey: 'alice-access-key', secretKey: 'alice-secret-key-0123456789' };
const ALICE_USER = { ...ALICE, root: false };
const ROOT_BUCKET = 'root-console-bucket';
const ALICE_BUCKET = 'alice-console-bucket';
const HOUR = 3600 * 1000;

function tempClient(server: TestServer, session: Pick<ConsoleSession, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>, extra: Partial<S3ClientConfig> = {}): S3Client {
  return s3Client(server, { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken } as never, { maxAttempts: 1, ...extra });
}

async function expectS3Error(promise: Promise<unknown>, status: number, code: string, message: string): Promise<void> {
  await assert.rejects(promise, (err: { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(err.name, code);
    assert.equal(err.message, message);
    assert.equal(err.$metadata?.httpStatusCode, status);
    return true;
  });
}

describe('console: sign-in and temporary credentials', () => {
  let server: TestServer;
  let root: S3Client;

  before(async () => {
    server = await startServer({ config: { users: [ALICE] } });
    root = s3Client(server);
    await root.send(new CreateBucketCommand({ Bucket: ROOT_BUCKET }));
    await root.send(new PutObjectCommand({ Bucket: ROOT_BUCKET, Key: 'one.txt', Body: 'first object' }));
    await root.send(new PutObjectCommand({ Bucket: ROOT_BUCKET, Key: 'dir/two.bin', Body: Buffer.alloc(1000, 7) }));
  });
  after(async () => {
    root?.destroy();
    await server?.cleanup();
  });

  it('a wrong secret and an unknown access key get the same answer, naming neither', async () => {
    for (const body of [
      { accessKey: ROOT_ACCESS_KEY, secretKey: 'wrong' },
      { accessKey: 'nobody', secretKey: ROOT_SECRET_KEY },
      { accessKey: ALICE.accessKey, secretKey: ROOT_SECRET_KEY },
    ]) {
      const { status, json, headers } = await postSession(server, body);
      assert.equal(status, 401);
      assert.equal(json.code, 'InvalidCredentials');
      assert.equal(json.message, 'wrong access key or secret key');
      assert.equal(headers.get('cache-control'), 'no-store');
    }
  });

  it('sign-in takes a JSON object with both keys only', async () => {
    assert.equal((await postSession(server, { accessKey: ROOT_ACCESS_KEY })).status, 400);
    assert.equal((await postSession(server, { accessKey: ROOT_ACCESS_KEY, secretKey: 7 })).status, 400);
    assert.equal((await postSession(server, '{not json', { 'content-type': 'application/json' })).json.code, 'MalformedJSON');
    assert.equal((await postSession(server, '[]', { 'content-type': 'application/json' })).json.code, 'MalformedJSON');
    const form = await postSession(server, `accessKey=${ROOT_ACCESS_KEY}&secretKey=${ROOT_SECRET_KEY}`, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415);
    const huge = await postSession(server, JSON.stringify({ accessKey: 'a', secretKey: 'x'.repeat(20_000) }));
    assert.equal(huge.status, 400);
  });

  it('root signs in for an hour of temporary credentials, which work with @aws-sdk/client-s3 (sessionToken)', async () => {
    const before = Date.now();
    const session = await signInApi(server);
    assert.match(session.accessKeyId, /^ASIA/);
    assert.notEqual(session.secretAccessKey, ROOT_SECRET_KEY);
    assert.deepEqual(session.user, { id: 'root', displayName: 'root', root: true, panDrive: false });
    assert.equal(session.region, 'us-east-1');
    const lifetime = Date.parse(session.expiration) - before;
    assert.ok(lifetime > HOUR - 5000 && lifetime <= HOUR, `expires in ${lifetime} ms`);

    const client = tempClient(server, session);
    try {
      const buckets = await client.send(new ListBucketsCommand({}));
      assert.ok(buckets.Buckets?.some((bucket) => bucket.Name === ROOT_BUCKET));
      await client.send(new PutObjectCommand({ Bucket: ROOT_BUCKET, Key: 'from-session.txt', Body: 'written with temporary credentials' }));
      const got = await client.send(new GetObjectCommand({ Bucket: ROOT_BUCKET, Key: 'from-session.txt' }));
      assert.equal(await got.Body!.transformToString(), 'written with temporary credentials');
      // The object is root's, as if root's own keys had written it.
      const listed = await root.send(new ListObjectsV2Command({ Bucket: ROOT_BUCKET, Prefix: 'from-session', FetchOwner: true }));
      assert.equal(listed.Contents?.[0]?.Owner?.ID, 'root');

      // Presigned: X-Amz-Security-Token in the query, signed.
      const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: ROOT_BUCKET, Key: 'one.txt' }), { expiresIn: 300 });
      assert.match(url, /X-Amz-Security-Token=/);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'first object');
    } finally {
      client.destroy();
    }
  });

  it('an expired token is 400 ExpiredToken, in a header and in a presigned URL', async () => {
    const stale = issueAs(server, ROOT_USER, new Date(Date.now() - 2 * HOUR));
    const client = tempClient(server, stale);
    try {
      await expectS3Error(client.send(new ListBucketsCommand({})), 400, 'ExpiredToken', 'The provided token has expired.');
      await expectS3Error(client.send(new GetObjectCommand({ Bucket: ROOT_BUCKET, Key: 'one.txt' })), 400, 'ExpiredToken', 'The provided token has expired.');
      const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: ROOT_BUCKET, Key: 'one.txt' }), { expiresIn: 300 });
      const response = await fetch(url);
      assert.equal(response.status, 400);
      assert.match(await response.text(), /<Code>ExpiredToken<\/Code><Message>The provided token has expired.<\/Message>/);
    } finally {
      client.destroy();
    }
    // A token from a minute ago is still good: expiry, not issue time, decides.
    const recent = issueAs(server, ROOT_USER, new Date(Date.now() - 60_000));
    const fresh = tempClient(server, recent);
    try {
      await fresh.send(new ListBucketsCommand({}));
    } finally {
      fresh.destroy();
    }
  });

  it('a forged or altered token is 400 InvalidToken; so is a token sent with long-term keys', async () => {
    const session = await signInApi(server);
    const altered = Buffer.from(session.sessionToken, 'base64url');
    altered[altered.length - 1]! ^= 1;
    const forged = [randomBytes(80).toString('base64url'), altered.toString('base64url'), 'not a token at all', (await signInApi(server)).sessionToken];
    for (const sessionToken of forged) {
      const client = tempClient(server, { ...session, sessionToken });
      try {
        await expectS3Error(client.send(new ListBucketsCommand({})), 400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
      } finally {
        client.destroy();
      }
    }
    const longTerm = tempClient(server, { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY, sessionToken: session.sessionToken });
    try {
      await expectS3Error(longTerm.send(new ListBucketsCommand({})), 400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
    } finally {
      longTerm.destroy();
    }
  });

  it('a temporary access key without its token is InvalidAccessKeyId; a wrong temporary secret is SignatureDoesNotMatch', async () => {
    const session = await signInApi(server);
    const bare = s3Client(server, { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey }, { maxAttempts: 1 });
    const wrongSecret = tempClient(server, { ...session, secretAccessKey: ROOT_SECRET_KEY });
    try {
      await expectError(bare.send(new ListBucketsCommand({})), 403, 'InvalidAccessKeyId');
      await expectError(wrongSecret.send(new ListBucketsCommand({})), 403, 'SignatureDoesNotMatch');
    } finally {
      bare.destroy();
      wrongSecret.destroy();
    }
  });

  it('a user signed in through the console has exactly their own rights: root’s bucket stays out of reach', async () => {
    const session = await signInApi(server, ALICE.accessKey, ALICE.secretKey);
    assert.deepEqual(session.user, { id: 'alice', displayName: 'Alice', root: false, panDrive: false });
    const alice = tempClient(server, session);
    try {
      await alice.send(new CreateBucketCommand({ Bucket: ALICE_BUCKET }));
      await alice.send(new PutObjectCommand({ Bucket: ALICE_BUCKET, Key: 'mine.txt', Body: 'alice' }));
      const buckets = await alice.send(new ListBucketsCommand({}));
      assert.deepEqual(buckets.Buckets?.map((bucket) => bucket.Name), [ALICE_BUCKET]);
      await expectError(alice.send(new ListObjectsV2Command({ Bucket: ROOT_BUCKET })), 403, 'AccessDenied');
      await expectError(alice.send(new GetObjectCommand({ Bucket: ROOT_BUCKET, Key: 'one.txt' })), 403, 'AccessDenied');

      const api = await consoleApi(server, session, 'GET', 'buckets');
      assert.equal(api.status, 200);
      assert.deepEqual(api.json.buckets.map((bucket: { name: string }) => bucket.name), [ALICE_BUCKET]);
      const share = await consoleApi(server, session, 'POST', 'share', { bucket: ROOT_BUCKET, key: 'one.txt', expiresSeconds: 3600 });
      assert.equal(share.status, 403);
      assert.equal(share.json.code, 'AccessDenied');
    } finally {
      alice.destroy();
    }
  });

  it('GET buckets lists every bucket for root with its object count and bytes', async () => {
    const session = await signInApi(server);
    const { status, json } = await consoleApi(server, session, 'GET', 'buckets');
    assert.equal(status, 200);
    const mine = json.buckets.find((bucket: { name: string }) => bucket.name === ROOT_BUCKET);
    const objects = (await root.send(new ListObjectsV2Command({ Bucket: ROOT_BUCKET }))).Contents ?? [];
    assert.equal(mine.objects, objects.length);
    assert.equal(mine.bytes, objects.reduce((sum, object) => sum + (object.Size ?? 0), 0));
    assert.equal(mine.owner, 'root');
    assert.ok(!Number.isNaN(Date.parse(mine.created)));
    assert.ok(json.buckets.some((bucket: { name: string }) => bucket.name === ALICE_BUCKET), 'root sees alice’s bucket too');
  });

  it('the console API refuses an expired or forged session as S3 does', async () => {
    const stale = issueAs(server, ROOT_USER, new Date(Date.now() - 2 * HOUR));
    const expired = await consoleApi(server, stale, 'GET', 'buckets');
    assert.equal(expired.status, 400);
    assert.deepEqual([expired.json.code, expired.json.message], ['ExpiredToken', 'The provided token has expired.']);
    const session = await signInApi(server);
    const forged = await consoleApi(server, { ...session, sessionToken: randomBytes(60).toString('base64url') }, 'GET', 'buckets');
    assert.equal(forged.status, 400);
    assert.equal(forged.json.code, 'InvalidToken');
  });

  it('Share presigns with the long-term key, for up to 7 days, a link that plain HTTP can fetch; keys with any character work', async () => {
    const session = await signInApi(server);
    const keys = ['one.txt', 'dir/with space #hash ?query %percent 😀.txt', 'dir/../up.txt', 'a/./b.txt'];
    for (const key of keys) await root.send(new PutObjectCommand({ Bucket: ROOT_BUCKET, Key: key, Body: `bytes of ${key}` }));
    for (const key of keys) {
      const { status, json } = await consoleApi(server, session, 'POST', 'share', { bucket: ROOT_BUCKET, key, expiresSeconds: 7 * 24 * 3600 });
      assert.equal(status, 200, JSON.stringify(json));
      const url = new URL(json.path, server.url);
      assert.equal(url.searchParams.get('X-Amz-Expires'), '604800');
      assert.match(url.searchParams.get('X-Amz-Credential') ?? '', new RegExp(`^${ROOT_ACCESS_KEY}/`));
      assert.equal(url.searchParams.get('X-Amz-Security-Token'), null);
      assert.ok(Math.abs(Date.parse(json.expiration) - Date.now() - 7 * 24 * HOUR) < 60_000);
      const response = await fetch(url);
      assert.equal(response.status, 200, key);
      assert.equal(await response.text(), `bytes of ${key}`, key);
    }
  });

  it('Share refuses an expiry outside 1 second .. 7 days, a missing object, and an unsigned call', async () => {
    const session = await signInApi(server);
    for (const expiresSeconds of [0, 604_801, 1.5, '3600']) {
      const { status, json } = await consoleApi(server, session, 'POST', 'share', { bucket: ROOT_BUCKET, key: 'one.txt', expiresSeconds });
      assert.equal(status, 400, String(expiresSeconds));
      assert.equal(json.code, 'InvalidArgument');
    }
    const missing = await consoleApi(server, session, 'POST', 'share', { bucket: ROOT_BUCKET, key: 'no-such-key', expiresSeconds: 60 });
    assert.deepEqual([missing.status, missing.json.code], [404, 'NoSuchKey']);
    const unsigned = await fetch(new URL('/-/console/api/share', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-amz-security-token': session.sessionToken },
      body: JSON.stringify({ bucket: ROOT_BUCKET, key: 'one.txt', expiresSeconds: 60 }),
    });
    assert.equal(unsigned.status, 403);
    assert.equal(((await unsigned.json()) as { code: string }).code, 'AccessDenied');
  });
});

describe('console: sign-in attempts are limited', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ config: { users: [ALICE] } });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('after 10 failures from one address, every sign-in from it is refused for a while, a right one too', async () => {
    for (let attempt = 1; attempt <= 10; attempt += 1) {
      const { status } = await postSession(server, { accessKey: ROOT_ACCESS_KEY, secretKey: `guess-${attempt}` });
      assert.equal(status, 401, `attempt ${attempt}`);
    }
    for (const body of [{ accessKey: ROOT_ACCESS_KEY, secretKey: 'guess-11' }, { accessKey: ROOT_ACCESS_KEY, secretKey: ROOT_SECRET_KEY }, { accessKey: ALICE.accessKey, secretKey: ALICE.secretKey }]) {
      const { status, json, headers } = await postSession(server, body);
      assert.equal(status, 429);
      assert.equal(json.code, 'TooManyAttempts');
      const retryAfter = Number(headers.get('retry-after'));
      assert.ok(retryAfter > 0 && retryAfter <= 300, `Retry-After ${retryAfter}`);
    }
    // S3 with the long-term keys is not the console's sign-in: it keeps working.
    const root = s3Client(server);
    try {
      await root.send(new ListBucketsCommand({}));
    } finally {
      root.destroy();
    }
  });
});
