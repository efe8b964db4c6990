/**
 * A request refused before its body was read, on a bare socket: a small body is read to its end
 * after the answer and the connection stays usable (closing with bytes unread makes the kernel
 * reset it, and a client still sending would get the reset instead of the answer); a large one is
 * answered `Connection: close` and not read.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startServer, type TestServer } from '../helpers/server.js';

/** Collects what the server sends, and tells when the socket ended and whether it was reset. */
function watch(socket: Socket) {
  let received = '';
  let waiters: Array<() => void> = [];
  const state = { closed: false, reset: false };
  const wake = () => {
    for (const waiter of waiters) waiter();
    waiters = [];
  };
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
    wake();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') state.reset = true;
    wake();
  });
  socket.on('close', () => {
    state.closed = true;
    wake();
  });
  return {
    state,
    /** Waits (at most 10 s) until `done` says what arrived is enough. */
    async until(done: (text: string) => boolean): Promise<string> {
      const deadline = Date.now() + 10_000;
      while (!done(received)) {
        if (state.closed || Date.now() > deadline) throw new Error(`no such answer; received so far: ${JSON.stringify(received.slice(0, 300))}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return received;
    },
  };
}

/** Counts complete HTTP responses (each of these has a Content-Length body). */
function responses(text: string): Array<{ status: number; head: string }> {
  const found: Array<{ status: number; head: string }> = [];
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) return found;
    const head = text.slice(at, end);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
    if (text.length < end + 4 + length) return found;
    found.push({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head });
    at = end + 4 + length;
  }
}

const write = (socket: Socket, data: string | Buffer) => new Promise<void>((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));

describe('a request refused before its body was read', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ singleNode: true });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('a small body is read to its end after the answer; the client can finish sending and reuse the connection', async () => {
    const socket = connect(server.port, '127.0.0.1');
    const seen = watch(socket);
    const body = Buffer.alloc(64 * 1024, 0x61);
    // An unsigned PUT to a bucket that is not there: refused (404 NoSuchBucket, whoever asks) on its headers alone.
    await write(socket, `PUT /some-bucket/key HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: ${body.length}\r\n\r\n`);
    await write(socket, body.subarray(0, 1024));
    const first = responses(await seen.until((text) => responses(text).length === 1))[0]!;
    assert.equal(first.status, 404);
    assert.doesNotMatch(first.head, /\r\nconnection: close/i);
    // The rest of the body still goes through, then a second request on the same connection is answered.
    await write(socket, body.subarray(1024));
    await write(socket, 'GET /some-bucket HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    const both = responses(await seen.until((text) => responses(text).length === 2));
    assert.equal(both[1]!.status, 404);
    assert.equal(seen.state.reset, false);
    socket.destroy();
  });

  it('a large body is not read: the answer says Connection: close and the connection ends', async () => {
    const socket = connect(server.port, '127.0.0.1');
    const seen = watch(socket);
    await write(socket, `PUT /some-bucket/key HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: ${2 * 1024 * 1024 + 1}\r\n\r\n`);
    await write(socket, Buffer.alloc(1024, 0x61));
    const first = responses(await seen.until((text) => responses(text).length === 1))[0]!;
    assert.equal(first.status, 404);
    assert.match(first.head, /\r\nconnection: close/i);
    await new Promise<void>((resolve) => (seen.state.closed ? resolve() : socket.once('close', () => resolve())));
    socket.destroy();
  });
});
