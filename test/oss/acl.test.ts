import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetBucketAclCommand, GetObjectAclCommand } from '@aws-sdk/client-s3';
import { assertS3Error } from '../helpers/assertions.js';
import { onEachBackend } from '../helpers/backends.js';
import { rawRequest } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';
import { assertOssError, expectOssError, ossClient, ossRequest, xmlValue } from './helpers.js';

// OSS bucket ACLs with ali-oss: a bucket's level (private, public-read, public-read-write) is what
// its objects follow, for anonymous requests in either dialect; objects keep no ACL of their own.

onEachBackend((backend, start) => {
  describe(`OSS bucket ACLs (${backend})`, () => {
    let server: TestServer;
    let cleanup: () => Promise<void>;
    const bucket = 'oss-acl';

    before(async () => {
      ({ server, cleanup } = await start());
    });
    after(async () => {
      await cleanup?.();
    });

    it('a bucket made with x-oss-acl public-read can be read by anyone, in both dialects, and not written', async () => {
      const client = ossClient(server, 'v4', bucket);
      await client.putBucket(bucket, { acl: 'public-read' });
      assert.equal((await client.getBucketACL(bucket)).acl, 'public-read');
      await client.put('photo.jpg', Buffer.from('jpeg bytes'));
      // An unsigned GET: S3's dialect answers it; an unsigned OSS request (an x-oss-* header) too.
      const plain = await rawRequest(server.url, { path: `/${bucket}/photo.jpg` });
      assert.equal(plain.status, 200);
      assert.equal(plain.body, 'jpeg bytes');
      const viaOss = await ossRequest(server, { bucket, key: 'photo.jpg', signature: 'none', headers: { 'x-oss-date': new Date().toUTCString() } });
      assert.equal(viaOss.status, 200);
      assert.equal(viaOss.body, 'jpeg bytes');
      const write = await ossRequest(server, { method: 'PUT', bucket, key: 'graffiti.txt', body: 'x', signature: 'none', headers: { 'x-oss-date': new Date().toUTCString() } });
      assertOssError(write, 403, 'AccessDenied');
      assert.equal((await client.getACL('photo.jpg')).acl, 'default');
      // The object is as public as its bucket: it cannot be made private on its own, and S3 says what it is.
      await client.putACL('photo.jpg', 'public-read');
      await expectOssError(client.putACL('photo.jpg', 'private'), 501, 'NotImplemented');
      const objectGrants = (await s3Client(server).send(new GetObjectAclCommand({ Bucket: bucket, Key: 'photo.jpg' }))).Grants ?? [];
      assert.deepEqual(objectGrants.map((g) => [g.Grantee?.Type, g.Permission]), [['CanonicalUser', 'FULL_CONTROL'], ['Group', 'READ']]);
      // S3 reads the same ACL as a grant to AllUsers.
      const s3 = s3Client(server);
      const grants = (await s3.send(new GetBucketAclCommand({ Bucket: bucket }))).Grants ?? [];
      assert.deepEqual(grants.map((g) => [g.Grantee?.Type, g.Grantee?.URI, g.Permission]), [
        ['CanonicalUser', undefined, 'FULL_CONTROL'],
        ['Group', 'http://acs.amazonaws.com/groups/global/AllUsers', 'READ'],
      ]);
      s3.destroy();
    });

    it('public-read-write lets anyone write; private takes it all back; GetBucketInfo says which', async () => {
      const client = ossClient(server, 'v1', bucket);
      await client.putBucketACL(bucket, 'public-read-write');
      const put = await ossRequest(server, { method: 'PUT', bucket, key: 'dropbox.txt', body: 'dropped', signature: 'none', headers: { 'x-oss-date': new Date().toUTCString() } });
      assert.equal(put.status, 200);
      assert.equal((await client.get('dropbox.txt')).content.toString(), 'dropped');
      assert.equal(xmlValue((await ossRequest(server, { bucket, query: [['bucketInfo', '']] })).body, 'Grant'), 'public-read-write');
      await client.putBucketACL(bucket, 'private');
      assert.equal((await client.getBucketACL(bucket)).acl, 'private');
      assertS3Error(await rawRequest(server.url, { path: `/${bucket}/photo.jpg` }), 403, 'AccessDenied');
      assert.equal(xmlValue((await ossRequest(server, { bucket, query: [['bucketInfo', '']] })).body, 'Grant'), 'private');
    });

    it("objects follow the bucket: x-oss-object-acl default (or the bucket's own level) is taken, another refused", async () => {
      const client = ossClient(server, 'v4', bucket);
      await client.putACL('photo.jpg', 'default');
      await client.putACL('photo.jpg', 'private');
      await expectOssError(client.putACL('photo.jpg', 'public-read'), 501, 'NotImplemented');
      await expectOssError(client.put('public.txt', Buffer.from('x'), { headers: { 'x-oss-object-acl': 'public-read' } }), 501, 'NotImplemented');
      await expectOssError(client.putBucketACL(bucket, 'everyone'), 400, 'InvalidArgument');
      assertOssError(await ossRequest(server, { method: 'PUT', bucket: 'oss-acl-never', headers: { 'x-oss-acl': 'everyone' } }), 400, 'InvalidArgument');
      assertOssError(await ossRequest(server, { method: 'GET', bucket: 'oss-acl-never', query: [['bucketInfo', '']] }), 404, 'NoSuchBucket');
      await expectOssError(client.putACL('no-such-object', 'default'), 404, 'NoSuchKey');
    });

    it('a bucket made through S3 keeps ACLs off: OSS PutBucketAcl is refused there', async () => {
      const s3 = s3Client(server);
      await s3.send(new CreateBucketCommand({ Bucket: 'made-by-s3' }));
      s3.destroy();
      const client = ossClient(server, 'v4', 'made-by-s3');
      await expectOssError(client.putBucketACL('made-by-s3', 'public-read'), 400, 'AccessControlListNotSupported');
      assert.equal((await client.getBucketACL('made-by-s3')).acl, 'private');
    });
  });
});
