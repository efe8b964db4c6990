/**
 * Authentication and payload integrity over raw HTTP: every way a request can be
 * unsigned, mis-signed, stale, tampered with or carry bytes that do not match what
 * it claims, and that none of those ever stores anything or answers 500.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { createAwsChunkedEncoder, type AwsChunkedEncoderOptions } from '../../src/dialects/s3/aws-chunked.js';
import { checksumHeaderName, createChecksum, type ChecksumAlgorithm } from '../../src/dialects/s3/checksums.js';
import {
  presignUrl,
  sha256Hex,
  signRequestWithContext,
  STREAMING_SIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD_TRAILER,
  STREAMING_UNSIGNED_PAYLOAD_TRAILER,
  UNSIGNED_PAYLOAD,
  type ChunkSigningContext,
  type Credentials,
} from '../../src/dialects/s3/sigv4.js';
import { rawRequest, signedRequest, verbatimUrl, type RawResponse } from '../helpers/raw.js';
import { assertOk, assertS3Error, requestIdOf } from '../helpers/assertions.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

const ROOT: Credentials = { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY };
const BUCKET = 'auth-bucket';
const MINUTE = 60_000;

interface SignOptions {
  headers?: Record<string, string>;
  payloadHash: string;
  credentials?: Credentials;
  now?: Date;
}

/**
 * SigV4 headers from our own signer for a path sent exactly as written (a URL
 * object would resolve `..` and re-encode; the signer only reads these fields).
 */
function sign(server: TestServer, method: string, pathAndQuery: string, options: SignOptions): { headers: Record<string, string>; signing: ChunkSigningContext } {
  const host = `127.0.0.1:${server.port}`;
  const url = verbatimUrl(host, pathAndQuery);
  const base = { host, ...options.headers };
  const signed = signRequestWithContext({
    method,
    url,
    headers: base,
    payloadHash: options.payloadHash,
    credentials: options.credentials ?? ROOT,
    region: 'us-east-1',
    now: options.now,
  });
  return { headers: { ...base, ...signed.headers }, signing: signed.signing };
}

interface SendOptions extends Partial<SignOptions> {
  body?: string | Buffer;
  /** Changes applied after signing (the request as sent differs from the one signed). */
  sendPath?: string;
  sendMethod?: string;
  alterHeaders?: (headers: Record<string, string>) => void;
}

async function send(server: TestServer, method: string, pathAndQuery: string, options: SendOptions = {}): Promise<RawResponse> {
  const body = options.body ?? '';
  const { headers } = sign(server, method, pathAndQuery, { ...options, payloadHash: options.payloadHash ?? sha256Hex(body) });
  headers['content-length'] = String(Buffer.byteLength(body));
  options.alterHeaders?.(headers);
  return rawRequest(server.url, { method: options.sendMethod ?? method, path: options.sendPath ?? pathAndQuery, headers, body });
}

async function getObject(server: TestServer, key: string): Promise<RawResponse> {
  return send(server, 'GET', `/${BUCKET}/${key}`);
}

async function assertNotStored(server: TestServer, key: string): Promise<void> {
  assertS3Error(await getObject(server, key), 404, 'NoSuchKey');
}

async function assertStored(server: TestServer, key: string, expected: Buffer | string): Promise<void> {
  const res = await rawBytes(server, 'GET', `/${BUCKET}/${key}`);
  assert.equal(res.status, 200, `GET ${key}: ${res.status}`);
  assert.ok(Buffer.from(expected).equals(res.bytes), `bytes of ${key} differ (${res.bytes.length} vs ${Buffer.byteLength(expected)})`);
}

/** A signed GET whose body is kept as bytes. */
async function rawBytes(server: TestServer, method: string, path: string): Promise<{ status: number; bytes: Buffer }> {
  const { headers } = sign(server, method, path, { payloadHash: sha256Hex('') });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function awsChunked(data: Buffer, options: AwsChunkedEncoderOptions): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of Readable.from([data]).pipe(createAwsChunkedEncoder(options))) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function pattern(size: number, seed: number): Buffer {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return data;
}

function checksumOf(algorithm: ChecksumAlgorithm, data: Buffer): string {
  const checksum = createChecksum(algorithm);
  checksum.update(data);
  return checksum.digestBase64();
}

/**
 * A streaming (aws-chunked) PUT: signs the request with `payloadHash`, encodes
 * `data` (chunk signatures seeded by the request signature when signed), lets
 * `alter` change the encoded body, and sends it with a matching Content-Length.
 */
async function streamingPut(
  server: TestServer,
  key: string,
  data: Buffer,
  options: {
    payloadHash: string;
    trailer?: ChecksumAlgorithm;
    chunkSize?: number;
    decodedLength?: number;
    alter?: (encoded: Buffer) => Buffer;
  },
): Promise<RawResponse> {
  const path = `/${BUCKET}/${key}`;
  const headers: Record<string, string> = {
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(options.decodedLength ?? data.length),
  };
  if (options.trailer) headers['x-amz-trailer'] = checksumHeaderName(options.trailer);
  const signed = sign(server, 'PUT', path, { headers, payloadHash: options.payloadHash });
  const chunkSigned = options.payloadHash.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
  let body = await awsChunked(data, {
    chunkSize: options.chunkSize ?? 64 * 1024,
    signing: chunkSigned ? signed.signing : undefined,
    trailerChecksum: options.trailer,
  });
  if (options.alter) body = options.alter(body);
  return rawRequest(server.url, { method: 'PUT', path, headers: { ...signed.headers, 'content-length': String(body.length) }, body });
}

/** Writes `head` and `body` on a bare socket, then half-closes; resolves with whatever came back. */
function socketExchange(port: number, head: string, body: Buffer = Buffer.alloc(0)): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(head, 'latin1');
    socket.end(body);
  });
}

function headOf(pathAndQuery: string, method: string, headers: Record<string, string>): string {
  const lines = [`${method} ${pathAndQuery} HTTP/1.1`, ...Object.entries(headers).map(([n, v]) => `${n}: ${v}`), 'connection: close'];
  return lines.join('\r\n') + '\r\n\r\n';
}

describe('S3 authentication and payload integrity (raw HTTP)', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer();
    assertOk(await send(server, 'PUT', `/${BUCKET}`));
    assertOk(await send(server, 'PUT', `/${BUCKET}/existing`, { body: 'existing object' }));
  });

  after(async () => {
    await server?.cleanup();
  });

  describe('credentials and signatures', () => {
    it('a request without credentials is 403 AccessDenied, on every kind of resource', async () => {
      assertS3Error(await rawRequest(server.url, { method: 'GET', path: '/' }), 403, 'AccessDenied');
      assertS3Error(await rawRequest(server.url, { method: 'GET', path: `/${BUCKET}` }), 403, 'AccessDenied');
      assertS3Error(await rawRequest(server.url, { method: 'GET', path: `/${BUCKET}/existing` }), 403, 'AccessDenied');
      const put = await rawRequest(server.url, { method: 'PUT', path: `/${BUCKET}/anonymous`, body: 'x', headers: { 'content-length': '1' } });
      assertS3Error(put, 403, 'AccessDenied');
      await assertNotStored(server, 'anonymous');
    });

    it('a HEAD error has the status and x-amz-request-id but no body', async () => {
      const anonymous = await rawRequest(server.url, { method: 'HEAD', path: `/${BUCKET}/existing` });
      assert.equal(anonymous.status, 403);
      requestIdOf(anonymous);
      assert.equal(anonymous.body, '');
      const missing = await send(server, 'HEAD', `/${BUCKET}/no-such-key`);
      assert.equal(missing.status, 404);
      requestIdOf(missing);
      assert.equal(missing.body, '');
      const noBucket = await send(server, 'HEAD', '/no-such-bucket-here');
      assert.equal(noBucket.status, 404);
      assert.equal(noBucket.body, '');
    });

    it('an unknown access key is 403 InvalidAccessKeyId', async () => {
      const res = await send(server, 'GET', `/${BUCKET}`, { credentials: { accessKeyId: 'no-such-key-id', secretAccessKey: ROOT_SECRET_KEY } });
      const doc = assertS3Error(res, 403, 'InvalidAccessKeyId');
      assert.equal(doc.AWSAccessKeyId, 'no-such-key-id');
    });

    it('the right key with a wrong secret is 403 SignatureDoesNotMatch', async () => {
      const res = await signedRequest(server.url, 'GET', `/${BUCKET}/existing`, {
        credentials: { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY + 'x' },
      });
      assertS3Error(res, 403, 'SignatureDoesNotMatch');
      // The same request, signed right, goes through (the failure above is the secret's).
      assertOk(await signedRequest(server.url, 'GET', `/${BUCKET}/existing`));
    });

    it('a request altered after signing (path, query, method, signed header, body hash) is SignatureDoesNotMatch and has no effect', async () => {
      assertOk(await send(server, 'PUT', `/${BUCKET}/victim`, { body: 'keep me' }));
      // Path: signed for one key, sent for another.
      assertS3Error(await send(server, 'GET', `/${BUCKET}/existing`, { sendPath: `/${BUCKET}/victim` }), 403, 'SignatureDoesNotMatch');
      // Query: a listing signed for one prefix, sent with another.
      assertS3Error(await send(server, 'GET', `/${BUCKET}?prefix=a`, { sendPath: `/${BUCKET}?prefix=v` }), 403, 'SignatureDoesNotMatch');
      // Query: a parameter added after signing.
      assertS3Error(await send(server, 'GET', `/${BUCKET}/victim`, { sendPath: `/${BUCKET}/victim?partNumber=1` }), 403, 'SignatureDoesNotMatch');
      // Method: a signed GET replayed as a DELETE must not delete.
      assertS3Error(await send(server, 'GET', `/${BUCKET}/victim`, { sendMethod: 'DELETE' }), 403, 'SignatureDoesNotMatch');
      await assertStored(server, 'victim', 'keep me');
      // A signed header changed: the overwrite is refused and the metadata is not applied.
      const altered = await send(server, 'PUT', `/${BUCKET}/victim`, {
        body: 'overwritten',
        headers: { 'x-amz-meta-color': 'red' },
        alterHeaders: (h) => {
          h['x-amz-meta-color'] = 'blue';
        },
      });
      assertS3Error(altered, 403, 'SignatureDoesNotMatch');
      // A signed content-type changed.
      const retyped = await send(server, 'PUT', `/${BUCKET}/victim`, {
        body: 'overwritten',
        headers: { 'content-type': 'text/plain' },
        alterHeaders: (h) => {
          h['content-type'] = 'text/html';
        },
      });
      assertS3Error(retyped, 403, 'SignatureDoesNotMatch');
      // The claimed payload hash changed after signing (it is the canonical request's last line).
      const rehashed = await send(server, 'PUT', `/${BUCKET}/victim`, {
        body: 'overwritten',
        alterHeaders: (h) => {
          h['x-amz-content-sha256'] = UNSIGNED_PAYLOAD;
        },
      });
      assertS3Error(rehashed, 403, 'SignatureDoesNotMatch');
      await assertStored(server, 'victim', 'keep me');
    });

    it('an x-amz-* header that is not signed is refused', async () => {
      const res = await send(server, 'PUT', `/${BUCKET}/unsigned-meta`, {
        body: 'x',
        alterHeaders: (h) => {
          h['x-amz-meta-sneaky'] = 'yes';
        },
      });
      assertS3Error(res, 403, ['AccessDenied', 'SignatureDoesNotMatch']);
      await assertNotStored(server, 'unsigned-meta');
    });
  });

  describe('request time', () => {
    for (const direction of [-1, 1]) {
      const label = direction < 0 ? 'behind' : 'ahead';
      it(`x-amz-date 16 minutes ${label} is 403 RequestTimeTooSkewed; 14 minutes ${label} is accepted`, async () => {
        const skewed = await signedRequest(server.url, 'PUT', `/${BUCKET}/skewed-${label}`, {
          body: 'late',
          now: new Date(Date.now() + direction * 16 * MINUTE),
        });
        const doc = assertS3Error(skewed, 403, 'RequestTimeTooSkewed');
        assert.ok(doc.ServerTime, 'ServerTime missing');
        await assertNotStored(server, `skewed-${label}`);

        const tolerated = await signedRequest(server.url, 'PUT', `/${BUCKET}/tolerated-${label}`, {
          body: 'on time',
          now: new Date(Date.now() + direction * 14 * MINUTE),
        });
        assertOk(tolerated);
        await assertStored(server, `tolerated-${label}`, 'on time');
      });
    }

    it('a missing or malformed x-amz-date is 403 AccessDenied', async () => {
      const none = await send(server, 'GET', `/${BUCKET}`, {
        alterHeaders: (h) => {
          delete h['x-amz-date'];
        },
      });
      assertS3Error(none, 403, 'AccessDenied');
      const garbled = await send(server, 'GET', `/${BUCKET}`, {
        alterHeaders: (h) => {
          h['x-amz-date'] = 'yesterday';
        },
      });
      assertS3Error(garbled, 403, 'AccessDenied');
    });
  });

  describe('presigned URLs', () => {
    const presign = (key: string, options: { method?: string; expiresSeconds: number; now?: Date }) =>
      new URL(
        presignUrl({
          method: options.method ?? 'GET',
          url: new URL(`${server.url}/${BUCKET}/${key}`),
          credentials: ROOT,
          region: 'us-east-1',
          expiresSeconds: options.expiresSeconds,
          now: options.now,
        }),
      );
    const fetchUrl = (url: URL, method = 'GET', body?: string) =>
      rawRequest(url.toString(), { method, body, headers: body === undefined ? undefined : { 'content-length': String(Buffer.byteLength(body)) } });

    it('a valid presigned GET and PUT work without any auth header', async () => {
      const get = await fetchUrl(presign('existing', { expiresSeconds: 300 }));
      assertOk(get);
      assert.equal(get.body, 'existing object');
      assertOk(await fetchUrl(presign('presigned-put', { method: 'PUT', expiresSeconds: 300 }), 'PUT', 'via presigned url'));
      await assertStored(server, 'presigned-put', 'via presigned url');
    });

    it('an expired presigned URL is 403 AccessDenied', async () => {
      const url = presign('existing', { expiresSeconds: 60, now: new Date(Date.now() - 10 * MINUTE) });
      const doc = assertS3Error(await fetchUrl(url), 403, 'AccessDenied');
      assert.match(doc.Message!, /expired/i);
      const put = presign('expired-put', { method: 'PUT', expiresSeconds: 60, now: new Date(Date.now() - 10 * MINUTE) });
      assertS3Error(await fetchUrl(put, 'PUT', 'too late'), 403, 'AccessDenied');
      await assertNotStored(server, 'expired-put');
    });

    it('a presigned URL dated in the future beyond the allowed skew is refused', async () => {
      const url = presign('existing', { expiresSeconds: 3600, now: new Date(Date.now() + 30 * MINUTE) });
      assertS3Error(await fetchUrl(url), 403, 'AccessDenied');
    });

    it('X-Amz-Expires over 7 days is a 400 error; exactly 7 days is accepted', async () => {
      const week = 7 * 24 * 3600;
      assertOk(await fetchUrl(presign('existing', { expiresSeconds: week })));
      const url = presign('existing', { expiresSeconds: week });
      url.searchParams.set('X-Amz-Expires', String(week + 1));
      assertS3Error(await fetchUrl(url), 400, 'AuthorizationQueryParametersError');
      const negative = presign('existing', { expiresSeconds: 60 });
      negative.searchParams.set('X-Amz-Expires', '-5');
      assertS3Error(await fetchUrl(negative), 400, 'AuthorizationQueryParametersError');
    });

    it('a presigned URL pointed at another key, or with a forged signature, is SignatureDoesNotMatch', async () => {
      const url = presign('existing', { expiresSeconds: 300 });
      url.pathname = `/${BUCKET}/victim`;
      assertS3Error(await fetchUrl(url), 403, 'SignatureDoesNotMatch');
      const forged = presign('existing', { expiresSeconds: 300 });
      forged.searchParams.set('X-Amz-Signature', '0'.repeat(64));
      assertS3Error(await fetchUrl(forged), 403, 'SignatureDoesNotMatch');
      // A GET URL used for a PUT.
      const asPut = presign('existing', { expiresSeconds: 300 });
      assertS3Error(await fetchUrl(asPut, 'PUT', 'replaced'), 403, 'SignatureDoesNotMatch');
      await assertStored(server, 'existing', 'existing object');
    });

    it('a presigned URL with missing parameters is 400 AuthorizationQueryParametersError', async () => {
      const url = presign('existing', { expiresSeconds: 300 });
      url.searchParams.delete('X-Amz-Date');
      assertS3Error(await fetchUrl(url), 400, 'AuthorizationQueryParametersError');
    });
  });

  describe('malformed authorization', () => {
    const cases: Array<[string, string, string[]]> = [
      ['a scheme nobody speaks', 'Bearer abc.def.ghi', ['InvalidArgument', 'InvalidRequest', 'AuthorizationHeaderMalformed']],
      ['Signature Version 2', `AWS ${ROOT_ACCESS_KEY}:c2lnbmF0dXJl`, ['InvalidRequest', 'InvalidArgument']],
      ['an empty header', '', ['InvalidArgument', 'AuthorizationHeaderMalformed']],
      ['SigV4 without its components', 'AWS4-HMAC-SHA256', ['AuthorizationHeaderMalformed']],
      ['SigV4 with only a credential', `AWS4-HMAC-SHA256 Credential=${ROOT_ACCESS_KEY}/20240101/us-east-1/s3/aws4_request`, ['AuthorizationHeaderMalformed']],
      [
        'a credential with a malformed scope',
        `AWS4-HMAC-SHA256 Credential=${ROOT_ACCESS_KEY}/2024/us-east-1, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
        ['AuthorizationHeaderMalformed'],
      ],
      [
        'a credential for another service',
        `AWS4-HMAC-SHA256 Credential=${ROOT_ACCESS_KEY}/20240101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
        ['AuthorizationHeaderMalformed'],
      ],
      ['an unknown component', `AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Bogus=1, Signature=x`, ['AuthorizationHeaderMalformed']],
      ['empty SignedHeaders', `AWS4-HMAC-SHA256 Credential=${ROOT_ACCESS_KEY}/20240101/us-east-1/s3/aws4_request, SignedHeaders=, Signature=00`, ['AuthorizationHeaderMalformed']],
    ];
    for (const [label, authorization, codes] of cases) {
      it(`${label} is a 400 (${codes.join('|')})`, async () => {
        const res = await send(server, 'PUT', `/${BUCKET}/malformed-auth`, {
          body: 'x',
          alterHeaders: (h) => {
            h.authorization = authorization;
          },
        });
        assertS3Error(res, 400, codes);
      });
    }

    it('both a header signature and a presigned query is a 400', async () => {
      const res = await send(server, 'GET', `/${BUCKET}/existing?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x`);
      assertS3Error(res, 400, ['InvalidArgument', 'InvalidRequest']);
    });

    it('nothing was stored by any malformed-authorization request', async () => {
      await assertNotStored(server, 'malformed-auth');
    });
  });

  describe('payload hash, Content-MD5 and checksum headers', () => {
    it('a missing x-amz-content-sha256 is a 400 and stores nothing', async () => {
      const res = await send(server, 'PUT', `/${BUCKET}/no-sha`, {
        body: 'x',
        alterHeaders: (h) => {
          delete h['x-amz-content-sha256'];
        },
      });
      assertS3Error(res, 400, ['InvalidRequest', 'InvalidArgument']);
      await assertNotStored(server, 'no-sha');
    });

    it('an x-amz-content-sha256 that is neither a digest nor a known marker is a 400', async () => {
      assertS3Error(await send(server, 'PUT', `/${BUCKET}/bad-sha`, { body: 'x', payloadHash: 'not-a-hash' }), 400, 'InvalidArgument');
      await assertNotStored(server, 'bad-sha');
    });

    it('a signed SHA-256 that does not match the body is XAmzContentSHA256Mismatch and stores nothing', async () => {
      const res = await send(server, 'PUT', `/${BUCKET}/sha-mismatch`, { body: 'the real body', payloadHash: sha256Hex('another body') });
      assertS3Error(res, 400, 'XAmzContentSHA256Mismatch');
      await assertNotStored(server, 'sha-mismatch');
      // Nor does it replace an existing object.
      const over = await send(server, 'PUT', `/${BUCKET}/existing`, { body: 'replacement', payloadHash: sha256Hex('different') });
      assertS3Error(over, 400, 'XAmzContentSHA256Mismatch');
      await assertStored(server, 'existing', 'existing object');
    });

    it('XML bodies are held to their signed SHA-256 and Content-MD5 too: a tampered Complete or DeleteObjects acts on nothing', async () => {
      const key = 'signed-xml';
      const created = await send(server, 'POST', `/${BUCKET}/${key}?uploads`);
      assertOk(created);
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body)![1]!;
      const part = await send(server, 'PUT', `/${BUCKET}/${key}?partNumber=1&uploadId=${uploadId}`, { body: 'only part' });
      assertOk(part);
      const etag = String(part.headers.etag);
      const complete = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`;
      const signedFor = complete.replace('<PartNumber>1<', '<PartNumber>2<');
      const tampered = await send(server, 'POST', `/${BUCKET}/${key}?uploadId=${uploadId}`, { body: complete, payloadHash: sha256Hex(signedFor) });
      assertS3Error(tampered, 400, 'XAmzContentSHA256Mismatch');
      await assertNotStored(server, key);
      // The upload is untouched and completes with the body it was signed for.
      assertOk(await send(server, 'POST', `/${BUCKET}/${key}?uploadId=${uploadId}`, { body: complete }));
      await assertStored(server, key, 'only part');

      const remove = `<Delete><Object><Key>${key}</Key></Object></Delete>`;
      const otherKey = remove.replace(key, 'something-else');
      assertS3Error(await send(server, 'POST', `/${BUCKET}?delete`, { body: remove, payloadHash: sha256Hex(otherKey) }), 400, 'XAmzContentSHA256Mismatch');
      const wrongMd5 = createHash('md5').update(otherKey).digest('base64');
      assertS3Error(await send(server, 'POST', `/${BUCKET}?delete`, { body: remove, headers: { 'content-md5': wrongMd5 } }), 400, 'BadDigest');
      await assertStored(server, key, 'only part');
      assertOk(await send(server, 'POST', `/${BUCKET}?delete`, { body: remove }));
      await assertNotStored(server, key);
    });

    it('UNSIGNED-PAYLOAD is accepted with any body', async () => {
      assertOk(await send(server, 'PUT', `/${BUCKET}/unsigned-payload`, { body: 'free form', payloadHash: UNSIGNED_PAYLOAD }));
      await assertStored(server, 'unsigned-payload', 'free form');
    });

    it('a Content-MD5 that does not match is BadDigest and stores nothing; a right one is accepted', async () => {
      const body = 'md5 checked body';
      const wrong = createHash('md5').update('something else').digest('base64');
      assertS3Error(await send(server, 'PUT', `/${BUCKET}/md5`, { body, headers: { 'content-md5': wrong } }), 400, 'BadDigest');
      await assertNotStored(server, 'md5');
      const right = createHash('md5').update(body).digest('base64');
      const ok = await send(server, 'PUT', `/${BUCKET}/md5`, { body, headers: { 'content-md5': right } });
      assertOk(ok);
      assert.equal(ok.headers.etag, `"${createHash('md5').update(body).digest('hex')}"`);
      await assertStored(server, 'md5', body);
    });

    for (const [label, value] of [
      ['not base64', 'not-base64!!'],
      ['too short', Buffer.from('short').toString('base64')],
      ['hex instead of base64', createHash('md5').update('x').digest('hex')],
    ] as const) {
      it(`a Content-MD5 that is ${label} is InvalidDigest and stores nothing`, async () => {
        assertS3Error(await send(server, 'PUT', `/${BUCKET}/invalid-md5`, { body: 'x', headers: { 'content-md5': value } }), 400, 'InvalidDigest');
        await assertNotStored(server, 'invalid-md5');
      });
    }

    // 5000 bytes are hashed on the event loop; 3 MiB and a bit on the hash workers.
    for (const [algorithm, size] of [
      ['crc32', 5000],
      ['crc32c', 5000],
      ['crc64nvme', 5000],
      ['sha1', 5000],
      ['sha256', 5000],
      ['crc32', 3 * 1024 * 1024 + 12_345],
      ['crc64nvme', 3 * 1024 * 1024 + 12_345],
      ['sha256', 3 * 1024 * 1024 + 12_345],
    ] as const) {
      it(`an x-amz-checksum-${algorithm} header that is wrong is BadDigest and stores nothing; a right one is accepted (${size} bytes)`, async () => {
        const body = pattern(size, 3);
        const key = `header-checksum-${algorithm}-${size}`;
        const wrong = await send(server, 'PUT', `/${BUCKET}/${key}`, {
          body,
          headers: { [checksumHeaderName(algorithm)]: checksumOf(algorithm, pattern(size, 4)) },
        });
        assertS3Error(wrong, 400, 'BadDigest');
        await assertNotStored(server, key);
        assertOk(await send(server, 'PUT', `/${BUCKET}/${key}`, { body, headers: { [checksumHeaderName(algorithm)]: checksumOf(algorithm, body) } }));
        await assertStored(server, key, body);
      });
    }
  });

  describe('aws-chunked bodies', () => {
    const data = pattern(150_000, 1);

    it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD with valid chunk signatures stores the exact bytes', async () => {
      const res = await streamingPut(server, 'streamed', data, { payloadHash: STREAMING_SIGNED_PAYLOAD });
      assertOk(res);
      assert.equal(res.headers.etag, `"${createHash('md5').update(data).digest('hex')}"`);
      await assertStored(server, 'streamed', data);
    });

    it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with a signed checksum trailer stores the exact bytes', async () => {
      assertOk(await streamingPut(server, 'streamed-trailer', data, { payloadHash: STREAMING_SIGNED_PAYLOAD_TRAILER, trailer: 'crc32c' }));
      await assertStored(server, 'streamed-trailer', data);
    });

    it('one tampered data byte is SignatureDoesNotMatch and stores nothing', async () => {
      const res = await streamingPut(server, 'tampered', data, {
        payloadHash: STREAMING_SIGNED_PAYLOAD,
        alter: (encoded) => {
          const copy = Buffer.from(encoded);
          // A byte inside the second chunk's data: the first chunk's bytes may already be on disk.
          const at = encoded.indexOf('\r\n', 64 * 1024 + 100) + 2 + 500;
          copy[at] = copy[at]! ^ 0xff;
          return copy;
        },
      });
      assertS3Error(res, 403, 'SignatureDoesNotMatch');
      await assertNotStored(server, 'tampered');
    });

    it('a forged signature on the final (empty) chunk is SignatureDoesNotMatch and stores nothing', async () => {
      const res = await streamingPut(server, 'tampered-final', data, {
        payloadHash: STREAMING_SIGNED_PAYLOAD,
        alter: (encoded) => {
          const text = encoded.toString('latin1');
          const at = text.lastIndexOf('0;chunk-signature=') + '0;chunk-signature='.length;
          return Buffer.concat([encoded.subarray(0, at), Buffer.from('0'.repeat(64)), encoded.subarray(at + 64)]);
        },
      });
      assertS3Error(res, 403, 'SignatureDoesNotMatch');
      await assertNotStored(server, 'tampered-final');
    });

    it('chunk signatures from another request (replayed body) are SignatureDoesNotMatch', async () => {
      // Encode under one request's seed, send under another's.
      const path = `/${BUCKET}/replayed`;
      const headers = { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length) };
      const first = sign(server, 'PUT', path, { headers, payloadHash: STREAMING_SIGNED_PAYLOAD, now: new Date(Date.now() - 2000) });
      const second = sign(server, 'PUT', path, { headers, payloadHash: STREAMING_SIGNED_PAYLOAD });
      assert.notEqual(first.signing.seedSignature, second.signing.seedSignature);
      const body = await awsChunked(data, { signing: first.signing });
      const res = await rawRequest(server.url, { method: 'PUT', path, headers: { ...second.headers, 'content-length': String(body.length) }, body });
      assertS3Error(res, 403, 'SignatureDoesNotMatch');
      await assertNotStored(server, 'replayed');
    });

    for (const algorithm of ['crc32', 'crc32c', 'sha1', 'sha256'] as const) {
      it(`STREAMING-UNSIGNED-PAYLOAD-TRAILER with x-amz-checksum-${algorithm}: right value stores, wrong value is BadDigest`, async () => {
        const key = `trailer-${algorithm}`;
        assertOk(await streamingPut(server, key, data, { payloadHash: STREAMING_UNSIGNED_PAYLOAD_TRAILER, trailer: algorithm }));
        await assertStored(server, key, data);

        const wrongKey = `trailer-wrong-${algorithm}`;
        const right = checksumOf(algorithm, data);
        const wrong = checksumOf(algorithm, pattern(data.length, 9));
        assert.notEqual(right, wrong);
        const res = await streamingPut(server, wrongKey, data, {
          payloadHash: STREAMING_UNSIGNED_PAYLOAD_TRAILER,
          trailer: algorithm,
          alter: (encoded) => {
            const text = encoded.toString('latin1');
            const at = text.lastIndexOf(right);
            assert.ok(at > 0, 'trailer value not found in the encoded body');
            return Buffer.concat([encoded.subarray(0, at), Buffer.from(wrong, 'latin1'), encoded.subarray(at + right.length)]);
          },
        });
        assertS3Error(res, 400, 'BadDigest');
        await assertNotStored(server, wrongKey);
      });
    }

    it('a trailer naming an unsupported checksum, or a missing trailer value, is a 400', async () => {
      const path = `/${BUCKET}/trailer-bogus`;
      const signed = sign(server, 'PUT', path, {
        headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '5', 'x-amz-trailer': 'x-amz-checksum-md7' },
        payloadHash: STREAMING_UNSIGNED_PAYLOAD_TRAILER,
      });
      const body = Buffer.from('5\r\nhello\r\n0\r\n\r\n');
      const res = await rawRequest(server.url, { method: 'PUT', path, headers: { ...signed.headers, 'content-length': String(body.length) }, body });
      assertS3Error(res, 400, 'InvalidRequest');
      // The trailer is announced but never sent.
      const announced = await streamingPut(server, 'trailer-missing', Buffer.from('hello'), {
        payloadHash: STREAMING_UNSIGNED_PAYLOAD_TRAILER,
        trailer: 'crc32',
        alter: (encoded) => Buffer.from(encoded.toString('latin1').replace(/x-amz-checksum-crc32:[^\r]*\r\n/, ''), 'latin1'),
      });
      assertS3Error(announced, 400, 'MalformedTrailerError');
      await assertNotStored(server, 'trailer-bogus');
      await assertNotStored(server, 'trailer-missing');
    });

    it('a truncated aws-chunked body is 400 IncompleteBody and stores nothing', async () => {
      // Cut inside the second chunk; Content-Length says exactly what is sent.
      const cut = await streamingPut(server, 'truncated', data, {
        payloadHash: STREAMING_SIGNED_PAYLOAD,
        alter: (encoded) => encoded.subarray(0, 100_000),
      });
      assertS3Error(cut, 400, 'IncompleteBody');
      await assertNotStored(server, 'truncated');
      // Cut right after a complete chunk, before the final one.
      const boundary = await streamingPut(server, 'truncated-boundary', data, {
        payloadHash: STREAMING_UNSIGNED_PAYLOAD_TRAILER,
        trailer: 'crc32',
        alter: (encoded) => encoded.subarray(0, encoded.indexOf('\r\n', 64 * 1024) + 2),
      });
      assertS3Error(boundary, 400, 'IncompleteBody');
      await assertNotStored(server, 'truncated-boundary');
      // Well-formed framing, but fewer bytes than x-amz-decoded-content-length declares.
      const short = await streamingPut(server, 'truncated-declared', data, {
        payloadHash: STREAMING_SIGNED_PAYLOAD,
        decodedLength: data.length + 10,
      });
      assertS3Error(short, 400, 'IncompleteBody');
      await assertNotStored(server, 'truncated-declared');
    });

    it('more bytes than x-amz-decoded-content-length declares is refused and stores nothing', async () => {
      const res = await streamingPut(server, 'overlong', data, { payloadHash: STREAMING_SIGNED_PAYLOAD, decodedLength: data.length - 10 });
      assertS3Error(res, 400, 'IncompleteBody');
      await assertNotStored(server, 'overlong');
    });

    it('a client that goes away mid-body leaves nothing stored', async () => {
      const path = `/${BUCKET}/cut-off`;
      const signed = sign(server, 'PUT', path, {
        headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length) },
        payloadHash: STREAMING_SIGNED_PAYLOAD,
      });
      const body = await awsChunked(data, { signing: signed.signing });
      const answer = await socketExchange(server.port, headOf(path, 'PUT', { ...signed.headers, 'content-length': String(body.length) }), body.subarray(0, 90_000));
      // Either no answer (the connection is cut) or a 400-class one; never a 500.
      if (answer !== '') assert.match(answer, /^HTTP\/1\.1 4\d\d /);
      await assertNotStored(server, 'cut-off');
    });

    it('a streaming body without x-amz-decoded-content-length is 411 MissingContentLength', async () => {
      const path = `/${BUCKET}/no-decoded-length`;
      const signed = sign(server, 'PUT', path, { headers: { 'content-encoding': 'aws-chunked' }, payloadHash: STREAMING_SIGNED_PAYLOAD });
      const body = await awsChunked(Buffer.from('hello'), { signing: signed.signing });
      const res = await rawRequest(server.url, { method: 'PUT', path, headers: { ...signed.headers, 'content-length': String(body.length) }, body });
      assertS3Error(res, 411, 'MissingContentLength');
      await assertNotStored(server, 'no-decoded-length');
    });
  });

  it('the server keeps serving after all of the above and never logged an internal error', async () => {
    assertOk(await send(server, 'PUT', `/${BUCKET}/final`, { body: 'still alive' }));
    await assertStored(server, 'final', 'still alive');
    assert.doesNotMatch(server.stdout(), /internal error|"status":5\d\d/);
  });
});
