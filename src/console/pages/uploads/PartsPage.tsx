import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { abortUpload, listParts, uploadTotals, type PartEntry, type PartsPage as PartsListing, type PartTotals } from '../../api/uploads';
import { Button } from '../../components/Button';
import { DataTable, type Column } from '../../components/DataTable';
import { ErrorAlert, StatusMessage } from '../../components/Feedback';
import { formatBytes, formatCount, formatDate } from '../../components/format';
import { Link, navigate, uploadsRoute } from '../../router';
import { PageHeading } from '../PageHeading';
import { UploadTotalsLine } from './totals';

const columns: Array<Column<PartEntry>> = [
  { id: 'number', header: 'Part number', rowHeader: true, numeric: true, render: (part) => String(part.partNumber) },
  { id: 'etag', header: 'ETag', render: (part) => <code>{part.etag}</code> },
  { id: 'size', header: 'Size', numeric: true, render: (part) => <span title={`${formatCount(part.size)} bytes`}>{formatBytes(part.size)}</span> },
  { id: 'modified', header: 'Last modified', render: (part) => formatDate(part.lastModified) },
];

/**
 * The parts of one upload in progress, as `ossutil listpart` prints them, paged with ListParts'
 * part-number marker through any number of parts, with the upload's part count and bytes.
 */
export function PartsPage({ bucket, objectKey, uploadId }: { bucket: string; objectKey: string; uploadId: string }) {
  // markers[i] is the part-number marker that lists page i (undefined for the first).
  const [markers, setMarkers] = useState<Array<string | undefined>>([undefined]);
  const [pageIndex, setPageIndex] = useState(0);
  const [page, setPage] = useState<PartsListing>();
  const [totals, setTotals] = useState<PartTotals>();
  const [loadError, setLoadError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [status, setStatus] = useState<string>();
  const latest = useRef(0);

  const load = useCallback(
    async (index: number, marker: string | undefined) => {
      const request = ++latest.current;
      setPage(undefined);
      try {
        const [listed, counted] = await Promise.all([listParts(bucket, objectKey, uploadId, marker), uploadTotals(bucket, [{ key: objectKey, uploadId }])]);
        if (request !== latest.current) return;
        setPage(listed);
        setTotals(counted.uploads[uploadId]);
        setPageIndex(index);
        setMarkers((previous) => {
          const next = previous.slice(0, index + 1);
          if (listed.nextMarker) next[index + 1] = listed.nextMarker;
          return next;
        });
        setLoadError(undefined);
      } catch (err) {
        if (request === latest.current) setLoadError(err);
      }
    },
    [bucket, objectKey, uploadId],
  );

  useEffect(() => {
    setMarkers([undefined]);
    void load(0, undefined);
  }, [load]);

  const abort = async () => {
    if (!confirm(`Abort the upload of ${objectKey}? Its parts are deleted; this cannot be undone.`)) return;
    setActionError(undefined);
    setStatus(`Aborting the upload of ${objectKey}…`);
    try {
      await abortUpload(bucket, objectKey, uploadId);
      navigate(uploadsRoute(bucket));
    } catch (err) {
      setStatus(undefined);
      setActionError(err);
    }
  };

  const parts = page?.parts ?? [];
  return (
    <section>
      <PageHeading focusKey={uploadId}>Parts of {objectKey}</PageHeading>
      <p>
        <Link to={uploadsRoute(bucket)}>Uploads in progress in {bucket}</Link>
      </p>
      <dl class="upload-facts">
        <dt>Upload ID</dt>
        <dd>
          <code>{uploadId}</code>
        </dd>
      </dl>
      {totals && <UploadTotalsLine label="This upload" totals={totals} />}
      <div class="toolbar">
        <Button variant="danger" aria-label={`Abort the upload of ${objectKey}`} onClick={() => void abort()}>
          Abort
        </Button>
      </div>
      <ErrorAlert error={actionError} />
      <StatusMessage>{status}</StatusMessage>
      <ErrorAlert error={loadError} />
      <DataTable
        caption="Parts"
        columns={columns}
        rows={parts}
        rowKey={(part) => String(part.partNumber)}
        busy={page === undefined && !loadError}
        empty={page === undefined ? 'Loading…' : 'No parts yet.'}
      />
      <nav class="pager" aria-label="Pages">
        <Button disabled={pageIndex === 0 || !page} onClick={() => void load(pageIndex - 1, markers[pageIndex - 1])}>
          Previous page
        </Button>
        <span>
          Page {pageIndex + 1}
          {parts.length > 0 ? ` · parts ${parts[0]!.partNumber}–${parts[parts.length - 1]!.partNumber}` : ''}
        </span>
        <Button disabled={!page?.nextMarker} onClick={() => void load(pageIndex + 1, markers[pageIndex + 1])}>
          Next page
        </Button>
      </nav>
    </section>
  );
}
