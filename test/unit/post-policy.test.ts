/**
 * The POST policy engine both dialects' form uploads use: parsing, each operator, field coverage,
 * S3's comma-separated Content-Type, the size range enforced while the file streams.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceError } from '../../src/core/errors.js';
import {
  checkConditions,
  checkExpiration,
  checkMinimum,
  expandFilename,
  parsePolicy,
  withinMaximum,
  type PolicyRules,
} from '../../src/core/post-policy.js';

const S3_RULES: PolicyRules = {
  operators: ['eq', 'starts-with'],
  coverageExempt: (field) => field === 'x-amz-signature' || field === 'file' || field === 'policy' || field.startsWith('x-ignore-'),
  listFields: ['content-type'],
};
const OSS_RULES: PolicyRules = { operators: ['eq', 'starts-with', 'in', 'not-in'] };

const encode = (document: unknown) => Buffer.from(typeof document === 'string' ? document : JSON.stringify(document)).toString('base64');
const future = new Date(Date.now() + 3600_000).toISOString();

function rejects(fn: () => unknown, code: string, message?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ServiceError, String(err));
    assert.equal(err.code, code);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

describe('POST policy: parsing', () => {
  it('reads expiration, field conditions (lower-cased names) and the size range', () => {
    const policy = parsePolicy(
      encode({
        expiration: '2030-01-01T00:00:00.000Z',
        conditions: [{ bucket: 'b' }, ['starts-with', '$Content-Type', 'image/'], ['content-length-range', 10, '2048']],
      }),
      S3_RULES,
    );
    assert.equal(policy.expiration.toISOString(), '2030-01-01T00:00:00.000Z');
    assert.deepEqual(
      policy.conditions.map((c) => [c.operator, c.field, c.value, c.text]),
      [
        ['eq', 'bucket', 'b', '["eq", "$bucket", "b"]'],
        ['starts-with', 'content-type', 'image/', '["starts-with", "$Content-Type", "image/"]'],
      ],
    );
    assert.deepEqual(policy.size, { min: 10, max: 2048 });
  });

  it('intersects several content-length-range conditions', () => {
    const policy = parsePolicy(encode({ expiration: future, conditions: [['content-length-range', 1, 100], ['content-length-range', 5, 50]] }), S3_RULES);
    assert.deepEqual(policy.size, { min: 5, max: 50 });
  });

  it('accepts an expiration without fractional seconds (boto3 writes it so)', () => {
    assert.equal(parsePolicy(encode({ expiration: '2030-01-01T00:00:00Z', conditions: [] }), S3_RULES).expiration.getUTCFullYear(), 2030);
  });

  it('refuses what is not a policy with InvalidPolicyDocument', () => {
    rejects(() => parsePolicy(encode('not json'), S3_RULES), 'InvalidPolicyDocument', 'Invalid Policy: Invalid JSON.');
    rejects(() => parsePolicy(encode([1]), S3_RULES), 'InvalidPolicyDocument', 'Invalid Policy: Invalid JSON.');
    rejects(() => parsePolicy(encode({ conditions: [] }), S3_RULES), 'InvalidPolicyDocument', 'Invalid Policy: Policy missing expiration.');
    rejects(() => parsePolicy(encode({ expiration: 'tomorrow', conditions: [] }), S3_RULES), 'InvalidPolicyDocument', "Invalid Policy: Invalid 'expiration' value: 'tomorrow'");
    rejects(() => parsePolicy(encode({ expiration: future }), S3_RULES), 'InvalidPolicyDocument', 'Invalid Policy: Policy missing conditions.');
    rejects(
      () => parsePolicy(encode({ expiration: future, conditions: [{ a: '1', b: '2' }] }), S3_RULES),
      'InvalidPolicyDocument',
      'Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.',
    );
    rejects(() => parsePolicy(encode({ expiration: future, conditions: [['ends-with', '$key', 'x']] }), S3_RULES), 'InvalidPolicyDocument');
    rejects(() => parsePolicy(encode({ expiration: future, conditions: [['starts-with', 'key', 'x']] }), S3_RULES), 'InvalidPolicyDocument');
    rejects(() => parsePolicy(encode({ expiration: future, conditions: [['content-length-range', -1, 5]] }), S3_RULES), 'InvalidPolicyDocument');
    rejects(() => parsePolicy(encode({ expiration: future, conditions: [['not-in', '$cache-control', 'no-cache']] }), OSS_RULES), 'InvalidPolicyDocument');
  });

  it('S3 policies know no in / not-in; OSS policies do', () => {
    const document = encode({ expiration: future, conditions: [['in', '$content-type', ['image/png']]] });
    rejects(() => parsePolicy(document, S3_RULES), 'InvalidPolicyDocument');
    assert.equal(parsePolicy(document, OSS_RULES).conditions[0]!.operator, 'in');
  });
});

describe('POST policy: conditions', () => {
  const fields = (entries: Record<string, string>) => new Map(Object.entries(entries));
  const context = new Map([['bucket', 'photos']]);

  it('an expired policy is AccessDenied, Policy expired', () => {
    const policy = parsePolicy(encode({ expiration: '2020-01-01T00:00:00Z', conditions: [] }), S3_RULES);
    rejects(() => checkExpiration(policy, new Date()), 'AccessDenied', 'Invalid according to Policy: Policy expired.');
    checkExpiration(parsePolicy(encode({ expiration: future, conditions: [] }), S3_RULES), new Date());
  });

  it('eq and starts-with; the bucket comes from the request, not a field', () => {
    const policy = parsePolicy(encode({ expiration: future, conditions: [{ bucket: 'photos' }, ['eq', '$acl', 'private'], ['starts-with', '$key', 'user/']] }), S3_RULES);
    checkConditions(policy, fields({ key: 'user/a.jpg', acl: 'private' }), context, S3_RULES);
    rejects(
      () => checkConditions(policy, fields({ key: 'other/a.jpg', acl: 'private' }), context, S3_RULES),
      'AccessDenied',
      'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/"]',
    );
    rejects(() => checkConditions(policy, fields({ key: 'user/a', acl: 'public-read' }), context, S3_RULES), 'AccessDenied');
    rejects(
      () => checkConditions(policy, fields({ key: 'user/a', acl: 'private', bucket: 'photos' }), new Map([['bucket', 'other']]), S3_RULES),
      'AccessDenied',
      'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "photos"]',
    );
  });

  it('an empty starts-with allows any value, and a missing field; eq on a missing field fails', () => {
    const any = parsePolicy(encode({ expiration: future, conditions: [['starts-with', '$x-amz-meta-tag', '']] }), OSS_RULES);
    checkConditions(any, fields({}), context, OSS_RULES);
    const exact = parsePolicy(encode({ expiration: future, conditions: [{ 'x-amz-meta-tag': 'a' }] }), OSS_RULES);
    rejects(() => checkConditions(exact, fields({}), context, OSS_RULES), 'AccessDenied');
  });

  it('S3: a comma-separated Content-Type passes a starts-with when every type does', () => {
    const policy = parsePolicy(encode({ expiration: future, conditions: [['starts-with', '$Content-Type', 'image/']] }), S3_RULES);
    checkConditions(policy, fields({ 'content-type': 'image/jpg,image/png, image/gif' }), context, S3_RULES);
    rejects(() => checkConditions(policy, fields({ 'content-type': 'image/jpg,text/html' }), context, S3_RULES), 'AccessDenied');
    // Only the fields the dialect names are lists: without that, the value is one string that starts with image/.
    checkConditions(policy, fields({ 'content-type': 'image/jpg,text/html' }), context, OSS_RULES);
    const key = parsePolicy(encode({ expiration: future, conditions: [['starts-with', '$key', 'a/']] }), S3_RULES);
    checkConditions(key, fields({ key: 'a/x,b/y' }), context, { ...S3_RULES, coverageExempt: undefined });
  });

  it('in and not-in (OSS)', () => {
    const policy = parsePolicy(encode({ expiration: future, conditions: [['in', '$content-type', ['image/png', 'image/jpeg']], ['not-in', '$cache-control', ['no-cache']]] }), OSS_RULES);
    checkConditions(policy, fields({ 'content-type': 'image/png', 'cache-control': 'max-age=60' }), context, OSS_RULES);
    rejects(
      () => checkConditions(policy, fields({ 'content-type': 'text/html' }), context, OSS_RULES),
      'AccessDenied',
      'Invalid according to Policy: Policy Condition failed: ["in", "$content-type", ["image/png","image/jpeg"]]',
    );
    rejects(() => checkConditions(policy, fields({ 'content-type': 'image/png', 'cache-control': 'no-cache' }), context, OSS_RULES), 'AccessDenied');
  });

  it('S3: every field but the exempt ones must be named by a condition; OSS asks none', () => {
    const policy = parsePolicy(encode({ expiration: future, conditions: [['starts-with', '$key', '']] }), S3_RULES);
    const form = fields({ key: 'k', policy: 'p', 'x-amz-signature': 's', 'x-ignore-note': 'n', 'x-amz-meta-a': '1', 'content-type': 'x' });
    rejects(() => checkConditions(policy, form, context, S3_RULES), 'AccessDenied', 'Invalid according to Policy: Extra input fields: x-amz-meta-a, content-type');
    checkConditions(policy, form, context, OSS_RULES);
  });
});

describe('POST policy: the file', () => {
  async function drain(body: AsyncIterable<Buffer>): Promise<number> {
    let size = 0;
    for await (const chunk of body) size += chunk.length;
    return size;
  }

  async function* chunks(count: number, size: number): AsyncGenerator<Buffer> {
    for (let i = 0; i < count; i++) yield Buffer.alloc(size);
  }

  it('passes a file within the maximum through, whole', async () => {
    assert.equal(await drain(withinMaximum(chunks(4, 25), { min: 0, max: 100 })), 100);
    assert.equal(await drain(withinMaximum(chunks(4, 25), undefined)), 100);
  });

  it('stops at the first chunk past the maximum, without reading on', async () => {
    let pulled = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield Buffer.alloc(10);
      }
    }
    await assert.rejects(drain(withinMaximum(counted(), { min: 0, max: 25 })), (err: unknown) => {
      assert.ok(err instanceof ServiceError);
      assert.equal(err.code, 'EntityTooLarge');
      assert.equal(err.detail.MaxSizeAllowed, '25');
      return true;
    });
    assert.equal(pulled, 3);
  });

  it('refuses a file under the minimum', () => {
    rejects(() => checkMinimum(4, { min: 5, max: 10 }), 'EntityTooSmall');
    checkMinimum(5, { min: 5, max: 10 });
    checkMinimum(0, undefined);
  });

  it('${filename} in a value is the file\'s name', () => {
    assert.equal(expandFilename('user/eric/${filename}', 'cat.jpg'), 'user/eric/cat.jpg');
    assert.equal(expandFilename('${filename}-${filename}', 'a'), 'a-a');
    assert.equal(expandFilename('plain', 'a'), 'plain');
  });
});
