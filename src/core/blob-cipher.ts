import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ServiceError } from './errors.js';

/**
 * How an encrypted blob file is laid out (server-side encryption, core/encryption.ts decides
 * which key seals it):
 *
 *   header (64 bytes): "TSE1" | nonce (12) | data key sealed under the key-encryption key (32) | tag (16)
 *   then one record per 64 KiB of plaintext: ciphertext | tag (16), the last record shorter.
 *
 * Every blob has its own random data key, so a record's nonce can be its index: no (key, nonce)
 * pair repeats. AES-256-GCM authenticates each record, so a ranged read decrypts only the records
 * the range touches, and a flipped bit, a swapped or missing record is an error, never wrong
 * bytes. The data key's seal binds the blob id: a whole file copied over another blob's does
 * not open.
 */

export const CHUNK_BYTES = 64 * 1024;
const TAG_BYTES = 16;
export const RECORD_BYTES = CHUNK_BYTES + TAG_BYTES;
const MAGIC = Buffer.from('TSE1', 'latin1');
const NONCE_BYTES = 12;
const KEY_BYTES = 32;
export const HEADER_BYTES = MAGIC.length + NONCE_BYTES + KEY_BYTES + TAG_BYTES;

/** The blob failed its integrity check: altered on disk, or sealed under another key. */
export function tamperedBlob(): ServiceError {
  return new ServiceError('InternalError', 'The stored object failed its integrity check and cannot be read.', 500);
}

/** The bytes on disk for `plainBytes` of content. */
export function sealedSize(plainBytes: number): number {
  return HEADER_BYTES + plainBytes + Math.ceil(plainBytes / CHUNK_BYTES) * TAG_BYTES;
}

function recordNonce(index: number): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES);
  nonce.writeUIntBE(index, NONCE_BYTES - 6, 6);
  return nonce;
}

/** A new blob's data key, and the header that keeps it sealed under `kek` for `blobId`. */
export function newBlobKey(kek: Buffer, blobId: string): { dataKey: Buffer; header: Buffer } {
  const dataKey = randomBytes(KEY_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek, nonce);
  cipher.setAAD(Buffer.from(blobId, 'latin1'));
  const sealed = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  return { dataKey, header: Buffer.concat([MAGIC, nonce, sealed, cipher.getAuthTag()]) };
}

/** The data key a blob's header holds; throws `tamperedBlob` when it does not open under `kek`. */
export function openBlobKey(kek: Buffer, blobId: string, header: Buffer): Buffer {
  if (header.length !== HEADER_BYTES || !header.subarray(0, MAGIC.length).equals(MAGIC)) throw tamperedBlob();
  let at = MAGIC.length;
  const nonce = header.subarray(at, (at += NONCE_BYTES));
  const sealed = header.subarray(at, (at += KEY_BYTES));
  const decipher = createDecipheriv('aes-256-gcm', kek, nonce);
  decipher.setAAD(Buffer.from(blobId, 'latin1'));
  decipher.setAuthTag(header.subarray(at));
  try {
    return Buffer.concat([decipher.update(sealed), decipher.final()]);
  } catch {
    throw tamperedBlob();
  }
}

/**
 * Encrypts `plain`, which starts at record `firstRecord` and is whole records but for the last:
 * the records as pieces (ciphertext, tag, …) to write one after another, uncopied (writev).
 */
export function sealRecords(dataKey: Buffer, firstRecord: number, plain: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  for (let offset = 0, index = firstRecord; offset < plain.length; offset += CHUNK_BYTES, index++) {
    const chunk = plain.subarray(offset, Math.min(offset + CHUNK_BYTES, plain.length));
    const cipher = createCipheriv('aes-256-gcm', dataKey, recordNonce(index));
    pieces.push(cipher.update(chunk));
    const rest = cipher.final();
    if (rest.length > 0) pieces.push(rest);
    pieces.push(cipher.getAuthTag());
  }
  return pieces;
}

/** Decrypts one record (ciphertext and tag); throws `tamperedBlob` when it was altered. */
export function openRecord(dataKey: Buffer, index: number, record: Buffer): Buffer {
  if (record.length <= TAG_BYTES) throw tamperedBlob();
  const decipher = createDecipheriv('aes-256-gcm', dataKey, recordNonce(index));
  decipher.setAuthTag(record.subarray(record.length - TAG_BYTES));
  try {
    const plain = decipher.update(record.subarray(0, record.length - TAG_BYTES));
    decipher.final();
    return plain;
  } catch {
    throw tamperedBlob();
  }
}

/** Where plaintext bytes [from, to] (inclusive) of a blob of `plainBytes` lie on disk: whole records. */
export function recordSpan(from: number, to: number, plainBytes: number): { first: number; start: number; end: number; lengths: (index: number) => number } {
  const first = Math.floor(from / CHUNK_BYTES);
  const last = Math.floor(to / CHUNK_BYTES);
  const lastRecordPlain = (index: number) => Math.min(CHUNK_BYTES, plainBytes - index * CHUNK_BYTES);
  return {
    first,
    start: HEADER_BYTES + first * RECORD_BYTES,
    end: HEADER_BYTES + last * RECORD_BYTES + lastRecordPlain(last) + TAG_BYTES - 1,
    lengths: (index) => lastRecordPlain(index) + TAG_BYTES,
  };
}
