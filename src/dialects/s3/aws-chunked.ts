/**
 * Content-Encoding: aws-chunked, both directions.
 *
 *   hex-size[;chunk-signature=<64 hex>]\r\n <data> \r\n  …  0[;chunk-signature=…]\r\n
 *   [trailer-name:value\r\n … [x-amz-trailer-signature:<64 hex>\r\n]] \r\n
 *
 * The decoder streams: chunk data is passed on as it arrives (memory stays O(input
 * buffer)), so consumers must treat what they have received as provisional until the
 * stream finishes without error, exactly as they already must for a truncated body.
 */
import { createHash, type Hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';

import { errors, ServiceError } from '../../core/errors.js';
import {
  badDigestFor,
  checksumHeaderName,
  createChecksum,
  parseChecksumAlgorithm,
  type RunningBase64Checksum as Checksum,
  type ChecksumAlgorithm,
} from './checksums.js';
import {
  EMPTY_SHA256,
  sha256Hex,
  signature,
  signaturesEqual,
  STREAMING_SIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD_TRAILER,
  type ChunkSigningContext,
} from './sigv4.js';

const CHUNK_ALGORITHM = 'AWS4-HMAC-SHA256-PAYLOAD';
const TRAILER_ALGORITHM = 'AWS4-HMAC-SHA256-TRAILER';
const TRAILER_SIGNATURE_NAME = 'x-amz-trailer-signature';
const CHUNK_SIGNATURE_PREFIX = 'chunk-signature=';
const CRLF = '\r\n';
/** Longest chunk-size or trailer line we accept; real ones are ~100 bytes. */
const MAX_LINE_BYTES = 4096;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;

export interface AwsChunkedDecoderOptions {
  /** Verify chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]). */
  signing?: ChunkSigningContext;
  /** Compute this checksum over the decoded bytes and require a matching trailer. */
  trailerChecksum?: ChecksumAlgorithm;
  /** Require and verify x-amz-trailer-signature (needs `signing`). */
  trailerSigned?: boolean;
  /** x-amz-decoded-content-length. */
  expectedDecodedLength?: number;
}

export interface AwsChunkedDecoder extends Transform {
  /** Trailer headers by lower-case name, complete once the stream has ended. */
  readonly trailers: ReadonlyMap<string, string>;
  readonly decodedLength: number;
}

export function createAwsChunkedDecoder(options: AwsChunkedDecoderOptions = {}): AwsChunkedDecoder {
  return new AwsChunkedDecoderStream(options);
}

/**
 * Decoder options for a request whose auth has been verified: signing for the
 * STREAMING-AWS4-HMAC-SHA256-* payloads, the checksum named by x-amz-trailer, and
 * x-amz-decoded-content-length.
 */
export function decoderOptionsForRequest(
  auth: { payloadHash: string; signingKey: Buffer; datetime: string; scope: string; signature: string },
  headers: IncomingHttpHeaders,
): AwsChunkedDecoderOptions {
  const options: AwsChunkedDecoderOptions = {};
  if (auth.payloadHash === STREAMING_SIGNED_PAYLOAD || auth.payloadHash === STREAMING_SIGNED_PAYLOAD_TRAILER) {
    options.signing = {
      signingKey: auth.signingKey,
      datetime: auth.datetime,
      scope: auth.scope,
      seedSignature: auth.signature,
    };
    options.trailerSigned = auth.payloadHash === STREAMING_SIGNED_PAYLOAD_TRAILER;
  }
  const trailer = singleHeader(headers['x-amz-trailer']);
  if (trailer !== undefined && trailer.trim() !== '') {
    const algorithm = parseChecksumAlgorithm(trailer);
    if (algorithm === undefined) {
      throw new ServiceError('InvalidRequest', 'The value specified in the x-amz-trailer header is not supported', 400);
    }
    options.trailerChecksum = algorithm;
  }
  const decodedLength = singleHeader(headers['x-amz-decoded-content-length']);
  if (decodedLength !== undefined && /^\d+$/.test(decodedLength.trim())) {
    options.expectedDecodedLength = Number(decodedLength.trim());
  }
  return options;
}

function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

// ---------------------------------------------------------------------------
// Shared signing arithmetic

function chunkStringToSign(signing: ChunkSigningContext, previousSignature: string, dataSha256Hex: string): string {
  return [CHUNK_ALGORITHM, signing.datetime, signing.scope, previousSignature, EMPTY_SHA256, dataSha256Hex].join('\n');
}

function trailerStringToSign(signing: ChunkSigningContext, previousSignature: string, trailerText: string): string {
  return [TRAILER_ALGORITHM, signing.datetime, signing.scope, previousSignature, sha256Hex(trailerText)].join('\n');
}

/** The bytes a trailer signature covers: every trailer but the signature, as "name:value\n". */
function trailerSigningText(trailers: ReadonlyArray<readonly [string, string]>): string {
  return trailers.map(([name, value]) => `${name}:${value}\n`).join('');
}

// ---------------------------------------------------------------------------
// Decoder

type DecoderState = 'size-line' | 'data' | 'data-crlf' | 'trailer' | 'done';

function malformed(detail: string): ServiceError {
  return new ServiceError('IncompleteBody', `The aws-chunked request body is malformed: ${detail}.`, 400);
}

function signatureMismatch(): ServiceError {
  return new ServiceError(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    403,
  );
}

export function malformedTrailer(): ServiceError {
  return new ServiceError(
    'MalformedTrailerError',
    'The request contained trailing data that was not well-formed or did not conform to our published schema.',
    400,
  );
}

class AwsChunkedDecoderStream extends Transform implements AwsChunkedDecoder {
  private state: DecoderState = 'size-line';
  private readonly lineParts: Buffer[] = [];
  private lineLength = 0;
  private chunkRemaining = 0;
  private crlfMatched = 0;
  private chunkHash: Hash | undefined;
  private chunkSignature: string | undefined;
  private previousSignature: string | undefined;
  private readonly checksum: Checksum | undefined;
  private readonly trailerLines: Array<[string, string]> = [];
  private readonly trailerMap = new Map<string, string>();
  private decoded = 0;

  constructor(private readonly options: AwsChunkedDecoderOptions) {
    super();
    this.previousSignature = options.signing?.seedSignature;
    this.checksum = options.trailerChecksum === undefined ? undefined : createChecksum(options.trailerChecksum);
  }

  get trailers(): ReadonlyMap<string, string> {
    return this.trailerMap;
  }

  get decodedLength(): number {
    return this.decoded;
  }

  override _transform(input: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(input);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.finishInput();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  private consume(input: Buffer): void {
    let offset = 0;
    while (offset < input.length) {
      switch (this.state) {
        case 'size-line':
        case 'trailer': {
          const line = this.takeLine(input, offset);
          if (line === undefined) return;
          offset = line.next;
          if (this.state === 'size-line') this.onSizeLine(line.text);
          else this.onTrailerLine(line.text);
          break;
        }
        case 'data': {
          const take = Math.min(this.chunkRemaining, input.length - offset);
          this.onData(input.subarray(offset, offset + take));
          offset += take;
          break;
        }
        case 'data-crlf': {
          const expected = CRLF.charCodeAt(this.crlfMatched);
          if (input[offset] !== expected) throw malformed('chunk data is not followed by CRLF');
          offset++;
          if (++this.crlfMatched === 2) this.state = 'size-line';
          break;
        }
        case 'done': {
          // Tolerate stray line breaks after the terminating empty line, nothing else.
          const byte = input[offset];
          if (byte !== 0x0d && byte !== 0x0a) throw malformed('data after the final chunk');
          offset++;
          break;
        }
      }
    }
  }

  /** Completes a line ending in LF (CR stripped), or buffers the fragment and returns undefined. */
  private takeLine(input: Buffer, offset: number): { text: string; next: number } | undefined {
    const newline = input.indexOf(0x0a, offset);
    const end = newline === -1 ? input.length : newline;
    this.lineLength += end - offset;
    if (this.lineLength > MAX_LINE_BYTES) throw malformed('chunk header or trailer line too long');
    this.lineParts.push(input.subarray(offset, end));
    if (newline === -1) return undefined;
    return { text: this.drainLine(), next: newline + 1 };
  }

  private drainLine(): string {
    const text = Buffer.concat(this.lineParts).toString('latin1');
    this.lineParts.length = 0;
    this.lineLength = 0;
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  }

  private onSizeLine(line: string): void {
    const [sizeText = '', ...extensions] = line.split(';');
    const sizeHex = sizeText.trim();
    if (!/^[0-9a-fA-F]{1,13}$/.test(sizeHex)) throw malformed(`invalid chunk size "${sizeText}"`);
    const size = parseInt(sizeHex, 16);

    this.chunkSignature = undefined;
    for (const extension of extensions) {
      const trimmed = extension.trim();
      if (trimmed.startsWith(CHUNK_SIGNATURE_PREFIX)) this.chunkSignature = trimmed.slice(CHUNK_SIGNATURE_PREFIX.length);
    }
    if (this.options.signing !== undefined && this.chunkSignature === undefined) throw signatureMismatch();

    const expected = this.options.expectedDecodedLength;
    if (expected !== undefined && this.decoded + size > expected) throw errors.incompleteBody();

    if (size === 0) {
      this.verifyChunkSignature(EMPTY_SHA256);
      this.state = 'trailer';
      return;
    }
    this.chunkRemaining = size;
    this.chunkHash = this.options.signing === undefined ? undefined : createHash('sha256');
    this.state = 'data';
  }

  private onData(data: Buffer): void {
    this.chunkHash?.update(data);
    this.checksum?.update(data);
    this.decoded += data.length;
    this.chunkRemaining -= data.length;
    this.push(data);
    if (this.chunkRemaining === 0) {
      this.verifyChunkSignature(this.chunkHash?.digest('hex') ?? EMPTY_SHA256);
      this.chunkHash = undefined;
      this.crlfMatched = 0;
      this.state = 'data-crlf';
    }
  }

  private verifyChunkSignature(dataSha256Hex: string): void {
    const { signing } = this.options;
    if (signing === undefined || this.previousSignature === undefined) return;
    const provided = this.chunkSignature ?? '';
    const expected = signature(signing.signingKey, chunkStringToSign(signing, this.previousSignature, dataSha256Hex));
    if (!signaturesEqual(expected, provided)) throw signatureMismatch();
    this.previousSignature = expected;
  }

  private onTrailerLine(line: string): void {
    if (line.trim() === '') {
      this.finishTrailers();
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformedTrailer();
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    this.trailerMap.set(name.toLowerCase(), value);
    if (name.toLowerCase() !== TRAILER_SIGNATURE_NAME) this.trailerLines.push([name, value]);
  }

  private finishTrailers(): void {
    this.verifyTrailerSignature();
    this.verifyTrailerChecksum();
    const expected = this.options.expectedDecodedLength;
    if (expected !== undefined && this.decoded !== expected) throw errors.incompleteBody();
    this.state = 'done';
  }

  private verifyTrailerSignature(): void {
    const { signing } = this.options;
    const provided = this.trailerMap.get(TRAILER_SIGNATURE_NAME);
    if (signing === undefined || this.previousSignature === undefined) return;
    if (provided === undefined) {
      if (this.options.trailerSigned === true) throw signatureMismatch();
      return;
    }
    const toSign = trailerStringToSign(signing, this.previousSignature, trailerSigningText(this.trailerLines));
    if (!signaturesEqual(signature(signing.signingKey, toSign), provided)) throw signatureMismatch();
  }

  private verifyTrailerChecksum(): void {
    const algorithm = this.options.trailerChecksum;
    if (algorithm === undefined || this.checksum === undefined) return;
    const provided = this.trailerMap.get(checksumHeaderName(algorithm));
    if (provided === undefined) throw malformedTrailer();
    if (provided !== this.checksum.digestBase64()) throw badDigestFor(algorithm);
  }

  private finishInput(): void {
    if (this.state === 'done') return;
    if (this.state !== 'trailer') throw errors.incompleteBody();
    // Liberal about the end: the last trailer line's CRLF or the closing empty line may be missing.
    if (this.lineLength > 0) this.onTrailerLine(this.drainLine());
    if (this.state === 'trailer') this.finishTrailers();
  }
}

// ---------------------------------------------------------------------------
// Encoder (client side, and the decoder's test partner)

export interface AwsChunkedEncoderOptions {
  /** Decoded bytes per chunk (the last may be shorter). Default 64 KiB. */
  chunkSize?: number;
  /** Sign each chunk (and the trailer, if any), seeded by the request's signature. */
  signing?: ChunkSigningContext;
  /** Append x-amz-checksum-<algorithm> as a trailer. */
  trailerChecksum?: ChecksumAlgorithm;
}

export function createAwsChunkedEncoder(options: AwsChunkedEncoderOptions = {}): Transform {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError('chunkSize must be a positive integer');
  const { signing } = options;
  const checksum = options.trailerChecksum === undefined ? undefined : createChecksum(options.trailerChecksum);
  let previousSignature = signing?.seedSignature;
  let pending: Buffer[] = [];
  let pendingLength = 0;

  const frame = (data: Buffer): Buffer => {
    let extension = '';
    if (signing !== undefined && previousSignature !== undefined) {
      previousSignature = signature(signing.signingKey, chunkStringToSign(signing, previousSignature, sha256Hex(data)));
      extension = `;${CHUNK_SIGNATURE_PREFIX}${previousSignature}`;
    }
    const header = `${data.length.toString(16)}${extension}${CRLF}`;
    return data.length === 0
      ? Buffer.from(header, 'latin1')
      : Buffer.concat([Buffer.from(header, 'latin1'), data, Buffer.from(CRLF, 'latin1')]);
  };

  const emitFullChunks = (stream: Transform): void => {
    if (pendingLength < chunkSize) return;
    let all = Buffer.concat(pending, pendingLength);
    while (all.length >= chunkSize) {
      stream.push(frame(all.subarray(0, chunkSize)));
      all = all.subarray(chunkSize);
    }
    // Copy the remainder so the concatenated block can be freed.
    pending = all.length > 0 ? [Buffer.from(all)] : [];
    pendingLength = all.length;
  };

  return new Transform({
    transform(input: Buffer, _encoding, callback) {
      checksum?.update(input);
      pending.push(input);
      pendingLength += input.length;
      emitFullChunks(this);
      callback();
    },
    flush(callback) {
      if (pendingLength > 0) this.push(frame(Buffer.concat(pending, pendingLength)));
      pending = [];
      this.push(frame(Buffer.alloc(0)));
      let tail = '';
      if (options.trailerChecksum !== undefined && checksum !== undefined) {
        const trailers: Array<[string, string]> = [[checksumHeaderName(options.trailerChecksum), checksum.digestBase64()]];
        tail += trailers.map(([name, value]) => `${name}:${value}${CRLF}`).join('');
        if (signing !== undefined && previousSignature !== undefined) {
          const toSign = trailerStringToSign(signing, previousSignature, trailerSigningText(trailers));
          tail += `${TRAILER_SIGNATURE_NAME}:${signature(signing.signingKey, toSign)}${CRLF}`;
        }
      }
      this.push(Buffer.from(tail + CRLF, 'latin1'));
      callback();
    },
  });
}

const BASE64_DIGEST_LENGTH: Record<ChecksumAlgorithm, number> = {
  crc32: 8,
  crc32c: 8,
  crc64nvme: 12,
  sha1: 28,
  sha256: 44,
};

/** Content-Length of what createAwsChunkedEncoder produces for `decodedLength` bytes. */
export function awsChunkedEncodedLength(
  decodedLength: number,
  options: { chunkSize?: number; signed?: boolean; trailerChecksum?: ChecksumAlgorithm } = {},
): number {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const signatureExtension = options.signed === true ? `;${CHUNK_SIGNATURE_PREFIX}`.length + 64 : 0;
  const chunkOverhead = (size: number): number => size.toString(16).length + signatureExtension + CRLF.length;

  const fullChunks = Math.floor(decodedLength / chunkSize);
  const lastChunk = decodedLength % chunkSize;
  let total = fullChunks * (chunkOverhead(chunkSize) + chunkSize + CRLF.length);
  if (lastChunk > 0) total += chunkOverhead(lastChunk) + lastChunk + CRLF.length;
  total += chunkOverhead(0);
  if (options.trailerChecksum !== undefined) {
    const algorithm = options.trailerChecksum;
    total += checksumHeaderName(algorithm).length + 1 + BASE64_DIGEST_LENGTH[algorithm] + CRLF.length;
    if (options.signed === true) total += TRAILER_SIGNATURE_NAME.length + 1 + 64 + CRLF.length;
  }
  return total + CRLF.length;
}
