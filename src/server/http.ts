import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { ServiceError, errors, storageFullError } from '../core/errors.js';
import { newRequestId } from '../core/ids.js';
import type { Dialect, RequestContext } from './dialect.js';
import { dialectForForm } from './form-dispatch.js';
import type { Logger } from './logger.js';
import { BodyIdleWatch, capConnectionsPerAddress, DEFAULT_SLOW_CLIENT_LIMITS, wasRefused, type SlowClientLimits } from './slow-clients.js';

const HEALTH_PATH = '/-/health';
const READY_PATH = '/-/ready';

/** What the front adds to the dialects: HTTPS, and the readiness check behind `/-/ready`. */
export interface HttpOptions {
  /** The certificate and key (PEM): the listener speaks HTTPS; `setSecureContext` replaces them later. */
  tls?: { cert: Buffer; key: Buffer };
  /** `/-/ready`'s answer: 200 with its body when `ready`, else 503. Without it, `/-/ready` is a path like any other, for the dialects. */
  readiness?: () => Promise<{ ready: boolean; body: string }>;
  /** How long a body may bring nothing, how many connections one address may hold (DEFAULT_SLOW_CLIENT_LIMITS). */
  limits?: SlowClientLimits;
  /** Handed each finished request's access-log record (the metrics). */
  onRequest?: (record: RequestRecord) => void;
}

/** Bytes each connection had read when its last request ended: the next request's bytes start there. */
const readMarks = new WeakMap<Socket, number>();

/** What the access log says of a finished request; also handed to `onRequest` (the metrics). */
export interface RequestRecord {
  dialect?: string;
  operation?: string;
  /** The status sent; 0 when the connection ended before any. */
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
}

/**
 * The HTTP front: picks the dialect, runs it, turns any error into that
 * dialect's error response, and writes one access-log line per request
 * (and hands it to `onRequest`, when given).
 */
export function createHttpServer(dialects: Dialect[], logger: Logger, options: HttpOptions = {}): Server {
  const limits = options.limits ?? DEFAULT_SLOW_CLIENT_LIMITS;
  const bodyWatch = new BodyIdleWatch(limits.bodyIdleTimeoutMs);
  const settings: ServerOptions = { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 5_000 };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void serve(req, res, dialects, logger, bodyWatch, options.readiness, options.onRequest);
  };
  // HTTPS on the same terms (HTTP/1.1, keep-alive, timeouts); a failed handshake (plain HTTP sent
  // here, an unknown CA) only closes that socket.
  const server: Server = options.tls ? createHttpsServer({ ...settings, cert: options.tls.cert, key: options.tls.key }, handler) : createServer(settings, handler);
  // Large parts on slow links take long: no whole-request timeout; a body that stops coming is
  // ended by bodyWatch, and headers that never finish by headersTimeout.
  server.timeout = 0;
  capConnectionsPerAddress(server, limits.maxConnectionsPerAddress, logger);
  server.once('close', () => bodyWatch.close());
  return server;
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  dialects: Dialect[],
  logger: Logger,
  bodyWatch: BodyIdleWatch,
  readiness?: HttpOptions['readiness'],
  onRequest?: (record: RequestRecord) => void,
): Promise<void> {
  const started = process.hrtime.bigint();
  // Kept here: by the time the response closes, req.socket may already be detached (null).
  const socket = req.socket;
  // Not socket.bytesRead now: the headers (and often the first body bytes) were read before this runs.
  const bytesReadBefore = readMarks.get(socket) ?? 0;
  const bytesWrittenBefore = socket.bytesWritten;
  const requestId = newRequestId();
  const rawUrl = req.url ?? '/';
  const queryStart = rawUrl.indexOf('?');
  const rawPath = queryStart < 0 ? rawUrl : rawUrl.slice(0, queryStart);
  const query = new URLSearchParams(queryStart < 0 ? '' : rawUrl.slice(queryStart + 1));
  const ctx: RequestContext = { req, res, requestId, rawPath, query, log: {} };

  res.on('close', () => {
    const status = res.headersSent ? res.statusCode : 0;
    readMarks.set(socket, socket.bytesRead);
    const line = {
      requestId,
      method: req.method,
      path: rawPath,
      user: ctx.log.user,
      dialect: ctx.log.dialect,
      operation: ctx.log.operation,
      status,
      errorCode: ctx.log.errorCode,
      bytesIn: socket.bytesRead - bytesReadBefore,
      bytesOut: socket.bytesWritten - bytesWrittenBefore,
      durationMs: Number(process.hrtime.bigint() - started) / 1e6,
      completed: res.writableFinished,
    };
    logger.info(line, 'request');
    onRequest?.(line);
  });

  if (rawPath === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
    ctx.log.operation = 'Health';
    res.writeHead(200, { 'content-type': 'application/json' }).end(req.method === 'GET' ? '{"status":"ok"}' : undefined);
    return;
  }
  if (rawPath === READY_PATH && readiness && (req.method === 'GET' || req.method === 'HEAD')) {
    ctx.log.operation = 'Ready';
    const { ready, body } = await readiness();
    res
      .writeHead(ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(req.method === 'GET' ? body : undefined);
    return;
  }

  let dialect = dialects.find((d) => d.matches(req, rawPath, query)) ?? dialects[dialects.length - 1]!;
  ctx.log.dialect = dialect.name;
  if (wasRefused(socket)) {
    ctx.log.operation = 'TooManyConnections';
    res.setHeader('connection', 'close');
    respondWithError(ctx, dialect, errors.tooManyConnections());
    return;
  }
  bodyWatch.watch(req, () => timeOutBody(ctx, dialect));
  try {
    dialect = await dialectForForm(ctx, dialects, dialect);
    ctx.log.dialect = dialect.name;
    await dialect.handle(ctx);
  } catch (err) {
    // A client that hangs up mid-body is the client's doing, not an internal error.
    const clientGone = !req.complete && (err as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET';
    const full = err instanceof ServiceError ? undefined : storageFullError(err);
    const error = err instanceof ServiceError ? err : (full ?? (clientGone ? errors.incompleteBody() : undefined));
    if (full) logger.warn({ requestId, code: (err as NodeJS.ErrnoException).code }, 'storage full: request refused');
    else if (!error) logger.error({ requestId, err }, 'internal error');
    respondWithError(ctx, dialect, error ?? errors.internal());
  }
}

/**
 * The client stopped sending its body: answer RequestTimeout in the dialect's format and close the
 * connection (S3 does the same). The handler still waiting for the body then sees the connection
 * end and discards what it had staged, as for any cut upload.
 */
function timeOutBody(ctx: RequestContext, dialect: Dialect): void {
  const { req, res } = ctx;
  if (res.headersSent) {
    req.destroy();
    return;
  }
  res.setHeader('connection', 'close');
  respondWithError(ctx, dialect, errors.requestTimeout());
  // A client that reads nothing either: do not wait on it for ever.
  const cut = setTimeout(() => req.socket?.destroy(), 5_000).unref();
  res.once('close', () => clearTimeout(cut));
}

function respondWithError(ctx: RequestContext, dialect: Dialect, error: ServiceError): void {
  const { req, res } = ctx;
  ctx.log.errorCode = error.code;
  if (res.headersSent) {
    // Part of a body is out already: the only honest signal left is a cut connection.
    res.destroy();
    return;
  }
  if (!req.complete) {
    if (drainable(req)) {
      // Read to its end and dropped, even when a handler had started reading it and stopped.
      req.removeAllListeners('data');
      req.resume();
    } else {
      // The rest of an unread body may be gigabytes: close rather than drain it.
      res.setHeader('connection', 'close');
    }
  }
  dialect.sendError(ctx, error);
}

/**
 * The most of a refused request's body the server reads (and discards) to its end after the error
 * answer, keeping the connection. Closing a socket with bytes still unread makes the kernel reset
 * it, and a client still sending its body then gets the reset instead of the answer (a signature
 * refused before a 64 KiB PUT's body was read reached the client as "fetch failed").
 */
const DRAIN_LIMIT_BYTES = 1024 * 1024;

/** Whether the unread rest of the body is known to be small enough to read to its end. */
function drainable(req: RequestContext['req']): boolean {
  if (req.destroyed) return false;
  const length = req.headers['content-length'];
  return length !== undefined && /^\d{1,16}$/.test(length) && Number(length) <= DRAIN_LIMIT_BYTES;
}

/** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts what is left. */
export async function closeHttpServer(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}
