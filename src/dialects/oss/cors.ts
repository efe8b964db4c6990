import * as cors from '../../core/cors.js';
import { ServiceError, errors } from '../../core/errors.js';
import { parseCorsDocument } from '../common/cors-xml.js';
import { sendEmpty } from '../s3/render.js';
import { sendOssXml } from './render.js';
import { readCheckedBody, type OssCall } from './request.js';

/** OSS's limits: 10 rules, no `*` in an ExposeHeader. */
const LIMITS = { maxRules: 10, wildcardExposeHeaders: false };
const MAX_DOCUMENT_BYTES = 64 * 1024;

/** A violation in OSS's words: MalformedXML for the document's shape, InvalidArgument for a value, CORSRuleBeyondLimit. */
function ossError(violation: cors.CorsViolation): ServiceError {
  switch (violation.kind) {
    case 'too-many-rules':
      return new ServiceError('CORSRuleBeyondLimit', `The number of CORS rules exceeds the limit of ${violation.limit}.`, 400);
    case 'unsupported-method':
      return errors.invalidArgument(`Found unsupported HTTP method in CORS config. Unsupported method is ${violation.value}`, 'AllowedMethod', violation.value);
    case 'origin-wildcards':
      return errors.invalidArgument(`AllowedOrigin "${violation.value}" can not have more than one wildcard.`, 'AllowedOrigin', violation.value);
    case 'header-wildcards':
      return errors.invalidArgument(`AllowedHeader "${violation.value}" can not have more than one wildcard.`, 'AllowedHeader', violation.value);
    case 'expose-wildcard':
      return errors.invalidArgument(`ExposeHeader "${violation.value}" can not contain a wildcard.`, 'ExposeHeader', violation.value);
    case 'max-age':
      return errors.invalidArgument('MaxAgeSeconds must be a non-negative integer.', 'MaxAgeSeconds', String(violation.value));
    default:
      // No rule, or a rule without an origin or a method.
      return errors.malformedXML();
  }
}

/** PutBucketCors: the bucket owner replaces the rules (and ResponseVary). */
export async function putBucketCors(call: OssCall): Promise<void> {
  await call.storage.headBucket(call.actor, call.bucket);
  const config = parseCorsDocument(await readCheckedBody(call.ctx, MAX_DOCUMENT_BYTES), { ruleIds: false, responseVary: true });
  const violation = cors.findCorsViolation(config, LIMITS);
  if (violation) throw ossError(violation);
  await cors.putBucketCors(call.storage, call.actor, call.bucket, config);
  sendEmpty(call.ctx.res, 200);
}

/** GetBucketCors: the rules in OSS's document, then ResponseVary; NoSuchCORSConfiguration (404) when there are none. */
export async function getBucketCors(call: OssCall): Promise<void> {
  const config = await cors.getBucketCors(call.storage, call.actor, call.bucket);
  sendOssXml(call.ctx.res, 200, 'CORSConfiguration', {
    CORSRule: config.rules.map((rule) => ({
      AllowedOrigin: rule.allowedOrigins,
      AllowedMethod: rule.allowedMethods,
      AllowedHeader: rule.allowedHeaders,
      ExposeHeader: rule.exposeHeaders,
      MaxAgeSeconds: rule.maxAgeSeconds,
    })),
    ResponseVary: config.responseVary,
  });
}

/** DeleteBucketCors: 204, whether or not the bucket had rules. */
export async function deleteBucketCors(call: OssCall): Promise<void> {
  await cors.deleteBucketCors(call.storage, call.actor, call.bucket);
  sendEmpty(call.ctx.res, 204);
}
