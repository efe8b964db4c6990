import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { useS3Server } from '../helpers/s3.js';
import { signedRequest } from '../helpers/raw.js';
import { BOTO3_AVAILABLE, runBoto3 } from '../helpers/boto3.js';
import type { TestServer } from '../helpers/server.js';

// encoding-type=url as S3 answers it: form encoding of the UTF-8 bytes, with `/` left alone
// (measured on AWS: `a b` → `a+b`, `a+b` → `a%2Bb`, `100%` → `100%25`, `한글/x` → `%ED%95%9C%EA%B8%80/x`;
// Java's URLEncoder set: A-Z a-z 0-9 . - * _ kept, `~` escaped). Each key beside its wire form,
// written out by hand so the test does not share the server's encoder.
const BUCKET = 'encoding';
const WIRE: Record<string, string> = {
  'enc/a-b_c.d': 'enc/a-b_c.d',
  'enc/dir one/child': 'enc/dir+one/child',
  'enc/line\nfeed': 'enc/line%0Afeed',
  "enc/marks*~!'()": 'enc/marks*%7E%21%27%28%29',
  'enc/pct%41%': 'enc/pct%2541%25',
  'enc/plus+sign': 'enc/plus%2Bsign',
  'enc/with space': 'enc/with+space',
  'enc/x\u0001\u001f': 'enc/x%01%1F',
  'enc/ünïcödé 日本': 'enc/%C3%BCn%C3%AFc%C3%B6d%C3%A9+%E6%97%A5%E6%9C%AC',
};
/** The keys in listing order (UTF-8 byte order). */
const KEYS = Object.keys(WIRE).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
const UPLOAD_KEYS = ['up/with space', 'up/plus+sign', 'up/dir one/child'];

function wire(key: string): string {
  const encoded = WIRE[key];
  assert.ok(encoded !== undefined, `no wire form written down for ${JSON.stringify(key)}`);
  return encoded;
}

describe('S3 encoding-type=url: what S3 encodes, in every listing', () => {
  let s3: S3Client;
  let server: TestServer;
  const uploadIds = new Map<string, string>();

  useS3Server({ bucket: BUCKET }, async (env) => {
    s3 = env.s3;
    server = env.server;
    for (const key of KEYS) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    for (const key of UPLOAD_KEYS) {
      const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
      uploadIds.set(key, upload.UploadId!);
    }
  });

  it('ListObjectsV2: Key, Prefix, Delimiter, StartAfter and CommonPrefixes; `/` stays `/`', async () => {
    const all = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'enc/', EncodingType: 'url' }));
    assert.equal(all.EncodingType, 'url');
    assert.equal(all.Prefix, 'enc/');
    assert.deepEqual((all.Contents ?? []).map((o) => o.Key), KEYS.map(wire));

    const grouped = await s3.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'enc/', Delimiter: '/', StartAfter: 'enc/a b', EncodingType: 'url' }),
    );
    assert.equal(grouped.Delimiter, '/');
    assert.equal(grouped.StartAfter, 'enc/a+b');
    assert.deepEqual((grouped.CommonPrefixes ?? []).map((p) => p.Prefix), ['enc/dir+one/']);
    assert.deepEqual(
      (grouped.Contents ?? []).map((o) => o.Key),
      KEYS.filter((k) => k !== 'enc/dir one/child' && Buffer.compare(Buffer.from(k), Buffer.from('enc/a b')) > 0).map(wire),
    );

    const bySpace = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'enc/', Delimiter: ' ', EncodingType: 'url' }));
    assert.equal(bySpace.Delimiter, '+');
    assert.deepEqual((bySpace.CommonPrefixes ?? []).map((p) => p.Prefix), ['enc/dir+', 'enc/with+', 'enc/%C3%BCn%C3%AFc%C3%B6d%C3%A9+']);
  });

  it('ListObjects (v1): Marker and NextMarker too', async () => {
    const page = await s3.send(
      new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'enc/', Delimiter: ' ', Marker: 'enc/a b', MaxKeys: 2, EncodingType: 'url' }),
    );
    assert.equal(page.Marker, 'enc/a+b');
    assert.equal(page.Prefix, 'enc/');
    assert.equal(page.Delimiter, '+');
    assert.equal(page.IsTruncated, true);
    assert.deepEqual((page.Contents ?? []).map((o) => o.Key), ['enc/a-b_c.d']);
    assert.deepEqual((page.CommonPrefixes ?? []).map((p) => p.Prefix), ['enc/dir+']);
    assert.equal(page.NextMarker, 'enc/dir+');
  });

  it('ListObjectVersions: Key, Prefix, Delimiter, KeyMarker and NextKeyMarker', async () => {
    const page = await s3.send(
      new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: 'enc/', KeyMarker: 'enc/marks', MaxKeys: 2, EncodingType: 'url' }),
    );
    assert.equal(page.Prefix, 'enc/');
    assert.equal(page.KeyMarker, 'enc/marks');
    const after = KEYS.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from('enc/marks')) > 0).slice(0, 2);
    assert.deepEqual((page.Versions ?? []).map((v) => v.Key), after.map(wire));
    assert.equal(page.NextKeyMarker, wire(after[1]!));

    const grouped = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: 'enc/d', Delimiter: '/', EncodingType: 'url' }));
    assert.equal(grouped.Delimiter, '/');
    assert.deepEqual((grouped.CommonPrefixes ?? []).map((p) => p.Prefix), ['enc/dir+one/']);
  });

  it('ListMultipartUploads: Key, Prefix, Delimiter, KeyMarker, NextKeyMarker and CommonPrefixes', async () => {
    const page = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'up/', KeyMarker: 'up/a b', MaxUploads: 1, EncodingType: 'url' }),
    );
    assert.equal(page.EncodingType, 'url');
    assert.equal(page.Prefix, 'up/');
    assert.equal(page.KeyMarker, 'up/a+b');
    assert.deepEqual((page.Uploads ?? []).map((u) => u.Key), ['up/dir+one/child']);
    assert.equal(page.IsTruncated, true);
    assert.equal(page.NextKeyMarker, 'up/dir+one/child');

    const grouped = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'up/', Delimiter: '/', EncodingType: 'url' }));
    assert.equal(grouped.Delimiter, '/');
    assert.deepEqual((grouped.CommonPrefixes ?? []).map((p) => p.Prefix), ['up/dir+one/']);
    assert.deepEqual((grouped.Uploads ?? []).map((u) => u.Key), ['up/plus%2Bsign', 'up/with+space']);
  });

  it('ListParts (no SDK asks for it; raw): Key encoded the same way', async () => {
    const key = 'up/with space';
    const uploadId = uploadIds.get(key)!;
    await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 1, Body: 'part' }));
    const res = await signedRequest(server.url, 'GET', `/${BUCKET}/up/with%20space?uploadId=${encodeURIComponent(uploadId)}&encoding-type=url`);
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /<Key>up\/with\+space<\/Key>/);
    assert.match(res.body, /<EncodingType>url<\/EncodingType>/);
  });

  it('boto3: EncodingType it asked for comes back raw as s3-tests reads it; its own decodes to the exact keys', async (t) => {
    if (!BOTO3_AVAILABLE) return t.skip('python3 with boto3 is not installed');
    const result = (await runBoto3(
      server,
      `
raw = s3.list_objects_v2(Bucket=args["bucket"], Prefix="enc/", Delimiter="/", EncodingType="url")
v1 = s3.list_objects(Bucket=args["bucket"], Prefix="enc/")
v2 = s3.list_objects_v2(Bucket=args["bucket"], Prefix="enc/", StartAfter="enc/a b")
versions = s3.list_object_versions(Bucket=args["bucket"], Prefix="enc/", Delimiter="/")
out({
  "raw": {
    "Prefix": raw["Prefix"],
    "Delimiter": raw["Delimiter"],
    "CommonPrefixes": [p["Prefix"] for p in raw.get("CommonPrefixes", [])],
    "Keys": [o["Key"] for o in raw.get("Contents", [])],
  },
  "v1": [o["Key"] for o in v1.get("Contents", [])],
  "v2": [o["Key"] for o in v2.get("Contents", [])],
  "v2StartAfter": v2["StartAfter"],
  "versions": [v["Key"] for v in versions.get("Versions", [])],
  "versionPrefixes": [p["Prefix"] for p in versions.get("CommonPrefixes", [])],
})
`,
      { bucket: BUCKET },
    )) as {
      raw: { Prefix: string; Delimiter: string; CommonPrefixes: string[]; Keys: string[] };
      v1: string[];
      v2: string[];
      v2StartAfter: string;
      versions: string[];
      versionPrefixes: string[];
    };
    const flat = KEYS.filter((k) => k !== 'enc/dir one/child');
    assert.deepEqual(result.raw, { Prefix: 'enc/', Delimiter: '/', CommonPrefixes: ['enc/dir+one/'], Keys: flat.map(wire) });
    assert.deepEqual(result.v1, KEYS);
    assert.deepEqual(result.v2, KEYS.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from('enc/a b')) > 0));
    assert.equal(result.v2StartAfter, 'enc/a b');
    assert.deepEqual(result.versions, flat);
    assert.deepEqual(result.versionPrefixes, ['enc/dir one/']);
  });
});
