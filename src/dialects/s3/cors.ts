import * as cors from '../../core/cors.js';
import { ServiceError, errors } from '../../core/errors.js';
import { parseCorsDocument } from '../common/cors-xml.js';
import type { S3Call } from './call.js';
import { sendEmpty, sendXml } from './render.js';
import { readVerifiedBody } from './request.js';

/** S3's limits: 100 rules, a document of 64 KB. */
const LIMITS = { maxRules: 100, wildcardExposeHeaders: true };
const MAX_DOCUMENT_BYTES = 64 * 1024;

/** A violation in S3's words: its schema's MalformedXML, or the InvalidRequest sentences S3 answers. */
function s3Error(violation: cors.CorsViolation): ServiceError {
  const invalid = (message: string) => new ServiceError('InvalidRequest', message, 400);
  switch (violation.kind) {
    case 'unsupported-method':
      return invalid(`Found unsupported HTTP method in CORS config. Unsupported method is ${violation.value}`);
    case 'origin-wildcards':
      return invalid(`AllowedOrigin "${violation.value}" can not have more than one wildcard.`);
    case 'header-wildcards':
      return invalid(`AllowedHeader "${violation.value}" can not have more than one wildcard.`);
    case 'id-too-long':
      return errors.invalidArgument(`The ID of a CORSRule can not be longer than ${cors.MAX_CORS_ID_LENGTH} characters.`, 'ID', violation.value);
    default:
      // No rule, more than 100, a rule without an origin or a method, a MaxAgeSeconds out of range.
      return errors.malformedXML();
  }
}

/** PutBucketCors: the bucket owner replaces the rules; the body must carry Content-MD5 or a flexible checksum, as AWS requires. */
export async function putBucketCors(call: S3Call): Promise<void> {
  await call.storage.headBucket(call.actor, call.bucket);
  const body = await readVerifiedBody(call.ctx, call.auth, MAX_DOCUMENT_BYTES, { integrityRequired: true });
  const config = parseCorsDocument(body.toString('utf8'), { ruleIds: true, responseVary: false });
  const violation = cors.findCorsViolation(config, LIMITS);
  if (violation) throw s3Error(violation);
  await cors.putBucketCors(call.storage, call.actor, call.bucket, config);
  sendEmpty(call.ctx.res, 200);
}

/** GetBucketCors: the rules in S3's document; NoSuchCORSConfiguration (404) when there are none. */
export async function getBucketCors(call: S3Call): Promise<void> {
  const config = await cors.getBucketCors(call.storage, call.actor, call.bucket);
  sendXml(call.ctx.res, 200, 'CORSConfiguration', {
    CORSRule: config.rules.map((rule) => ({
      AllowedHeader: rule.allowedHeaders,
      AllowedMethod: rule.allowedMethods,
      AllowedOrigin: rule.allowedOrigins,
      ExposeHeader: rule.exposeHeaders,
      ID: rule.id,
      MaxAgeSeconds: rule.maxAgeSeconds,
    })),
  });
}

/** DeleteBucketCors: 204, whether or not the bucket had rules. */
export async function deleteBucketCors(call: S3Call): Promise<void> {
  await cors.deleteBucketCors(call.storage, call.actor, call.bucket);
  sendEmpty(call.ctx.res, 204);
}
