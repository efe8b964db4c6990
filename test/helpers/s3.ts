import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, type TestServer } from './server.js';

// The SDK warns about Node 20 on every client; the tests run on the Node the project supports.
process.env.AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING ??= '1';

/** An S3 client at its defaults (checksums, aws-chunked trailers) aimed at a test server. */
export function s3Client(
  server: TestServer,
  credentials = { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY },
  extra: Partial<S3ClientConfig> = {},
): S3Client {
  return new S3Client({ endpoint: server.url, region: 'us-east-1', forcePathStyle: true, credentials, ...extra });
}
