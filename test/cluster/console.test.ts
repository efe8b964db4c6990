import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { consoleApi, signInApi } from '../helpers/console.js';
import { s3Client } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';
import { skipWithoutPostgres } from './helpers.js';

// Issue #14 on three nodes: the console's temporary credentials are stateless and their server key
// is the cluster's (one setting in PostgreSQL), so a session signed in on one node works on all.

const ALICE = { id: 'alice', displayName: 'Alice', accessKey: 'alice-access-key', secretKey: 'alice-secret-key-0123456789' };

describe('console sessions across nodes', { skip: skipWithoutPostgres() }, () => {
  let cluster: TestCluster;
  let nodes: TestServer[];
  const clients: S3Client[] = [];

  before(async () => {
    cluster = await startCluster({ config: { users: [ALICE] } });
    nodes = cluster.nodes;
  });
  after(async () => {
    for (const client of clients) client.destroy();
    await cluster?.cleanup();
  });

  it('credentials issued by one node sign S3 and console API calls on every node, as the same user', async () => {
    const session = await signInApi(nodes[0]!, ALICE.accessKey, ALICE.secretKey);
    const credentials = { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken };
    const onNode = nodes.map((node) => {
      const client = s3Client(node, credentials as never, { maxAttempts: 1 });
      clients.push(client);
      return client;
    });
    await onNode[1]!.send(new CreateBucketCommand({ Bucket: 'alice-cluster' }));
    await onNode[2]!.send(new PutObjectCommand({ Bucket: 'alice-cluster', Key: 'k.txt', Body: 'across nodes' }));
    const got = await onNode[0]!.send(new GetObjectCommand({ Bucket: 'alice-cluster', Key: 'k.txt' }));
    assert.equal(await got.Body!.transformToString(), 'across nodes');
    for (const client of onNode) {
      assert.deepEqual((await client.send(new ListBucketsCommand({}))).Buckets?.map((bucket) => bucket.Name), ['alice-cluster']);
    }
    for (const node of nodes) {
      const { status, json } = await consoleApi(node, credentials, 'GET', 'buckets');
      assert.equal(status, 200);
      assert.deepEqual(json.buckets.map((bucket: { name: string; objects: number }) => [bucket.name, bucket.objects]), [['alice-cluster', 1]]);
    }
    // A Share made through the proxy works through the proxy, whichever nodes serve the two requests.
    const share = await consoleApi(cluster, credentials, 'POST', 'share', { bucket: 'alice-cluster', key: 'k.txt', expiresSeconds: 600 });
    assert.equal(share.status, 200);
    const response = await fetch(new URL(share.json.path, cluster.url));
    assert.equal(await response.text(), 'across nodes');
  });
});
