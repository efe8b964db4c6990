/** The CORS engine module's rules: what makes a configuration valid, and how a request is matched. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  corsResponseHeaders,
  findCorsViolation,
  matchCorsRule,
  requestedHeaders,
  type CorsAsk,
  type CorsConfiguration,
  type CorsRule,
} from '../../src/core/cors.js';

const rule = (extra: Partial<CorsRule>): CorsRule => ({ allowedOrigins: ['*'], allowedMethods: ['GET'], allowedHeaders: [], exposeHeaders: [], ...extra });
const config = (...rules: CorsRule[]): CorsConfiguration => ({ rules, responseVary: false });
const S3 = { maxRules: 100, wildcardExposeHeaders: true };
const OSS = { maxRules: 10, wildcardExposeHeaders: false };
const ask = (origin: string, method = 'GET', headers: string[] = []): CorsAsk => ({ origin, method, headers });

describe('CORS rules', () => {
  it('finds the first violation: counts, then each rule in order', () => {
    assert.deepEqual(findCorsViolation(config(), S3), { kind: 'no-rules' });
    assert.deepEqual(findCorsViolation(config(...Array.from({ length: 11 }, () => rule({}))), OSS), { kind: 'too-many-rules', limit: 10 });
    assert.equal(findCorsViolation(config(...Array.from({ length: 11 }, () => rule({}))), S3), undefined);
    assert.deepEqual(findCorsViolation(config(rule({ allowedOrigins: [] })), S3), { kind: 'no-origin' });
    assert.deepEqual(findCorsViolation(config(rule({ allowedMethods: [] })), S3), { kind: 'no-method' });
    assert.deepEqual(findCorsViolation(config(rule({}), rule({ allowedMethods: ['GET', 'PATCH'] })), S3), { kind: 'unsupported-method', value: 'PATCH' });
    assert.deepEqual(findCorsViolation(config(rule({ allowedOrigins: ['http://*.*.com'] })), S3), { kind: 'origin-wildcards', value: 'http://*.*.com' });
    assert.deepEqual(findCorsViolation(config(rule({ allowedHeaders: ['x-*', '**'] })), S3), { kind: 'header-wildcards', value: '**' });
    assert.equal(findCorsViolation(config(rule({ exposeHeaders: ['*'] })), S3), undefined);
    assert.deepEqual(findCorsViolation(config(rule({ exposeHeaders: ['x-oss-*'] })), OSS), { kind: 'expose-wildcard', value: 'x-oss-*' });
    assert.deepEqual(findCorsViolation(config(rule({ id: 'i'.repeat(256) })), S3), { kind: 'id-too-long', value: 'i'.repeat(256) });
    assert.deepEqual(findCorsViolation(config(rule({ maxAgeSeconds: -1 })), S3), { kind: 'max-age', value: -1 });
    assert.deepEqual(findCorsViolation(config(rule({ maxAgeSeconds: 2 ** 31 })), S3), { kind: 'max-age', value: 2 ** 31 });
    assert.equal(findCorsViolation(config(rule({ maxAgeSeconds: 0, id: 'i'.repeat(255), allowedOrigins: ['', 'http://*.a.com'] })), S3), undefined);
  });

  it('an origin pattern is anchored at both ends, its `*` matching any run of characters (none too), without regard to case', () => {
    const rules = [rule({ allowedOrigins: ['*suffix', 'start*end', 'prefix*'] })];
    for (const origin of ['foo.suffix', 'suffix', 'startend', 'start12end', 'prefix', 'prefix.suffix', 'START-X-END']) {
      assert.ok(matchCorsRule(rules, ask(origin)), origin);
    }
    for (const origin of ['foo.bar', 'foo.suffix.get', '0start12end', 'bla.prefix', 'startenx']) {
      assert.equal(matchCorsRule(rules, ask(origin)), undefined, origin);
    }
    // `start*end` needs both: `startend` is 8 characters, `starend` does not hold `start` and `end` apart.
    assert.equal(matchCorsRule([rule({ allowedOrigins: ['start*end'] })], ask('starend')), undefined);
  });

  it('the first rule that admits origin, method and every announced header decides', () => {
    const first = rule({ allowedOrigins: ['https://a.example'], allowedMethods: ['PUT'], allowedHeaders: ['content-*'] });
    const second = rule({ allowedOrigins: ['*'], allowedMethods: ['GET', 'PUT'] });
    assert.equal(matchCorsRule([first, second], ask('https://a.example', 'PUT', ['content-type'])), first);
    assert.equal(matchCorsRule([first, second], ask('https://a.example', 'PUT', ['content-type', 'x-amz-date'])), undefined);
    assert.equal(matchCorsRule([first, second], ask('https://a.example', 'PUT')), first);
    assert.equal(matchCorsRule([first, second], ask('https://b.example', 'PUT')), second);
    assert.equal(matchCorsRule([first, second], ask('https://a.example', 'GET')), second);
    assert.equal(matchCorsRule([first, second], ask('https://a.example', 'get')), undefined, 'methods are compared as spelled');
  });

  it('reads an Access-Control-Request-Headers list: trimmed, lower-cased, empty items dropped', () => {
    assert.deepEqual(requestedHeaders('Content-Type, X-Amz-Date,,  x-b  ,'), ['content-type', 'x-amz-date', 'x-b']);
    assert.deepEqual(requestedHeaders(undefined), []);
  });

  it('answers `*` without credentials only when the rule admits the origin by a lone `*`', () => {
    const both = rule({ allowedOrigins: ['https://a.example', '*'], allowedMethods: ['GET', 'HEAD'], exposeHeaders: ['ETag'], maxAgeSeconds: 5 });
    assert.deepEqual(corsResponseHeaders(both, ask('https://a.example', 'GET', ['range'])), {
      'access-control-allow-origin': 'https://a.example',
      'access-control-allow-methods': 'GET, HEAD',
      'access-control-allow-headers': 'range',
      'access-control-expose-headers': 'ETag',
      'access-control-max-age': '5',
      'access-control-allow-credentials': 'true',
      vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
    });
    assert.deepEqual(corsResponseHeaders(both, ask('https://b.example')), {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, HEAD',
      'access-control-expose-headers': 'ETag',
      'access-control-max-age': '5',
      vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
    });
  });
});
