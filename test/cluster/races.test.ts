import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { assertBlobsMatchMetadata, getBytes, md5, randomBody, s3Failure, s3Once, settle, skipWithoutPostgres, tempFiles } from './helpers.js';

// Issue #13's races, each run ROUNDS times with new bodies, every contender on a different node:
// - the same part number uploaded at once leaves exactly one part, whose listed ETag matches the
//   bytes served after Complete;
// - Complete racing UploadPart or Abort of the same upload gives a whole object that matches the
//   parts named in Complete, or a clean error, never a mix;
// - a repeated Complete answers the same ETag;
// - a part's bytes are never deleted while a Complete that uses them commits.
// After each race, the blob files are exactly those the metadata refers to, and no temp file is left.

const ROUNDS = 20;
const BUCKET = 'races';
const KiB = 1024;

/** S3's multipart ETag of these parts, quoted. */
function multipartEtag(parts: Buffer[]): string {
  const digests = Buffer.concat(parts.map((part) => createHash('md5').update(part).digest()));
  return `"${createHash('md5').update(digests).digest('hex')}-${parts.length}"`;
}

describe('races across nodes', { skip: skipWithoutPostgres() }, () => {
  let cluster: TestCluster;
  /** One client per node, no retries: every answer is seen as the node gave it. */
  let s3: S3Client[];
  const node = (i: number) => s3[i % 3]!;

  before(async () => {
    cluster = await startCluster({ config: { minPartSize: 1 } });
    s3 = cluster.nodes.map((n) => s3Once(n));
    await s3[0]!.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  afterEach(async () => {
    await assertBlobsMatchMetadata(cluster);
    assert.deepEqual(await tempFiles(cluster), [], 'no body left in tmp/');
  });
  after(async () => {
    for (const client of s3 ?? []) client.destroy();
    await cluster?.cleanup();
  });

  async function create(on: number, key: string): Promise<string> {
    return (await node(on).send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }))).UploadId!;
  }
  function uploadPart(on: number, key: string, uploadId: string, partNumber: number, body: Buffer) {
    return node(on).send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body }));
  }
  function complete(on: number, key: string, uploadId: string, parts: Array<{ PartNumber: number; ETag: string }>) {
    return node(on).send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
  }
  async function listed(on: number, key: string, uploadId: string) {
    return ((await node(on).send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }))).Parts ?? []).map((p) => ({
      PartNumber: p.PartNumber!,
      ETag: p.ETag!,
      Size: p.Size!,
    }));
  }

  it('the same part number uploaded at once on three nodes leaves exactly one part; its listed ETag is the MD5 of the bytes served after Complete', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = `same-part/${round}`;
      const uploadId = await create(round, key);
      const tail = randomBody(1, 8 * KiB);
      await uploadPart(round + 1, key, uploadId, 2, tail);
      const bodies = [0, 1, 2].map(() => randomBody(1, 32 * KiB));
      const answers = await Promise.all(bodies.map((body, i) => settle(uploadPart(i, key, uploadId, 1, body))));
      answers.forEach((answer, i) => assert.ok(answer.ok, `round ${round}: node ${i}: ${JSON.stringify(answer)}`));
      const etags = answers.map((answer) => (answer.ok ? answer.value.ETag : undefined));
      assert.deepEqual(etags, bodies.map((body) => `"${md5(body)}"`));

      const lists = await Promise.all([0, 1, 2].map((i) => listed(i, key, uploadId)));
      assert.equal(lists[0]!.length, 2, `round ${round}: ${JSON.stringify(lists[0])}`);
      assert.deepEqual(lists[1], lists[0]);
      assert.deepEqual(lists[2], lists[0]);
      const winner = bodies.findIndex((body) => `"${md5(body)}"` === lists[0]![0]!.ETag);
      assert.ok(winner >= 0, `round ${round}: the listed ETag is one of the bodies'`);
      assert.equal(lists[0]![0]!.Size, bodies[winner]!.length);

      const done = await complete(round + 2, key, uploadId, lists[0]!.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })));
      assert.equal(done.ETag, multipartEtag([bodies[winner]!, tail]));
      const served = await getBytes(node(round), BUCKET, key);
      assert.equal(md5(served.subarray(0, bodies[winner]!.length)), md5(bodies[winner]!), `round ${round}: part 1 served is the listed one`);
      assert.ok(served.equals(Buffer.concat([bodies[winner]!, tail])), `round ${round}: the object is the listed parts`);
    }
  });

  it('Complete racing UploadPart of the same upload (a listed part replaced, a listed part sent again, a new part): the object is exactly the parts Complete named, or Complete fails cleanly', async (t) => {
    const seen = { completeFirst: 0, replaceFirst: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const key = `complete-vs-part/${round}`;
      const uploadId = await create(round, key);
      const [p1, p2, replacement, extra] = [randomBody(1, 16 * KiB), randomBody(1, 16 * KiB), randomBody(1, 16 * KiB), randomBody(1, 16 * KiB)];
      await uploadPart(round + 1, key, uploadId, 1, p1);
      await uploadPart(round + 2, key, uploadId, 2, p2);
      const named = [{ PartNumber: 1, ETag: `"${md5(p1)}"` }, { PartNumber: 2, ETag: `"${md5(p2)}"` }];

      const [completed, sameAgain, replaced, added] = await Promise.all([
        settle(complete(round, key, uploadId, named)),
        // Part 1 again with the same bytes: a new blob with the same ETag replaces the one Complete reads.
        settle(uploadPart(round + 1, key, uploadId, 1, p1)),
        settle(uploadPart(round + 2, key, uploadId, 2, replacement)),
        settle(uploadPart(round + 1, key, uploadId, 3, extra)),
      ]);
      const tellAll = `round ${round}: ${JSON.stringify({ completed, sameAgain, replaced, added })}`;
      for (const part of [sameAgain, replaced, added]) {
        assert.ok(part.ok || (part.code === 'NoSuchUpload' && part.status === 404), `a part is stored or finds the upload gone: ${tellAll}`);
      }
      if (completed.ok) {
        seen.completeFirst++;
        assert.ok(!replaced.ok, `part 2 cannot be replaced both before and after a Complete that named the old one: ${tellAll}`);
        assert.equal(completed.value.ETag, multipartEtag([p1, p2]));
        for (let i = 0; i < 3; i++) assert.ok((await getBytes(node(i), BUCKET, key)).equals(Buffer.concat([p1, p2])), `node ${i}: ${tellAll}`);
        assert.equal((await s3Failure(listed(round, key, uploadId))).code, 'NoSuchUpload');
      } else {
        seen.replaceFirst++;
        assert.deepEqual([completed.code, completed.status], ['InvalidPart', 400], tellAll);
        assert.ok(replaced.ok, `Complete fails only because part 2 changed: ${tellAll}`);
        assert.equal((await s3Failure(getBytes(node(round + 1), BUCKET, key))).code, 'NoSuchKey', 'nothing of the failed Complete is visible');
        // The upload goes on: completing what is listed gives exactly those bytes.
        const parts = await listed(round + 2, key, uploadId);
        assert.equal(parts[1]!.ETag, `"${md5(replacement)}"`);
        assert.equal(parts.length, added.ok ? 3 : 2, tellAll);
        const done = await complete(round + 1, key, uploadId, parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })));
        const expected = [p1, replacement, ...(added.ok ? [extra] : [])];
        assert.equal(done.ETag, multipartEtag(expected));
        assert.ok((await getBytes(node(round), BUCKET, key)).equals(Buffer.concat(expected)), tellAll);
      }
    }
    assert.equal(seen.completeFirst + seen.replaceFirst, ROUNDS);
    t.diagnostic(`Complete first in ${seen.completeFirst} rounds, the replaced part first in ${seen.replaceFirst}`);
  });

  it('Complete racing Abort: exactly one wins; the object is whole, or there is none and the upload is gone', async (t) => {
    let completions = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const key = `complete-vs-abort/${round}`;
      const uploadId = await create(round, key);
      const [p1, p2] = [randomBody(1, 16 * KiB), randomBody(1, 16 * KiB)];
      await uploadPart(round + 1, key, uploadId, 1, p1);
      await uploadPart(round + 2, key, uploadId, 2, p2);
      const [completed, aborted] = await Promise.all([
        settle(complete(round, key, uploadId, [{ PartNumber: 1, ETag: `"${md5(p1)}"` }, { PartNumber: 2, ETag: `"${md5(p2)}"` }])),
        settle(node(round + 1).send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }))),
      ]);
      const tellAll = `round ${round}: ${JSON.stringify({ completed, aborted })}`;
      assert.notEqual(completed.ok, aborted.ok, `exactly one wins: ${tellAll}`);
      const loser = completed.ok ? aborted : completed;
      assert.ok(!loser.ok && loser.code === 'NoSuchUpload' && loser.status === 404, tellAll);
      if (completed.ok) {
        completions++;
        assert.equal(completed.value.ETag, multipartEtag([p1, p2]));
        for (let i = 0; i < 3; i++) assert.ok((await getBytes(node(i), BUCKET, key)).equals(Buffer.concat([p1, p2])), tellAll);
      } else {
        for (let i = 0; i < 3; i++) assert.equal((await s3Failure(getBytes(node(i), BUCKET, key))).code, 'NoSuchKey', tellAll);
      }
      assert.equal((await s3Failure(listed(round + 2, key, uploadId))).code, 'NoSuchUpload');
    }
    t.diagnostic(`Complete won ${completions} rounds, Abort ${ROUNDS - completions}`);
  });

  it('a Complete repeated at once on three nodes, and once more later, answers the same ETag every time', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = `repeated-complete/${round}`;
      const uploadId = await create(round, key);
      const parts = [randomBody(1, 16 * KiB), randomBody(1, 16 * KiB), randomBody(1, 16 * KiB)];
      for (const [i, part] of parts.entries()) await uploadPart(round + i, key, uploadId, i + 1, part);
      const named = parts.map((part, i) => ({ PartNumber: i + 1, ETag: `"${md5(part)}"` }));
      const answers = await Promise.all([0, 1, 2].map((i) => settle(complete(i, key, uploadId, named))));
      const again = await settle(complete(round + 1, key, uploadId, named));
      const expected = multipartEtag(parts);
      for (const answer of [...answers, again]) {
        assert.ok(answer.ok, `round ${round}: ${JSON.stringify(answer)}`);
        assert.equal(answer.value.ETag, expected);
      }
      for (let i = 0; i < 3; i++) assert.ok((await getBytes(node(i), BUCKET, key)).equals(Buffer.concat(parts)));
    }
  });
});
