/**
 * `tessera migrate`: a real single node filled through S3 (a bucket with CORS rules among it) and
 * the 123pan API, stopped, copied into a fresh PostgreSQL database, then served by two cluster
 * nodes on the same data directory. And
 * what it refuses: a server still running on the source, a database that is not empty, URLs that
 * are not PostgreSQL's.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketCorsCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketCorsCommand,
  PutBucketTaggingCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CORSRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { PostgresMetadata } from '../../src/core/metadata/postgres.js';
import { admin, type Credentials } from '../helpers/admin.js';
import { expectError } from '../helpers/assertions.js';
import { checksumOf, compositeOf } from '../helpers/checksums.js';
import { rawRequest } from '../helpers/raw.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { s3Client } from '../helpers/s3.js';
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.js';
import { login, md5, ok, panCall, panConfig, poll, postSliceV2, s3Md5, SLICE, slicesOf } from '../pan/helpers.js';
import { assertExactCopy, freshDatabase, PASSWORD, skipWithoutPostgres, withDatabase } from './migrate-helpers.js';
import { runCli } from './run.js';

const KiB = 1024;
const BUCKET = 'migrate-objects';
const PART = 64 * KiB;
const CORS_RULES: CORSRule[] = [{ ID: 'pages', AllowedOrigins: ['https://app.example'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'] }];
/** Parts of 64 KiB allowed, so the multipart uploads stay small. */
const CONFIG = panConfig({ minPartSize: PART });

async function bodyOf(s3: S3Client, key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

/** A 123pan single/create: the new file's id. */
async function panPut(base: string, token: string, name: string, data: Buffer): Promise<number> {
  const form = new FormData();
  for (const [field, value] of Object.entries({ parentFileID: '0', filename: name, etag: md5(data), size: String(data.length) })) form.set(field, value);
  form.set('file', new Blob([data]), name);
  const { body } = await panCall(base, 'POST', '/upload/v2/file/single/create', { token, body: form });
  assert.equal(body.code, 0, body.message);
  return body.data.fileID as number;
}

function credentialsFrom(stdout: string): { accessKeyId: string; secretAccessKey: string } {
  const accessKeyId = /access key: (\S+)/.exec(stdout)?.[1];
  const secretAccessKey = /secret key: (\S+)/.exec(stdout)?.[1];
  assert.ok(accessKeyId && secretAccessKey, `the node printed generated root credentials: ${stdout}`);
  return { accessKeyId, secretAccessKey };
}

describe('tessera migrate', { skip: skipWithoutPostgres() }, () => {
  let postgres: TestPostgres;
  before(async () => {
    postgres = await startPostgres();
  });
  after(async () => {
    await postgres?.cleanup();
  });

  it('copies a stopped node into an empty database: two cluster nodes then serve every object, upload and pan file as before', async () => {
    const cleanups: Array<() => Promise<unknown>> = [];
    try {
      // The single node, with root credentials it generates (and keeps in its data directory).
      const single = await startServer({ singleNode: true, noRootEnv: true, config: CONFIG });
      cleanups.unshift(() => single.cleanup());
      const root = credentialsFrom(single.stdout());
      const s3 = s3Client(single, root);
      cleanups.unshift(async () => s3.destroy());

      // S3: objects with metadata and checksums, a copy, a multipart object, an open upload with parts.
      const objects = new Map<string, Buffer>([
        ['small.txt', Buffer.from('hello, cluster')],
        ['empty', Buffer.alloc(0)],
        ['dir/with space/ünïcode.bin', randomBytes(300 * KiB)],
      ]);
      await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
      await s3.send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: CORS_RULES } }));
      await s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'small.txt', Body: objects.get('small.txt'), ContentType: 'text/plain', Metadata: { color: 'blue' }, Tagging: 'kept=yes&n=1' }),
      );
      await s3.send(new PutBucketTaggingCommand({ Bucket: BUCKET, Tagging: { TagSet: [{ Key: 'team', Value: 'ops' }] } }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'empty', Body: objects.get('empty') }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dir/with space/ünïcode.bin', Body: objects.get('dir/with space/ünïcode.bin'), ChecksumAlgorithm: 'SHA256' }));
      await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy-of-small', CopySource: `${BUCKET}/small.txt` }));
      objects.set('copy-of-small', objects.get('small.txt')!);

      const multiParts = [randomBytes(PART), randomBytes(PART), randomBytes(10 * KiB)];
      const multi = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'multi.bin', ChecksumAlgorithm: 'CRC32' }));
      const multiDone = [];
      for (const [i, body] of multiParts.entries()) {
        const out = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'multi.bin', UploadId: multi.UploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: 'CRC32' }));
        multiDone.push({ PartNumber: i + 1, ETag: out.ETag!, ChecksumCRC32: out.ChecksumCRC32 });
      }
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'multi.bin', UploadId: multi.UploadId, MultipartUpload: { Parts: multiDone } }));
      objects.set('multi.bin', Buffer.concat(multiParts));

      const openParts = [randomBytes(PART), randomBytes(PART), randomBytes(5 * KiB)];
      const open = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'open.bin', ChecksumAlgorithm: 'CRC32C' }));
      const openDone = [];
      for (const [i, body] of openParts.slice(0, 2).entries()) {
        const out = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'open.bin', UploadId: open.UploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: 'CRC32C' }));
        openDone.push({ PartNumber: i + 1, ETag: out.ETag!, ChecksumCRC32C: out.ChecksumCRC32C });
      }

      // A bucket with Object Lock: a locked version made noncurrent by an overwrite, then a delete marker.
      const LOCKED = 'locked';
      await s3.send(new CreateBucketCommand({ Bucket: LOCKED, ObjectLockEnabledForBucket: true }));
      const retainUntil = new Date(Math.floor(Date.now() / 1000) * 1000 + 24 * 3600 * 1000);
      const lockedVersion = await s3.send(
        new PutObjectCommand({ Bucket: LOCKED, Key: 'doc', Body: 'first', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: retainUntil, ObjectLockLegalHoldStatus: 'ON' }),
      );
      const newer = await s3.send(new PutObjectCommand({ Bucket: LOCKED, Key: 'doc', Body: 'second' }));
      const marker = await s3.send(new DeleteObjectCommand({ Bucket: LOCKED, Key: 'doc' }));

      const before = new Map<string, { etag?: string; sha256?: string; crc32?: string }>();
      for (const key of objects.keys()) {
        const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, ChecksumMode: 'ENABLED' }));
        before.set(key, { etag: head.ETag, sha256: head.ChecksumSHA256, crc32: head.ChecksumCRC32 });
      }
      assert.equal(before.get('dir/with space/ünïcode.bin')!.sha256, checksumOf('sha256', objects.get('dir/with space/ünïcode.bin')!));
      assert.equal(before.get('multi.bin')!.crc32, compositeOf('crc32', multiParts));

      // 123pan: a token, a kept file, a trashed file, and an upload session with one slice of three in.
      const token = await login(single.url);
      const kept = await panPut(single.url, token, 'kept.txt', Buffer.from('kept'));
      const trashed = await panPut(single.url, token, 'trashed.txt', Buffer.from('trashed'));
      await ok(single.url, 'POST', '/api/v1/file/trash', { token, json: { fileIDs: [trashed] } });
      const resume = randomBytes(3 * SLICE - 100);
      const session = await ok(single.url, 'POST', '/upload/v2/file/create', { token, json: { parentFileID: 0, filename: 'resume.bin', etag: md5(resume), size: resume.length } });
      const slices = slicesOf(resume, session.sliceSize);
      assert.equal(slices.length, 3);
      assert.equal((await postSliceV2(single.url, token, session.preuploadID, 1, slices[0]!)).body.code, 0);

      // A user and an access key made through the admin API: its sealed secret moves with the rest.
      assert.equal((await admin(single, 'POST', 'users', { id: 'runtime-user' }, { credentials: root })).status, 201);
      const runtimeKey = (await admin(single, 'POST', 'users/runtime-user/keys', undefined, { credentials: root })).json as Credentials;
      // Its policies: a managed one attached to it (read the bucket), an inline one (no deleting).
      const readBucket = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` }] };
      assert.equal((await admin(single, 'PUT', 'policies/read-bucket', readBucket, { credentials: root })).status, 200);
      assert.equal((await admin(single, 'PUT', 'users/runtime-user/attached-policies/read-bucket', undefined, { credentials: root })).status, 200);
      const noDelete = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:DeleteObject', Resource: '*' }] };
      assert.equal((await admin(single, 'PUT', 'users/runtime-user/policies/no-delete', noDelete, { credentials: root })).status, 200);

      assert.equal(await single.stop(), 0);
      const dataDir = single.dataDir;

      // The migration, into a fresh database; its output masks the password.
      const url = await freshDatabase(postgres);
      const run = await runCli(['migrate', '--from', dataDir, '--to', url]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.ok(!(run.stdout + run.stderr).includes(PASSWORD), 'the password is never printed');
      assert.match(run.stdout, /Copying the metadata of .* into postgres:\/\/tessera:\*\*\*@127\.0\.0\.1:\d+\/migrate_/);
      // Five S3 objects, and the two 123pan files (objects in the drive bucket).
      assert.match(run.stdout, /^objects: 7 rows$/m);
      assert.match(run.stdout, /^Count check:$/m);
      for (const table of ['buckets', 'bucket_configs', 'objects', 'object_versions', 'segments', 'uploads', 'parts', 'settings', 'users', 'access_keys', 'user_policies', 'policies', 'policy_attachments', 'tokens', 'upload_sessions', 'hash_states', 'trash']) {
        assert.match(run.stdout, new RegExp(`^  ${table} +([\\d,]+) +\\1  ok$`, 'm'), `${table} counted`);
      }
      assert.match(run.stdout, /^Start each node with: tessera serve --data .* --metadata 'postgres:\/\/tessera:\*\*\*@/m);
      // Row for row, column for column; the generated root credentials move from the file to the database.
      const rootFile = JSON.parse(await readFile(join(dataDir, 'root-credentials.json'), 'utf8')) as { accessKey: string; secretKey: string };
      await assertExactCopy(dataDir, url, [['root-credentials', JSON.stringify({ accessKey: rootFile.accessKey, secretKey: rootFile.secretKey })]]);

      // A single node is not started on the directory again by mistake (it would sweep the cluster's new blobs).
      await assert.rejects(
        startServer({ singleNode: true, noRootEnv: true, config: CONFIG, dataDir }),
        /Error: cannot start on .*: the metadata of .* was moved to PostgreSQL by `tessera migrate` \(meta\.db is now meta\.db\.migrated\): start with --metadata/,
      );

      // Two nodes on the database and the same directory.
      const nodeA = await startServer({ singleNode: true, noRootEnv: true, config: CONFIG, metadata: url, dataDir });
      cleanups.unshift(() => nodeA.cleanup());
      const nodeB = await startServer({ singleNode: true, noRootEnv: true, config: CONFIG, metadata: url, dataDir });
      cleanups.unshift(() => nodeB.cleanup());
      for (const node of [nodeA, nodeB]) assert.doesNotMatch(node.stdout(), /Generated root credentials/, 'the node root credentials carried over');
      const s3a = s3Client(nodeA, root);
      const s3b = s3Client(nodeB, root);
      cleanups.unshift(async () => (s3a.destroy(), s3b.destroy()));

      for (const [key, data] of objects) {
        for (const client of [s3a, s3b]) assert.ok((await bodyOf(client, key)).equals(data), `${key} reads back byte for byte`);
        const head = await s3b.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, ChecksumMode: 'ENABLED' }));
        assert.deepEqual({ etag: head.ETag, sha256: head.ChecksumSHA256, crc32: head.ChecksumCRC32 }, before.get(key), `${key} keeps its ETag and checksums`);
      }
      // Versions, delete markers and Object Lock came along: the locked version is still locked.
      const versions = await s3b.send(new ListObjectVersionsCommand({ Bucket: LOCKED }));
      assert.deepEqual(versions.Versions?.map((v) => v.VersionId), [newer.VersionId, lockedVersion.VersionId]);
      assert.deepEqual(versions.DeleteMarkers?.map((m) => [m.VersionId, m.IsLatest]), [[marker.VersionId, true]]);
      const locked = await s3a.send(new HeadObjectCommand({ Bucket: LOCKED, Key: 'doc', VersionId: lockedVersion.VersionId }));
      assert.deepEqual([locked.ObjectLockMode, locked.ObjectLockRetainUntilDate?.getTime(), locked.ObjectLockLegalHoldStatus], ['COMPLIANCE', retainUntil.getTime(), 'ON']);
      await expectError(s3a.send(new DeleteObjectCommand({ Bucket: LOCKED, Key: 'doc', VersionId: lockedVersion.VersionId })), 403, 'AccessDenied');
      // The runtime user's key signs on the cluster (the nodes open its secret with the directory's master.key).
      const runtimeS3 = s3Client(nodeB, runtimeKey, { maxAttempts: 1 });
      cleanups.unshift(async () => runtimeS3.destroy());
      // Its policies came along and confine it on the cluster: it reads the bucket, and may do nothing else.
      assert.equal(await (await runtimeS3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'small.txt' }))).Body!.transformToString(), objects.get('small.txt')!.toString());
      await expectError(runtimeS3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'small.txt' })), 403, 'AccessDenied');
      await expectError(runtimeS3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'runtime.txt', Body: 'x' })), 403, 'AccessDenied');
      assert.deepEqual((await admin(nodeB, 'GET', 'policies', undefined, { credentials: root })).json.policies.map((p: { name: string; users: string[] }) => [p.name, p.users]), [['read-bucket', ['runtime-user']]]);
      assert.deepEqual((await admin(nodeA, 'GET', 'users/runtime-user/keys', undefined, { credentials: root })).json.keys.map((key: Credentials) => key.accessKeyId), [runtimeKey.accessKeyId]);
      // Object and bucket tags came along.
      assert.deepEqual((await s3b.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: 'small.txt' }))).TagSet, [
        { Key: 'kept', Value: 'yes' },
        { Key: 'n', Value: '1' },
      ]);
      assert.deepEqual((await s3b.send(new GetBucketTaggingCommand({ Bucket: BUCKET }))).TagSet, [{ Key: 'team', Value: 'ops' }]);
      // The bucket's CORS rules came along, and a node answers a preflight by them.
      assert.deepEqual((await s3b.send(new GetBucketCorsCommand({ Bucket: BUCKET }))).CORSRules, CORS_RULES);
      const preflight = await rawRequest(nodeA.url, {
        method: 'OPTIONS',
        path: `/${BUCKET}/small.txt`,
        headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' },
      });
      assert.equal(preflight.status, 200, preflight.body);
      assert.equal(preflight.headers['access-control-expose-headers'], 'ETag');
      const small = await s3a.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'small.txt' }));
      assert.equal(small.ContentType, 'text/plain');
      assert.deepEqual(small.Metadata, { color: 'blue' });

      // The open upload lists its parts, takes the last one on another node, and completes.
      const listed = await s3a.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'open.bin', UploadId: open.UploadId }));
      assert.deepEqual(
        listed.Parts?.map((part) => ({ PartNumber: part.PartNumber, ETag: part.ETag, ChecksumCRC32C: part.ChecksumCRC32C, Size: part.Size })),
        openDone.map((part, i) => ({ ...part, Size: openParts[i]!.length })),
      );
      const last = await s3b.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'open.bin', UploadId: open.UploadId, PartNumber: 3, Body: openParts[2], ChecksumAlgorithm: 'CRC32C' }));
      openDone.push({ PartNumber: 3, ETag: last.ETag!, ChecksumCRC32C: last.ChecksumCRC32C });
      await s3a.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'open.bin', UploadId: open.UploadId, MultipartUpload: { Parts: openDone } }));
      assert.ok((await bodyOf(s3b, 'open.bin')).equals(Buffer.concat(openParts)));

      // 123pan: the old token still works, ids are kept, the trashed file is still trashed, the session continues.
      const detail = (node: TestServer, fileID: number) => ok(node.url, 'GET', '/api/v1/file/detail', { token, query: { fileID } });
      assert.deepEqual(
        [(await detail(nodeA, kept)).filename, (await detail(nodeA, kept)).trashed, (await detail(nodeB, trashed)).filename, (await detail(nodeB, trashed)).trashed],
        ['kept.txt', 0, 'trashed.txt', 1],
      );
      for (const [i, slice] of slices.slice(1).entries()) {
        assert.equal((await postSliceV2(nodeA.url, token, session.preuploadID, i + 2, slice)).body.code, 0);
      }
      const done = await poll(async () => {
        const { body } = await panCall(nodeB.url, 'POST', '/upload/v2/file/upload_complete', { token, json: { preuploadID: session.preuploadID } });
        return body.code === 0 && body.data.completed ? (body.data as { fileID: number }) : undefined;
      });
      assert.equal(await s3Md5(nodeA, 'resume.bin'), md5(resume));
      assert.ok(done.fileID > Math.max(kept, trashed), 'new file ids continue after the old ones');
      const another = await panPut(nodeB.url, token, 'after.txt', Buffer.from('after'));
      assert.ok(another > done.fileID);
    } finally {
      for (const cleanup of cleanups) await cleanup();
    }
  });

  it('refuses a data directory a server is running on, and a database that is not empty, touching neither', async () => {
    const running = await startServer({ singleNode: true });
    try {
      const url = await freshDatabase(postgres);
      const busy = await runCli(['migrate', '--from', running.dataDir, '--to', url]);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /^Error: .*meta\.db is in use: a Tessera server seems to be running on .*; stop it first$/m);
      assert.equal(await withDatabase(url, async (client) => (await client.query("SELECT to_regclass('settings') AS t")).rows[0].t), null, 'the target is untouched');
      assert.equal(await running.stop(), 0);

      // A database another node already uses.
      const used = await freshDatabase(postgres);
      const meta = await PostgresMetadata.open(used);
      try {
        await meta.insertBucket('someone-elses', 'bob', new Date());
      } finally {
        await meta.close();
      }
      const refused = await runCli(['migrate', '--from', running.dataDir, '--to', used]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^Error: this database is not empty \(1 rows in buckets\): tessera migrate copies into an empty database only$/m);
      assert.ok(!(refused.stdout + refused.stderr).includes(PASSWORD));
      await withDatabase(used, async (client) => {
        assert.deepEqual((await client.query('SELECT name FROM buckets')).rows, [{ name: 'someone-elses' }]);
        assert.equal((await client.query("SELECT count(*)::int AS n FROM settings WHERE name = 'migration'")).rows[0].n, 0);
      });

      // A node running on the target (it holds a live lease) is refused too, even on an empty database.
      const live = await freshDatabase(postgres);
      const node = await startServer({ singleNode: true, metadata: live });
      try {
        const racing = await runCli(['migrate', '--from', running.dataDir, '--to', live]);
        assert.equal(racing.code, 1);
        assert.match(racing.stderr, /a Tessera node seems to be running on this database \(it holds the lease "node:[^"]+" until .*\); stop every node first/);
      } finally {
        await node.cleanup();
      }
    } finally {
      await running.cleanup();
    }
  });

  it('refuses URLs that are not PostgreSQL (exit 2) and an unreachable database (exit 1), never printing the password', async () => {
    for (const [to, message] of [
      ['mysql://root:secret@db/x', /^Error: --to: the scheme "mysql" is not PostgreSQL's; expected postgres:\/\/USER:PASS@HOST:PORT\/DB \(or postgresql:\/\/\)$/m],
      ['not a url', /^Error: --to: not a URL; expected postgres:\/\//m],
      ['postgres:db', /^Error: --to: not a URL; expected postgres:\/\//m],
    ] as const) {
      const run = await runCli(['migrate', '--from', '/nonexistent', '--to', to]);
      assert.equal(run.code, 2, `${to}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.ok(!run.stderr.includes('secret'));
    }
    const missing = await runCli(['migrate', '--from', '/nonexistent']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--to <url>' not specified/);
    const badBatch = await runCli(['migrate', '--from', '/nonexistent', '--to', 'postgres://db/x', '--batch-size', '0']);
    assert.equal(badBatch.code, 2);
    assert.match(badBatch.stderr, /--batch-size <rows>' argument '0' is invalid/);

    const help = await runCli(['migrate', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: tessera migrate \[options\]/);
    assert.match(help.stdout, /--from <dir>/);
    assert.match(help.stdout, /4\. on each node: tessera serve --data DATA_DIR --metadata postgres:\/\/USER:PASS@HOST:PORT\/DB/);
    const clusterDoc = await readFile(join(REPO_ROOT, 'docs', 'cluster.md'), 'utf8');
    assert.ok(clusterDoc.includes(`$ tessera migrate --help\n${help.stdout.trimEnd()}\n\`\`\``), 'docs/cluster.md shows the help as it is');

    // A real data directory, a database that does not answer.
    const node = await startServer({ singleNode: true });
    try {
      assert.equal(await node.stop(), 0);
      const unreachable = `postgres://tessera:${PASSWORD}@127.0.0.1:1/nowhere`;
      const run = await runCli(['migrate', '--from', node.dataDir, '--to', unreachable]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^Error: cannot open the metadata database postgres:\/\/tessera:\*\*\*@127\.0\.0\.1:1\/nowhere: .*ECONNREFUSED/m);
      assert.ok(!(run.stdout + run.stderr).includes(PASSWORD));
      const noDir = await runCli(['migrate', '--from', join(node.dataDir, 'nope'), '--to', unreachable]);
      assert.equal(noDir.code, 1);
      assert.match(noDir.stderr, /^Error: cannot read the data directory .*nope: ENOENT/m);
      const notData = await runCli(['migrate', '--from', join(node.dataDir, 'blobs'), '--to', unreachable]);
      assert.equal(notData.code, 1);
      assert.match(notData.stderr, /^Error: .*blobs has no meta\.db: not the data directory of a single-node Tessera$/m);
    } finally {
      await node.cleanup();
    }
  });
});
