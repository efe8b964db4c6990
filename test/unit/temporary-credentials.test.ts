/**
 * The console's temporary credentials (src/core/temporary-credentials.ts): issued and resolved
 * with nothing stored, refused exactly as S3 refuses a bad or expired session token.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ServiceError } from '../../src/core/errors.js';
import { TemporaryCredentials } from '../../src/core/temporary-credentials.js';
import { UserDirectory, type User } from '../../src/core/users.js';

const root: User = { id: 'root', displayName: 'root', accessKey: 'root-key', secretKey: 'root-secret', root: true };
const alice: User = { id: 'alice', displayName: 'Alice', accessKey: 'alice-key', secretKey: 'alice-secret', root: false };
const serverKey = randomBytes(32);

function service(users: User[] = [root, alice], key = serverKey, lifetimeMs?: number): TemporaryCredentials {
  return new TemporaryCredentials(key, new UserDirectory(users), lifetimeMs);
}

function refusal(code: string, status: number, message: string) {
  return (err: unknown) => err instanceof ServiceError && err.code === code && err.status === status && err.message === message;
}
const invalid = refusal('InvalidToken', 400, 'The provided token is malformed or otherwise invalid.');
const expired = refusal('ExpiredToken', 400, 'The provided token has expired.');

describe('temporary credentials', () => {
  const now = new Date('2026-03-01T12:00:00.500Z');

  it('issues an ASIA access key, a secret, a token and an expiry one hour on (whole seconds)', () => {
    const issued = service().issue(alice, now);
    assert.match(issued.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
    assert.match(issued.secretAccessKey, /^[A-Za-z0-9_-]{40}$/);
    assert.match(issued.sessionToken, /^[A-Za-z0-9_-]+$/);
    assert.equal(issued.expiration.toISOString(), '2026-03-01T13:00:00.000Z');
    assert.ok(TemporaryCredentials.isTemporaryKey(issued.accessKeyId));
    assert.notEqual(service().issue(alice, now).accessKeyId, issued.accessKeyId);
  });

  it('resolves the token to its user and the same secret, on any instance sharing the server key (another node)', () => {
    const issued = service().issue(alice, now);
    const resolved = service().resolve(issued.accessKeyId, issued.sessionToken, new Date(now.getTime() + 59 * 60 * 1000));
    assert.equal(resolved.user.id, 'alice');
    assert.equal(resolved.secretAccessKey, issued.secretAccessKey);
    assert.equal(resolved.expiration.getTime(), issued.expiration.getTime());
  });

  it('refuses a token at and after its expiry with ExpiredToken', () => {
    const issued = service().issue(root, now);
    assert.throws(() => service().resolve(issued.accessKeyId, issued.sessionToken, issued.expiration), expired);
    assert.throws(() => service().resolve(issued.accessKeyId, issued.sessionToken, new Date(issued.expiration.getTime() + 1)), expired);
  });

  it('refuses a token for another access key, from another server key, altered, truncated or not base64url with InvalidToken', () => {
    const issued = service().issue(alice, now);
    const other = service().issue(alice, now);
    assert.throws(() => service().resolve(other.accessKeyId, issued.sessionToken, now), invalid);
    assert.throws(() => service(undefined, randomBytes(32)).resolve(issued.accessKeyId, issued.sessionToken, now), invalid);
    const bytes = Buffer.from(issued.sessionToken, 'base64url');
    for (const index of [0, 1, 5, 8, bytes.length - 40, bytes.length - 1]) {
      const altered = Buffer.from(bytes);
      altered[index]! ^= 0x01;
      assert.throws(() => service().resolve(issued.accessKeyId, altered.toString('base64url'), now), invalid, `byte ${index}`);
    }
    assert.throws(() => service().resolve(issued.accessKeyId, bytes.subarray(0, 20).toString('base64url'), now), invalid);
    assert.throws(() => service().resolve(issued.accessKeyId, '', now), invalid);
    assert.throws(() => service().resolve(issued.accessKeyId, 'not a token!', now), invalid);
  });

  it('a forged later expiry is InvalidToken, not a longer session', () => {
    const issued = service().issue(alice, now);
    const bytes = Buffer.from(issued.sessionToken, 'base64url');
    bytes.writeUInt32BE(bytes.readUInt32BE(1) + 86_400, 1);
    assert.throws(() => service().resolve(issued.accessKeyId, bytes.toString('base64url'), now), invalid);
  });

  it('changing a user’s keys, or removing the user, ends the sessions they had', () => {
    const issued = service().issue(alice, now);
    const rotated = { ...alice, secretKey: 'new-secret' };
    assert.throws(() => service([root, rotated]).resolve(issued.accessKeyId, issued.sessionToken, now), invalid);
    assert.throws(() => service([root]).resolve(issued.accessKeyId, issued.sessionToken, now), invalid);
  });

  it('a session is bound to the key it was issued for: that key disabled ends it, another key of the user does not', () => {
    const second: User = { ...alice, accessKey: 'alice-second-key', secretKey: 'second-secret' };
    const users = new UserDirectory([root, alice, second]);
    const temporary = new TemporaryCredentials(serverKey, users);
    const viaSecond = temporary.issue(users.byKey('alice-second-key')!, now);
    const viaFirst = temporary.issue(users.byKey('alice-key')!, now);
    // The directory rebuilt without alice's first key (it was disabled through the admin API).
    users.replace([root, second]);
    assert.throws(() => temporary.resolve(viaFirst.accessKeyId, viaFirst.sessionToken, now), invalid);
    const resolved = temporary.resolve(viaSecond.accessKeyId, viaSecond.sessionToken, now);
    assert.equal(resolved.user.id, 'alice');
    assert.equal(resolved.user.accessKey, 'alice-second-key');
    // The key given to another user is not the session's key any more.
    users.replace([root, { ...second, id: 'mallory' }]);
    assert.throws(() => temporary.resolve(viaSecond.accessKeyId, viaSecond.sessionToken, now), invalid);
  });

  it('another user cannot be named by editing the user id in a token', () => {
    const issued = service().issue(alice, now);
    const bytes = Buffer.from(issued.sessionToken, 'base64url');
    // The user id ends the body, just before the 32-byte MAC.
    const idStart = bytes.length - 32 - 'alice'.length;
    assert.equal(bytes.subarray(idStart, idStart + 5).toString(), 'alice');
    const forged = Buffer.concat([bytes.subarray(0, idStart), Buffer.from('root'), bytes.subarray(idStart + 'alice'.length)]);
    assert.throws(() => service().resolve(issued.accessKeyId, forged.toString('base64url'), now), invalid);
  });

  it('honours a configured lifetime and refuses a server key shorter than 32 bytes', () => {
    const issued = service(undefined, serverKey, 15 * 60 * 1000).issue(alice, now);
    assert.equal(issued.expiration.toISOString(), '2026-03-01T12:15:00.000Z');
    assert.throws(() => service(undefined, randomBytes(16)), /at least 32 bytes/);
  });
});
