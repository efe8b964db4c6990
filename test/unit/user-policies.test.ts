import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../../src/core/errors.js';
import { evaluatePolicies } from '../../src/core/policy.js';
import { parseUserPolicy, policiesByUser } from '../../src/core/user-policies.js';

// src/core/user-policies.ts: identity policies (the policy language of core/policy.ts without a
// Principal) and how a user's inline and managed policies are gathered for core/authorization.ts.

const users = { exists: (id: string) => id === 'alice' };
const document = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const readPhotos = document({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*' });

function malformed(text: string, message: string | RegExp): void {
  assert.throws(
    () => parseUserPolicy(text, users),
    (err: unknown) =>
      err instanceof ServiceError && err.code === 'MalformedPolicyDocument' && err.status === 400 && (typeof message === 'string' ? err.message === message : message.test(err.message)),
    text,
  );
}

describe('user policies', () => {
  it('are the policy language without a Principal, refused in IAM\'s words', () => {
    const policy = parseUserPolicy(readPhotos, users);
    assert.equal(evaluatePolicies([policy], { action: 's3:GetObject', resource: 'arn:aws:s3:::photos/a.jpg', context: {}, userId: 'alice' }), 'allow');
    malformed('{', 'This policy contains invalid Json');
    malformed(document({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' }), 'Policy document should not specify a principal.');
    malformed(document({ Effect: 'Allow', NotPrincipal: { AWS: 'x' }, Action: 's3:GetObject', Resource: '*' }), 'Policy document should not specify a principal.');
    malformed(document({ Effect: 'Allow', Action: 's3:Teleport', Resource: '*' }), 'Policy has invalid action');
    malformed(document({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'photos/*' }), 'Policy has invalid resource');
    malformed(document({ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::photos/${'k'.repeat(21_000)}` }), /20 KB/);
  });

  it('a bucket ARN with a wildcard names objects too: arn:aws:s3:::* and arn:aws:s3:::logs-* take object actions', () => {
    for (const resource of ['arn:aws:s3:::*', 'arn:aws:s3:::logs-*', 'arn:aws:s3:::logs?2026']) {
      const policy = parseUserPolicy(document({ Effect: 'Deny', Action: 's3:DeleteObject', Resource: resource }), users);
      assert.equal(policy.statements.length, 1, resource);
    }
    const all = parseUserPolicy(document({ Effect: 'Deny', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::*' }), users);
    assert.equal(evaluatePolicies([all], { action: 's3:DeleteObject', resource: 'arn:aws:s3:::any/key/deep', context: {}, userId: 'alice' }), 'deny');
    // Without a wildcard a bucket ARN is a bucket only, as S3 checks it.
    malformed(document({ Effect: 'Deny', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::logs' }), 'Action does not apply to any resource(s) in statement');
  });

  it("gathers a user's inline and attached policies, each managed document parsed once; a broken one still confines", () => {
    const at = new Date(0);
    const errors: Error[] = [];
    const byUser = policiesByUser(
      {
        inline: [{ userId: 'alice', name: 'own', document: readPhotos, created: at }],
        managed: [
          { name: 'shared', document: readPhotos, created: at, updated: at },
          { name: 'broken', document: '{"Statement": 1}', created: at, updated: at },
          { name: 'unattached', document: readPhotos, created: at, updated: at },
        ],
        attachments: [
          { userId: 'alice', policyName: 'shared', created: at },
          { userId: 'bob', policyName: 'shared', created: at },
          { userId: 'carol', policyName: 'broken', created: at },
        ],
      },
      users,
      (err) => errors.push(err),
    );
    assert.deepEqual([...byUser.keys()].sort(), ['alice', 'bob', 'carol']);
    assert.equal(byUser.get('alice')!.length, 2);
    assert.equal(byUser.get('alice')![1], byUser.get('bob')![0], 'one parse for every user of a managed policy');
    // Carol's only policy does not parse: she is confined to nothing rather than let loose.
    assert.deepEqual(byUser.get('carol'), []);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /managed policy broken does not parse/);
  });
});
