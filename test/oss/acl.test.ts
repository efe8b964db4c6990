import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetBucketAclCommand, GetObjectAclCommand } from '@aws-sdk/client-s3';
import { assertS3Error } from '../helpers/assertions.js';
import { onEachBackend } from '../helpers/backends.js';
import { rawRequest } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';
import { assertOssError, expectOssError, ossClient, ossRequest, xmlValue } from './helpers.js';

// OSS ACLs with ali-oss: a bucket's level (private, public-read, public-read-write) is what its
// objects follow (`default`), for anonymous requests in either dialect, unless an object has a
// level of its own (x-oss-object-acl on its write, or PutObjectACL).

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
      const objectGrants = async () =>
        ((await s3Client(server).send(new GetObjectAclCommand({ Bucket: bucket, Key: 'photo.jpg' }))).Grants ?? []).map((g) => [g.Grantee?.Type, g.Permission]);
      assert.deepEqual(await objectGrants(), [['CanonicalUser', 'FULL_CONTROL'], ['Group', 'READ']]);
      // An object made private on its own is not its public bucket's to give; `default` follows the bucket again.
      await client.putACL('photo.jpg', 'private');
      assert.equal((await client.getACL('photo.jpg')).acl, 'private');
      assertS3Error(await rawRequest(server.url, { path: `/${bucket}/photo.jpg` }), 403, 'AccessDenied');
      assert.deepEqual(await objectGrants(), [['CanonicalUser', 'FULL_CONTROL']]);
      await client.putACL('photo.jpg', 'default');
      assert.equal((await client.getACL('photo.jpg')).acl, 'default');
      assert.equal((await rawRequest(server.url, { path: `/${bucket}/photo.jpg` })).status, 200);
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

    it('an object of its own public-read is anyone\'s to read in a private bucket; PutObjectACL default takes that back', async () => {
      const client = ossClient(server, 'v4', bucket);
      const anonymousGet = (key: string) => ossRequest(server, { bucket, key, signature: 'none', headers: { 'x-oss-date': new Date().toUTCString() } });
      await client.put('public.txt', Buffer.from('for everyone'), { headers: { 'x-oss-object-acl': 'public-read' } });
      assert.equal((await client.getACL('public.txt')).acl, 'public-read');
      assert.equal((await anonymousGet('public.txt')).body, 'for everyone');
      assert.equal((await rawRequest(server.url, { path: `/${bucket}/public.txt` })).status, 200);
      assertOssError(await anonymousGet('photo.jpg'), 403, 'AccessDenied');
      assertOssError(await anonymousGet('missing.txt'), 403, 'AccessDenied');
      await client.putACL('public.txt', 'default');
      assert.equal((await client.getACL('public.txt')).acl, 'default');
      assertOssError(await anonymousGet('public.txt'), 403, 'AccessDenied');

      // A multipart upload's level is its object's; a copy's is the one its request names, never its source's.
      const init = await client.initMultipartUpload('multi.bin', { headers: { 'x-oss-object-acl': 'public-read' } });
      const data = Buffer.from('multipart bytes');
      const part = await client.uploadPart('multi.bin', init.uploadId, 1, data, 0, data.length);
      await client.completeMultipartUpload('multi.bin', init.uploadId, [{ number: 1, etag: part.etag }]);
      assert.equal((await client.getACL('multi.bin')).acl, 'public-read');
      assert.equal((await anonymousGet('multi.bin')).body, 'multipart bytes');
      await client.copy('copied.bin', 'multi.bin');
      assert.equal((await client.getACL('copied.bin')).acl, 'default');
      assertOssError(await anonymousGet('copied.bin'), 403, 'AccessDenied');
      await client.copy('copied-public.bin', 'photo.jpg', { headers: { 'x-oss-object-acl': 'public-read' } });
      assert.equal((await client.getACL('copied-public.bin')).acl, 'public-read');
      assert.equal((await anonymousGet('copied-public.bin')).body, 'jpeg bytes');
    });

    it('each version has its own level: PutObjectACL and GetObjectACL with a versionId', async () => {
      const client = ossClient(server, 'v4', bucket);
      await client.putBucketVersioning(bucket, 'Enabled');
      const v1 = (await client.put('versioned.txt', Buffer.from('one'), { headers: { 'x-oss-object-acl': 'public-read' } })).res.headers['x-oss-version-id'] as string;
      const v2 = (await client.put('versioned.txt', Buffer.from('two'))).res.headers['x-oss-version-id'] as string;
      const anonymousGet = (query: Array<[string, string]> = []) =>
        ossRequest(server, { bucket, key: 'versioned.txt', query, signature: 'none', headers: { 'x-oss-date': new Date().toUTCString() } });
      assertOssError(await anonymousGet(), 403, 'AccessDenied');
      assert.equal((await anonymousGet([['versionId', v1]])).body, 'one');
      assert.equal((await client.getACL('versioned.txt', { versionId: v1 })).acl, 'public-read');
      assert.equal((await client.getACL('versioned.txt', { versionId: v2 })).acl, 'default');
      await client.putACL('versioned.txt', 'public-read', { versionId: v2 });
      await client.putACL('versioned.txt', 'private', { versionId: v1 });
      assert.equal((await anonymousGet()).body, 'two');
      assertOssError(await anonymousGet([['versionId', v1]]), 403, 'AccessDenied');
      await client.putBucketVersioning(bucket, 'Suspended');
    });

    it('x-oss-object-acl takes default, private and public-read; public-read-write is NotImplemented, anything else InvalidArgument', async () => {
      const client = ossClient(server, 'v4', bucket);
      await expectOssError(client.putACL('photo.jpg', 'everyone'), 400, 'InvalidArgument');
      await expectOssError(client.put('wrong.txt', Buffer.from('x'), { headers: { 'x-oss-object-acl': 'everyone' } }), 400, 'InvalidArgument');
      await expectOssError(client.head('wrong.txt'), 404, 'NoSuchKey');
      // Anyone may write an object of its own public-read-write on OSS: Tessera decides no write by the object it replaces.
      await expectOssError(client.put('rw.txt', Buffer.from('x'), { headers: { 'x-oss-object-acl': 'public-read-write' } }), 501, 'NotImplemented');
      await expectOssError(client.head('rw.txt'), 404, 'NoSuchKey');
      await expectOssError(client.putACL('photo.jpg', 'public-read-write'), 501, 'NotImplemented');
      assert.equal((await client.getACL('photo.jpg')).acl, 'default');
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
      // Nor may its objects have a level of their own but private.
      await expectOssError(client.put('open.txt', Buffer.from('x'), { headers: { 'x-oss-object-acl': 'public-read' } }), 400, 'AccessControlListNotSupported');
      await client.put('closed.txt', Buffer.from('x'), { headers: { 'x-oss-object-acl': 'private' } });
      await expectOssError(client.putACL('closed.txt', 'public-read'), 400, 'AccessControlListNotSupported');
      assert.equal((await client.getACL('closed.txt')).acl, 'default');
    });
  });
});
