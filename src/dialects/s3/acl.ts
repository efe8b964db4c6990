import type { IncomingHttpHeaders } from 'node:http';
import { ServiceError, errors } from '../../core/errors.js';
import { cannedAcl, GROUP_URIS, isCannedAcl, OBJECT_OWNER, PERMISSIONS, type Acl, type Grant, type Grantee, type Group, type Permission } from '../../core/acl.js';
import type { UserDirectory } from '../../core/users.js';
import { parseXml, type XmlNode } from '../common/xml.js';
import { checked, nodeOf, occurrences, once } from '../common/xml-shape.js';
import type { S3Call } from './call.js';
import { sendEmpty, sendXml } from './render.js';
import { header, readVerifiedBody } from './request.js';

/**
 * ACLs in S3's words: `x-amz-acl` (canned), `x-amz-grant-*` (explicit grants) and the
 * AccessControlPolicy document of GetBucketAcl / PutBucketAcl. The rules are core/acl.ts's.
 */

const GRANT_HEADERS: Array<[string, Permission]> = [
  ['x-amz-grant-read', 'READ'],
  ['x-amz-grant-write', 'WRITE'],
  ['x-amz-grant-read-acp', 'READ_ACP'],
  ['x-amz-grant-write-acp', 'WRITE_ACP'],
  ['x-amz-grant-full-control', 'FULL_CONTROL'],
];

const GROUPS_BY_URI = new Map(Object.entries(GROUP_URIS).map(([group, uri]) => [uri, group as Group]));
const MAX_DOCUMENT_BYTES = 64 * 1024;

function invalidArgument(message: string, name: string, value: string): ServiceError {
  return errors.invalidArgument(message, name, value);
}

/** One grantee as a header or a document names it: a user by id, or a group by URI; e-mail addresses resolve to no one here. */
function grantee(kind: string, value: string, users: UserDirectory, argument: string): Grantee {
  const lower = kind.toLowerCase();
  if (lower === 'id') {
    if (!users.exists(value)) throw invalidArgument('Invalid id', argument, value);
    return { user: value };
  }
  if (lower === 'uri') {
    const group = GROUPS_BY_URI.get(value);
    if (group === undefined) throw invalidArgument('Invalid group uri', argument, value);
    return { group };
  }
  if (lower === 'emailaddress') {
    throw new ServiceError('UnresolvableGrantByEmailAddress', 'The e-mail address you provided does not match any account on record.', 400);
  }
  throw invalidArgument('Invalid grantee', argument, kind);
}

/**
 * `id="…", uri="…"`: the grantees of one x-amz-grant-* header. A value may also be bare
 * (`uri=http://…`), as the AWS CLI's own examples send it.
 */
function parseGrantHeader(name: string, value: string, permission: Permission, users: UserDirectory): Grant[] {
  const grants: Grant[] = [];
  const item = /\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^",\s]+))\s*(,|$)/y;
  let at = 0;
  while (at < value.length) {
    item.lastIndex = at;
    const match = item.exec(value);
    if (!match) throw invalidArgument('Invalid grant header', name, value);
    grants.push({ grantee: grantee(match[1]!, match[2] ?? match[3]!, users, name), permission });
    at = item.lastIndex;
    if (match[4] === '') break;
  }
  if (grants.length === 0) throw invalidArgument('Invalid grant header', name, value);
  return grants;
}

/**
 * The ACL a request's headers ask for, for a resource of `owner`: a canned ACL or explicit grants
 * (not both); undefined when it asks for neither.
 */
export function aclFromHeaders(headers: IncomingHttpHeaders, owner: string, users: UserDirectory): Acl | undefined {
  const canned = header(headers, 'x-amz-acl')?.trim();
  const explicit = GRANT_HEADERS.filter(([name]) => header(headers, name) !== undefined);
  if (canned !== undefined && explicit.length > 0) {
    throw new ServiceError('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed', 400);
  }
  if (canned !== undefined) {
    if (!isCannedAcl(canned)) throw invalidArgument('Invalid canned ACL', 'x-amz-acl', canned);
    return cannedAcl(canned, owner);
  }
  if (explicit.length === 0) return undefined;
  return { owner, grants: explicit.flatMap(([name, permission]) => parseGrantHeader(name, header(headers, name)!, permission, users)) };
}

/**
 * The ACL an object write's headers ask for (PutObject, CreateMultipartUpload, CopyObject, a
 * form's `acl` field), for the object's owner, whom the engine fills in (core/acl.ts OBJECT_OWNER).
 */
export function objectAclFromHeaders(headers: IncomingHttpHeaders, users: UserDirectory): Acl | undefined {
  return aclFromHeaders(headers, OBJECT_OWNER, users);
}

/** The AccessControlPolicy document of a PutBucketAcl body. */
function parseAccessControlPolicy(text: string, owner: string, users: UserDirectory): Acl {
  const document = checked(parseXml(text, 'AccessControlPolicy'), ['Owner', 'AccessControlList']);
  const ownerId = document.Owner === undefined ? undefined : once(checked(nodeOf(document.Owner), ['ID', 'DisplayName']).ID);
  if (ownerId === undefined) throw errors.malformedXML();
  // The owner cannot be changed by an ACL.
  if (ownerId !== owner) throw errors.accessDenied();
  const list = document.AccessControlList === undefined ? {} : checked(nodeOf(document.AccessControlList), ['Grant'], { repeated: ['Grant'] });
  const grants = occurrences(list.Grant).map((value): Grant => {
    const grant = checked(nodeOf(value), ['Grantee', 'Permission']);
    const permission = once(grant.Permission);
    if (permission === undefined || !PERMISSIONS.includes(permission as Permission) || grant.Grantee === undefined) throw errors.malformedXML();
    const who = checked(nodeOf(grant.Grantee), ['ID', 'DisplayName', 'URI', 'EmailAddress']);
    const [kind, text] = who.ID !== undefined ? ['id', once(who.ID)] : who.URI !== undefined ? ['uri', once(who.URI)] : who.EmailAddress !== undefined ? ['emailAddress', once(who.EmailAddress)] : [];
    if (kind === undefined || text === undefined) throw errors.malformedXML();
    return { grantee: grantee(kind, text, users, 'Grantee'), permission: permission as Permission };
  });
  return { owner, grants };
}

function granteeNode(who: Grantee, users: UserDirectory): XmlNode {
  const xsi = { '@xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance' };
  if ('user' in who) return { ...xsi, '@xsi:type': 'CanonicalUser', ID: who.user, DisplayName: users.byId(who.user)?.displayName ?? who.user };
  return { ...xsi, '@xsi:type': 'Group', URI: GROUP_URIS[who.group] };
}

export function sendAcl(call: S3Call, acl: Acl): void {
  sendXml(call.ctx.res, 200, 'AccessControlPolicy', {
    Owner: { ID: acl.owner, DisplayName: call.users.byId(acl.owner)?.displayName ?? acl.owner },
    AccessControlList: { Grant: acl.grants.map((grant) => ({ Grantee: granteeNode(grant.grantee, call.users), Permission: grant.permission })) },
  });
}

/**
 * The ACL a PutBucketAcl or PutObjectAcl asks for, from its headers or its AccessControlPolicy
 * body (one or the other): the body is read here, and the ACL built by the engine for the bucket's
 * owner once it has found the bucket and authorised the caller (so those errors come first).
 */
async function requestedAcl(call: S3Call): Promise<(owner: string) => Acl> {
  const body = await readVerifiedBody(call.ctx, call.auth, MAX_DOCUMENT_BYTES);
  return (owner) => {
    const fromHeaders = aclFromHeaders(call.ctx.req.headers, owner, call.users);
    if (fromHeaders && body.length > 0) throw new ServiceError('UnexpectedContent', 'This request does not support content', 400);
    const acl = fromHeaders ?? (body.length > 0 ? parseAccessControlPolicy(body.toString('utf8'), owner, call.users) : undefined);
    if (!acl) throw new ServiceError('MissingSecurityHeader', 'Your request was missing a required header', 400, { MissingHeaderName: 'x-amz-acl' });
    return acl;
  };
}

export async function getBucketAcl(call: S3Call): Promise<void> {
  sendAcl(call, await call.storage.settings.getAcl(call.actor, call.bucket));
}

/** PutBucketAcl: from x-amz-acl, x-amz-grant-* headers, or an AccessControlPolicy body. */
export async function putBucketAcl(call: S3Call): Promise<void> {
  await call.storage.settings.putAcl(call.actor, call.bucket, await requestedAcl(call));
  sendEmpty(call.ctx.res, 200);
}

const versionIdOf = (call: S3Call) => call.ctx.query.get('versionId') ?? undefined;

export async function getObjectAcl(call: S3Call): Promise<void> {
  sendAcl(call, await call.storage.getObjectAcl(call.actor, call.bucket, call.key, versionIdOf(call)));
}

/** PutObjectAcl: as PutBucketAcl, for an object (whose owner is its bucket's). */
export async function putObjectAcl(call: S3Call): Promise<void> {
  const aclFor = await requestedAcl(call);
  await call.storage.putObjectAcl(call.actor, call.bucket, call.key, (bucket) => aclFor(bucket.owner), versionIdOf(call));
  sendEmpty(call.ctx.res, 200);
}
