import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';
import { APP, BOB_APP, login, NO_LIMITS, ok, panCall, poll, startPanServer } from './helpers.js';

describe('pan tokens, limits and the envelope', () => {
  let server: TestServer;

  before(async () => {
    server = await startPanServer({ panRateLimits: { ...NO_LIMITS, 'api/v1/user/info': 2 } });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('issues a JWT-shaped token valid 30 days, in the envelope', async () => {
    const { status, body } = await panCall(server.url, 'POST', '/api/v1/access_token', { json: { clientID: APP.clientID, clientSecret: APP.clientSecret } });
    assert.equal(status, 200);
    assert.equal(body.code, 0);
    assert.equal(body.message, 'ok');
    assert.equal(typeof body['x-traceID'], 'string');
    assert.ok(body['x-traceID'].length > 0);
    const [header, payload, signature] = body.data.accessToken.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), { alg: 'HS256', typ: 'JWT' });
    assert.equal(JSON.parse(Buffer.from(payload, 'base64url').toString()).sub, APP.clientID);
    assert.ok(signature.length > 20);
    assert.match(body.data.expiredAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
    const days = (Date.parse(body.data.expiredAt) - Date.now()) / 86_400_000;
    // At most a second over: expiredAt is rounded up to a whole second.
    assert.ok(days > 29.9 && days <= 30 + 1 / 86_400, `expires in ${days} days`);
  });

  it('answers code 401 (over HTTP 200) for wrong secrets, missing, unknown and forged tokens', async () => {
    const wrong = await panCall(server.url, 'POST', '/api/v1/access_token', { json: { clientID: APP.clientID, clientSecret: 'nope' } });
    assert.deepEqual([wrong.status, wrong.body.code, wrong.body.data], [200, 401, null]);
    const unknown = await panCall(server.url, 'POST', '/api/v1/access_token', { json: { clientID: 'who', clientSecret: 'nope' } });
    assert.equal(unknown.body.code, 401);
    const token = await login(server.url);
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: APP.clientID, exp: 9999999999 })).toString('base64url')}.${signature}`;
    for (const authorization of [undefined, 'garbage', forged]) {
      const { status, body } = await panCall(server.url, 'GET', '/api/v2/file/list', { token: authorization, query: { parentFileId: 0, limit: 10 } });
      assert.deepEqual([status, body.code], [200, 401]);
    }
    assert.equal((await panCall(server.url, 'GET', '/api/v2/file/list', { token, query: { parentFileId: 0, limit: 10 } })).body.code, 0);
  });

  it('keeps at most 3 live tokens per app: the 4th login revokes the 1st', async () => {
    const tokens = [];
    for (let i = 0; i < 4; i++) tokens.push(await login(server.url, BOB_APP));
    const codes = [];
    for (const token of tokens) codes.push((await panCall(server.url, 'GET', '/api/v2/file/list', { token, query: { limit: 1 } })).body.code);
    assert.deepEqual(codes, [401, 0, 0, 0]);
    // Another app's tokens are not touched.
    const alice = await login(server.url);
    assert.equal((await panCall(server.url, 'GET', '/api/v2/file/list', { token: alice, query: { limit: 1 } })).body.code, 0);
  });

  it('limits requests per app and endpoint with code 429', async () => {
    const alice = await login(server.url);
    const bob = await login(server.url, BOB_APP);
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const { status, body } = await panCall(server.url, 'GET', '/api/v1/user/info', { token: alice });
      assert.equal(status, 200);
      codes.push(body.code);
    }
    assert.ok(codes.includes(429), `codes ${codes}`);
    assert.ok(codes.every((code) => code === 0 || code === 429));
    const limited = await panCall(server.url, 'GET', '/api/v1/user/info', { token: alice });
    if (limited.body.code === 429) assert.match(limited.body.message, /请求太频繁/);
    // Bob's calls and Alice's other endpoints are counted apart.
    assert.equal((await panCall(server.url, 'GET', '/api/v1/user/info', { token: bob })).body.code, 0);
    assert.equal((await panCall(server.url, 'GET', '/api/v2/file/list', { token: alice, query: { limit: 1 } })).body.code, 0);
  });

  it('requires the Platform header and names unknown endpoints', async () => {
    const token = await login(server.url);
    const noPlatform = await panCall(server.url, 'GET', '/api/v2/file/list', { token, noPlatform: true, query: { limit: 1 } });
    assert.equal(noPlatform.status, 200);
    assert.notEqual(noPlatform.body.code, 0);
    assert.match(noPlatform.body.message, /Platform/);
    const unknown = await panCall(server.url, 'POST', '/api/v1/file/teleport', { token, json: {} });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 404);
    assert.match(unknown.body.message, /teleport/);
  });

  it('leaves SigV4-signed requests to a bucket named "api" to S3', async () => {
    const s3 = s3Client(server);
    await assert.rejects(s3.send(new HeadBucketCommand({ Bucket: 'api' })), (err: Error & { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode === 404);
  });
});

describe('pan token expiry', () => {
  let server: TestServer;

  before(async () => {
    server = await startPanServer({ panTokenTtlSeconds: 1 });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('refuses a token once it has expired, and not before its whole lifetime', async () => {
    const issuedAfter = Date.now();
    const { accessToken, expiredAt } = await ok(server.url, 'POST', '/api/v1/access_token', { json: { clientID: APP.clientID, clientSecret: APP.clientSecret } });
    assert.ok(Date.parse(expiredAt) - Date.now() <= 2000);
    // Whole seconds rounded up: a one-second token is never cut to a few milliseconds.
    assert.ok(Date.parse(expiredAt) >= issuedAfter + 1000, `${expiredAt} is less than a second after ${new Date(issuedAfter).toISOString()}`);
    assert.equal((await panCall(server.url, 'GET', '/api/v1/user/info', { token: accessToken })).body.code, 0);
    const code = await poll(async () => {
      const { body } = await panCall(server.url, 'GET', '/api/v1/user/info', { token: accessToken });
      return body.code === 0 ? undefined : body.code;
    }, 50, 100);
    assert.equal(code, 401);
  });
});
