import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { ServiceError } from '../../core/errors.js';
import type { Metadata } from '../../core/metadata/types.js';
import type { Storage } from '../../core/storage.js';
import { actorOf, type UserDirectory } from '../../core/users.js';
import { requestActor, type RequestAuth } from '../common/actor.js';
import type { RequestContext } from '../../server/dialect.js';
import { PanAuth, UrlSigner } from './auth.js';
import { defaultBucketFor, type PanApp, type PanConfig } from './config.js';
import { Drive } from './drive.js';
import { panErrors } from './envelope.js';
import { SharedHasher } from './hasher.js';
import type { Params } from './params.js';

/**
 * What every pan handler shares: the engine, the metadata store, auth, URL signing and the running
 * hashes. Nothing a request needs lives only here: every node of a cluster has its own service
 * over the same store, and any of them may take the next request of an upload.
 */
export class PanService {
  readonly auth: PanAuth;
  readonly signer: UrlSigner;
  /** This node's name on the leases it holds. */
  /** This node's name as a lease holder (the engine's, so leases and temp directories agree). */
  get node(): string {
    return this.storage.coordination.nodeId;
  }
  readonly hasher: SharedHasher;
  /** Background completions this node runs, by preuploadID. */
  readonly finishing = new Map<string, Promise<void>>();
  closed = false;
  private readonly readyBuckets = new Set<string>();

  private constructor(
    readonly storage: Storage,
    readonly store: Metadata,
    readonly users: UserDirectory,
    readonly config: PanConfig,
    secrets: { token: Buffer; url: Buffer },
  ) {
    this.auth = new PanAuth(config.apps, store, secrets.token, config.tokenTtlMs, config.rateLimits);
    this.signer = new UrlSigner(secrets.url);
    this.hasher = new SharedHasher(store, this.node, config.leaseMs);
  }

  static async open(storage: Storage, store: Metadata, users: UserDirectory, config: PanConfig): Promise<PanService> {
    const secrets = { token: await storedSecret(store, 'token-secret'), url: await storedSecret(store, 'url-secret') };
    return new PanService(storage, store, users, config, secrets);
  }

  bucketOf(app: PanApp): string {
    return app.bucket ?? defaultBucketFor(app.user);
  }

  /**
   * The app user's drive; its bucket is made on first use. `req`: the request it serves, whose
   * address and transport policy conditions see (none for the server's own background work).
   */
  async drive(app: PanApp, req?: IncomingMessage, authType: RequestAuth['authType'] = 'REST-HEADER'): Promise<Drive> {
    // The app's user was disabled or removed (admin API): the app is refused as an unknown token is.
    const user = this.users.byId(app.user);
    if (!user) throw panErrors.unauthorized();
    const actor = req ? requestActor(user, req, { authType }) : actorOf(user);
    const bucket = this.bucketOf(app);
    if (!this.readyBuckets.has(bucket)) {
      try {
        await this.storage.createBucket(actor, bucket);
      } catch (err) {
        if (!(err instanceof ServiceError && err.code === 'BucketAlreadyOwnedByYou')) throw err;
      }
      this.readyBuckets.add(bucket);
    }
    return new Drive(this.storage, this.store, actor, bucket);
  }

  /** The drive of the app whose bucket this is (a presigned slice or download names only the bucket). */
  async driveOfBucket(bucket: string, req?: IncomingMessage): Promise<Drive | undefined> {
    const app = this.config.apps.find((candidate) => this.bucketOf(candidate) === bucket);
    return app && this.drive(app, req, 'REST-QUERY-STRING');
  }

  /**
   * Stops background work: no new slice is read from disk, and completions in progress stop at
   * their next step, leaving their uploads 'verifying' for another node (or the next start).
   */
  async close(): Promise<void> {
    this.closed = true;
    this.hasher.close();
    await Promise.allSettled([...this.finishing.values()]);
  }
}

/** One authenticated pan request. */
export interface PanCall {
  ctx: RequestContext;
  service: PanService;
  app: PanApp;
  drive: Drive;
  /** Query and body parameters (empty for multipart endpoints, which read their own body). */
  params: Params;
}

/** `http://host:port` as the client reached this server: presigned URLs and `servers` point back here. */
export function originOf(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-proto'];
  const proto = typeof forwarded === 'string' ? forwarded.split(',')[0]!.trim() : 'encrypted' in req.socket ? 'https' : 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}`;
}

/** A random secret made once per store, the same on every node (token and URL signatures). */
async function storedSecret(store: Metadata, name: string): Promise<Buffer> {
  return Buffer.from(await store.ensureSetting(name, randomBytes(32).toString('base64')), 'base64');
}
