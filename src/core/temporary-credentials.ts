import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ServiceError } from './errors.js';
import type { Metadata } from './metadata/types.js';
import type { User, UserDirectory } from './users.js';

/**
 * STS-like temporary credentials, stateless: nothing per session is stored anywhere.
 *
 * - The session token is a versioned blob {expiry, temporary access key id, user id} followed by an
 *   HMAC-SHA256 under a key derived from the server key. The MAC also covers the user's current
 *   long-term access key and secret, so changing a user's keys (or removing the user) ends every
 *   session that user had.
 * - The temporary secret is HMAC(server key, temporary access key id): derived again on every
 *   request, never stored, never sent after it was issued.
 * - The server key is random, made once per store and kept in the metadata store's settings, so
 *   every node of a cluster issues and accepts the same credentials.
 */

export const TEMPORARY_KEY_PREFIX = 'ASIA';
export const DEFAULT_LIFETIME_MS = 60 * 60 * 1000;
const SETTING_NAME = 'temporary-credentials-key';
const TOKEN_VERSION = 1;
const KEY_ID_CHARS = 16;
const MAC_BYTES = 32;
/** version (1) + expiry in seconds since the epoch (4) + access key id length (1), then id, user id, MAC. */
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

  issue(user: User, now = new Date()): IssuedCredentials {
    const userId = Buffer.from(user.id, 'utf8');
    const accessKeyId = TEMPORARY_KEY_PREFIX + base32(randomBytes(10)).slice(0, KEY_ID_CHARS);
    // Whole seconds, rounded down: the expiration the client is told is the one the token holds.
    const expirySeconds = Math.floor((now.getTime() + this.lifetimeMs) / 1000);
    const id = Buffer.from(accessKeyId, 'ascii');
    const body = Buffer.alloc(HEADER_BYTES + id.length + userId.length);
    body.writeUInt8(TOKEN_VERSION, 0);
    body.writeUInt32BE(expirySeconds, 1);
    body.writeUInt8(id.length, 5);
    id.copy(body, HEADER_BYTES);
    userId.copy(body, HEADER_BYTES + id.length);
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
   * was altered, names another access key, or whose user's keys changed: InvalidToken. A genuine
   * token past its expiry: ExpiredToken (checked after the MAC, so a forged expiry is InvalidToken).
   */
  resolve(accessKeyId: string, sessionToken: string, now = new Date()): ResolvedSession {
    if (!/^[A-Za-z0-9_-]+$/.test(sessionToken)) throw invalidToken();
    const token = Buffer.from(sessionToken, 'base64url');
    if (token.length < HEADER_BYTES + MAC_BYTES || token.readUInt8(0) !== TOKEN_VERSION) throw invalidToken();
    const idLength = token.readUInt8(5);
    const body = token.subarray(0, token.length - MAC_BYTES);
    if (body.length <= HEADER_BYTES + idLength) throw invalidToken();
    const tokenKeyId = body.subarray(HEADER_BYTES, HEADER_BYTES + idLength).toString('ascii');
    const user = this.users.byId(body.subarray(HEADER_BYTES + idLength).toString('utf8'));
    if (!user) throw invalidToken();
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
