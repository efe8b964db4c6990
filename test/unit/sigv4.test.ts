import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';

import { ServiceError } from '../../src/core/errors.js';
import {
  awsUriEncode,
  canonicalQueryString,
  canonicalRequest,
  canonicalUri,
  deriveSigningKey,
  EMPTY_SHA256,
  extractAccessKeyId,
  isAnonymous,
  parseAmzDate,
  parseRawQuery,
  presignUrl,
  sha256Hex,
  signature,
  signRequest,
  signRequestWithContext,
  stringToSign,
  verifyRequest,
  type Credentials,
  type VerifyOptions,
} from '../../src/dialects/s3/sigv4.js';

// The example credentials and date used throughout AWS's S3 SigV4 documentation.
const AWS_EXAMPLE: Credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const EXAMPLE_DATETIME = '20130524T000000Z';
const EXAMPLE_NOW = new Date('2013-05-24T00:00:00Z');
const EXAMPLE_SCOPE = '20130524/us-east-1/s3/aws4_request';
const lookupExample = (id: string): string | undefined =>
  id === AWS_EXAMPLE.accessKeyId ? AWS_EXAMPLE.secretAccessKey : undefined;

function exampleSignature(input: Parameters<typeof canonicalRequest>[0]): string {
  const key = deriveSigningKey(AWS_EXAMPLE.secretAccessKey, '20130524', 'us-east-1', 's3');
  return signature(key, stringToSign(EXAMPLE_DATETIME, EXAMPLE_SCOPE, sha256Hex(canonicalRequest(input))));
}

function authHeader(signedHeaders: string, sig: string, separator = ','): string {
  return `AWS4-HMAC-SHA256 Credential=${AWS_EXAMPLE.accessKeyId}/${EXAMPLE_SCOPE}${separator}SignedHeaders=${signedHeaders}${separator}Signature=${sig}`;
}

function assertServiceError(fn: () => unknown, code: string, status: number, message?: string | RegExp): ServiceError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ServiceError, `expected ServiceError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.status, status);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else if (message !== undefined) assert.match(caught.message, message);
  return caught;
}

describe('AWS documentation vectors (S3 SigV4)', () => {
  const getObjectHeaders = {
    host: 'examplebucket.s3.amazonaws.com',
    range: 'bytes=0-9',
    'x-amz-content-sha256': EMPTY_SHA256,
    'x-amz-date': EXAMPLE_DATETIME,
  };
  const getObjectSignature = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';

  it('GET Object: canonical request and signature', () => {
    const input = {
      method: 'GET',
      path: '/test.txt',
      query: [],
      headers: getObjectHeaders,
      signedHeaders: ['host', 'range', 'x-amz-content-sha256', 'x-amz-date'],
      payloadHash: EMPTY_SHA256,
    };
    assert.equal(
      canonicalRequest(input),
      [
        'GET',
        '/test.txt',
        '',
        'host:examplebucket.s3.amazonaws.com',
        'range:bytes=0-9',
        `x-amz-content-sha256:${EMPTY_SHA256}`,
        'x-amz-date:20130524T000000Z',
        '',
        'host;range;x-amz-content-sha256;x-amz-date',
        EMPTY_SHA256,
      ].join('\n'),
    );
    assert.equal(exampleSignature(input), getObjectSignature);
  });

  it('GET Object: signRequest produces the documented Authorization header', () => {
    const headers = signRequest({
      method: 'GET',
      url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      headers: { Range: 'bytes=0-9' },
      payloadHash: EMPTY_SHA256,
      credentials: AWS_EXAMPLE,
      region: 'us-east-1',
      now: EXAMPLE_NOW,
      extraSignedHeaders: ['range'],
    });
    assert.deepEqual(headers, {
      authorization: authHeader('host;range;x-amz-content-sha256;x-amz-date', getObjectSignature, ', '),
      'x-amz-date': EXAMPLE_DATETIME,
      'x-amz-content-sha256': EMPTY_SHA256,
    });
  });

  it('GET Object: verifyRequest accepts the documented request (no spaces after commas)', () => {
    const verified = verifyRequest(
      {
        method: 'GET',
        rawUrl: '/test.txt',
        headers: { ...getObjectHeaders, authorization: authHeader('host;range;x-amz-content-sha256;x-amz-date', getObjectSignature) },
      },
      lookupExample,
      EXAMPLE_NOW,
    );
    assert.equal(verified.accessKeyId, AWS_EXAMPLE.accessKeyId);
    assert.equal(verified.signature, getObjectSignature);
    assert.equal(verified.payloadHash, EMPTY_SHA256);
    assert.equal(verified.scope, EXAMPLE_SCOPE);
    assert.equal(verified.datetime, EXAMPLE_DATETIME);
    assert.equal(verified.presigned, false);
  });

  it('PUT Object: Date header, "$" in the key re-encoded as %24', () => {
    const payloadHash = '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072';
    assert.equal(sha256Hex('Welcome to Amazon S3.'), payloadHash);
    const headers = {
      date: 'Fri, 24 May 2013 00:00:00 GMT',
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-content-sha256': payloadHash,
      'x-amz-date': EXAMPLE_DATETIME,
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    };
    const signedHeaders = 'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class';
    const expected = '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd';
    assert.equal(canonicalUri('/test$file.text'), '/test%24file.text');
    assert.equal(
      exampleSignature({
        method: 'PUT',
        path: '/test%24file.text',
        query: [],
        headers,
        signedHeaders: signedHeaders.split(';'),
        payloadHash,
      }),
      expected,
    );
    // On the wire the client may send '$' raw or as %24; both verify.
    for (const rawUrl of ['/test$file.text', '/test%24file.text']) {
      const verified = verifyRequest(
        { method: 'PUT', rawUrl, headers: { ...headers, authorization: authHeader(signedHeaders, expected) } },
        lookupExample,
        EXAMPLE_NOW,
      );
      assert.equal(verified.payloadHash, payloadHash);
    }
  });

  it('GET Bucket lifecycle: a parameter without a value becomes "name="', () => {
    const headers = {
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': EXAMPLE_DATETIME,
    };
    const expected = 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543';
    const signedHeaders = ['host', 'x-amz-content-sha256', 'x-amz-date'];
    assert.equal(
      exampleSignature({ method: 'GET', path: '/', query: [['lifecycle', '']], headers, signedHeaders, payloadHash: EMPTY_SHA256 }),
      expected,
    );
    verifyRequest(
      { method: 'GET', rawUrl: '/?lifecycle', headers: { ...headers, authorization: authHeader(signedHeaders.join(';'), expected) } },
      lookupExample,
      EXAMPLE_NOW,
    );
  });

  it('GET Bucket (list objects): query parameters sorted', () => {
    const headers = {
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': EXAMPLE_DATETIME,
    };
    const expected = '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7';
    verifyRequest(
      {
        method: 'GET',
        rawUrl: '/?prefix=J&max-keys=2',
        headers: { ...headers, authorization: authHeader('host;x-amz-content-sha256;x-amz-date', expected) },
      },
      lookupExample,
      EXAMPLE_NOW,
    );
  });

  it('PUT Object chunked: the seed signature', () => {
    const headers = {
      'content-encoding': 'aws-chunked',
      'content-length': '66824',
      host: 's3.amazonaws.com',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'x-amz-date': EXAMPLE_DATETIME,
      'x-amz-decoded-content-length': '66560',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    };
    const seed = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
    const verified = verifyRequest(
      {
        method: 'PUT',
        rawUrl: '/examplebucket/chunkObject.txt',
        headers: { ...headers, authorization: authHeader(Object.keys(headers).join(';'), seed) },
      },
      lookupExample,
      EXAMPLE_NOW,
    );
    assert.equal(verified.signature, seed);
    assert.equal(verified.payloadHash, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
  });

  it('presigned GET: presignUrl builds the documented URL and verifyRequest accepts it', () => {
    const expectedSignature = 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
    const url = presignUrl({
      method: 'GET',
      url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      credentials: AWS_EXAMPLE,
      region: 'us-east-1',
      expiresSeconds: 86400,
      now: EXAMPLE_NOW,
    });
    assert.equal(
      url,
      'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
        '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
        '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
        `&X-Amz-Signature=${expectedSignature}`,
    );
    const parsed = new URL(url);
    const verified = verifyRequest(
      { method: 'GET', rawUrl: parsed.pathname + parsed.search, headers: { host: parsed.host } },
      lookupExample,
      new Date('2013-05-24T12:00:00Z'),
    );
    assert.equal(verified.presigned, true);
    assert.equal(verified.payloadHash, 'UNSIGNED-PAYLOAD');
    assert.equal(verified.signature, expectedSignature);
  });
});

describe('canonical forms', () => {
  it('awsUriEncode keeps only unreserved characters', () => {
    assert.equal(awsUriEncode("AZaz09-._~"), 'AZaz09-._~');
    assert.equal(awsUriEncode("a b+c/d!'()*=&$@:,;"), 'a%20b%2Bc%2Fd%21%27%28%29%2A%3D%26%24%40%3A%2C%3B');
    assert.equal(awsUriEncode('ü€'), '%C3%BC%E2%82%AC');
    assert.equal(awsUriEncode('\ud800'), '%EF%BF%BD');
  });

  it('canonicalUri re-encodes each segment once, keeps // and .. and encoded slashes', () => {
    assert.equal(canonicalUri(''), '/');
    assert.equal(canonicalUri('/b/a%20b'), '/b/a%20b');
    assert.equal(canonicalUri('/b/a b(1)'), '/b/a%20b%281%29');
    assert.equal(canonicalUri('/b/x%2Fy'), '/b/x%2Fy');
    assert.equal(canonicalUri('/b/x%2fy'), '/b/x%2Fy');
    assert.equal(canonicalUri('/b//../c/'), '/b//../c/');
    assert.equal(canonicalUri('/b/100%25'), '/b/100%25');
  });

  it('canonicalQueryString encodes, then sorts by name and value', () => {
    assert.equal(
      canonicalQueryString([
        ['prefix', 'a b'],
        ['a', '2'],
        ['a', '10'],
        ['versions', ''],
        ['B', 'x'],
        ['k~', '/'],
      ]),
      'B=x&a=10&a=2&k~=%2F&prefix=a%20b&versions=',
    );
  });

  it('parseRawQuery decodes %XX and "+" and keeps valueless parameters', () => {
    assert.deepEqual(parseRawQuery('?uploads&prefix=a+b%2Bc&x=%E2%82%AC&&bad=%zz'), [
      ['uploads', ''],
      ['prefix', 'a b+c'],
      ['x', '€'],
      ['bad', '%zz'],
    ]);
  });

  it('canonical headers: lower-case names, trimmed values, collapsed whitespace, values joined by ","', () => {
    const text = canonicalRequest({
      method: 'put',
      path: '/k',
      query: [],
      headers: { 'X-Amz-Meta-A': '  one   two \t three ', 'x-amz-meta-b': ['x', ' y '], Host: 'h' },
      signedHeaders: ['x-amz-meta-b', 'host', 'X-Amz-Meta-A'],
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    assert.equal(
      text,
      'PUT\n/k\n\nhost:h\nx-amz-meta-a:one two three\nx-amz-meta-b:x,y\n\nhost;x-amz-meta-a;x-amz-meta-b\nUNSIGNED-PAYLOAD',
    );
  });

  it('deriveSigningKey is memoized per secret and scope', () => {
    const a = deriveSigningKey('s1', '20240101', 'us-east-1', 's3');
    assert.equal(deriveSigningKey('s1', '20240101', 'us-east-1', 's3'), a);
    assert.notDeepEqual(deriveSigningKey('s2', '20240101', 'us-east-1', 's3'), a);
    assert.notDeepEqual(deriveSigningKey('s1', '20240102', 'us-east-1', 's3'), a);
    assert.notDeepEqual(deriveSigningKey('s1', '20240101', 'eu-west-1', 's3'), a);
  });

  it('parseAmzDate rejects impossible dates', () => {
    assert.equal(parseAmzDate('20130524T000000Z')?.toISOString(), '2013-05-24T00:00:00.000Z');
    assert.equal(parseAmzDate('20130230T000000Z'), undefined);
    assert.equal(parseAmzDate('2013-05-24T00:00:00Z'), undefined);
  });
});

describe('signRequest → verifyRequest round trip', () => {
  const credentials: Credentials = { accessKeyId: 'TESSERAKEY', secretAccessKey: 'tessera/secret+KEY' };
  const lookup = (id: string): string | undefined => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined);
  const now = new Date('2024-06-01T12:00:00Z');
  const payloadHash = sha256Hex('part body');

  /** Signs a request and returns it in the shape the server sees. */
  function signed(
    overrides: { url?: string; headers?: Record<string, string>; sessionToken?: string; region?: string } = {},
  ): { method: string; rawUrl: string; headers: IncomingHttpHeaders } {
    const url = new URL(overrides.url ?? 'http://127.0.0.1:9000/bucket/dir/a%20b%28c%29.txt?uploadId=u%2F1&partNumber=3');
    const headers: Record<string, string> = {
      'content-type': 'text/plain',
      'x-amz-meta-owner': 'alice',
      'content-length': '9',
      ...overrides.headers,
    };
    const added = signRequest({
      method: 'PUT',
      url,
      headers,
      payloadHash,
      credentials: overrides.sessionToken === undefined ? credentials : { ...credentials, sessionToken: overrides.sessionToken },
      region: overrides.region ?? 'us-east-1',
      now,
    });
    return {
      method: 'PUT',
      rawUrl: url.pathname + url.search,
      headers: { host: url.host, ...lowerCase(headers), ...added },
    };
  }

  function lowerCase(headers: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  }

  it('verifies, and returns what the body layer needs', () => {
    const req = signed();
    const verified = verifyRequest(req, lookup, now);
    assert.equal(verified.accessKeyId, credentials.accessKeyId);
    assert.equal(verified.payloadHash, payloadHash);
    assert.equal(verified.datetime, '20240601T120000Z');
    assert.equal(verified.scope, '20240601/us-east-1/s3/aws4_request');
    assert.deepEqual(verified.signingKey, deriveSigningKey(credentials.secretAccessKey, '20240601', 'us-east-1', 's3'));
    assert.match(String(req.headers.authorization), /SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-owner,/);
  });

  it('signRequestWithContext exposes the seed for aws-chunked signing', () => {
    const url = new URL('http://localhost/b/k');
    const result = signRequestWithContext({ method: 'PUT', url, payloadHash, credentials, region: 'us-east-1', now });
    const verified = verifyRequest(
      { method: 'PUT', rawUrl: '/b/k', headers: { host: url.host, ...result.headers } },
      lookup,
      now,
    );
    assert.equal(result.signing.seedSignature, verified.signature);
    assert.equal(result.signing.scope, verified.scope);
    assert.deepEqual(result.signing.signingKey, verified.signingKey);
  });

  it('signs and verifies a session token and characters that need encoding', () => {
    const req = signed({ url: "http://h/b/%E2%82%AC!'*~?prefix=a%20b&list-type=2", sessionToken: 'tok/en=' });
    assert.equal(req.headers['x-amz-security-token'], 'tok/en=');
    verifyRequest(req, lookup, now);
  });

  it('rejects a tampered header, path, query, method or payload hash', () => {
    const mutations: Array<(req: ReturnType<typeof signed>) => void> = [
      (req) => (req.headers['x-amz-meta-owner'] = 'mallory'),
      (req) => (req.headers['content-type'] = 'text/html'),
      (req) => (req.headers.host = 'evil:9000'),
      (req) => (req.rawUrl = req.rawUrl.replace('a%20b', 'a%20c')),
      (req) => (req.rawUrl = req.rawUrl.replace('partNumber=3', 'partNumber=4')),
      (req) => (req.rawUrl = req.rawUrl + '&extra=1'),
      (req) => (req.method = 'POST'),
      (req) => (req.headers['x-amz-content-sha256'] = sha256Hex('other body')),
    ];
    for (const mutate of mutations) {
      const req = signed();
      mutate(req);
      const err = assertServiceError(
        () => verifyRequest(req, lookup, now),
        'SignatureDoesNotMatch',
        403,
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      );
      assert.equal(err.detail.AWSAccessKeyId, credentials.accessKeyId);
      assert.ok(err.detail.CanonicalRequest);
    }
  });

  it('rejects a wrong secret', () => {
    assertServiceError(() => verifyRequest(signed(), () => 'not the secret', now), 'SignatureDoesNotMatch', 403);
  });

  it('rejects x-amz-* headers that were not signed', () => {
    const req = signed();
    req.headers['x-amz-acl'] = 'public-read';
    const err = assertServiceError(() => verifyRequest(req, lookup, now), 'AccessDenied', 403, /not signed/);
    assert.equal(err.detail.HeadersNotSigned, 'x-amz-acl');
  });

  it('unknown access key → InvalidAccessKeyId', () => {
    assertServiceError(
      () => verifyRequest(signed(), () => undefined, now),
      'InvalidAccessKeyId',
      403,
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  });

  it('clock skew beyond 15 minutes → RequestTimeTooSkewed, within → accepted', () => {
    const req = signed();
    verifyRequest(req, lookup, new Date(now.getTime() + 14 * 60 * 1000));
    verifyRequest(req, lookup, new Date(now.getTime() - 14 * 60 * 1000));
    assertServiceError(() => verifyRequest(req, lookup, new Date(now.getTime() + 16 * 60 * 1000)), 'RequestTimeTooSkewed', 403);
    assertServiceError(() => verifyRequest(req, lookup, new Date(now.getTime() - 16 * 60 * 1000)), 'RequestTimeTooSkewed', 403);
  });

  it('missing x-amz-content-sha256 → InvalidRequest', () => {
    const req = signed();
    delete req.headers['x-amz-content-sha256'];
    assertServiceError(
      () => verifyRequest(req, lookup, now),
      'InvalidRequest',
      400,
      'Missing required header for this request: x-amz-content-sha256',
    );
  });

  it('invalid x-amz-content-sha256 value → InvalidArgument', () => {
    const req = signed({ headers: {} });
    req.headers['x-amz-content-sha256'] = 'nonsense';
    assertServiceError(() => verifyRequest(req, lookup, now), 'InvalidArgument', 400, /x-amz-content-sha256 must be/);
  });

  it('missing or malformed date → AccessDenied', () => {
    const req = signed();
    req.headers['x-amz-date'] = 'yesterday';
    assertServiceError(() => verifyRequest(req, lookup, now), 'AccessDenied', 403, /valid Date or x-amz-date/);
  });

  it('malformed Authorization headers → AuthorizationHeaderMalformed', () => {
    const base = signed();
    const auth = String(base.headers.authorization);
    const cases = [
      auth.replace(/, Signature=[0-9a-f]+/, ''),
      auth.replace('Credential=TESSERAKEY/20240601/us-east-1/s3/aws4_request', 'Credential=TESSERAKEY/20240601/us-east-1'),
      auth.replace('/s3/', '/ec2/'),
      auth.replace('aws4_request', 'aws5_request'),
      auth.replace('/20240601/', '/20240602/'),
      auth.replace('/20240601/', '/2024-6-1/'),
      auth.replace('SignedHeaders=', 'Headers='),
    ];
    for (const authorization of cases) {
      assertServiceError(
        () => verifyRequest({ ...base, headers: { ...base.headers, authorization } }, lookup, now),
        'AuthorizationHeaderMalformed',
        400,
        /^The authorization header is malformed; /,
      );
    }
  });

  it('wrong region → AuthorizationHeaderMalformed only when a region is configured', () => {
    const req = signed({ region: 'eu-west-1' });
    verifyRequest(req, lookup, now);
    const options: VerifyOptions = { region: 'us-east-1' };
    const err = assertServiceError(() => verifyRequest(req, lookup, now, options), 'AuthorizationHeaderMalformed', 400, /region 'eu-west-1' is wrong; expecting 'us-east-1'/);
    assert.equal(err.detail.Region, 'us-east-1');
  });

  it('SigV2 and unknown schemes are refused', () => {
    const base = signed();
    assertServiceError(
      () => verifyRequest({ ...base, headers: { ...base.headers, authorization: 'AWS TESSERAKEY:c2lnbmF0dXJl' } }, lookup, now),
      'InvalidRequest',
      400,
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
    assertServiceError(
      () => verifyRequest({ method: 'GET', rawUrl: '/b/k?AWSAccessKeyId=TESSERAKEY&Expires=1&Signature=x', headers: { host: 'h' } }, lookup, now),
      'InvalidRequest',
      400,
    );
    assertServiceError(
      () => verifyRequest({ ...base, headers: { ...base.headers, authorization: 'Bearer abc' } }, lookup, now),
      'InvalidArgument',
      400,
      'Unsupported Authorization Type',
    );
  });

  it('a request with no credentials at all → AccessDenied', () => {
    assertServiceError(() => verifyRequest({ method: 'GET', rawUrl: '/b/k', headers: { host: 'h' } }, lookup, now), 'AccessDenied', 403);
  });
});

describe('presigned URLs', () => {
  const credentials: Credentials = { accessKeyId: 'PRESIGNKEY', secretAccessKey: 'presign-secret' };
  const lookup = (id: string): string | undefined => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined);
  const now = new Date('2024-06-01T12:00:00Z');

  function presigned(expiresSeconds = 600, target = 'http://localhost:9000/bucket/my%20key?versionId=v1'): { method: string; rawUrl: string; headers: IncomingHttpHeaders } {
    const url = new URL(presignUrl({ method: 'GET', url: new URL(target), credentials, region: 'us-east-1', expiresSeconds, now }));
    return { method: 'GET', rawUrl: url.pathname + url.search, headers: { host: url.host } };
  }

  it('verifies until it expires', () => {
    const req = presigned(600);
    assert.equal(verifyRequest(req, lookup, now).presigned, true);
    assert.equal(verifyRequest(req, lookup, new Date(now.getTime() + 600_000)).accessKeyId, credentials.accessKeyId);
    const err = assertServiceError(() => verifyRequest(req, lookup, new Date(now.getTime() + 601_000)), 'AccessDenied', 403, 'Request has expired');
    assert.equal(err.detail['X-Amz-Expires'], '600');
  });

  it('not valid yet when dated more than 15 minutes in the future', () => {
    const req = presigned(600);
    assertServiceError(() => verifyRequest(req, lookup, new Date(now.getTime() - 16 * 60_000)), 'AccessDenied', 403, 'Request is not valid yet');
    verifyRequest(req, lookup, new Date(now.getTime() - 14 * 60_000));
  });

  it('X-Amz-Expires=0 is expired at once, even in the second it is dated', () => {
    const req = presigned(600);
    const zero = { ...req, rawUrl: req.rawUrl.replace('X-Amz-Expires=600', 'X-Amz-Expires=0') };
    const err = assertServiceError(() => verifyRequest(zero, lookup, now), 'AccessDenied', 403, 'Request has expired');
    assert.equal(err.detail['X-Amz-Expires'], '0');
  });

  it('X-Amz-Expires outside 0..604800 → AuthorizationQueryParametersError', () => {
    const req = presigned(600);
    for (const value of ['604801', 'abc', '-5', '1.5']) {
      assertServiceError(
        () => verifyRequest({ ...req, rawUrl: req.rawUrl.replace('X-Amz-Expires=600', `X-Amz-Expires=${value}`) }, lookup, now),
        'AuthorizationQueryParametersError',
        400,
      );
    }
    assert.throws(() => presigned(604801), RangeError);
  });

  it('missing parameters, bad algorithm, bad credential → AuthorizationQueryParametersError', () => {
    const req = presigned();
    const variants = [
      req.rawUrl.replace(/&X-Amz-Date=[^&]+/, ''),
      req.rawUrl.replace('X-Amz-Algorithm=AWS4-HMAC-SHA256', 'X-Amz-Algorithm=AWS4-HMAC-SHA1'),
      req.rawUrl.replace('%2Fs3%2F', '%2Fsqs%2F'),
      req.rawUrl.replace(/X-Amz-Date=\d{8}/, 'X-Amz-Date=20240602'),
    ];
    for (const rawUrl of variants) {
      assertServiceError(() => verifyRequest({ ...req, rawUrl }, lookup, now), 'AuthorizationQueryParametersError', 400);
    }
  });

  it('tampered query or path → SignatureDoesNotMatch', () => {
    const req = presigned();
    for (const rawUrl of [
      req.rawUrl.replace('versionId=v1', 'versionId=v2'),
      req.rawUrl.replace('my%20key', 'my%20kex'),
      req.rawUrl + '&response-content-type=text%2Fhtml',
    ]) {
      assertServiceError(() => verifyRequest({ ...req, rawUrl }, lookup, now), 'SignatureDoesNotMatch', 403);
    }
    assertServiceError(() => verifyRequest({ ...req, method: 'PUT' }, lookup, now), 'SignatureDoesNotMatch', 403);
  });

  it('unknown access key → InvalidAccessKeyId', () => {
    assertServiceError(() => verifyRequest(presigned(), () => undefined, now), 'InvalidAccessKeyId', 403);
  });

  it('uses x-amz-content-sha256 as the payload hash when the request sends it', () => {
    const secret = credentials.secretAccessKey;
    const datetime = '20240601T120000Z';
    const scope = '20240601/us-east-1/s3/aws4_request';
    const query: Array<[string, string]> = [
      ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
      ['X-Amz-Credential', `${credentials.accessKeyId}/${scope}`],
      ['X-Amz-Date', datetime],
      ['X-Amz-Expires', '60'],
      ['X-Amz-SignedHeaders', 'host;x-amz-content-sha256'],
    ];
    const headers = { host: 'h', 'x-amz-content-sha256': sha256Hex('abc') };
    const canonical = canonicalRequest({ method: 'PUT', path: '/b/k', query, headers, signedHeaders: ['host', 'x-amz-content-sha256'], payloadHash: sha256Hex('abc') });
    const sig = signature(deriveSigningKey(secret, '20240601', 'us-east-1', 's3'), stringToSign(datetime, scope, sha256Hex(canonical)));
    const rawUrl = `/b/k?${canonicalQueryString(query)}&X-Amz-Signature=${sig}`;
    const verified = verifyRequest({ method: 'PUT', rawUrl, headers }, lookup, now);
    assert.equal(verified.payloadHash, sha256Hex('abc'));
  });

  it('accepts X-Amz-Content-Sha256 hoisted into the query (as the AWS SDK presigner does)', () => {
    const req = presigned(600, 'http://localhost:9000/bucket/k?X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&x-id=GetObject');
    assert.equal(verifyRequest(req, lookup, now).payloadHash, 'UNSIGNED-PAYLOAD');
  });

  it('both an Authorization header and a presigned query → InvalidArgument', () => {
    const req = presigned();
    assertServiceError(
      () => verifyRequest({ ...req, headers: { ...req.headers, authorization: 'AWS4-HMAC-SHA256 Credential=x' } }, lookup, now),
      'InvalidArgument',
      400,
      /Only one auth mechanism allowed/,
    );
  });
});

describe('request classification', () => {
  it('extractAccessKeyId reads V4 headers, V4 queries and legacy V2', () => {
    assert.equal(
      extractAccessKeyId({ authorization: `AWS4-HMAC-SHA256 Credential=AK1/${EXAMPLE_SCOPE}, SignedHeaders=host, Signature=00` }, ''),
      'AK1',
    );
    assert.equal(extractAccessKeyId({ Authorization: 'AWS AK2:c2ln' }, ''), 'AK2');
    assert.equal(extractAccessKeyId({}, `?X-Amz-Credential=AK3%2F${encodeURIComponent(EXAMPLE_SCOPE)}&X-Amz-Signature=00`), 'AK3');
    assert.equal(extractAccessKeyId({}, new URLSearchParams('AWSAccessKeyId=AK4&Signature=x')), 'AK4');
    assert.equal(extractAccessKeyId({}, [['X-Amz-Credential', 'AK5/x']]), 'AK5');
    assert.equal(extractAccessKeyId({ host: 'h' }, 'prefix=a'), undefined);
  });

  it('isAnonymous is true only without any credentials', () => {
    assert.equal(isAnonymous({ host: 'h' }, '?prefix=a&list-type=2'), true);
    assert.equal(isAnonymous({ authorization: 'AWS4-HMAC-SHA256 …' }, ''), false);
    assert.equal(isAnonymous({}, 'X-Amz-Signature=00&X-Amz-Credential=a'), false);
    assert.equal(isAnonymous({}, 'AWSAccessKeyId=a&Signature=b'), false);
  });
});
