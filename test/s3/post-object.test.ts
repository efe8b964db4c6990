/**
 * S3 POST Object (browser form uploads): boto3's generate_presigned_post and curl -F as a user
 * would run them, the object read back with the AWS SDK; then every refusal as raw HTTP with the
 * exact S3 code, and a client that hangs up mid-file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { assertS3Error } from '../helpers/assertions.js';
import { rawRequest } from '../helpers/raw.js';
import { BOTO3_AVAILABLE, runBoto3 } from '../helpers/boto3.js';
import { formAroundFile, multipartBody, postForm, s3PolicyFields, xmlText, type Fields, type FilePart } from '../helpers/form.js';
import { signInApi } from '../helpers/console.js';
import { s3Client } from '../helpers/s3.js';
import { filesUnder, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';
import { deriveSigningKey, signature } from '../../src/dialects/s3/sigv4.js';

const run = promisify(execFile);
const BUCKET = 'forms';
const DOMAIN = 's3.local';
const ALICE = { accessKey: 'alice', secretKey: 'alice-secret-key-0123456789' };
const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');
const sha256Base64 = (data: Buffer) => createHash('sha256').update(data).digest('base64');
const MiB = 1024 * 1024;

/** A process's resident set, from /proc (Linux). */
async function rssOf(pid: number): Promise<number> {
  return Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

describe('S3 POST Object', () => {
  let server: TestServer;
  let s3: S3Client;
  let scratch: string;

  before(async () => {
    server = await startServer({ config: { users: [ALICE] }, extraArgs: ['--domain', DOMAIN] });
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    scratch = await mkdtemp(join(tmpdir(), 'tessera-post-'));
  });

  after(async () => {
    s3?.destroy();
    await server?.cleanup();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function readBack(key: string): Promise<{ body: Buffer; contentType?: string; metadata?: Record<string, string>; etag?: string }> {
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return { body: Buffer.from(await got.Body!.transformToByteArray()), contentType: got.ContentType, metadata: got.Metadata, etag: got.ETag };
  }

  async function missing(key: string): Promise<boolean> {
    try {
      await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      return false;
    } catch (err) {
      return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
    }
  }

  /** A form for `key` under a policy that allows `uploads/…` of 1 to 1,000 bytes, signed by root. */
  function signedForm(options: { conditions?: unknown[]; fields?: Fields; file?: FilePart | null; expiration?: Date; after?: Fields; key?: string } = {}) {
    const auth = s3PolicyFields({
      conditions: options.conditions ?? [{ bucket: BUCKET }, ['starts-with', '$key', 'uploads/'], ['content-length-range', 1, 1000]],
      expiration: options.expiration,
    });
    const fields: Fields = [...(options.key === undefined ? [['key', 'uploads/raw.txt'] as [string, string]] : options.key === '' ? [] : [['key', options.key] as [string, string]]), ...auth.fields, ...(options.fields ?? [])];
    const file = options.file === null ? undefined : (options.file ?? { filename: 'raw.txt', content: 'raw form upload', contentType: 'text/plain' });
    return { form: multipartBody(fields, file, options.after), auth, fields };
  }

  it('boto3 generate_presigned_post, then curl -F, stores the file with its type and metadata', { skip: !BOTO3_AVAILABLE && 'python3 boto3 is not installed' }, async () => {
    const content = randomBytes(4096);
    const path = join(scratch, 'photo.bin');
    await writeFile(path, content);
    const post = (await runBoto3(
      server,
      `
post = s3.generate_presigned_post(
    args["bucket"], "uploads/\${filename}",
    Fields={"Content-Type": "image/png", "x-amz-meta-owner": "eric"},
    Conditions=[
        ["starts-with", "$key", "uploads/"],
        ["starts-with", "$Content-Type", "image/"],
        {"x-amz-meta-owner": "eric"},
        ["content-length-range", 1, 10000],
    ],
    ExpiresIn=300,
)
out(post)
`,
      { bucket: BUCKET },
    )) as { url: string; fields: Record<string, string> };
    assert.equal(post.url, `${server.url}/${BUCKET}`);
    const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}'];
    for (const [name, value] of Object.entries(post.fields)) args.push('--form-string', `${name}=${value}`);
    args.push('-F', `file=@${path}`, post.url);
    const { stdout } = await run('curl', args);
    assert.equal(stdout, '204');

    const stored = await readBack('uploads/photo.bin');
    assert.ok(stored.body.equals(content), 'the bytes read back are the bytes posted');
    assert.equal(stored.contentType, 'image/png');
    assert.deepEqual(stored.metadata, { owner: 'eric' });
    assert.equal(stored.etag, `"${md5(content)}"`, 'the ETag is the MD5, as for PUT');
  });

  it('boto3 conditions are enforced: a file over content-length-range is EntityTooLarge and stores nothing', { skip: !BOTO3_AVAILABLE && 'python3 boto3 is not installed' }, async () => {
    const path = join(scratch, 'big.bin');
    await writeFile(path, randomBytes(2048));
    const post = (await runBoto3(
      server,
      `out(s3.generate_presigned_post(args["bucket"], "uploads/too-big.bin", Conditions=[["content-length-range", 1, 1024]], ExpiresIn=300))`,
      { bucket: BUCKET },
    )) as { url: string; fields: Record<string, string> };
    const args = ['-s'];
    for (const [name, value] of Object.entries(post.fields)) args.push('--form-string', `${name}=${value}`);
    args.push('-F', `file=@${path}`, post.url);
    const { stdout } = await run('curl', args);
    assert.equal(xmlText(stdout, 'Code'), 'EntityTooLarge', stdout);
    assert.equal(xmlText(stdout, 'MaxSizeAllowed'), '1024');
    assert.ok(await missing('uploads/too-big.bin'));
  });

  it('boto3 at its default signature version signs the policy with V2: InvalidRequest saying what to set', { skip: !BOTO3_AVAILABLE && 'python3 boto3 is not installed' }, async () => {
    const path = join(scratch, 'v2.txt');
    await writeFile(path, 'v2');
    const post = (await runBoto3(
      server,
      `
v2 = boto3.client("s3", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1", aws_access_key_id=access_key,
                  aws_secret_access_key=secret_key, config=Config(s3={"addressing_style": "path"}))
out(v2.generate_presigned_post(args["bucket"], "uploads/v2.txt", ExpiresIn=300))
`,
      { bucket: BUCKET },
    )) as { url: string; fields: Record<string, string> };
    assert.ok('AWSAccessKeyId' in post.fields && 'signature' in post.fields, 'a V2 form');
    const args = ['-s'];
    for (const [name, value] of Object.entries(post.fields)) args.push('--form-string', `${name}=${value}`);
    args.push('-F', `file=@${path}`, post.url);
    const { stdout } = await run('curl', args);
    assert.equal(xmlText(stdout, 'Code'), 'InvalidRequest', stdout);
    assert.match(xmlText(stdout, 'Message')!, /signature_version="s3v4"/);
    assert.ok(await missing('uploads/v2.txt'));
  });

  it('success_action_status 201 answers the PostResponse document; ${filename} takes the file part\'s name', async () => {
    const content = 'created with 201';
    const { form } = signedForm({
      key: 'uploads/${filename}',
      conditions: [{ bucket: BUCKET }, ['starts-with', '$key', 'uploads/'], { success_action_status: '201' }],
      fields: [['success_action_status', '201']],
      file: { filename: 'C:\\Users\\eric\\report.txt', content },
    });
    const res = await postForm(server, `/${BUCKET}`, form);
    assert.equal(res.status, 201, res.body);
    assert.equal(xmlText(res.body, 'Bucket'), BUCKET);
    assert.equal(xmlText(res.body, 'Key'), 'uploads/report.txt');
    assert.equal(xmlText(res.body, 'ETag'), `"${md5(content)}"`);
    assert.equal(xmlText(res.body, 'Location'), `http://127.0.0.1:${server.port}/${BUCKET}/uploads%2Freport.txt`);
    assert.equal(res.headers.etag, `"${md5(content)}"`);
    assert.equal((await readBack('uploads/report.txt')).body.toString(), content);
  });

  it("a policy signed with the console's temporary credentials carries their token as a field", async () => {
    const session = await signInApi(server);
    const content = 'posted in a session';
    const conditions = [{ bucket: BUCKET }, ['starts-with', '$key', 'uploads/'], { 'x-amz-security-token': session.sessionToken }];
    const auth = s3PolicyFields({ conditions, credentials: session });
    const fields: Fields = [['key', 'uploads/session.txt'], ...auth.fields, ['x-amz-security-token', session.sessionToken]];
    const res = await postForm(server, `/${BUCKET}`, multipartBody(fields, { filename: 'session.txt', content }));
    assert.equal(res.status, 204, res.body);
    assert.equal((await readBack('uploads/session.txt')).body.toString(), content);

    // The same form with the token altered: refused before the file is stored.
    const forged = fields.map(([name, value]): [string, string] => [name, name === 'x-amz-security-token' ? value.slice(0, -4) + 'AAAA' : value]);
    const refused = await postForm(server, `/${BUCKET}`, multipartBody(forged, { filename: 'forged.txt', content }));
    assertS3Error(refused, 400, 'InvalidToken');
    // A temporary key without its token names no one.
    const tokenless = fields.filter(([name]) => name !== 'x-amz-security-token');
    assertS3Error(await postForm(server, `/${BUCKET}`, multipartBody(tokenless, { filename: 'tokenless.txt', content })), 403, 'InvalidAccessKeyId');
  });

  it('success_action_status 200 answers an empty 200; any other value 204', async () => {
    for (const [status, expected] of [['200', 200], ['302', 204]] as const) {
      const { form } = signedForm({
        key: `uploads/status-${status}`,
        conditions: [{ bucket: BUCKET }, ['starts-with', '$key', 'uploads/'], ['starts-with', '$success_action_status', '']],
        fields: [['success_action_status', status]],
      });
      const res = await postForm(server, `/${BUCKET}`, form);
      assert.equal(res.status, expected, res.body);
      assert.equal(res.body, '');
    }
  });

  it('success_action_redirect answers 303 to the URL with bucket, key and etag', async () => {
    const content = 'redirected';
    const { form } = signedForm({
      key: 'uploads/redirected.txt',
      conditions: [{ bucket: BUCKET }, ['starts-with', '$key', 'uploads/'], ['starts-with', '$success_action_redirect', 'https://app.example/']],
      fields: [['success_action_redirect', 'https://app.example/done?from=form']],
      file: { filename: 'r.txt', content },
    });
    const res = await postForm(server, `/${BUCKET}`, form);
    assert.equal(res.status, 303, res.body);
    const location = new URL(res.headers.location as string);
    assert.equal(location.origin + location.pathname, 'https://app.example/done');
    assert.equal(location.searchParams.get('from'), 'form');
    assert.equal(location.searchParams.get('bucket'), BUCKET);
    assert.equal(location.searchParams.get('key'), 'uploads/redirected.txt');
    assert.equal(location.searchParams.get('etag'), `"${md5(content)}"`);
  });

  it('virtual-host style: POST / to <bucket>.<domain>', async () => {
    const { form } = signedForm({ key: 'uploads/vhost.txt' });
    const host = `${BUCKET}.${DOMAIN}:${server.port}`;
    const res = await postForm(server, '/', form, host);
    assert.equal(res.status, 204, res.body);
    assert.equal(res.headers.location, `http://${host}/uploads%2Fvhost.txt`);
    assert.equal((await readBack('uploads/vhost.txt')).body.toString(), 'raw form upload');
  });

  it('a Content-Type starts-with takes a comma-separated list when each type matches', async () => {
    const conditions = [{ bucket: BUCKET }, ['starts-with', '$key', 'uploads/'], ['starts-with', '$Content-Type', 'image/']];
    const ok = signedForm({ key: 'uploads/types', conditions, fields: [['Content-Type', 'image/png,image/jpeg']] });
    assert.equal((await postForm(server, `/${BUCKET}`, ok.form)).status, 204);
    const bad = signedForm({ key: 'uploads/types', conditions, fields: [['Content-Type', 'image/png,text/html']] });
    const res = await postForm(server, `/${BUCKET}`, bad.form);
    const doc = assertS3Error(res, 403, 'AccessDenied');
    assert.equal(doc.Message, 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "image/"]');
  });

  it('x-amz-checksum-sha256 and Content-MD5 fields are verified; the checksum is stored', async () => {
    const content = randomBytes(700);
    const conditions = [{ bucket: BUCKET }, ['starts-with', '$key', 'uploads/'], ['starts-with', '$x-amz-checksum-sha256', ''], ['starts-with', '$Content-MD5', '']];
    const good = signedForm({
      key: 'uploads/checked.bin',
      conditions,
      fields: [['x-amz-checksum-sha256', sha256Base64(content)], ['Content-MD5', createHash('md5').update(content).digest('base64')]],
      file: { filename: 'c.bin', content },
    });
    const res = await postForm(server, `/${BUCKET}`, good.form);
    assert.equal(res.status, 204, res.body);
    assert.equal(res.headers['x-amz-checksum-sha256'], sha256Base64(content));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/checked.bin', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumSHA256, sha256Base64(content));
    await got.Body!.transformToByteArray();

    const wrongChecksum = signedForm({ key: 'uploads/bad-checksum.bin', conditions, fields: [['x-amz-checksum-sha256', sha256Base64(randomBytes(4))]], file: { filename: 'c.bin', content } });
    assertS3Error(await postForm(server, `/${BUCKET}`, wrongChecksum.form), 400, 'BadDigest');
    const wrongMd5 = signedForm({ key: 'uploads/bad-md5.bin', conditions, fields: [['Content-MD5', createHash('md5').update('other').digest('base64')]], file: { filename: 'c.bin', content } });
    assertS3Error(await postForm(server, `/${BUCKET}`, wrongMd5.form), 400, 'BadDigest');
    assert.ok(await missing('uploads/bad-checksum.bin'));
    assert.ok(await missing('uploads/bad-md5.bin'));
  });

  it('fields after the file are ignored; a file sent as a text field is the content', async () => {
    const { form } = signedForm({ key: 'uploads/text-field', file: { content: 'typed into a textarea' }, after: [['x-amz-meta-late', 'ignored'], ['key', 'uploads/other']] });
    assert.equal((await postForm(server, `/${BUCKET}`, form)).status, 204);
    const stored = await readBack('uploads/text-field');
    assert.equal(stored.body.toString(), 'typed into a textarea');
    assert.deepEqual(stored.metadata, {});
    assert.ok(await missing('uploads/other'));
  });

  it('acl: what PUT takes is honoured (test/s3/acl.test.ts), anything else refused as on PUT', async () => {
    const conditions = [{ bucket: BUCKET }, ['starts-with', '$key', 'uploads/'], ['starts-with', '$acl', '']];
    const ok = signedForm({ key: 'uploads/acl-private', conditions, fields: [['acl', 'private']] });
    assert.equal((await postForm(server, `/${BUCKET}`, ok.form)).status, 204);
    const open = signedForm({ key: 'uploads/acl-public', conditions, fields: [['acl', 'everyone-please']] });
    const doc = assertS3Error(await postForm(server, `/${BUCKET}`, open.form), 400, 'InvalidArgument');
    assert.equal(doc.ArgumentName, 'x-amz-acl');
    const sse = signedForm({ key: 'uploads/sse', conditions: [...conditions, ['starts-with', '$x-amz-server-side-encryption', '']], fields: [['x-amz-server-side-encryption', 'AES256']] });
    assertS3Error(await postForm(server, `/${BUCKET}`, sse.form), 501, 'NotImplemented');
    assert.ok(await missing('uploads/acl-public'));
    assert.ok(await missing('uploads/sse'));
  });

  it('x-amz-expected-bucket-owner (field or header) is compared with the bucket owner', async () => {
    const conditions = [{ bucket: BUCKET }, ['starts-with', '$key', 'uploads/'], ['starts-with', '$x-amz-expected-bucket-owner', '']];
    const owner = signedForm({ key: 'uploads/owned', conditions, fields: [['x-amz-expected-bucket-owner', 'root']] });
    assert.equal((await postForm(server, `/${BUCKET}`, owner.form)).status, 204);
    const other = signedForm({ key: 'uploads/not-owned', conditions, fields: [['x-amz-expected-bucket-owner', 'alice']] });
    assertS3Error(await postForm(server, `/${BUCKET}`, other.form), 403, 'AccessDenied');
    const viaHeader = signedForm({ key: 'uploads/not-owned' });
    const res = await rawRequest(server.url, {
      method: 'POST',
      path: `/${BUCKET}`,
      headers: { 'content-type': viaHeader.form.contentType, 'x-amz-expected-bucket-owner': 'alice' },
      body: viaHeader.form.body,
    });
    assertS3Error(res, 403, 'AccessDenied');
    assert.ok(await missing('uploads/not-owned'));
  });

  describe('refusals', () => {
    it('an expired policy: AccessDenied, Policy expired', async () => {
      const { form } = signedForm({ expiration: new Date(Date.now() - 1000) });
      const doc = assertS3Error(await postForm(server, `/${BUCKET}`, form), 403, 'AccessDenied');
      assert.equal(doc.Message, 'Invalid according to Policy: Policy expired.');
    });

    it('a policy changed after signing, or a changed signature: SignatureDoesNotMatch', async () => {
      const { fields } = signedForm();
      const other = s3PolicyFields({ conditions: [['starts-with', '$key', '']] });
      const tamperedPolicy = fields.map(([name, value]): [string, string] => [name, name === 'policy' ? other.policy : value]);
      const file = { filename: 'x.txt', content: 'x' };
      assertS3Error(await postForm(server, `/${BUCKET}`, multipartBody(tamperedPolicy, file)), 403, 'SignatureDoesNotMatch');
      const tamperedSignature = fields.map(([name, value]): [string, string] => [name, name === 'x-amz-signature' ? value.replace(/^./, (c) => (c === '0' ? '1' : '0')) : value]);
      assertS3Error(await postForm(server, `/${BUCKET}`, multipartBody(tamperedSignature, file)), 403, 'SignatureDoesNotMatch');
    });

    it('a key outside the starts-with: AccessDenied naming the condition', async () => {
      const { form } = signedForm({ key: 'elsewhere/x.txt' });
      const doc = assertS3Error(await postForm(server, `/${BUCKET}`, form), 403, 'AccessDenied');
      assert.equal(doc.Message, 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "uploads/"]');
      assert.ok(await missing('elsewhere/x.txt'));
    });

    it('a file over or under content-length-range: EntityTooLarge / EntityTooSmall, nothing stored or left behind', async () => {
      const tooBig = signedForm({ key: 'uploads/too-big', file: { filename: 'b', content: randomBytes(1001) } });
      const big = assertS3Error(await postForm(server, `/${BUCKET}`, tooBig.form), 400, 'EntityTooLarge');
      assert.equal(big.MaxSizeAllowed, '1000');
      const tooSmall = signedForm({ key: 'uploads/too-small', file: { filename: 's', content: '' } });
      const small = assertS3Error(await postForm(server, `/${BUCKET}`, tooSmall.form), 400, 'EntityTooSmall');
      assert.equal(small.MinSizeAllowed, '1');
      assert.equal(small.ProposedSize, '0');
      assert.ok(await missing('uploads/too-big'));
      assert.ok(await missing('uploads/too-small'));
      assert.deepEqual(await filesUnder(join(server.dataDir, 'tmp')), [], 'no staged file is left');
    });

    it('a field no condition names: AccessDenied, Extra input fields', async () => {
      const { form } = signedForm({ fields: [['x-amz-meta-extra', 'sneaked in']] });
      const doc = assertS3Error(await postForm(server, `/${BUCKET}`, form), 403, 'AccessDenied');
      assert.equal(doc.Message, 'Invalid according to Policy: Extra input fields: x-amz-meta-extra');
    });

    it('x-ignore-* fields need no condition', async () => {
      const { form } = signedForm({ key: 'uploads/ignored-field', fields: [['x-ignore-tracking', 'abc']] });
      assert.equal((await postForm(server, `/${BUCKET}`, form)).status, 204);
    });

    it('no key field: InvalidArgument', async () => {
      const { form } = signedForm({ key: '' });
      const doc = assertS3Error(await postForm(server, `/${BUCKET}`, form), 400, 'InvalidArgument');
      assert.equal(doc.Message, "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.");
      assert.equal(doc.ArgumentName, 'key');
    });

    it('a key field after the file counts as none', async () => {
      const { form } = signedForm({ key: '', after: [['key', 'uploads/late-key']] });
      assertS3Error(await postForm(server, `/${BUCKET}`, form), 400, 'InvalidArgument');
      assert.ok(await missing('uploads/late-key'));
    });

    it('no file: InvalidArgument', async () => {
      const { form } = signedForm({ file: null });
      const doc = assertS3Error(await postForm(server, `/${BUCKET}`, form), 400, 'InvalidArgument');
      assert.equal(doc.Message, 'POST requires exactly one file upload per request.');
    });

    it('a body that is not multipart/form-data: MalformedPOSTRequest', async () => {
      const res = await postForm(server, `/${BUCKET}`, { body: Buffer.from('--nope\r\nthis is not a form'), contentType: 'multipart/form-data; boundary=other' });
      assertS3Error(res, 400, 'MalformedPOSTRequest');
    });

    it('a form without a boundary, or one that breaks off in the file: MalformedPOSTRequest, nothing stored', async () => {
      assertS3Error(await postForm(server, `/${BUCKET}`, { body: Buffer.from('key=a'), contentType: 'multipart/form-data' }), 400, 'MalformedPOSTRequest');
      const { form } = signedForm({ key: 'uploads/cut-short', file: { filename: 'c', content: randomBytes(900) } });
      const cut = { body: form.body.subarray(0, form.body.length - 300), contentType: form.contentType };
      assertS3Error(await postForm(server, `/${BUCKET}`, cut), 400, 'MalformedPOSTRequest');
      assert.ok(await missing('uploads/cut-short'));
      assert.deepEqual(await filesUnder(join(server.dataDir, 'tmp')), [], 'no staged file is left');
    });

    it('fields before the file over 20 KB: MaxPostPreDataLengthExceeded', async () => {
      const { form } = signedForm({ conditions: [['starts-with', '$key', ''], ['starts-with', '$x-amz-meta-big', '']], fields: [['x-amz-meta-big', 'x'.repeat(21 * 1024)]] });
      const doc = assertS3Error(await postForm(server, `/${BUCKET}`, form), 400, 'MaxPostPreDataLengthExceeded');
      assert.equal(doc.MaxPostPreDataLengthBytes, '20480');
    });

    it('a malformed policy (signed): InvalidPolicyDocument', async () => {
      const { fields } = signedForm();
      const date = fields.find(([name]) => name === 'x-amz-date')![1];
      // A malformed document, signed as a careless application server would sign it.
      const policy = Buffer.from('{"expiration": "soon", "conditions": []}').toString('base64');
      const signed = signature(deriveSigningKey(ROOT_SECRET_KEY, date.slice(0, 8), 'us-east-1', 's3'), policy);
      const withPolicy = fields.map(([name, value]): [string, string] => [name, name === 'policy' ? policy : name === 'x-amz-signature' ? signed : value]);
      const doc = assertS3Error(await postForm(server, `/${BUCKET}`, multipartBody(withPolicy, { filename: 'x', content: 'x' })), 400, 'InvalidPolicyDocument');
      assert.equal(doc.Message, "Invalid Policy: Invalid 'expiration' value: 'soon'");
    });

    it('a missing bucket: NoSuchBucket; another user\'s bucket: AccessDenied', async () => {
      const { form } = signedForm({ conditions: [['starts-with', '$key', '']] });
      assertS3Error(await postForm(server, '/no-such-bucket', form), 404, 'NoSuchBucket');
      const alice = s3PolicyFields({ conditions: [['starts-with', '$key', '']], credentials: { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey } });
      const res = await postForm(server, `/${BUCKET}`, multipartBody([['key', 'uploads/alice'], ...alice.fields], { filename: 'a', content: 'a' }));
      assertS3Error(res, 403, 'AccessDenied');
      assert.ok(await missing('uploads/alice'));
    });

    it('no policy at all: AccessDenied (no bucket is public); Signature V2 fields: InvalidRequest', async () => {
      assertS3Error(await postForm(server, `/${BUCKET}`, multipartBody([['key', 'uploads/anon']], { filename: 'a', content: 'a' })), 403, 'AccessDenied');
      const v2 = multipartBody([['key', 'uploads/v2'], ['AWSAccessKeyId', 'tessera-root'], ['policy', 'e30='], ['signature', 'abc=']], { filename: 'a', content: 'a' });
      assertS3Error(await postForm(server, `/${BUCKET}`, v2), 400, 'InvalidRequest');
    });
  });

  it('a client that hangs up mid-file leaves nothing behind', async () => {
    const key = 'uploads/hung-up';
    const { form } = signedForm({ key, conditions: [['starts-with', '$key', 'uploads/']], file: { filename: 'h', content: randomBytes(8 * 1024 * 1024) } });
    const blobsBefore = (await filesUnder(join(server.dataDir, 'blobs'))).length;
    const socket = connect(server.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /${BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: ${form.contentType}\r\nContent-Length: ${form.body.length}\r\n\r\n`,
    );
    // The fields and half the file, then the client is gone.
    socket.write(form.body.subarray(0, form.body.length / 2));
    const tmp = join(server.dataDir, 'tmp');
    for (let i = 0; i < 250 && (await filesUnder(tmp)).length === 0; i++) await sleep(20);
    assert.equal((await filesUnder(tmp)).length, 1, 'the file is being staged when the client hangs up');
    socket.destroy();
    let left = await filesUnder(tmp);
    for (let i = 0; i < 250 && left.length > 0; i++) {
      await sleep(20);
      left = await filesUnder(tmp);
    }
    assert.deepEqual(left, [], 'the staged half-file is removed');
    assert.equal((await filesUnder(join(server.dataDir, 'blobs'))).length, blobsBefore, 'no blob was added');
    assert.ok(await missing(key));
  });
});

describe('S3 POST Object streams the file', () => {
  let server: TestServer;

  before(async () => {
    // One process: its RSS is what is measured.
    server = await startServer({ singleNode: true });
    const s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    s3.destroy();
  });

  after(async () => {
    await server?.cleanup();
  });

  /** POSTs a form whose file is `size` bytes generated as the socket takes them; the status and the file's MD5. */
  async function postStreamed(key: string, size: number): Promise<{ status: number; md5: string }> {
    const { fields } = s3PolicyFields({ conditions: [['starts-with', '$key', ''], ['content-length-range', 0, size]] });
    const { prefix, suffix, contentType } = formAroundFile([['key', key], ...fields], key);
    const base = randomBytes(MiB);
    const hash = createHash('md5');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.port,
          method: 'POST',
          path: `/${BUCKET}`,
          headers: { 'content-type': contentType, 'content-length': prefix.length + size + suffix.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.write(prefix);
      let sent = 0;
      // 1 MiB chunks, each stamped with its index.
      const pump = () => {
        while (sent < size) {
          const chunk = Buffer.from(base);
          chunk.writeUInt32BE(sent / MiB, 0);
          hash.update(chunk);
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end(suffix);
      };
      pump();
    });
    return { status, md5: hash.digest('hex') };
  }

  it('a 256 MiB file grows the server by far less than its size', async (t) => {
    // The first large body sizes the engine's staging slots and hash workers, as a PUT's would.
    assert.equal((await postStreamed('warm-up.bin', 32 * MiB)).status, 204);
    const size = 256 * MiB;
    const before = await rssOf(server.process.pid!);
    let peak = before;
    const sampler = setInterval(() => void rssOf(server.process.pid!).then((value) => (peak = Math.max(peak, value)), () => {}), 100);
    const posted = await postStreamed('big.bin', size);
    clearInterval(sampler);
    peak = Math.max(peak, await rssOf(server.process.pid!));
    assert.equal(posted.status, 204);
    t.diagnostic(`RSS ${(before / MiB).toFixed(1)} MiB before, peak ${(peak / MiB).toFixed(1)} MiB`);
    const growth = peak - before;
    assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB while ${size / MiB} MiB were posted`);
    const s3 = s3Client(server);
    const stored = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'big.bin' }));
    s3.destroy();
    assert.equal(stored.ContentLength, size);
    assert.equal(stored.ETag, `"${posted.md5}"`);
  });
});
