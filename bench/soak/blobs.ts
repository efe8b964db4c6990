/**
 * The data directory's blob files against the metadata, once the soak is over: a file the metadata
 * refers to must exist (else an object or part is gone, even one ListParts still lists); a file
 * nothing refers to is space a crash leaked. One node sweeps those at start (files older than the
 * start), so after the clean restart there must be none; a cluster sweeps them only when an hour
 * old, so there they are counted, not failed.
 */
import { basename, join } from 'node:path';
import { openMetadata } from '../../src/core/metadata/open.js';
import { filesUnder } from '../../test/helpers/server.js';

export interface BlobAudit {
  files: number;
  referenced: number;
  /** Referenced by the metadata, no file. */
  missing: string[];
  /** Files nothing refers to. */
  unreferenced: string[];
}

export async function auditBlobs(dataDir: string, postgresUrl: string | undefined): Promise<BlobAudit> {
  const meta = await openMetadata({ dataDir, url: postgresUrl });
  try {
    // The metadata first: a blob written after the list of files would look missing otherwise.
    const referenced = await meta.allBlobIds();
    const files = new Set((await filesUnder(join(dataDir, 'blobs'))).map((path) => basename(path)));
    return {
      files: files.size,
      referenced: referenced.size,
      missing: [...referenced].filter((id) => !files.has(id)),
      unreferenced: [...files].filter((id) => !referenced.has(id)),
    };
  } finally {
    await meta.close();
  }
}
