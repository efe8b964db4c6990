import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DeleteBucketEncryptionCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
} from '@aws-sdk/client-s3';
import { StorageClient } from '../../src/client/client.js';
import { s3Client } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';
import { ALICE, ALICE_BUCKET, login, md5, ok, panCall, randomData, startPanServer } from './helpers.js';

describe('pan drive', () => {
  let server: TestServer;
  let token: string;
  const get = (path: string, query: Record<string, string | number> = {}) => ok(server.url, 'GET', path, { token, query });
  const post = (path: string, json: unknown) => ok(server.url, 'POST', path, { token, json });
  const fail = async (method: string, path: string, json: unknown) => {
    const { status, body } = await panCall(server.url, method, path, method === 'GET' ? { token, query: json as Record<string, string> } : { token, json });
    assert.equal(status, 200);
    assert.notEqual(body.code, 0, `expected an error from ${path}`);
    return body;
  };
  /** single/create of small content: the file's id. */
  const put = async (name: string, data: Buffer, parentFileID = 0, extra: Record<string, string> = {}) => {
    const form = new FormData();
    for (const [field, value] of Object.entries({ parentFileID: String(parentFileID), filename: name, etag: md5(data), size: String(data.length), ...extra })) form.set(field, value);
    form.set('file', new Blob([data]), 'x');
    const { body } = await panCall(server.url, 'POST', '/upload/v2/file/single/create', { token, body: form });
    assert.equal(body.code, 0, body.message);
    return body.data.fileID as number;
  };
  const listAll = async (parentFileId: number, limit = 100, extra: Record<string, string | number> = {}) => {
    const entries = [];
    let lastFileId = 0;
    for (let page = 0; page < 50; page++) {
      const data = await get('/api/v2/file/list', { parentFileId, limit, lastFileId, ...extra });
      assert.ok(data.fileList.length <= limit);
      entries.push(...data.fileList);
      if (data.lastFileId === -1) return entries;
      lastFileId = data.lastFileId;
    }
    throw new Error('too many pages');
  };

  before(async () => {
    server = await startPanServer();
    token = await login(server.url);
  });
  after(async () => {
    await server?.cleanup();
  });

  it('makes folders, lists them page by page and finds files by name', async () => {
    const docs = (await post('/upload/v1/file/mkdir', { name: 'docs', parentID: 0 })).dirID;
    assert.ok(docs > 0);
    assert.equal((await post('/upload/v1/file/mkdir', { name: 'docs', parentID: '0' })).dirID, docs);
    const sub = (await post('/upload/v1/file/mkdir', { name: 'sub', parentID: docs })).dirID;
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push(await put(`note-${i}.txt`, Buffer.from(`note ${i}`), docs));
    const listed = await listAll(docs, 3);
    assert.deepEqual(
      listed.map((entry) => entry.filename).sort(),
      ['note-0.txt', 'note-1.txt', 'note-2.txt', 'note-3.txt', 'note-4.txt', 'note-5.txt', 'note-6.txt', 'sub'],
    );
    const folder = listed.find((entry) => entry.filename === 'sub')!;
    assert.deepEqual([folder.fileId, folder.type, folder.parentFileId], [sub, 1, docs]);
    const file = listed.find((entry) => entry.filename === 'note-3.txt')!;
    assert.deepEqual(
      { fileId: file.fileId, type: file.type, size: file.size, etag: file.etag, parentFileId: file.parentFileId, trashed: file.trashed, status: file.status },
      { fileId: ids[3], type: 0, size: 6, etag: md5(Buffer.from('note 3')), parentFileId: docs, trashed: 0, status: 0 },
    );
    assert.match(file.createAt, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const fuzzy = await listAll(0, 100, { searchData: 'NOTE-', searchMode: 0 });
    assert.equal(fuzzy.length, 7);
    const exact = await listAll(0, 100, { searchData: 'note-5.txt', searchMode: 1 });
    assert.deepEqual(exact.map((entry) => entry.fileId), [ids[5]]);

    const detail = await get('/api/v1/file/detail', { fileID: sub });
    assert.deepEqual([detail.fileID, detail.filename, detail.type, detail.parentFileID], [sub, 'sub', 1, docs]);
    const infos = await post('/api/v1/file/infos', { fileIds: [ids[0], ids[1], 999999] });
    assert.deepEqual(infos.fileList.map((entry: { fileId: number }) => entry.fileId), [ids[0], ids[1]]);
    assert.equal((await fail('GET', '/api/v1/file/detail', { fileID: 999999 })).code, 5066);
  });

  it("a bucket's default encryption seals what 123pan uploads, and an encrypted file is no source for an instant upload", async () => {
    const s3 = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
    try {
      await s3.send(
        new PutBucketEncryptionCommand({
          Bucket: ALICE_BUCKET,
          ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        }),
      );
      const data = Buffer.from('sealed through pan');
      await put('sealed.txt', data);
      const got = await s3.send(new GetObjectCommand({ Bucket: ALICE_BUCKET, Key: 'sealed.txt' }));
      assert.equal(got.ServerSideEncryption, 'AES256');
      assert.equal(await got.Body!.transformToString(), 'sealed through pan');
      // Found by no content hash: the client is asked for the bytes.
      const again = await post('/upload/v1/file/create', { parentFileID: 0, filename: 'sealed-again.txt', etag: md5(data), size: data.length });
      assert.equal(again.reuse, false);
    } finally {
      await s3.send(new DeleteBucketEncryptionCommand({ Bucket: ALICE_BUCKET }));
      s3.destroy();
    }
  });

  it('an overwrite or an instant upload through pan of an object tagged through S3 carries no tags', async () => {
    await put('tagged.txt', Buffer.from('first'));
    const s3 = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
    try {
      await s3.send(new PutObjectTaggingCommand({ Bucket: ALICE_BUCKET, Key: 'tagged.txt', Tagging: { TagSet: [{ Key: 'stale', Value: 'yes' }] } }));
      assert.equal((await s3.send(new GetObjectTaggingCommand({ Bucket: ALICE_BUCKET, Key: 'tagged.txt' }))).TagSet?.length, 1);
      await put('tagged.txt', Buffer.from('second'), 0, { duplicate: '2' });
      assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: ALICE_BUCKET, Key: 'tagged.txt' }))).TagSet, []);
      const got = await s3.send(new GetObjectCommand({ Bucket: ALICE_BUCKET, Key: 'tagged.txt' }));
      assert.equal(await got.Body!.transformToString(), 'second');
      assert.equal(got.TagCount, undefined);

      // An instant upload shares the bytes of a tagged object, not its tags.
      await s3.send(new PutObjectCommand({ Bucket: ALICE_BUCKET, Key: 'tagged-source.txt', Body: 'shared bytes', Tagging: 'owner=s3' }));
      const reused = await post('/upload/v1/file/create', { parentFileID: 0, filename: 'instant.txt', etag: md5(Buffer.from('shared bytes')), size: 12 });
      assert.equal(reused.reuse, true);
      assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: ALICE_BUCKET, Key: 'instant.txt' }))).TagSet, []);
      assert.equal((await s3.send(new GetObjectTaggingCommand({ Bucket: ALICE_BUCKET, Key: 'tagged-source.txt' }))).TagSet?.length, 1);
    } finally {
      s3.destroy();
    }
  });

  it('validates names and honours duplicate modes and containDir', async () => {
    for (const bad of ['a/b', 'what?', 'x"y', '   ', 'n'.repeat(256), 'a<b', 'c|d']) {
      const body = await fail('POST', '/upload/v2/file/create', { parentFileID: 0, filename: bad, etag: md5(Buffer.from('x')), size: 1 });
      assert.match(body.message, /filename/);
    }
    const first = await put('dup.txt', Buffer.from('first'));
    const refused = await fail('POST', '/upload/v2/file/create', { parentFileID: 0, filename: 'dup.txt', etag: md5(Buffer.from('second')), size: 6 });
    assert.match(refused.message, /同名/);
    const kept = await put('dup.txt', Buffer.from('second'), 0, { duplicate: '1' });
    assert.notEqual(kept, first);
    assert.equal((await get('/api/v1/file/detail', { fileID: kept })).filename, 'dup(1).txt');
    const third = await put('dup.txt', Buffer.from('third!'), 0, { duplicate: '1' });
    assert.equal((await get('/api/v1/file/detail', { fileID: third })).filename, 'dup(2).txt');
    const replaced = await put('dup.txt', Buffer.from('overwritten'), 0, { duplicate: '2' });
    assert.equal((await fail('GET', '/api/v1/file/detail', { fileID: first })).code, 5066);
    assert.equal((await get('/api/v1/file/detail', { fileID: replaced })).size, 11);

    const nested = await put('/deep/er/file.txt', Buffer.from('deep'), 0, { containDir: 'true' });
    const detail = await get('/api/v1/file/detail', { fileID: nested });
    const er = await get('/api/v1/file/detail', { fileID: detail.parentFileID });
    const deep = await get('/api/v1/file/detail', { fileID: er.parentFileID });
    assert.deepEqual([detail.filename, er.filename, er.type, deep.filename, deep.parentFileID], ['file.txt', 'er', 1, 'deep', 0]);
  });

  it('trashes, recovers and deletes; moves and renames keep the file id', async () => {
    const box = (await post('/upload/v1/file/mkdir', { name: 'box', parentID: 0 })).dirID;
    const inner = (await post('/upload/v1/file/mkdir', { name: 'inner', parentID: box })).dirID;
    const a = await put('a.txt', Buffer.from('aaa'), inner);
    const b = await put('b.txt', Buffer.from('bbb'));

    await post('/api/v1/file/trash', { fileIDs: [b] });
    const inList = (await listAll(0)).find((entry) => entry.fileId === b);
    assert.equal(inList.trashed, 1);
    assert.match((await fail('POST', '/api/v1/file/delete', { fileIDs: [a] })).message, /回收站/);
    assert.deepEqual((await post('/api/v1/file/recover', { fileIDs: [b, 424242] })).abnormalFileIDs, [424242]);
    assert.equal((await get('/api/v1/file/detail', { fileID: b })).trashed, 0);

    await post('/api/v1/file/move', { fileIDs: [b], toParentFileID: inner });
    const moved = await get('/api/v1/file/detail', { fileID: b });
    assert.equal(moved.parentFileID, inner);
    await ok(server.url, 'PUT', '/api/v1/file/name', { token, json: { fileId: b, fileName: 'b-renamed.txt' } });
    assert.equal((await get('/api/v1/file/detail', { fileID: b })).filename, 'b-renamed.txt');
    assert.match((await fail('POST', '/api/v1/file/move', { fileIDs: [box], toParentFileID: inner })).message, /itself/);
    // A folder moves with everything in it, every id kept.
    const other = (await post('/upload/v1/file/mkdir', { name: 'other', parentID: 0 })).dirID;
    await post('/api/v1/file/move', { fileIDs: [inner], toParentFileID: other });
    assert.equal((await get('/api/v1/file/detail', { fileID: inner })).parentFileID, other);
    assert.equal((await get('/api/v1/file/detail', { fileID: a })).parentFileID, inner);
    const s3 = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
    const object = await s3.send(new GetObjectCommand({ Bucket: ALICE_BUCKET, Key: 'other/inner/b-renamed.txt' }));
    assert.equal(await object.Body!.transformToString(), 'bbb');

    // Deleting a trashed folder deletes what is in it.
    await post('/api/v1/file/trash', { fileIDs: [other] });
    await post('/api/v1/file/delete', { fileIDs: [other] });
    for (const id of [other, inner, a, b]) assert.equal((await fail('GET', '/api/v1/file/detail', { fileID: id })).code, 5066);
  });

  it('hands out a signed download URL that works without credentials, with ranges', async () => {
    const data = randomData(100_000);
    const id = await put('download me.bin', data);
    const { downloadUrl } = await get('/api/v1/file/download_info', { fileId: id });
    const whole = await fetch(downloadUrl);
    assert.equal(whole.status, 200);
    assert.match(whole.headers.get('content-disposition') ?? '', /download%20me\.bin/);
    assert.equal(md5(Buffer.from(await whole.arrayBuffer())), md5(data));
    const part = await fetch(downloadUrl, { headers: { Range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), data.subarray(10, 20));
    const tampered = await fetch(downloadUrl.replace(/expires=(\d+)/, (_: string, n: string) => `expires=${Number(n) + 1}`));
    assert.equal(tampered.status, 403);
    await tampered.arrayBuffer();
  });

  it('reports the space used', async () => {
    const before = (await get('/api/v1/user/info')).spaceUsed as number;
    await put('space.bin', randomData(12_345));
    const info = await get('/api/v1/user/info');
    assert.equal(info.spaceUsed, before + 12_345);
    assert.equal(info.nickname, 'Alice');
    assert.equal(typeof info.uid, 'number');
  });

  it('is one with the object store: S3 and OSS see pan files, and their objects appear in the drive', async () => {
    const s3 = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
    const data = randomData(5000);
    const id = await put('shared.bin', data);
    const got = await s3.send(new GetObjectCommand({ Bucket: ALICE_BUCKET, Key: 'shared.bin' }));
    assert.equal(md5(Buffer.from(await got.Body!.transformToByteArray())), md5(data));

    // An S3 PUT the pan layer never saw, in a folder only its key implies.
    await s3.send(new PutObjectCommand({ Bucket: ALICE_BUCKET, Key: 'from-s3/put.txt', Body: 'hello from s3' }));
    const root = await listAll(0);
    const folder = root.find((entry) => entry.filename === 'from-s3');
    assert.ok(folder, 'the implied folder is listed');
    assert.equal(folder.type, 1);
    const inside = await listAll(folder.fileId);
    assert.deepEqual(inside.map((entry) => [entry.filename, entry.size, entry.etag]), [['put.txt', 13, md5(Buffer.from('hello from s3'))]]);
    // And it is instantly re-uploadable by its MD5 (an S3 PUT's ETag is its MD5).
    const reused = await post('/upload/v1/file/create', { parentFileID: 0, filename: 'copy-of-s3.txt', etag: md5(Buffer.from('hello from s3')), size: 13 });
    assert.equal(reused.reuse, true);

    const oss = new StorageClient({ dialect: 'oss', endpoint: server.url, forcePathStyle: true, credentials: { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey } });
    const read = await oss.getObject(ALICE_BUCKET, 'shared.bin');
    const chunks: Buffer[] = [];
    for await (const chunk of read.body) chunks.push(chunk as Buffer);
    assert.equal(md5(Buffer.concat(chunks)), md5(data));
    await oss.putObject(ALICE_BUCKET, 'from-oss.txt', 'hello from oss');
    oss.destroy();
    const found = await listAll(0, 100, { searchData: 'from-oss.txt', searchMode: 1 });
    assert.equal(found.length, 1);
    assert.equal(found[0].size, 14);
    assert.ok(id > 0);
  });
});
