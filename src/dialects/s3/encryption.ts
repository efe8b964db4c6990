import type { IncomingHttpHeaders } from 'node:http';
import { overTls } from '../common/transport.js';
import { CUSTOMER_KEY_BYTES, customerKeyMd5, type EncryptionRequest } from '../../core/encryption.js';
import { ServiceError, errors } from '../../core/errors.js';
import { arnOf } from '../../core/kms.js';
import type { BucketEncryption, ObjectEncryption } from '../../core/types.js';
import { parseXml } from '../common/xml.js';
import { checked, nodeOf, occurrences, once } from '../common/xml-shape.js';
import type { S3Call } from './call.js';
import { sendEmpty, sendXml } from './render.js';
import { header, readVerifiedBody } from './request.js';

/**
 * Server-side encryption in S3's words (core/encryption.ts decides): `x-amz-server-side-encryption`
 * (AES256 is SSE-S3), the SSE-C headers `x-amz-server-side-encryption-customer-*` (and
 * `x-amz-copy-source-…` for a copy's source), the headers answers carry, and the bucket's
 * default encryption (`?encryption`).
 */

const SSE = 'x-amz-server-side-encryption';
export const CUSTOMER_PREFIX = 'x-amz-server-side-encryption-customer-';
export const COPY_SOURCE_CUSTOMER_PREFIX = 'x-amz-copy-source-server-side-encryption-customer-';

const sseCRequest = (what: string) =>
  new ServiceError('InvalidRequest', `Requests specifying Server Side Encryption with Customer provided keys must ${what}`, 400);

/**
 * The customer key a request presents under `prefix`, checked as S3 checks it; undefined when it
 * presents none. A read (`forRead`) may leave out the key's MD5, and a malformed key is refused
 * as a wrong one would be (403), as S3 answers GET and HEAD.
 */
export function customerKey(call: S3Call, prefix = CUSTOMER_PREFIX, forRead = false): Buffer | undefined {
  const { headers } = call.ctx.req;
  const algorithm = header(headers, `${prefix}algorithm`)?.trim();
  const key = header(headers, `${prefix}key`)?.trim();
  const md5 = header(headers, `${prefix}key-md5`)?.trim();
  if (algorithm === undefined && key === undefined && md5 === undefined) return undefined;
  // The key would have crossed the network in the clear: refused whatever else the request says.
  if (!overTls(call.ctx.req) && !call.settings.allowInsecureSseC) {
    throw sseCRequest('be made over a secure connection.');
  }
  if (algorithm === undefined) throw sseCRequest('provide a valid encryption algorithm.');
  if (algorithm !== 'AES256') {
    throw new ServiceError('InvalidEncryptionAlgorithmError', 'The encryption request you specified is not valid. Supported value: AES256.', 400, {
      ArgumentName: `${prefix}algorithm`,
      ArgumentValue: algorithm,
    });
  }
  if (key === undefined) throw sseCRequest('provide an appropriate secret key.');
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(key) ? Buffer.from(key, 'base64') : Buffer.alloc(0);
  if (bytes.length !== CUSTOMER_KEY_BYTES) {
    if (forRead) throw errors.accessDenied();
    throw errors.invalidArgument('The secret key was invalid for the specified algorithm.', `${prefix}key`, '');
  }
  if (md5 === undefined) {
    if (forRead) return bytes;
    throw sseCRequest('provide the client calculated MD5 of the secret key.');
  }
  if (md5 !== customerKeyMd5(bytes)) {
    throw errors.invalidArgument('The calculated MD5 hash of the key did not match the hash that was provided.', `${prefix}key-md5`, md5);
  }
  return bytes;
}

/**
 * What a write asks for: SSE-S3 (`x-amz-server-side-encryption: AES256`), SSE-KMS (`aws:kms`, with
 * the key's id or ARN in `…-aws-kms-key-id`, else the `aws/s3` key) or SSE-C; undefined: the
 * bucket's default.
 */
export function requestedEncryption(call: S3Call): EncryptionRequest | undefined {
  const { headers } = call.ctx.req;
  const method = header(headers, SSE)?.trim();
  const kmsKeyId = header(headers, KMS_KEY_ID)?.trim();
  const bucketKey = header(headers, BUCKET_KEY)?.trim().toLowerCase();
  const key = customerKey(call);
  if (method !== undefined && key !== undefined) {
    throw errors.invalidArgument('Server Side Encryption with Customer provided key is incompatible with the encryption method specified', SSE, method);
  }
  if ((kmsKeyId !== undefined || bucketKey !== undefined) && method !== 'aws:kms') {
    throw errors.invalidArgument(
      'Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms',
      kmsKeyId !== undefined ? KMS_KEY_ID : BUCKET_KEY,
      kmsKeyId ?? bucketKey,
    );
  }
  if (key !== undefined) return { kind: 'sse-c', key };
  if (method === undefined) return undefined;
  if (method === 'aws:kms') {
    if (kmsKeyId === '') throw errors.invalidArgument('The KMS key id must not be empty', KMS_KEY_ID, '');
    return { kind: 'sse-kms', kmsKeyId, ...(bucketKey === undefined ? {} : { bucketKeyEnabled: bucketKey === 'true' }) };
  }
  // The feature table let only AES256 and aws:kms through.
  if (method !== 'AES256') throw invalidMethod(method);
  return { kind: 'sse-s3' };
}

const KMS_KEY_ID = 'x-amz-server-side-encryption-aws-kms-key-id';
const BUCKET_KEY = 'x-amz-server-side-encryption-bucket-key-enabled';

function invalidMethod(method: string): ServiceError {
  return errors.invalidArgument('The encryption method specified is not supported', SSE, method);
}

/** `x-amz-server-side-encryption`'s values: AES256 and aws:kms honoured, aws:kms:dsse refused (501), anything else InvalidArgument. */
export function checkEncryptionMethod(value: string): ServiceError | 'refused' | undefined {
  const method = value.trim();
  if (method === 'AES256' || method === 'aws:kms') return undefined;
  if (method === 'aws:kms:dsse') return 'refused';
  return invalidMethod(method);
}

/** The headers that tell how an object (or part, or upload) is encrypted; `presented`: the request's customer key. */
export function encryptionHeaders(encryption: ObjectEncryption | undefined, presented?: Buffer): Record<string, string> {
  if (encryption?.kind === 'sse-s3') return { [SSE]: 'AES256' };
  if (encryption?.kind === 'sse-kms') {
    return { [SSE]: 'aws:kms', [KMS_KEY_ID]: arnOf(encryption.kmsKeyId!), ...(encryption.bucketKeyEnabled ? { [BUCKET_KEY]: 'true' } : {}) };
  }
  if (encryption?.kind === 'sse-c') {
    return {
      [`${CUSTOMER_PREFIX}algorithm`]: 'AES256',
      ...(presented ? { [`${CUSTOMER_PREFIX}key-md5`]: customerKeyMd5(presented) } : {}),
    };
  }
  return {};
}

// The bucket's default encryption: PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption

const MAX_DOCUMENT_BYTES = 64 * 1024;

export async function putBucketEncryption(call: S3Call): Promise<void> {
  const body = (await readVerifiedBody(call.ctx, call.auth, MAX_DOCUMENT_BYTES)).toString('utf8');
  const rules = occurrences(checked(parseXml(body, 'ServerSideEncryptionConfiguration'), ['Rule']).Rule);
  if (rules.length !== 1) throw errors.malformedXML();
  const rule = checked(nodeOf(rules[0]), ['ApplyServerSideEncryptionByDefault', 'BucketKeyEnabled']);
  const byDefault = checked(nodeOf(rule.ApplyServerSideEncryptionByDefault), ['SSEAlgorithm', 'KMSMasterKeyID']);
  const algorithm = once(byDefault.SSEAlgorithm);
  const bucketKey = once(rule.BucketKeyEnabled);
  if (algorithm === undefined || (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false')) throw errors.malformedXML();
  if (algorithm === 'aws:kms:dsse') {
    throw new ServiceError('NotImplemented', 'Dual-layer SSE-KMS (aws:kms:dsse) is not implemented.', 501);
  }
  if (algorithm !== 'AES256' && algorithm !== 'aws:kms') throw errors.malformedXML();
  const keyName = once(byDefault.KMSMasterKeyID);
  if (keyName !== undefined && algorithm !== 'aws:kms') {
    throw errors.invalidArgument('a KMSMasterKeyID is allowed only for SSEAlgorithm aws:kms', 'KMSMasterKeyID', keyName);
  }
  const bucketKeyEnabled = bucketKey === 'true' ? { bucketKeyEnabled: true } : {};
  const config: BucketEncryption =
    algorithm === 'aws:kms'
      ? { kind: 'sse-kms', ...(keyName === undefined ? {} : { kmsKeyId: (await call.storage.kms.get(keyName)).keyId }), ...bucketKeyEnabled }
      : { kind: 'sse-s3', ...bucketKeyEnabled };
  await call.storage.settings.putConfig(call.actor, call.bucket, 'encryption', JSON.stringify(config));
  sendEmpty(call.ctx.res, 200);
}

export async function getBucketEncryption(call: S3Call): Promise<void> {
  const document = await call.storage.settings.getConfig(call.actor, call.bucket, 'encryption');
  if (document === undefined) {
    throw new ServiceError('ServerSideEncryptionConfigurationNotFoundError', 'The server side encryption configuration was not found', 404, {
      BucketName: call.bucket,
    });
  }
  const config = JSON.parse(document) as BucketEncryption;
  sendXml(call.ctx.res, 200, 'ServerSideEncryptionConfiguration', {
    Rule: {
      ApplyServerSideEncryptionByDefault: {
        SSEAlgorithm: config.kind === 'sse-kms' ? 'aws:kms' : 'AES256',
        ...(config.kmsKeyId ? { KMSMasterKeyID: arnOf(config.kmsKeyId) } : {}),
      },
      BucketKeyEnabled: String(config.bucketKeyEnabled === true),
    },
  });
}

export async function deleteBucketEncryption(call: S3Call): Promise<void> {
  await call.storage.settings.deleteConfig(call.actor, call.bucket, 'encryption');
  sendEmpty(call.ctx.res, 204);
}

/** Whether a request carries any SSE header (a copy onto itself that changes only its encryption is allowed). */
export function asksForEncryption(headers: IncomingHttpHeaders): boolean {
  return header(headers, SSE) !== undefined || header(headers, `${CUSTOMER_PREFIX}algorithm`) !== undefined;
}
