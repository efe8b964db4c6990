import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { assertBlobsMatchMetadata, s3At, skipWithoutPostgres } from './helpers.js';

// Versioning across nodes: concurrent writes of one key in an Enabled bucket, each on a different
// node, each get their own version, exactly one of them latest and the one GET serves; concurrent
// deletes each leave a marker. The blob files stay exactly those the metadata refers to.

const ROUNDS = 5;
const BUCKET = 'versioned-races';

describe('versioning across nodes', { skip: skipWithoutPostgres() }, () => {
  let cluster: TestCluster;
  let s3: S3Client[];

  before(async () => {
    cluster = await startCluster();
    s3 = cluster.nodes.map((n) => s3At(n));
    await s3[0]!.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3[1]!.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
  });
  after(async () => {
    for (const client of s3 ?? []) client.destroy();
    await cluster?.cleanup();
  });

  it('concurrent PUTs of one key on different nodes each make a distinct version, exactly one latest', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const Key = `key-${round}`;
      const written = await Promise.all(
        s3.map(async (client, i) => ({ body: `round ${round} node ${i}`, versionId: (await client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: `round ${round} node ${i}` }))).VersionId! })),
      );
      assert.equal(new Set(written.map((w) => w.versionId)).size, s3.length, 'distinct version ids');
      const listed = await s3[0]!.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: Key }));
      const versions = listed.Versions ?? [];
      assert.deepEqual(new Set(versions.map((v) => v.VersionId)), new Set(written.map((w) => w.versionId)));
      const latest = versions.filter((v) => v.IsLatest);
      assert.equal(latest.length, 1, 'exactly one latest');
      assert.equal(versions[0]!.VersionId, latest[0]!.VersionId, 'the latest comes first');
      const served = await s3[2]!.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
      assert.equal(served.VersionId, latest[0]!.VersionId);
      assert.equal(await served.Body!.transformToString(), written.find((w) => w.versionId === latest[0]!.VersionId)!.body);
      for (const w of written) {
        const body = await (await s3[round % 3]!.send(new GetObjectCommand({ Bucket: BUCKET, Key, VersionId: w.versionId }))).Body!.transformToString();
        assert.equal(body, w.body);
      }

      // Concurrent deletes: each leaves a marker, the versions all stay.
      const markers = await Promise.all(s3.map((client) => client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key }))));
      assert.ok(markers.every((m) => m.DeleteMarker === true));
      const after = await s3[1]!.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: Key }));
      assert.equal(after.Versions?.length, s3.length);
      assert.equal(after.DeleteMarkers?.length, s3.length);
      assert.equal([...(after.Versions ?? []), ...(after.DeleteMarkers ?? [])].filter((v) => v.IsLatest).length, 1);
      assert.equal(after.DeleteMarkers?.[0]?.IsLatest, true);
    }
    await assertBlobsMatchMetadata(cluster);
  });
});
