import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCheckpoint, checkpointPath } from '../../src/client/checkpoint.js';
import { AbortError, IntegrityError, ServiceError } from '../../src/client/errors.js';
import { listAllObjects, listAllParts, listAllUploads, listObjectsPages } from '../../src/client/paging.js';
import { downloadFile } from '../../src/client/transfer.js';
import { uploadFile } from '../../src/client/uploader.js';
import type { DialectName } from '../../src/client/types.js';
import { DIALECTS, client, fileMd5, md5Hex, quotedEtag, settledParts, uploadPartLines, useServerAndWorkDir, waitFor } from '../cli/run.js';

const KiB = 1024;

/** Multipart from the first byte, in 100 KiB parts, two at a time. */
function smallParts(bucket: string, key: string, file: string) {
  return { bucket, key, file, multipartThreshold: 1, partSize: 100 * KiB, parallel: 2 };
}

/**
 * A real TCP proxy in front of the server: `decide` sees each request and may answer it itself
 * (a 5xx), cut the connection, or let it through (optionally rewriting the answer's headers).
 */
interface ProxyRule {
  (req: IncomingMessage, res: ServerResponse, hit: number): 'forward' | 'handled' | { rewrite: (headers: Record<string, string | string[] | undefined>) => void };
}

async function startProxy(target: string, rule: ProxyRule): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    const decision = rule(req, res, hits);
    if (decision === 'handled') {
      req.resume();
      return;
    }
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const headers = { ...answer.headers };
        if (decision !== 'forward') decision.rewrite(headers);
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    hits: () => hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function serviceUnavailable(res: ServerResponse): 'handled' {
  const body = '<?xml version="1.0"?><Error><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message><RequestId>PROXY</RequestId></Error>';
  res.writeHead(503, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return 'handled';
}

const env = useServerAndWorkDir('tessera-client-');

for (const dialect of DIALECTS) {
  describe(`client SDK over the ${dialect} dialect`, () => {
    const bucket = `sdk-${dialect}`;

    before(async () => {
      const c = client(env.server, dialect);
      await c.createBucket(bucket);
      c.destroy();
    });

    it('pages ListParts, ListMultipartUploads and ListObjects to the end', async () => {
      const c = client(env.server, dialect);
      try {
        const key = 'paged parts+ü';
        const { uploadId } = await c.createMultipartUpload(bucket, key);
        const bodies = Array.from({ length: 23 }, (_, i) => `part-${i + 1}-${'x'.repeat(i)}`);
        await Promise.all(bodies.map((body, i) => c.uploadPart(bucket, key, uploadId, i + 1, body)));
        const parts = [];
        for await (const part of listAllParts(c, bucket, key, uploadId, { maxParts: 5 })) parts.push(part);
        assert.deepEqual(
          parts.map((p) => p.partNumber),
          bodies.map((_, i) => i + 1),
        );
        assert.deepEqual(
          parts.map((p) => p.etag),
          bodies.map((b) => quotedEtag(dialect, md5Hex(b))),
        );
        assert.deepEqual(
          parts.map((p) => p.size),
          bodies.map((b) => b.length),
        );

        const keys = Array.from({ length: 12 }, (_, i) => `up/${String(i).padStart(2, '0')} a+b%`);
        for (const k of keys) await c.createMultipartUpload(bucket, k);
        await c.createMultipartUpload(bucket, keys[3]!);
        const uploads = [];
        for await (const upload of listAllUploads(c, bucket, { prefix: 'up/', maxUploads: 5 })) uploads.push(upload);
        assert.equal(uploads.length, 13);
        assert.deepEqual([...new Set(uploads.map((u) => u.key))], keys);

        const objectKeys = Array.from({ length: 17 }, (_, i) => `obj/${i % 3}/k ${String(i).padStart(2, '0')}+&<>`);
        await Promise.all(objectKeys.map((k) => c.putObject(bucket, k, k)));
        const listed = [];
        for await (const object of listAllObjects(c, bucket, { prefix: 'obj/', maxKeys: 4 })) listed.push(object.key);
        assert.deepEqual(listed, [...objectKeys].sort());
        const folders = [];
        for await (const page of listObjectsPages(c, bucket, { prefix: 'obj/', delimiter: '/', maxKeys: 2 })) folders.push(...page.commonPrefixes);
        assert.deepEqual(folders, ['obj/0/', 'obj/1/', 'obj/2/']);
      } finally {
        c.destroy();
      }
    });

    it('parses the error document into a ServiceError (code, message, request id, status)', async () => {
      const c = client(env.server, dialect);
      try {
        await assert.rejects(c.listParts(bucket, 'nothing', 'no-such-upload-id'), (err: unknown) => {
          assert.ok(err instanceof ServiceError);
          assert.equal(err.code, 'NoSuchUpload');
          assert.equal(err.status, 404);
          assert.match(err.message, /upload does not exist/);
          assert.match(err.requestId, /^[0-9A-F]{24}$/);
          assert.equal(err.detail.UploadId, 'no-such-upload-id');
          return true;
        });
        await assert.rejects(c.headObject(bucket, 'absent'), (err: unknown) => {
          assert.ok(err instanceof ServiceError);
          assert.equal(err.code, 'NoSuchKey');
          assert.equal(err.status, 404);
          assert.ok(err.requestId.length > 0);
          return true;
        });
        const wrong = client(env.server, dialect, { credentials: { accessKeyId: 'tessera-root', secretAccessKey: 'wrong-secret' } });
        await assert.rejects(wrong.listBuckets(), (err: unknown) => err instanceof ServiceError && err.code === 'SignatureDoesNotMatch' && err.status === 403);
        wrong.destroy();
      } finally {
        c.destroy();
      }
    });

    it('resumes an interrupted upload from its checkpoint, sending only the parts still missing', async () => {
      const file = join(env.work, `resume-${dialect}.bin`);
      const data = randomBytes(20 * 100 * KiB + 1234);
      await writeFile(file, data);
      const checkpointDir = join(env.work, `cp-${dialect}`);
      const key = 'resumed/object.bin';
      const c = client(env.server, dialect);
      try {
        const controller = new AbortController();
        let stored = 0;
        const first = uploadFile(c, {
          ...smallParts(bucket, key, file),
          checkpointDir,
          signal: controller.signal,
          onPart: () => {
            if (++stored === 6) controller.abort();
          },
        });
        await assert.rejects(first, (err: unknown) => err instanceof AbortError);
        const cpFile = checkpointPath(checkpointDir, file, `${dialect}://${bucket}/${key}`);
        const checkpoint = await loadCheckpoint(cpFile);
        assert.ok(checkpoint, 'the checkpoint survives the abort');
        const done = checkpoint.Parts.filter((p) => p.IsCompleted).map((p) => p.Chunk.Number);
        assert.ok(done.length >= 6 && done.length < 21, `${done.length} parts recorded`);
        const partsOnServer = await settledParts(c, bucket, key, checkpoint.UploadID);

        const before = uploadPartLines(env.server, bucket, key).length;
        const progress: number[] = [];
        const result = await uploadFile(c, {
          bucket,
          key,
          file,
          multipartThreshold: 1,
          partSize: 100 * KiB,
          checkpointDir,
          onProgress: (p) => progress.push(p.transferredBytes),
        });
        assert.equal(result.uploadId, checkpoint.UploadID, 'the same upload is resumed');
        assert.equal(result.partsTotal, 21);
        assert.equal(result.partsResumed, partsOnServer.length, 'every part the service holds is kept');
        assert.equal(result.partsUploaded, 21 - partsOnServer.length);
        await waitFor(() => uploadPartLines(env.server, bucket, key).length >= before + result.partsUploaded, 5_000, 'access log');
        assert.equal(uploadPartLines(env.server, bucket, key).length - before, 21 - partsOnServer.length, 'UploadPart requests of the second run');
        assert.ok(result.verifiedBy.includes('etag'));
        if (dialect === 'oss') assert.ok(result.verifiedBy.includes('crc64'));
        assert.equal(progress[0], partsOnServer.length * 100 * KiB, 'progress starts from what was already stored');
        assert.equal(progress.at(-1), data.length);
        assert.deepEqual(await readdir(checkpointDir), [], 'the checkpoint is removed after success');

        const copy = join(env.work, `resume-${dialect}.out`);
        await downloadFile(c, { bucket, key, file: copy });
        assert.equal(await fileMd5(copy), md5Hex(data));
      } finally {
        c.destroy();
      }
    });

    it('cancels an upload with an AbortSignal: in-flight parts are cut, nothing completes', async () => {
      const file = join(env.work, `abort-${dialect}.bin`);
      await writeFile(file, randomBytes(8 * 100 * KiB));
      const c = client(env.server, dialect);
      try {
        const controller = new AbortController();
        const key = 'aborted.bin';
        let seen = 0;
        const upload = uploadFile(c, {
          ...smallParts(bucket, key, file),
          maxBytesPerSecond: 400 * KiB,
          signal: controller.signal,
          onProgress: (p) => {
            seen = p.transferredBytes;
            if (p.transferredBytes > 150 * KiB) controller.abort();
          },
        });
        await assert.rejects(upload, (err: unknown) => err instanceof AbortError);
        assert.ok(seen < 8 * 100 * KiB);
        await assert.rejects(c.headObject(bucket, key), (err: unknown) => err instanceof ServiceError && err.status === 404);
        const uploads = [];
        for await (const u of listAllUploads(c, bucket, { prefix: key })) uploads.push(u);
        assert.equal(uploads.length, 1, 'the upload is left for a later resume');
      } finally {
        c.destroy();
      }
    });
  });
}

describe('client retries through a real proxy', () => {
  const bucket = 'sdk-retries';
  before(async () => {
    const c = client(env.server, 's3');
    await c.createBucket(bucket);
    c.destroy();
  });

  for (const dialect of DIALECTS) {
    it(`${dialect}: an idempotent request answered 503 twice succeeds on the third try`, async () => {
      const proxy = await startProxy(env.server.url, (_req, res, hit) => (hit <= 2 ? serviceUnavailable(res) : 'forward'));
      const retries: number[] = [];
      const c = client(env.server, dialect, { endpoint: proxy.url, retry: { baseDelayMs: 5, maxDelayMs: 20 }, onRetry: (e) => retries.push(e.attempt) });
      try {
        const put = await c.putObject(bucket, `retried-${dialect}`, 'payload');
        assert.equal(put.etag.toLowerCase(), `"${md5Hex('payload')}"`);
        assert.equal(proxy.hits(), 3);
        assert.deepEqual(retries, [1, 2]);
      } finally {
        c.destroy();
        await proxy.close();
      }
    });
  }

  it('gives up after maxRetries and reports the last ServiceError', async () => {
    const proxy = await startProxy(env.server.url, (_req, res) => serviceUnavailable(res));
    const c = client(env.server, 's3', { endpoint: proxy.url, retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5 } });
    try {
      await assert.rejects(c.listBuckets(), (err: unknown) => err instanceof ServiceError && err.status === 503 && err.requestId === 'PROXY');
      assert.equal(proxy.hits(), 3);
    } finally {
      c.destroy();
      await proxy.close();
    }
  });

  it('retries a connection cut mid-request for idempotent calls only', async () => {
    const cut: ProxyRule = (req, res, hit) => {
      if (hit === 1) {
        req.socket.destroy();
        return 'handled';
      }
      return 'forward';
    };
    let proxy = await startProxy(env.server.url, cut);
    let c = client(env.server, 's3', { endpoint: proxy.url, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
    try {
      await c.putObject(bucket, 'after-cut', 'x');
      assert.equal(proxy.hits(), 2, 'PutObject was sent again');
    } finally {
      c.destroy();
      await proxy.close();
    }
    // CreateMultipartUpload may have been acted on before the cut: not retried.
    proxy = await startProxy(env.server.url, cut);
    c = client(env.server, 's3', { endpoint: proxy.url, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
    try {
      await assert.rejects(c.createMultipartUpload(bucket, 'not-twice'), (err: unknown) => !(err instanceof ServiceError));
      assert.equal(proxy.hits(), 1, 'CreateMultipartUpload was not sent again');
    } finally {
      c.destroy();
      await proxy.close();
    }
  });

  it('a 500 on CreateMultipartUpload is returned, not retried; a 503 (declined) is retried', async () => {
    let proxy = await startProxy(env.server.url, (_req, res, hit) => {
      if (hit > 1) return 'forward';
      res.writeHead(500, { 'content-type': 'application/xml' }).end('<Error><Code>InternalError</Code><Message>boom</Message><RequestId>R500</RequestId></Error>');
      return 'handled';
    });
    let c = client(env.server, 'oss', { endpoint: proxy.url, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
    try {
      await assert.rejects(c.createMultipartUpload(bucket, 'once'), (err: unknown) => err instanceof ServiceError && err.status === 500 && err.requestId === 'R500');
      assert.equal(proxy.hits(), 1);
    } finally {
      c.destroy();
      await proxy.close();
    }
    proxy = await startProxy(env.server.url, (_req, res, hit) => (hit === 1 ? serviceUnavailable(res) : 'forward'));
    c = client(env.server, 'oss', { endpoint: proxy.url, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
    try {
      const { uploadId } = await c.createMultipartUpload(bucket, 'declined-then-done');
      assert.ok(uploadId.length > 0);
      assert.equal(proxy.hits(), 2);
    } finally {
      c.destroy();
      await proxy.close();
    }
  });

  it('catches an answer whose ETag is not the MD5 of what was sent (IntegrityError)', async () => {
    const file = join(env.work, 'integrity.bin');
    await writeFile(file, 'the bytes on disk');
    const proxy = await startProxy(env.server.url, (req) =>
      req.method === 'PUT' ? { rewrite: (headers) => void (headers.etag = `"${md5Hex('something else')}"`) } : 'forward',
    );
    const c = client(env.server, 's3', { endpoint: proxy.url });
    try {
      await assert.rejects(uploadFile(c, { bucket, key: 'tampered', file }), (err: unknown) => err instanceof IntegrityError);
    } finally {
      c.destroy();
      await proxy.close();
    }
  });
});

describe('client signing modes', () => {
  it('OSS V4 signatures and STS-less path style work against the server', async () => {
    const c = client(env.server, 'oss', { signVersion: 'v4', region: 'cn-hangzhou' });
    const dialect: DialectName = 'oss';
    try {
      await c.createBucket('sdk-v4');
      await c.putObject('sdk-v4', 'k v4', 'v4 body');
      const head = await c.headObject('sdk-v4', 'k v4');
      assert.equal(head.etag, quotedEtag(dialect, md5Hex('v4 body')));
      assert.ok(head.crc64);
    } finally {
      c.destroy();
    }
  });
});
