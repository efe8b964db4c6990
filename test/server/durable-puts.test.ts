import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { request } from 'node:http';
import { openSigned, readBody, signedRequest, unsignedPayloadHeaders, type RawResponse } from '../helpers/raw.js';
import { clusterMode, startNode, startServer, type TestServer } from '../helpers/server.js';
import { SERVER_NODE_FLAGS } from '../../src/server/node-flags.js';

/**
 * Small PUTs are made durable by shared fsyncs (core/group-sync.ts): the WAL's, one for every commit
 * made while the last ran, and each blob directory's. These tests hold the server to its promise:
 * a PUT is answered only once its bytes, its directory entry and its metadata are on disk.
 */

const KiB = 1024;
const md5Hex = (data: Buffer) => createHash('md5').update(data).digest('hex');
const unquote = (etag: unknown) => String(etag).replace(/"/g, '');

function put(baseUrl: string, path: string, body: Buffer): Promise<RawResponse> {
  const { req, response } = openSigned(baseUrl, 'PUT', path, body.length);
  req.end(body);
  return response;
}

/** GET of a whole object as bytes (signed, fresh connection). */
function getBytes(baseUrl: string, path: string): Promise<{ status: number; body: Buffer }> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: 'GET', path: url.pathname, headers: unsignedPayloadHeaders(baseUrl, 'GET', path, 0), agent: false },
      (res) => void readBody(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end();
  });
}

async function createBucket(server: TestServer, bucket: string): Promise<void> {
  const res = await signedRequest(server.url, 'PUT', `/${bucket}`);
  assert.equal(res.status, 200, res.body);
}

/** strace is installed and may trace here (a container may forbid ptrace). */
function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-qq', '-o', '/dev/null', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** One system call from an `strace -f -ttt -T` log, its start and end in seconds. */
interface Call {
  name: string;
  args: string;
  result: string;
  start: number;
  end: number;
}

/** The calls of an `strace -f -ttt -T` log, in the order they started (an interrupted call's two lines joined). */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<string, { name: string; args: string; start: number }>();
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, ts, rest] = m as unknown as [string, string, string, string];
    const start = Number(ts);
    const unfinished = /^(\w+)\((.*) <unfinished \.\.\.>$/.exec(rest);
    if (unfinished) {
      open.set(pid, { name: unfinished[1]!, args: unfinished[2]!, start });
      continue;
    }
    const resumed = /^<\.\.\. (\w+) resumed>(.*)\) += (.*?) <(\d+\.\d+)>$/.exec(rest);
    if (resumed) {
      const first = open.get(pid);
      open.delete(pid);
      if (first && first.name === resumed[1]) {
        calls.push({ name: first.name, args: first.args + resumed[2], result: resumed[3]!, start: first.start, end: first.start + Number(resumed[4]) });
      }
      continue;
    }
    const whole = /^(\w+)\((.*)\) += (.*?) <(\d+\.\d+)>$/.exec(rest);
    if (whole) calls.push({ name: whole[1]!, args: whole[2]!, result: whole[3]!, start, end: start + Number(whole[4]) });
  }
  return calls.sort((a, b) => a.start - b.start);
}

describe('durable small PUTs', () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const server of servers.reverse()) await server.cleanup();
  });

  it('after a kill during a burst of concurrent small PUTs, every acknowledged object is there, whole, with its ETag', async (t) => {
    const first = await startServer();
    servers.push(first);
    const bucket = 'burst';
    await createBucket(first, bucket);

    const OBJECTS = 600;
    const CONCURRENCY = 16;
    const bodies = Array.from({ length: OBJECTS }, () => randomBytes(64 * KiB));
    const acknowledged = new Map<number, string>();
    const inFlight = new Set<number>();
    let killed = false;
    let next = 0;
    let reachedThreshold!: () => void;
    const threshold = new Promise<void>((resolve) => (reachedThreshold = resolve));
    const worker = async () => {
      while (!killed && next < OBJECTS) {
        const i = next++;
        inFlight.add(i);
        try {
          const res = await put(first.url, `/${bucket}/small/${i}`, bodies[i]!);
          // Counted only if answered before the kill was sent: a 200 that raced the kill is not relied on.
          if (res.status === 200 && !killed) {
            acknowledged.set(i, unquote(res.headers.etag));
            if (acknowledged.size >= 150) reachedThreshold();
          } else if (!killed) {
            throw new Error(`object ${i}: ${res.status} ${res.body}`);
          }
        } catch (err) {
          if (!killed) throw err;
        } finally {
          inFlight.delete(i);
        }
      }
    };
    const workers = Array.from({ length: CONCURRENCY }, worker);
    const failed = Promise.all(workers).then(() => {
      throw new Error('every PUT finished before the kill');
    });
    await Promise.race([threshold, failed]);
    failed.catch(() => {});
    const ackedAtKill = new Map(acknowledged);
    const unanswered = new Set(inFlight);
    killed = true;
    await first.kill();
    await Promise.all(workers);
    t.diagnostic(`acknowledged before the kill: ${ackedAtKill.size}, in flight: ${unanswered.size}`);
    assert.ok(unanswered.size > 0, 'some PUTs were in flight at the kill');

    const second = await startServer({ dataDir: first.dataDir });
    servers.push(second);
    for (const [i, etag] of ackedAtKill) {
      assert.equal(etag, md5Hex(bodies[i]!), `object ${i} was acknowledged with the MD5 of its body`);
      const got = await signedRequest(second.url, 'GET', `/${bucket}/small/${i}`);
      assert.equal(got.status, 200, `acknowledged object ${i} survives the kill`);
      assert.equal(unquote(got.headers.etag), etag, `object ${i} keeps its ETag`);
    }
    // Byte for byte (a sample: an ETag is what the server computed as it wrote, not what it reads back).
    for (const i of [...ackedAtKill.keys()].filter((_, n) => n % 10 === 0)) {
      const got = await getBytes(second.url, `/${bucket}/small/${i}`);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(bodies[i]!), `acknowledged object ${i} reads back whole`);
    }
    // What else is there was in flight at the kill (committed, its answer lost), and whole.
    const listed = await signedRequest(second.url, 'GET', `/${bucket}?list-type=2&max-keys=1000`);
    assert.equal(listed.status, 200, listed.body);
    const keys = [...listed.body.matchAll(/<Key>small\/(\d+)<\/Key>/g)].map((m) => Number(m[1]));
    const etags = [...listed.body.matchAll(/<ETag>([^<]+)<\/ETag>/g)].map((m) => unquote(m[1]!.replace(/&quot;/g, '"')));
    assert.equal(keys.length, etags.length);
    keys.forEach((i, n) => {
      assert.ok(ackedAtKill.has(i) || unanswered.has(i), `listed object ${i} was acknowledged or in flight`);
      assert.equal(etags[n], md5Hex(bodies[i]!), `listed object ${i} is whole`);
    });
    for (const i of ackedAtKill.keys()) assert.ok(keys.includes(i), `acknowledged object ${i} is listed`);
  });

  it('answers a PUT only after its blob, its directory entry and its metadata commit were fsynced, in that order (strace)', async (t) => {
    if (clusterMode()) return t.skip('one SQLite node: the trace follows its WAL (PostgreSQL commits in its own processes)');
    if (!hasStrace()) return t.skip('strace is not installed, or may not trace here');
    const traceDir = await mkdtemp(join(tmpdir(), 'tessera-trace-'));
    const traceFile = join(traceDir, 'trace');
    const server = await startNode({
      launch: [
        'strace', '-f', '-ttt', '-T', '-qq', '-s', '24', '-o', traceFile,
        '-e', 'trace=openat,close,write,pwrite64,writev,pwritev,fsync,fdatasync,rename,renameat,renameat2',
        process.execPath, ...SERVER_NODE_FLAGS,
      ],
    });
    servers.push(server);
    try {
      const bucket = 'traced';
      await createBucket(server, bucket);
      // Small bodies are written in place (blob-store.ts: StagedBlob.placed); every fifth, over one
      // 2 MiB staging slot, goes through tmp/ and is renamed into place.
      const PUTS = 20;
      const isLarge = (i: number) => i % 5 === 4;
      for (let i = 0; i < PUTS; i++) {
        const body = randomBytes(isLarge(i) ? 3 * 1024 * KiB : 64 * KiB);
        const res = await put(server.url, `/${bucket}/k${i}`, body);
        assert.equal(res.status, 200, res.body);
        assert.equal(unquote(res.headers.etag), md5Hex(body));
      }
      // strace's child is the server: stop it, and strace ends with it.
      const node = (await readFile(`/proc/${server.process.pid}/task/${server.process.pid}/children`, 'utf8')).trim().split(/\s+/)[0];
      assert.ok(node, 'the traced server process');
      process.kill(Number(node), 'SIGTERM');
      if (server.process.exitCode === null) await new Promise((resolve) => server.process.once('exit', resolve));

      const calls = parseTrace(await readFile(traceFile, 'utf8'));
      // Which file each call's descriptor names. Threads interleave: close frees its number as it
      // begins, and an openat on another thread may take that number before the close returns (or
      // begin before the close does), so a descriptor is bound when its openat returns, freed when
      // its close begins, and a call that uses one looks it up when it begins.
      const paths = new Map<string, string>();
      const pathOf = new Map<Call, string | undefined>();
      const events = calls.flatMap((call) => {
        const fd = /^(\d+)/.exec(call.args)?.[1];
        if (call.name === 'openat') return /^\d+$/.test(call.result) ? [{ at: call.end, call, fd: call.result }] : [];
        return fd === undefined ? [] : [{ at: call.start, call, fd }];
      });
      for (const { call, fd } of events.sort((a, b) => a.at - b.at)) {
        if (call.name === 'openat') paths.set(fd, /"([^"]+)"/.exec(call.args)?.[1] ?? '');
        else if (call.name === 'close') paths.delete(fd);
        else pathOf.set(call, paths.get(fd));
      }
      const isWal = (call: Call) => pathOf.get(call)?.endsWith('/meta.db-wal') ?? false;
      const syncs = calls.filter((call) => (call.name === 'fsync' || call.name === 'fdatasync') && call.result === '0');
      const answers = calls.filter((call) => /^(write|writev)$/.test(call.name) && call.args.includes('HTTP/1.1 200')).slice(-PUTS);
      assert.equal(answers.length, PUTS, 'every PUT answer is in the trace');

      let windowStart = 0;
      for (const [i, answer] of answers.entries()) {
        const answered = answer.start;
        const inWindow = (call: Call) => call.start > windowStart && call.end <= answered;
        // The metadata commit: its last write to the WAL, then an fsync of the WAL begun after it and finished before the answer.
        const walWrites = calls.filter((call) => /^(write|pwrite64|pwritev)$/.test(call.name) && isWal(call) && inWindow(call));
        assert.ok(walWrites.length > 0, `PUT ${i}: its commit wrote to the WAL before the answer`);
        const committed = walWrites.at(-1)!.end;
        assert.ok(
          syncs.some((call) => isWal(call) && call.start >= committed && call.end <= answered),
          `PUT ${i}: the WAL was fsynced after its commit and before the answer`,
        );
        const rename = calls.find((call) => call.name.startsWith('rename') && call.args.includes('/blobs/') && inWindow(call));
        if (!isLarge(i)) {
          // Written in place: created in blobs/xx/, then the file and that directory fsynced, both before the commit.
          assert.equal(rename, undefined, `PUT ${i}: a small body is not renamed`);
          const created = calls.find((call) => call.name === 'openat' && /\/blobs\/[0-9a-f]{2}\/[0-9a-f]{32}"/.test(call.args) && call.args.includes('O_CREAT') && inWindow(call));
          assert.ok(created, `PUT ${i}: its blob was created in place before the answer`);
          const path = /"([^"]+)"/.exec(created.args)![1]!;
          const dir = path.slice(0, path.lastIndexOf('/'));
          // Its commit: the WAL writes after the blob was created (PUT 0's window also holds the bucket's).
          const commitBegan = walWrites.find((call) => call.start >= created.end)?.start;
          assert.ok(commitBegan !== undefined, `PUT ${i}: its commit wrote to the WAL after its blob was created`);
          assert.ok(
            syncs.some((call) => pathOf.get(call) === path && call.end <= commitBegan),
            `PUT ${i}: its blob was fsynced before its metadata was committed`,
          );
          assert.ok(
            syncs.some((call) => pathOf.get(call) === dir && call.start >= created.end && call.end <= commitBegan),
            `PUT ${i}: its directory was fsynced after the blob was created and before its metadata was committed`,
          );
          windowStart = answered;
          continue;
        }
        // A large body: fsynced in tmp/, renamed into blobs/xx/, and that directory fsynced after the rename.
        assert.ok(rename, `PUT ${i}: its blob was renamed into place before the answer`);
        const [tempPath, finalPath] = [...rename.args.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
        assert.ok(tempPath && finalPath);
        assert.ok(
          syncs.some((call) => pathOf.get(call) === tempPath && call.end <= rename.start),
          `PUT ${i}: its blob was fsynced before the rename`,
        );
        const dir = finalPath.slice(0, finalPath.lastIndexOf('/'));
        assert.ok(
          syncs.some((call) => pathOf.get(call) === dir && call.start >= rename.end && call.end <= answered),
          `PUT ${i}: its directory was fsynced after the rename and before the answer (rename ${rename.start}-${rename.end}, answer ${answered}; ` +
            `fsyncs of ${dir}: ${syncs.filter((call) => pathOf.get(call) === dir).map((call) => `${call.start}-${call.end}`).join(', ')}; ` +
            `fsyncs near: ${syncs.filter((call) => call.end > rename.start - 0.05 && call.start < answered + 0.05).map((call) => `${pathOf.get(call)} ${call.args.slice(0, 12)} ${call.start}-${call.end}`).join(', ')})`,
        );
        assert.ok(committed >= rename.end, `PUT ${i}: the metadata was committed after the blob was in place`);
        windowStart = answered;
      }
    } finally {
      await rm(traceDir, { recursive: true, force: true });
    }
  });
});
