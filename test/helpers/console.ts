import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { TemporaryCredentials, type IssuedCredentials } from '../../src/core/temporary-credentials.js';
import { UserDirectory, type User } from '../../src/core/users.js';
import { sha256Hex, signRequest } from '../../src/dialects/s3/sigv4.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, type TestServer } from './server.js';

export const CONSOLE = '/-/console/';

/** What the console's sign-in answers. */
export interface ConsoleSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: string;
  region: string;
  user: { id: string; displayName: string; root: boolean; panDrive: boolean };
}

/** Signs in through the console API (as the page does): the HTTP status and the JSON answer. */
export async function postSession(server: TestServer, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number; headers: Headers; json: any }> {
  const response = await fetch(new URL('/-/console/api/session', server.url), { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, headers: response.headers, json: await response.json() };
}

export async function signInApi(server: TestServer, accessKey = ROOT_ACCESS_KEY, secretKey = ROOT_SECRET_KEY): Promise<ConsoleSession> {
  const { status, json } = await postSession(server, { accessKey, secretKey });
  assert.equal(status, 200, JSON.stringify(json));
  return json as ConsoleSession;
}

/** A console API call signed with SigV4 (temporary credentials carry their token), as the page signs it. */
export async function consoleApi(
  server: TestServer,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const url = new URL(`/-/console/api/${path}`, server.url);
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = text === undefined ? {} : { 'content-type': 'application/json' };
  const signed = signRequest({ method, url, headers, payloadHash: sha256Hex(text ?? ''), credentials, region: 'us-east-1' });
  const response = await fetch(url, { method, headers: { ...headers, ...signed }, body: text });
  return { status: response.status, json: await response.json() };
}

/**
 * Temporary credentials as the server would issue them at `now` (an hour ago, say), made with
 * the server's own key read from its metadata: genuine tokens, expired ones included.
 */
export function issueAs(server: TestServer, user: User, now: Date): IssuedCredentials {
  const db = new Database(join(server.dataDir, 'meta.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE name = ?').get('temporary-credentials-key');
    assert.ok(row, 'the server made its temporary-credentials key');
    return new TemporaryCredentials(Buffer.from(row.value, 'base64'), new UserDirectory([user])).issue(user, now);
  } finally {
    db.close();
  }
}

export const ROOT_USER: User = { id: 'root', displayName: 'root', accessKey: ROOT_ACCESS_KEY, secretKey: ROOT_SECRET_KEY, root: true };

/** Opens the console and signs in through its form; resolves once the signed-in shell shows. */
export async function signInPage(page: Page, server: TestServer, accessKey = ROOT_ACCESS_KEY, secretKey = ROOT_SECRET_KEY, path = ''): Promise<void> {
  await page.goto(new URL(CONSOLE + path, server.url).href);
  await page.getByLabel('Access key').fill(accessKey);
  await page.getByLabel('Secret key').fill(secretKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** The body rows of a table named by its caption (the header row left out). */
export function tableRows(page: Page, caption: string) {
  return page.getByRole('table', { name: caption }).locator('tbody tr');
}

/**
 * Retries `check` (an assertion) until it passes, for what the page shows after a request of
 * its own; fails with the last assertion's error once `timeoutMs` is up.
 */
export async function eventually(check: () => Promise<void> | void, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
