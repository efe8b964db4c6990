import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { startProxy, startProxyProcess, type Proxy } from '../helpers/proxy.js';

// The round-robin proxy the cluster tests put in front of Tessera's nodes, against tiny node:http
// backends over real sockets.

const MiB = 1024 * 1024;

interface Backend {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function backend(handler: Handler, port = 0): Promise<Backend> {
  const server = createServer(handler);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const actual = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    server,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A backend that answers who it is, and what it was sent. */
function named(name: string): Handler {
  return (req, res) => {
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => {
      const answer = JSON.stringify({ name, method: req.method, url: req.url, rawHeaders: req.rawHeaders, body: Buffer.concat(body).toString() });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) }).end(answer);
    });
  };
}

interface Answer {
  status: number;
  statusMessage: string;
  rawHeaders: string[];
  body: Buffer;
  reusedSocket: boolean;
}

function send(url: string, options: { method?: string; path?: string; headers?: Record<string, string> | string[]; body?: Buffer | string; agent?: Agent } = {}): Promise<Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, method: options.method ?? 'GET', path: options.path ?? '/', headers: options.headers, agent: options.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode!, statusMessage: res.statusMessage!, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }),
        );
      },
    );
    req.on('error', reject);
    // A Buffer: with a string body, node:http writes the head as that string's encoding (UTF-8).
    req.end(typeof options.body === 'string' ? Buffer.from(options.body) : options.body);
  });
}

const nameOf = (answer: Answer): string => (JSON.parse(answer.body.toString()) as { name: string }).name;

/** Raw headers without the hop-by-hop ones, which belong to each connection. */
const endToEnd = (raw: string[]): string[] =>
  raw.flatMap((value, i) => (i % 2 === 0 && !['connection', 'keep-alive'].includes(value.toLowerCase()) ? [value, raw[i + 1]!] : []));

/** Reads from a raw socket until `done` says the bytes so far are enough. */
function readUntil(socket: Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (done(text)) {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(text);
      }
    };
    const onClose = () => reject(new Error(`connection closed after ${JSON.stringify(text)}`));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** A response read so far holds its head and `Content-Length` bytes of body. */
const wholeResponse = (text: string): boolean => {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0 || text.startsWith('HTTP/1.1 100')) return end >= 0 && wholeResponse(text.slice(end + 4));
  const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end));
  return text.length - end - 4 >= Number(length?.[1] ?? 0);
};

/** Chunk `i` of a body generated as it is sent: a shared random MiB, stamped with its index. */
function chunkOf(base: Buffer, i: number): Buffer {
  const chunk = Buffer.from(base);
  chunk.writeUInt32BE(i, 0);
  return chunk;
}

/** Resolves when `value()` reaches `target`; `poke()` is called whenever it may have. */
class Counter {
  value = 0;
  private waiters: Array<{ target: number; resolve: () => void }> = [];
  add(n: number): void {
    this.value += n;
    this.waiters = this.waiters.filter((w) => (w.target <= this.value ? (w.resolve(), false) : true));
  }
  reach(target: number): Promise<void> {
    if (this.value >= target) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ target, resolve }));
  }
}

describe('round-robin proxy', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  async function backends(count: number): Promise<Backend[]> {
    const started = await Promise.all(Array.from({ length: count }, (_, i) => backend(named(`b${i}`))));
    for (const b of started) cleanups.push(b.close);
    return started;
  }
  async function proxyFor(urls: string[], retryAfterMs?: number): Promise<Proxy> {
    const proxy = await startProxy(urls, { retryAfterMs });
    cleanups.push(proxy.close);
    return proxy;
  }

  it('sends each request on one kept-alive connection to the next backend in turn', async () => {
    const proxy = await proxyFor((await backends(3)).map((b) => b.url));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());
    const answers: Answer[] = [];
    for (let i = 0; i < 7; i++) answers.push(await send(proxy.url, { path: `/n/${i}`, agent }));
    assert.deepEqual(answers.map(nameOf), ['b0', 'b1', 'b2', 'b0', 'b1', 'b2', 'b0']);
    assert.deepEqual(answers.map((a) => a.reusedSocket), [false, true, true, true, true, true, true], 'one client connection');
    assert.deepEqual(answers.map((a) => (JSON.parse(a.body.toString()) as { url: string }).url), answers.map((_, i) => `/n/${i}`));
    assert.deepEqual(proxy.requestsBy(), [3, 2, 2]);
  });

  it('passes method, path and query, headers (Host, case, order, duplicates), body, status line and response headers as they are', async () => {
    let seen: { method?: string; url?: string; rawHeaders: string[]; body: string } | undefined;
    const b = await backend((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen = { method: req.method, url: req.url, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() };
        res.writeHead(207, 'Quite Custom', ['X-Amz-Request-Id', 'ABC', 'x-multi', 'one', 'X-Multi', 'two', 'Content-Length', '4']).end('done');
      });
    });
    cleanups.push(b.close);
    const proxy = await proxyFor([b.url]);
    const headers = [
      'Host', 'bucket.s3.example.test:9999',
      'X-Amz-Date', '20260101T000000Z',
      'x-amz-meta-Mixed', 'Case Value',
      // Header bytes beyond ASCII, as Node's parser hands them over (one char per byte): UTF-8, and a lone Latin-1 byte.
      'x-amz-meta-utf8', Buffer.from('Été ☀ 日本', 'utf8').toString('latin1'),
      'x-amz-meta-latin1', Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('latin1'),
      'X-Dup', 'first',
      'x-dup', 'second',
      'Authorization', 'AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host;x-amz-date, Signature=00',
      'Content-Length', '5',
      'Connection', 'keep-alive',
    ];
    const answer = await send(proxy.url, { method: 'PUT', path: '/a%20b/..%2Fc?x=1&y=%2F&empty=', headers, body: 'hello' });
    assert.equal(answer.status, 207);
    assert.equal(answer.statusMessage, 'Quite Custom');
    assert.deepEqual(endToEnd(answer.rawHeaders).slice(0, 8), ['X-Amz-Request-Id', 'ABC', 'x-multi', 'one', 'X-Multi', 'two', 'Content-Length', '4']);
    assert.equal(answer.body.toString(), 'done');
    assert.equal(seen?.method, 'PUT');
    assert.equal(seen?.url, '/a%20b/..%2Fc?x=1&y=%2F&empty=');
    assert.deepEqual(endToEnd(seen!.rawHeaders), endToEnd(headers));
    assert.equal(seen?.body, 'hello');
  });

  it('passes on a request with neither Content-Length nor Transfer-Encoding without adding either', async () => {
    let seen: string[] | undefined;
    const b = await backend((req, res) => {
      seen = req.rawHeaders;
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-length': 0 }).end());
    });
    cleanups.push(b.close);
    const proxy = await proxyFor([b.url]);
    for (const method of ['PUT', 'POST', 'GET']) {
      const socket = connect(proxy.port, '127.0.0.1');
      cleanups.push(async () => socket.destroy());
      socket.write(`${method} /unframed HTTP/1.1\r\nHost: example.test\r\nX-Dup: a\r\nx-dup: b\r\n\r\n`);
      assert.match(await readUntil(socket, wholeResponse), /^HTTP\/1\.1 200 OK\r\n/);
      // node:http sends a PUT or POST with neither header only from a header object: a repeated name keeps its first spelling there.
      const second = method === 'GET' ? 'x-dup' : 'X-Dup';
      assert.deepEqual(endToEnd(seen!), ['Host', 'example.test', 'X-Dup', 'a', second, 'b'], method);
    }
  });

  it('sends the head on at once: a backend that answers on the head alone is heard with no body byte sent', async () => {
    let bodyBytes = 0;
    const b = await backend((req, res) => {
      req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
      res.writeHead(501, { 'content-length': 7, connection: 'close' }).end('refused');
    });
    cleanups.push(b.close);
    const proxy = await proxyFor([b.url]);
    const socket = connect(proxy.port, '127.0.0.1');
    cleanups.push(async () => socket.destroy());
    socket.write(`PUT /huge HTTP/1.1\r\nHost: example.test\r\nContent-Length: ${1024 ** 3}\r\n\r\n`);
    const answer = await readUntil(socket, wholeResponse);
    assert.match(answer, /^HTTP\/1\.1 501 Not Implemented\r\n/);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assert.ok(answer.endsWith('\r\n\r\nrefused'));
    assert.equal(bodyBytes, 0);
  });

  it('streams a 64 MiB body each way: the backend has each MiB before the client sends the next, and the client has each MiB before the backend sends the next', { timeout: 120_000 }, async () => {
    const base = randomBytes(MiB);
    const CHUNKS = 64;
    const atBackend = new Counter();
    const atClient = new Counter();
    const backendHash = createHash('sha256');
    const b = await backend((req, res) => {
      if (req.method === 'PUT') {
        req.on('data', (chunk: Buffer) => {
          backendHash.update(chunk);
          atBackend.add(chunk.length);
        });
        req.on('end', () => res.writeHead(200, { 'content-length': 64 }).end(backendHash.digest('hex')));
        return;
      }
      // The download: MiB i + 1 is written only once the client holds MiB i.
      res.writeHead(200, { 'content-length': CHUNKS * MiB });
      void (async () => {
        for (let i = 0; i < CHUNKS; i++) {
          await atClient.reach(i * MiB);
          res.write(chunkOf(base, i));
        }
        res.end();
      })();
    });
    cleanups.push(b.close);
    const proxy = await proxyFor([b.url]);
    const target = new URL(proxy.url);

    const sentHash = createHash('sha256');
    const uploaded = await new Promise<string>((resolve, reject) => {
      const req = request({ host: target.hostname, port: target.port, method: 'PUT', path: '/big', headers: { 'content-length': CHUNKS * MiB }, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      void (async () => {
        for (let i = 0; i < CHUNKS; i++) {
          // Were the proxy to hold the body until its end, this would never resolve.
          await atBackend.reach(i * MiB);
          const chunk = chunkOf(base, i);
          sentHash.update(chunk);
          if (!req.write(chunk)) await once(req, 'drain');
        }
        req.end();
      })();
    });
    assert.equal(uploaded, sentHash.digest('hex'));
    assert.equal(atBackend.value, CHUNKS * MiB);

    const expected = createHash('sha256');
    for (let i = 0; i < CHUNKS; i++) expected.update(chunkOf(base, i));
    const gotHash = createHash('sha256');
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: target.hostname, port: target.port, path: '/big', agent: false }, (res) => {
        res.on('data', (chunk: Buffer) => {
          gotHash.update(chunk);
          atClient.add(chunk.length);
        });
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(atClient.value, CHUNKS * MiB);
    assert.equal(gotHash.digest('hex'), expected.digest('hex'));
  });

  it('passes Expect: 100-continue on: 100 Continue only from the backend, and a refusal before the body', async () => {
    let bodyBytesAtRefusal = 0;
    const b = await backend(named('unused'));
    b.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/refuse') {
        req.on('data', (chunk: Buffer) => (bodyBytesAtRefusal += chunk.length));
        res.writeHead(403, { 'content-length': 6 }).end('denied');
        return;
      }
      res.writeContinue();
      const hash = createHash('md5');
      req.on('data', (chunk: Buffer) => hash.update(chunk));
      req.on('end', () => res.writeHead(200, { 'content-length': 32 }).end(hash.digest('hex')));
    });
    cleanups.push(b.close);
    const proxy = await proxyFor([b.url]);
    const body = randomBytes(300_000);

    const accepted = connect(proxy.port, '127.0.0.1');
    cleanups.push(async () => accepted.destroy());
    accepted.write(`PUT /accept HTTP/1.1\r\nHost: example.test\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
    const interim = await readUntil(accepted, (text) => text.includes('\r\n\r\n'));
    assert.match(interim, /^HTTP\/1\.1 100 Continue\r\n/);
    accepted.write(body);
    const final = await readUntil(accepted, (text) => wholeResponse(text));
    assert.match(final, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(final.endsWith(createHash('md5').update(body).digest('hex')), final);

    const refused = connect(proxy.port, '127.0.0.1');
    cleanups.push(async () => refused.destroy());
    refused.write(`PUT /refuse HTTP/1.1\r\nHost: example.test\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
    const answer = await readUntil(refused, (text) => wholeResponse(text));
    assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\n/, 'no 100 Continue before the refusal');
    assert.match(answer, /\r\nconnection: close\r\n/i, 'the unsent body will not be read: the connection ends');
    assert.ok(answer.endsWith('\r\n\r\ndenied'));
    assert.equal(bodyBytesAtRefusal, 0);
  });

  it('answers Expect: 100-continue itself when the head holds bytes beyond ASCII, so they reach the backend as sent', async () => {
    let seen: { rawHeaders: string[]; body: string } | undefined;
    const b = await backend(named('unused'));
    b.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      res.writeContinue();
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen = { rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() };
        res.writeHead(200, { 'content-length': 2 }).end('ok');
      });
    });
    // Without Expect, the backend's own 'request' handler runs: record there too.
    b.server.removeAllListeners('request');
    b.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen = { rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() };
        res.writeHead(200, { 'content-length': 2 }).end('ok');
      });
    });
    cleanups.push(b.close);
    const proxy = await proxyFor([b.url]);
    const utf8 = Buffer.from('voilà 日本', 'utf8');
    const socket = connect(proxy.port, '127.0.0.1');
    cleanups.push(async () => socket.destroy());
    socket.write(Buffer.concat([Buffer.from('PUT /meta HTTP/1.1\r\nHost: example.test\r\nx-amz-meta-note: '), utf8, Buffer.from('\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n')]));
    assert.match(await readUntil(socket, (text) => text.includes('\r\n\r\n')), /^HTTP\/1\.1 100 Continue\r\n/);
    socket.write('body');
    assert.match(await readUntil(socket, wholeResponse), /^HTTP\/1\.1 200 OK\r\n/);
    assert.deepEqual(endToEnd(seen!.rawHeaders), ['Host', 'example.test', 'x-amz-meta-note', utf8.toString('latin1'), 'Content-Length', '4']);
    assert.equal(seen!.body, 'body');
  });

  it('skips a backend that refuses connections, sending the request to the next one; it rests for retryAfterMs', async () => {
    const [b0, b1, b2] = await backends(3);
    const proxy = await proxyFor([b0!.url, b1!.url, b2!.url], 60_000);
    await b1!.close();
    const names: string[] = [];
    for (let i = 0; i < 9; i++) {
      const answer = await send(proxy.url, { method: 'PUT', path: `/k${i}`, body: `body ${i}` });
      assert.equal(answer.status, 200);
      assert.equal((JSON.parse(answer.body.toString()) as { body: string }).body, `body ${i}`, 'the body went whole to the backend that took it');
      names.push(nameOf(answer));
    }
    assert.ok(!names.includes('b1'));
    assert.equal(proxy.requestsBy()[1], 0);
    assert.equal(proxy.requestsBy()[0]! + proxy.requestsBy()[2]!, 9);

    // Back on its port, it still rests (60 s here); with no rest it gets its turn again.
    const revived = await backend(named('b1-again'), b1!.port);
    cleanups.push(revived.close);
    for (let i = 0; i < 3; i++) assert.notEqual(nameOf(await send(proxy.url)), 'b1-again');
    const eager = await proxyFor([b0!.url, b1!.url, b2!.url], 0);
    const turns = [];
    for (let i = 0; i < 3; i++) turns.push(nameOf(await send(eager.url)));
    assert.deepEqual(turns, ['b0', 'b1-again', 'b2']);
  });

  it('answers 502 when every backend refuses', async () => {
    const [b0, b1] = await backends(2);
    const proxy = await proxyFor([b0!.url, b1!.url]);
    await b0!.close();
    await b1!.close();
    const answer = await send(proxy.url, { method: 'PUT', path: '/x', body: 'lost' });
    assert.equal(answer.status, 502);
    assert.deepEqual(proxy.requestsBy(), [0, 0]);
  });

  it('cuts the client connection when a backend dies mid-response or mid-body', async () => {
    const dyingResponse = await backend((req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write('x'.repeat(100), () => setImmediate(() => req.socket.destroy()));
    });
    cleanups.push(dyingResponse.close);
    const proxy = await proxyFor([dyingResponse.url]);
    await assert.rejects(send(proxy.url), (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET' || /aborted/.test(err.message));

    const dyingRequest = await backend((req) => {
      req.once('data', () => req.socket.destroy());
    });
    cleanups.push(dyingRequest.close);
    const proxy2 = await proxyFor([dyingRequest.url]);
    await assert.rejects(
      send(proxy2.url, { method: 'PUT', headers: { 'content-length': String(8 * MiB) }, body: randomBytes(8 * MiB) }),
      (err: NodeJS.ErrnoException) => ['ECONNRESET', 'EPIPE'].includes(err.code ?? '') || /socket hang up/.test(err.message),
    );
  });

  it('holds little memory in a process of its own while 256 MiB go through it each way', async (t) => {
    const SIZE = 256 * MiB;
    const base = randomBytes(MiB);
    const b = await backend((req, res) => {
      if (req.method === 'PUT') {
        const hash = createHash('sha256');
        req.on('data', (chunk: Buffer) => hash.update(chunk));
        req.on('end', () => res.writeHead(200, { 'content-length': 64 }).end(hash.digest('hex')));
        return;
      }
      res.writeHead(200, { 'content-length': SIZE });
      let i = 0;
      const pump = () => {
        while (i < SIZE / MiB) if (!res.write(chunkOf(base, i++))) return void res.once('drain', pump);
        res.end();
      };
      pump();
    });
    cleanups.push(b.close);
    const remote = await startProxyProcess([b.url]);
    cleanups.push(remote.close);
    const { url } = remote;
    const child = remote.process;
    const peakOf = () => Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;
    // Warm up (module loading, JIT) so the baseline is a running proxy's.
    assert.equal((await send(url, { method: 'PUT', body: randomBytes(4 * MiB) })).status, 200);
    const baseline = peakOf();

    const target = new URL(url);
    const sent = createHash('sha256');
    const uploaded = await new Promise<string>((resolve, reject) => {
      const req = request({ host: target.hostname, port: target.port, method: 'PUT', path: '/big', headers: { 'content-length': SIZE }, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      void (async () => {
        for (let i = 0; i < SIZE / MiB; i++) {
          const chunk = chunkOf(base, i);
          sent.update(chunk);
          if (!req.write(chunk)) await once(req, 'drain');
        }
        req.end();
      })();
    });
    assert.equal(uploaded, sent.digest('hex'));
    const received = await new Promise<{ size: number; hash: string }>((resolve, reject) => {
      const hash = createHash('sha256');
      let size = 0;
      const req = request({ host: target.hostname, port: target.port, path: '/big', agent: false }, (res) => {
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          hash.update(chunk);
        });
        res.on('end', () => resolve({ size, hash: hash.digest('hex') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    const expected = createHash('sha256');
    for (let i = 0; i < SIZE / MiB; i++) expected.update(chunkOf(base, i));
    assert.deepEqual(received, { size: SIZE, hash: expected.digest('hex') });
    const growth = peakOf() - baseline;
    t.diagnostic(`proxy peak RSS: baseline ${(baseline / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB`);
    assert.ok(growth < 64 * MiB, `the proxy's peak RSS grew by ${(growth / MiB).toFixed(1)} MiB moving 256 MiB each way`);
    // Asked over its IPC channel, as the cluster asks it.
    assert.deepEqual(await remote.requestsBy(), [3]);
    await remote.setBackend(0, 'http://127.0.0.1:1');
    assert.equal((await send(url)).status, 502, 'pointed at a port nothing listens on');
    await remote.close();
    assert.notEqual(child.exitCode ?? child.signalCode, null);
  });
});
