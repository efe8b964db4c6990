import { createHash } from 'node:crypto';

const QUOTED_HEX = /^"[0-9a-f]{32}"$/;

/**
 * An ETag as compared everywhere: no quotes (plain, `&quot;` or Go's `&#34;`), no
 * weak `W/` prefix, lower case. Shared by the server's Complete and the client's checks.
 */
export function normalizeEtag(etag: string): string {
  // Most clients send back exactly what they were given: a cheap test spares them the replace.
  if (QUOTED_HEX.test(etag)) return etag.slice(1, -1);
  return etag
    .trim()
    .replace(/^W\//, '')
    .replace(/&quot;|&#34;|"/g, '')
    .trim()
    .toLowerCase();
}

/** The multipart ETag S3 and OSS use: MD5 of the parts' binary MD5s, then `-N` (no quotes, lower case). */
export function multipartEtag(partMd5Hex: readonly string[]): string {
  const hash = createHash('md5');
  for (const md5 of partMd5Hex) hash.update(Buffer.from(md5, 'hex'));
  return `${hash.digest('hex')}-${partMd5Hex.length}`;
}
