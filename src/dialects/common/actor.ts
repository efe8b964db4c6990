import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Actor } from '../../core/types.js';
import { actorOf, type User } from '../../core/users.js';
import { overTls } from './transport.js';

/** An unsigned request's user: no id, no keys, nothing but what bucket policies grant everyone. */
export const ANONYMOUS_USER: User = { id: '', displayName: 'anonymous', accessKey: '', secretKey: '', root: false };

/**
 * The key an unsigned request names, where an object's ACL could grant what it asks (reading the
 * object or its ACL, replacing its ACL: GET, HEAD, PUT ?acl): what Storage.screenAnonymous lets
 * through to the decision in a bucket with ACLs on. Undefined for any other request.
 */
export function keyAnObjectAclMayOpen(method: string | undefined, query: URLSearchParams, key: string | undefined): string | undefined {
  return method === 'GET' || method === 'HEAD' || (method === 'PUT' && query.has('acl')) ? key : undefined;
}

export interface RequestAuth {
  /** `REST-HEADER`, `REST-QUERY-STRING` (presigned) or `POST` (a form upload); none for an anonymous request. */
  authType?: 'REST-HEADER' | 'REST-QUERY-STRING' | 'POST';
  /** `AWS4-HMAC-SHA256`, `OSS`, `OSS4-HMAC-SHA256`, … */
  signatureVersion?: string;
}

/** The dialect's names for the request headers policy conditions read (S3's x-amz-*, OSS's x-oss-*; 123pan has none). */
export interface ConditionHeaders {
  acl: string;
  encryption: string;
  storageClass: string;
  tagging: string;
  copySource: string;
  metadataDirective?: string;
  lockMode?: string;
  legalHold?: string;
  contentSha256?: string;
}

export const S3_CONDITION_HEADERS: ConditionHeaders = {
  acl: 'x-amz-acl',
  encryption: 'x-amz-server-side-encryption',
  storageClass: 'x-amz-storage-class',
  tagging: 'x-amz-tagging',
  copySource: 'x-amz-copy-source',
  metadataDirective: 'x-amz-metadata-directive',
  lockMode: 'x-amz-object-lock-mode',
  legalHold: 'x-amz-object-lock-legal-hold',
  contentSha256: 'x-amz-content-sha256',
};

export const OSS_CONDITION_HEADERS: ConditionHeaders = {
  acl: 'x-oss-object-acl',
  encryption: 'x-oss-server-side-encryption',
  storageClass: 'x-oss-storage-class',
  tagging: 'x-oss-tagging',
  copySource: 'x-oss-copy-source',
  metadataDirective: 'x-oss-metadata-directive',
};

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Who is asking (the signed-in user, or nobody) and what policy conditions see of the request:
 * where it came from, over what, signed how, and the request headers condition keys name.
 * `formHeaders`: a form upload's fields that stand for the headers of a PUT (taken before the request's).
 */
export function requestActor(
  user: User | undefined,
  req: IncomingMessage,
  auth: RequestAuth,
  names?: ConditionHeaders,
  formHeaders?: IncomingHttpHeaders,
): Actor {
  const value = (name: string | undefined) => (name === undefined ? undefined : single(formHeaders?.[name] ?? req.headers[name]));
  // Read only when a policy is evaluated: most requests meet none. A key left undefined is absent.
  const read = (): Record<string, string | undefined> => {
    const conditions: Record<string, string | undefined> = {
      'aws:sourceip': req.socket.remoteAddress,
      'aws:securetransport': overTls(req) ? 'true' : 'false',
      'aws:referer': single(req.headers.referer),
      'aws:useragent': single(req.headers['user-agent']),
      's3:authtype': auth.authType,
      's3:signatureversion': auth.signatureVersion,
      's3:x-amz-acl': value(names?.acl),
      's3:x-amz-server-side-encryption': value(names?.encryption),
      's3:x-amz-storage-class': value(names?.storageClass),
      's3:x-amz-copy-source': value(names?.copySource),
      's3:x-amz-metadata-directive': value(names?.metadataDirective),
      's3:object-lock-mode': value(names?.lockMode),
      's3:object-lock-legal-hold': value(names?.legalHold),
      's3:x-amz-content-sha256': value(names?.contentSha256),
    };
    const tagging = value(names?.tagging);
    if (tagging !== undefined) {
      for (const [key, tag] of new URLSearchParams(tagging)) conditions[`s3:requestobjecttag/${key.toLowerCase()}`] = tag;
    }
    return conditions;
  };
  let conditions: Record<string, string | undefined> | undefined;
  const who: Actor = user === undefined ? { userId: '', root: false, anonymous: true } : actorOf(user);
  return {
    ...who,
    get conditions() {
      return (conditions ??= read());
    },
  };
}
