/**
 * The soak's clients, as users run them: the AWS SDK (with lib-storage), ali-oss, and Tessera's
 * own 123pan client. Each one reports every 5xx answer it sees (retried ones too) to the tally.
 */
import { Agent } from 'node:http';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import OSS from 'ali-oss';
import { PanClient } from '../../src/client/pan.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY } from '../../test/helpers/server.js';
import type { Tally } from './ledger.js';

process.env.AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING ??= '1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const S3_BUCKET = 'soak-s3';
export const OSS_BUCKET = 'soak-oss';
export const PAN_BUCKET = 'pan-alice';
export const ALICE = { accessKey: 'alice-access-key', secretKey: 'alice-secret-key-0123456789', id: 'alice', displayName: 'Alice' };
export const PAN_APP = { clientID: 'soak-app', clientSecret: 'soak-app-secret', user: 'alice' };

/** The SDK's handler, counting the 5xx answers of every attempt. */
class CountingHandler extends NodeHttpHandler {
  constructor(
    private readonly tally: Tally,
    options: ConstructorParameters<typeof NodeHttpHandler>[0],
  ) {
    super(options);
  }

  override async handle(...[request, options]: Parameters<NodeHttpHandler['handle']>): ReturnType<NodeHttpHandler['handle']> {
    const result = await super.handle(request, options);
    const status = result.response.statusCode;
    if (status >= 500) this.tally.serverError(status, `S3 ${request.method} ${request.path}`);
    return result;
  }
}

export function s3Client(url: string, tally: Tally, credentials = { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY }): S3Client {
  const agent = new Agent({ keepAlive: true, maxSockets: 128, timeout: 4_000 });
  return new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    maxAttempts: 4,
    requestHandler: new CountingHandler(tally, { httpAgent: agent, requestTimeout: 120_000 }),
  });
}

/** ali-oss as an application uses it (virtual-host style Host, V4 signatures). Its errors carry `status`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function ossClient(url: string, tally: Tally): any {
  const client = new OSS({
    accessKeyId: ROOT_ACCESS_KEY,
    accessKeySecret: ROOT_SECRET_KEY,
    bucket: OSS_BUCKET,
    endpoint: url,
    region: 'oss-cn-hangzhou',
    authorizationV4: true,
    timeout: 120_000,
  } as unknown as OSS.Options);
  // Its own HTTP client, wrapped to count 5xx answers when they come (a failed multipart upload
  // rejects only once its other parts end).
  const inner = (client as unknown as { urllib: Urllib }).urllib;
  (client as unknown as { urllib: Urllib }).urllib = {
    request: async (target, params) => {
      const result = await inner.request(target, params);
      if (result.status >= 500) tally.serverError(result.status, `OSS ${params?.method ?? 'GET'} ${new URL(target).pathname}`);
      return result;
    },
  };
  return client;
}

interface Urllib {
  request(url: string, params: { method?: string }): Promise<{ status: number }>;
}

export function panClient(url: string, tally: Tally): PanClient {
  return new PanClient({
    baseUrl: url,
    clientID: PAN_APP.clientID,
    clientSecret: PAN_APP.clientSecret,
    pollIntervalMs: 200,
    maxPolls: 300,
    retry: { maxRetries: 4 },
    onRetry: (event) => {
      const status = (event.error as { status?: number }).status;
      if (status !== undefined && status >= 500) tally.serverError(status, `pan ${event.error.message.slice(0, 80)}`);
    },
  });
}

/** The HTTP status an error of any of the clients carries, if any. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { status?: unknown; $metadata?: { httpStatusCode?: number }; code?: unknown; name?: string };
  if (typeof e?.$metadata?.httpStatusCode === 'number') return e.$metadata.httpStatusCode;
  if (typeof e?.status === 'number' && e.status > 0) return e.status;
  if (e?.name === 'PanApiError' && typeof e.code === 'number' && e.code >= 100 && e.code < 600) return e.code;
  return undefined;
}

/** A short cause for the failure table: the error code, or the HTTP status. */
export function causeOf(err: unknown): string {
  const e = err as { code?: unknown; name?: string; message?: string; Code?: string };
  const status = statusOf(err);
  if (e?.name === 'PanApiError') return `pan ${String(e.code)}: ${(e.message ?? '').replace(/ \(code \d+\)$/, '').slice(0, 60)}`;
  let code = typeof e?.code === 'string' ? e.code : e?.Code ?? (e?.name && e.name !== 'Error' ? e.name : undefined);
  // ali-oss wraps a network failure as a ResponseError; its message names what happened.
  const network = /\b(E[A-Z]{4,}|socket hang up)\b/.exec(e?.message ?? '')?.[1];
  if (network && (code === undefined || code === 'ResponseError' || code === 'RequestError')) code = `${code ? `${code}: ` : ''}${network}`;
  if (code && status) return `${code} (${status})`;
  if (code) return code;
  if (status) return `HTTP ${status}`;
  return (e?.message ?? String(err)).slice(0, 60);
}
