/** CRC-32 (IEEE 802.3, as S3's x-amz-checksum-crc32), computed over a file a slice at a time. */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

const SLICE_BYTES = 4 * 1024 * 1024;

/** The base64 of the big-endian CRC-32 of the blob, read in 4 MiB slices (never whole in memory). */
export async function crc32Base64(blob: Blob): Promise<string> {
  let crc = 0xffffffff;
  for (let start = 0; start < blob.size; start += SLICE_BYTES) {
    const bytes = new Uint8Array(await blob.slice(start, start + SLICE_BYTES).arrayBuffer());
    for (let i = 0; i < bytes.length; i += 1) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  }
  crc = (crc ^ 0xffffffff) >>> 0;
  return btoa(String.fromCharCode(crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff));
}
