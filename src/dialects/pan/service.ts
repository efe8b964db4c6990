import type { IncomingMessage } from 'node:http';
import { ServiceError } from '../../core/errors.js';
import type { Storage } from '../../core/storage.js';
import type { UserDirectory } from '../../core/users.js';
import type { RequestContext } from '../../server/dialect.js';
import { PanAuth, UrlSigner } from './auth.js';
import { defaultBucketFor, type PanApp, type PanConfig } from './config.js';
import { Drive } from './drive.js';
import { HashTracker } from './hasher.js';
import type { Params } from './params.js';
import { PanStore } from './store.js';

/** What every pan handler shares: the engine, pan.db, auth, URL signing and the running hashes. */
export class PanService {
  readonly auth: PanAuth;
  readonly signer: UrlSigner;
  readonly tracker = new HashTracker();
  /** Background completions in flight, by preuploadID. */
  readonly finishing = new Map<string, Promise<void>>();
  private readonly readyBuckets = new Set<string>();

  constructor(
    readonly storage: Storage,
    readonly store: PanStore,
    readonly users: UserDirectory,
    readonly config: PanConfig,
  ) {
    this.auth = new PanAuth(config.apps, store, config.tokenTtlMs, config.rateLimits);
    this.signer = new UrlSigner(store.secret('url-secret'));
  }

  bucketOf(app: PanApp): string {
    return app.bucket ?? defaultBucketFor(app.user);
  }

  /** The app user's drive; its bucket is made on first use. */
  drive(app: PanApp): Drive {
    const user = this.users.byId(app.user)!;
    const actor = { userId: user.id, root: user.root };
    const bucket = this.bucketOf(app);
    if (!this.readyBuckets.has(bucket)) {
      try {
        this.storage.createBucket(actor, bucket);
      } catch (err) {
        if (!(err instanceof ServiceError && err.code === 'BucketAlreadyOwnedByYou')) throw err;
      }
      this.readyBuckets.add(bucket);
    }
    return new Drive(this.storage, this.store, actor, bucket);
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
