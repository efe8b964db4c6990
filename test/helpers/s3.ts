import { after, before } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from './server.js';

// The SDK warns about Node 20 on every client; the tests run on the Node the project supports.
process.env.AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING ??= '1';

/** An S3 client at its defaults (checksums, aws-chunked trailers) aimed at a test server. */
export function s3Client(
  server: TestServer,
  credentials = { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY },
  extra: Partial<S3ClientConfig> = {},
): S3Client {
  return new S3Client({ endpoint: server.url, region: 'us-east-1', forcePathStyle: true, credentials, ...extra });
}

/** A user of the server's config file (`users`), as the config names its keys. */
export interface ConfigUser {
  accessKey: string;
  secretKey: string;
}

export interface S3TestEnv {
  server: TestServer;
  /** The root user's client. */
  s3: S3Client;
  /** A client per entry of `users`, in the same order. */
  users: S3Client[];
  /** A temp directory (when `scratch` named its prefix). */
  scratch: string;
}

/**
 * For a describe block: before its tests, starts a server with `users` in its config,
 * makes a root client and one client per user, a scratch directory and `bucket` (when
 * asked for), and hands them to `use` (which may set up more); after them, destroys the clients, stops the
 * server, and removes its data and the scratch directory. Call it before the block's own
 * hooks: those run after this one's.
 */
export function useS3Server(
  options: { users?: ConfigUser[]; bucket?: string; scratch?: string },
  use: (env: S3TestEnv) => void | Promise<void>,
): void {
  const env: Partial<S3TestEnv> = {};
  before(async () => {
    env.server = await startServer(options.users ? { config: { users: options.users } } : {});
    env.s3 = s3Client(env.server);
    env.users = (options.users ?? []).map((user) =>
      s3Client(env.server!, { accessKeyId: user.accessKey, secretAccessKey: user.secretKey }),
    );
    env.scratch = options.scratch === undefined ? '' : await mkdtemp(join(tmpdir(), options.scratch));
    if (options.bucket !== undefined) await env.s3.send(new CreateBucketCommand({ Bucket: options.bucket }));
    await use(env as S3TestEnv);
  });
  after(async () => {
    env.s3?.destroy();
    for (const client of env.users ?? []) client.destroy();
    await env.server?.cleanup();
    if (env.scratch) await rm(env.scratch, { recursive: true, force: true });
  });
}
