import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { md5Hex, multipartEtag, ossClient, type AliOss } from '../oss/helpers.js';
import { assertBlobsMatchMetadata, getBytes, md5, s3At, skipWithoutPostgres } from './helpers.js';

// Issue #13: a multipart upload is one upload whichever node each request lands on. Every request
// here names its node (nodes[i].url); nothing goes through the proxy.

const KiB = 1024;
/** OSS's smallest part but the last (S3's is lowered to 1 byte in the config). */
const OSS_PART = 100 * KiB;

function split(data: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) parts.push(data.subarray(offset, offset + size));
  return parts;
}

describe('multipart uploads across nodes', { skip: skipWithoutPostgres() }, () => {
  let cluster: TestCluster;
  let s3: S3Client[];

  before(async () => {
    cluster = await startCluster({ config: { minPartSize: 1 } });
    s3 = cluster.nodes.map((node) => s3At(node));
    await s3[0]!.send(new CreateBucketCommand({ Bucket: 'across' }));
  });
  after(async () => {
    for (const client of s3 ?? []) client.destroy();
    await cluster?.cleanup();
  });

  it('S3: created on node 0, parts on nodes 1 and 2; ListParts and ListMultipartUploads agree on every node; Complete on each node in turn; GET on every node', async () => {
    for (const completer of [0, 1, 2]) {
      const key = `s3/completed-on-${completer}.bin`;
      const data = randomBytes(5 * 37 * KiB + 5);
      const parts = split(data, 37 * KiB);
      const { UploadId } = await s3[0]!.send(new CreateMultipartUploadCommand({ Bucket: 'across', Key: key }));
      const etags: string[] = [];
      for (const [i, part] of parts.entries()) {
        const node = 1 + (i % 2);
        const put = await s3[node]!.send(new UploadPartCommand({ Bucket: 'across', Key: key, UploadId, PartNumber: i + 1, Body: part }));
        assert.equal(put.ETag, `"${md5(part)}"`);
        etags.push(put.ETag!);
      }

      const listings = await Promise.all(
        s3.map(async (client) => {
          const listed = await client.send(new ListPartsCommand({ Bucket: 'across', Key: key, UploadId }));
          return listed.Parts!.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag, Size: p.Size, LastModified: p.LastModified?.getTime() }));
        }),
      );
      assert.deepEqual(listings[0]!.map((p) => [p.PartNumber, p.ETag, p.Size]), parts.map((part, i) => [i + 1, etags[i], part.length]));
      assert.deepEqual(listings[1], listings[0], 'node 1 lists what node 0 lists');
      assert.deepEqual(listings[2], listings[0], 'node 2 lists what node 0 lists');

      // Pages of two parts, each page from the next node, chain into the whole list.
      const paged: number[] = [];
      let marker: string | undefined;
      for (let page = 0; ; page++) {
        const listed = await s3[page % 3]!.send(new ListPartsCommand({ Bucket: 'across', Key: key, UploadId, MaxParts: 2, PartNumberMarker: marker }));
        paged.push(...listed.Parts!.map((p) => p.PartNumber!));
        if (!listed.IsTruncated) break;
        marker = listed.NextPartNumberMarker;
      }
      assert.deepEqual(paged, [1, 2, 3, 4, 5, 6]);
      assert.equal(parts.length, 6);

      const uploads = await Promise.all(
        s3.map(async (client) => (await client.send(new ListMultipartUploadsCommand({ Bucket: 'across', Prefix: 's3/' }))).Uploads?.map((u) => [u.Key, u.UploadId, u.Initiated?.getTime()])),
      );
      assert.deepEqual(uploads[0], [[key, UploadId, uploads[0]![0]![2]]]);
      assert.deepEqual(uploads[1], uploads[0]);
      assert.deepEqual(uploads[2], uploads[0]);

      const done = await s3[completer]!.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'across',
          Key: key,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
        }),
      );
      assert.equal(done.ETag, multipartEtag(parts).toLowerCase());
      for (const client of s3) assert.equal(md5(await getBytes(client, 'across', key)), md5(data));
      for (const client of s3) assert.equal((await client.send(new ListMultipartUploadsCommand({ Bucket: 'across', Prefix: 's3/' }))).Uploads, undefined);
    }
    await assertBlobsMatchMetadata(cluster);
  });

  it('OSS (ali-oss): initiated on node 0, parts on nodes 1 and 2; listParts and listUploads agree on every node; complete on each node in turn; get on every node', async () => {
    const oss: AliOss[] = cluster.nodes.map((node) => ossClient(node, 'v4', 'across'));
    for (const completer of [0, 1, 2]) {
      const name = `oss/completed-on-${completer}.bin`;
      const data = randomBytes(3 * OSS_PART + 999);
      const parts = split(data, OSS_PART);
      const { uploadId } = await oss[0].initMultipartUpload(name);
      const done: Array<{ number: number; etag: string }> = [];
      let offset = 0;
      for (const [i, part] of parts.entries()) {
        const res = await oss[1 + (i % 2)].uploadPart(name, uploadId, i + 1, data, offset, offset + part.length);
        offset += part.length;
        assert.equal(res.etag, `"${md5Hex(part).toUpperCase()}"`);
        done.push({ number: i + 1, etag: res.etag });
      }

      const listings = await Promise.all(
        oss.map(async (client: AliOss) =>
          ((await client.listParts(name, uploadId, {})).parts as Array<Record<string, string>>).map((p) => [p.PartNumber, p.ETag, p.Size, p.LastModified]),
        ),
      );
      assert.deepEqual(listings[0]!.map((p) => p.slice(0, 3)), parts.map((part, i) => [String(i + 1), done[i]!.etag, String(part.length)]));
      assert.deepEqual(listings[1], listings[0]);
      assert.deepEqual(listings[2], listings[0]);

      const uploads = await Promise.all(
        oss.map(async (client: AliOss) => ((await client.listUploads({ prefix: 'oss/' })).uploads as Array<{ name: string; uploadId: string; initiated: string }>).map((u) => [u.name, u.uploadId, u.initiated])),
      );
      assert.deepEqual(uploads[0]!.map((u) => u.slice(0, 2)), [[name, uploadId]]);
      assert.deepEqual(uploads[1], uploads[0]);
      assert.deepEqual(uploads[2], uploads[0]);

      const completed = await oss[completer].completeMultipartUpload(name, uploadId, done);
      assert.equal(completed.etag, multipartEtag(parts));
      for (const client of oss) assert.equal(md5Hex((await client.get(name)).content as Buffer), md5Hex(data));
      for (const client of oss) assert.deepEqual((await client.listUploads({ prefix: 'oss/' })).uploads, []);
      // The object is the same one through S3, on any node.
      assert.equal(md5(await getBytes(s3[(completer + 1) % 3]!, 'across', name)), md5Hex(data));
    }
    await assertBlobsMatchMetadata(cluster);
  });
});
