import type { Storage } from '../../core/storage.js';
import type { Actor } from '../../core/types.js';
import type { User, UserDirectory } from '../../core/users.js';
import type { RequestContext } from '../../server/dialect.js';
import { errors } from '../../core/errors.js';
import type { Authenticated } from './request.js';

export interface S3Settings {
  region: string;
  domain?: string;
  /** Accept SSE-C keys over plain HTTP (src/server/config.ts allowInsecureSseC). */
  allowInsecureSseC?: boolean;
}

/** One authenticated S3 request, resolved to its bucket and key. */
export interface S3Call {
  ctx: RequestContext;
  storage: Storage;
  users: UserDirectory;
  settings: S3Settings;
  auth: Authenticated;
  user: User;
  actor: Actor;
  bucket: string;
  key: string;
}

/** A non-negative integer query parameter; anything else is InvalidArgument. */
export function intParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,10}$/.test(raw)) {
    throw errors.invalidArgument(`Provided ${name} not an integer or within integer range`, name, raw);
  }
  return Number(raw);
}

export function optionalParam(query: URLSearchParams, name: string): string | undefined {
  const value = query.get(name);
  return value === null ? undefined : value;
}

/** `encoding-type` may only be `url`. */
export function encodingType(query: URLSearchParams): 'url' | undefined {
  const value = query.get('encoding-type');
  if (value === null || value === '') return undefined;
  if (value.toLowerCase() !== 'url') throw errors.invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', value);
  return 'url';
}
