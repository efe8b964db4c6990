import { S3Client } from '@aws-sdk/client-s3';
import { endsSession } from './errors';
import { currentSession, endSession, type Session } from './session';

let cached: { session: Session; client: S3Client } | undefined;

/** The S3 client for the signed-in session: this origin, path style, signed with the temporary credentials. */
export function s3Client(): S3Client {
  const session = currentSession();
  if (!session) throw new Error('You are signed out.');
  if (cached?.session === session) return cached.client;
  const client = new S3Client({
    endpoint: location.origin,
    region: session.region,
    forcePathStyle: true,
    credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken },
    // A failure is shown to the user as the server said it, at once.
    maxAttempts: 1,
    // The SDK's own checksums would frame a File as an aws-chunked stream, which it cannot do
    // with a browser's Blob; the console sends the checksums itself (uploadFile's CRC-32).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      keepDotSegments(args.request as { path?: string }, (args.input as { Bucket?: string; Key?: string }) ?? {});
      return next(args);
    },
    { step: 'build', name: 'tesseraKeepDotSegments' },
  );
  cached = { session, client };
  return client;
}

/**
 * Runs S3 calls with the session's client, `s3((client) => client.send(new ListBucketsCommand({})))`;
 * credentials the server no longer takes send the page back to sign-in.
 */
export async function s3<T>(call: (client: S3Client) => Promise<T>): Promise<T> {
  try {
    return await call(s3Client());
  } catch (err) {
    if (endsSession(err)) endSession('Your session has expired. Sign in again.');
    throw err;
  }
}

/**
 * Browsers resolve `.` and `..` path segments (even percent-encoded) before a request leaves,
 * so `a/../b` would reach `/bucket/b`. A key with such a segment is sent with its slashes
 * encoded, as one segment (`a%2F..%2Fb`), which the server reads back as the same key. The
 * SDK signs the path after this step, so the signature covers what is sent.
 */
function keepDotSegments(request: { path?: string }, input: { Bucket?: string; Key?: string }): void {
  const { Bucket: bucket, Key: key } = input;
  if (!request.path || !bucket || !key || !key.split('/').some((segment) => segment === '.' || segment === '..')) return;
  const prefix = `/${encodeURIComponent(bucket)}/`;
  if (!request.path.startsWith(prefix)) return;
  request.path = prefix + request.path.slice(prefix.length).replaceAll('/', '%2F');
}
