/**
 * A typed client for the S3 and the OSS dialects: buckets, objects, multipart uploads and
 * listings, with the answers of both mapped onto the same types. Requests are signed by the
 * very modules the server verifies with (`dialects/s3/sigv4.ts`, `dialects/oss/signing.ts`).
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { LifecycleConfiguration, LifecycleRule } from '../core/lifecycle.js';
import { signV1, signV4 } from '../dialects/oss/signing.js';
import { awsUriEncode, signRequest, UNSIGNED_PAYLOAD } from '../dialects/s3/sigv4.js';
import { requestIdOf, ServiceError } from './errors.js';
import { HttpTransport, type Idempotency, type RequestBody, type Response, type TransportOptions } from './http.js';
import type {
  BucketDetails,
  BucketSummary,
  CompleteResult,
  CompletedPart,
  CopyResult,
  Credentials,
  DeleteObjectsResult,
  DialectName,
  ListBucketsResult,
  ListObjectsResult,
  ListPartsResult,
  ListUploadsResult,
  ObjectInfo,
  PutResult,
  UploadInitiated,
} from './types.js';
import { bool, buildXml, date, int, list, parseDocument, text, textOr, type XmlNode } from './xml.js';

export interface ClientOptions extends TransportOptions {
  dialect: DialectName;
  /** `http://127.0.0.1:9000`, `https://oss-cn-hangzhou.aliyuncs.com`; a bare host means http. */
  endpoint: string;
  credentials: Credentials;
  /** SigV4 region (S3, default us-east-1) or OSS V4 region (`cn-hangzhou`). */
  region?: string;
  /** OSS only: `v1` (default) or `v4`. */
  signVersion?: 'v1' | 'v4';
  /** `/bucket/key` rather than `bucket.host/key`. Default: path style for IP addresses and localhost. */
  forcePathStyle?: boolean;
  /** Per-bucket endpoints (ossutil's `[Bucket-Endpoint]`). */
  bucketEndpoints?: Readonly<Record<string, string>>;
  /** Per-bucket CNAME hosts (ossutil's `[Bucket-Cname]`): requests go to the host as is. */
  bucketCnames?: Readonly<Record<string, string>>;
  userAgent?: string;
  /** Reuse a transport (its agents and retry policy) across clients. */
  transport?: HttpTransport;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface PutOptions extends CallOptions {
  contentType?: string;
  metadata?: Record<string, string>;
  /** Base64 MD5 of the body, checked by the service. */
  contentMd5?: string;
  headers?: Record<string, string>;
}

interface Call extends CallOptions {
  method: string;
  bucket?: string;
  key?: string;
  query?: Array<[string, string]>;
  headers?: Record<string, string>;
  body?: RequestBody;
  idempotency?: Idempotency;
  stream?: boolean;
}

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

function endpointUrl(endpoint: string): URL {
  return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`);
}

function isIpOrLocal(hostname: string): boolean {
  return hostname === 'localhost' || /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || hostname.startsWith('[');
}

/** Each path segment RFC 3986-encoded; `/` kept. */
export function encodeKey(key: string): string {
  return key.split('/').map(awsUriEncode).join('/');
}

function encodeQuery(query: Array<[string, string]>): string {
  return query.map(([name, value]) => (value === '' ? awsUriEncode(name) : `${awsUriEncode(name)}=${awsUriEncode(value)}`)).join('&');
}

/** The given listing parameters that are set, after the fixed ones. */
function params(fixed: Array<[string, string]>, optional: Array<[string, string | number | undefined]>): Array<[string, string]> {
  const query = [...fixed];
  for (const [name, value] of optional) if (value !== undefined && value !== '') query.push([name, String(value)]);
  return query;
}

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(',') : value;
  return out;
}

/**
 * `encoding-type=url` answers: decode the fields that were encoded. Form decoding: S3 sends a
 * space as `+` (and a `+` as %2B); OSS escapes both, so `+` never reaches us from it.
 */
function decoder(document: XmlNode): (value: string) => string {
  if (text(document.EncodingType)?.toLowerCase() !== 'url') return (value) => value;
  return (value) => {
    try {
      return decodeURIComponent(value.replace(/\+/g, ' '));
    } catch {
      return value;
    }
  };
}

export class StorageClient {
  readonly dialect: DialectName;
  readonly endpoint: URL;
  readonly transport: HttpTransport;
  private readonly options: ClientOptions;
  private readonly prefix: 'x-amz-' | 'x-oss-';

  constructor(options: ClientOptions) {
    this.options = options;
    this.dialect = options.dialect;
    this.endpoint = endpointUrl(options.endpoint);
    this.transport = options.transport ?? new HttpTransport(options);
    this.prefix = options.dialect === 's3' ? 'x-amz-' : 'x-oss-';
  }

  /** `x-amz-` or `x-oss-`. */
  get headerPrefix(): string {
    return this.prefix;
  }

  /** Closes idle sockets so a short-lived process can exit. */
  destroy(): void {
    this.transport.destroy();
  }

  // --- Addressing and signing -------------------------------------------------------------

  /** The URL of a service, bucket or object request. */
  urlFor(bucket: string | undefined, key: string | undefined, query: Array<[string, string]> = []): URL {
    const encodedKey = key === undefined ? '' : encodeKey(key);
    const search = query.length > 0 ? `?${encodeQuery(query)}` : '';
    if (bucket === undefined) return new URL(`${this.endpoint.origin}${this.basePath(this.endpoint)}/${search}`);
    const cname = this.options.bucketCnames?.[bucket];
    if (cname !== undefined) {
      const base = endpointUrl(cname);
      return new URL(`${base.origin}${this.basePath(base)}/${encodedKey}${search}`);
    }
    const base = this.options.bucketEndpoints?.[bucket] !== undefined ? endpointUrl(this.options.bucketEndpoints[bucket]!) : this.endpoint;
    const pathStyle = this.options.forcePathStyle ?? isIpOrLocal(base.hostname);
    if (pathStyle) {
      const bucketPath = key === undefined ? (this.dialect === 'oss' ? `/${bucket}/` : `/${bucket}`) : `/${bucket}/${encodedKey}`;
      return new URL(`${base.origin}${this.basePath(base)}${bucketPath}${search}`);
    }
    const host = `${base.protocol}//${bucket}.${base.host}`;
    return new URL(`${host}${this.basePath(base)}/${encodedKey}${search}`);
  }

  private basePath(url: URL): string {
    return url.pathname.replace(/\/+$/, '');
  }

  private sign(call: Call, url: URL, headers: Record<string, string>, payloadHash: string): Record<string, string> {
    const { credentials } = this.options;
    if (this.dialect === 's3') {
      return signRequest({
        method: call.method,
        url,
        headers,
        payloadHash,
        credentials: {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          sessionToken: credentials.sessionToken,
        },
        region: this.options.region ?? 'us-east-1',
      });
    }
    const input = {
      method: call.method,
      bucket: call.bucket,
      key: call.key,
      query: call.query ?? [],
      headers,
      accessKeyId: credentials.accessKeyId,
      secret: credentials.secretAccessKey,
    };
    if (this.options.signVersion === 'v4') {
      const region = this.options.region ?? regionFromEndpoint(this.endpoint.hostname);
      if (region === undefined) throw new Error('OSS V4 signing needs a region: set --region (e.g. cn-hangzhou)');
      return signV4({ ...input, region });
    }
    return signV1(input);
  }

  /** Sends one signed request; a non-2xx answer becomes a ServiceError. */
  async request(call: Call): Promise<Response> {
    const body = call.body;
    const payloadHash =
      body === undefined ? EMPTY_SHA256 : typeof body === 'string' || Buffer.isBuffer(body) ? createHash('sha256').update(body).digest('hex') : UNSIGNED_PAYLOAD;
    return this.transport.send({
      method: call.method,
      body,
      idempotency: call.idempotency ?? 'idempotent',
      signal: call.signal,
      stream: call.stream,
      prepare: () => {
        const url = this.urlFor(call.bucket, call.key, call.query);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(call.headers ?? {})) headers[name.toLowerCase()] = value;
        headers['user-agent'] = this.options.userAgent ?? 'tessera-client/0.1';
        if (this.dialect === 'oss' && this.options.credentials.sessionToken !== undefined) {
          headers['x-oss-security-token'] = this.options.credentials.sessionToken;
        }
        Object.assign(headers, this.sign(call, url, headers, payloadHash));
        return { url, headers };
      },
    });
  }

  private async xml(call: Call, root: string): Promise<{ document: XmlNode; response: Response }> {
    const response = await this.request(call);
    const document = parseDocument(response.text, root);
    if (document === undefined) {
      throw new ServiceError('MalformedResponse', `expected a ${root} document`, response.status, requestIdOf(response.headers));
    }
    return { document, response };
  }

  private metadataHeaders(options: PutOptions): Record<string, string> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    if (options.contentMd5 !== undefined) headers['content-md5'] = options.contentMd5;
    for (const [name, value] of Object.entries(options.metadata ?? {})) headers[`${this.prefix}meta-${name.toLowerCase()}`] = value;
    return headers;
  }

  // --- Buckets ----------------------------------------------------------------------------

  async listBuckets(options: { prefix?: string; marker?: string; maxKeys?: number } & CallOptions = {}): Promise<ListBucketsResult> {
    const query = params([], [['prefix', options.prefix], ['marker', options.marker], ['max-keys', options.maxKeys]]);
    const { document } = await this.xml({ method: 'GET', query, signal: options.signal }, 'ListAllMyBucketsResult');
    const bucketsNode = document.Buckets;
    const buckets: BucketSummary[] = list(typeof bucketsNode === 'object' && !Array.isArray(bucketsNode) ? bucketsNode.Bucket : undefined).map((b) => ({
      name: textOr(b.Name, ''),
      creationDate: date(b.CreationDate),
      location: textOr(b.Location, ''),
      storageClass: textOr(b.StorageClass, ''),
    }));
    const ownerNode = document.Owner;
    const owner =
      typeof ownerNode === 'object' && !Array.isArray(ownerNode) ? { id: textOr(ownerNode.ID, ''), displayName: textOr(ownerNode.DisplayName, '') } : undefined;
    const isTruncated = bool(document.IsTruncated);
    return { buckets, isTruncated, nextMarker: isTruncated ? text(document.NextMarker) : undefined, owner };
  }

  async createBucket(bucket: string, options: CallOptions = {}): Promise<void> {
    await this.request({ method: 'PUT', bucket, body: '', signal: options.signal });
  }

  async deleteBucket(bucket: string, options: CallOptions = {}): Promise<void> {
    await this.request({ method: 'DELETE', bucket, signal: options.signal });
  }

  /** HeadBucket: resolves when the bucket exists and the caller may use it. */
  async headBucket(bucket: string, options: CallOptions = {}): Promise<Record<string, string>> {
    const response = await this.request({ method: 'HEAD', bucket, signal: options.signal });
    return flatHeaders(response.headers);
  }

  /** What is known of a bucket: GetBucketInfo (OSS); HeadBucket and the bucket listing (S3). */
  async bucketInfo(bucket: string, options: CallOptions = {}): Promise<BucketDetails> {
    if (this.dialect === 's3') {
      const headers = await this.headBucket(bucket, options);
      let listed: BucketSummary | undefined;
      let marker: string | undefined;
      do {
        const page = await this.listBuckets({ marker, signal: options.signal });
        listed = page.buckets.find((b) => b.name === bucket);
        marker = page.isTruncated ? page.nextMarker : undefined;
      } while (listed === undefined && marker !== undefined);
      return { name: bucket, location: headers['x-amz-bucket-region'] ?? '', creationDate: listed?.creationDate };
    }
    const { document } = await this.xml({ method: 'GET', bucket, query: [['bucketInfo', '']], signal: options.signal }, 'BucketInfo');
    const node = document.Bucket;
    const fields: XmlNode = typeof node === 'object' && !Array.isArray(node) ? node : {};
    const nested = (name: string, field: string): string | undefined => {
      const value = fields[name];
      return typeof value === 'object' && !Array.isArray(value) ? text(value[field]) : undefined;
    };
    const creation = text(fields.CreationDate);
    return {
      name: textOr(fields.Name, bucket),
      location: textOr(fields.Location, ''),
      creationDate: creation ? new Date(creation) : undefined,
      extranetEndpoint: text(fields.ExtranetEndpoint),
      intranetEndpoint: text(fields.IntranetEndpoint),
      acl: nested('AccessControlList', 'Grant'),
      owner: nested('Owner', 'ID'),
      storageClass: text(fields.StorageClass),
    };
  }

  // --- Objects ----------------------------------------------------------------------------

  async putObject(bucket: string, key: string, body: RequestBody, options: PutOptions = {}): Promise<PutResult> {
    const response = await this.request({ method: 'PUT', bucket, key, body, headers: this.metadataHeaders(options), signal: options.signal });
    return { etag: single(response.headers, 'etag') ?? '', crc64: single(response.headers, 'x-oss-hash-crc64ecma'), requestId: requestIdOf(response.headers) };
  }

  async headObject(bucket: string, key: string, options: CallOptions = {}): Promise<ObjectInfo> {
    const response = await this.request({ method: 'HEAD', bucket, key, signal: options.signal });
    return this.objectInfo(response.headers);
  }

  /** GET, streamed: the caller must consume or destroy `body`. */
  async getObject(bucket: string, key: string, options: CallOptions & { range?: { start: number; end?: number } } = {}): Promise<{ info: ObjectInfo; body: IncomingMessage }> {
    const headers: Record<string, string> = {};
    if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end ?? ''}`;
    const response = await this.request({ method: 'GET', bucket, key, headers, stream: true, signal: options.signal });
    return { info: this.objectInfo(response.headers), body: response.stream! };
  }

  private objectInfo(headers: IncomingHttpHeaders): ObjectInfo {
    const flat = flatHeaders(headers);
    const metaPrefix = `${this.prefix}meta-`;
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(flat)) if (name.startsWith(metaPrefix)) metadata[name.slice(metaPrefix.length)] = value;
    const range = flat['content-range'];
    const total = range !== undefined ? Number(range.split('/')[1]) : Number(flat['content-length'] ?? 0);
    return {
      size: Number.isFinite(total) ? total : 0,
      etag: flat.etag ?? '',
      lastModified: new Date(flat['last-modified'] ?? 0),
      contentType: flat['content-type'],
      metadata,
      crc64: flat['x-oss-hash-crc64ecma'],
      objectType: flat['x-oss-object-type'],
      headers: flat,
      requestId: requestIdOf(headers),
    };
  }

  async deleteObject(bucket: string, key: string, options: CallOptions = {}): Promise<void> {
    await this.request({ method: 'DELETE', bucket, key, signal: options.signal });
  }

  /** DeleteObjects (at most 1000 keys), quiet: only failures are reported back. */
  async deleteObjects(bucket: string, keys: string[], options: CallOptions = {}): Promise<DeleteObjectsResult> {
    const xml = buildXml({ Delete: { Quiet: 'true', Object: keys.map((key) => ({ Key: key })) } });
    const contentMd5 = createHash('md5').update(xml).digest('base64');
    const { document } = await this.xml(
      { method: 'POST', bucket, query: [['delete', '']], body: xml, headers: { 'content-md5': contentMd5, 'content-type': 'application/xml' }, signal: options.signal },
      'DeleteResult',
    );
    const decode = decoder(document);
    const errors = list(document.Error).map((e) => ({ key: decode(textOr(e.Key, '')), code: textOr(e.Code, ''), message: textOr(e.Message, '') }));
    const failed = new Set(errors.map((e) => e.key));
    return { deleted: keys.filter((k) => !failed.has(k)), errors };
  }

  copySourceHeader(source: { bucket: string; key: string }): string {
    return `/${source.bucket}/${encodeKey(source.key)}`;
  }

  async copyObject(source: { bucket: string; key: string }, target: { bucket: string; key: string }, options: PutOptions & { replaceMetadata?: boolean } = {}): Promise<CopyResult> {
    const headers = this.metadataHeaders(options);
    headers[`${this.prefix}copy-source`] = this.copySourceHeader(source);
    if (options.replaceMetadata) headers[`${this.prefix}metadata-directive`] = 'REPLACE';
    const { document, response } = await this.xml({ method: 'PUT', bucket: target.bucket, key: target.key, headers, body: '', signal: options.signal }, 'CopyObjectResult');
    return { etag: textOr(document.ETag, ''), lastModified: date(document.LastModified), requestId: requestIdOf(response.headers) };
  }

  async listObjects(
    bucket: string,
    options: { prefix?: string; delimiter?: string; marker?: string; maxKeys?: number } & CallOptions = {},
  ): Promise<ListObjectsResult> {
    const query = params(
      [['encoding-type', 'url']],
      [['prefix', options.prefix], ['delimiter', options.delimiter], ['marker', options.marker], ['max-keys', options.maxKeys ?? 1000]],
    );
    const { document } = await this.xml({ method: 'GET', bucket, query, signal: options.signal }, 'ListBucketResult');
    const decode = decoder(document);
    const objects = list(document.Contents).map((o) => ({
      key: decode(textOr(o.Key, '')),
      lastModified: date(o.LastModified),
      etag: textOr(o.ETag, ''),
      size: int(o.Size),
      storageClass: textOr(o.StorageClass, ''),
    }));
    const commonPrefixes = list(document.CommonPrefixes).map((p) => decode(textOr(p.Prefix, '')));
    const isTruncated = bool(document.IsTruncated);
    let nextMarker = text(document.NextMarker) ? decode(text(document.NextMarker)!) : undefined;
    if (isTruncated && !nextMarker) {
      // S3 sends NextMarker only with a delimiter: the next page starts after the last entry.
      const last = [objects.at(-1)?.key, commonPrefixes.at(-1)].filter((v): v is string => v !== undefined).sort().at(-1);
      nextMarker = last;
    }
    const delimiter = text(document.Delimiter);
    return {
      bucket,
      prefix: decode(textOr(document.Prefix, '')),
      delimiter: delimiter ? decode(delimiter) : undefined,
      marker: decode(textOr(document.Marker, '')),
      isTruncated,
      nextMarker,
      objects,
      commonPrefixes,
    };
  }

  // --- Multipart --------------------------------------------------------------------------

  /** Not retried on ambiguous failures: a second try could leave a second, orphaned upload. */
  async createMultipartUpload(bucket: string, key: string, options: PutOptions = {}): Promise<UploadInitiated> {
    const { document } = await this.xml(
      { method: 'POST', bucket, key, query: [['uploads', '']], headers: this.metadataHeaders(options), body: '', idempotency: 'unsafe', signal: options.signal },
      'InitiateMultipartUploadResult',
    );
    return { bucket, key, uploadId: textOr(document.UploadId, '') };
  }

  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: RequestBody,
    options: CallOptions & { contentMd5?: string } = {},
  ): Promise<PutResult> {
    const headers: Record<string, string> = {};
    if (options.contentMd5 !== undefined) headers['content-md5'] = options.contentMd5;
    const response = await this.request({
      method: 'PUT',
      bucket,
      key,
      query: [['partNumber', String(partNumber)], ['uploadId', uploadId]],
      headers,
      body,
      signal: options.signal,
    });
    return { etag: single(response.headers, 'etag') ?? '', crc64: single(response.headers, 'x-oss-hash-crc64ecma'), requestId: requestIdOf(response.headers) };
  }

  /** `range` is inclusive, as `bytes=a-b`. */
  async uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: { bucket: string; key: string },
    options: CallOptions & { range?: { start: number; end: number } } = {},
  ): Promise<CopyResult> {
    const headers: Record<string, string> = { [`${this.prefix}copy-source`]: this.copySourceHeader(source) };
    if (options.range) headers[`${this.prefix}copy-source-range`] = `bytes=${options.range.start}-${options.range.end}`;
    const { document, response } = await this.xml(
      { method: 'PUT', bucket, key, query: [['partNumber', String(partNumber)], ['uploadId', uploadId]], headers, body: '', signal: options.signal },
      'CopyPartResult',
    );
    return { etag: textOr(document.ETag, ''), lastModified: date(document.LastModified), requestId: requestIdOf(response.headers) };
  }

  /** Not retried on ambiguous failures (see the uploader, which checks the object instead). */
  async completeMultipartUpload(bucket: string, key: string, uploadId: string, parts: CompletedPart[], options: CallOptions = {}): Promise<CompleteResult> {
    const xml = buildXml({
      CompleteMultipartUpload: {
        Part: [...parts].sort((a, b) => a.partNumber - b.partNumber).map((p) => ({ PartNumber: String(p.partNumber), ETag: p.etag })),
      },
    });
    const { document, response } = await this.xml(
      { method: 'POST', bucket, key, query: [['uploadId', uploadId]], body: xml, headers: { 'content-type': 'application/xml' }, idempotency: 'unsafe', signal: options.signal },
      'CompleteMultipartUploadResult',
    );
    return {
      bucket,
      key,
      etag: text(document.ETag) || single(response.headers, 'etag') || '',
      location: textOr(document.Location, ''),
      crc64: single(response.headers, 'x-oss-hash-crc64ecma'),
      requestId: requestIdOf(response.headers),
    };
  }

  async abortMultipartUpload(bucket: string, key: string, uploadId: string, options: CallOptions = {}): Promise<void> {
    await this.request({ method: 'DELETE', bucket, key, query: [['uploadId', uploadId]], signal: options.signal });
  }

  async listParts(
    bucket: string,
    key: string,
    uploadId: string,
    options: { maxParts?: number; partNumberMarker?: number } & CallOptions = {},
  ): Promise<ListPartsResult> {
    const query: Array<[string, string]> = [
      ['uploadId', uploadId],
      ['max-parts', String(options.maxParts ?? 1000)],
      ['part-number-marker', String(options.partNumberMarker ?? 0)],
      ['encoding-type', 'url'],
    ];
    const { document } = await this.xml({ method: 'GET', bucket, key, query, signal: options.signal }, 'ListPartsResult');
    const decode = decoder(document);
    const parts = list(document.Part).map((p) => ({
      partNumber: int(p.PartNumber),
      lastModified: date(p.LastModified),
      etag: textOr(p.ETag, ''),
      size: int(p.Size),
    }));
    const isTruncated = bool(document.IsTruncated);
    return {
      bucket: textOr(document.Bucket, bucket),
      key: decode(textOr(document.Key, key)),
      uploadId: textOr(document.UploadId, uploadId),
      partNumberMarker: int(document.PartNumberMarker),
      nextPartNumberMarker: int(document.NextPartNumberMarker, parts.at(-1)?.partNumber ?? 0),
      maxParts: int(document.MaxParts, 1000),
      isTruncated,
      parts,
    };
  }

  /**
   * The bucket's rules for uploads in progress (S3's AbortIncompleteMultipartUpload, OSS's
   * AbortMultipartUpload), read from its lifecycle configuration: what `ls -m` needs to say when
   * each upload will be aborted. Undefined when the bucket has no configuration, or the caller may
   * not read it, or the service has no lifecycle.
   */
  async uploadAbortRules(bucket: string, options: CallOptions = {}): Promise<LifecycleConfiguration | undefined> {
    let document: XmlNode;
    try {
      ({ document } = await this.xml({ method: 'GET', bucket, query: [['lifecycle', '']], signal: options.signal }, 'LifecycleConfiguration'));
    } catch (err) {
      // None, not ours to read, or no lifecycle there (501): nothing to say about abort dates.
      const refused = err instanceof ServiceError && ((err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429) || err.status === 501);
      if (refused) return undefined;
      throw err;
    }
    const rules: LifecycleRule[] = [];
    for (const rule of list(document.Rule)) {
      const abort = rule[this.dialect === 'oss' ? 'AbortMultipartUpload' : 'AbortIncompleteMultipartUpload'];
      if (abort === undefined || typeof abort !== 'object' || Array.isArray(abort)) continue;
      const filter = rule.Filter;
      const filterPrefix = typeof filter === 'object' && filter !== null && !Array.isArray(filter) ? filter.Prefix : undefined;
      const days = text(this.dialect === 'oss' ? abort.Days : abort.DaysAfterInitiation);
      const createdBefore = text(abort.CreatedBeforeDate);
      rules.push({
        id: textOr(rule.ID, ''),
        enabled: text(rule.Status) === 'Enabled',
        filter: { prefix: textOr(rule.Prefix ?? filterPrefix, ''), tags: [] },
        abortIncompleteMultipartUpload: {
          daysAfterInitiation: days === undefined ? undefined : Number(days),
          createdBefore: createdBefore === undefined ? undefined : new Date(createdBefore),
        },
      });
    }
    return { rules };
  }

  async listMultipartUploads(
    bucket: string,
    options: { prefix?: string; delimiter?: string; keyMarker?: string; uploadIdMarker?: string; maxUploads?: number } & CallOptions = {},
  ): Promise<ListUploadsResult> {
    const query = params(
      [['uploads', ''], ['encoding-type', 'url']],
      [
        ['prefix', options.prefix],
        ['delimiter', options.delimiter],
        ['key-marker', options.keyMarker],
        ['upload-id-marker', options.uploadIdMarker],
        ['max-uploads', options.maxUploads ?? 1000],
      ],
    );
    const { document } = await this.xml({ method: 'GET', bucket, query, signal: options.signal }, 'ListMultipartUploadsResult');
    const decode = decoder(document);
    const delimiter = text(document.Delimiter);
    return {
      bucket: textOr(document.Bucket, bucket),
      prefix: decode(textOr(document.Prefix, '')),
      delimiter: delimiter ? decode(delimiter) : undefined,
      keyMarker: decode(textOr(document.KeyMarker, '')),
      uploadIdMarker: textOr(document.UploadIdMarker, ''),
      nextKeyMarker: decode(textOr(document.NextKeyMarker, '')),
      nextUploadIdMarker: textOr(document.NextUploadIdMarker, ''),
      maxUploads: int(document.MaxUploads, 1000),
      isTruncated: bool(document.IsTruncated),
      uploads: list(document.Upload).map((u) => ({ key: decode(textOr(u.Key, '')), uploadId: textOr(u.UploadId, ''), initiated: date(u.Initiated) })),
      commonPrefixes: list(document.CommonPrefixes).map((p) => decode(textOr(p.Prefix, ''))),
    };
  }
}

/** `oss-cn-hangzhou.aliyuncs.com` → `cn-hangzhou`. */
export function regionFromEndpoint(hostname: string): string | undefined {
  const match = /^oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$/.exec(hostname);
  return match?.[1];
}
