import { CORRUPT_KINDS, describeReference, type ScrubFinding } from '../core/scrub.js';
import type { Logger } from './logger.js';

/**
 * A background scrub's finding as a log line: corrupt and missing blobs at error level, files
 * nothing refers to and blobs it cannot check at warn. The blob's path and who refers to it;
 * never a key (an encryption is named by its kind only).
 */
export function logScrubFinding(logger: Logger, finding: ScrubFinding): void {
  const fields = {
    kind: finding.kind,
    blobId: finding.blobId,
    path: finding.path,
    detail: finding.detail,
    references: finding.references.map(describeReference),
  };
  if (CORRUPT_KINDS.has(finding.kind) || finding.kind === 'missing') logger.error(fields, 'scrub: corrupt or missing blob');
  else logger.warn(fields, `scrub: ${finding.kind} blob`);
}
