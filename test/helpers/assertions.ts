import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { RawResponse } from './raw.js';

const xml = new XMLParser({ parseTagValue: false, ignoreAttributes: true });

/** The SDK's error for a failed call: its code (error name) and HTTP status. */
export async function expectError(promise: Promise<unknown>, status: number, code?: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    assert.equal(e.$metadata?.httpStatusCode, status, `HTTP status of ${String(e.name)}`);
    if (code !== undefined) assert.equal(e.name, code);
    return true;
  });
}

/** The response's x-amz-request-id, which every S3 response carries. */
export function requestIdOf(res: RawResponse): string {
  const id = res.headers['x-amz-request-id'];
  assert.ok(typeof id === 'string' && id.length > 0, `response ${res.status} has no x-amz-request-id`);
  return id;
}

/** Status, `<Code>`, and the fields every S3 error document carries. Returns the document. */
export function assertS3Error(res: RawResponse, status: number, code: string | string[]): Record<string, string> {
  const codes = Array.isArray(code) ? code : [code];
  assert.equal(res.status, status, `expected ${status} ${codes.join('|')}, got ${res.status}: ${res.body}`);
  const id = requestIdOf(res);
  // Well-formed XML 1.0: no control characters a parser must reject.
  assert.doesNotMatch(res.body, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/, 'control character in the error document');
  assert.equal(XMLValidator.validate(res.body), true, `not well-formed XML: ${res.body}`);
  const doc = (xml.parse(res.body) as { Error?: Record<string, string> }).Error;
  assert.ok(doc, `no <Error> document in: ${res.body}`);
  assert.ok(codes.includes(doc.Code!), `expected ${codes.join('|')}, got ${doc.Code}: ${res.body}`);
  assert.ok(typeof doc.Message === 'string' && doc.Message.length > 0, 'Message missing');
  assert.ok(typeof doc.Resource === 'string' && doc.Resource.length > 0, 'Resource missing');
  assert.equal(doc.RequestId, id, 'RequestId in the body differs from x-amz-request-id');
  return doc;
}

/** The expected success status, with a request id. */
export function assertOk(res: RawResponse, status = 200): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.body}`);
  requestIdOf(res);
}
