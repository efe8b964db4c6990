import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { useS3Server } from '../helpers/s3.js';
import { BOTO3_AVAILABLE, runBoto3 } from '../helpers/boto3.js';
import type { TestServer } from '../helpers/server.js';
import { expectError } from '../helpers/assertions.js';
import { signedRequest } from '../helpers/raw.js';

const BUCKET = 'listing';
const PAGE_KEYS = Array.from({ length: 2500 }, (_, i) => `page/${String(i).padStart(5, '0')}`);
const TREE_KEYS = ['tree/a.txt', 'tree/b-sibling', 'tree/b/1', 'tree/b/2', 'tree/c/d/e', 'tree/z.txt', 'tree2/x', 'top.txt'];
const AWKWARD_KEYS = [
  'enc/with space',
  'enc/plus+sign',
  'enc/ünïcödé 日本',
  'enc/xml<&>"\'',
  'enc/pct%41%',
  'enc/question?hash#',
  'enc/tab\tkey',
  'enc/dir one/child',
];

/** encoding-type=url values, read the way botocore does (form decoding: `+` is a space, `%2B` a plus). */
function urlDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

async function inParallel<T>(items: T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

function assertNoDuplicates(keys: string[]): void {
  assert.equal(new Set(keys).size, keys.length, 'a key was listed twice');
}

describe('S3 listing (AWS SDK)', () => {
  let s3: S3Client;
  let server: TestServer;

  useS3Server({ bucket: BUCKET }, async (env) => {
    s3 = env.s3;
    server = env.server;
    await inParallel([...PAGE_KEYS, ...TREE_KEYS, ...AWKWARD_KEYS], 16, (key) =>
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key })),
    );
  });

  it('ListObjectsV2 pages 2500 keys at max-keys 1000 in 3 pages by continuation token: all keys, once, in order', async () => {
    const seen: string[] = [];
    const pages: number[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'page/', MaxKeys: 1000, ContinuationToken: token }));
      const keys = (page.Contents ?? []).map((o) => o.Key!);
      pages.push(keys.length);
      assert.equal(page.KeyCount, keys.length);
      assert.equal(page.MaxKeys, 1000);
      assert.equal(page.ContinuationToken, token);
      assert.equal(page.IsTruncated, pages.length < 3, `IsTruncated on page ${pages.length}`);
      if (page.IsTruncated) assert.ok(page.NextContinuationToken, 'a truncated page carries a token');
      else assert.equal(page.NextContinuationToken, undefined);
      seen.push(...keys);
      token = page.NextContinuationToken;
      assert.ok(pages.length <= 3, 'too many pages');
    } while (token);
    assert.deepEqual(pages, [1000, 1000, 500]);
    assertNoDuplicates(seen);
    assert.deepEqual(seen, PAGE_KEYS);
  });

  it('ListObjects v1 pages the same 2500 keys by marker', async () => {
    const seen: string[] = [];
    const pages: number[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'page/', MaxKeys: 1000, Marker: marker }));
      const keys = (page.Contents ?? []).map((o) => o.Key!);
      pages.push(keys.length);
      assert.equal(page.Marker ?? '', marker ?? '');
      seen.push(...keys);
      if (!page.IsTruncated) break;
      // Without a delimiter S3 may leave NextMarker out: the last key is the marker then.
      marker = page.NextMarker ?? keys[keys.length - 1];
      assert.ok(pages.length < 3, 'too many pages');
    }
    assert.deepEqual(pages, [1000, 1000, 500]);
    assertNoDuplicates(seen);
    assert.deepEqual(seen, PAGE_KEYS);
  });

  it('max-keys defaults to 1000 and is capped at 1000; the SDK paginator walks every key', async () => {
    const byDefault = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    assert.equal(byDefault.KeyCount, 1000);
    assert.equal(byDefault.IsTruncated, true);
    const asked = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'page/', MaxKeys: 5000 }));
    assert.equal(asked.Contents?.length, 1000);
    assert.equal(asked.IsTruncated, true);
    const zero = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'page/', MaxKeys: 0 }));
    assert.equal(zero.KeyCount ?? 0, 0);
    assert.deepEqual(zero.Contents ?? [], []);

    const seen: string[] = [];
    let pages = 0;
    for await (const page of paginateListObjectsV2({ client: s3, pageSize: 700 }, { Bucket: BUCKET, Prefix: 'page/' })) {
      pages++;
      seen.push(...(page.Contents ?? []).map((o) => o.Key!));
    }
    assert.equal(pages, 4);
    assertNoDuplicates(seen);
    assert.deepEqual(seen, PAGE_KEYS);
  });

  it('max-keys=0: an empty page that is not truncated (v1, v2, versions), as AWS answers and s3-tests asks through boto3', async (t) => {
    const v2 = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 0 }));
    assert.equal(v2.IsTruncated, false);
    assert.equal(v2.KeyCount, 0);
    assert.equal(v2.NextContinuationToken, undefined);
    assert.deepEqual(v2.Contents ?? [], []);
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Delimiter: '/', MaxKeys: 0 }));
    assert.equal(v1.IsTruncated, false);
    assert.equal(v1.NextMarker, undefined);
    assert.deepEqual([...(v1.Contents ?? []), ...(v1.CommonPrefixes ?? [])], []);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, MaxKeys: 0 }));
    assert.equal(versions.IsTruncated, false);
    assert.deepEqual(versions.Versions ?? [], []);

    if (!BOTO3_AVAILABLE) return t.skip('python3 with boto3 is not installed');
    const viaBoto3 = await runBoto3(
      server,
      `
v1 = s3.list_objects(Bucket=args["bucket"], MaxKeys=0)
v2 = s3.list_objects_v2(Bucket=args["bucket"], MaxKeys=0)
out([[v1["IsTruncated"], len(v1.get("Contents", []))], [v2["IsTruncated"], len(v2.get("Contents", []))]])
`,
      { bucket: BUCKET },
    );
    assert.deepEqual(viaBoto3, [[false, 0], [false, 0]]);
  });

  it('prefix and delimiter: CommonPrefixes group the keys below each delimiter (v1 and v2)', async () => {
    for (const version of [1, 2] as const) {
      const page =
        version === 1
          ? await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'tree/', Delimiter: '/' }))
          : await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'tree/', Delimiter: '/' }));
      assert.deepEqual((page.Contents ?? []).map((o) => o.Key), ['tree/a.txt', 'tree/b-sibling', 'tree/z.txt'], `v${version}`);
      assert.deepEqual((page.CommonPrefixes ?? []).map((p) => p.Prefix), ['tree/b/', 'tree/c/'], `v${version}`);
      assert.equal(page.Prefix, 'tree/');
      assert.equal(page.Delimiter, '/');
      assert.equal(page.IsTruncated, false);
    }
    const top = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Delimiter: '/' }));
    assert.deepEqual((top.Contents ?? []).map((o) => o.Key), ['top.txt']);
    assert.deepEqual((top.CommonPrefixes ?? []).map((p) => p.Prefix), ['enc/', 'page/', 'tree/', 'tree2/']);
    assert.equal(top.KeyCount, 5);

    const deeper = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'tree/c/', Delimiter: '/' }));
    assert.deepEqual(deeper.Contents ?? [], []);
    assert.deepEqual((deeper.CommonPrefixes ?? []).map((p) => p.Prefix), ['tree/c/d/']);

    const noDelimiter = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'tree' }));
    assert.deepEqual(
      (noDelimiter.Contents ?? []).map((o) => o.Key),
      TREE_KEYS.filter((k) => k.startsWith('tree')).sort(),
    );
    const otherDelimiter = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'tree/', Delimiter: '.' }));
    assert.deepEqual((otherDelimiter.CommonPrefixes ?? []).map((p) => p.Prefix), ['tree/a.', 'tree/z.']);
    assert.deepEqual((otherDelimiter.Contents ?? []).map((o) => o.Key), ['tree/b-sibling', 'tree/b/1', 'tree/b/2', 'tree/c/d/e']);

    const nothing = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'nothing-here/' }));
    assert.equal(nothing.KeyCount, 0);
    assert.equal(nothing.IsTruncated, false);
  });

  it('common prefixes count toward max-keys and are never repeated across pages', async () => {
    const expected = [['tree/a.txt', 'tree/b-sibling'], ['tree/b/', 'tree/c/'], ['tree/z.txt']];
    // v2 by continuation token
    let token: string | undefined;
    const v2: string[][] = [];
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'tree/', Delimiter: '/', MaxKeys: 2, ContinuationToken: token }),
      );
      v2.push([...(page.Contents ?? []).map((o) => o.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!)].sort());
      assert.equal(page.KeyCount, v2[v2.length - 1]!.length);
      token = page.NextContinuationToken;
      assert.ok(v2.length <= 3);
    } while (token);
    assert.deepEqual(v2, expected);

    // v1 by NextMarker (S3 returns it when a delimiter is given: the last key or prefix)
    let marker: string | undefined;
    const v1: string[][] = [];
    for (;;) {
      const page = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'tree/', Delimiter: '/', MaxKeys: 2, Marker: marker }));
      v1.push([...(page.Contents ?? []).map((o) => o.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!)].sort());
      if (!page.IsTruncated) break;
      assert.ok(page.NextMarker, 'NextMarker is set on a truncated page with a delimiter');
      marker = page.NextMarker;
      assert.ok(v1.length < 3);
    }
    assert.deepEqual(v1, expected);
    // A marker inside a common prefix skips the rest of that prefix.
    const inside = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'tree/', Delimiter: '/', Marker: 'tree/b/1' }));
    assert.deepEqual((inside.CommonPrefixes ?? []).map((p) => p.Prefix), ['tree/c/']);
    assert.deepEqual((inside.Contents ?? []).map((o) => o.Key), ['tree/z.txt']);
  });

  it('marker and start-after start strictly after the given key (which need not exist); continuation token wins', async () => {
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'page/', Marker: 'page/02495' }));
    assert.deepEqual((v1.Contents ?? []).map((o) => o.Key), ['page/02496', 'page/02497', 'page/02498', 'page/02499']);
    assert.equal(v1.Marker, 'page/02495');

    const v2 = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'page/', StartAfter: 'page/01000a', MaxKeys: 3 }));
    assert.deepEqual((v2.Contents ?? []).map((o) => o.Key), ['page/01001', 'page/01002', 'page/01003']);
    assert.equal(v2.StartAfter, 'page/01000a');
    assert.equal(v2.IsTruncated, true);

    const resumed = await s3.send(
      new ListObjectsV2Command({
        Bucket: BUCKET,
        Prefix: 'page/',
        StartAfter: 'page/00000',
        ContinuationToken: v2.NextContinuationToken,
        MaxKeys: 2,
      }),
    );
    assert.deepEqual((resumed.Contents ?? []).map((o) => o.Key), ['page/01004', 'page/01005']);

    const pastEnd = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'page/', StartAfter: 'page/99999' }));
    assert.equal(pastEnd.KeyCount, 0);
    assert.equal(pastEnd.IsTruncated, false);

    await expectError(
      s3.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: 'not a token!' })),
      400,
      'InvalidArgument',
    );
  });

  it('an empty continuation-token is no token: the listing starts at start-after, or at the beginning (boto3 as s3-tests sends it)', async (t) => {
    const raw = await signedRequest(server.url, 'GET', `/${BUCKET}?list-type=2&prefix=tree%2F&continuation-token=&start-after=tree%2Fb`);
    assert.equal(raw.status, 200, raw.body);
    assert.deepEqual(
      [...raw.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]),
      TREE_KEYS.filter((k) => k.startsWith('tree/') && k > 'tree/b').sort(),
    );
    assert.match(raw.body, /<ContinuationToken><\/ContinuationToken>/, 'the empty token is echoed');

    if (!BOTO3_AVAILABLE) return t.skip('python3 with boto3 is not installed');
    const viaBoto3 = await runBoto3(
      server,
      `
r = s3.list_objects_v2(Bucket=args["bucket"], Prefix="tree/", ContinuationToken="")
out({"token": r.get("ContinuationToken"), "truncated": r["IsTruncated"], "keys": [o["Key"] for o in r.get("Contents", [])]})
`,
      { bucket: BUCKET },
    );
    assert.deepEqual(viaBoto3, { token: '', truncated: false, keys: TREE_KEYS.filter((k) => k.startsWith('tree/')).sort() });
  });

  it('encoding-type=url: awkward keys, prefixes and markers come back URL-encoded and decode to the exact keys', async () => {
    const v2 = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'enc/', EncodingType: 'url' }));
    assert.equal(v2.EncodingType, 'url');
    const raw = (v2.Contents ?? []).map((o) => o.Key!);
    // The wire form escapes what XML and URLs cannot carry plainly ...
    for (const key of raw) assert.doesNotMatch(key, /[ <>&"'\t?#]/, `not encoded: ${key}`);
    // ... and decodes back to exactly what was stored, in byte order.
    const sorted = [...AWKWARD_KEYS].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual(raw.map(urlDecode), sorted);
    assert.equal(urlDecode(v2.Prefix!), 'enc/');

    const grouped = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'enc/', Delimiter: ' ', EncodingType: 'url' }));
    assert.deepEqual((grouped.CommonPrefixes ?? []).map((p) => urlDecode(p.Prefix!)), ['enc/dir ', 'enc/with ', 'enc/ünïcödé ']);
    assert.deepEqual(
      (grouped.Contents ?? []).map((o) => urlDecode(o.Key!)),
      sorted.filter((k) => !k.slice('enc/'.length).includes(' ')),
    );
    assert.equal(urlDecode(grouped.Delimiter!), ' ');

    const v1 = await s3.send(
      new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'enc/', EncodingType: 'url', Marker: 'enc/plus+sign', MaxKeys: 2 }),
    );
    assert.equal(urlDecode(v1.Marker!), 'enc/plus+sign');
    const after = sorted.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from('enc/plus+sign')) > 0).slice(0, 2);
    assert.deepEqual((v1.Contents ?? []).map((o) => urlDecode(o.Key!)), after);
    assert.equal(v1.IsTruncated, true);
  });

  it('ListObjectVersions lists every object once as its latest "null" version', async () => {
    const all = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: 'tree/' }));
    const versions = all.Versions ?? [];
    assert.deepEqual(versions.map((v) => v.Key), TREE_KEYS.filter((k) => k.startsWith('tree/')).sort());
    for (const version of versions) {
      assert.equal(version.VersionId, 'null');
      assert.equal(version.IsLatest, true);
      assert.equal(version.Size, Buffer.byteLength(version.Key!));
      assert.match(version.ETag!, /^"[0-9a-f]{32}"$/);
    }
    assert.deepEqual(all.DeleteMarkers ?? [], []);

    const grouped = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: 'tree/', Delimiter: '/' }));
    assert.deepEqual((grouped.CommonPrefixes ?? []).map((p) => p.Prefix), ['tree/b/', 'tree/c/']);
    assert.deepEqual((grouped.Versions ?? []).map((v) => v.Key), ['tree/a.txt', 'tree/b-sibling', 'tree/z.txt']);

    const seen: string[] = [];
    let keyMarker: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await s3.send(
        new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: 'page/02', MaxKeys: 200, KeyMarker: keyMarker }),
      );
      pages++;
      seen.push(...(page.Versions ?? []).map((v) => v.Key!));
      if (!page.IsTruncated) break;
      assert.ok(page.NextKeyMarker);
      keyMarker = page.NextKeyMarker;
      assert.ok(pages < 3);
    }
    assert.equal(pages, 3);
    assertNoDuplicates(seen);
    assert.deepEqual(seen, PAGE_KEYS.filter((k) => k.startsWith('page/02')));
  });

  it('listing a missing bucket is NoSuchBucket', async () => {
    await expectError(s3.send(new ListObjectsV2Command({ Bucket: 'no-such-listing' })), 404, 'NoSuchBucket');
    await expectError(s3.send(new ListObjectsCommand({ Bucket: 'no-such-listing' })), 404, 'NoSuchBucket');
    await expectError(s3.send(new ListObjectVersionsCommand({ Bucket: 'no-such-listing' })), 404, 'NoSuchBucket');
  });
});
