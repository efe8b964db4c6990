import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ServiceError } from './errors.js';
import type { Metadata } from './metadata/types.js';
import type { User, UserDirectory } from './users.js';

/**
 * STS-like temporary credentials, stateless: nothing per session is stored anywhere.
 *
 * - The session token is a versioned blob {expiry, temporary access key id, the long-term access key
 *   it was issued for, user id} followed by an HMAC-SHA256 under a key derived from the server key.
 *   The MAC also covers that long-term key's current secret, and the key must still be in the user
 *   directory under the same user: disabling or removing the key or its user (core/identities.ts),
 *   or changing its secret, ends every session issued for it, on every node.
 * - The temporary secret is HMAC(server key, temporary access key id): derived again on every
 *   request, never stored, never sent after it was issued.
 * - The server key is random, made once per store and kept in the metadata store's settings, so
 *   every node of a cluster issues and accepts the same credentials.
 */

export const TEMPORARY_KEY_PREFIX = 'ASIA';
export const DEFAULT_LIFETIME_MS = 60 * 60 * 1000;
const SETTING_NAME = 'temporary-credentials-key';
const TOKEN_VERSION = 2;
const KEY_ID_CHARS = 16;
const MAC_BYTES = 32;
/**
 * version (1) + expiry in seconds since the epoch (4) + access key id length (1), then the id, the
 * long-term key's length (1) and the key, the user id, the MAC.
 */
const HEADER_BYTES = 6;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** Who a temporary access key and its token stand for, and the secret the request was signed with. */
export interface ResolvedSession {
  user: User;
  accessKeyId: string;
  secretAccessKey: string;
  expiration: Date;
}

export const expiredToken = (): ServiceError => new ServiceError('ExpiredToken', 'The provided token has expired.', 400);
export const invalidToken = (): ServiceError =>
  new ServiceError('InvalidToken', 'The provided token is malformed or otherwise invalid.', 400);

export class TemporaryCredentials {
  private readonly macKey: Buffer;
  private readonly secretKey: Buffer;

  constructor(
    serverKey: Buffer,
    private readonly users: UserDirectory,
    readonly lifetimeMs = DEFAULT_LIFETIME_MS,
  ) {
    if (serverKey.length < 32) throw new Error('the temporary-credentials server key must be at least 32 bytes');
    // One key, two purposes: derive a separate key for each so neither output can stand in for the other.
    this.macKey = createHmac('sha256', serverKey).update('tessera session token v1').digest();
    this.secretKey = createHmac('sha256', serverKey).update('tessera temporary secret v1').digest();
  }

  /** The store's server key (made on first use, then shared by every node), ready to issue and verify. */
  static async open(metadata: Metadata, users: UserDirectory, lifetimeMs?: number): Promise<TemporaryCredentials> {
    const stored = await metadata.ensureSetting(SETTING_NAME, randomBytes(32).toString('base64'));
    return new TemporaryCredentials(Buffer.from(stored, 'base64'), users, lifetimeMs);
  }

  static isTemporaryKey(accessKeyId: string): boolean {
    return accessKeyId.startsWith(TEMPORARY_KEY_PREFIX);
  }

  /** Credentials for `user`, as found by the long-term key they signed in with (`user.accessKey`). */
  issue(user: User, now = new Date()): IssuedCredentials {
    const userId = Buffer.from(user.id, 'utf8');
    const longTermKey = Buffer.from(user.accessKey, 'utf8');
    if (longTermKey.length === 0 || longTermKey.length > 255) throw new Error('temporary credentials need the long-term key they are issued for');
    const accessKeyId = TEMPORARY_KEY_PREFIX + base32(randomBytes(10)).slice(0, KEY_ID_CHARS);
    // Whole seconds, rounded down: the expiration the client is told is the one the token holds.
    const expirySeconds = Math.floor((now.getTime() + this.lifetimeMs) / 1000);
    const id = Buffer.from(accessKeyId, 'ascii');
    const head = Buffer.alloc(HEADER_BYTES);
    head.writeUInt8(TOKEN_VERSION, 0);
    head.writeUInt32BE(expirySeconds, 1);
    head.writeUInt8(id.length, 5);
    const body = Buffer.concat([head, id, Buffer.from([longTermKey.length]), longTermKey, userId]);
    const token = Buffer.concat([body, this.mac(body, user)]);
    return {
      accessKeyId,
      secretAccessKey: this.secretFor(accessKeyId),
      sessionToken: token.toString('base64url'),
      expiration: new Date(expirySeconds * 1000),
    };
  }

  /**
   * The session a temporary access key and its token stand for. A token that is not one of ours,
   * was altered, names another access key, or whose long-term key is no longer usable: InvalidToken. A genuine
   * token past its expiry: ExpiredToken (checked after the MAC, so a forged expiry is InvalidToken).
   */
  resolve(accessKeyId: string, sessionToken: string, now = new Date()): ResolvedSession {
    if (!/^[A-Za-z0-9_-]+$/.test(sessionToken)) throw invalidToken();
    const token = Buffer.from(sessionToken, 'base64url');
    if (token.length < HEADER_BYTES + MAC_BYTES || token.readUInt8(0) !== TOKEN_VERSION) throw invalidToken();
    const idLength = token.readUInt8(5);
    const body = token.subarray(0, token.length - MAC_BYTES);
    const keyAt = HEADER_BYTES + idLength;
    if (body.length <= keyAt + 1) throw invalidToken();
    const keyLength = body.readUInt8(keyAt);
    if (keyLength === 0 || body.length <= keyAt + 1 + keyLength) throw invalidToken();
    const tokenKeyId = body.subarray(HEADER_BYTES, keyAt).toString('ascii');
    const longTermKey = body.subarray(keyAt + 1, keyAt + 1 + keyLength).toString('utf8');
    const user = this.users.byKey(longTermKey);
    // The key was disabled or removed (or its user was), or now belongs to someone else.
    if (!user || user.id !== body.subarray(keyAt + 1 + keyLength).toString('utf8')) throw invalidToken();
    const expected = this.mac(body, user);
    const provided = token.subarray(token.length - MAC_BYTES);
    if (!timingSafeEqual(expected, provided) || tokenKeyId !== accessKeyId) throw invalidToken();
    const expiration = new Date(body.readUInt32BE(1) * 1000);
    if (now.getTime() >= expiration.getTime()) throw expiredToken();
    return { user, accessKeyId, secretAccessKey: this.secretFor(accessKeyId), expiration };
  }

  private secretFor(accessKeyId: string): string {
    return createHmac('sha256', this.secretKey).update(accessKeyId, 'ascii').digest().subarray(0, 30).toString('base64url');
  }

  private mac(body: Buffer, user: User): Buffer {
    return createHmac('sha256', this.macKey)
      .update(body)
      .update(`\n${user.accessKey}\n${user.secretKey}`, 'utf8')
      .digest();
  }
}

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
