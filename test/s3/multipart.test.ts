import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { TestServer } from '../helpers/server.js';
import { useS3Server } from '../helpers/s3.js';
import { expectError } from '../helpers/assertions.js';
import { signedRequest } from '../helpers/raw.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const BUCKET = 'multipart';

function md5(data: Buffer | string): Buffer {
  return createHash('md5').update(data).digest();
}

/** The multipart ETag S3 computes: MD5 of the concatenated binary part MD5s, then `-<count>`. */
function multipartEtag(partMd5s: Buffer[]): string {
  return `"${md5(Buffer.concat(partMd5s)).toString('hex')}-${partMd5s.length}"`;
}

async function inParallel<T>(items: T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

describe('S3 multipart uploads (AWS SDK)', () => {
  let server: TestServer;
  let s3: S3Client;
  let scratch: string;

  useS3Server({ bucket: BUCKET, scratch: 'tessera-multipart-' }, (env) => {
    ({ server, s3, scratch } = env);
  });

  const create = async (key: string, bucket = BUCKET): Promise<string> =>
    (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId!;
  const uploadPart = async (key: string, uploadId: string, partNumber: number, body: Buffer | string): Promise<string> =>
    (await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body }))).ETag!;
  const complete = (key: string, uploadId: string, parts: CompletedPart[]) =>
    s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
  const readAll = async (key: string): Promise<Buffer> => {
    const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await response.Body!.transformToByteArray());
  };

  it('lib-storage Upload streams a file from disk in 5 MiB parts; the ETag is MD5(part MD5s)-N', async () => {
    const size = 3 * PART + 1234567;
    const path = join(scratch, 'upload-source.bin');
    const whole = createHash('md5');
    const partMd5s: Buffer[] = [];
    const file = await open(path, 'w');
    try {
      // Written part by part so the test never holds the whole file.
      for (let offset = 0; offset < size; offset += PART) {
        const part = randomBytes(Math.min(PART, size - offset));
        whole.update(part);
        partMd5s.push(md5(part));
        await file.write(part);
      }
    } finally {
      await file.close();
    }
    const upload = new Upload({
      client: s3,
      params: {
        Bucket: BUCKET,
        Key: 'lib-storage/file.bin',
        Body: createReadStream(path),
        ContentType: 'application/x-test',
        Metadata: { origin: 'lib-storage' },
      },
      partSize: PART,
      queueSize: 2,
    });
    const done = await upload.done();
    assert.equal(partMd5s.length, 4);
    assert.equal(done.ETag, multipartEtag(partMd5s));

    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'lib-storage/file.bin', PartNumber: 1 }));
    assert.equal(head.PartsCount, 4);
    assert.equal(head.ContentLength, PART);
    const full = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'lib-storage/file.bin' }));
    assert.equal(full.ContentLength, size);
    assert.equal(full.ETag, done.ETag);
    assert.equal(full.ContentType, 'application/x-test');
    assert.equal(full.Metadata?.origin, 'lib-storage');
    const read = createHash('md5');
    for await (const chunk of full.Body as AsyncIterable<Buffer>) read.update(chunk);
    assert.equal(read.digest('hex'), whole.digest('hex'));
    // Nothing is left open.
    const open_ = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'lib-storage/' }));
    assert.deepEqual(open_.Uploads ?? [], []);
  });

  it('a resumed upload: parts recovered by ListParts after the client lost its state, only missing ones sent', async () => {
    const parts = [randomBytes(PART), randomBytes(PART), randomBytes(PART), randomBytes(2 * MiB)];
    const key = 'resume/big.bin';
    const uploadId = await create(key);
    // The first client sends parts 1 and 3, then "crashes".
    await uploadPart(key, uploadId, 1, parts[0]!);
    await uploadPart(key, uploadId, 3, parts[2]!);

    // A new client knows only the key: it finds the upload, then its parts.
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: key }));
    assert.deepEqual((uploads.Uploads ?? []).map((u) => u.UploadId), [uploadId]);
    const listed = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    const have = new Map((listed.Parts ?? []).map((p) => [p.PartNumber!, p]));
    assert.deepEqual([...have.keys()], [1, 3]);
    assert.equal(have.get(1)!.ETag, `"${md5(parts[0]!).toString('hex')}"`);
    assert.equal(have.get(3)!.Size, PART);
    assert.ok(have.get(3)!.LastModified instanceof Date);

    const etags = new Map<number, string>([...have].map(([n, p]) => [n, p.ETag!]));
    for (const [index, part] of parts.entries()) {
      if (!have.has(index + 1)) etags.set(index + 1, await uploadPart(key, uploadId, index + 1, part));
    }
    const done = await complete(
      key,
      uploadId,
      [...etags].sort(([a], [b]) => a - b).map(([PartNumber, ETag]) => ({ PartNumber, ETag })),
    );
    assert.equal(done.ETag, multipartEtag(parts.map((p) => md5(p))));
    const body = await readAll(key);
    assert.equal(md5(body).toString('hex'), md5(Buffer.concat(parts)).toString('hex'));
  });

  it('ListParts pages over 1500 parts with MaxParts and PartNumberMarker', async () => {
    const key = 'many/parts';
    const uploadId = await create(key);
    const numbers = Array.from({ length: 1500 }, (_, i) => i + 1);
    const body = (n: number) => `part number ${n}`;
    await inParallel(numbers, 8, (n) => uploadPart(key, uploadId, n, body(n)));

    const list = (maxParts?: number, marker?: string) =>
      s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MaxParts: maxParts, PartNumberMarker: marker }));

    const first = await list();
    assert.equal(first.Parts?.length, 1000, 'the default page is 1000 parts');
    assert.equal(first.IsTruncated, true);
    assert.equal(first.NextPartNumberMarker, '1000');
    assert.equal(first.MaxParts, 1000);
    const second = await list(undefined, first.NextPartNumberMarker);
    assert.deepEqual((second.Parts ?? []).map((p) => p.PartNumber), numbers.slice(1000));
    assert.equal(second.IsTruncated, false);
    assert.equal(second.PartNumberMarker, '1000');

    const seen: number[] = [];
    const sizes: number[] = [];
    let marker: string | undefined = '0'; // part-number-marker 0 is "from the start"
    for (;;) {
      const page = await list(400, marker);
      for (const part of page.Parts ?? []) {
        seen.push(part.PartNumber!);
        assert.equal(part.ETag, `"${md5(body(part.PartNumber!)).toString('hex')}"`);
        assert.equal(part.Size, Buffer.byteLength(body(part.PartNumber!)));
      }
      sizes.push(page.Parts?.length ?? 0);
      if (!page.IsTruncated) break;
      assert.equal(page.NextPartNumberMarker, String(seen[seen.length - 1]));
      marker = page.NextPartNumberMarker;
      assert.ok(sizes.length < 4);
    }
    assert.deepEqual(sizes, [400, 400, 400, 300]);
    assert.deepEqual(seen, numbers);

    const capped = await list(5000);
    assert.equal(capped.Parts?.length, 1000);
    const middle = await list(3, '749');
    assert.deepEqual((middle.Parts ?? []).map((p) => p.PartNumber), [750, 751, 752]);
    const pastEnd = await list(10, '1500');
    assert.deepEqual(pastEnd.Parts ?? [], []);
    assert.equal(pastEnd.IsTruncated, false);

    // Tiny parts are fine until Complete, which refuses a non-last part under 5 MiB.
    await expectError(
      complete(key, uploadId, [1, 2].map((n) => ({ PartNumber: n, ETag: `"${md5(body(n)).toString('hex')}"` }))),
      400,
      'EntityTooSmall',
    );
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
  });

  it('ListMultipartUploads: prefix, delimiter, key-marker, upload-id-marker, max-uploads paging, creation order per key', async () => {
    const bucket = 'upload-listing';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const ids: Array<{ key: string; id: string }> = [];
    for (const key of ['c', 'a/1', 'c', 'd', 'b/1', 'a/2', 'c']) ids.push({ key, id: await create(key, bucket) });
    // Finished uploads are not listed.
    const aborted = await create('a/aborted', bucket);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'a/aborted', UploadId: aborted }));

    const cIds = ids.filter((u) => u.key === 'c').map((u) => u.id);
    const order = [
      ...ids.filter((u) => u.key === 'a/1'),
      ...ids.filter((u) => u.key === 'a/2'),
      ...ids.filter((u) => u.key === 'b/1'),
      ...ids.filter((u) => u.key === 'c'), // creation order
      ...ids.filter((u) => u.key === 'd'),
    ];
    const list = (input: Omit<ConstructorParameters<typeof ListMultipartUploadsCommand>[0], 'Bucket'> = {}) =>
      s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, ...input }));
    const pairs = (page: Awaited<ReturnType<typeof list>>) => (page.Uploads ?? []).map((u) => ({ key: u.Key!, id: u.UploadId! }));

    const all = await list();
    assert.deepEqual(pairs(all), order);
    assert.equal(all.IsTruncated, false);
    for (const upload of all.Uploads ?? []) {
      assert.ok(upload.Initiated instanceof Date);
      assert.equal(upload.Initiator?.ID, 'root');
      assert.equal(upload.Owner?.ID, 'root');
    }

    assert.deepEqual(pairs(await list({ Prefix: 'a/' })), order.slice(0, 2));
    assert.deepEqual(pairs(await list({ Prefix: 'c' })), cIds.map((id) => ({ key: 'c', id })));

    const grouped = await list({ Delimiter: '/' });
    assert.deepEqual((grouped.CommonPrefixes ?? []).map((p) => p.Prefix), ['a/', 'b/']);
    assert.deepEqual(pairs(grouped), order.slice(3));

    assert.deepEqual(pairs(await list({ KeyMarker: 'b/1' })), order.slice(3), 'key-marker is exclusive');
    assert.deepEqual(pairs(await list({ KeyMarker: 'c' })), order.slice(6), 'key-marker alone skips every upload of that key');
    assert.deepEqual(pairs(await list({ KeyMarker: 'c', UploadIdMarker: cIds[0] })), order.slice(4));
    assert.deepEqual(pairs(await list({ UploadIdMarker: cIds[1] })), order, 'upload-id-marker without key-marker is ignored');

    // max-uploads paging with both markers: every upload once, in order.
    const seen: Array<{ key: string; id: string }> = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await list({ MaxUploads: 2, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker });
      pages++;
      assert.equal(page.MaxUploads, 2);
      assert.ok((page.Uploads ?? []).length <= 2);
      seen.push(...pairs(page));
      if (!page.IsTruncated) break;
      assert.ok(page.NextKeyMarker);
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
      assert.ok(pages < 5);
    }
    assert.equal(pages, 4);
    assert.deepEqual(seen, order);

    // With a delimiter, common prefixes take page slots and are not repeated.
    const groupedPages: string[][] = [];
    keyMarker = undefined;
    uploadIdMarker = undefined;
    for (;;) {
      const page = await list({ Delimiter: '/', MaxUploads: 2, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker });
      groupedPages.push([...(page.CommonPrefixes ?? []).map((p) => p.Prefix!), ...(page.Uploads ?? []).map((u) => u.UploadId!)]);
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
      assert.ok(groupedPages.length < 4);
    }
    assert.deepEqual(groupedPages, [['a/', 'b/'], [cIds[0], cIds[1]], [cIds[2], order[6]!.id]]);
  });

  it('max-uploads=0 and max-parts=0: an empty page that is not truncated, as AWS answers', async () => {
    const bucket = 'zero-pages';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const first = await create('same', bucket);
    const second = await create('same', bucket);
    await create('other', bucket);
    await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'same', UploadId: first, PartNumber: 1, Body: 'one' }));

    // With both markers on a key that has a later upload (this one used to crash), and without.
    for (const markers of [{ KeyMarker: 'same', UploadIdMarker: first < second ? first : second }, {}]) {
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, MaxUploads: 0, ...markers }));
      assert.equal(uploads.IsTruncated, false, JSON.stringify(markers));
      assert.deepEqual(uploads.Uploads ?? [], []);
      assert.deepEqual(uploads.CommonPrefixes ?? [], []);
      assert.equal(uploads.MaxUploads, 0);
    }

    const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'same', UploadId: first, MaxParts: 0 }));
    assert.equal(parts.IsTruncated, false);
    assert.deepEqual(parts.Parts ?? [], []);
    assert.equal(parts.MaxParts, 0);
  });

  it('AbortMultipartUpload ends the upload: ListParts, UploadPart and Complete answer NoSuchUpload', async () => {
    const key = 'abort/me';
    const uploadId = await create(key);
    const etag = await uploadPart(key, uploadId, 1, 'some bytes');
    const aborted = await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    assert.equal(aborted.$metadata.httpStatusCode, 204);
    await expectError(s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })), 404, 'NoSuchUpload');
    await expectError(uploadPart(key, uploadId, 2, 'more'), 404, 'NoSuchUpload');
    await expectError(complete(key, uploadId, [{ PartNumber: 1, ETag: etag }]), 404, 'NoSuchUpload');
    await expectError(
      s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })),
      404,
      'NoSuchUpload',
    );
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'abort/' }));
    assert.deepEqual(listed.Uploads ?? [], []);
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })), 404);
    // An upload id is bound to its key.
    const other = await create('abort/other');
    await expectError(s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'abort/not-other', UploadId: other })), 404, 'NoSuchUpload');
    await expectError(uploadPart('abort/not-other', other, 1, 'x'), 404, 'NoSuchUpload');
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'abort/other', UploadId: other }));
  });

  it('uploading a part number again replaces it', async () => {
    const key = 'replace/part';
    const uploadId = await create(key);
    const firstEtag = await uploadPart(key, uploadId, 1, 'the first version of part one');
    const secondEtag = await uploadPart(key, uploadId, 1, 'second version');
    assert.notEqual(firstEtag, secondEtag);
    const listed = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    assert.equal(listed.Parts?.length, 1);
    assert.equal(listed.Parts![0]!.ETag, secondEtag);
    assert.equal(listed.Parts![0]!.Size, 'second version'.length);
    await expectError(complete(key, uploadId, [{ PartNumber: 1, ETag: firstEtag }]), 400, 'InvalidPart');
    const done = await complete(key, uploadId, [{ PartNumber: 1, ETag: secondEtag }]);
    assert.equal(done.ETag, multipartEtag([md5('second version')]));
    assert.equal((await readAll(key)).toString(), 'second version');
  });

  it('part 1 uploaded twice at once, the first-started stored last: Complete listing it twice takes the last entry', async () => {
    const key = 'duplicate/part';
    const uploadId = await create(key);
    const [slowBytes, fastBytes, lastBytes] = [randomBytes(PART), randomBytes(PART), randomBytes(100)];
    // The slow upload starts first and is held open until the fast one is stored: it is stored last.
    const slowBody = new PassThrough();
    const slowUpload = s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 1, Body: slowBody, ContentLength: PART }),
    );
    slowBody.write(slowBytes.subarray(0, MiB));
    const fastEtag = await uploadPart(key, uploadId, 1, fastBytes);
    slowBody.end(slowBytes.subarray(MiB));
    const slowEtag = (await slowUpload).ETag!;
    const lastEtag = await uploadPart(key, uploadId, 2, lastBytes);
    const listed = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag]), [[1, slowEtag], [2, lastEtag]]);

    // The last entry for a number counts: here it names the part that was replaced.
    const stale = [{ PartNumber: 1, ETag: slowEtag }, { PartNumber: 1, ETag: fastEtag }, { PartNumber: 2, ETag: lastEtag }];
    await expectError(complete(key, uploadId, stale), 400, 'InvalidPart');
    const done = await complete(key, uploadId, [{ PartNumber: 1, ETag: fastEtag }, { PartNumber: 1, ETag: slowEtag }, { PartNumber: 2, ETag: lastEtag }]);
    assert.equal(done.ETag, multipartEtag([md5(slowBytes), md5(lastBytes)]));
    assert.ok((await readAll(key)).equals(Buffer.concat([slowBytes, lastBytes])));
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, PartNumber: 1 }));
    assert.equal(head.PartsCount, 2);
    assert.equal(head.ContentLength, PART);
  });

  it('Complete errors: InvalidPartOrder, InvalidPart, EntityTooSmall, MalformedXML; the upload stays usable', async () => {
    const key = 'errors/object';
    const parts = [randomBytes(PART), randomBytes(PART), randomBytes(1000)];
    const uploadId = await create(key);
    const etags: string[] = [];
    for (const [index, part] of parts.entries()) etags.push(await uploadPart(key, uploadId, index + 1, part));
    const entry = (n: number, etag = etags[n - 1]!) => ({ PartNumber: n, ETag: etag });

    await expectError(complete(key, uploadId, [entry(2), entry(1), entry(3)]), 400, 'InvalidPartOrder');
    // A number listed again after a higher one is out of order (a repeat in ascending order is not: see below).
    await expectError(complete(key, uploadId, [entry(1), entry(2), entry(1), entry(3)]), 400, 'InvalidPartOrder');
    await expectError(complete(key, uploadId, [entry(1), entry(2, `"${'0'.repeat(32)}"`), entry(3)]), 400, 'InvalidPart');
    await expectError(complete(key, uploadId, [entry(1), entry(2), entry(3), entry(4, etags[2])]), 400, 'InvalidPart');
    await expectError(complete(key, uploadId, []), 400, 'MalformedXML');

    const path = `/${BUCKET}/${key.split('/').map(encodeURIComponent).join('/')}?uploadId=${uploadId}`;
    for (const body of [
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>',
      'not xml at all',
      '<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>',
      '<Other><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></Other>',
    ]) {
      const response = await signedRequest(server.url, 'POST', path, { body });
      assert.equal(response.status, 400, body);
      assert.match(response.body, /<Code>MalformedXML<\/Code>/, body);
    }

    // Still open: ListParts shows all three, and the right list completes it.
    const listed = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    assert.equal(listed.Parts?.length, 3);
    const done = await complete(key, uploadId, [entry(1), entry(2), entry(3)]);
    assert.equal(done.ETag, multipartEtag(parts.map((p) => md5(p))));

    // EntityTooSmall sits exactly at 5 MiB: one byte short fails, exactly 5 MiB passes.
    const small = 'errors/small';
    const smallId = await create(small);
    const shortPart = randomBytes(PART - 1);
    const shortEtag = await uploadPart(small, smallId, 1, shortPart);
    const lastEtag = await uploadPart(small, smallId, 2, 'last');
    await expectError(
      complete(small, smallId, [{ PartNumber: 1, ETag: shortEtag }, { PartNumber: 2, ETag: lastEtag }]),
      400,
      'EntityTooSmall',
    );
    const exact = Buffer.concat([shortPart, Buffer.from('!')]);
    const exactEtag = await uploadPart(small, smallId, 1, exact);
    await complete(small, smallId, [{ PartNumber: 1, ETag: exactEtag }, { PartNumber: 2, ETag: lastEtag }]);
    assert.equal(md5(await readAll(small)).toString('hex'), md5(Buffer.concat([exact, Buffer.from('last')])).toString('hex'));
  });

  it('gaps in part numbers are allowed and unlisted parts are discarded', async () => {
    const key = 'gaps/object';
    const uploadId = await create(key);
    const parts = new Map<number, Buffer>([
      [1, randomBytes(PART)],
      [2, randomBytes(100)],
      [3, randomBytes(PART + 7)],
      [4, randomBytes(200)],
      [5, randomBytes(3000)],
    ]);
    const etags = new Map<number, string>();
    for (const [n, part] of parts) etags.set(n, await uploadPart(key, uploadId, n, part));
    const chosen = [1, 3, 5];
    const done = await complete(key, uploadId, chosen.map((n) => ({ PartNumber: n, ETag: etags.get(n)! })));
    assert.equal(done.ETag, multipartEtag(chosen.map((n) => md5(parts.get(n)!))));
    const body = await readAll(key);
    const expected = Buffer.concat(chosen.map((n) => parts.get(n)!));
    assert.equal(body.length, expected.length);
    assert.ok(body.equals(expected));
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, PartNumber: 1 }));
    assert.equal(head.PartsCount, 3);
    await expectError(s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })), 404, 'NoSuchUpload');
  });

  it('ETags in Complete are compared without quotes and case-insensitively; a repeated Complete answers the same', async () => {
    const key = 'etag/case';
    const parts = [randomBytes(PART), randomBytes(10)];
    const uploadId = await create(key);
    const etags = [await uploadPart(key, uploadId, 1, parts[0]!), await uploadPart(key, uploadId, 2, parts[1]!)];
    const list = [
      { PartNumber: 1, ETag: etags[0]!.toUpperCase() },
      { PartNumber: 2, ETag: etags[1]!.replace(/"/g, '').toUpperCase() },
    ];
    const done = await complete(key, uploadId, list);
    const expected = multipartEtag(parts.map((p) => md5(p)));
    assert.equal(done.ETag, expected);
    assert.equal(done.Key, key);
    assert.equal(done.Bucket, BUCKET);

    // The answer to the first Complete was "lost": the same request again gets the same answer.
    const again = await complete(key, uploadId, list);
    assert.equal(again.$metadata.httpStatusCode, 200);
    assert.equal(again.ETag, expected);
    const sameInOtherSpelling = await complete(key, uploadId, etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })));
    assert.equal(sameInOtherSpelling.ETag, expected);
    // A different list is not a retry.
    await expectError(complete(key, uploadId, [{ PartNumber: 1, ETag: etags[0] }]), 404, 'NoSuchUpload');
    assert.ok((await readAll(key)).equals(Buffer.concat(parts)));
  });

  it('UploadPartCopy copies byte ranges of an object into parts (CopySourceRange)', async () => {
    const source = randomBytes(2 * PART + 4567);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'copy/source', Body: source }));
    const key = 'copy/assembled';
    const uploadId = await create(key);
    const ranges: Array<[number, number]> = [
      [0, PART - 1],
      [PART, 2 * PART - 1],
      [2 * PART, source.length - 1],
    ];
    const parts: CompletedPart[] = [];
    for (const [index, [start, end]] of ranges.entries()) {
      const copied = await s3.send(
        new UploadPartCopyCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: uploadId,
          PartNumber: index + 1,
          CopySource: `${BUCKET}/copy/source`,
          CopySourceRange: `bytes=${start}-${end}`,
        }),
      );
      assert.equal(copied.CopyPartResult?.ETag, `"${md5(source.subarray(start, end + 1)).toString('hex')}"`);
      assert.ok(copied.CopyPartResult?.LastModified instanceof Date);
      parts.push({ PartNumber: index + 1, ETag: copied.CopyPartResult!.ETag });
    }
    // Without a range, the whole object; beyond the end, InvalidRange.
    const wholeCopy = await s3.send(
      new UploadPartCopyCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 9, CopySource: `${BUCKET}/copy/source` }),
    );
    assert.equal(wholeCopy.CopyPartResult?.ETag, `"${md5(source).toString('hex')}"`);
    await expectError(
      s3.send(
        new UploadPartCopyCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: uploadId,
          PartNumber: 10,
          CopySource: `${BUCKET}/copy/source`,
          CopySourceRange: `bytes=0-${source.length}`,
        }),
      ),
      416,
      'InvalidRange',
    );
    const done = await complete(key, uploadId, parts);
    assert.equal(done.ETag, multipartEtag(ranges.map(([s, e]) => md5(source.subarray(s, e + 1)))));
    const body = await readAll(key);
    assert.equal(md5(body).toString('hex'), md5(source).toString('hex'));
  });

  it('part numbers outside 1..10000 are InvalidArgument; 10000 itself is accepted', async () => {
    const key = 'numbers/object';
    const uploadId = await create(key);
    await expectError(uploadPart(key, uploadId, 0, 'zero'), 400, 'InvalidArgument');
    await expectError(uploadPart(key, uploadId, 10001, 'too far'), 400, 'InvalidArgument');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'numbers/source', Body: 'source' }));
    await expectError(
      s3.send(
        new UploadPartCopyCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 10001, CopySource: `${BUCKET}/numbers/source` }),
      ),
      400,
      'InvalidArgument',
    );
    const etag = await uploadPart(key, uploadId, 10000, 'last possible');
    const listed = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    assert.deepEqual((listed.Parts ?? []).map((p) => [p.PartNumber, p.ETag]), [[10000, etag]]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
  });
});
