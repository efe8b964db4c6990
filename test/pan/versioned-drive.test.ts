import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client, type ListObjectVersionsCommandOutput } from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';
import { ossClient } from '../oss/helpers.js';
import { ALICE, ALICE_BUCKET, login, ok, panCall, startPanServer } from './helpers.js';

/**
 * Each key's versions and markers as [kind, version id, latest], the latest first. The SDK gives
 * versions and markers in two lists, so the order of the noncurrent ones between them is not kept.
 */
function historyOf(listing: ListObjectVersionsCommandOutput): Record<string, Array<[string, string, boolean]>> {
  const entries: Array<[string, string, string, boolean]> = [
    ...(listing.Versions ?? []).map((v): [string, string, string, boolean] => [v.Key!, 'version', v.VersionId!, v.IsLatest!]),
    ...(listing.DeleteMarkers ?? []).map((m): [string, string, string, boolean] => [m.Key!, 'marker', m.VersionId!, m.IsLatest!]),
  ];
  const byKey: Record<string, Array<[string, string, boolean]>> = {};
  for (const [key, kind, id, latest] of entries) (byKey[key] ??= []).push([kind, id, latest]);
  for (const list of Object.values(byKey)) list.sort((a, b) => Number(b[2]) - Number(a[2]));
  return byKey;
}

describe('pan drive in a versioned bucket', () => {
  let server: TestServer;
  let token: string;
  let s3: S3Client;
  const fileIdOf = async (name: string): Promise<number> => {
    const data = await ok(server.url, 'GET', '/api/v2/file/list', { token, query: { parentFileId: 0, limit: 100 } });
    const entry = data.fileList.find((file: { filename: string }) => file.filename === name);
    assert.ok(entry, `${name} is not in the drive's root`);
    return entry.fileId;
  };
  const rename = async (name: string, to: string) => {
    await ok(server.url, 'PUT', '/api/v1/file/name', { token, json: { fileId: await fileIdOf(name), fileName: to } });
  };
  const read = async (key: string, versionId?: string) => (await s3.send(new GetObjectCommand({ Bucket: ALICE_BUCKET, Key: key, VersionId: versionId }))).Body!.transformToString();
  const history = async (prefix: string) => historyOf(await s3.send(new ListObjectVersionsCommand({ Bucket: ALICE_BUCKET, Prefix: prefix })));

  before(async () => {
    server = await startPanServer();
    token = await login(server.url);
    s3 = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
    // The first login makes the drive's bucket.
    await ok(server.url, 'GET', '/api/v2/file/list', { token, query: { parentFileId: 0, limit: 1 } });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('a rename leaves a delete marker over the old name’s history and moves the current version, id and all', async () => {
    await s3.send(new PutBucketVersioningCommand({ Bucket: ALICE_BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = (await s3.send(new PutObjectCommand({ Bucket: ALICE_BUCKET, Key: 'doc.txt', Body: 'one' }))).VersionId!;
    const v2 = (await s3.send(new PutObjectCommand({ Bucket: ALICE_BUCKET, Key: 'doc.txt', Body: 'two' }))).VersionId!;

    await rename('doc.txt', 'doc-renamed.txt');
    assert.equal(await read('doc-renamed.txt'), 'two');
    await assert.rejects(read('doc.txt'), (err: Error) => err.name === 'NoSuchKey');
    assert.equal(await read('doc.txt', v1), 'one');
    let listed = await history('doc');
    const [kind, markerId, latest] = listed['doc.txt'][0];
    assert.deepEqual([kind, latest], ['marker', true]);
    assert.ok(![v1, v2, 'null'].includes(markerId));
    assert.deepEqual(listed['doc.txt'].slice(1), [['version', v1, false]]);
    assert.deepEqual(listed['doc-renamed.txt'], [['version', v2, true]]);

    // Back again: the version goes on top of the marker, which stays in the history.
    await rename('doc-renamed.txt', 'doc.txt');
    assert.equal(await read('doc.txt'), 'two');
    listed = await history('doc');
    assert.deepEqual(listed['doc.txt'][0], ['version', v2, true]);
    assert.deepEqual(
      listed['doc.txt'].slice(1).sort(),
      [['marker', markerId, false], ['version', v1, false]],
    );
    assert.equal(listed['doc-renamed.txt'][0][0], 'marker');
    assert.equal(listed['doc-renamed.txt'][0][2], true);
  });

  it('in a Suspended bucket the old name gets the null delete marker', async () => {
    await s3.send(new PutBucketVersioningCommand({ Bucket: ALICE_BUCKET, VersioningConfiguration: { Status: 'Suspended' } }));
    await s3.send(new PutObjectCommand({ Bucket: ALICE_BUCKET, Key: 'nul.txt', Body: 'null version' }));
    await rename('nul.txt', 'nul-renamed.txt');
    assert.equal(await read('nul-renamed.txt', 'null'), 'null version');
    const listed = await history('nul');
    assert.deepEqual(listed['nul.txt'], [['marker', 'null', true]]);
    assert.deepEqual(listed['nul-renamed.txt'], [['version', 'null', true]]);
  });

  // Last: the policy stays on the bucket for good.
  it('under an OSS bucket retention policy (WORM), refuses to rename a file the policy keeps, and leaves it where it was', async () => {
    await s3.send(new PutObjectCommand({ Bucket: ALICE_BUCKET, Key: 'kept.txt', Body: 'kept' }));
    await ossClient(server, 'v4', ALICE_BUCKET).initiateBucketWorm(ALICE_BUCKET, 1);
    const { status, body } = await panCall(server.url, 'PUT', '/api/v1/file/name', { token, json: { fileId: await fileIdOf('kept.txt'), fileName: 'moved.txt' } });
    assert.equal(status, 200);
    assert.notEqual(body.code, 0);
    assert.match(body.message, /retention policy/);
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: ALICE_BUCKET, Key: 'kept.txt' }))).Body!.transformToString(), 'kept');
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: ALICE_BUCKET, Key: 'moved.txt' })), (err: Error) => err.name === 'NoSuchKey');
  });
});
