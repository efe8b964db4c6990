import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePolicies, parsePolicy, userArn, type PolicyRequest } from '../../src/core/policy.js';
import { ServiceError } from '../../src/core/errors.js';

const USERS = new Set(['alice', 'bob']);
const scope = { bucket: 'photos', userExists: (id: string) => USERS.has(id) };
const bucketPolicy = (...statements: object[]) => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), scope);
const request = (over: Partial<PolicyRequest>): PolicyRequest => ({ action: 's3:GetObject', resource: 'arn:aws:s3:::photos/a.jpg', context: {}, ...over });

function refused(text: string, message: string | RegExp, code = 'MalformedPolicy', s = scope): void {
  assert.throws(
    () => parsePolicy(text, s),
    (err: unknown) => err instanceof ServiceError && err.code === code && (typeof message === 'string' ? err.message === message : message.test(err.message)),
    text,
  );
}
const statement = (over: object) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*', ...over }] });

describe('policy language', () => {
  it('the public-read policy lets anyone read objects, and nothing else', () => {
    const policy = bucketPolicy({ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::photos/*'] });
    assert.equal(evaluatePolicies([policy], request({})), 'allow');
    assert.equal(evaluatePolicies([policy], request({ userId: 'bob' })), 'allow');
    assert.equal(evaluatePolicies([policy], request({ action: 's3:PutObject' })), 'none');
    assert.equal(evaluatePolicies([policy], request({ action: 's3:ListBucket', resource: 'arn:aws:s3:::photos' })), 'none');
    assert.equal(policy.text.includes('PublicRead'), true);
  });

  it('an explicit Deny wins over any Allow; wildcards in actions and resources', () => {
    const policy = bucketPolicy(
      { Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:Get*', Resource: 'arn:aws:s3:::photos/*' },
      { Effect: 'Deny', Principal: { AWS: [userArn('bob')] }, Action: 's3:*', Resource: 'arn:aws:s3:::photos/private/*' },
    );
    assert.equal(evaluatePolicies([policy], request({ userId: 'bob', action: 's3:GetObjectTagging' })), 'allow');
    assert.equal(evaluatePolicies([policy], request({ userId: 'bob', resource: 'arn:aws:s3:::photos/private/x' })), 'deny');
    assert.equal(evaluatePolicies([policy], request({ userId: 'alice', resource: 'arn:aws:s3:::photos/private/x' })), 'allow');
    // Actions compare without case, resources with it.
    assert.equal(evaluatePolicies([policy], request({ action: 'S3:GETOBJECT', resource: 'arn:aws:s3:::photos/A' })), 'allow');
    assert.equal(evaluatePolicies([policy], request({ resource: 'arn:aws:s3:::Photos/a' })), 'none');
  });

  it('names users by ARN, whatever the account part; NotAction and NotResource invert', () => {
    const policy = bucketPolicy(
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:user/alice' }, NotAction: 's3:DeleteObject', Resource: 'arn:aws:s3:::photos/*' },
      { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::photos/public/*' },
    );
    assert.equal(evaluatePolicies([policy], request({ userId: 'alice', action: 's3:PutObject' })), 'allow');
    assert.equal(evaluatePolicies([policy], request({ userId: 'alice', action: 's3:DeleteObject' })), 'none');
    assert.equal(evaluatePolicies([policy], request({ userId: 'bob', action: 's3:PutObject' })), 'none');
    assert.equal(evaluatePolicies([policy], request({ userId: 'alice' })), 'deny');
    assert.equal(evaluatePolicies([policy], request({ userId: 'alice', resource: 'arn:aws:s3:::photos/public/p.png' })), 'allow');
  });

  it('conditions: IP ranges, TLS, prefixes, referers; IfExists; a missing key', () => {
    const policy = bucketPolicy(
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*', Condition: { IpAddress: { 'aws:SourceIp': ['192.0.2.0/24', '2001:db8::/32'] } } },
      { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::photos/*', Condition: { Bool: { 'aws:SecureTransport': false } } },
      { Effect: 'Allow', Principal: '*', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::photos', Condition: { StringLike: { 's3:prefix': ['home/*', ''] } } },
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObjectTagging', Resource: 'arn:aws:s3:::photos/*', Condition: { StringLikeIfExists: { 'aws:Referer': 'https://example.com/*' } } },
    );
    const tls = { 'aws:securetransport': 'true' };
    assert.equal(evaluatePolicies([policy], request({ context: { ...tls, 'aws:sourceip': '192.0.2.77' } })), 'allow');
    assert.equal(evaluatePolicies([policy], request({ context: { ...tls, 'aws:sourceip': '::ffff:192.0.2.77' } })), 'allow');
    assert.equal(evaluatePolicies([policy], request({ context: { ...tls, 'aws:sourceip': '2001:db8:1::5' } })), 'allow');
    assert.equal(evaluatePolicies([policy], request({ context: { ...tls, 'aws:sourceip': '198.51.100.1' } })), 'none');
    assert.equal(evaluatePolicies([policy], request({ context: { 'aws:securetransport': 'false', 'aws:sourceip': '192.0.2.77' } })), 'deny');
    const list = (prefix: string | undefined) => request({ action: 's3:ListBucket', resource: 'arn:aws:s3:::photos', context: { ...tls, 's3:prefix': prefix } });
    assert.equal(evaluatePolicies([policy], list('home/alice/')), 'allow');
    assert.equal(evaluatePolicies([policy], list('')), 'allow');
    assert.equal(evaluatePolicies([policy], list('etc/')), 'none');
    assert.equal(evaluatePolicies([policy], list(undefined)), 'none');
    const tags = (referer: string | undefined) => request({ action: 's3:GetObjectTagging', context: { ...tls, 'aws:referer': referer } });
    assert.equal(evaluatePolicies([policy], tags('https://example.com/page')), 'allow');
    assert.equal(evaluatePolicies([policy], tags('https://evil.example/')), 'none');
    assert.equal(evaluatePolicies([policy], tags(undefined)), 'allow');
    // Negated operators hold when the key is missing; others do not.
    const negated = bucketPolicy({ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*', Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } });
    assert.equal(evaluatePolicies([negated], request({ context: {} })), 'deny');
    assert.equal(evaluatePolicies([negated], request({ context: { 'aws:sourceip': '10.1.2.3' } })), 'none');
  });

  it('a user policy names no principal and may use * and ListAllMyBuckets', () => {
    const policy = parsePolicy(
      JSON.stringify({ Statement: [{ Effect: 'Allow', Action: ['s3:PutObject'], Resource: 'arn:aws:s3:::uploads/incoming/*' }, { Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }] }),
      { userExists: () => false },
    );
    assert.equal(evaluatePolicies([policy], request({ userId: 'bob', action: 's3:PutObject', resource: 'arn:aws:s3:::uploads/incoming/x' })), 'allow');
    assert.equal(evaluatePolicies([policy], request({ userId: 'bob', action: 's3:PutObject', resource: 'arn:aws:s3:::uploads/other/x' })), 'none');
    assert.equal(evaluatePolicies([policy], request({ userId: 'bob', action: 's3:ListAllMyBuckets', resource: '*' })), 'allow');
  });

  it("a bucket ARN with a wildcard names objects too: a user policy's Deny on arn:aws:s3:::* covers every object", () => {
    const policy = parsePolicy(
      JSON.stringify({ Statement: [{ Effect: 'Deny', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::*' }, { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::logs-*' }] }),
      { userExists: () => false },
    );
    assert.equal(evaluatePolicies([policy], request({ userId: 'bob', action: 's3:DeleteObject', resource: 'arn:aws:s3:::any/key' })), 'deny');
    assert.equal(evaluatePolicies([policy], request({ userId: 'bob', action: 's3:GetObject', resource: 'arn:aws:s3:::logs-2026/app.log' })), 'allow');
  });

  it('refuses malformed documents with S3’s MalformedPolicy messages', () => {
    refused('{', 'This policy contains invalid Json');
    refused('[]', 'This policy contains invalid Json');
    refused(JSON.stringify({ Version: '2012-10-17' }), 'Missing required field Statement');
    refused(JSON.stringify({ Version: '2019-01-01', Statement: [] }), 'The policy must contain a valid version string');
    refused(statement({ Action: 'invalid_action' }), 'Policy has invalid action');
    refused(statement({ Action: 's3:Teleport*' }), 'Policy has invalid action');
    refused(statement({ Resource: 'photos/*' }), 'Policy has invalid resource');
    refused(statement({ Resource: 'arn:aws:s3:::other-bucket/*' }), 'Policy has invalid resource');
    refused(statement({ Resource: '*' }), 'Policy has invalid resource');
    refused(statement({ Principal: { AWS: 'arn:aws:iam::tessera:user/mallory' } }), 'Invalid principal in policy');
    refused(statement({ Principal: { AWS: 'AKIAEXAMPLE' } }), 'Invalid principal in policy');
    refused(statement({ Principal: { CanonicalUser: 'x' } }), 'Invalid principal in policy');
    refused(statement({ Principal: undefined }), 'Missing required field Principal');
    refused(statement({ Action: 's3:PutObject', Resource: 'arn:aws:s3:::photos' }), 'Action does not apply to any resource(s) in statement');
    refused(statement({ Action: 's3:ListBucket' }), 'Action does not apply to any resource(s) in statement');
    refused(statement({ Effect: 'Maybe' }), /Invalid effect/);
    refused(statement({ Condition: { StringFoo: { 's3:prefix': 'a' } } }), 'Invalid Condition type : StringFoo');
    refused(statement({ Condition: { StringEquals: { 'aws:Teleport': 'a' } } }), 'Policy has an invalid condition key');
    refused(statement({ Condition: { IpAddress: { 'aws:SourceIp': '300.1.2.3/8' } } }), 'Policy has an invalid condition');
    refused(statement({ Frobnicate: true }), 'Unknown field Frobnicate');
    refused(statement({ NotPrincipal: { AWS: '*' } }), /NotPrincipal/, 'NotImplemented');
    const sid = JSON.stringify({ Statement: [JSON.parse(statement({ Sid: 'same' })).Statement[0], JSON.parse(statement({ Sid: 'same' })).Statement[0]] });
    refused(sid, 'Statement IDs (SID) in a single policy must be unique');
    const huge = statement({ Sid: 'x'.repeat(21 * 1024) });
    refused(huge, 'Policies must be less than 20 KB');
  });
});
