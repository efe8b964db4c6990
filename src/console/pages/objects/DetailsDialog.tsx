import type { HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { useEffect, useState } from 'preact/hooks';
import { headObject } from '../../api/objects';
import { Dialog } from '../../components/Dialog';
import { ErrorAlert } from '../../components/Feedback';
import { formatBytes, formatCount, formatDate } from '../../components/format';

/** What HEAD says of an object: content type, size, ETag, dates, checksum and user metadata. */
export function DetailsDialog({ bucket, objectKey, onClose }: { bucket: string; objectKey: string; onClose: () => void }) {
  const [head, setHead] = useState<HeadObjectCommandOutput>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    headObject(bucket, objectKey).then(setHead, setError);
  }, [bucket, objectKey]);

  const metadata = Object.entries(head?.Metadata ?? {});
  const checksum = head && (head.ChecksumCRC64NVME ?? head.ChecksumCRC32C ?? head.ChecksumCRC32 ?? head.ChecksumSHA256 ?? head.ChecksumSHA1);
  return (
    <Dialog title={`Details of ${objectKey}`} onClose={onClose}>
      <ErrorAlert error={error} />
      {!head && !error && <p>Loading…</p>}
      {head && (
        <>
          <dl class="details">
            <dt>Key</dt>
            <dd class="key">{objectKey}</dd>
            <dt>Content type</dt>
            <dd>{head.ContentType ?? '(none)'}</dd>
            <dt>Size</dt>
            <dd>
              {formatBytes(head.ContentLength ?? 0)} ({formatCount(head.ContentLength ?? 0)} bytes)
            </dd>
            <dt>ETag</dt>
            <dd class="key">{head.ETag}</dd>
            <dt>Last modified</dt>
            <dd>{formatDate(head.LastModified)}</dd>
            {checksum && (
              <>
                <dt>Checksum</dt>
                <dd class="key">{checksum}</dd>
              </>
            )}
            {head.ContentEncoding && (
              <>
                <dt>Content encoding</dt>
                <dd>{head.ContentEncoding}</dd>
              </>
            )}
            {head.CacheControl && (
              <>
                <dt>Cache control</dt>
                <dd>{head.CacheControl}</dd>
              </>
            )}
            {head.ContentDisposition && (
              <>
                <dt>Content disposition</dt>
                <dd>{head.ContentDisposition}</dd>
              </>
            )}
          </dl>
          <table class="data-table compact">
            <caption>User metadata</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {metadata.length === 0 && (
                <tr>
                  <td colSpan={2} class="empty">
                    None
                  </td>
                </tr>
              )}
              {metadata.map(([name, value]) => (
                <tr key={name}>
                  <th scope="row">{name}</th>
                  <td>{value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Dialog>
  );
}
