import { ConsoleError, endsSession } from './errors';
import { currentSession, endSession } from './session';
import { signRequest } from './sigv4';

export const API_BASE = '/-/console/api/';

/**
 * A call to the console's own API (what S3 cannot answer), signed with the session's
 * temporary credentials like an S3 request. The session token alone is not enough to call it:
 * it also travels in presigned URLs, which must not open the API to whoever holds one.
 */
export async function consoleApi<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const session = currentSession();
  if (!session) throw new ConsoleError('You are signed out.', 'SignedOut');
  const url = new URL(API_BASE + path, location.origin);
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers = await signRequest({
    method,
    url,
    headers: text === undefined ? {} : { 'content-type': 'application/json' },
    body: text,
    credentials: session,
    region: session.region,
  });
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body: text, credentials: 'omit', cache: 'no-store' });
  } catch (err) {
    throw new ConsoleError(`The server could not be reached: ${(err as Error).message}`);
  }
  const answer = (await response.json().catch(() => undefined)) as (T & { code?: string; message?: string }) | undefined;
  if (!response.ok) {
    const error = new ConsoleError(answer?.message ?? `The server answered ${response.status}.`, answer?.code, response.status);
    if (endsSession(error)) endSession('Your session has expired. Sign in again.');
    throw error;
  }
  return answer as T;
}
