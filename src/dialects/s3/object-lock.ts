import type { IncomingHttpHeaders } from 'node:http';
import { ServiceError, errors } from '../../core/errors.js';
import { lockNeedsIntegrity, RETENTION_MODES, type Retention } from '../../core/object-lock.js';
import type { ObjectLock, ObjectLockConfiguration, RetentionMode } from '../../core/types.js';
import { parseXml } from '../common/xml.js';
import { checked, nodeOf, once } from '../common/xml-shape.js';
import type { S3Call } from './call.js';
import { isoDate, sendEmpty, sendXml } from './render.js';
import { header, readVerifiedBody, type RequestBody } from './request.js';

/** S3 Object Lock in S3's words (the engine's rules are core/object-lock.ts). */

const MAX_DOCUMENT_BYTES = 64 * 1024;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

function parseMode(value: string, onError: () => ServiceError): RetentionMode {
  if (!(RETENTION_MODES as readonly string[]).includes(value)) throw onError();
  return value as RetentionMode;
}

function parseDate(value: string, onError: () => ServiceError): Date {
  const time = ISO_8601.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) throw onError();
  return new Date(time);
}

/**
 * `x-amz-object-lock-mode`, `-retain-until-date` and `-legal-hold` of a write: the lock the new
 * version asks for; undefined when the request names none.
 */
export function lockHeaders(headers: IncomingHttpHeaders): ObjectLock | undefined {
  const mode = header(headers, 'x-amz-object-lock-mode');
  const until = header(headers, 'x-amz-object-lock-retain-until-date');
  const legalHold = header(headers, 'x-amz-object-lock-legal-hold');
  if (mode === undefined && until === undefined && legalHold === undefined) return undefined;
  const lock: ObjectLock = {};
  if (mode !== undefined || until !== undefined) {
    if (mode === undefined || until === undefined) {
      throw errors.invalidArgument('x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied', mode === undefined ? 'x-amz-object-lock-mode' : 'x-amz-object-lock-retain-until-date');
    }
    lock.retention = {
      mode: parseMode(mode, () => errors.invalidArgument('Unknown wormMode directive.', 'x-amz-object-lock-mode', mode)),
      until: parseDate(until, () => errors.invalidArgument('The retain until date must be provided in ISO 8601 format', 'x-amz-object-lock-retain-until-date', until)),
    };
  }
  if (legalHold !== undefined) {
    if (legalHold !== 'ON' && legalHold !== 'OFF') throw errors.invalidArgument("Legal Hold must be either of 'ON' or 'OFF'", 'x-amz-object-lock-legal-hold', legalHold);
    lock.legalHold = legalHold === 'ON';
  }
  return lock;
}

/** Whether a PUT's body carries neither Content-MD5 nor a flexible checksum (header or trailer). */
export function unverifiedBody(call: S3Call, body: Pick<RequestBody, 'checksum'>): boolean {
  return body.checksum === undefined && header(call.ctx.req.headers, 'content-md5') === undefined;
}

/**
 * AWS takes an upload with Object Lock parameters only with an integrity check of its body: one
 * asking for a lock is refused before its body; one the bucket's default retention covers, by the
 * engine when it stores it.
 */
export function requireIntegrityForLock(call: S3Call, lock: ObjectLock | undefined, body: Pick<RequestBody, 'checksum'>): void {
  if (lock !== undefined && unverifiedBody(call, body)) throw lockNeedsIntegrity();
}

/** The lock headers of a GET or HEAD answer. */
export function lockResponseHeaders(lock: ObjectLock | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (lock?.retention) {
    headers['x-amz-object-lock-mode'] = lock.retention.mode;
    headers['x-amz-object-lock-retain-until-date'] = isoDate(lock.retention.until);
  }
  if (lock?.legalHold !== undefined) headers['x-amz-object-lock-legal-hold'] = lock.legalHold ? 'ON' : 'OFF';
  return headers;
}

/** `x-amz-bypass-governance-retention: true`: the caller (the bucket's owner or root) lifts GOVERNANCE retention. */
export function bypassGovernance(headers: IncomingHttpHeaders): boolean {
  return header(headers, 'x-amz-bypass-governance-retention')?.trim().toLowerCase() === 'true';
}

// Bucket configuration

/** PutObjectLockConfiguration: Content-MD5 or a flexible checksum required, as AWS requires. */
export async function putObjectLockConfiguration(call: S3Call): Promise<void> {
  const body = (await readVerifiedBody(call.ctx, call.auth, MAX_DOCUMENT_BYTES, { integrityRequired: true })).toString('utf8');
  const document = checked(parseXml(body, 'ObjectLockConfiguration'), ['ObjectLockEnabled', 'Rule']);
  if (once(document.ObjectLockEnabled) !== 'Enabled') throw errors.malformedXML();
  const config: ObjectLockConfiguration = {};
  if (document.Rule !== undefined) {
    const rule = checked(nodeOf(document.Rule), ['DefaultRetention']);
    if (rule.DefaultRetention === undefined) throw errors.malformedXML();
    const retention = checked(nodeOf(rule.DefaultRetention), ['Mode', 'Days', 'Years']);
    const mode = once(retention.Mode);
    if (mode === undefined) throw errors.malformedXML();
    const days = once(retention.Days);
    const years = once(retention.Years);
    const number = (text: string | undefined) => {
      if (text === undefined) return undefined;
      if (!/^-?\d+$/.test(text)) throw errors.malformedXML();
      return Number(text);
    };
    config.defaultRetention = { mode: parseMode(mode, errors.malformedXML), days: number(days), years: number(years) };
    if (config.defaultRetention.days === undefined) delete config.defaultRetention.days;
    if (config.defaultRetention.years === undefined) delete config.defaultRetention.years;
  }
  await call.storage.settings.putObjectLockConfiguration(call.actor, call.bucket, config);
  sendEmpty(call.ctx.res, 200);
}

export async function getObjectLockConfiguration(call: S3Call): Promise<void> {
  const config = await call.storage.settings.getObjectLockConfiguration(call.actor, call.bucket);
  const defaults = config.defaultRetention;
  sendXml(call.ctx.res, 200, 'ObjectLockConfiguration', {
    ObjectLockEnabled: 'Enabled',
    Rule: defaults && { DefaultRetention: { Mode: defaults.mode, Days: defaults.days, Years: defaults.years } },
  });
}

// One version's retention and legal hold

const versionIdOf = (call: S3Call) => call.ctx.query.get('versionId') ?? undefined;

/** PutObjectRetention: an empty `<Retention/>` removes the retention (where the rules allow). */
export async function putObjectRetention(call: S3Call): Promise<void> {
  const body = (await readVerifiedBody(call.ctx, call.auth, MAX_DOCUMENT_BYTES, { integrityRequired: true })).toString('utf8');
  const document = checked(parseXml(body, 'Retention'), ['Mode', 'RetainUntilDate']);
  const mode = once(document.Mode);
  const until = once(document.RetainUntilDate);
  if ((mode === undefined) !== (until === undefined)) throw errors.malformedXML();
  const retention: Retention | undefined =
    mode === undefined ? undefined : { mode: parseMode(mode, errors.malformedXML), until: parseDate(until!, errors.malformedXML) };
  await call.storage.putObjectRetention(call.actor, call.bucket, call.key, retention, {
    versionId: versionIdOf(call),
    bypassGovernance: bypassGovernance(call.ctx.req.headers),
  });
  sendEmpty(call.ctx.res, 200);
}

export async function getObjectRetention(call: S3Call): Promise<void> {
  const retention = await call.storage.getObjectRetention(call.actor, call.bucket, call.key, versionIdOf(call));
  sendXml(call.ctx.res, 200, 'Retention', { Mode: retention.mode, RetainUntilDate: isoDate(retention.until) });
}

export async function putObjectLegalHold(call: S3Call): Promise<void> {
  const body = (await readVerifiedBody(call.ctx, call.auth, MAX_DOCUMENT_BYTES, { integrityRequired: true })).toString('utf8');
  const document = checked(parseXml(body, 'LegalHold'), ['Status']);
  const status = once(document.Status);
  if (status !== 'ON' && status !== 'OFF') throw errors.malformedXML();
  await call.storage.putObjectLegalHold(call.actor, call.bucket, call.key, status === 'ON', versionIdOf(call));
  sendEmpty(call.ctx.res, 200);
}

export async function getObjectLegalHold(call: S3Call): Promise<void> {
  const on = await call.storage.getObjectLegalHold(call.actor, call.bucket, call.key, versionIdOf(call));
  sendXml(call.ctx.res, 200, 'LegalHold', { Status: on ? 'ON' : 'OFF' });
}
