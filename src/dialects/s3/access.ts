import { ServiceError, errors } from '../../core/errors.js';
import { parsePolicy } from '../../core/policy.js';
import { isObjectOwnership } from '../../core/public-access.js';
import type { PublicAccessBlock } from '../../core/types.js';
import { parseXml } from '../common/xml.js';
import { checked, nodeOf, occurrences, once } from '../common/xml-shape.js';
import type { S3Call } from './call.js';
import { sendEmpty, sendXml } from './render.js';
import { readVerifiedBody } from './request.js';

/**
 * Who may use a bucket, in S3's words: the bucket policy (core/policy.ts), Block Public Access
 * and Object Ownership (core/public-access.ts). The decisions they feed are core/authorization.ts's.
 */

/** Read past the 20 KB a policy may have, so that a larger one gets the policy's own error. */
const MAX_POLICY_BODY = 64 * 1024;
const MAX_DOCUMENT_BYTES = 64 * 1024;

export async function putBucketPolicy(call: S3Call): Promise<void> {
  const text = (await readVerifiedBody(call.ctx, call.auth, MAX_POLICY_BODY)).toString('utf8');
  // Parsed once the bucket is found and the caller may put its policy: those errors come before the document's.
  await call.storage.settings.putPolicy(call.actor, call.bucket, () => parsePolicy(text, { bucket: call.bucket, userExists: (id) => call.users.exists(id) }));
  sendEmpty(call.ctx.res, 204);
}

function noSuchBucketPolicy(bucket: string): ServiceError {
  return new ServiceError('NoSuchBucketPolicy', 'The bucket policy does not exist', 404, { BucketName: bucket });
}

export async function getBucketPolicy(call: S3Call): Promise<void> {
  const text = await call.storage.settings.getConfig(call.actor, call.bucket, 'policy');
  if (text === undefined) throw noSuchBucketPolicy(call.bucket);
  call.ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  call.ctx.res.end(text);
}

export async function deleteBucketPolicy(call: S3Call): Promise<void> {
  await call.storage.settings.deleteConfig(call.actor, call.bucket, 'policy');
  sendEmpty(call.ctx.res, 204);
}

export async function getBucketPolicyStatus(call: S3Call): Promise<void> {
  const status = await call.storage.settings.policyStatus(call.actor, call.bucket);
  if (status === undefined) throw noSuchBucketPolicy(call.bucket);
  sendXml(call.ctx.res, 200, 'PolicyStatus', { IsPublic: String(status.isPublic) });
}

// Block Public Access

const SWITCHES = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const;

function parseSwitch(value: string | undefined): boolean {
  if (value === undefined) return false;
  const text = value.trim().toLowerCase();
  if (text !== 'true' && text !== 'false') throw errors.malformedXML();
  return text === 'true';
}

export async function putPublicAccessBlock(call: S3Call): Promise<void> {
  const body = (await readVerifiedBody(call.ctx, call.auth, MAX_DOCUMENT_BYTES)).toString('utf8');
  const document = checked(parseXml(body, 'PublicAccessBlockConfiguration'), SWITCHES);
  const block: PublicAccessBlock = {
    blockPublicAcls: parseSwitch(once(document.BlockPublicAcls)),
    ignorePublicAcls: parseSwitch(once(document.IgnorePublicAcls)),
    blockPublicPolicy: parseSwitch(once(document.BlockPublicPolicy)),
    restrictPublicBuckets: parseSwitch(once(document.RestrictPublicBuckets)),
  };
  await call.storage.settings.putPublicAccessBlock(call.actor, call.bucket, block);
  sendEmpty(call.ctx.res, 200);
}

export async function getPublicAccessBlock(call: S3Call): Promise<void> {
  const block = await call.storage.settings.getPublicAccessBlock(call.actor, call.bucket);
  if (!block) {
    throw new ServiceError('NoSuchPublicAccessBlockConfiguration', 'The public access block configuration was not found', 404, { BucketName: call.bucket });
  }
  sendXml(call.ctx.res, 200, 'PublicAccessBlockConfiguration', {
    BlockPublicAcls: String(block.blockPublicAcls),
    IgnorePublicAcls: String(block.ignorePublicAcls),
    BlockPublicPolicy: String(block.blockPublicPolicy),
    RestrictPublicBuckets: String(block.restrictPublicBuckets),
  });
}

export async function deletePublicAccessBlock(call: S3Call): Promise<void> {
  await call.storage.settings.deleteConfig(call.actor, call.bucket, 'public-access-block');
  sendEmpty(call.ctx.res, 204);
}

// Object Ownership

export async function putBucketOwnershipControls(call: S3Call): Promise<void> {
  const body = (await readVerifiedBody(call.ctx, call.auth, MAX_DOCUMENT_BYTES)).toString('utf8');
  const document = checked(parseXml(body, 'OwnershipControls'), ['Rule']);
  const rules = occurrences(document.Rule);
  if (rules.length !== 1) throw errors.malformedXML();
  const value = once(checked(nodeOf(rules[0]), ['ObjectOwnership']).ObjectOwnership);
  if (value === undefined || !isObjectOwnership(value)) throw errors.malformedXML();
  await call.storage.settings.putConfig(call.actor, call.bucket, 'ownership', value);
  sendEmpty(call.ctx.res, 200);
}

export async function getBucketOwnershipControls(call: S3Call): Promise<void> {
  const value = await call.storage.settings.getConfig(call.actor, call.bucket, 'ownership');
  if (value === undefined) {
    throw new ServiceError('OwnershipControlsNotFoundError', 'The bucket ownership controls were not found', 404, { BucketName: call.bucket });
  }
  sendXml(call.ctx.res, 200, 'OwnershipControls', { Rule: { ObjectOwnership: value } });
}

export async function deleteBucketOwnershipControls(call: S3Call): Promise<void> {
  await call.storage.settings.deleteConfig(call.actor, call.bucket, 'ownership');
  sendEmpty(call.ctx.res, 204);
}
