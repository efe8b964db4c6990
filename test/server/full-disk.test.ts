import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, rmdir, statfs, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { PanApiError } from '../../src/client/pan.js';
import { ossClient } from '../oss/helpers.js';
import { panClient, panConfig } from '../pan/helpers.js';
import { s3Client } from '../helpers/s3.js';
import { filesUnder, startNode, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const BUCKET = 'full';

/** A tmpfs of `mib` MiB mounted at a new temp directory, or undefined where this process may not mount. */
async function smallFilesystem(mib: number): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-full-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir]);
    return dir;
  } catch {
    await rmdir(dir);
    return undefined;
  }
}

async function expectS3Error(promise: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof S3ServiceException, String(err));
    assert.equal(err.$metadata.httpStatusCode, status);
    assert.equal(err.name, code);
    return true;
  });
}

describe('a full disk (the data directory on a 48 MiB tmpfs)', async () => {
  const mount = await smallFilesystem(48);
  let server: TestServer;
  let s3: S3Client;
  const ballast = () => join(mount!, 'ballast');
  const dataDir = () => join(mount!, 'data');
  const tempFiles = async () => (await filesUnder(join(dataDir(), 'tmp')).catch(() => [])) as string[];

  before(async () => {
    if (!mount) return;
    server = await startNode({ singleNode: true, dataDir: dataDir(), config: panConfig() });
    s3 = s3Client(server, undefined, { maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'before', Body: Buffer.alloc(4 * MiB, 1) }));
    // Everything but ~2 MiB taken by a file beside the data directory: the disk fills up from outside, as it does.
    const { bavail, bsize } = await statfs(mount);
    await writeFile(ballast(), Buffer.alloc(Math.max(0, bavail * bsize - 2 * MiB)));
  });
  after(async () => {
    if (!mount) return;
    s3?.destroy();
    await server?.cleanup();
    await run('umount', [mount]).catch(() => undefined);
    await rm(mount, { recursive: true, force: true });
  });

  it('S3: a PUT that does not fit is InsufficientStorage (507), nothing of it listed, no temp file left', { skip: !mount && 'cannot mount a tmpfs here' }, async () => {
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'too-big', Body: Buffer.alloc(8 * MiB, 2) })), 507, 'InsufficientStorage');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    assert.deepEqual(listed.Contents?.map((o) => [o.Key, o.Size]), [['before', 4 * MiB]]);
    assert.deepEqual(await tempFiles(), []);
  });

  it('S3: a part that does not fit is refused the same way and never listed', { skip: !mount && 'cannot mount a tmpfs here' }, async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'parts' }));
    await expectS3Error(s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'parts', UploadId, PartNumber: 1, Body: Buffer.alloc(6 * MiB, 3) })), 507, 'InsufficientStorage');
    const parts = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'parts', UploadId }));
    assert.equal(parts.Parts?.length ?? 0, 0);
    assert.deepEqual(await tempFiles(), []);
  });

  it('OSS: the same, in its own error format', { skip: !mount && 'cannot mount a tmpfs here' }, async () => {
    const oss = ossClient(server, 'v4', BUCKET);
    await assert.rejects(oss.put('oss-too-big', Buffer.alloc(8 * MiB, 4)), (err: { status?: number; code?: string }) => {
      assert.equal(err.status, 507);
      assert.equal(err.code, 'InsufficientStorage');
      return true;
    });
  });

  it('123pan: the envelope says the storage is full', { skip: !mount && 'cannot mount a tmpfs here' }, async () => {
    const file = join(tmpdir(), `tessera-full-pan-${process.pid}`);
    await writeFile(file, Buffer.alloc(6 * MiB, 5));
    const pan = panClient(server);
    try {
      await assert.rejects(pan.uploadFile(file), (err: unknown) => {
        assert.ok(err instanceof PanApiError, String(err));
        assert.match(err.message, /存储空间不足/);
        return true;
      });
    } finally {
      pan.close();
      await unlink(file);
    }
    assert.deepEqual(await tempFiles(), []);
  });

  it('works again, without a restart, once space is freed; the metadata is intact', { skip: !mount && 'cannot mount a tmpfs here' }, async () => {
    await unlink(ballast());
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'after', Body: Buffer.alloc(8 * MiB, 6) }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'after' }));
    assert.equal((await got.Body!.transformToByteArray()).length, 8 * MiB);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'after' }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), ['before']);
    await server.stop();
    const db = new Database(join(dataDir(), 'meta.db'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
  });
});
