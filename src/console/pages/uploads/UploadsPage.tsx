import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { abortUpload, listUploads, uploadTotals, UPLOADS_PAGE_SIZE, type PartTotals, type UploadEntry, type UploadsMarker, type UploadTotals } from '../../api/uploads';
import { Button } from '../../components/Button';
import { DataTable, type Column } from '../../components/DataTable';
import { ErrorAlert, StatusMessage } from '../../components/Feedback';
import { formatBytes, formatCount, formatDate } from '../../components/format';
import { Link, objectsRoute, partsRoute } from '../../router';
import { PageHeading } from '../PageHeading';
import { plural, UploadTotalsLine } from './totals';

interface Loaded {
  uploads: UploadEntry[];
  next?: UploadsMarker;
  totals: UploadTotals;
}

/** Aborts run a few at a time: many at once without flooding the server. */
const ABORT_CONCURRENCY = 8;

const uploadKey = (upload: UploadEntry) => `${upload.uploadId}\n${upload.key}`;

/**
 * A bucket's incomplete multipart uploads, whoever started them (the console, an SDK, ossutil,
 * 123pan): key, upload id, when it began, parts and bytes so far; abort one or many; open one to
 * see its parts. ListMultipartUploads pages them 1,000 at a time; the part counts and bytes of
 * a page come from one console API call.
 */
export function UploadsPage({ bucket }: { bucket: string }) {
  // markers[i] is where page i starts.
  const [markers, setMarkers] = useState<UploadsMarker[]>([{}]);
  const [pageIndex, setPageIndex] = useState(0);
  const [page, setPage] = useState<Loaded>();
  const [loadError, setLoadError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [status, setStatus] = useState<string>();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const latest = useRef(0);

  const load = useCallback(
    async (index: number, marker: UploadsMarker) => {
      const request = ++latest.current;
      setPage(undefined);
      try {
        const listed = await listUploads(bucket, marker);
        const totals = await uploadTotals(bucket, listed.uploads);
        if (request !== latest.current) return;
        setPage({ uploads: listed.uploads, next: listed.next, totals });
        setPageIndex(index);
        setMarkers((previous) => {
          const next = previous.slice(0, index + 1);
          if (listed.next) next[index + 1] = listed.next;
          return next;
        });
        setSelected(new Set());
        setLoadError(undefined);
      } catch (err) {
        if (request === latest.current) setLoadError(err);
      }
    },
    [bucket],
  );

  useEffect(() => {
    setMarkers([{}]);
    void load(0, {});
  }, [load]);

  const reload = () => load(pageIndex, markers[pageIndex] ?? {});

  const abort = async (uploads: UploadEntry[]) => {
    const what = uploads.length === 1 ? `the upload of ${uploads[0]!.key}` : plural(uploads.length, 'upload');
    if (!confirm(`Abort ${what}? Its parts are deleted; this cannot be undone.`)) return;
    setBusy(true);
    setActionError(undefined);
    setStatus(uploads.length === 1 ? `Aborting the upload of ${uploads[0]!.key}…` : `Aborting ${plural(uploads.length, 'upload')}…`);
    const failures: Array<{ upload: UploadEntry; error: unknown }> = [];
    const queue = [...uploads];
    await Promise.all(
      Array.from({ length: Math.min(ABORT_CONCURRENCY, queue.length) }, async () => {
        for (let upload = queue.shift(); upload; upload = queue.shift()) {
          try {
            await abortUpload(bucket, upload.key, upload.uploadId);
          } catch (error) {
            failures.push({ upload, error });
          }
        }
      }),
    );
    const aborted = uploads.length - failures.length;
    if (failures.length > 0) setActionError(failures[0]!.error);
    setStatus(
      failures.length === 0
        ? uploads.length === 1
          ? `Aborted the upload of ${uploads[0]!.key}.`
          : `Aborted ${plural(aborted, 'upload')}.`
        : `Aborted ${plural(aborted, 'upload')}; not aborted: ${failures.map((failure) => failure.upload.key).join(', ')}.`,
    );
    setBusy(false);
    await reload();
  };

  const totalsOf = (upload: UploadEntry): PartTotals | undefined => page?.totals.uploads[upload.uploadId];
  const columns: Array<Column<UploadEntry>> = [
    {
      id: 'key',
      header: 'Key',
      rowHeader: true,
      render: (upload) => (
        <Link to={partsRoute(bucket, upload.key, upload.uploadId)}>
          <span class="key">{upload.key}</span>
        </Link>
      ),
    },
    { id: 'uploadId', header: 'Upload ID', render: (upload) => <code class="upload-id">{upload.uploadId}</code> },
    { id: 'initiated', header: 'Initiated', render: (upload) => formatDate(upload.initiated) },
    {
      id: 'abort',
      header: 'Aborted after',
      render: (upload) => {
        const due = page?.totals.abortDates[upload.uploadId];
        if (!due) return '';
        return (
          <span>
            {formatDate(new Date(due.date))} <span class="abort-source">{due.ruleId !== undefined ? `(lifecycle rule ${due.ruleId})` : '(server default)'}</span>
          </span>
        );
      },
    },
    { id: 'parts', header: 'Parts', numeric: true, render: (upload) => formatCount(totalsOf(upload)?.parts ?? 0) },
    {
      id: 'bytes',
      header: 'Bytes so far',
      numeric: true,
      render: (upload) => {
        const bytes = totalsOf(upload)?.bytes ?? 0;
        return <span title={`${formatCount(bytes)} bytes`}>{formatBytes(bytes)}</span>;
      },
    },
    {
      id: 'actions',
      header: 'Actions',
      hideHeader: true,
      render: (upload) => (
        <Button variant="danger" aria-label={`Abort ${upload.key} (upload ${upload.uploadId})`} disabled={busy} onClick={() => void abort([upload])}>
          Abort
        </Button>
      ),
    },
  ];

  const uploads = page?.uploads ?? [];
  const first = pageIndex * UPLOADS_PAGE_SIZE + 1;
  return (
    <section>
      <PageHeading focusKey={bucket}>Uploads in progress in {bucket}</PageHeading>
      <p>
        <Link to={objectsRoute(bucket)}>Objects in {bucket}</Link>
      </p>
      {page && <UploadTotalsLine label="In this bucket" uploads={page.totals.bucket.uploads} totals={page.totals.bucket} />}
      <div class="toolbar">
        <Button variant="danger" disabled={selected.size === 0 || busy} onClick={() => void abort(uploads.filter((upload) => selected.has(uploadKey(upload))))}>
          Abort
        </Button>
        <span class="selection-count">{selected.size > 0 ? `${plural(selected.size, 'upload')} selected` : ''}</span>
        <Button onClick={() => void reload()}>Refresh</Button>
      </div>
      <ErrorAlert error={actionError} />
      <StatusMessage>{status}</StatusMessage>
      <ErrorAlert error={loadError} />
      <DataTable
        caption="Uploads in progress"
        columns={columns}
        rows={uploads}
        rowKey={uploadKey}
        selection={{ selected, key: uploadKey, onChange: setSelected, label: (upload) => `Select ${upload.key} (upload ${upload.uploadId})` }}
        busy={page === undefined && !loadError}
        empty={page === undefined ? 'Loading…' : 'No uploads in progress.'}
      />
      <nav class="pager" aria-label="Pages">
        <Button disabled={pageIndex === 0 || !page} onClick={() => void load(pageIndex - 1, markers[pageIndex - 1] ?? {})}>
          Previous page
        </Button>
        <span>
          Page {pageIndex + 1}
          {uploads.length > 0 ? ` · uploads ${formatCount(first)}–${formatCount(first + uploads.length - 1)}` : ''}
        </span>
        <Button disabled={!page?.next} onClick={() => void load(pageIndex + 1, markers[pageIndex + 1] ?? {})}>
          Next page
        </Button>
      </nav>
    </section>
  );
}
