import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  AbortMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type GetObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { useS3Server } from '../helpers/s3.js';
import { expectError } from '../helpers/assertions.js';
import { BOTO3_AVAILABLE, runBoto3 } from '../helpers/boto3.js';
import { rawRequest, signedRequest, type RawResponse } from '../helpers/raw.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, type TestServer } from '../helpers/server.js';
import {
  canonicalRequest,
  canonicalUri,
  credentialScope,
  deriveSigningKey,
  formatAmzDate,
  sha256Hex,
  signature,
  stringToSign,
} from '../../src/dialects/s3/sigv4.js';

const MiB = 1024 * 1024;
const BUCKET = 'objects';

function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

async function bytesOf(response: GetObjectCommandOutput): Promise<Buffer> {
  return Buffer.from(await response.Body!.transformToByteArray());
}

/**
 * A root SigV4 request whose canonical request is hashed as the bytes that go on the wire (Node
 * writes each character of a header value as one byte, when the body is a Buffer: a string body
 * has Node write the headers with it as UTF-8): written out here, apart from the signer the
 * server shares, so the test says what a byte-exact client signs.
 */
function signedOverBytes(baseUrl: string, method: string, path: string, extra: Record<string, string>, body: Buffer): Promise<RawResponse> {
  const url = new URL(path, baseUrl);
  const datetime = formatAmzDate(new Date());
  const scope = credentialScope(datetime.slice(0, 8), 'us-east-1', 's3');
  const payloadHash = sha256Hex(body);
  const headers: Record<string, string> = { host: url.host, 'x-amz-date': datetime, 'x-amz-content-sha256': payloadHash, ...extra };
  const signedHeaders = Object.keys(headers).sort();
  const canonical = canonicalRequest({ method, path: canonicalUri(url.pathname), query: [], headers, signedHeaders, payloadHash });
  const hash = createHash('sha256').update(Buffer.from(canonical, 'latin1')).digest('hex');
  const key = deriveSigningKey(ROOT_SECRET_KEY, datetime.slice(0, 8), 'us-east-1', 's3');
  const authorization = `AWS4-HMAC-SHA256 Credential=${ROOT_ACCESS_KEY}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature(key, stringToSign(datetime, scope, hash))}`;
  return rawRequest(url.toString(), { method, headers: { ...headers, authorization, 'content-length': String(body.length) }, body, path: url.pathname });
}

function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

describe('S3 objects (AWS SDK)', () => {
  let s3: S3Client;
  let scratch: string;
  let server: TestServer;

  useS3Server({ bucket: BUCKET, scratch: 'tessera-objects-' }, (env) => {
    ({ s3, scratch, server } = env);
  });

  const get = async (key: string, extra: Partial<ConstructorParameters<typeof GetObjectCommand>[0]> = {}) => {
    const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, ...extra }));
    return { response, body: await bytesOf(response) };
  };

  /** A three-part object: two 5 MiB parts and a short last one. */
  const putMultipart = async (key: string, parts: Buffer[]): Promise<string> => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ContentType: 'application/x-parts' }));
    const etags: string[] = [];
    for (const [index, part] of parts.entries()) {
      const uploaded = await s3.send(
        new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: index + 1, Body: part }),
      );
      etags.push(uploaded.ETag!);
    }
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) },
      }),
    );
    return done.ETag!;
  };

  it('PutObject/GetObject round-trips text; the ETag is the quoted MD5', async () => {
    const text = 'Hello, Tessera!\nZweite Zeile: äöü — 日本語\n';
    const put = await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'hello.txt', Body: text, ContentType: 'text/plain; charset=utf-8' }),
    );
    assert.equal(put.ETag, `"${md5(text)}"`);
    const { response, body } = await get('hello.txt');
    assert.equal(body.toString('utf8'), text);
    assert.equal(response.ETag, `"${md5(text)}"`);
    assert.equal(response.ContentLength, Buffer.byteLength(text));
    assert.equal(response.ContentType, 'text/plain; charset=utf-8');
    assert.equal(response.AcceptRanges, 'bytes');
  });

  it('round-trips several MB of random binary, from a buffer and streamed from a file (aws-chunked + CRC32 trailer)', async () => {
    const data = randomBytes(6 * MiB + 4321);
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'random.bin', Body: data }));
    assert.equal(put.ETag, `"${md5(data)}"`);
    const { response, body } = await get('random.bin');
    assert.equal(body.length, data.length);
    assert.equal(md5(body), md5(data));
    assert.equal(response.ETag, `"${md5(data)}"`);

    const other = randomBytes(7 * MiB + 17);
    const path = join(scratch, 'upload.bin');
    await writeFile(path, other);
    const streamed = await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'streamed.bin', Body: createReadStream(path), ContentLength: other.length }),
    );
    assert.equal(streamed.ETag, `"${md5(other)}"`);
    const back = await get('streamed.bin');
    assert.equal(back.response.ContentLength, other.length);
    assert.equal(md5(back.body), md5(other));
  });

  it('non-ASCII x-amz-meta-* values: the signature covers the bytes sent, which are stored and returned byte for byte', async (t) => {
    // Signed over the bytes on the wire, as boto3 does: UTF-8 (with a 0xA0 byte inside `à`) and a lone Latin-1 byte.
    const values: Array<[string, Buffer]> = [
      ['utf8', Buffer.from('Été ☀ voilà 日本', 'utf8')],
      ['latin1', Buffer.from([0x63, 0x61, 0x66, 0xe9])],
    ];
    for (const [name, bytes] of values) {
      const key = `meta-bytes-${name}`;
      const put = await signedOverBytes(server.url, 'PUT', `/${BUCKET}/${key}`, { 'x-amz-meta-note': bytes.toString('latin1') }, Buffer.from('body'));
      assert.equal(put.status, 200, `${name}: ${put.body}`);
      for (const method of ['HEAD', 'GET']) {
        const res = await signedRequest(server.url, method, `/${BUCKET}/${key}`);
        assert.equal(res.status, 200, `${method} ${name}`);
        const returned = Buffer.from(String(res.headers['x-amz-meta-note']), 'latin1');
        assert.equal(returned.toString('hex'), bytes.toString('hex'), `${method} ${name}: the bytes sent`);
      }
    }

    // The 2 KB metadata limit counts those bytes once: 1,800 bytes of UTF-8 fit.
    const big = Buffer.from('é'.repeat(900), 'utf8');
    const fits = await signedOverBytes(server.url, 'PUT', `/${BUCKET}/meta-bytes-big`, { 'x-amz-meta-big': big.toString('latin1') }, Buffer.from('body'));
    assert.equal(fits.status, 200, fits.body);
    const tooBig = await signedOverBytes(server.url, 'PUT', `/${BUCKET}/meta-bytes-big`, { 'x-amz-meta-big': Buffer.from('é'.repeat(1100), 'utf8').toString('latin1') }, Buffer.from('body'));
    assert.equal(tooBig.status, 400, tooBig.body);
    assert.match(tooBig.body, /<Code>MetadataTooLarge<\/Code>/);

    if (!BOTO3_AVAILABLE) return t.skip('python3 with boto3 is not installed');
    // s3-tests' test_object_set_get_unicode_metadata: a before-call hook sets the header, so boto3 signs it.
    const script = `
current = {}
def add_header(params, **kwargs):
    params["headers"]["x-amz-meta-foo"] = current["value"]
s3.meta.events.register("before-call.s3.PutObject", add_header)
result = []
for value in args["values"]:
    current["value"] = value
    s3.put_object(Bucket=args["bucket"], Key="boto3-meta", Body=b"bar")
    head = s3.head_object(Bucket=args["bucket"], Key="boto3-meta")
    got = s3.get_object(Bucket=args["bucket"], Key="boto3-meta")
    result.append([head["Metadata"]["foo"].encode("latin-1").hex(), got["Metadata"]["foo"].encode("latin-1").hex()])
out(result)
`;
    const sent = ['Hello World\u00e9', 'voilà'];
    const viaBoto3 = await runBoto3(server, script, { bucket: BUCKET, values: sent });
    // boto3 sends (and signs) the UTF-8 bytes; HEAD and GET hand the same bytes back.
    assert.deepEqual(viaBoto3, sent.map((value) => [Buffer.from(value).toString('hex'), Buffer.from(value).toString('hex')]));
  });

  it('returns Content-Type, the standard headers and x-amz-meta-* on GET and HEAD', async () => {
    const expires = new Date('2031-01-02T03:04:05Z');
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'with-headers.json',
        Body: '{"a":1}',
        ContentType: 'application/json',
        ContentDisposition: 'attachment; filename="data.json"',
        ContentLanguage: 'de-DE',
        CacheControl: 'max-age=3600, private',
        ContentEncoding: 'identity',
        Expires: expires,
        Metadata: { color: 'blue', 'multi-word-name': 'Value With Spaces', empty: '' },
      }),
    );
    const { response, body } = await get('with-headers.json');
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'with-headers.json' }));
    assert.equal(body.toString(), '{"a":1}');
    for (const answer of [response, head]) {
      assert.equal(answer.ContentType, 'application/json');
      assert.equal(answer.ContentDisposition, 'attachment; filename="data.json"');
      assert.equal(answer.ContentLanguage, 'de-DE');
      assert.equal(answer.CacheControl, 'max-age=3600, private');
      assert.equal(answer.ContentEncoding, 'identity');
      assert.equal(answer.ExpiresString, expires.toUTCString());
      assert.equal(answer.ContentLength, 7);
      assert.equal(answer.ETag, `"${md5('{"a":1}')}"`);
      assert.ok(answer.LastModified instanceof Date && Math.abs(answer.LastModified.getTime() - Date.now()) < 60_000);
      assert.equal(answer.Metadata?.color, 'blue');
      assert.equal(answer.Metadata?.['multi-word-name'], 'Value With Spaces');
    }
    assert.equal(head.Metadata?.color, 'blue');
    // Overwriting replaces the metadata too.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'with-headers.json', Body: 'plain', ContentType: 'text/plain' }));
    const replaced = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'with-headers.json' }));
    assert.equal(replaced.ContentType, 'text/plain');
    assert.equal(replaced.Metadata?.color, undefined);
    assert.equal(replaced.ContentDisposition, undefined);
    assert.equal(replaced.ContentLength, 5);
  });

  it('GetObject Range: a-b, a-, -n, clipped ends, and 416 InvalidRange when unsatisfiable', async () => {
    const data = randomBytes(1000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ranged.bin', Body: data }));
    const cases: Array<[string, number, number]> = [
      ['bytes=0-99', 0, 99],
      ['bytes=100-199', 100, 199],
      ['bytes=900-', 900, 999],
      ['bytes=-50', 950, 999],
      ['bytes=990-5000', 990, 999],
      ['bytes=-5000', 0, 999],
      ['bytes=999-999', 999, 999],
    ];
    for (const [range, start, end] of cases) {
      const { response, body } = await get('ranged.bin', { Range: range });
      assert.equal(response.$metadata.httpStatusCode, 206, range);
      assert.equal(response.ContentRange, `bytes ${start}-${end}/1000`, range);
      assert.equal(response.ContentLength, end - start + 1, range);
      assert.ok(body.equals(data.subarray(start, end + 1)), range);
    }
    await expectError(get('ranged.bin', { Range: 'bytes=1000-' }), 416, 'InvalidRange');
    await expectError(get('ranged.bin', { Range: 'bytes=5000-6000' }), 416, 'InvalidRange');
    await expectError(get('ranged.bin', { Range: 'bytes=-0' }), 416, 'InvalidRange');
  });

  it('conditional GET/HEAD: If-Match, If-None-Match (304), If-Modified-Since (304), If-Unmodified-Since (412)', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'conditional.txt', Body: 'conditional body' }));
    const etag = put.ETag!;
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'conditional.txt' }));
    const lastModified = head.LastModified!;
    const dayBefore = new Date(lastModified.getTime() - 86_400_000);
    const dayAfter = new Date(lastModified.getTime() + 86_400_000);

    assert.equal((await get('conditional.txt', { IfMatch: etag })).body.toString(), 'conditional body');
    assert.equal((await get('conditional.txt', { IfMatch: etag.replace(/"/g, '') })).response.$metadata.httpStatusCode, 200);
    await expectError(get('conditional.txt', { IfMatch: '"00000000000000000000000000000000"' }), 412, 'PreconditionFailed');

    await expectError(get('conditional.txt', { IfNoneMatch: etag }), 304);
    await expectError(get('conditional.txt', { IfNoneMatch: '*' }), 304);
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'conditional.txt', IfNoneMatch: etag })), 304);
    assert.equal((await get('conditional.txt', { IfNoneMatch: '"0123"' })).body.toString(), 'conditional body');

    await expectError(get('conditional.txt', { IfModifiedSince: lastModified }), 304);
    assert.equal((await get('conditional.txt', { IfModifiedSince: dayBefore })).response.$metadata.httpStatusCode, 200);

    await expectError(get('conditional.txt', { IfUnmodifiedSince: dayBefore }), 412, 'PreconditionFailed');
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'conditional.txt', IfUnmodifiedSince: dayBefore })), 412);
    assert.equal((await get('conditional.txt', { IfUnmodifiedSince: dayAfter })).response.$metadata.httpStatusCode, 200);

    // If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since (RFC 7232 §6).
    assert.equal((await get('conditional.txt', { IfMatch: etag, IfUnmodifiedSince: dayBefore })).response.$metadata.httpStatusCode, 200);
    await expectError(get('conditional.txt', { IfNoneMatch: etag, IfModifiedSince: dayBefore }), 304);
  });

  it('HEAD and GET of a missing key: 404 (NoSuchKey on GET); a missing bucket: NoSuchBucket', async () => {
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'does/not/exist' })), 404);
    await expectError(get('does/not/exist'), 404, 'NoSuchKey');
    await expectError(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'x' })), 404, 'NoSuchBucket');
    await expectError(s3.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'x', Body: 'x' })), 404, 'NoSuchBucket');
  });

  it('DeleteObject removes the object and is idempotent', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'delete-me', Body: 'bye' }));
    const first = await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'delete-me' }));
    assert.equal(first.$metadata.httpStatusCode, 204);
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'delete-me' })), 404);
    const again = await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'delete-me' }));
    assert.equal(again.$metadata.httpStatusCode, 204);
    const never = await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'never-existed' }));
    assert.equal(never.$metadata.httpStatusCode, 204);
  });

  it('DeleteObjects deletes the listed keys, reports each (missing ones too), and says nothing in Quiet mode', async () => {
    const keys = ['multi/a', 'multi/b', 'multi/c', 'multi/d', 'multi/e'];
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    const loud = await s3.send(
      new DeleteObjectsCommand({
        Bucket: BUCKET,
        Delete: { Objects: [{ Key: 'multi/a' }, { Key: 'multi/c' }, { Key: 'multi/e' }, { Key: 'multi/missing' }] },
      }),
    );
    assert.deepEqual((loud.Deleted ?? []).map((d) => d.Key).sort(), ['multi/a', 'multi/c', 'multi/e', 'multi/missing']);
    assert.deepEqual(loud.Errors ?? [], []);
    const remaining = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'multi/' }));
    assert.deepEqual((remaining.Contents ?? []).map((o) => o.Key), ['multi/b', 'multi/d']);

    const quiet = await s3.send(
      new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Quiet: true, Objects: [{ Key: 'multi/b' }, { Key: 'multi/d' }] } }),
    );
    assert.deepEqual(quiet.Deleted ?? [], []);
    assert.deepEqual(quiet.Errors ?? [], []);
    const none = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'multi/' }));
    assert.equal(none.KeyCount, 0);
    assert.deepEqual(none.Contents ?? [], []);
  });

  it('keys are byte-exact in XML: leading/trailing spaces, tab, newline and CR survive DeleteObjects and every listing', async () => {
    const bucket = 'whitespace-keys';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    // `a` is a bystander: deleting `  a ` must not touch it.
    const awkward = ['  a ', ' ', 'a\tb', 'x\n', 'c\rd', '\tlead', 'trail\t'];
    const byteOrder = (keys: string[]) => [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    for (const key of [...awkward, 'a']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `body of ${JSON.stringify(key)}` }));

    const v2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual((v2.Contents ?? []).map((o) => o.Key), byteOrder([...awkward, 'a']));
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket }));
    assert.deepEqual((v1.Contents ?? []).map((o) => o.Key), byteOrder([...awkward, 'a']));
    const grouped = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: 'b' }));
    assert.deepEqual((grouped.CommonPrefixes ?? []).map((p) => p.Prefix), ['a\tb']);

    const uploads: Array<{ Key: string; UploadId: string }> = [];
    for (const key of ['  a ', 'x\n', 'c\rd']) {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      uploads.push({ Key: key, UploadId: UploadId! });
      await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: 'part' }));
      const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }));
      assert.equal(parts.Key, key);
    }
    const listedUploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.deepEqual((listedUploads.Uploads ?? []).map((u) => u.Key), byteOrder(uploads.map((u) => u.Key)));
    for (const upload of uploads) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, ...upload }));

    const deleted = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: awkward.map((Key) => ({ Key })) } }));
    assert.deepEqual(deleted.Errors ?? [], []);
    assert.deepEqual(byteOrder((deleted.Deleted ?? []).map((d) => d.Key!)), byteOrder(awkward));
    const left = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual((left.Contents ?? []).map((o) => o.Key), ['a']);
    assert.equal((await get('a', { Bucket: bucket })).body.toString(), 'body of "a"');
  });

  it('CopyObject with the COPY directive keeps the source metadata; REPLACE takes the request\'s', async () => {
    const body = randomBytes(64 * 1024);
    const source = await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'copy/source ü.bin',
        Body: body,
        ContentType: 'application/x-source',
        CacheControl: 'no-cache',
        Metadata: { origin: 'source', kept: 'yes' },
      }),
    );
    const copied = await s3.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy/kept', CopySource: copySource(BUCKET, 'copy/source ü.bin') }),
    );
    assert.equal(copied.CopyObjectResult?.ETag, source.ETag);
    assert.ok(copied.CopyObjectResult?.LastModified instanceof Date);
    const kept = await get('copy/kept');
    assert.ok(kept.body.equals(body));
    assert.equal(kept.response.ContentType, 'application/x-source');
    assert.equal(kept.response.CacheControl, 'no-cache');
    assert.deepEqual(kept.response.Metadata, { origin: 'source', kept: 'yes' });

    await s3.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: 'copy/replaced',
        CopySource: copySource(BUCKET, 'copy/source ü.bin'),
        MetadataDirective: 'REPLACE',
        ContentType: 'text/x-replaced',
        Metadata: { fresh: 'metadata' },
      }),
    );
    const replaced = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'copy/replaced' }));
    assert.equal(replaced.ContentType, 'text/x-replaced');
    assert.deepEqual(replaced.Metadata, { fresh: 'metadata' });
    assert.equal(replaced.CacheControl, undefined);
    assert.equal(replaced.ETag, source.ETag);

    // Across buckets too.
    await s3.send(new CreateBucketCommand({ Bucket: 'objects-copy-target' }));
    await s3.send(
      new CopyObjectCommand({ Bucket: 'objects-copy-target', Key: 'there', CopySource: copySource(BUCKET, 'copy/source ü.bin') }),
    );
    const there = await s3.send(new GetObjectCommand({ Bucket: 'objects-copy-target', Key: 'there' }));
    assert.equal(md5(await bytesOf(there)), md5(body));

    await expectError(
      s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy/x', CopySource: copySource(BUCKET, 'copy/missing') })),
      404,
      'NoSuchKey',
    );
  });

  it('copying an object onto itself needs REPLACE (else InvalidRequest), which then changes only its metadata', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'self', Body: 'self body', ContentType: 'text/plain', Metadata: { v: '1' } }),
    );
    await expectError(
      s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'self', CopySource: copySource(BUCKET, 'self') })),
      400,
      'InvalidRequest',
    );
    await expectError(
      s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'self', CopySource: copySource(BUCKET, 'self'), MetadataDirective: 'COPY' })),
      400,
      'InvalidRequest',
    );
    const unchanged = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'self' }));
    assert.deepEqual(unchanged.Metadata, { v: '1' });

    await s3.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: 'self',
        CopySource: copySource(BUCKET, 'self'),
        MetadataDirective: 'REPLACE',
        ContentType: 'text/markdown',
        Metadata: { v: '2' },
      }),
    );
    const { response, body } = await get('self');
    assert.equal(body.toString(), 'self body');
    assert.equal(response.ContentType, 'text/markdown');
    assert.deepEqual(response.Metadata, { v: '2' });
  });

  it('copies share bytes by reference: the copy survives deleting or overwriting the source, and copies of multipart objects read whole', async () => {
    const small = randomBytes(300 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'shared/src', Body: small }));
    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'shared/copy', CopySource: copySource(BUCKET, 'shared/src') }));
    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'shared/copy2', CopySource: copySource(BUCKET, 'shared/copy') }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'shared/src', Body: 'overwritten' }));
    assert.equal((await get('shared/src')).body.toString(), 'overwritten');
    assert.equal(md5((await get('shared/copy')).body), md5(small));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'shared/copy' }));
    assert.equal(md5((await get('shared/copy2')).body), md5(small));

    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1234)];
    const etag = await putMultipart('shared/multipart', parts);
    assert.match(etag, /^"[0-9a-f]{32}-3"$/);
    const whole = Buffer.concat(parts);
    const copied = await s3.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: 'shared/multipart-copy', CopySource: copySource(BUCKET, 'shared/multipart') }),
    );
    const headCopy = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'shared/multipart-copy' }));
    assert.equal(headCopy.ETag, copied.CopyObjectResult?.ETag);
    assert.equal(headCopy.ContentLength, whole.length);
    assert.equal(headCopy.ContentType, 'application/x-parts');
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'shared/multipart' }));
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'shared/multipart' })), 404);
    const afterDelete = await get('shared/multipart-copy');
    assert.equal(afterDelete.body.length, whole.length);
    assert.equal(md5(afterDelete.body), md5(whole));
    // A range across the first part boundary of the copy.
    const across = await get('shared/multipart-copy', { Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` });
    assert.ok(across.body.equals(whole.subarray(5 * MiB - 10, 5 * MiB + 10)));
  });

  it('keys with spaces, +, unicode, ../, //, % and other awkward characters are stored and read back exactly', async () => {
    const keys = [
      'with space.txt',
      'plus+sign',
      'both + and space',
      'ünïcödé/日本語/🎉.txt',
      '../x',
      '../../etc/passwd',
      'a//b',
      'a/./b',
      '/leading-slash',
      'trailing-slash/',
      '100%',
      '%2F',
      'percent%20encoded',
      'question?mark=1&and#hash',
      'xml <tag> & "quotes" \'apos\'',
      'semi;colon,comma:colon@at$dollar',
      'tilde~star*paren()',
      'back\\slash',
      'tab\there',
    ];
    for (const key of keys) {
      const put = await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: `keys/${key}`, Body: `body of ${key}` }));
      assert.equal(put.ETag, `"${md5(`body of ${key}`)}"`, key);
    }
    for (const key of keys) {
      const { body } = await get(`keys/${key}`);
      assert.equal(body.toString('utf8'), `body of ${key}`, key);
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `keys/${key}` }));
      assert.equal(head.ContentLength, Buffer.byteLength(`body of ${key}`), key);
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'keys/' }));
    assert.deepEqual(
      (listed.Contents ?? []).map((o) => o.Key),
      keys.map((k) => `keys/${k}`).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
    // Neighbours are distinct objects: `a//b` is not `a/b`, `../x` is not `x`.
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'keys/a/b' })), 404);
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'x' })), 404);
    for (const key of keys) await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `keys/${key}` }));
    const gone = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'keys/' }));
    assert.equal(gone.KeyCount, 0);
  });

  it('keys up to 1024 UTF-8 bytes are accepted; longer ones are KeyTooLongError', async () => {
    const longest = 'long/' + 'é'.repeat(509) + 'x'; // 5 + 1018 + 1 = 1024 bytes
    assert.equal(Buffer.byteLength(longest), 1024);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: longest, Body: 'long' }));
    assert.equal((await get(longest)).body.toString(), 'long');
    await expectError(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: longest + 'y', Body: 'too long' })), 400, 'KeyTooLongError');
    await expectError(s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: longest + 'y' })), 400, 'KeyTooLongError');
  });

  it('?partNumber=N returns that part with x-amz-mp-parts-count; on a single-part object partNumber=1 is the whole', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB + 3), randomBytes(777)];
    const etag = await putMultipart('parts/object', parts);
    const total = parts.reduce((sum, p) => sum + p.length, 0);
    let offset = 0;
    for (const [index, part] of parts.entries()) {
      const { response, body } = await get('parts/object', { PartNumber: index + 1 });
      assert.equal(response.$metadata.httpStatusCode, 206);
      assert.equal(response.PartsCount, 3);
      assert.equal(response.ContentLength, part.length);
      assert.equal(response.ContentRange, `bytes ${offset}-${offset + part.length - 1}/${total}`);
      assert.equal(response.ETag, etag);
      assert.equal(md5(body), md5(part), `part ${index + 1}`);
      offset += part.length;
    }
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'parts/object', PartNumber: 2 }));
    assert.equal(head.PartsCount, 3);
    assert.equal(head.ContentLength, parts[1]!.length);
    const full = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'parts/object' }));
    assert.equal(full.ContentLength, total);
    await expectError(get('parts/object', { PartNumber: 4 }), 416, 'InvalidPartNumber');

    const single = randomBytes(4096);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'parts/single', Body: single }));
    const one = await get('parts/single', { PartNumber: 1 });
    assert.ok(one.body.equals(single));
    assert.equal(one.response.ContentLength, single.length);
    await expectError(get('parts/single', { PartNumber: 2 }), 416, 'InvalidPartNumber');
  });
});
