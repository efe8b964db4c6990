import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AbortError } from '../../src/client/errors.js';
import type { TestServer } from '../helpers/server.js';
import {
  blobFiles,
  login,
  holdLease,
  md5,
  ok,
  openStore,
  panCall,
  panClient,
  poll,
  postSliceV2,
  randomData,
  s3Md5,
  sha1,
  SLICE,
  slicesOf,
  startPanServer,
} from './helpers.js';

async function createV2(base: string, token: string, name: string, data: Buffer, etag = md5(data)) {
  return ok(base, 'POST', '/upload/v2/file/create', { token, json: { parentFileID: 0, filename: name, etag, size: data.length } });
}

async function single(base: string, token: string, name: string, data: Buffer, etag = md5(data)) {
  const form = new FormData();
  form.set('parentFileID', '0');
  form.set('filename', name);
  form.set('etag', etag);
  form.set('size', String(data.length));
  form.set('file', new Blob([data]), name);
  return panCall(base, 'POST', '/upload/v2/file/single/create', { token, body: form });
}

describe('pan V2 upload', () => {
  let server: TestServer;
  let token: string;
  let workDir: string;

  before(async () => {
    server = await startPanServer();
    token = await login(server.url);
    workDir = await mkdtemp(join(tmpdir(), 'tessera-pan-v2-'));
  });
  after(async () => {
    await server?.cleanup();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('create answers servers pointing back at this server; multipart slices; completion at once', async () => {
    for (const size of [1000, 4 * SLICE + 1]) {
      const data = randomData(size);
      const created = await createV2(server.url, token, `v2-${size}.bin`, data);
      assert.deepEqual(created.servers, [server.url]);
      assert.equal(created.reuse, false);
      const slices = slicesOf(data, created.sliceSize);
      for (const [i, slice] of slices.entries()) {
        const { body } = await postSliceV2(created.servers[0], token, created.preuploadID, i + 1, slice);
        assert.deepEqual({ code: body.code, message: body.message, data: body.data }, { code: 0, message: 'ok', data: null });
      }
      const done = await panCall(server.url, 'POST', '/upload/v2/file/upload_complete', { token, json: { preuploadID: created.preuploadID } });
      assert.equal(done.body.code, 0);
      assert.equal(done.body.data.completed, true);
      assert.ok(done.body.data.fileID > 0);
      assert.equal(await s3Md5(server, `v2-${size}.bin`), md5(data));
    }
  });

  it('refuses a slice whose sliceMD5 does not match, storing nothing; a slice sent twice is 分片重复上传', async () => {
    const data = randomData(2 * SLICE);
    const created = await createV2(server.url, token, 'slice-md5.bin', data);
    const [first, second] = slicesOf(data, SLICE);
    const wrong = await postSliceV2(server.url, token, created.preuploadID, 1, first!, md5(second!));
    assert.notEqual(wrong.body.code, 0);
    assert.match(wrong.body.message, /sliceMD5/);
    const listed = await ok(server.url, 'POST', '/upload/v1/file/list_upload_parts', { token, json: { preuploadID: created.preuploadID } });
    assert.deepEqual(listed.parts, []);
    assert.equal((await postSliceV2(server.url, token, created.preuploadID, 1, first!)).body.code, 0);
    const again = await postSliceV2(server.url, token, created.preuploadID, 1, first!);
    assert.deepEqual([again.body.code, again.body.message], [0, '分片重复上传']);
    assert.equal((await postSliceV2(server.url, token, created.preuploadID, 2, second!)).body.code, 0);
    const done = await ok(server.url, 'POST', '/upload/v2/file/upload_complete', { token, json: { preuploadID: created.preuploadID } });
    assert.equal(done.completed, true);
  });

  it('answers code 20103 while verifying (another node reads the slices again), then completed:true', async () => {
    const data = randomData(4 * SLICE + 11);
    const created = await createV2(server.url, token, 'v2-late.bin', data);
    const slices = slicesOf(data, SLICE);
    const damaged = Buffer.alloc(SLICE, 7);
    assert.equal((await postSliceV2(server.url, token, created.preuploadID, 1, damaged)).body.code, 0);
    for (let i = 2; i <= slices.length; i++) assert.equal((await postSliceV2(server.url, token, created.preuploadID, i, slices[i - 1]!)).body.code, 0);
    const store = await openStore(server);
    try {
      // Slice 1 replaced: the hash starts over, read from disk by another node that holds the upload's hashing lease.
      await holdLease(store, `pan-hash:${created.preuploadID}`);
      assert.equal((await postSliceV2(server.url, token, created.preuploadID, 1, slices[0]!)).body.code, 0);
      const first = await panCall(server.url, 'POST', '/upload/v2/file/upload_complete', { token, json: { preuploadID: created.preuploadID } });
      assert.equal(first.status, 200);
      assert.equal(first.body.code, 20103);
      assert.equal(first.body.message, '文件正在校验中,请间隔1秒后再试');
      // That node dies: its lease runs out, and the completion reads the slices itself.
      await holdLease(store, `pan-hash:${created.preuploadID}`, true);
    } finally {
      await store.close();
    }
    const fileID = await poll(async () => {
      const { body } = await panCall(server.url, 'POST', '/upload/v2/file/upload_complete', { token, json: { preuploadID: created.preuploadID } });
      if (body.code === 20103) return undefined;
      assert.equal(body.code, 0, body.message);
      return body.data.completed ? (body.data.fileID as number) : undefined;
    });
    assert.ok(fileID > 0);
    assert.equal(await s3Md5(server, 'v2-late.bin'), md5(data));
  });

  it('fails the whole upload on a wrong file MD5 (文件上传失败)', async () => {
    const data = randomData(2 * SLICE + 1);
    const created = await createV2(server.url, token, 'v2-wrong.bin', data, md5(Buffer.from('not it')));
    for (const [i, slice] of slicesOf(data, SLICE).entries()) await postSliceV2(server.url, token, created.preuploadID, i + 1, slice);
    const done = await panCall(server.url, 'POST', '/upload/v2/file/upload_complete', { token, json: { preuploadID: created.preuploadID } });
    assert.notEqual(done.body.code, 0);
    assert.match(done.body.message, /^文件上传失败/);
    const list = await ok(server.url, 'GET', '/api/v2/file/list', { token, query: { parentFileId: 0, limit: 100, searchData: 'v2-wrong' } });
    assert.deepEqual(list.fileList, []);
  });

  it('domain and single/create: one post, MD5 checked before the file appears', async () => {
    const domains = await ok(server.url, 'GET', '/upload/v2/file/domain', { token });
    assert.deepEqual(domains, [server.url]);
    const blobsBefore = (await blobFiles(server.dataDir)).length;
    const data = randomData(300 * 1024);
    const bad = await single(domains[0], token, 'single-bad.bin', data, md5(Buffer.from('x')));
    assert.notEqual(bad.body.code, 0);
    assert.match(bad.body.message, /文件上传失败/);
    assert.equal((await blobFiles(server.dataDir)).length, blobsBefore);
    const good = await single(domains[0], token, 'single.bin', data);
    assert.equal(good.body.code, 0, good.body.message);
    assert.equal(good.body.data.completed, true);
    assert.equal(await s3Md5(server, 'single.bin'), md5(data));

    // sha1_reuse finds it by SHA-1 and size (single/create hashed it).
    const reused = await ok(server.url, 'POST', '/upload/v2/file/sha1_reuse', {
      token,
      json: { parentFileID: 0, filename: 'single-by-sha1.bin', sha1: sha1(data), size: data.length },
    });
    assert.equal(reused.reuse, true);
    assert.notEqual(reused.fileID, good.body.data.fileID);
    assert.equal(await s3Md5(server, 'single-by-sha1.bin'), md5(data));
    const unknown = await ok(server.url, 'POST', '/upload/v2/file/sha1_reuse', {
      token,
      json: { parentFileID: 0, filename: 'nope.bin', sha1: sha1(Buffer.from('never stored')), size: 12 },
    });
    assert.deepEqual(unknown, { fileID: 0, reuse: false });
  });

  it('instant upload: same MD5 and size answers reuse:true with a new fileID; delete one, the other stays', async () => {
    const data = randomData(3 * SLICE + 3);
    const path = join(workDir, 'instant.bin');
    await writeFile(path, data);
    const client = panClient(server);
    try {
      const original = await client.uploadFile(path, { version: 2 });
      assert.equal(original.reuse, false);
      const copy = await createV2(server.url, token, 'instant-copy.bin', data);
      assert.equal(copy.reuse, true);
      assert.ok(copy.fileID > 0 && copy.fileID !== original.fileID);
      // V1 create reuses it as well; upper-case MD5 is accepted.
      const v1 = await ok(server.url, 'POST', '/upload/v1/file/create', {
        token,
        json: { parentFileID: 0, filename: 'instant-v1.bin', etag: md5(data).toUpperCase(), size: data.length },
      });
      assert.equal(v1.reuse, true);
      await client.trash([original.fileID]);
      await client.delete([original.fileID]);
      await assert.rejects(client.detail(original.fileID), (err: Error & { code?: number }) => err.code === 5066);
      assert.equal(await s3Md5(server, 'instant-copy.bin'), md5(data));
      const downloaded = await client.download(copy.fileID, join(workDir, 'instant-copy.out'));
      assert.equal(downloaded.md5, md5(data));
    } finally {
      client.close();
    }
  });

  it('the SDK uploads with parallel slices (V1 and V2) and resumes after an abort', async () => {
    const data = randomData(20 * SLICE + 500);
    const path = join(workDir, 'sdk.bin');
    await writeFile(path, data);
    const client = panClient(server);
    try {
      for (const version of [1, 2] as const) {
        data.fill(version, 0, 1);
        await writeFile(path, data);
        const result = await client.uploadFile(path, { version, filename: `sdk-v${version}.bin`, parallel: 4 });
        assert.equal(result.reuse, false);
        assert.equal(result.slices, 21);
        assert.equal(result.uploadedSlices, 21);
        assert.equal(await s3Md5(server, `sdk-v${version}.bin`), md5(data));
      }
      const again = await client.uploadFile(path, { filename: 'sdk-again.bin' });
      assert.equal(again.reuse, true);
      assert.equal(again.uploadedSlices, 0);
      // The in-order hash of the slices also gave the file its SHA-1.
      const bySha1 = await client.sha1Reuse({ parentFileID: 0, filename: 'sdk-sha1.bin', sha1: sha1(data), size: data.length });
      assert.equal(bySha1.reuse, true);
      assert.equal(await s3Md5(server, 'sdk-sha1.bin'), md5(data));
      // Abort after a few slices, then upload again: what is stored is not sent twice.
      const other = randomData(12 * SLICE);
      await writeFile(path, other);
      const controller = new AbortController();
      let stored = 0;
      await assert.rejects(
        client.uploadFile(path, {
          filename: 'sdk-resume.bin',
          parallel: 1,
          signal: controller.signal,
          onSlice: () => {
            if (++stored === 5) controller.abort();
          },
        }),
        AbortError,
      );
      const resumed = await client.uploadFile(path, { filename: 'sdk-resume.bin', parallel: 3 });
      assert.equal(resumed.skippedSlices, 5);
      assert.equal(resumed.uploadedSlices, 7);
      assert.equal(await s3Md5(server, 'sdk-resume.bin'), md5(other));
    } finally {
      client.close();
    }
  });
});

describe('pan V2 upload at the real default slice size', () => {
  let server: TestServer;
  let workDir: string;

  before(async () => {
    server = await startPanServer({ panSliceSize: undefined });
    workDir = await mkdtemp(join(tmpdir(), 'tessera-pan-big-'));
  });
  after(async () => {
    await server?.cleanup();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('slices a 40 MiB file in 16 MiB slices and completes', async () => {
    const data = randomData(40 * 1024 * 1024 + 12345);
    const path = join(workDir, 'big.bin');
    await writeFile(path, data);
    const client = panClient(server);
    try {
      const result = await client.uploadFile(path, { version: 2, parallel: 3 });
      assert.equal(result.sliceSize, 16 * 1024 * 1024);
      assert.equal(result.slices, 3);
      const detail = await client.detail(result.fileID);
      assert.equal(detail.etag, md5(data));
      assert.equal(detail.size, data.length);
      assert.equal(await s3Md5(server, 'big.bin'), md5(data));
    } finally {
      client.close();
    }
  });
});
