import { ServiceError } from '../../core/errors.js';
import { Lease } from '../../core/leases.js';
import type { UploadSession as Preupload } from '../../core/metadata/types.js';
import type { PartInfo } from '../../core/types.js';
import { sliceCount } from './config.js';
import { nameOf, parentKeyOf, type Drive } from './drive.js';
import { panErrors } from './envelope.js';
import type { Hashed, SliceSource } from './hasher.js';
import type { PanService } from './service.js';

/** How long upload_complete (and upload_async_result) wait for the completion before answering "still verifying". */
const COMPLETE_WAIT_MS = 3_000;
/** How soon a completion looks again when another node is reading the slices from disk. */
const BUSY_RETRY_MS = 200;
/** How many times the stored slices may change under a completion before it gives up. */
const MAX_ATTEMPTS = 3;

export type Outcome = { completed: true; fileID: number } | { completed: false };

/** The upload's stored slices, as the hasher reads them. */
export function sliceSource(drive: Drive, pre: Preupload): SliceSource {
  return {
    etagOf: async (sliceNo) => {
      const page = await drive.storage.uploads.listParts(drive.actor, drive.bucket, pre.key, pre.uploadId, { partNumberMarker: sliceNo - 1, maxParts: 1 });
      const part = page.parts[0];
      return part?.partNumber === sliceNo ? part.etag : undefined;
    },
    open: async (sliceNo) => {
      try {
        const { part, body } = await drive.storage.uploads.openPart(drive.actor, drive.bucket, pre.key, pre.uploadId, sliceNo);
        return { etag: part.etag, body };
      } catch (err) {
        if (err instanceof ServiceError && err.code === 'InvalidArgument') return undefined;
        throw err;
      }
    },
  };
}

/** Every slice 1..count stored with its exact size, or a clear error naming what is missing. */
export async function storedSlices(drive: Drive, pre: Preupload): Promise<PartInfo[]> {
  const count = sliceCount(pre.size, pre.sliceSize);
  const parts = (await drive.storage.uploads.allParts(drive.actor, drive.bucket, pre.key, pre.uploadId)).filter((part) => part.partNumber <= count);
  const missing: number[] = [];
  for (let n = 1, i = 0; n <= count; n++) {
    if (parts[i]?.partNumber === n) i++;
    else missing.push(n);
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 20).join(',') + (missing.length > 20 ? ',…' : '');
    throw panErrors.badRequest(`分片不完整, 缺少分片 ${shown} (slices missing: ${shown})`);
  }
  return parts;
}

/**
 * upload_complete: every slice must be there; the upload turns 'verifying' (no more slices)
 * and is completed. When the running hash already covers every stored slice (they came in
 * order, on whichever nodes), that is at once: the whole-file MD5 and size are checked and the
 * file is made. Otherwise the completion reads what is missing from disk, in the background
 * if it takes longer than a moment; callers poll.
 */
export async function complete(service: PanService, drive: Drive, pre: Preupload): Promise<Outcome> {
  if (pre.status === 'done') return { completed: true, fileID: pre.fileId ?? 0 };
  if (pre.status === 'failed') throw panErrors.uploadFailed(pre.message ?? '');
  if (pre.status === 'open') {
    await storedSlices(drive, pre);
    await service.store.setSessionStatus(pre.id, 'verifying');
  }
  return awaitCompletion(service, drive, pre);
}

/** upload_async_result (and upload_complete while verifying): takes the completion over if no node runs it, and waits a moment for it. */
export async function awaitCompletion(service: PanService, drive: Drive, pre: Preupload): Promise<Outcome> {
  const task = startFinishing(service, drive, pre);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([task, new Promise((resolve) => (timer = setTimeout(resolve, COMPLETE_WAIT_MS)))]);
  clearTimeout(timer);
  const now = await service.store.getSession(pre.id);
  if (now?.status === 'done') return { completed: true, fileID: now.fileId ?? 0 };
  if (now?.status === 'failed') throw panErrors.uploadFailed(now.message ?? '');
  return { completed: false };
}

/**
 * The completion of a 'verifying' upload, run by one node at a time: the one holding the lease
 * `pan-complete:<preuploadID>`, renewed while it runs. A node that finds the lease held does
 * nothing; a lease whose node died expires, and the next node to look (upload_complete,
 * upload_async_result, or its periodic scan) takes the completion over. Settles when this node
 * has finished with it (or found another node on it).
 */
export function startFinishing(service: PanService, drive: Drive, pre: Preupload): Promise<void> {
  const running = service.finishing.get(pre.id);
  if (running) return running;
  const task = (async () => {
    const lease = await Lease.take(service.store, `pan-complete:${pre.id}`, service.node, service.config.leaseMs);
    if (!lease) return;
    try {
      // Read again under the lease: the node that held it before may have finished.
      const current = await service.store.getSession(pre.id);
      if (current?.status !== 'verifying') return;
      await finish(service, drive, current, lease);
    } catch (err) {
      if (!lease.lost) await fail(service, drive, pre, (err as Error).message);
    } finally {
      await lease.release();
    }
  })()
    .catch(() => {})
    .finally(() => service.finishing.delete(pre.id));
  service.finishing.set(pre.id, task);
  return task;
}

async function finish(service: PanService, drive: Drive, pre: Preupload, lease: Lease): Promise<void> {
  let attempts = 0;
  while (!lease.lost && !service.closed) {
    let parts: PartInfo[];
    let hashed: Hashed | 'busy' | undefined;
    try {
      parts = await storedSlices(drive, pre);
      hashed = await service.hasher.catchUp(pre.id, sliceSource(drive, pre), parts.map((part) => part.etag));
    } catch (err) {
      if (err instanceof ServiceError && err.code === 'NoSuchUpload') return recoverCompleted(service, drive, pre);
      throw err;
    }
    if (hashed === 'busy') {
      // Another node is reading the slices from disk: it saves the hash as it goes.
      await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
      continue;
    }
    if (hashed && !lease.lost) {
      try {
        await finalize(service, drive, pre, hashed);
        return;
      } catch (err) {
        // A slice changed between the check and the completion: look again.
        if (!(err instanceof ServiceError && err.code === 'InvalidPart')) throw err;
      }
    }
    if (++attempts === MAX_ATTEMPTS) throw new Error('the slices kept changing while they were verified');
  }
}

/** The engine upload is gone: either a node completed it and died before saying so, or it was aborted. */
async function recoverCompleted(service: PanService, drive: Drive, pre: Preupload): Promise<void> {
  const object = await drive.object(pre.key);
  if (object && object.contentMd5 === pre.etag && object.size === pre.size) {
    await service.store.setSessionStatus(pre.id, 'done', object.id);
  } else {
    await service.store.setSessionStatus(pre.id, 'failed', undefined, 'the upload expired or was aborted');
  }
  await service.hasher.forget(pre.id);
}

/** Checks the whole-file MD5 and size; then the slices become the file, or the upload is removed (the session says which). */
async function finalize(service: PanService, drive: Drive, pre: Preupload, hashed: Hashed): Promise<void> {
  const why =
    hashed.size !== pre.size
      ? `文件大小不一致 (the slices hold ${hashed.size} bytes, create declared ${pre.size})`
      : hashed.md5 !== pre.etag
        ? `文件MD5不一致 (the slices hash to ${hashed.md5}, create declared ${pre.etag})`
        : undefined;
  if (why) return fail(service, drive, pre, why);
  const existing = await drive.object(pre.key);
  const overwrite = pre.duplicate === 2 || (existing !== undefined && (await service.store.isTrashed(existing.id)));
  try {
    // Completing again with the same slices (a node that died after this) answers the same file.
    const result = await drive.storage.uploads.complete(
      drive.actor,
      drive.bucket,
      pre.key,
      pre.uploadId,
      hashed.etags.map((etag, i) => ({ partNumber: i + 1, etag })),
      { minPartSize: 0, forbidOverwrite: !overwrite, contentMd5: hashed.md5, contentSha1: hashed.sha1 },
    );
    await service.store.setSessionStatus(pre.id, 'done', result.id);
    await service.hasher.forget(pre.id);
  } catch (err) {
    if (err instanceof ServiceError && err.code === 'FileAlreadyExists') {
      return fail(service, drive, pre, `同名文件已存在 (a file named ${nameOf(pre.key)} appeared in ${parentKeyOf(pre.key) || '/'} meanwhile)`);
    }
    throw err;
  }
}

/** The upload fails with `why` (what upload_complete and upload_async_result answer from now on); its slices go. */
async function fail(service: PanService, drive: Drive, pre: Preupload, why: string): Promise<void> {
  await drive.storage.uploads.abort(drive.actor, drive.bucket, pre.key, pre.uploadId).catch(() => {});
  await service.store.setSessionStatus(pre.id, 'failed', undefined, why);
  await service.hasher.forget(pre.id);
}

/** The periodic scan: completions left 'verifying' whose node died (their lease expired) are taken over. */
export async function resumeCompletions(service: PanService): Promise<void> {
  for (const pre of await service.store.sessionsWithStatus('verifying', 100)) {
    if (service.closed) return;
    const drive = await service.driveOfBucket(pre.bucket);
    if (drive) void startFinishing(service, drive, pre);
  }
}
