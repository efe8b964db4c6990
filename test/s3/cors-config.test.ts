/**
 * PutBucketCors, GetBucketCors and DeleteBucketCors through the AWS SDK, and what S3 refuses in
 * them over raw HTTP: malformed documents, methods and wildcards it does not take, more than 100
 * rules, a body without Content-MD5 or a flexible checksum, another user's bucket.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  PutBucketCorsCommand,
  type CORSRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { assertOk, assertS3Error, expectError } from '../helpers/assertions.js';
import { rawRequest, signedRequest, type RawResponse } from '../helpers/raw.js';
import { useS3Server } from '../helpers/s3.js';

const ALICE = { accessKey: 'cors-alice-key', secretKey: 'cors-alice-secret-0123456789', displayName: 'Alice', id: 'alice' };
const BOB = { accessKey: 'cors-bob-key', secretKey: 'cors-bob-secret-0123456789', displayName: 'Bob', id: 'bob' };
const BUCKET = 'cors-config';

const RULES: CORSRule[] = [
  {
    ID: 'uploads',
    AllowedOrigins: ['http://*.example.com', 'https://app.example.org'],
    AllowedMethods: ['PUT', 'POST', 'DELETE'],
    AllowedHeaders: ['*'],
    ExposeHeaders: ['ETag', 'x-amz-request-id'],
    MaxAgeSeconds: 3000,
  },
  { AllowedOrigins: ['*'], AllowedMethods: ['GET', 'HEAD'] },
];

const md5 = (body: string) => createHash('md5').update(body).digest('base64');

/** A CORSConfiguration document of the given rule bodies. */
const documentOf = (...rules: string[]) => `<CORSConfiguration>${rules.map((rule) => `<CORSRule>${rule}</CORSRule>`).join('')}</CORSConfiguration>`;
const simpleRule = '<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>';

describe('S3 bucket CORS configuration', () => {
  let s3: S3Client;
  let alice: S3Client;
  let bob: S3Client;
  let url: string;
  let sentHeaders: Record<string, string> = {};

  useS3Server({ users: [ALICE, BOB], bucket: BUCKET }, (env) => {
    s3 = env.s3;
    [alice, bob] = env.users as [S3Client, S3Client];
    url = env.server.url;
    s3.middlewareStack.add(
      (next) => async (args) => {
        sentHeaders = { ...(args.request as { headers: Record<string, string> }).headers };
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordCorsRequestHeaders' },
    );
  });

  /** PUT ?cors signed by root with a correct Content-MD5 (or the headers given instead). */
  const putDocument = (body: string, headers: Record<string, string> = { 'content-md5': md5(body) }, bucket = BUCKET): Promise<RawResponse> =>
    signedRequest(url, 'PUT', `/${bucket}?cors`, { body, headers });

  it('PutBucketCors stores the rules, GetBucketCors gives them back as sent, DeleteBucketCors removes them', async () => {
    await s3.send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: RULES } }));
    // The SDK proves the body with a flexible checksum, not Content-MD5: that is accepted.
    assert.match(sentHeaders['x-amz-checksum-crc32'] ?? '', /^[A-Za-z0-9+/]{6}==$/, JSON.stringify(sentHeaders));
    assert.equal(sentHeaders['content-md5'], undefined);
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: BUCKET }));
    assert.deepEqual(got.CORSRules, RULES);

    // A second put replaces the whole configuration.
    const replacement: CORSRule[] = [{ AllowedOrigins: ['http://only.example'], AllowedMethods: ['GET'], AllowedHeaders: ['Content-Type', 'x-amz-*'] }];
    await s3.send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: replacement } }));
    assert.deepEqual((await s3.send(new GetBucketCorsCommand({ Bucket: BUCKET }))).CORSRules, replacement);

    const deleted = await s3.send(new DeleteBucketCorsCommand({ Bucket: BUCKET }));
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    await expectError(s3.send(new GetBucketCorsCommand({ Bucket: BUCKET })), 404, 'NoSuchCORSConfiguration');
    // Deleting what is not there is no error.
    assert.equal((await s3.send(new DeleteBucketCorsCommand({ Bucket: BUCKET }))).$metadata.httpStatusCode, 204);
  });

  it("GetBucketCors without rules is 404 NoSuchCORSConfiguration in S3's words, naming the bucket", async () => {
    const res = await signedRequest(url, 'GET', `/${BUCKET}?cors`);
    const doc = assertS3Error(res, 404, 'NoSuchCORSConfiguration');
    assert.equal(doc.Message, 'The CORS configuration does not exist');
    assert.equal(doc.BucketName, BUCKET);
  });

  it('GetBucketCors answers S3\'s document: the namespace, one CORSRule each, only the members set', async () => {
    const body = documentOf(
      '<ID>first</ID><AllowedOrigin>http://a.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>0</MaxAgeSeconds>',
      simpleRule,
    );
    assertOk(await putDocument(body));
    const res = await signedRequest(url, 'GET', `/${BUCKET}?cors`);
    assertOk(res);
    assert.equal(
      res.body,
      '<?xml version="1.0" encoding="UTF-8"?>\n<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<CORSRule><AllowedHeader>x-amz-*</AllowedHeader><AllowedMethod>GET</AllowedMethod><AllowedOrigin>http://a.example</AllowedOrigin>' +
        '<ExposeHeader>ETag</ExposeHeader><ID>first</ID><MaxAgeSeconds>0</MaxAgeSeconds></CORSRule>' +
        '<CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>',
    );
    assert.equal(res.headers['content-type'], 'application/xml');
  });

  it('PutBucketCors needs Content-MD5 or a flexible checksum, and checks the one sent', async () => {
    const body = documentOf(simpleRule);
    const missing = assertS3Error(await putDocument(body, {}), 400, 'InvalidRequest');
    assert.equal(missing.Message, 'Missing required header for this request: Content-MD5 OR x-amz-checksum-*');
    assertS3Error(await putDocument(body, { 'content-md5': md5('something else') }), 400, 'BadDigest');
    assertS3Error(await putDocument(body, { 'content-md5': 'not-base64' }), 400, 'InvalidDigest');
    const sha256 = createHash('sha256').update(body).digest('base64');
    assertOk(await putDocument(body, { 'x-amz-checksum-sha256': sha256, 'x-amz-sdk-checksum-algorithm': 'SHA256' }));
    assertS3Error(await putDocument(body, { 'x-amz-checksum-sha256': createHash('sha256').update('x').digest('base64') }), 400, 'BadDigest');
    assertOk(await putDocument(body));
  });

  it('a document that does not fit the schema is 400 MalformedXML, and changes nothing', async () => {
    const kept = documentOf('<AllowedOrigin>http://kept.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod>');
    assertOk(await putDocument(kept));
    const tooMany = documentOf(...Array.from({ length: 101 }, () => simpleRule));
    for (const body of [
      'not xml at all',
      '<CORSConfiguration>',
      '<Other><CORSRule>' + simpleRule + '</CORSRule></Other>',
      '<CORSConfiguration></CORSConfiguration>',
      documentOf(''),
      documentOf('<AllowedMethod>GET</AllowedMethod>'),
      documentOf('<AllowedOrigin>*</AllowedOrigin>'),
      documentOf(simpleRule + '<MaxAgeSeconds>soon</MaxAgeSeconds>'),
      documentOf(simpleRule + '<MaxAgeSeconds>-1</MaxAgeSeconds>'),
      documentOf(simpleRule + '<MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>2</MaxAgeSeconds>'),
      documentOf(simpleRule + '<ID>a</ID><ID>b</ID>'),
      documentOf(simpleRule + '<Unknown>x</Unknown>'),
      documentOf('<AllowedOrigin><Nested/></AllowedOrigin><AllowedMethod>GET</AllowedMethod>'),
      documentOf(simpleRule).replace('</CORSConfiguration>', '<ResponseVary>true</ResponseVary></CORSConfiguration>'),
      tooMany,
    ]) {
      assertS3Error(await putDocument(body), 400, 'MalformedXML');
    }
    // 100 rules are allowed.
    const hundred = documentOf(...Array.from({ length: 100 }, () => simpleRule));
    const res = await signedRequest(url, 'GET', `/${BUCKET}?cors`);
    assert.match(res.body, /<AllowedOrigin>http:\/\/kept\.example<\/AllowedOrigin>/);
    assertOk(await putDocument(hundred));
    assert.equal((await s3.send(new GetBucketCorsCommand({ Bucket: BUCKET }))).CORSRules?.length, 100);
  });

  it('a method S3 does not allow, or two wildcards in an origin or a header, is 400 InvalidRequest in S3\'s words', async () => {
    await expectError(
      s3.send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] }] } })),
      400,
      'InvalidRequest',
    );
    const cases: Array<[string, string]> = [
      ['<AllowedOrigin>*</AllowedOrigin><AllowedMethod>OPTIONS</AllowedMethod>', 'Found unsupported HTTP method in CORS config. Unsupported method is OPTIONS'],
      ['<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>', 'Found unsupported HTTP method in CORS config. Unsupported method is get'],
      ['<AllowedOrigin>*</AllowedOrigin><AllowedMethod></AllowedMethod>', 'Found unsupported HTTP method in CORS config. Unsupported method is '],
      ['<AllowedOrigin>*example*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>', 'AllowedOrigin "*example*.com" can not have more than one wildcard.'],
      [simpleRule + '<AllowedHeader>x-*-*</AllowedHeader>', 'AllowedHeader "x-*-*" can not have more than one wildcard.'],
    ];
    for (const [rule, message] of cases) {
      const res = await putDocument(documentOf(simpleRule, rule));
      assertS3Error(res, 400, 'InvalidRequest');
      // The raw body: the parser in assertS3Error trims the empty method's trailing space.
      assert.ok(res.body.includes(`<Message>${message.replace(/"/g, '&quot;')}</Message>`), res.body);
    }
    const longId = assertS3Error(await putDocument(documentOf(simpleRule + `<ID>${'i'.repeat(256)}</ID>`)), 400, 'InvalidArgument');
    assert.equal(longId.ArgumentName, 'ID');
    assertOk(await putDocument(documentOf(simpleRule + `<ID>${'i'.repeat(255)}</ID>`)));
    // An empty origin is a value like any (S3 takes it).
    assertOk(await putDocument(documentOf('<AllowedOrigin></AllowedOrigin><AllowedMethod>GET</AllowedMethod>')));
  });

  it('a document over 64 KB is refused before it is parsed', async () => {
    const body = documentOf(simpleRule + `<ID>${'x'.repeat(70 * 1024)}</ID>`);
    assertS3Error(await putDocument(body), 400, 'MaxMessageLengthExceeded');
  });

  it('only the bucket owner (or root) reads and changes its rules; a missing bucket is NoSuchBucket', async () => {
    await alice.send(new CreateBucketCommand({ Bucket: 'cors-alices' }));
    const config = { CORSRules: [{ AllowedOrigins: ['http://alice.example'], AllowedMethods: ['GET'] }] };
    await alice.send(new PutBucketCorsCommand({ Bucket: 'cors-alices', CORSConfiguration: config }));
    await expectError(bob.send(new PutBucketCorsCommand({ Bucket: 'cors-alices', CORSConfiguration: { CORSRules: RULES } })), 403, 'AccessDenied');
    await expectError(bob.send(new GetBucketCorsCommand({ Bucket: 'cors-alices' })), 403, 'AccessDenied');
    await expectError(bob.send(new DeleteBucketCorsCommand({ Bucket: 'cors-alices' })), 403, 'AccessDenied');
    assert.deepEqual((await alice.send(new GetBucketCorsCommand({ Bucket: 'cors-alices' }))).CORSRules, config.CORSRules, 'unchanged by Bob');
    assert.deepEqual((await s3.send(new GetBucketCorsCommand({ Bucket: 'cors-alices' }))).CORSRules, config.CORSRules, 'root reads any');

    for (const send of [
      () => s3.send(new PutBucketCorsCommand({ Bucket: 'cors-missing', CORSConfiguration: { CORSRules: RULES } })),
      () => s3.send(new GetBucketCorsCommand({ Bucket: 'cors-missing' })),
      () => s3.send(new DeleteBucketCorsCommand({ Bucket: 'cors-missing' })),
    ]) {
      await expectError(send(), 404, 'NoSuchBucket');
    }
    // The bucket is checked before the body: a missing bucket is NoSuchBucket even with a bad document.
    assertS3Error(await putDocument('not xml', undefined, 'cors-missing'), 404, 'NoSuchBucket');
    // Unsigned: AccessDenied, as for any request.
    assertS3Error(await rawRequest(url, { method: 'GET', path: `/${BUCKET}?cors` }), 403, 'AccessDenied');
  });

  it('a deleted bucket takes its rules: made again, it has none', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'cors-reborn' }));
    await s3.send(new PutBucketCorsCommand({ Bucket: 'cors-reborn', CORSConfiguration: { CORSRules: RULES } }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'cors-reborn' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'cors-reborn' }));
    await expectError(s3.send(new GetBucketCorsCommand({ Bucket: 'cors-reborn' })), 404, 'NoSuchCORSConfiguration');
  });

  it('?cors is a bucket sub-resource: on an object it is 501 NotImplemented, POST is 405', async () => {
    await s3.send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: RULES } }));
    assertS3Error(await signedRequest(url, 'GET', `/${BUCKET}/key?cors`), 501, 'NotImplemented');
    assertS3Error(await signedRequest(url, 'PUT', `/${BUCKET}/key?cors`, { body: documentOf(simpleRule) }), 501, 'NotImplemented');
    assertS3Error(await signedRequest(url, 'POST', `/${BUCKET}?cors`, { body: documentOf(simpleRule) }), 405, 'MethodNotAllowed');
    // None of those touched the rules.
    assert.deepEqual((await s3.send(new GetBucketCorsCommand({ Bucket: BUCKET }))).CORSRules, RULES);
  });
});
