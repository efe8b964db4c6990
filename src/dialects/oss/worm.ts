import { errors } from '../../core/errors.js';
import { parseXml } from '../common/xml.js';
import { checked, once } from '../common/xml-shape.js';
import { sendEmpty } from '../s3/render.js';
import { sendOssXml } from './render.js';
import { readCheckedBody, type OssCall } from './request.js';

/**
 * OSS's bucket retention policy (WORM) over the engine's (core/object-lock.ts): Initiate
 * (`POST /?worm`, InProgress), Abort (`DELETE /?worm`, InProgress only), Complete
 * (`POST /?wormId=ID`, Locked), Extend (`POST /?wormId=ID&wormExtend`, Locked, longer only) and
 * Get (`GET /?worm`).
 */

const MAX_DOCUMENT_BYTES = 64 * 1024;

/** `<Root><RetentionPeriodInDays>N</RetentionPeriodInDays></Root>`: N as written, a whole number. */
async function retentionDays(call: OssCall, root: string): Promise<number> {
  const document = checked(parseXml(await readCheckedBody(call.ctx, MAX_DOCUMENT_BYTES), root), ['RetentionPeriodInDays']);
  const text = once(document.RetentionPeriodInDays);
  if (typeof text !== 'string' || !/^\d{1,9}$/.test(text.trim())) throw errors.malformedXML();
  return Number(text.trim());
}

function wormIdOf(call: OssCall): string {
  const id = call.ctx.query.get('wormId') ?? '';
  if (id === '') throw errors.invalidArgument('wormId must not be empty.', 'wormId', id);
  return id;
}

export async function initiateBucketWorm(call: OssCall): Promise<void> {
  const days = await retentionDays(call, 'InitiateWormConfiguration');
  const worm = await call.storage.settings.initiateWorm(call.actor, call.bucket, days);
  call.ctx.res.setHeader('x-oss-worm-id', worm.id);
  sendEmpty(call.ctx.res, 200);
}

export async function abortBucketWorm(call: OssCall): Promise<void> {
  await call.storage.settings.abortWorm(call.actor, call.bucket);
  sendEmpty(call.ctx.res, 204);
}

export async function completeBucketWorm(call: OssCall): Promise<void> {
  await call.storage.settings.completeWorm(call.actor, call.bucket, wormIdOf(call));
  sendEmpty(call.ctx.res, 200);
}

export async function extendBucketWorm(call: OssCall): Promise<void> {
  const id = wormIdOf(call);
  const days = await retentionDays(call, 'ExtendWormConfiguration');
  await call.storage.settings.extendWorm(call.actor, call.bucket, id, days);
  sendEmpty(call.ctx.res, 200);
}

export async function getBucketWorm(call: OssCall): Promise<void> {
  const worm = await call.storage.settings.getWorm(call.actor, call.bucket);
  sendOssXml(call.ctx.res, 200, 'WormConfiguration', {
    WormId: worm.id,
    State: worm.state,
    RetentionPeriodInDays: worm.days,
    // OSS writes the creation time without a zone or fraction: 2020-10-15T15:50:32.
    CreationDate: worm.created.toISOString().slice(0, 19),
  });
}
