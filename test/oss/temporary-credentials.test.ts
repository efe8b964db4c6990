import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OSS from 'ali-oss';
import { issueAs, ROOT_USER, signInApi } from '../helpers/console.js';
import { rawRequest } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { expectOssError, ossClient, type AliOss, type Signature } from './helpers.js';

// The console's temporary credentials (access key, secret, security token) used through the OSS
// dialect, as ali-oss sends them with `stsToken`: the token names the user and the secret the
// request must be signed with, exactly as `x-amz-security-token` does for S3.

const BUCKET = 'sts-bucket';
const HOUR = 60 * 60 * 1000;
const ALICE = { id: 'alice', displayName: 'Alice', accessKey: 'alice-access-key', secretKey: 'alice-secret-key-0123456789' };

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

function stsClient(server: TestServer, signature: Signature, credentials: Credentials, bucket = BUCKET): AliOss {
  return new OSS({
    accessKeyId: credentials.accessKeyId,
    accessKeySecret: credentials.secretAccessKey,
    stsToken: credentials.sessionToken,
    bucket,
    endpoint: `http://localhost:${server.port}`,
    sldEnable: true,
    authorizationV4: signature === 'v4',
    region: 'oss-cn-hangzhou',
    timeout: 60_000,
  } as OSS.Options);
}

describe('OSS with temporary credentials (x-oss-security-token)', () => {
  let server: TestServer;

  before(async () => {
    // One process on SQLite even in the cluster pass: issueAs reads the token key from meta.db.
    server = await startServer({ singleNode: true, config: { users: [ALICE] } });
    await ossClient(server, 'v1', BUCKET).putBucket(BUCKET);
  });
  after(async () => {
    await server?.cleanup();
  });

  for (const signature of ['v1', 'v4'] as const) {
    it(`${signature}: ali-oss with stsToken writes, reads and lists as the session's user, and signs URLs that carry the token`, async () => {
      const session = await signInApi(server);
      const client = stsClient(server, signature, session);
      const key = `from-session-${signature}.txt`;
      await client.put(key, Buffer.from(`written through OSS with a ${signature} signature`));
      const got = await client.get(key);
      assert.equal(got.content.toString(), `written through OSS with a ${signature} signature`);
      const listed = await client.list({ prefix: 'from-session-' }, {});
      assert.ok(listed.objects.some((object: { name: string; owner?: { id: string } }) => object.name === key && object.owner?.id === 'root'));

      const url: string = signature === 'v1' ? client.signatureUrl(key, { expires: 300 }) : await client.signatureUrlV4('GET', 300, {}, key);
      assert.match(url, signature === 'v1' ? /[?&]security-token=/ : /x-oss-security-token=/);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), `written through OSS with a ${signature} signature`);
    });
  }

  it("a user's session is that user: their own bucket is theirs, root's is not", async () => {
    const session = await signInApi(server, ALICE.accessKey, ALICE.secretKey);
    const own = stsClient(server, 'v4', session, 'alice-sts');
    await own.putBucket('alice-sts');
    await own.put('mine.txt', Buffer.from('alice'));
    assert.equal((await own.get('mine.txt')).content.toString(), 'alice');
    await expectOssError(stsClient(server, 'v4', session).get('from-session-v1.txt'), 403, 'AccessDenied');
  });

  it('a tampered token, a token of another key and a token with a long-term key are 403 InvalidSecurityToken; nothing is written', async () => {
    const session = await signInApi(server);
    const other = await signInApi(server);
    const tampered = { ...session, sessionToken: session.sessionToken.slice(0, -4) + (session.sessionToken.endsWith('AAAA') ? 'BBBB' : 'AAAA') };
    await expectOssError(stsClient(server, 'v1', tampered).put('tampered.txt', Buffer.from('x')), 403, 'InvalidSecurityToken');
    const swapped = { ...session, sessionToken: other.sessionToken };
    await expectOssError(stsClient(server, 'v4', swapped).put('swapped.txt', Buffer.from('x')), 403, 'InvalidSecurityToken');
    const longTerm = { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey, sessionToken: session.sessionToken };
    await expectOssError(stsClient(server, 'v1', longTerm, 'alice-sts').put('long-term.txt', Buffer.from('x')), 403, 'InvalidSecurityToken');
    // A temporary key without its token names nobody.
    const tokenless = ossClient(server, 'v1', BUCKET);
    tokenless.options.accessKeyId = session.accessKeyId;
    tokenless.options.accessKeySecret = session.secretAccessKey;
    await expectOssError(tokenless.put('tokenless.txt', Buffer.from('x')), 403, 'InvalidAccessKeyId');

    const root = ossClient(server, 'v1', BUCKET);
    const names = (await root.list({ prefix: '' }, {})).objects.map((object: { name: string }) => object.name);
    for (const refused of ['tampered.txt', 'swapped.txt', 'long-term.txt', 'tokenless.txt']) assert.ok(!names.includes(refused), refused);
  });

  it('an expired token is 403 SecurityTokenExpired, in a header and in a signed URL', async () => {
    const stale = issueAs(server, ROOT_USER, new Date(Date.now() - 2 * HOUR));
    const client = stsClient(server, 'v4', stale);
    await expectOssError(client.get('from-session-v1.txt'), 403, 'SecurityTokenExpired');
    const url: string = stsClient(server, 'v1', stale).signatureUrl('from-session-v1.txt', { expires: 300 });
    const response = await fetch(url);
    assert.equal(response.status, 403);
    assert.match(await response.text(), /<Code>SecurityTokenExpired<\/Code>/);
  });

  it('a token in both the header and the URL is 400 InvalidArgument', async () => {
    const session = await signInApi(server);
    const url: string = stsClient(server, 'v1', session).signatureUrl('from-session-v1.txt', { expires: 300 });
    const response = await rawRequest(url, { headers: { 'x-oss-security-token': session.sessionToken } });
    assert.equal(response.status, 400);
    assert.match(response.body, /<Code>InvalidArgument<\/Code>/);
  });
});
