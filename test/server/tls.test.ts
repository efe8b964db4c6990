import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutBucketPolicyCommand,
  DeleteBucketPolicyCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import OSS from 'ali-oss';
import { readBody, unsignedPayloadHeaders } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import { CLI, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

// `tessera serve --tls-cert --tls-key`: HTTPS on the same port, with real clients trusting a test
// CA; the certificate replaced on SIGHUP while an upload is in flight; a broken replacement kept
// out; the flags' mistakes refused before anything starts.

const run = promisify(execFile);

interface Pem {
  cert: string;
  key: string;
}

interface Leaf extends Pem {
  /** SHA-256 fingerprint as tls's getPeerCertificate() gives it. */
  fingerprint: string;
}

async function makeCa(dir: string): Promise<Pem> {
  const pem = { cert: join(dir, 'ca.pem'), key: join(dir, 'ca.key') };
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=Tessera test CA', '-days', '2', '-keyout', pem.key, '-out', pem.cert]);
  return pem;
}

/** A server certificate for localhost and 127.0.0.1, signed by `ca`. */
async function makeLeaf(dir: string, name: string, ca: Pem): Promise<Leaf> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  await run('openssl', [
    'req', '-x509', '-CA', ca.cert, '-CAkey', ca.key, '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:FALSE', '-days', '2',
    '-keyout', key, '-out', cert,
  ]);
  return { cert, key, fingerprint: new X509Certificate(await readFile(cert)).fingerprint256 };
}

/** The fingerprint of the certificate a new TLS connection to `port` is shown. */
function peerFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

/** GET over HTTPS, trusting `ca`, on a fresh connection. */
function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, agent: false, headers }, (res) => void readBody(res).then(resolve, reject));
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The JSON log lines the server wrote with message `msg`. */
function logLines(server: TestServer, msg: string): Array<Record<string, unknown>> {
  return server
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === msg);
}

const ALICE = { accessKey: 'AKTLSALICE0000000001', secretKey: 'alice-tls-secret-0123456789abcdef', id: 'alice' };

const md5 = (data: Buffer) => createHash('md5').update(data).digest('base64');

let dir: string;
let ca: Pem;
let caPem: Buffer;
let first: Leaf;
let second: Leaf;
let broken: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-tls-'));
  ca = await makeCa(dir);
  caPem = await readFile(ca.cert);
  [first, second] = await Promise.all([makeLeaf(dir, 'first', ca), makeLeaf(dir, 'second', ca)]);
  broken = join(dir, 'broken.pem');
  await writeFile(broken, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('tessera serve over TLS', () => {
  let server: TestServer;
  let s3: S3Client;
  /** The files the server was started with; SIGHUP re-reads these paths. */
  let live: Pem;
  let panPort: number;
  const BUCKET = 'tls-bucket';

  before(async () => {
    live = { cert: join(dir, 'live.pem'), key: join(dir, 'live.key') };
    await copyFile(first.cert, live.cert);
    await copyFile(first.key, live.key);
    server = await startServer({
      singleNode: true,
      config: { minPartSize: 1, users: [ALICE] },
      extraArgs: ['--tls-cert', live.cert, '--tls-key', live.key, '--pan-address', '127.0.0.1:0', '--log-level', 'info'],
    });
    panPort = Number(/Tessera 123pan API listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(server.stdout())![1]);
    s3 = s3Client(server, undefined, { requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: caPem, keepAlive: true }) }) });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });

  after(async () => {
    s3?.destroy();
    await server?.cleanup();
  });

  it('listens on https (the 123pan listener too) and logs that TLS is on, with the certificate', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const [on] = logLines(server, 'TLS on: serving HTTPS');
    assert.equal(on?.certificate, live.cert);
    assert.equal(on?.fingerprint, first.fingerprint);
    assert.equal(await peerFingerprint(server.port, caPem), first.fingerprint);
    assert.equal(await peerFingerprint(panPort, caPem), first.fingerprint);
    const health = await httpsGet(`https://localhost:${panPort}/-/health`, caPem);
    assert.equal(health.status, 200);
  });

  it('the S3 SDK puts, gets and uploads in parts; Location and presigned URLs are https', async () => {
    const body = randomBytes(300 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'one', Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'one' }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);

    const parts = [randomBytes(200 * 1024), randomBytes(100 * 1024)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'dir/multi' }));
    const etags = [];
    for (const [i, part] of parts.entries()) {
      etags.push((await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'dir/multi', UploadId, PartNumber: i + 1, Body: part }))).ETag);
    }
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'dir/multi',
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    assert.equal(done.Location, `${server.url}/${BUCKET}/dir/multi`);
    const whole = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'dir/multi' }));
    assert.deepEqual(Buffer.from(await whole.Body!.transformToByteArray()), Buffer.concat(parts));

    // Signed for https://localhost:PORT: the Host header is what the signature covers.
    const byName = s3Client({ ...server, url: `https://localhost:${server.port}` }, undefined, {
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: caPem }) }),
    });
    const url = await getSignedUrl(byName, new GetObjectCommand({ Bucket: BUCKET, Key: 'one' }), { expiresIn: 300 });
    byName.destroy();
    assert.match(url, /^https:\/\/localhost:\d+\//);
    const presigned = await httpsGet(url, caPem);
    assert.equal(presigned.status, 200);
    assert.deepEqual(presigned.body, body);
  });

  it('ali-oss over https (secure: true) puts, gets and uploads in parts', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'tls-oss' }));
    const oss = new OSS({
      accessKeyId: ROOT_ACCESS_KEY,
      accessKeySecret: ROOT_SECRET_KEY,
      bucket: 'tls-oss',
      // By name: with an IP endpoint ali-oss sends Host <bucket>.<region>.aliyuncs.com and checks the certificate against that.
      endpoint: `https://localhost:${server.port}`,
      sldEnable: true,
      secure: true,
      region: 'oss-cn-hangzhou',
      timeout: 60_000,
      httpsAgent: new Agent({ ca: caPem, keepAlive: true }),
    } as OSS.Options);
    const body = randomBytes(64 * 1024);
    await oss.put('small', body);
    assert.deepEqual((await oss.get('small')).content, body);
    const file = join(dir, 'oss-multipart');
    const big = randomBytes(300 * 1024);
    await writeFile(file, big);
    const result = (await oss.multipartUpload('big', file, { partSize: 100 * 1024 })) as { res: { status: number } };
    assert.equal(result.res.status, 200);
    assert.deepEqual((await oss.get('big')).content, big);
  });

  it('the AWS CLI with --ca-bundle copies up and down', async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: ROOT_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: ROOT_SECRET_KEY };
    Object.assign(env, { AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '', AWS_EC2_METADATA_DISABLED: 'true' });
    const aws = (...args: string[]) => run('aws', ['--endpoint-url', `https://localhost:${server.port}`, '--ca-bundle', ca.cert, ...args], { env });
    const source = join(dir, 'cli-up');
    const data = randomBytes(10 * 1024);
    await writeFile(source, data);
    await aws('s3', 'cp', source, `s3://${BUCKET}/cli`);
    await aws('s3', 'cp', `s3://${BUCKET}/cli`, join(dir, 'cli-down'));
    assert.deepEqual(await readFile(join(dir, 'cli-down')), data);
    // Without the CA the CLI refuses the certificate: the bundle is what made it work.
    await assert.rejects(
      run('aws', ['--endpoint-url', `https://localhost:${server.port}`, 's3api', 'head-object', '--bucket', BUCKET, '--key', 'cli'], { env: { ...env, AWS_MAX_ATTEMPTS: '1' } }),
      /SSL|certificate/i,
    );
  });

  it('SSE-C is accepted over TLS without allowInsecureSseC', async () => {
    const key = randomBytes(32);
    const sseC = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.toString('base64'), SSECustomerKeyMD5: md5(key) };
    const body = randomBytes(4096);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sse-c', Body: body, ...sseC }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'sse-c', ...sseC }));
    assert.equal(got.SSECustomerAlgorithm, 'AES256');
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
  });

  it('aws:SecureTransport is true over TLS', async () => {
    // Root is bound by no bucket policy: a user is, even on their own bucket.
    const alice = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey }, {
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: caPem }) }),
    });
    const OWN = 'tls-alice';
    await alice.send(new CreateBucketCommand({ Bucket: OWN }));
    await alice.send(new PutObjectCommand({ Bucket: OWN, Key: 'one', Body: 'x' }));
    const policy = (secure: boolean) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${OWN}/*`, Condition: { Bool: { 'aws:SecureTransport': String(secure) } } }],
      });
    // Denied when not over TLS: this request is, so it reads.
    await alice.send(new PutBucketPolicyCommand({ Bucket: OWN, Policy: policy(false) }));
    assert.equal(await (await alice.send(new GetObjectCommand({ Bucket: OWN, Key: 'one' }))).Body!.transformToString(), 'x');
    // Denied over TLS: refused.
    await alice.send(new PutBucketPolicyCommand({ Bucket: OWN, Policy: policy(true) }));
    await assert.rejects(alice.send(new GetObjectCommand({ Bucket: OWN, Key: 'one' })), { name: 'AccessDenied' });
    await alice.send(new DeleteBucketPolicyCommand({ Bucket: OWN }));
    alice.destroy();
  });

  it('plain HTTP to the TLS port fails on that connection only; the server goes on', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: server.port, path: '/-/health', agent: false }, (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      req.end();
    });
    assert.match(outcome, /ECONNRESET|socket hang up|EPIPE/);
    assert.equal(server.process.exitCode, null);
    assert.equal((await httpsGet(`${server.url}/-/health`, caPem)).status, 200);
  });

  it('SIGHUP swaps in a new certificate for new connections while an upload on the old one completes', async () => {
    const body = randomBytes(2 * 1024 * 1024);
    const path = `/${BUCKET}/slow`;
    let oldPeer = '';
    let reloadDone!: () => void;
    const swapped = new Promise<void>((resolve) => (reloadDone = resolve));
    const response = new Promise<{ status: number }>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: server.port, method: 'PUT', path, ca: caPem, servername: 'localhost', agent: false, headers: unsignedPayloadHeaders(server.url, 'PUT', path, body.length) },
        (res) => void readBody(res).then(resolve, reject),
      );
      req.on('socket', (socket) => socket.once('secureConnect', () => (oldPeer = (socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256)));
      req.on('error', reject);
      req.write(body.subarray(0, 1024 * 1024));
      // The rest is sent once the certificate is replaced.
      void swapped.then(() => req.end(body.subarray(1024 * 1024)));
    });
    const reloaded = (async () => {
      await waitFor('the upload to start', () => oldPeer !== '');
      await replace(live, second);
      const before = logLines(server, 'TLS certificate reloaded').length;
      server.process.kill('SIGHUP');
      await waitFor('the reload', () => logLines(server, 'TLS certificate reloaded').length > before);
      assert.equal(await peerFingerprint(server.port, caPem), second.fingerprint);
      assert.equal(await peerFingerprint(panPort, caPem), second.fingerprint);
    })();
    try {
      await reloaded;
    } finally {
      reloadDone();
    }
    assert.equal((await response).status, 200);
    assert.equal(oldPeer, first.fingerprint);
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'slow' }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
    const [line] = logLines(server, 'TLS certificate reloaded').slice(-1);
    assert.equal(line?.fingerprint, second.fingerprint);
  });

  it('SIGHUP with a broken certificate keeps the one in use and says so', async () => {
    const current = await peerFingerprint(server.port, caPem);
    await writeFile(live.cert + '.new', await readFile(broken));
    await rename(live.cert + '.new', live.cert);
    const warnings = () => logLines(server, 'TLS certificate not reloaded: still serving the previous one');
    const before = warnings().length;
    server.process.kill('SIGHUP');
    await waitFor('the warning', () => warnings().length > before);
    assert.match(String(warnings().at(-1)!.err), /not a PEM certificate/);
    assert.equal(server.process.exitCode, null);
    assert.equal(await peerFingerprint(server.port, caPem), current);
    assert.equal((await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'one' }))).Body!.transformToByteArray()).length, 300 * 1024);
    // A key that is not the certificate's is refused the same way.
    await replace(live, { cert: first.cert, key: second.key });
    server.process.kill('SIGHUP');
    await waitFor('the second warning', () => warnings().length > before + 1);
    assert.match(String(warnings().at(-1)!.err), /does not belong to the certificate/);
    assert.equal(await peerFingerprint(server.port, caPem), current);
  });
});

/** Puts `next`'s files in place of `live`'s, each by a rename (as a renewal tool should). */
async function replace(live: Pem, next: Pem): Promise<void> {
  for (const [from, to] of [[next.cert, live.cert], [next.key, live.key]] as const) {
    await copyFile(from, `${to}.new`);
    await rename(`${to}.new`, to);
  }
}

describe('TLS settings that cannot serve', () => {
  /** Runs `tessera serve` to its exit; it must not start. */
  async function refused(args: string[], env: Record<string, string> = {}, config?: Record<string, unknown>): Promise<{ code: number | null; stderr: string }> {
    const data = await mkdtemp(join(tmpdir(), 'tessera-tls-refused-'));
    const extra: string[] = [];
    if (config) {
      await writeFile(join(data, 'config.json'), JSON.stringify(config));
      extra.push('--config', join(data, 'config.json'));
    }
    const cleanEnv: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('TESSERA_')) cleanEnv[name] = value;
    const child = spawn(process.execPath, [CLI, 'serve', '--data', join(data, 'd'), '--address', '127.0.0.1:0', ...extra, ...args], {
      env: { ...cleanEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout!.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    await rm(data, { recursive: true, force: true });
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    return { code, stderr };
  }

  it('one of the pair without the other is a usage error (exit 2) naming the missing one', async () => {
    let result = await refused(['--tls-cert', first.cert]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no private key: add --tls-key/);
    result = await refused(['--tls-key', first.key]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no certificate: add --tls-cert/);
    result = await refused([], { TESSERA_TLS_CERT: first.cert });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--tls-key/);
    result = await refused([], {}, { tlsKey: first.key });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--tls-cert/);
    result = await refused([], {}, { tlsCert: 42, tlsKey: first.key });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /tlsCert must be a file name/);
  });

  it('a missing, broken or mismatched file stops the start with one line naming it', async () => {
    let result = await refused(['--tls-cert', join(dir, 'absent.pem'), '--tls-key', first.key]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /TLS certificate .*absent\.pem: cannot read it \(ENOENT\)/);
    result = await refused(['--tls-cert', broken, '--tls-key', first.key]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /broken\.pem: not a PEM certificate/);
    result = await refused(['--tls-cert', first.cert, '--tls-key', first.cert]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /TLS private key .*first\.pem: not an unencrypted PEM private key/);
    result = await refused(['--tls-cert', first.cert, '--tls-key', second.key]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /second\.key does not belong to the certificate .*first\.pem/);
  });

  it('the pair from the environment or the config file turns TLS on', async () => {
    for (const how of ['env', 'config'] as const) {
      const server = await startServer({
        singleNode: true,
        ...(how === 'env' ? { env: { TESSERA_TLS_CERT: first.cert, TESSERA_TLS_KEY: first.key } } : { config: { tlsCert: first.cert, tlsKey: first.key } }),
      });
      try {
        assert.match(server.url, /^https:/, how);
        assert.equal(await peerFingerprint(server.port, caPem), first.fingerprint);
      } finally {
        await server.cleanup();
      }
    }
  });
});
