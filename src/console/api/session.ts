import { ConsoleError } from './errors';

/** What sign-in answers: temporary credentials, the region to sign for, and who they stand for. */
export interface Session {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO time at which the server stops accepting the credentials. */
  expiration: string;
  region: string;
  /** `panDrive`: a 123pan app acts as this user, who has a drive. */
  user: { id: string; displayName: string; root: boolean; panDrive?: boolean };
}

/**
 * Only the temporary credentials are kept, in sessionStorage: one tab's, gone when it closes.
 * The long-term secret key is sent once, to sign in, and never stored.
 */
const STORAGE_KEY = 'tessera.console.session';
export const SIGN_IN_PATH = '/-/console/api/session';

type Listener = (session: Session | undefined, reason?: string) => void;
const listeners = new Set<Listener>();
let current: Session | undefined = readStored();
let expiryTimer: number | undefined;
scheduleExpiry();

export function currentSession(): Session | undefined {
  return current;
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export async function signIn(accessKey: string, secretKey: string): Promise<Session> {
  const response = await fetch(SIGN_IN_PATH, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ accessKey, secretKey }),
    credentials: 'omit',
    cache: 'no-store',
  });
  const body = (await response.json().catch(() => ({}))) as Partial<Session> & { code?: string; message?: string };
  if (!response.ok) throw new ConsoleError(body.message ?? `Sign-in failed (${response.status}).`, body.code, response.status);
  const session = body as Session;
  setSession(session);
  return session;
}

/** Forgets the credentials (sign-out, or the server said they ended); `reason` is shown on the sign-in page. */
export function endSession(reason?: string): void {
  setSession(undefined, reason);
}

function setSession(session: Session | undefined, reason?: string): void {
  current = session;
  if (session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(STORAGE_KEY);
  scheduleExpiry();
  for (const listener of listeners) listener(session, reason);
}

function readStored(): Session | undefined {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Session | null;
    return stored && typeof stored.sessionToken === 'string' ? stored : undefined;
  } catch {
    return undefined;
  }
}

/** Back to sign-in when the credentials run out, without waiting for a request to fail. */
function scheduleExpiry(): void {
  if (expiryTimer !== undefined) clearTimeout(expiryTimer);
  expiryTimer = undefined;
  if (!current) return;
  const remaining = Date.parse(current.expiration) - Date.now();
  // setTimeout holds at most ~24.8 days; sessions are far shorter.
  if (remaining < 2 ** 31) expiryTimer = window.setTimeout(() => endSession('Your session has expired. Sign in again.'), Math.max(0, remaining));
}
