import assert from 'node:assert/strict';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';
import {
  ALICE,
  ALICE_BUCKET,
  blobFiles,
  holdLease,
  login,
  md5,
  ok,
  openStore,
  panCall,
  poll,
  putSlice,
  randomData,
  s3Bytes,
  SLICE,
  slicesOf,
  startPanServer,
} from './helpers.js';

/** create → presigned PUT of each slice (in `order`) → the preuploadID. */
async function createAndPut(base: string, token: string, name: string, data: Buffer, order?: number[], etag = md5(data)): Promise<string> {
  const created = await ok(base, 'POST', '/upload/v1/file/create', { token, json: { parentFileID: 0, filename: name, etag, size: data.length } });
  assert.equal(created.reuse, false);
  assert.equal(created.sliceSize, SLICE);
  const slices = slicesOf(data, created.sliceSize);
  for (const sliceNo of order ?? slices.map((_, i) => i + 1)) {
    const { presignedURL } = await ok(base, 'POST', '/upload/v1/file/get_upload_url', { token, json: { preuploadID: created.preuploadID, sliceNo } });
    const put = await putSlice(presignedURL, slices[sliceNo - 1]!);
    assert.equal(put.status, 200, put.text);
    assert.equal(put.text, '');
  }
  return created.preuploadID;
}

async function waitAsync(base: string, token: string, preuploadID: string): Promise<number> {
  return poll(async () => {
    const result = await ok(base, 'POST', '/upload/v1/file/upload_async_result', { token, json: { preuploadID } });
    return result.completed ? (result.fileID as number) : undefined;
  });
}

describe('pan V1 upload', () => {
  let server: TestServer;
  let token: string;

  before(async () => {
    server = await startPanServer();
    token = await login(server.url);
  });
  after(async () => {
    await server?.cleanup();
  });

  it('uploads a one-slice file through a presigned URL and completes at once', async () => {
    const data = randomData(10 * 1024);
    const preuploadID = await createAndPut(server.url, token, 'one.bin', data);
    const parts = await ok(server.url, 'POST', '/upload/v1/file/list_upload_parts', { token, json: { preuploadID } });
    assert.deepEqual(parts.parts, [{ partNumber: '1', size: data.length, etag: md5(data) }]);
    const done = await ok(server.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID } });
    assert.equal(done.async, false);
    assert.equal(done.completed, true);
    assert.ok(done.fileID > 0);
    const detail = await ok(server.url, 'GET', '/api/v1/file/detail', { token, query: { fileID: done.fileID } });
    assert.equal(detail.filename, 'one.bin');
    assert.equal(detail.etag, md5(data));
    assert.equal(detail.size, data.length);
    assert.deepEqual(await s3Bytes(server, 'one.bin'), data);
  });

  it('uploads many slices in order; the seed listing has string part numbers and lower-case MD5s; completion is instant', async () => {
    const data = randomData(5 * SLICE + 1234);
    const preuploadID = await createAndPut(server.url, token, 'many.bin', data);
    const { parts } = await ok(server.url, 'POST', '/upload/v1/file/list_upload_parts', { token, json: { preuploadID } });
    const slices = slicesOf(data, SLICE);
    assert.equal(parts.length, 6);
    parts.forEach((part: { partNumber: unknown; size: number; etag: string }, i: number) => {
      assert.equal(part.partNumber, String(i + 1));
      assert.equal(part.size, slices[i]!.length);
      assert.match(part.etag, /^[0-9a-f]{32}$/);
      assert.equal(part.etag, md5(slices[i]!));
    });
    const done = await ok(server.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID } });
    assert.deepEqual({ async: done.async, completed: done.completed }, { async: false, completed: true });
    assert.deepEqual(await s3Bytes(server, 'many.bin'), data);
    // A repeated complete answers the same file.
    const again = await ok(server.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID } });
    assert.equal(again.fileID, done.fileID);
  });

  it('resumes: create again gives the same preuploadID, list_upload_parts shows what is stored', async () => {
    const data = randomData(6 * SLICE);
    const slices = slicesOf(data, SLICE);
    const first = await ok(server.url, 'POST', '/upload/v1/file/create', { token, json: { parentFileID: 0, filename: 'resume.bin', etag: md5(data), size: data.length } });
    for (const sliceNo of [1, 2, 3]) {
      const { presignedURL } = await ok(server.url, 'POST', '/upload/v1/file/get_upload_url', { token, json: { preuploadID: first.preuploadID, sliceNo } });
      assert.equal((await putSlice(presignedURL, slices[sliceNo - 1]!)).status, 200);
    }
    // "Interrupted"; the client starts over with create.
    const second = await ok(server.url, 'POST', '/upload/v1/file/create', { token, json: { parentFileID: 0, filename: 'resume.bin', etag: md5(data), size: data.length } });
    assert.equal(second.preuploadID, first.preuploadID);
    const { parts } = await ok(server.url, 'POST', '/upload/v1/file/list_upload_parts', { token, json: { preuploadID: second.preuploadID } });
    assert.deepEqual(
      parts.map((part: { partNumber: string }) => part.partNumber),
      ['1', '2', '3'],
    );
    for (const part of parts) assert.equal(part.etag, md5(slices[Number(part.partNumber) - 1]!));
    for (const sliceNo of [4, 5, 6]) {
      const { presignedURL } = await ok(server.url, 'POST', '/upload/v1/file/get_upload_url', { token, json: { preuploadID: second.preuploadID, sliceNo } });
      assert.equal((await putSlice(presignedURL, slices[sliceNo - 1]!)).status, 200);
    }
    const done = await ok(server.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID: second.preuploadID } });
    assert.equal(done.completed, true);
    assert.deepEqual(await s3Bytes(server, 'resume.bin'), data);
  });

  it('fails a wrong whole-file MD5 with a clear message and leaves nothing behind', async () => {
    const blobsBefore = (await blobFiles(server.dataDir)).length;
    const data = randomData(3 * SLICE + 5);
    const wrong = md5(Buffer.from('something else'));
    const preuploadID = await createAndPut(server.url, token, 'wrong-md5.bin', data, undefined, wrong);
    assert.equal((await blobFiles(server.dataDir)).length, blobsBefore + 4);
    const { status, body } = await panCall(server.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID } });
    assert.equal(status, 200);
    assert.notEqual(body.code, 0);
    assert.match(body.message, /文件上传失败/);
    assert.match(body.message, /MD5/);
    assert.equal(body.data, null);
    // Polling says the same; no object, no upload, no parts, no blob files.
    const polled = await panCall(server.url, 'POST', '/upload/v1/file/upload_async_result', { token, json: { preuploadID } });
    assert.match(polled.body.message, /文件上传失败/);
    const s3 = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: ALICE_BUCKET, Prefix: 'wrong-md5' }));
    assert.equal(listed.KeyCount, 0);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: ALICE_BUCKET, Prefix: 'wrong-md5' }));
    assert.equal(uploads.Uploads?.length ?? 0, 0);
    const parts = await panCall(server.url, 'POST', '/upload/v1/file/list_upload_parts', { token, json: { preuploadID } });
    assert.notEqual(parts.body.code, 0);
    assert.equal((await blobFiles(server.dataDir)).length, blobsBefore);
  });

  it('refuses slices of the wrong size or number, and an upload with a slice missing', async () => {
    const data = randomData(2 * SLICE + 10);
    const created = await ok(server.url, 'POST', '/upload/v1/file/create', { token, json: { parentFileID: 0, filename: 'sizes.bin', etag: md5(data), size: data.length } });
    const { presignedURL } = await ok(server.url, 'POST', '/upload/v1/file/get_upload_url', { token, json: { preuploadID: created.preuploadID, sliceNo: 1 } });
    const short = await putSlice(presignedURL, data.subarray(0, 100));
    assert.equal(short.status, 400);
    assert.match(JSON.parse(short.text).message, /65536/);
    const outOfRange = await panCall(server.url, 'POST', '/upload/v1/file/get_upload_url', { token, json: { preuploadID: created.preuploadID, sliceNo: 4 } });
    assert.notEqual(outOfRange.body.code, 0);
    assert.match(outOfRange.body.message, /sliceNo/);
    // A tampered or expired URL is refused without touching anything.
    const tampered = await putSlice(presignedURL.replace(/signature=[^&]+/, 'signature=AAAA'), data.subarray(0, SLICE));
    assert.equal(tampered.status, 403);
    assert.equal((await putSlice(presignedURL, data.subarray(0, SLICE))).status, 200);
    const incomplete = await panCall(server.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID: created.preuploadID } });
    assert.notEqual(incomplete.body.code, 0);
    assert.match(incomplete.body.message, /2,3/);
  });

  it('finishes out-of-order slices correctly (at once or through upload_async_result)', async () => {
    const data = randomData(8 * SLICE + 99);
    const preuploadID = await createAndPut(server.url, token, 'reverse.bin', data, [9, 8, 7, 6, 5, 4, 3, 2, 1]);
    const done = await ok(server.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID } });
    const fileID = done.completed ? done.fileID : await waitAsync(server.url, token, preuploadID);
    assert.ok(fileID > 0);
    assert.deepEqual(await s3Bytes(server, 'reverse.bin'), data);
  });

  it('slices 2.. first, then slice 1: the node storing slice 1 reads the rest back, so completion is at once', async () => {
    const data = randomData(5 * SLICE + 3);
    const preuploadID = await createAndPut(server.url, token, 'gap.bin', data, [2, 3, 4, 5, 6, 1]);
    const store = await openStore(server);
    try {
      // Before any completion is asked for, the stored hash reaches the last slice.
      const state = await poll(async () => {
        const stored = await store.getHashState(preuploadID);
        return stored?.next === 7 ? stored : undefined;
      });
      assert.deepEqual(state.etags, slicesOf(data, SLICE).map(md5));
      assert.equal(state.size, data.length);
    } finally {
      await store.close();
    }
    const done = await ok(server.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID } });
    assert.deepEqual({ async: done.async, completed: done.completed }, { async: false, completed: true });
    const detail = await ok(server.url, 'GET', '/api/v1/file/detail', { token, query: { fileID: done.fileID } });
    assert.equal(detail.etag, md5(data));
    assert.deepEqual(await s3Bytes(server, 'gap.bin'), data);
  });

  it('a slice replaced by other bytes after it was hashed: the hash starts over, and the file is right', async () => {
    const data = randomData(4 * SLICE + 7);
    // Slice 2 first goes up damaged (hashed in order with the rest), then again, right, after slice 5.
    const damaged = Buffer.from(data);
    damaged.fill(0, SLICE, 2 * SLICE);
    const preuploadID = await createAndPut(server.url, token, 'late.bin', damaged, undefined, md5(data));
    const { presignedURL } = await ok(server.url, 'POST', '/upload/v1/file/get_upload_url', { token, json: { preuploadID, sliceNo: 2 } });
    assert.equal((await putSlice(presignedURL, data.subarray(SLICE, 2 * SLICE))).status, 200);
    // Had the damaged slice stayed in the hash, the declared MD5 would not match and the upload would fail.
    const done = await ok(server.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID } });
    const fileID = done.completed ? done.fileID : await waitAsync(server.url, token, preuploadID);
    assert.ok(fileID > 0);
    const detail = await ok(server.url, 'GET', '/api/v1/file/detail', { token, query: { fileID } });
    assert.equal(detail.etag, md5(data));
    assert.deepEqual(await s3Bytes(server, 'late.bin'), data);
  });

  it('answers async while another node holds the completion, and takes it over when that node dies', async () => {
    const data = randomData(3 * SLICE + 7);
    const preuploadID = await createAndPut(server.url, token, 'held.bin', data);
    const store = await openStore(server);
    try {
      await holdLease(store, `pan-complete:${preuploadID}`);
      const done = await ok(server.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID } });
      assert.deepEqual(done, { async: true, completed: false, fileID: 0 });
      // Asked again, on whichever node: still that node's, so no second completion starts.
      for (let i = 0; i < 2; i++) {
        assert.deepEqual(await ok(server.url, 'POST', '/upload/v1/file/upload_async_result', { token, json: { preuploadID } }), { completed: false, fileID: 0 });
      }
      assert.equal((await store.getSession(preuploadID))?.status, 'verifying');
      const s3 = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
      assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: ALICE_BUCKET, Prefix: 'held.bin' }))).KeyCount, 0);
      // The node dies: its lease runs out, and the next poll takes the completion over.
      await holdLease(store, `pan-complete:${preuploadID}`, true);
      const fileID = await waitAsync(server.url, token, preuploadID);
      const detail = await ok(server.url, 'GET', '/api/v1/file/detail', { token, query: { fileID } });
      assert.equal(detail.etag, md5(data));
      assert.deepEqual(await s3Bytes(server, 'held.bin'), data);
    } finally {
      await store.close();
    }
  });

  it('accepts form bodies, odd key cases and numbers as strings', async () => {
    const data = randomData(SLICE + 3);
    const created = await ok(server.url, 'POST', '/upload/v1/file/create', {
      token,
      // The PHP demo: a form body declared as JSON.
      headers: { 'Content-Type': 'application/json' },
      body: new URLSearchParams({ parentFileID: '0', filename: 'form.bin', etag: md5(data).toUpperCase(), size: String(data.length) }).toString(),
    });
    const slices = slicesOf(data, SLICE);
    const first = await ok(server.url, 'POST', '/upload/v1/file/get_upload_url', { token, json: { preuploadId: created.preuploadID, sliceNo: '1' } });
    assert.equal((await putSlice(first.presignedURL, slices[0]!)).status, 200);
    const second = await ok(server.url, 'POST', '/upload/v1/file/get_upload_url', { token, form: { PreUploadID: created.preuploadID, SLICENO: '2' } });
    assert.equal((await putSlice(second.presignedURL, slices[1]!)).status, 200);
    const parts = await ok(server.url, 'POST', '/upload/v1/file/list_upload_parts', { token, form: { preuploadid: created.preuploadID } });
    assert.equal(parts.parts.length, 2);
    const done = await ok(server.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { PreUploadId: created.preuploadID } });
    assert.equal(done.completed, true);
    const detail = await ok(server.url, 'GET', '/api/v1/file/detail', { token, query: { fileid: String(done.fileID) } });
    assert.equal(detail.filename, 'form.bin');
    assert.equal(detail.parentFileID, 0);
  });
});

describe('pan V1 upload across a crash', () => {
  const servers: TestServer[] = [];
  const config = { panLeaseSeconds: 1, panRecoverySeconds: 0.2 };

  after(async () => {
    for (const server of servers.reverse()) await server.cleanup();
  });

  it('a server killed between slices: after the rest, in order, upload_complete answers completed at once', async () => {
    const first = await startPanServer(config);
    servers.push(first);
    const data = randomData(5 * SLICE + 77);
    const slices = slicesOf(data, SLICE);
    const created = await ok(first.url, 'POST', '/upload/v1/file/create', {
      token: await login(first.url),
      json: { parentFileID: 0, filename: 'crash.bin', etag: md5(data), size: data.length },
    });
    const preuploadID = created.preuploadID as string;
    const put = async (base: string, token: string, sliceNo: number) => {
      const { presignedURL } = await ok(base, 'POST', '/upload/v1/file/get_upload_url', { token, json: { preuploadID, sliceNo } });
      assert.equal((await putSlice(presignedURL, slices[sliceNo - 1]!)).status, 200);
    };
    const firstToken = await login(first.url);
    for (const sliceNo of [1, 2]) await put(first.url, firstToken, sliceNo);
    await first.kill();

    // Slices 1 and 2 are moved out of reach: the hash of them must come from the store, not from
    // reading them again. They come back before the file is read.
    const aside = await mkdtemp(join(tmpdir(), 'tessera-aside-'));
    const stored = (await blobFiles(first.dataDir)).map((name) => join(first.dataDir, 'blobs', name.slice(0, 2), name));
    assert.equal(stored.length, 2);
    for (const path of stored) await rename(path, join(aside, basename(path)));

    const second = await startPanServer(config, { dataDir: first.dataDir });
    servers.push(second);
    const token = await login(second.url);
    for (const sliceNo of [3, 4, 5, 6]) await put(second.url, token, sliceNo);
    const done = await ok(second.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID } });
    assert.equal(done.async, false);
    assert.equal(done.completed, true);
    for (const path of stored) await rename(join(aside, basename(path)), path);
    await rm(aside, { recursive: true, force: true });
    const detail = await ok(second.url, 'GET', '/api/v1/file/detail', { token, query: { fileID: done.fileID } });
    assert.equal(detail.etag, md5(data));
    assert.deepEqual(await s3Bytes(second, 'crash.bin'), data);
  });

  it("a completion left 'verifying' by a killed server is finished after the restart, with no client call", async () => {
    const first = await startPanServer(config);
    servers.push(first);
    const token = await login(first.url);
    const data = randomData(4 * SLICE + 9);
    const store = await openStore(first);
    let preuploadID: string;
    try {
      const created = await ok(first.url, 'POST', '/upload/v1/file/create', { token, json: { parentFileID: 0, filename: 'orphan.bin', etag: md5(data), size: data.length } });
      preuploadID = created.preuploadID;
      // Another node is reading this upload's slices from disk (so this server cannot) when the server dies.
      await holdLease(store, `pan-hash:${preuploadID}`);
      const slices = slicesOf(data, SLICE);
      for (let sliceNo = slices.length; sliceNo >= 1; sliceNo--) {
        const { presignedURL } = await ok(first.url, 'POST', '/upload/v1/file/get_upload_url', { token, json: { preuploadID, sliceNo } });
        assert.equal((await putSlice(presignedURL, slices[sliceNo - 1]!)).status, 200);
      }
      const done = await ok(first.url, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID } });
      assert.deepEqual(done, { async: true, completed: false, fileID: 0 });
      await first.kill();
      assert.equal((await store.getSession(preuploadID))?.status, 'verifying');
      // The other node died too.
      await holdLease(store, `pan-hash:${preuploadID}`, true);
    } finally {
      await store.close();
    }

    const second = await startPanServer(config, { dataDir: first.dataDir });
    servers.push(second);
    const s3 = s3Client(second, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
    // Watched through S3 only: no pan call could have started the completion.
    await poll(async () => ((await s3.send(new ListObjectsV2Command({ Bucket: ALICE_BUCKET, Prefix: 'orphan.bin' }))).KeyCount === 1 ? true : undefined));
    assert.deepEqual(await s3Bytes(second, 'orphan.bin'), data);
    const result = await ok(second.url, 'POST', '/upload/v1/file/upload_async_result', { token: await login(second.url), json: { preuploadID: preuploadID! } });
    assert.equal(result.completed, true);
    const detail = await ok(second.url, 'GET', '/api/v1/file/detail', { token: await login(second.url), query: { fileID: result.fileID } });
    assert.equal(detail.filename, 'orphan.bin');
    assert.equal(detail.etag, md5(data));
  });
});

