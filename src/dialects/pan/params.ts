import type { IncomingMessage } from 'node:http';
import { readSmallBody } from '../common/body.js';
import { panErrors } from './envelope.js';

const MAX_BODY = 1024 * 1024;

/**
 * Request parameters as real 123pan clients send them: JSON or form bodies (whatever the
 * Content-Type says), query strings, keys in any case (`preuploadId`, `PreUploadID`), numbers
 * as strings, lists as JSON arrays, `a,b`, `[1,2]` or repeated (`ids[]=1&ids[]=2`) keys.
 * Every accessor checks the type it reads: a value of another type is code 400 naming the field.
 */
export class Params {
  private readonly values = new Map<string, unknown>();

  constructor(entries: Iterable<[string, unknown]> = []) {
    for (const [key, value] of entries) this.set(key, value);
  }

  set(key: string, value: unknown): void {
    const name = key.replace(/\[\]$/, '').toLowerCase();
    const existing = this.values.get(name);
    if (existing !== undefined && key.endsWith('[]')) {
      this.values.set(name, [...(Array.isArray(existing) ? existing : [existing]), value]);
    } else if (existing !== undefined && typeof existing === 'string' && typeof value === 'string') {
      this.values.set(name, [existing, value]);
    } else if (existing !== undefined && Array.isArray(existing) && typeof value === 'string') {
      this.values.set(name, [...(existing as unknown[]), value]);
    } else {
      this.values.set(name, key.endsWith('[]') ? [value] : value);
    }
  }

  names(): string[] {
    return [...this.values.keys()];
  }

  raw(name: string): unknown {
    return this.values.get(name.toLowerCase());
  }

  /**
   * A one-value field as text: a string, or a number as JSON sends one (booleans too where
   * `booleans`); a list, an object or anything else is refused, naming the field. A key given
   * twice in a query or form is a list, refused here too.
   */
  private text(name: string, expected: string, booleans = false): string | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (booleans && typeof value === 'boolean') return String(value);
    throw panErrors.invalid(name, `must be ${expected}, not ${kindOf(value)}`);
  }

  string(name: string): string | undefined {
    return this.text(name, 'a string');
  }

  requiredString(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === '') throw panErrors.missing(name);
    return value;
  }

  /** A non-negative integer from a number or a numeric string. */
  int(name: string, fallback?: number): number {
    const value = this.text(name, 'a non-negative integer')?.trim();
    if (value === undefined || value === '') {
      if (fallback === undefined) throw panErrors.missing(name);
      return fallback;
    }
    if (!/^\d{1,16}$/.test(value)) throw panErrors.invalid(name, `not a non-negative integer: ${value}`);
    return Number(value);
  }

  /** Like int, but -1 and other negatives allowed (lastFileId). */
  signedInt(name: string, fallback: number): number {
    const value = this.text(name, 'an integer')?.trim();
    if (value === undefined || value === '') return fallback;
    if (!/^-?\d{1,16}$/.test(value)) throw panErrors.invalid(name, `not an integer: ${value}`);
    return Number(value);
  }

  /** true/false as a boolean, 1/0 or their words; absent or empty is false. */
  bool(name: string): boolean {
    const value = this.text(name, 'true or false', true)?.trim().toLowerCase();
    if (value === undefined || value === '' || value === 'false' || value === '0' || value === 'no') return false;
    if (value === 'true' || value === '1' || value === 'yes') return true;
    throw panErrors.invalid(name, `must be true or false, not ${value}`);
  }

  /** A list of non-negative integers. */
  ids(name: string): number[] {
    let value = this.raw(name);
    if (value === undefined || value === null || value === '') throw panErrors.missing(name);
    if (typeof value === 'string') {
      const text = value.trim();
      if (text.startsWith('[')) {
        try {
          value = JSON.parse(text);
        } catch {
          throw panErrors.invalid(name, 'not a list');
        }
      } else {
        value = text.split(',');
      }
    }
    const list = Array.isArray(value) ? value : [value];
    return list.map((item: unknown) => {
      if (typeof item !== 'string' && typeof item !== 'number') throw panErrors.invalid(name, `must be a list of file ids, found ${kindOf(item)}`);
      const text = String(item).trim();
      if (!/^\d{1,16}$/.test(text)) throw panErrors.invalid(name, `not a file id: ${text}`);
      return Number(text);
    });
  }

  /** A list of strings (renameList). */
  strings(name: string): string[] {
    let value = this.raw(name);
    if (value === undefined || value === null) return [];
    if (typeof value === 'string' && value.trim().startsWith('[')) {
      try {
        value = JSON.parse(value);
      } catch {
        throw panErrors.invalid(name, 'not a list');
      }
    }
    return (Array.isArray(value) ? value : [value]).map((item: unknown) => {
      if (typeof item !== 'string') throw panErrors.invalid(name, `must be a list of strings, found ${kindOf(item)}`);
      return item;
    });
  }
}

/** What a value of the wrong type is, for the error that refuses it. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** The query plus a JSON or form body; the body wins. */
export async function readParams(req: IncomingMessage, query: URLSearchParams): Promise<Params> {
  const text = req.method === 'GET' || req.method === 'HEAD' ? '' : (await readSmallBody(req, MAX_BODY)).toString('utf8').trim();
  const params = new Params(text === '' ? [] : parseBody(text));
  const fromBody = new Set(params.names());
  for (const [key, value] of query.entries()) if (!fromBody.has(key.replace(/\[\]$/, '').toLowerCase())) params.set(key, value);
  return params;
}

/** JSON when it parses as an object, else form-urlencoded (the PHP demo declares JSON and sends a form). */
function parseBody(text: string): Array<[string, unknown]> {
  if (text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return Object.entries(parsed);
    } catch {
      // fall through to a form
    }
  }
  if (!text.includes('=')) throw panErrors.badRequest('请求体既不是 JSON 也不是表单 (the body is neither JSON nor a form)');
  return [...new URLSearchParams(text).entries()];
}
