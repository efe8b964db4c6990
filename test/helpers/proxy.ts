import { Agent, createServer, request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A round-robin HTTP load balancer for the cluster tests and the bench: what a plain L7 balancer
 * (nginx `upstream`, HAProxy `balance roundrobin`) does in front of Tessera's nodes.
 *
 * - Every request (not every connection: clients keep connections alive) goes to the next backend.
 * - Bodies stream both ways with back-pressure; nothing is buffered whole.
 * - Method, path and query, and the request's end-to-end headers go out exactly as received (same
 *   names, case, order, duplicates), Host included, so SigV4 and OSS signatures still verify. Only
 *   the hop-by-hop headers (Connection, Keep-Alive, Proxy-Connection and those Connection names)
 *   belong to each hop; the status line and the response's end-to-end headers come back as sent.
 * - `Expect: 100-continue` is passed on: the client gets `100 Continue` only when the backend sends
 *   one, so a backend that refuses early is heard before the body is sent.
 * - A backend that refuses the connection (a killed node) is left out for `retryAfterMs` and the
 *   request goes to the next one: nothing of it reached the refusing backend. So is a request that
 *   meets a kept-alive connection the backend had closed, while nothing but its head went out and it
 *   is idempotent. Any other failure once the request reached a backend (a node killed mid-request)
 *   destroys the client's socket, as a real balancer resets it, so SDKs see a network error and retry.
 * - When every backend refuses, the answer is `502 Bad Gateway`.
 */
export interface Proxy {
  url: string;
  port: number;
  /** How many requests each backend was given (connected to), in the order of `backends`. */
  requestsBy(): number[];
  /** Points slot `index` at another backend (a node restarted on a new port). */
  setBackend(index: number, backend: string): void;
  /** Stops listening and cuts every connection, client and backend side. */
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** How long a backend that refused a connection is skipped (default 1 s). */
  retryAfterMs?: number;
  /** Listen address (default 127.0.0.1, a free port). */
  host?: string;
  port?: number;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection']);
/** Methods a balancer may send twice (RFC 9110, 9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

interface Backend {
  host: string;
  port: number;
  /** Skipped until this time (ms since the epoch) after it refused a connection. */
  downUntil: number;
  requests: number;
}

export async function startProxy(backends: string[], options: ProxyOptions = {}): Promise<Proxy> {
  if (backends.length === 0) throw new Error('startProxy: no backends');
  const retryAfterMs = options.retryAfterMs ?? 1000;
  const slots: Backend[] = backends.map((url) => ({ ...hostAndPort(url), downUntil: 0, requests: 0 }));
  // Kept-alive connections to the backends, as a balancer keeps its upstream connections.
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  let next = 0;

  /** The backends to try for one request, in turn from the next one; those resting after a refusal last. */
  const order = (): Backend[] => {
    const start = next;
    next = (next + 1) % slots.length;
    const turn = slots.map((_, i) => slots[(start + i) % slots.length]!);
    const now = Date.now();
    return [...turn.filter((b) => b.downUntil <= now), ...turn.filter((b) => b.downUntil > now)];
  };

  const handle = (req: IncomingMessage, res: ServerResponse, expectContinue: boolean) => {
    forward(req, res, order(), { agent, expectContinue, retryAfterMs });
  };
  const server = createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 5_000 }, (req, res) => handle(req, res, false));
  server.timeout = 0;
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handle(req, res, true));
  // Any other expectation is the backend's to accept or refuse (417).
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => handle(req, res, false));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    requestsBy: () => slots.map((b) => b.requests),
    setBackend: (index, backend) => {
      const slot = slots[index];
      if (!slot) throw new Error(`setBackend: no backend ${index}`);
      Object.assign(slot, hostAndPort(backend), { downUntil: 0 });
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}

function hostAndPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 80) };
}

/** `rawHeaders` without the hop-by-hop ones (those named by Connection too). */
function endToEnd(raw: string[]): string[] {
  const named = new Set(HOP_BY_HOP);
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') {
      for (const token of raw[i + 1]!.split(',')) named.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!named.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function saysClose(raw: string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection' && /(?:^|,)\s*close\s*(?:,|$)/i.test(raw[i + 1]!)) return true;
  }
  return false;
}

function pairs(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/** A client connection the balancer gives up on: cut, as a balancer resets it. */
function cut(req: IncomingMessage, res: ServerResponse): void {
  const socket: Socket | null = req.socket;
  if (socket && !socket.destroyed) socket.destroy();
  else res.destroy();
}

interface ForwardOptions {
  agent: Agent;
  expectContinue: boolean;
  retryAfterMs: number;
}

/** Sends one request to the first backend of `candidates` that takes the connection, and its answer back. */
function forward(req: IncomingMessage, res: ServerResponse, candidates: Backend[], options: ForwardOptions): void {
  const backend = candidates[0];
  if (!backend) {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' }).end('no backend took the connection\n');
    return;
  }
  // Errors are handled where they matter (the 'close' of each side); these keep them from being thrown.
  req.on('error', ignore);
  res.on('error', ignore);

  const upstream: ClientRequest = request({
    host: backend.host,
    port: backend.port,
    method: req.method,
    path: req.url,
    headers: endToEnd(req.rawHeaders),
    // The client's Host is in the headers, as sent: signatures cover it.
    setHost: false,
    agent: options.agent,
  });
  /** Set when this attempt is given up for another backend: its handlers then do nothing. */
  let abandoned = false;
  let connected = false;
  let bodyStarted = false;
  let bodyBytes = 0;
  let bodyForwarded = false;
  let responseStarted = false;
  let responseDone = false;
  let clientGone = false;

  const countBody = (chunk: Buffer) => (bodyBytes += chunk.length);
  const endBody = () => {
    bodyForwarded = true;
    if (req.rawTrailers.length > 0) upstream.addTrailers(pairs(req.rawTrailers));
    upstream.end();
  };
  const onClientGone = () => {
    clientGone = true;
    if (!responseDone && !abandoned) upstream.destroy();
  };
  res.once('close', onClientGone);

  /** Leaves this backend for the next candidate; the client's body has not been read. */
  const moveOn = (rest: Backend[]) => {
    abandoned = true;
    res.off('close', onClientGone);
    if (bodyStarted) {
      req.unpipe(upstream);
      req.off('data', countBody);
      req.off('end', endBody);
      req.pause();
    }
    upstream.destroy();
    forward(req, res, rest, options);
  };

  const sendBody = () => {
    if (bodyStarted || clientGone) return;
    bodyStarted = true;
    if (req.readableEnded) {
      // Bodiless, and already read to its end by an attempt before this one.
      endBody();
      return;
    }
    req.on('data', countBody);
    req.once('end', endBody);
    req.pipe(upstream, { end: false });
  };

  const onConnected = () => {
    if (abandoned) return;
    connected = true;
    backend.requests++;
    if (options.expectContinue) {
      // Only the head goes out; the body waits for the backend's 100 Continue (or its refusal).
      upstream.flushHeaders();
      upstream.once('continue', () => {
        if (abandoned || clientGone || responseStarted) return;
        res.writeContinue();
        sendBody();
      });
    } else {
      sendBody();
    }
  };
  upstream.once('socket', (socket: Socket) => {
    if (socket.connecting) socket.once('connect', onConnected);
    else onConnected();
  });

  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (abandoned || responseDone || clientGone) return;
    if (!connected && err.code === 'ECONNREFUSED') {
      // Nothing reached this backend: it rests, and the request goes to the next one.
      backend.downUntil = Date.now() + options.retryAfterMs;
      moveOn(candidates.slice(1));
      return;
    }
    const staleKeptAlive =
      upstream.reusedSocket && !responseStarted && bodyBytes === 0 && IDEMPOTENT.has(req.method ?? '') && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
    if (staleKeptAlive) {
      // A kept-alive connection the backend had closed: only the head went out, and the method is idempotent.
      moveOn(candidates);
      return;
    }
    cut(req, res);
  });

  upstream.once('response', (answer: IncomingMessage) => {
    if (abandoned) return;
    responseStarted = true;
    answer.on('error', ignore);
    if (clientGone) {
      answer.resume();
      return;
    }
    const headers = endToEnd(answer.rawHeaders);
    // Refused before the body was asked for (Expect: 100-continue), or the backend closes: the rest
    // of the client's body will not be read, so this client connection ends with this response.
    if (saysClose(answer.rawHeaders) || !bodyStarted) headers.push('Connection', 'close');
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
    answer.pipe(res, { end: false });
    answer.once('end', () => {
      responseDone = true;
      if (answer.rawTrailers.length > 0) res.addTrailers(pairs(answer.rawTrailers));
      res.end();
      if (!bodyForwarded) {
        // The backend answered without reading the whole body (an early error): neither connection
        // can carry another request, since both still expect the rest of that body.
        req.unpipe(upstream);
        upstream.destroy();
        res.once('finish', () => req.socket?.destroySoon());
      }
    });
    answer.once('close', () => {
      // The backend's connection ended before its response did (a node killed mid-response).
      if (!answer.complete) cut(req, res);
    });
  });
}

function ignore(): void {}
