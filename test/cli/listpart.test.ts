import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { listAllParts } from '../../src/client/paging.js';
import type { PartSummary } from '../../src/client/types.js';
import { megabytes } from '../../src/cli/format.js';
import type { TestServer } from '../helpers/server.js';
import { client, creds, DIALECTS, md5Hex, quotedEtag, runCli, startLoggingServer } from './run.js';

const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const ELAPSED = /^\d+\.\d{6}\(s\) elapsed$/;

function utc(date: Date): string {
  return date.toISOString().replace('T', ' ').slice(0, 19);
}

/** ossutil's header and row: "%-10s\t%-32s\t%-10s\t%s\n". */
function row(a: string | number, b: string, c: string | number, d: string): string {
  return `${String(a).padEnd(10)}\t${b.padEnd(32)}\t${String(c).padEnd(10)}\t${d}\n`;
}

/** Splits off the trailing `\n<seconds>(s) elapsed\n`, checking its form. */
function withoutElapsed(stdout: string): string {
  const match = /\n([^\n]*)\n$/.exec(stdout);
  assert.ok(match, `ends with an elapsed line: ${JSON.stringify(stdout.slice(-80))}`);
  assert.match(match[1]!, ELAPSED);
  return stdout.slice(0, match.index);
}

/** The rows with their time column replaced by <TIME>, each time checked against the service's LastModified. */
function masked(stdout: string, parts: PartSummary[]): string {
  const lines = stdout.split('\n');
  let index = 0;
  return lines
    .map((line) => {
      const cells = line.split('\t');
      if (cells.length !== 4 || cells[0]!.startsWith('PartNumber')) return line;
      assert.match(cells[3]!, TIME);
      assert.equal(cells[3], utc(parts[index++]!.lastModified), `time of part ${cells[0]!.trim()}`);
      return [...cells.slice(0, 3), '<TIME>'].join('\t');
    })
    .join('\n');
}

let server: TestServer;

after(async () => {
  await server?.cleanup();
});

it("megabytes() rounds exact ties half to even, as Go's %.2f does", () => {
  assert.equal(megabytes(17_775_564), '16.95');
  assert.equal(megabytes(128 * 1024), '0.12');
  assert.equal(megabytes(384 * 1024), '0.38');
  assert.equal(megabytes(1023), '0.00');
});

// One engine under both dialects: the uploads are made once and listed through oss:// and s3://.
const bucket = 'listpart';
const key = 'videos/1500 parts+ü.bin';
let uploadId: string;
const bodies: string[] = [];
const seedObject = 'exampleobject.txt';
let seedUploadId: string;
let seedMd5: string;

before(async () => {
  server = await startLoggingServer();
  const c = client(server, 'oss');
  try {
    await c.createBucket(bucket);
    ({ uploadId } = await c.createMultipartUpload(bucket, key));
    for (let n = 1; n <= 1500; n++) bodies.push(`${n}:${'x'.repeat(n % 97)}`);
    let next = 1;
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        while (next <= 1500) {
          const n = next++;
          await c.uploadPart(bucket, key, uploadId, n, bodies[n - 1]!);
        }
      }),
    );
    // The seed page's example: parts 2, 3, 4 and 11 of 4443891 bytes.
    const data = randomBytes(4_443_891);
    seedMd5 = md5Hex(data);
    ({ uploadId: seedUploadId } = await c.createMultipartUpload(bucket, seedObject));
    for (const n of [2, 3, 4, 11]) await c.uploadPart(bucket, seedObject, seedUploadId, n, data);
  } finally {
    c.destroy();
  }
});

for (const dialect of DIALECTS) {
  describe(`tessera listpart (${dialect}://)`, () => {
    it('pages all 1500 parts and prints exactly ossutil\'s table, totals and elapsed line', async () => {
      const c = client(server, dialect);
      const parts: PartSummary[] = [];
      for await (const part of listAllParts(c, bucket, key, uploadId)) parts.push(part);
      c.destroy();
      assert.equal(parts.length, 1500);

      const result = await runCli(['listpart', `${dialect}://${bucket}/${key}`, uploadId, ...creds(server)]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      const total = bodies.reduce((sum, b) => sum + b.length, 0);
      let expected = row('PartNumber', 'Etag', 'Size(Byte)', 'LastModifyTime');
      bodies.forEach((body, i) => (expected += row(i + 1, quotedEtag(dialect, md5Hex(body)), body.length, '<TIME>')));
      expected += `\ntotal part count:1500\ttotal part size(MB):${(Math.floor(total / 1024) / 1024).toFixed(2)}\n\n`;
      assert.equal(masked(withoutElapsed(result.stdout), parts), expected);
    });

    it('--output-format json gives every part for scripts, and no elapsed line', async () => {
      const result = await runCli(['listpart', `${dialect}://${bucket}/${key}`, uploadId, '--output-format', 'json', ...creds(server)]);
      assert.equal(result.code, 0, result.stderr);
      const document = JSON.parse(result.stdout) as { bucket: string; key: string; uploadId: string; parts: Array<{ partNumber: number; etag: string; size: number; lastModified: string }>; totalPartCount: number; totalPartSize: number };
      assert.equal(document.bucket, bucket);
      assert.equal(document.key, key);
      assert.equal(document.uploadId, uploadId);
      assert.equal(document.totalPartCount, 1500);
      assert.equal(document.totalPartSize, bodies.reduce((sum, b) => sum + b.length, 0));
      assert.deepEqual(
        document.parts.map((p) => [p.partNumber, p.etag, p.size]),
        bodies.map((b, i) => [i + 1, quotedEtag(dialect, md5Hex(b)), b.length]),
      );
      assert.ok(document.parts.every((p) => !Number.isNaN(Date.parse(p.lastModified))));
    });

    it("matches the seed page's example: parts 2, 3, 4 and 11 of 4443891 bytes, 16.95 MB", async () => {
      const c = client(server, dialect);
      const parts: PartSummary[] = [];
      for await (const part of listAllParts(c, bucket, seedObject, seedUploadId)) parts.push(part);
      c.destroy();
      const result = await runCli(['listpart', `${dialect}://${bucket}/${seedObject}`, seedUploadId, ...creds(server)]);
      assert.equal(result.code, 0, result.stderr);
      const etag = quotedEtag(dialect, seedMd5);
      const expected =
        row('PartNumber', 'Etag', 'Size(Byte)', 'LastModifyTime') +
        [2, 3, 4, 11].map((n) => row(n, etag, 4443891, '<TIME>')).join('') +
        '\ntotal part count:4\ttotal part size(MB):16.95\n\n';
      // As on the seed page: the totals, two empty lines, then the elapsed line.
      assert.match(result.stdout, /\ntotal part count:4\ttotal part size\(MB\):16\.95\n\n\n\d+\.\d{6}\(s\) elapsed\n$/);
      assert.equal(masked(withoutElapsed(result.stdout), parts), expected);
    });

    it('an upload without parts prints only the elapsed line', async () => {
      const c = client(server, dialect);
      const { uploadId: empty } = await c.createMultipartUpload(bucket, `empty-${dialect}`);
      c.destroy();
      const result = await runCli(['listpart', `${dialect}://${bucket}/empty-${dialect}`, empty, ...creds(server)]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^\n\d+\.\d{6}\(s\) elapsed\n$/);
    });

    it('an unknown upload id: Error with the code, message and request id, exit 1', async () => {
      const result = await runCli(['listpart', `${dialect}://${bucket}/${key}`, 'NOSUCHUPLOAD', ...creds(server)]);
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(
        result.stderr,
        new RegExp(
          `^Error: ${dialect}: service returned error: StatusCode=404, ErrorCode=NoSuchUpload, ErrorMessage="The specified upload does not exist\\. .*", RequestId=[0-9A-F]{24}\\n$`,
        ),
      );
    });
  });
}

describe('tessera listpart usage', () => {
  it('a URL without an object: "object name is empty", the help, exit 2', async () => {
    const result = await runCli(['listpart', 'oss://some-bucket', 'UPLOADID', ...creds(server)]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^Error: object name is empty\n/);
    assert.match(result.stderr, /Usage: tessera listpart \[options\] <cloud_url> <upload_id>/);
  });

  it('a missing upload id or an unknown option: the help, exit 2', async () => {
    for (const args of [['listpart', 'oss://b/k'], ['listpart', 'oss://b/k', 'U', '--no-such-option']]) {
      const result = await runCli([...args, ...creds(server)]);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, /Usage: tessera listpart/);
    }
  });

  it('a local path instead of a URL: exit 2', async () => {
    const result = await runCli(['listpart', '/tmp/file', 'U', ...creds(server)]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /invalid cloud url: \/tmp\/file/);
  });
});

describe('tessera api (JSON, as ossutil 2.x)', () => {
  it('list-parts pages with --max-parts / --part-number-marker; list-multipart-uploads; complete and abort', async () => {
    for (const dialect of DIALECTS) {
      const common = ['--dialect', dialect, '--bucket', bucket, ...creds(server)];
      const page = await runCli(['api', 'list-parts', '--key', key, '--upload-id', uploadId, '--max-parts', '2', '--part-number-marker', '1499', ...common]);
      assert.equal(page.code, 0, page.stderr);
      const parts = JSON.parse(page.stdout) as { Key: string; IsTruncated: boolean; PartNumberMarker: number; NextPartNumberMarker: number; Part: Array<{ PartNumber: number; ETag: string; Size: number }> };
      assert.equal(parts.Key, key);
      assert.equal(parts.PartNumberMarker, 1499);
      assert.equal(parts.IsTruncated, false);
      assert.deepEqual(parts.Part.map((p) => [p.PartNumber, p.ETag, p.Size]), [[1500, quotedEtag(dialect, md5Hex(bodies[1499]!)), bodies[1499]!.length]]);

      const encoded = await runCli(['api', 'list-multipart-uploads', '--prefix', 'videos/', '--encoding-type', 'url', ...common]);
      assert.equal(encoded.code, 0, encoded.stderr);
      const uploads = JSON.parse(encoded.stdout) as { Upload: Array<{ Key: string; UploadId: string }>; IsTruncated: boolean };
      assert.deepEqual(uploads.Upload, [{ Key: 'videos%2F1500%20parts%2B%C3%BC.bin', UploadId: uploadId, Initiated: (uploads.Upload[0] as { Initiated?: string }).Initiated }]);
    }

    const c = client(server, 's3');
    const { uploadId: id } = await c.createMultipartUpload(bucket, 'to-complete');
    await c.uploadPart(bucket, 'to-complete', id, 1, 'only part');
    const { uploadId: gone } = await c.createMultipartUpload(bucket, 'to-abort');
    const done = await runCli(['api', 'complete-multipart-upload', '--bucket', bucket, '--key', 'to-complete', '--upload-id', id, '--complete-all', ...creds(server)]);
    assert.equal(done.code, 0, done.stderr);
    const completed = JSON.parse(done.stdout) as { Bucket: string; Key: string; ETag: string; HashCrc64ecma?: string };
    assert.equal(completed.Key, 'to-complete');
    assert.equal((await c.headObject(bucket, 'to-complete')).size, 'only part'.length);
    const aborted = await runCli(['api', 'abort-multipart-upload', '--dialect', 's3', '--bucket', bucket, '--key', 'to-abort', '--upload-id', gone, ...creds(server)]);
    assert.equal(aborted.code, 0, aborted.stderr);
    assert.equal(aborted.stdout, '');
    await assert.rejects(c.listParts(bucket, 'to-abort', gone), /upload does not exist/i);
    const again = await runCli(['api', 'abort-multipart-upload', '--bucket', bucket, '--key', 'to-abort', '--upload-id', gone, ...creds(server)]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /ErrorCode=NoSuchUpload/);
    const missing = await runCli(['api', 'list-parts', '--bucket', bucket, ...creds(server)]);
    assert.equal(missing.code, 2, 'required options missing');
    c.destroy();
  });
});
