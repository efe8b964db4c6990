/**
 * The client's HTTP core: one keep-alive agent per transport, request bodies streamed with
 * back-pressure (a file part is never read into memory), and retries with exponential backoff.
 *
 * Retrying is decided per request by its `idempotency`:
 * - `idempotent` (GET, HEAD, PUT of an object or a part, DELETE, AbortMultipartUpload, listings):
 *   retried after any network error and after any 5xx answer. Sending the same bytes again
 *   gives the same result.
 * - `unsafe` (CreateMultipartUpload, CompleteMultipartUpload, UploadPartCopy-free POSTs): a
 *   second try could act twice (a second upload id, say), so it is retried only when the first
 *   provably never reached the service: the connection was refused or could not be made, a
 *   reused keep-alive socket was found closed before any answer, or the service answered 503
 *   (it declined the work). Any other failure is returned to the caller, who knows what to check
 *   (the uploader, for instance, heads the object after an ambiguous Complete).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { AbortError, serviceErrorFrom, ServiceError } from './errors.js';

/** A body the transport can send again on a retry: `open()` is called once per attempt. */
export interface StreamBody {
  length: number;
  open(): Readable;
}

export type RequestBody = Buffer | string | StreamBody;

export type Idempotency = 'idempotent' | 'unsafe';

export interface RetryPolicy {
  /** Attempts after the first. */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 3, baseDelayMs: 200, maxDelayMs: 5_000 };

export interface RetryEvent {
  attempt: number;
  delayMs: number;
  error: Error;
}

export interface TransportOptions {
  retry?: Partial<RetryPolicy>;
  /** Socket idle timeout; 0 disables. */
  timeoutMs?: number;
  maxSockets?: number;
  onRetry?: (event: RetryEvent) => void;
}

export interface RequestSpec {
  method: string;
  /** Called before every attempt: the URL and headers, freshly signed. */
  prepare: () => { url: URL; headers: Record<string, string> };
  body?: RequestBody;
  idempotency: Idempotency;
  signal?: AbortSignal;
  /** Hand the body of a successful answer over as a stream instead of reading it. */
  stream?: boolean;
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as text (empty when `stream` was asked). */
  text: string;
  /** The body as a stream, when `stream` was asked. */
  stream?: IncomingMessage;
}

const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED',
  'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'UND_ERR_SOCKET',
]);
/** Failures that happen before a request can have reached the service. */
const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN']);

interface AttemptFailure extends Error {
  code?: string;
  /** The request went out on a kept-alive socket that turned out to be closed. */
  staleSocket?: boolean;
}

function bodyLength(body: RequestBody | undefined): number {
  if (body === undefined) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (Buffer.isBuffer(body)) return body.length;
  return body.length;
}

export class HttpTransport {
  readonly retry: RetryPolicy;
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;
  private readonly timeoutMs: number;
  private readonly onRetry?: (event: RetryEvent) => void;

  constructor(options: TransportOptions = {}) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    this.httpAgent = new HttpAgent(agentOptions);
    this.httpsAgent = new HttpsAgent(agentOptions);
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.onRetry = options.onRetry;
  }

  /** Closes idle keep-alive sockets. */
  destroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  async send(spec: RequestSpec): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(spec.signal);
      let failure: Error;
      try {
        const response = await this.attempt(spec);
        if (response.status < 300 || response.status === 304) return response;
        failure = serviceErrorFrom(response.status, response.headers, response.text);
      } catch (err) {
        failure = err as Error;
      }
      if (failure instanceof AbortError || spec.signal?.aborted) throw abortErrorFrom(spec.signal);
      if (attempt >= this.retry.maxRetries || !retryable(failure, spec.idempotency)) throw failure;
      const delayMs = backoff(this.retry, attempt);
      this.onRetry?.({ attempt: attempt + 1, delayMs, error: failure });
      await sleep(delayMs, spec.signal);
    }
  }

  private attempt(spec: RequestSpec): Promise<Response> {
    const { url, headers } = spec.prepare();
    const body = spec.body;
    const outgoing: Record<string, string> = { ...headers };
    if (body !== undefined || spec.method === 'PUT' || spec.method === 'POST') outgoing['content-length'] = String(bodyLength(body));
    const isHttps = url.protocol === 'https:';
    const send = isHttps ? httpsRequest : httpRequest;

    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      let source: Readable | undefined;
      const fail = (err: AttemptFailure) => {
        if (settled) return;
        settled = true;
        source?.destroy();
        if (req.reusedSocket && err.code === 'ECONNRESET') err.staleSocket = true;
        reject(err);
      };
      const req = send(url, { method: spec.method, headers: outgoing, agent: isHttps ? this.httpsAgent : this.httpAgent });
      const onAbort = () => req.destroy(new AbortError());
      spec.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => spec.signal?.removeEventListener('abort', onAbort);
      if (this.timeoutMs > 0) {
        req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error('socket timed out'), { code: 'ETIMEDOUT' })));
      }
      req.on('error', (err: AttemptFailure) => {
        cleanup();
        fail(err);
      });
      req.on('response', (res) => {
        // The service may answer before the body is all sent (an early 403, say): stop sending,
        // and never hand that half-written socket back to the pool.
        const bodyCut = source !== undefined && !source.readableEnded;
        if (bodyCut) {
          source!.unpipe(req);
          source!.destroy();
        }
        const ok = res.statusCode !== undefined && (res.statusCode < 300 || res.statusCode === 304);
        if (ok && spec.stream) {
          settled = true;
          cleanup();
          resolve({ status: res.statusCode!, headers: res.headers, text: '', stream: res });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => {
          cleanup();
          fail(err);
        });
        res.on('end', () => {
          cleanup();
          if (bodyCut) req.destroy();
          if (settled) return;
          settled = true;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
        });
      });

      if (body === undefined) {
        req.end();
      } else if (typeof body === 'string' || Buffer.isBuffer(body)) {
        req.end(body);
      } else {
        source = body.open();
        source.on('error', (err) => req.destroy(err));
        source.pipe(req);
      }
    });
  }
}

function retryable(error: AttemptFailure, idempotency: Idempotency): boolean {
  if (error instanceof ServiceError) {
    if (idempotency === 'idempotent') return error.status >= 500;
    return error.status === 503;
  }
  const code = error.code ?? '';
  if (idempotency === 'idempotent') return NETWORK_CODES.has(code) || error.message === 'socket hang up';
  return NEVER_SENT_CODES.has(code) || error.staleSocket === true;
}

/** Exponential backoff with jitter: base·2^attempt, capped, then scaled by 0.5–1. */
function backoff(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(ceiling * (0.5 + Math.random() / 2));
}

function abortErrorFrom(signal: AbortSignal | undefined): AbortError {
  const reason: unknown = signal?.reason;
  return reason instanceof AbortError ? reason : new AbortError();
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortErrorFrom(signal);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortErrorFrom(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
