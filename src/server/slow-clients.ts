import type { IncomingMessage } from 'node:http';
import type { Server, Socket } from 'node:net';
import type { Logger } from './logger.js';

/** What a client that sends slowly, or opens many connections, may hold of the server. */
export interface SlowClientLimits {
  /** A request body that brings no byte for this long ends in RequestTimeout (0: never). */
  bodyIdleTimeoutMs: number;
  /** Connections one client address may hold open at once; more are refused at accept (0: no cap). */
  maxConnectionsPerAddress: number;
}

export const DEFAULT_SLOW_CLIENT_LIMITS: SlowClientLimits = { bodyIdleTimeoutMs: 60_000, maxConnectionsPerAddress: 1024 };

/**
 * Marks each connection beyond its address's cap; the request it brings is answered 503 in its
 * dialect's format (S3's SlowDown, which clients retry with back-off) and the connection closed.
 * Refused at the request, not at accept: only then is the dialect known, and a bare answer written
 * at accept raced the client's own writes into a reset.
 */
export function capConnectionsPerAddress(server: Server, limit: number, logger: Logger): void {
  if (limit <= 0) return;
  const open = new Map<string, number>();
  let lastWarned = 0;
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (open.get(address) ?? 0) + 1;
    if (count > limit) {
      if (Date.now() - lastWarned > 10_000) {
        lastWarned = Date.now();
        logger.warn({ address, limit }, 'a client address reached maxConnectionsPerAddress: its further connections are refused');
      }
      refused.add(socket);
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

const refused = new WeakSet<Socket>();

/** Whether this connection is one too many for its address: its requests are refused. */
export function wasRefused(socket: Socket | null): boolean {
  return socket !== null && refused.has(socket);
}

interface WatchedBody {
  req: IncomingMessage;
  onIdle: () => void;
  socket: Socket;
  bytesRead: number;
  progressAt: number;
}

/**
 * Ends request bodies whose client stopped sending. One timer looks over every body being
 * received (a thousand trickling uploads cost one timer, not a thousand). A body counts as idle
 * only while the server has read all it was given: when bytes wait unread in the request stream, or
 * the client has sent the whole body, the server (a slow disk, a full hash queue, a body waiting for a
 * staging slot with its socket unread) is what holds it up, not the client.
 */
export class BodyIdleWatch {
  private readonly bodies = new Set<WatchedBody>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** Watches `req`'s body until it ends or the request closes; `onIdle` when it stops coming. */
  watch(req: IncomingMessage, onIdle: () => void): void {
    if (this.timeoutMs <= 0 || !hasBody(req) || req.complete) return;
    const body: WatchedBody = { req, onIdle, socket: req.socket, bytesRead: req.socket.bytesRead, progressAt: Date.now() };
    this.bodies.add(body);
    const stop = () => this.bodies.delete(body);
    req.once('end', stop);
    req.once('close', stop);
    this.timer ??= setInterval(() => this.check(), Math.max(100, Math.min(1_000, this.timeoutMs / 4))).unref();
  }

  private check(): void {
    const now = Date.now();
    for (const body of this.bodies) {
      const bytesRead = body.socket.bytesRead;
      // A body the client has sent whole (the server still reading it) is the server's to finish.
      if (bytesRead !== body.bytesRead || body.req.readableLength > 0 || body.req.complete) {
        body.bytesRead = bytesRead;
        body.progressAt = now;
      } else if (now - body.progressAt >= this.timeoutMs) {
        this.bodies.delete(body);
        body.onIdle();
      }
    }
    if (this.bodies.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.bodies.clear();
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}
