import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import OSS from 'ali-oss';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { s3Client } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';
import {
  ALICE,
  APP,
  BOB_APP,
  login,
  md5,
  NO_LIMITS,
  ok,
  panCall,
  panConfig,
  postSliceV2,
  putSlice,
  randomData,
  s3Bytes,
  SLICE,
  slicesOf,
} from '../pan/helpers.js';
import { sleep, skipWithoutPostgres } from './helpers.js';

// Issue #13, the 123pan dialect on three nodes: tokens and rate limits are the cluster's, not a
// node's; an upload's slices may land on any node and it still completes at once; a node killed
// between slices loses nothing. And instant upload (秒传) and reading across dialects and nodes.

/** The per-second limit of one endpoint in this cluster (every other endpoint unlimited). */
const USER_INFO_QPS = 2;

describe('123pan across nodes', { skip: skipWithoutPostgres() }, () => {
  let cluster: TestCluster;
  let urls: string[];

  before(async () => {
    cluster = await startCluster({
      config: panConfig({ panRateLimits: { ...NO_LIMITS, 'api/v1/user/info': USER_INFO_QPS }, panLeaseSeconds: 1, panRecoverySeconds: 0.2 }),
    });
    urls = cluster.nodes.map((node) => node.url);
  });
  after(async () => {
    await cluster?.cleanup();
  });

  /** The envelope code of a cheap authenticated call (no rate limit on it here) with `token` on node `i`. */
  const tokenCode = async (i: number, token: string) => (await panCall(urls[i]!, 'GET', '/upload/v2/file/domain', { token })).body.code;

  it('keeps at most 3 live tokens per app across the cluster: the 4th login, on another node, revokes the 1st everywhere; 6 logins at once leave 3', async () => {
    const tokens: string[] = [];
    for (const i of [0, 1, 2, 0]) tokens.push(await login(urls[i]!, BOB_APP));
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await Promise.all(tokens.map((token) => tokenCode(i, token))), [401, 0, 0, 0], `node ${i}`);
    }
    const racing = await Promise.all([0, 1, 2, 0, 1, 2].map((i) => login(urls[i]!, BOB_APP)));
    for (let i = 0; i < 3; i++) {
      const older = await Promise.all(tokens.map((token) => tokenCode(i, token)));
      assert.deepEqual(older, [401, 401, 401, 401], `node ${i}: every older token is revoked`);
      const newer = await Promise.all(racing.map((token) => tokenCode(i, token)));
      assert.equal(newer.filter((code) => code === 0).length, 3, `node ${i}: ${newer}`);
      assert.equal(newer.filter((code) => code === 401).length, 3, `node ${i}: ${newer}`);
    }
    // Another app's tokens are its own.
    assert.equal(await tokenCode(1, await login(urls[2]!, APP)), 0);
  });

  it(`holds a per-endpoint QPS limit (${USER_INFO_QPS}/s) across the cluster: 6 calls in one second spread over 3 nodes, ${USER_INFO_QPS} succeed`, async () => {
    const alice = await login(urls[0]!);
    const bob = await login(urls[1]!, BOB_APP);
    for (let attempt = 0; ; attempt++) {
      // Start just after a second begins, so the calls are likely counted in one second's window.
      await sleep(1000 - (Date.now() % 1000) + 5);
      const startedSecond = Math.floor(Date.now() / 1000);
      const answers = await Promise.all([0, 1, 2, 0, 1, 2].map((i) => panCall(urls[i]!, 'GET', '/api/v1/user/info', { token: alice })));
      const bobsCall = await panCall(urls[2]!, 'GET', '/api/v1/user/info', { token: bob });
      const seconds = Math.floor(Date.now() / 1000) - startedSecond + 1;
      const codes = answers.map((answer) => answer.body.code).sort();
      assert.ok(answers.every((answer) => answer.status === 200));
      assert.ok(codes.every((code) => code === 0 || code === 429), `codes ${codes}`);
      const passed = codes.filter((code) => code === 0).length;
      // Each second's window lets USER_INFO_QPS through, whichever node counts the call.
      assert.ok(passed <= USER_INFO_QPS * seconds, `${passed} calls passed in ${seconds} s`);
      if (seconds > 1 && attempt < 3) continue;
      assert.equal(seconds, 1, 'the burst fit in one second at least once in four tries');
      assert.deepEqual(codes, [0, 0, 429, 429, 429, 429]);
      assert.match(answers.find((answer) => answer.body.code === 429)!.body.message, /请求太频繁/);
      assert.equal(bobsCall.body.code, 0, "another app's calls are counted apart");
      return;
    }
  });

  it('V1: create on one node, create again on another gives the same preuploadID; slices signed on one node and sent to the next; list_upload_parts agrees on every node; complete at once', async () => {
    const token = await login(urls[0]!);
    const data = randomData(5 * SLICE + 321);
    const slices = slicesOf(data, SLICE);
    const file = { parentFileID: 0, filename: 'v1-across.bin', etag: md5(data), size: data.length };
    const created = await ok(urls[0]!, 'POST', '/upload/v1/file/create', { token, json: file });
    assert.equal(created.reuse, false);
    const put = async (sliceNo: number, signer: number) => {
      const { presignedURL } = await ok(urls[signer]!, 'POST', '/upload/v1/file/get_upload_url', { token, json: { preuploadID: created.preuploadID, sliceNo } });
      // The URL names the node that signed it; the next node takes it (the signing secret is the cluster's).
      const sentTo = presignedURL.replace(urls[signer]!, urls[(signer + 1) % 3]!);
      assert.notEqual(sentTo, presignedURL);
      const answer = await putSlice(sentTo, slices[sliceNo - 1]!);
      assert.equal(answer.status, 200, answer.text);
    };
    await put(1, 0);
    await put(2, 1);

    const resumed = await ok(urls[1]!, 'POST', '/upload/v1/file/create', { token, json: file });
    assert.deepEqual(resumed, { fileID: 0, reuse: false, preuploadID: created.preuploadID, sliceSize: SLICE });
    const expected = slices.slice(0, 2).map((slice, i) => ({ partNumber: String(i + 1), size: slice.length, etag: md5(slice) }));
    for (let i = 0; i < 3; i++) {
      const listed = await ok(urls[i]!, 'POST', '/upload/v1/file/list_upload_parts', { token, json: { preuploadID: created.preuploadID } });
      assert.deepEqual(listed.parts, expected, `node ${i}`);
    }
    for (let sliceNo = 3; sliceNo <= slices.length; sliceNo++) await put(sliceNo, sliceNo % 3);
    const done = await ok(urls[2]!, 'POST', '/upload/v1/file/upload_complete', { token, json: { preuploadID: created.preuploadID } });
    assert.equal(done.async, false);
    assert.equal(done.completed, true);
    const detail = await ok(urls[1]!, 'GET', '/api/v1/file/detail', { token, query: { fileID: done.fileID } });
    assert.deepEqual([detail.filename, detail.etag, detail.size], ['v1-across.bin', md5(data), data.length]);
    assert.deepEqual(await s3Bytes(cluster.nodes[0]!, 'v1-across.bin'), data);
  });

  it('V2: slices in order, each on the next node; upload_complete on another answers completed:true at once', async () => {
    const token = await login(urls[1]!);
    const data = randomData(6 * SLICE + 1);
    const created = await ok(urls[1]!, 'POST', '/upload/v2/file/create', {
      token,
      json: { parentFileID: 0, filename: 'v2-across.bin', etag: md5(data), size: data.length },
    });
    assert.deepEqual(created.servers, [urls[1]]);
    for (const [i, slice] of slicesOf(data, SLICE).entries()) {
      const { body } = await postSliceV2(urls[i % 3]!, token, created.preuploadID, i + 1, slice);
      assert.equal(body.code, 0, body.message);
    }
    const done = await panCall(urls[0]!, 'POST', '/upload/v2/file/upload_complete', { token, json: { preuploadID: created.preuploadID } });
    assert.equal(done.body.code, 0, done.body.message);
    assert.equal(done.body.data.completed, true);
    assert.deepEqual(await s3Bytes(cluster.nodes[2]!, 'v2-across.bin'), data);
  });

  it('instant upload (秒传) across dialects and nodes: PUT with S3 on node 0, created by MD5 with pan on node 1 (reuse:true), read with OSS on node 2', async () => {
    const alice: S3Client = s3Client(cluster.nodes[0]!, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
    try {
      const data = randomData(3 * SLICE + 17);
      await alice.send(new CreateBucketCommand({ Bucket: 'alice-uploads' }));
      await alice.send(new PutObjectCommand({ Bucket: 'alice-uploads', Key: 'from-s3.bin', Body: data }));
      const token = await login(urls[1]!);
      const created = await ok(urls[1]!, 'POST', '/upload/v1/file/create', {
        token,
        json: { parentFileID: 0, filename: 'instant.bin', etag: md5(data), size: data.length },
      });
      assert.equal(created.reuse, true);
      assert.ok(created.fileID > 0);
      const oss = aliceOss(cluster.nodes[2]!, 'pan-alice');
      assert.equal(md5((await oss.get('instant.bin')).content as Buffer), md5(data));
      const { downloadUrl } = await ok(urls[2]!, 'GET', '/api/v1/file/download_info', { token, query: { fileId: created.fileID } });
      assert.equal(md5(Buffer.from(await (await fetch(downloadUrl)).arrayBuffer())), md5(data));
      // The same, V2 on node 2: the file is found whichever node looks.
      const v2 = await ok(urls[2]!, 'POST', '/upload/v2/file/create', {
        token,
        json: { parentFileID: 0, filename: 'instant-v2.bin', etag: md5(data), size: data.length },
      });
      assert.equal(v2.reuse, true);
      assert.equal(md5((await aliceOss(cluster.nodes[0]!, 'pan-alice').get('instant-v2.bin')).content as Buffer), md5(data));
    } finally {
      alice.destroy();
    }
  });

  it('a node killed between slices: the rest on the other nodes, and upload_complete answers completed:true at once', async () => {
    const token = await login(urls[0]!);
    const data = randomData(5 * SLICE + 99);
    const slices = slicesOf(data, SLICE);
    const created = await ok(urls[1]!, 'POST', '/upload/v2/file/create', {
      token,
      json: { parentFileID: 0, filename: 'killed-between.bin', etag: md5(data), size: data.length },
    });
    for (const sliceNo of [1, 2]) assert.equal((await postSliceV2(urls[1]!, token, created.preuploadID, sliceNo, slices[sliceNo - 1]!)).body.code, 0);
    await cluster.kill(1);
    for (let sliceNo = 3; sliceNo <= slices.length; sliceNo++) {
      const { body } = await postSliceV2(urls[sliceNo % 2 === 0 ? 0 : 2]!, token, created.preuploadID, sliceNo, slices[sliceNo - 1]!);
      assert.equal(body.code, 0, body.message);
    }
    const listed = await ok(urls[2]!, 'POST', '/upload/v1/file/list_upload_parts', { token, json: { preuploadID: created.preuploadID } });
    assert.deepEqual(listed.parts.map((part: { etag: string }) => part.etag), slices.map((slice) => md5(slice)));
    const done = await panCall(urls[0]!, 'POST', '/upload/v2/file/upload_complete', { token, json: { preuploadID: created.preuploadID } });
    assert.equal(done.body.code, 0, done.body.message);
    assert.equal(done.body.data.completed, true);
    assert.deepEqual(await s3Bytes(cluster.nodes[2]!, 'killed-between.bin'), data);
    await cluster.restart(1);
    assert.deepEqual(await s3Bytes(cluster.nodes[1]!, 'killed-between.bin'), data, 'the node started again serves it');
  });
});

/** ali-oss as Alice (V4), aimed at one node, path style. */
function aliceOss(node: TestServer, bucket: string): OSS {
  return new OSS({
    accessKeyId: ALICE.accessKey,
    accessKeySecret: ALICE.secretKey,
    bucket,
    endpoint: `http://localhost:${node.port}`,
    region: 'oss-cn-hangzhou',
    authorizationV4: true,
    sldEnable: true,
  } as OSS.Options);
}
