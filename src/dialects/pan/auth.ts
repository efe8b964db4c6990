import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PanApp } from './config.js';
import { CODE, PanError, panErrors } from './envelope.js';
import type { Metadata } from '../../core/metadata/types.js';

/** At most this many live tokens per app; issuing another revokes the oldest. */
const MAX_LIVE_TOKENS = 3;

/**
 * Apps from the config file, their access tokens (JWT-shaped, HS256 over a secret kept in
 * the data directory, stored by SHA-256 with their expiry and revocation) and per-app,
 * per-endpoint rate limits.
 */
export class PanAuth {
  private readonly apps = new Map<string, PanApp>();

  constructor(
    apps: PanApp[],
    private readonly store: Metadata,
    private readonly secret: Buffer,
    private readonly tokenTtlMs: number,
    private readonly rateLimits: Record<string, number>,
  ) {
    for (const app of apps) this.apps.set(app.clientID, app);
  }

  async issue(clientId: string, clientSecret: string, now = new Date()): Promise<{ accessToken: string; expiredAt: Date }> {
    const app = this.apps.get(clientId);
    if (!app || !safeEqual(app.clientSecret, clientSecret)) {
      throw new PanError(CODE.unauthorized, 'clientID 或 clientSecret 错误 (unknown app or wrong secret)');
    }
    // expiredAt is written in whole seconds; rounding up keeps a token valid for at least its lifetime
    // (rounding down left a one-second token with a few milliseconds).
    const expiredAt = new Date(Math.ceil((now.getTime() + this.tokenTtlMs) / 1000) * 1000);
    const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = base64url(
      JSON.stringify({ sub: clientId, iat: Math.floor(now.getTime() / 1000), exp: expiredAt.getTime() / 1000, jti: randomBytes(12).toString('hex') }),
    );
    const signature = createHmac('sha256', this.secret).update(`${header}.${payload}`).digest('base64url');
    const accessToken = `${header}.${payload}.${signature}`;
    await this.store.issueToken(hashToken(accessToken), clientId, now, expiredAt, MAX_LIVE_TOKENS);
    return { accessToken, expiredAt };
  }

  /** The app behind `Authorization: Bearer <token>`; code 401 when missing, unknown, revoked or expired. */
  async authenticate(authorization: string | undefined, now = new Date()): Promise<PanApp> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '')?.[1];
    if (!token) throw panErrors.unauthorized();
    const clientId = await this.store.tokenClient(hashToken(token), now);
    const app = clientId === undefined ? undefined : this.apps.get(clientId);
    if (!app) throw panErrors.unauthorized();
    return app;
  }

  /**
   * Counts one call of `endpoint` by `clientId` in the current second; code 429 over the limit.
   * The count is kept in the metadata store, so the limit holds for the app across every node.
   */
  async checkRate(clientId: string, endpoint: string, now = new Date()): Promise<void> {
    const limit = this.rateLimits[endpoint];
    if (!limit) return;
    const second = Math.floor(now.getTime() / 1000);
    const count = await this.store.countCall(`${clientId}\n${endpoint}\n${second}`, now);
    if (count > limit) throw panErrors.tooManyRequests();
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}

/** HMAC-signed, expiring URLs: the presigned slice PUT and the download link carry no other credential. */
export class UrlSigner {
  constructor(private readonly secret: Buffer) {}

  sign(path: string, expiresAt: number): string {
    return createHmac('sha256', this.secret).update(`${path}\n${expiresAt}`).digest('base64url');
  }

  /** `path?expires=…&signature=…`, valid for `ttlMs`. */
  signedPath(path: string, ttlMs: number, now = Date.now()): string {
    const expires = Math.floor((now + ttlMs) / 1000);
    return `${path}?expires=${expires}&signature=${this.sign(path, expires)}`;
  }

  verify(path: string, query: URLSearchParams, now = Date.now()): boolean {
    const expires = Number(query.get('expires'));
    const signature = query.get('signature') ?? '';
    if (!Number.isInteger(expires) || expires * 1000 < now) return false;
    const expected = Buffer.from(this.sign(path, expires));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
