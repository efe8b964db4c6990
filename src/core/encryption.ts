import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { BlobKeys } from './blob-store.js';
import { ServiceError } from './errors.js';
import type { KeyStore } from './kms.js';
import type { SecretBox } from './secret-box.js';
import type { BucketEncryption, ObjectEncryption } from './types.js';

/**
 * Server-side encryption, for every dialect: which key seals an object's blobs, and whether a
 * request may read them. Each blob has its own data key (core/blob-cipher.ts), sealed under a
 * key-encryption key (KEK):
 * - SSE-S3: a key derived from the server's master key;
 * - SSE-KMS: a key of the local key store (core/kms.ts), the request's or the `aws/s3` key;
 * - SSE-C: the customer's key itself, which the request brings and Tessera never stores. Only a
 *   salted HMAC of it is kept, so a later request with another key is refused before any blob is
 *   opened.
 */

/** What a request asks for: S3's x-amz-server-side-encryption(-customer-*) and OSS's equivalents, parsed. */
export type EncryptionRequest =
  | { kind: 'sse-s3' }
  | { kind: 'sse-kms'; kmsKeyId?: string; bucketKeyEnabled?: boolean }
  | { kind: 'sse-c'; key: Buffer };

/** An object's (or upload's) encryption and the key-encryption key its new blobs are sealed under. */
export interface Sealing {
  encryption: ObjectEncryption;
  kek: Buffer;
}

export const CUSTOMER_KEY_BYTES = 32;

export const encryptionErrors = {
  /** An SSE-C object read without its key. */
  keyRequired: () =>
    new ServiceError(
      'InvalidRequest',
      'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.',
      400,
    ),
  /** A customer key given for an object that was not stored with one. */
  notApplicable: () => new ServiceError('InvalidRequest', 'The encryption parameters are not applicable to this object.', 400),
  /** A customer key that is not the object's: AWS answers 403. */
  wrongKey: () => new ServiceError('AccessDenied', 'Access Denied.', 403),
  /** A part whose customer key is not its upload's. */
  uploadKeyMismatch: () =>
    new ServiceError(
      'InvalidArgument',
      'The provided encryption parameters did not match the ones used originally.',
      400,
      { ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: 'null' },
    ),
};

export class Encryption {
  private readonly sseS3Key: Buffer;

  constructor(
    master: SecretBox,
    readonly kms: KeyStore,
  ) {
    this.sseS3Key = master.deriveKey('sse-s3');
  }

  /**
   * How a new object (or upload) is sealed: as the request asks, else by the bucket's default,
   * else not at all.
   */
  async forWrite(requested: EncryptionRequest | undefined, bucketDefault: BucketEncryption | undefined): Promise<Sealing | undefined> {
    const wanted = requested ?? bucketDefault;
    if (wanted === undefined) return undefined;
    switch (wanted.kind) {
      case 'sse-s3':
        return { encryption: { kind: 'sse-s3' }, kek: this.sseS3Key };
      case 'sse-c': {
        const key = (wanted as { key: Buffer }).key;
        return { encryption: { kind: 'sse-c', customerKeyCheck: customerKeyCheck(key) }, kek: key };
      }
      case 'sse-kms': {
        const key = await this.kms.forWrite(wanted.kmsKeyId);
        const bucketKey = wanted.bucketKeyEnabled === undefined ? {} : { bucketKeyEnabled: wanted.bucketKeyEnabled };
        return { encryption: { kind: 'sse-kms', kmsKeyId: key.id, ...bucketKey }, kek: key.material };
      }
    }
  }

  /**
   * The key-encryption key of an object's (or upload's) blobs, for a request that presents
   * `customerKey` (SSE-C) or none; refuses a request whose key does not fit the object.
   */
  async kekFor(encryption: ObjectEncryption | undefined, customerKey: Buffer | undefined): Promise<Buffer | undefined> {
    if (encryption?.kind === 'sse-c') {
      if (customerKey === undefined) throw encryptionErrors.keyRequired();
      if (!sameCustomerKey(encryption.customerKeyCheck, customerKey)) throw encryptionErrors.wrongKey();
      return customerKey;
    }
    if (customerKey !== undefined) throw encryptionErrors.notApplicable();
    if (encryption?.kind === 'sse-s3') return this.sseS3Key;
    if (encryption?.kind === 'sse-kms') return this.kms.forRead(encryption.kmsKeyId!);
    return undefined;
  }

  /** The key-encryption key of an upload's new parts: the upload's own, with the customer key it was made with (SSE-C). */
  async kekForPart(encryption: ObjectEncryption | undefined, customerKey: Buffer | undefined): Promise<Buffer | undefined> {
    if (encryption?.kind === 'sse-c') {
      if (customerKey === undefined) {
        throw new ServiceError(
          'InvalidRequest',
          'The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.',
          400,
        );
      }
      if (!sameCustomerKey(encryption.customerKeyCheck, customerKey)) throw encryptionErrors.uploadKeyMismatch();
      return customerKey;
    }
    if (customerKey !== undefined) throw encryptionErrors.uploadKeyMismatch();
    return this.kekFor(encryption, undefined);
  }

  /** The keys to read an object's blobs with (undefined: plaintext). */
  async blobKeys(encryption: ObjectEncryption | undefined, customerKey: Buffer | undefined): Promise<BlobKeys | undefined> {
    const kek = await this.kekFor(encryption, customerKey);
    return kek && (() => kek);
  }
}

/** `salt:HMAC-SHA256(key, salt)`, base64: tells the same key again, reveals nothing of it. */
function customerKeyCheck(key: Buffer): string {
  const salt = randomBytes(16);
  return `${salt.toString('base64')}:${createHmac('sha256', key).update(salt).digest('base64')}`;
}

function sameCustomerKey(check: string | undefined, key: Buffer): boolean {
  const [salt, mac] = (check ?? '').split(':');
  if (!salt || !mac) return false;
  const expected = Buffer.from(mac, 'base64');
  const actual = createHmac('sha256', key).update(Buffer.from(salt, 'base64')).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Base64 MD5 of a customer key, as S3's x-amz-server-side-encryption-customer-key-MD5 carries it. */
export function customerKeyMd5(key: Buffer): string {
  return createHash('md5').update(key).digest('base64');
}

/**
 * The ETag of an encrypted object or part: the content's MD5 under SSE-S3 (as S3 gives it);
 * under SSE-C, a digest that does not reveal it (a listing shows ETags to whoever may list, key or no key).
 */
export function etagOf(encryption: ObjectEncryption | undefined, md5Hex: string): string {
  if (encryption?.kind !== 'sse-c' && encryption?.kind !== 'sse-kms') return md5Hex;
  return createHash('md5').update(`${encryption.customerKeyCheck ?? encryption.kmsKeyId ?? ''}:${md5Hex}`).digest('hex');
}

/** Whether two encryptions seal blobs the same way (a copy between them can share the blobs). */
export function sameSealing(a: ObjectEncryption | undefined, b: ObjectEncryption | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  // SSE-C never: each object's key check is its own, and the key may differ.
  return a.kind === b.kind && a.kind !== 'sse-c' && a.kmsKeyId === b.kmsKeyId;
}
