import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc64 } from '../../src/core/crc64.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { expectOssError, md5Hex, multipartEtag, ossClient, type Addressing, type AliOss, type Signature } from './helpers.js';

const KB = 1024;
const PART = 256 * KB;

let server: TestServer;
let dir: string;

before(async () => {
  // info: the access log is how the resume test counts the parts that were sent.
  server = await startServer({ extraArgs: ['--log-level', 'info'] });
  dir = await mkdtemp(join(tmpdir(), 'tessera-oss-'));
});

after(async () => {
  await server?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function tempFile(name: string, size: number): Promise<{ path: string; data: Buffer }> {
  const data = randomBytes(size);
  const path = join(dir, name);
  await writeFile(path, data);
  return { path, data };
}

function split(data: Buffer, partSize: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += partSize) parts.push(data.subarray(offset, offset + partSize));
  return parts;
}

interface LogLine {
  method: string;
  path: string;
  operation?: string;
  status: number;
}

function accessLog(): LogLine[] {
  return server
    .stdout()
    .split('\n')
    .filter((line) => line.includes('"msg":"request"'))
    .map((line) => JSON.parse(line) as LogLine);
}

/** The access-log line of a request may land a moment after its response: wait for `done` to show up. */
async function logUntil(done: (lines: LogLine[]) => boolean): Promise<LogLine[]> {
  for (let i = 0; i < 200; i++) {
    const lines = accessLog();
    if (done(lines)) return lines;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return accessLog();
}

const header = (res: unknown, name: string): string | undefined =>
  (res as { headers: Record<string, string | undefined> }).headers[name];

for (const signature of ['v1', 'v4'] as Signature[]) {
  describe(`ali-oss with ${signature.toUpperCase()} signatures`, () => {
    const bucket = `ali-${signature}`;
    let client: AliOss;

    before(async () => {
      client = ossClient(server, signature, bucket);
      await client.putBucket(bucket);
    });

    it('objects: put, head, get (whole and ranged), list, listV2, copy, deleteMulti, delete', async () => {
      const data = randomBytes(10 * KB);
      const put = await client.put('objects/a b+c.bin', data, { meta: { color: 'blue' }, mime: 'application/x-test' });
      assert.equal(header(put.res, 'etag'), `"${md5Hex(data).toUpperCase()}"`);
      assert.equal(header(put.res, 'x-oss-hash-crc64ecma'), crc64(data).toString());
      const head = await client.head('objects/a b+c.bin');
      assert.deepEqual(head.meta, { color: 'blue' });
      assert.equal(header(head.res, 'content-type'), 'application/x-test');
      assert.equal(header(head.res, 'x-oss-object-type'), 'Normal');
      const ranged = await client.get('objects/a b+c.bin', { headers: { Range: 'bytes=100-199' } });
      assert.equal(ranged.res.status, 206);
      assert.ok((ranged.content as Buffer).equals(data.subarray(100, 200)));
      const copied = await client.copy('objects/copy.bin', 'objects/a b+c.bin');
      assert.equal(header(copied.res, 'x-oss-hash-crc64ecma'), crc64(data).toString());
      const listed = await client.list({ prefix: 'objects/', 'max-keys': 1 }, {});
      assert.deepEqual(
        listed.objects.map((o: { name: string }) => o.name),
        ['objects/a b+c.bin'],
      );
      assert.equal(listed.nextMarker, 'objects/a b+c.bin');
      const v2 = await client.listV2({ prefix: 'objects/', 'max-keys': '1', 'continuation-token': undefined }, {});
      const v2next = await client.listV2({ prefix: 'objects/', 'continuation-token': v2.nextContinuationToken }, {});
      assert.deepEqual(
        [...v2.objects, ...v2next.objects].map((o: { name: string; size: number }) => [o.name, o.size]),
        [
          ['objects/a b+c.bin', data.length],
          ['objects/copy.bin', data.length],
        ],
      );
      const deleted = await client.deleteMulti(['objects/a b+c.bin', 'objects/never-existed'], { quiet: false });
      assert.deepEqual(deleted.deleted.map((d: { Key: string }) => d.Key).sort(), ['objects/a b+c.bin', 'objects/never-existed']);
      await client.delete('objects/copy.bin');
      assert.deepEqual((await client.list({ prefix: 'objects/' }, {})).objects, []);
      await expectOssError(client.get('objects/copy.bin'), 404, 'NoSuchKey');
    });

    it('multipartUpload: parts with progress, multipart ETag, CRC-64 combined from the parts', async () => {
      const { path, data } = await tempFile(`${signature}-mp.bin`, 4 * PART + 77 * KB);
      const progress: number[] = [];
      const done: number[] = [];
      const result = await client.multipartUpload('dir/multi part+file.bin', path, {
        partSize: PART,
        parallel: 3,
        progress: (p: number, checkpoint: { doneParts: unknown[] } | null) => {
          progress.push(p);
          if (checkpoint) done.push(checkpoint.doneParts.length);
        },
      });
      const parts = split(data, PART);
      assert.equal(parts.length, 5);
      assert.equal(header(result.res, 'etag'), multipartEtag(parts));
      assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress only grows');
      assert.equal(progress[0], 0);
      assert.equal(progress[progress.length - 1], 1);
      assert.deepEqual(done.slice(1), [1, 2, 3, 4, 5]);

      const got = await client.get('dir/multi part+file.bin');
      assert.equal(md5Hex(got.content as Buffer), md5Hex(data));
      assert.equal(header(got.res, 'x-oss-hash-crc64ecma'), crc64(data).toString());
      const head = await client.head('dir/multi part+file.bin');
      assert.equal(header(head.res, 'x-oss-object-type'), 'Multipart');
      assert.equal(header(head.res, 'x-oss-hash-crc64ecma'), crc64(data).toString());
      assert.equal(header(head.res, 'content-length'), String(data.length));
    });

    it('multipartUpload: cancelled after two parts, resumed from its checkpoint, sends only the missing parts', async () => {
      const { path, data } = await tempFile(`${signature}-resume.bin`, 5 * PART + 100 * KB);
      const name = `resume-${signature}.bin`;
      let saved: Record<string, unknown> | undefined;
      await assert.rejects(
        client.multipartUpload(name, path, {
          partSize: PART,
          parallel: 1,
          progress: (_p: number, checkpoint: { doneParts: unknown[] } | null) => {
            if (checkpoint && checkpoint.doneParts.length === 2) {
              saved = { ...checkpoint, doneParts: [...checkpoint.doneParts] };
              client.cancel();
            }
          },
        }),
        (err: { name?: string }) => err.name === 'cancel',
      );
      assert.ok(saved, 'the progress callback handed over a checkpoint');
      const uploadId = saved.uploadId as string;
      const listed = await client.listParts(name, uploadId, {});
      assert.deepEqual(
        listed.parts.map((p: { PartNumber: string }) => p.PartNumber),
        ['1', '2'],
      );

      const result = await client.multipartUpload(name, path, { checkpoint: saved, partSize: PART, parallel: 1 });
      assert.equal(header(result.res, 'etag'), multipartEtag(split(data, PART)));
      const got = await client.get(name);
      assert.equal(md5Hex(got.content as Buffer), md5Hex(data));

      const isOurs = (line: LogLine) => line.path.endsWith(`/${name}`);
      const lines = await logUntil((all) => all.some((l) => isOurs(l) && l.operation === 'CompleteMultipartUpload'));
      const uploads = lines.filter((l) => isOurs(l) && l.operation === 'UploadPart');
      assert.equal(uploads.length, 6, 'two parts before the cancel, the four missing ones after');
      assert.ok(uploads.every((l) => l.status === 200));
      assert.equal(lines.filter((l) => isOurs(l) && l.operation === 'InitiateMultipartUpload').length, 1, 'resumed, not restarted');
    });

    it('initMultipartUpload / uploadPart / completeMultipartUpload: per-part ETag and CRC, 100 KB parts accepted', async () => {
      const data = randomBytes(100 * KB + 150 * KB + 10 * KB);
      const parts = [data.subarray(0, 100 * KB), data.subarray(100 * KB, 250 * KB), data.subarray(250 * KB)];
      const name = 'manual/three parts.bin';
      const init = await client.initMultipartUpload(name);
      assert.match(init.uploadId, /^[0-9A-F]{32}$/);
      const uploaded: Array<{ number: number; etag: string }> = [];
      for (const [index, part] of parts.entries()) {
        const start = parts.slice(0, index).reduce((sum, p) => sum + p.length, 0);
        const res = await client.uploadPart(name, init.uploadId, index + 1, data, start, start + part.length);
        assert.equal(res.etag, `"${md5Hex(part).toUpperCase()}"`);
        assert.equal(header(res.res, 'x-oss-hash-crc64ecma'), crc64(part).toString());
        uploaded.push({ number: index + 1, etag: res.etag });
      }
      const done = await client.completeMultipartUpload(name, init.uploadId, uploaded);
      assert.equal(done.etag, multipartEtag(parts));
      assert.equal(header(done.res, 'x-oss-hash-crc64ecma'), crc64(data).toString());
      const got = await client.get(name);
      assert.ok((got.content as Buffer).equals(data));
      // The upload id is spent.
      await expectOssError(client.listParts(name, init.uploadId, {}), 404, 'NoSuchUpload');
    });

    it('listParts pages past 1000 parts, from part-number-marker 0', async () => {
      const name = 'many-parts.bin';
      const init = await client.initMultipartUpload(name);
      const data = randomBytes(1003);
      let next = 1;
      const worker = async () => {
        while (next <= 1003) {
          const number = next++;
          await client.uploadPart(name, init.uploadId, number, data, number - 1, number);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));

      const first = await client.listParts(name, init.uploadId, { 'max-parts': '1000', 'part-number-marker': '0' } as never);
      assert.equal(first.parts.length, 1000);
      assert.equal(first.isTruncated, 'true');
      assert.equal(first.nextPartNumberMarker, '1000');
      assert.equal(first.parts[0].PartNumber, '1');
      assert.equal(first.parts[999].PartNumber, '1000');
      const second = await client.listParts(name, init.uploadId, { 'part-number-marker': first.nextPartNumberMarker } as never);
      assert.deepEqual(
        second.parts.map((p: { PartNumber: string }) => p.PartNumber),
        ['1001', '1002', '1003'],
      );
      assert.equal(second.isTruncated, 'false');
      assert.equal(second.parts[2].ETag, `"${md5Hex(data.subarray(1002)).toUpperCase()}"`);
      await client.abortMultipartUpload(name, init.uploadId);
    });

    it('listUploads: keys in order, one key by UploadId, key-marker and upload-id-marker as OSS filters them', async () => {
      const other = ossClient(server, signature, `${bucket}-uploads`);
      await other.putBucket(`${bucket}-uploads`);
      const ids: Record<string, string[]> = { a: [], b: [], c: [] };
      for (const key of ['b', 'a', 'b', 'c', 'b']) ids[key]!.push((await other.initMultipartUpload(key)).uploadId);
      for (const list of Object.values(ids)) list.sort();
      const expected = [
        ['a', ids.a![0]],
        ['b', ids.b![0]],
        ['b', ids.b![1]],
        ['b', ids.b![2]],
        ['c', ids.c![0]],
      ];
      const pairs = (result: { uploads: Array<{ name: string; uploadId: string }> }) => result.uploads.map((u) => [u.name, u.uploadId]);

      assert.deepEqual(pairs(await other.listUploads({})), expected);
      assert.deepEqual(pairs(await other.listUploads({ 'key-marker': 'b' })), expected.slice(4), 'key-marker alone: later keys only');
      assert.deepEqual(
        pairs(await other.listUploads({ 'key-marker': 'b', 'upload-id-marker': ids.b![0] })),
        expected.slice(2),
        'same key after the id, then later keys',
      );
      assert.deepEqual(pairs(await other.listUploads({ 'upload-id-marker': ids.b![1] } as never)), expected, 'upload-id-marker alone is ignored');
      assert.deepEqual(pairs(await other.listUploads({ prefix: 'b' } as never)), expected.slice(1, 4));

      // Paging two at a time walks the same list.
      const walked: string[][] = [];
      let query: Record<string, string> = { 'max-uploads': '2' };
      for (let page = 0; page < 5; page++) {
        const result = await other.listUploads(query as never);
        walked.push(...(pairs(result) as string[][]));
        if (!result.isTruncated) break;
        query = { 'max-uploads': '2', 'key-marker': result.nextKeyMarker, 'upload-id-marker': result.nextUploadIdMarker };
      }
      assert.deepEqual(walked, expected);
    });

    it('abortMultipartUpload answers 204 and the upload is gone', async () => {
      const name = 'aborted.bin';
      const init = await client.initMultipartUpload(name);
      await client.uploadPart(name, init.uploadId, 1, randomBytes(2048), 0, 2048);
      const result = await client.abortMultipartUpload(name, init.uploadId);
      assert.equal(result.res.status, 204);
      await expectOssError(client.listParts(name, init.uploadId, {}), 404, 'NoSuchUpload');
      await expectOssError(client.abortMultipartUpload(name, init.uploadId), 404, 'NoSuchUpload');
      const uploads = await client.listUploads({});
      assert.ok(!uploads.uploads.some((u: { uploadId: string }) => u.uploadId === init.uploadId));
    });

    it('keys are byte-exact in XML: spaces, tab, newline and CR survive deleteMulti, list, listV2, listUploads and listParts', async () => {
      const name = `${bucket}-ws`;
      const other = ossClient(server, signature, name);
      await other.putBucket(name);
      // `a` is a bystander: deleting `  a ` must not touch it.
      const awkward = ['  a ', ' ', 'a\tb', 'x\n', 'c\rd', '\tlead', 'trail\t'];
      const byteOrder = (keys: string[]) => [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      for (const key of [...awkward, 'a']) await other.put(key, Buffer.from(`body of ${JSON.stringify(key)}`));
      const names = (result: { objects?: Array<{ name: string }> }) => (result.objects ?? []).map((o) => o.name);
      assert.deepEqual(names(await other.list({}, {})), byteOrder([...awkward, 'a']));
      assert.deepEqual(names(await other.listV2({}, {})), byteOrder([...awkward, 'a']));

      const uploads: Array<{ key: string; uploadId: string }> = [];
      for (const key of ['  a ', 'x\n', 'c\rd']) {
        const { uploadId } = await other.initMultipartUpload(key);
        uploads.push({ key, uploadId });
        await other.uploadPart(key, uploadId, 1, Buffer.from('part'), 0, 4);
        assert.equal((await other.listParts(key, uploadId, {})).name, key);
      }
      const listed = await other.listUploads({});
      assert.deepEqual(listed.uploads.map((u: { name: string }) => u.name), byteOrder(uploads.map((u) => u.key)));
      for (const { key, uploadId } of uploads) await other.abortMultipartUpload(key, uploadId);

      // ali-oss writes a CR into its request body as is, which XML reads as a newline: that key goes by DeleteObject.
      const viaMulti = awkward.filter((key) => !key.includes('\r'));
      const deleted = await other.deleteMulti(viaMulti, { quiet: false });
      assert.deepEqual(byteOrder(deleted.deleted.map((d: { Key: string }) => d.Key)), byteOrder(viaMulti));
      await other.delete('c\rd');
      assert.deepEqual(names(await other.list({}, {})), ['a']);
      assert.equal((await other.get('a')).content.toString(), 'body of "a"');
    });

    it('multipartUploadCopy copies an object part by part (UploadPartCopy with ranges)', async () => {
      const data = randomBytes(3 * PART - 5 * KB);
      await client.put('copy/source.bin', data);
      const result = await client.multipartUploadCopy('copy/target.bin', { sourceKey: 'copy/source.bin', sourceBucketName: bucket }, { partSize: PART });
      assert.equal(header(result.res, 'etag'), multipartEtag(split(data, PART)));
      const got = await client.get('copy/target.bin');
      assert.ok((got.content as Buffer).equals(data));
      assert.equal(header(got.res, 'x-oss-hash-crc64ecma'), crc64(data).toString());
      assert.equal(header(got.res, 'x-oss-object-type'), 'Multipart');
      const head = await client.head('copy/target.bin');
      assert.equal(header(head.res, 'x-oss-hash-crc64ecma'), crc64(data).toString());

      // One UploadPartCopy by hand: its answer and the part listing carry the copied range's CRC-64.
      const init = await client.initMultipartUpload('copy/one-part.bin');
      const part = await client.uploadPartCopy('copy/one-part.bin', init.uploadId, 1, '100-5099', { sourceKey: 'copy/source.bin', sourceBucketName: bucket });
      assert.equal(header(part.res, 'x-oss-hash-crc64ecma'), crc64(data.subarray(100, 5100)).toString());
      const listed = await client.listParts('copy/one-part.bin', init.uploadId, {});
      // ali-oss hands a single <Part> over as an object, not a list.
      const [listedPart] = [listed.parts].flat() as Array<{ HashCrc64ecma: string }>;
      assert.equal(listedPart!.HashCrc64ecma, crc64(data.subarray(100, 5100)).toString());
      await client.abortMultipartUpload('copy/one-part.bin', init.uploadId);
    });

    it('signatureUrl: a presigned PUT, then a presigned GET (fetch, no SDK involved)', async () => {
      const presigner = ossClient(server, signature, bucket, 'localhost-path');
      const name = 'presigned/hello world.txt';
      const body = `presigned ${signature}`;
      const putUrl =
        signature === 'v1'
          ? presigner.signatureUrl(name, { method: 'PUT', 'Content-Type': 'text/plain' } as never)
          : await presigner.signatureUrlV4('PUT', 600, { headers: { 'Content-Type': 'text/plain' } }, name);
      const put = await fetch(putUrl, { method: 'PUT', body, headers: { 'content-type': 'text/plain' } });
      assert.equal(put.status, 200, await put.clone().text());
      assert.equal(put.headers.get('etag'), `"${md5Hex(Buffer.from(body)).toUpperCase()}"`);

      const getUrl = signature === 'v1' ? presigner.signatureUrl(name) : await presigner.signatureUrlV4('GET', 600, {}, name);
      const get = await fetch(getUrl);
      assert.equal(get.status, 200);
      assert.equal(await get.text(), body);
      assert.equal(get.headers.get('content-type'), 'text/plain');

      // The signature covers the key: the same URL for another key is refused.
      const forged = await fetch(getUrl.replace('hello%20world', 'hello%20there'));
      assert.equal(forged.status, 403);
      assert.match(await forged.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    });

    for (const addressing of ['ip-path', 'localhost-path'] as Addressing[]) {
      it(`addressing ${addressing}: a key that starts with the bucket name round-trips`, async () => {
        const styled = ossClient(server, signature, bucket, addressing);
        const name = `${bucket}/inside ${addressing}.txt`;
        await styled.put(name, Buffer.from(addressing));
        const got = await client.get(name);
        assert.equal((got.content as Buffer).toString(), addressing);
        const listed = await styled.list({ prefix: `${bucket}/` } as never, {});
        assert.ok(listed.objects.some((o: { name: string }) => o.name === name));
        const info = await styled.getBucketInfo(bucket);
        assert.equal(info.bucket.Name, bucket);
      });
    }
  });
}
