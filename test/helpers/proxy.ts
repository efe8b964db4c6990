import { fork, type ChildProcess } from 'node:child_process';
import { Agent, createServer, request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A round-robin HTTP load balancer for the cluster tests and the bench: what a plain L7 balancer
 * (nginx `upstream`, HAProxy `balance roundrobin`) does in front of Tessera's nodes.
 *
 * - Every request (not every connection: clients keep connections alive) goes to the next backend.
 * - Bodies stream both ways with back-pressure; nothing is buffered whole.
 * - Method, path and query, and the request's end-to-end headers go out exactly as received (same
 *   names, case, order, duplicates, bytes), Host included, so SigV4 and OSS signatures still verify.
 *   Only the hop-by-hop headers (Connection, Keep-Alive, Proxy-Connection and those Connection
 *   names) belong to each hop; the status line and the response's end-to-end headers come back as
 *   sent. A request with neither Content-Length nor Transfer-Encoding goes on with neither.
 * - The head goes to the backend as soon as it is connected, before any body byte: a backend that
 *   answers on the head alone (a refusal) is heard at once.
 * - `Expect: 100-continue` is passed on: the client gets `100 Continue` only when the backend sends
 *   one, so a backend that refuses early is heard before the body is sent. (Except for a head with
 *   bytes beyond ASCII: node:http writes such a head as UTF-8, so the proxy answers 100 Continue
 *   itself, as nginx always does, and sends the request on without Expect.)
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
  // Kept-alive connections to the backends, as a balancer keeps its upstream connections; an idle one
  // is closed after 4 s, before Tessera closes it (5 s), so a request seldom meets one the node closed.
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity, timeout: 4_000 });
  let next = 0;

  /** The backends to try for one request, in turn from the next one; those resting after a refusal last. */
  const order = (): Backend[] => {
    const start = next;
    next = (next + 1) % slots.length;
    const turn = slots.map((_, i) => slots[(start + i) % slots.length]!);
    const now = Date.now();
    return [...turn.filter((b) => b.downUntil <= now), ...turn.filter((b) => b.downUntil > now)];
  };

  const handle = (req: IncomingMessage, res: ServerResponse, expect?: 'continue' | 'other') => {
    if (expect && !asciiHead(req)) {
      // node:http writes the head of a request with Expect as UTF-8 (it flushes it at once, as a
      // string), which would change any other byte, and the signature over them.
      if (expect === 'other') {
        res.writeHead(417, { 'content-type': 'text/plain', connection: 'close' }).end('the proxy cannot pass this expectation on\n');
        return;
      }
      // Answered 100 Continue here, as nginx always does, and sent on without Expect.
      res.writeContinue();
      forward(req, res, order(), { agent, expectContinue: false, dropExpect: true, retryAfterMs });
      return;
    }
    forward(req, res, order(), { agent, expectContinue: expect === 'continue', dropExpect: false, retryAfterMs });
  };
  const server = createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 5_000 }, (req, res) => handle(req, res));
  server.timeout = 0;
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handle(req, res, 'continue'));
  // Any other expectation is the backend's to accept or refuse (417).
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => handle(req, res, 'other'));

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

/** `rawHeaders` without the hop-by-hop ones (those named by Connection too), nor `also`. */
function endToEnd(raw: string[], also: string[] = []): string[] {
  const named = new Set([...HOP_BY_HOP, ...also]);
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

/** Whether the request line and headers are all ASCII (node:http keeps other bytes only in some paths). */
function asciiHead(req: IncomingMessage): boolean {
  const ascii = (text: string) => /^[\x00-\x7f]*$/.test(text);
  return ascii(req.url ?? '') && req.rawHeaders.every(ascii);
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
  /** Leave the Expect header out (the proxy answered it). */
  dropExpect: boolean;
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

  let upstream: ClientRequest;
  try {
    upstream = requestTo(backend, req, options);
  } catch (err) {
    // What the client sent passed node:http's parser but not its client's checks.
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' }).end(`the proxy cannot forward this request: ${(err as Error).message}\n`);
    return;
  }
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
    // The head goes out now, whatever comes of the body: a backend may answer on the head alone.
    // (An empty Buffer, not flushHeaders(): that writes the head as UTF-8, mangling Latin-1 bytes.)
    upstream.write(EMPTY);
    if (options.expectContinue) {
      // The body waits for the backend's 100 Continue (or its refusal).
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

const EMPTY = Buffer.alloc(0);
/** Methods node:http frames as chunked when no length is given. */
const CHUNKED_BY_DEFAULT = (method: string) => !['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'].includes(method);

/** The request to `backend`: the client's method, path and query, and end-to-end headers, as received. */
function requestTo(backend: Backend, req: IncomingMessage, { agent, dropExpect }: ForwardOptions): ClientRequest {
  const headers = endToEnd(req.rawHeaders, dropExpect ? ['expect'] : []);
  const common = {
    host: backend.host,
    port: backend.port,
    method: req.method,
    path: req.url,
    // The client's Host is in the headers, as sent: signatures cover it.
    setHost: false,
    agent,
  };
  const framed = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  if (framed || !CHUNKED_BY_DEFAULT(req.method ?? 'GET')) return request({ ...common, headers });
  // Neither Content-Length nor Transfer-Encoding (no body): node:http would add one of them to a
  // PUT or POST, which the backend would read otherwise (411 MissingContentLength). A raw-header
  // array is framed at once, so this takes the header object and removes both before it is sent
  // (names keep their case and order; a repeated name keeps its first spelling).
  const byName = new Map<string, [string, string[]]>();
  for (let i = 0; i < headers.length; i += 2) {
    const entry = byName.get(headers[i]!.toLowerCase());
    if (entry) entry[1].push(headers[i + 1]!);
    else byName.set(headers[i]!.toLowerCase(), [headers[i]!, [headers[i + 1]!]]);
  }
  const upstream = request({ ...common, headers: Object.fromEntries([...byName.values()].map(([name, values]) => [name, values.length === 1 ? values[0]! : values])) });
  upstream.removeHeader('content-length');
  upstream.removeHeader('transfer-encoding');
  return upstream;
}

/** The proxy in a process of its own (test/helpers/proxy-process.ts): what the cluster puts in front of its nodes. */
export interface ProxyProcess {
  url: string;
  port: number;
  process: ChildProcess;
  requestsBy(): Promise<number[]>;
  setBackend(index: number, backend: string): Promise<void>;
  /** Closes the proxy and waits for its process to exit. */
  close(): Promise<void>;
}

const PROXY_PROCESS = join(dirname(fileURLToPath(import.meta.url)), 'proxy-process.js');

export async function startProxyProcess(backends: string[]): Promise<ProxyProcess> {
  const child = fork(PROXY_PROCESS, backends, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let nextId = 0;
  child.on('message', (message: { id?: number; result?: unknown; error?: string }) => {
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.error) waiter.reject(new Error(message.error));
    else waiter.resolve(message.result);
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error(`the proxy process exited\n${stderr}`));
    pending.clear();
  });
  const call = (op: string, extra: Record<string, unknown> = {}): Promise<unknown> => {
    if (!child.connected) return Promise.reject(new Error('the proxy process is gone'));
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, op, ...extra });
    });
  };
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (message: { ready?: string }) => {
      if (message.ready) resolve(message.ready);
    });
    void exited.then(() => reject(new Error(`the proxy process exited before it listened\n${stderr}`)));
  });
  return {
    url,
    port: Number(new URL(url).port),
    process: child,
    requestsBy: async () => (await call('requestsBy')) as number[],
    setBackend: async (index, backend) => void (await call('setBackend', { index, backend })),
    close: async () => {
      if (child.connected) await call('close').catch(() => undefined);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
