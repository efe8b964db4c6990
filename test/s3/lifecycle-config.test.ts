/**
 * PutBucketLifecycleConfiguration, GetBucketLifecycleConfiguration and DeleteBucketLifecycle
 * through the AWS SDK, and what S3 refuses in them over raw HTTP (each with AWS's code, and the
 * rules already stored unchanged).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { assertS3Error, expectError } from '../helpers/assertions.js';
import { signedRequest, type RawResponse } from '../helpers/raw.js';
import { useS3Server } from '../helpers/s3.js';

const ALICE = { accessKey: 'lc-alice-key', secretKey: 'lc-alice-secret-0123456789', displayName: 'Alice', id: 'alice' };
const BUCKET = 'lifecycle-config';

const RULES: LifecycleRule[] = [
  { ID: 'logs', Filter: { Prefix: 'logs/' }, Status: 'Enabled', Expiration: { Days: 30 } },
  {
    ID: 'big-tagged-tmp',
    Filter: { And: { Prefix: 'tmp/', Tags: [{ Key: 'class', Value: 'scratch' }], ObjectSizeGreaterThan: 1024, ObjectSizeLessThan: 1048576 } },
    Status: 'Disabled',
    Expiration: { Date: new Date('2031-01-01T00:00:00.000Z') },
    NoncurrentVersionExpiration: { NoncurrentDays: 7, NewerNoncurrentVersions: 3 },
  },
  { ID: 'stale-uploads', Filter: { Prefix: '' }, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } },
  { ID: 'legacy-prefix', Prefix: 'old/', Status: 'Enabled', Expiration: { Days: 365 } },
  { ID: 'one-tag', Filter: { Tag: { Key: 'expire', Value: 'yes' } }, Status: 'Enabled', Expiration: { Days: 1 } },
];

const md5 = (body: string) => createHash('md5').update(body).digest('base64');
const documentOf = (...rules: string[]) => `<LifecycleConfiguration>${rules.map((rule) => `<Rule>${rule}</Rule>`).join('')}</LifecycleConfiguration>`;
const rule = (body: string, filter = '<Filter><Prefix>a/</Prefix></Filter>', status = 'Enabled') => `<ID>r</ID>${filter}<Status>${status}</Status>${body}`;
const expireIn = (days: number) => `<Expiration><Days>${days}</Days></Expiration>`;

describe('S3 bucket lifecycle configuration', () => {
  let s3: S3Client;
  let alice: S3Client;
  let url: string;

  useS3Server({ users: [ALICE], bucket: BUCKET }, (env) => {
    s3 = env.s3;
    [alice] = env.users as [S3Client];
    url = env.server.url;
  });

  const putDocument = (body: string, headers: Record<string, string> = { 'content-md5': md5(body) }): Promise<RawResponse> =>
    signedRequest(url, 'PUT', `/${BUCKET}?lifecycle`, { body, headers });
  const storedRules = async () => (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET }))).Rules;

  it('stores the rules, gives them back as written (filters, the older Prefix form, every action), replaces and deletes them', async () => {
    await expectError(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET })), 404, 'NoSuchLifecycleConfiguration');
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: BUCKET, LifecycleConfiguration: { Rules: RULES } }));
    assert.deepEqual(await storedRules(), RULES);

    // A rule without an ID is given one.
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: BUCKET,
        LifecycleConfiguration: { Rules: [{ Filter: { Prefix: 'x/' }, Status: 'Enabled', Expiration: { Days: 3 } }] },
      }),
    );
    const [only, ...none] = (await storedRules()) ?? [];
    assert.equal(none.length, 0);
    assert.match(only?.ID ?? '', /^[A-Za-z0-9_-]{8,}$/);
    assert.deepEqual(only?.Filter, { Prefix: 'x/' });

    const deleted = await s3.send(new DeleteBucketLifecycleCommand({ Bucket: BUCKET }));
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    await expectError(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET })), 404, 'NoSuchLifecycleConfiguration');
    assert.equal((await s3.send(new DeleteBucketLifecycleCommand({ Bucket: BUCKET }))).$metadata.httpStatusCode, 204);
  });

  it("another user's bucket is AccessDenied; a bucket that does not exist is NoSuchBucket", async () => {
    await expectError(alice.send(new PutBucketLifecycleConfigurationCommand({ Bucket: BUCKET, LifecycleConfiguration: { Rules: RULES } })), 403, 'AccessDenied');
    await expectError(alice.send(new GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET })), 403, 'AccessDenied');
    await expectError(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'no-such-bucket-here' })), 404, 'NoSuchBucket');
  });

  it('?lifecycle on an object is 501 NotImplemented (rules belong to buckets), and POST is not a lifecycle method', async () => {
    assertS3Error(await signedRequest(url, 'GET', `/${BUCKET}/some-key?lifecycle`), 501, 'NotImplemented');
    assertS3Error(await signedRequest(url, 'PUT', `/${BUCKET}/some-key?lifecycle`, { body: documentOf(rule(expireIn(1))) }), 501, 'NotImplemented');
    assertS3Error(await signedRequest(url, 'POST', `/${BUCKET}?lifecycle`, { body: documentOf(rule(expireIn(1))) }), 405, 'MethodNotAllowed');
  });

  it('refuses malformed and invalid documents with AWS codes, leaving the stored rules as they were', async () => {
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: BUCKET, LifecycleConfiguration: { Rules: RULES } }));
    const cases: Array<[string, string, number, string]> = [
      ['no filter and no prefix', documentOf(`<ID>r</ID><Status>Enabled</Status>${expireIn(1)}`), 400, 'MalformedXML'],
      ['a Filter and a Prefix', documentOf(rule(expireIn(1), '<Prefix>a/</Prefix><Filter><Prefix>a/</Prefix></Filter>')), 400, 'MalformedXML'],
      ['days of 0', documentOf(rule(expireIn(0))), 400, 'InvalidArgument'],
      ['negative days', documentOf(rule(expireIn(-3))), 400, 'InvalidArgument'],
      ['days that are no number', documentOf(rule('<Expiration><Days>ten</Days></Expiration>')), 400, 'MalformedXML'],
      ['both Date and Days', documentOf(rule('<Expiration><Days>1</Days><Date>2031-01-01T00:00:00.000Z</Date></Expiration>')), 400, 'MalformedXML'],
      ['a Date not at midnight', documentOf(rule('<Expiration><Date>2031-01-01T10:00:00.000Z</Date></Expiration>')), 400, 'InvalidArgument'],
      ['a Date that is no date', documentOf(rule('<Expiration><Date>20310101</Date></Expiration>')), 400, 'InvalidArgument'],
      ['an empty Expiration', documentOf(rule('<Expiration></Expiration>')), 400, 'MalformedXML'],
      ['no action', documentOf(rule('')), 400, 'InvalidRequest'],
      ['a Status of neither', documentOf(rule(expireIn(1), undefined, 'On')), 400, 'MalformedXML'],
      ['an unknown element', documentOf(rule(`${expireIn(1)}<Colour>blue</Colour>`)), 400, 'MalformedXML'],
      ['no rule', '<LifecycleConfiguration></LifecycleConfiguration>', 400, 'MalformedXML'],
      ['1,001 rules', documentOf(...Array.from({ length: 1001 }, (_, i) => rule(expireIn(1)).replace('<ID>r</ID>', `<ID>r${i}</ID>`))), 400, 'MalformedXML'],
      ['the same ID twice', documentOf(rule(expireIn(1)), rule(expireIn(2))), 400, 'InvalidArgument'],
      ['an ID of 256 characters', documentOf(rule(expireIn(1)).replace('<ID>r</ID>', `<ID>${'i'.repeat(256)}</ID>`)), 400, 'InvalidArgument'],
      ['a prefix of 1,025 characters', documentOf(rule(expireIn(1), `<Filter><Prefix>${'p'.repeat(1025)}</Prefix></Filter>`)), 400, 'InvalidRequest'],
      ['a tag key of 129 characters', documentOf(rule(expireIn(1), `<Filter><Tag><Key>${'k'.repeat(129)}</Key><Value>v</Value></Tag></Filter>`)), 400, 'InvalidRequest'],
      ['a tag value of 257 characters', documentOf(rule(expireIn(1), `<Filter><Tag><Key>k</Key><Value>${'v'.repeat(257)}</Value></Tag></Filter>`)), 400, 'InvalidRequest'],
      ['And with one predicate', documentOf(rule(expireIn(1), '<Filter><And><Prefix>a/</Prefix></And></Filter>')), 400, 'MalformedXML'],
      ['Filter with Prefix and Tag outside And', documentOf(rule(expireIn(1), '<Filter><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>')), 400, 'MalformedXML'],
      [
        'AbortIncompleteMultipartUpload with a tag filter',
        documentOf(rule('<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>', '<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>')),
        400,
        'InvalidRequest',
      ],
      ['DaysAfterInitiation of 0', documentOf(rule('<AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>')), 400, 'InvalidArgument'],
      ['NoncurrentDays missing', documentOf(rule('<NoncurrentVersionExpiration></NoncurrentVersionExpiration>')), 400, 'MalformedXML'],
      [
        'ObjectSizeGreaterThan not below ObjectSizeLessThan',
        documentOf(rule(expireIn(1), '<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter>')),
        400,
        'InvalidArgument',
      ],
      ['a transition', documentOf(rule('<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>')), 501, 'NotImplemented'],
      ['not XML', 'lifecycle, please', 400, 'MalformedXML'],
    ];
    for (const [what, body, status, code] of cases) {
      const res = await putDocument(body);
      assert.equal(res.status, status, `${what}: ${res.body}`);
      assertS3Error(res, status, code);
    }
    const unsigned = documentOf(rule(expireIn(1)));
    assertS3Error(await putDocument(unsigned, {}), 400, 'InvalidRequest');
    assert.deepEqual(await storedRules(), RULES, 'nothing refused changed the rules');
  });
});
