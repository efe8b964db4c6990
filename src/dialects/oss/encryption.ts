import type { EncryptionRequest } from '../../core/encryption.js';
import { ServiceError, errors } from '../../core/errors.js';
import type { BucketEncryption, ObjectEncryption } from '../../core/types.js';
import { parseXml } from '../common/xml.js';
import { checked, nodeOf, once } from '../common/xml-shape.js';
import { sendEmpty } from '../s3/render.js';
import { header } from '../s3/request.js';
import { sendOssXml } from './render.js';
import { readCheckedBody, type OssCall } from './request.js';

/**
 * Server-side encryption in OSS's words (core/encryption.ts decides): `x-oss-server-side-encryption:
 * AES256` is what S3 calls SSE-S3, `KMS` (with `x-oss-server-side-encryption-key-id`, else the
 * default key) SSE-KMS with the local key store; SM4 is refused (501). The bucket's default is
 * `?encryption` (PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption).
 */

const SSE = 'x-oss-server-side-encryption';

/** `x-oss-server-side-encryption`'s values: AES256 and KMS honoured, SM4 refused (501), anything else an error. */
export function checkOssEncryption(value: string): ServiceError | 'refused' | undefined {
  const method = value.trim();
  if (method === 'AES256' || method === 'KMS') return undefined;
  if (method === 'SM4') return 'refused';
  return invalidAlgorithm(method);
}

function invalidAlgorithm(method: string): ServiceError {
  return new ServiceError('InvalidEncryptionAlgorithmError', 'The Encryption request you specified is not valid. Supported value: AES256/KMS/SM4.', 400, {
    ArgumentName: SSE,
    ArgumentValue: method,
  });
}

/** What a write asks for; undefined: the bucket's default. */
export function requestedOssEncryption(call: OssCall): EncryptionRequest | undefined {
  const method = header(call.ctx.req.headers, SSE)?.trim();
  const keyId = header(call.ctx.req.headers, KEY_ID)?.trim();
  if (keyId !== undefined && method !== 'KMS') {
    throw errors.invalidArgument(`${KEY_ID} is applicable only when ${SSE} is KMS.`, KEY_ID, keyId);
  }
  if (method === undefined) return undefined;
  if (method === 'KMS') return { kind: 'sse-kms', kmsKeyId: keyId || undefined };
  if (method !== 'AES256') throw invalidAlgorithm(method);
  return { kind: 'sse-s3' };
}

const KEY_ID = 'x-oss-server-side-encryption-key-id';

/** The header that tells an object is encrypted (OSS has no customer keys: an SSE-C object is not read through OSS). */
export function ossEncryptionHeaders(encryption: ObjectEncryption | undefined): Record<string, string> {
  if (encryption?.kind === 'sse-kms') return { [SSE]: 'KMS', [KEY_ID]: encryption.kmsKeyId! };
  return encryption?.kind === 'sse-s3' ? { [SSE]: 'AES256' } : {};
}

const MAX_DOCUMENT_BYTES = 64 * 1024;

export async function putBucketEncryption(call: OssCall): Promise<void> {
  const document = checked(parseXml(await readCheckedBody(call.ctx, MAX_DOCUMENT_BYTES), 'ServerSideEncryptionRule'), ['ApplyServerSideEncryptionByDefault']);
  const byDefault = checked(nodeOf(document.ApplyServerSideEncryptionByDefault), ['SSEAlgorithm', 'KMSMasterKeyID', 'KMSDataEncryption']);
  const algorithm = once(byDefault.SSEAlgorithm);
  if (algorithm === undefined) throw errors.malformedXML();
  if (algorithm === 'SM4') throw new ServiceError('NotImplemented', 'SM4 is not implemented: a bucket default of SM4 is refused.', 501);
  if (algorithm !== 'AES256' && algorithm !== 'KMS') throw invalidAlgorithm(algorithm);
  const keyName = once(byDefault.KMSMasterKeyID) || undefined;
  if (keyName !== undefined && algorithm !== 'KMS') {
    throw errors.invalidArgument('KMSMasterKeyID is applicable only when SSEAlgorithm is KMS.', 'KMSMasterKeyID', keyName);
  }
  const config: BucketEncryption =
    algorithm === 'KMS' ? { kind: 'sse-kms', ...(keyName === undefined ? {} : { kmsKeyId: (await call.storage.kms.get(keyName)).keyId }) } : { kind: 'sse-s3' };
  await call.storage.settings.putConfig(call.actor, call.bucket, 'encryption', JSON.stringify(config));
  sendEmpty(call.ctx.res, 200);
}

export async function getBucketEncryption(call: OssCall): Promise<void> {
  const document = await call.storage.settings.getConfig(call.actor, call.bucket, 'encryption');
  if (document === undefined) {
    throw new ServiceError('NoSuchServerSideEncryptionRule', 'The server side encryption rule does not exist.', 404, { BucketName: call.bucket });
  }
  const config = JSON.parse(document) as BucketEncryption;
  sendOssXml(call.ctx.res, 200, 'ServerSideEncryptionRule', {
    ApplyServerSideEncryptionByDefault: { SSEAlgorithm: config.kind === 'sse-kms' ? 'KMS' : 'AES256', ...(config.kmsKeyId ? { KMSMasterKeyID: config.kmsKeyId } : {}) },
  });
}

export async function deleteBucketEncryption(call: OssCall): Promise<void> {
  await call.storage.settings.deleteConfig(call.actor, call.bucket, 'encryption');
  sendEmpty(call.ctx.res, 204);
}
