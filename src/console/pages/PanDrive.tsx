import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { listPanDrives, listPanFolder, PAN_PAGE_SIZE, type PanDrive, type PanFile, type PanFolderPage } from '../api/pan';
import type { Session } from '../api/session';
import { Button } from '../components/Button';
import { DataTable, type Column } from '../components/DataTable';
import { ErrorAlert } from '../components/Feedback';
import { formatBytes, formatCount } from '../components/format';
import { Link, navigate } from '../router';
import { PageHeading } from './PageHeading';

/** Client route to a folder (0: the root) of the drive in `bucket` (the caller's own when undefined). */
export function panRoute(bucket: string | undefined, folder = 0): string {
  const query = new URLSearchParams();
  if (bucket) query.set('bucket', bucket);
  if (folder !== 0) query.set('folder', String(folder));
  const text = query.toString();
  return `pan${text ? `?${text}` : ''}`;
}

/**
 * A 123pan drive as 123pan clients see it: one folder at a time with each entry's file id,
 * the same records `api/v2/file/list` gives an app. Users see their own drive, root any.
 */
export function PanDrivePage({ session, bucket, folder }: { session: Session; bucket?: string; folder: number }) {
  const [drives, setDrives] = useState<PanDrive[]>();
  const [drivesError, setDrivesError] = useState<unknown>();
  useEffect(() => {
    listPanDrives().then(setDrives, setDrivesError);
  }, []);

  const chosen = bucket || (drives && (drives.find((drive) => drive.user === session.user.id) ?? drives[0])?.bucket);
  return (
    <section>
      <PageHeading focusKey={`${chosen}\n${folder}`}>123pan drive</PageHeading>
      <ErrorAlert error={drivesError} />
      {drives && drives.length > 1 && (
        <div class="toolbar">
          <label for="pan-drive">Drive</label>
          <select id="pan-drive" value={chosen} onChange={(event) => navigate(panRoute(event.currentTarget.value))}>
            {drives.map((drive) => (
              <option key={drive.bucket} value={drive.bucket}>
                {drive.displayName} ({drive.bucket})
              </option>
            ))}
          </select>
        </div>
      )}
      {drives && drives.length === 0 && !bucket && (
        <p class="notice">
          You have no 123pan drive. A drive belongs to a user that a 123pan app acts as (an entry of <code>panApps</code> in the server’s
          configuration); ask the administrator for one.
        </p>
      )}
      {chosen && <DriveFolder key={chosen} bucket={chosen} folder={folder} />}
    </section>
  );
}

function DriveFolder({ bucket, folder }: { bucket: string; folder: number }) {
  // markers[i] is the lastFileId that lists page i (0 for the first).
  const [markers, setMarkers] = useState<number[]>([0]);
  const [pageIndex, setPageIndex] = useState(0);
  const [page, setPage] = useState<PanFolderPage>();
  const [error, setError] = useState<unknown>();
  const latest = useRef(0);

  const load = useCallback(
    async (index: number, marker: number) => {
      const request = ++latest.current;
      setPage(undefined);
      try {
        const listed = await listPanFolder(bucket, folder, marker);
        if (request !== latest.current) return;
        setPage(listed);
        setPageIndex(index);
        setMarkers((previous) => {
          const next = previous.slice(0, index + 1);
          if (listed.lastFileId !== -1) next[index + 1] = listed.lastFileId;
          return next;
        });
        setError(undefined);
      } catch (err) {
        if (request === latest.current) setError(err);
      }
    },
    [bucket, folder],
  );
  useEffect(() => {
    setMarkers([0]);
    void load(0, 0);
  }, [load]);

  const columns: Array<Column<PanFile>> = [
    {
      id: 'name',
      header: 'Name',
      rowHeader: true,
      compare: (a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0),
      render: (file) => (
        <>
          {file.type === 1 ? (
            <Link to={panRoute(bucket, file.fileId)} class="folder">
              {file.filename}
            </Link>
          ) : (
            <span class="key">{file.filename}</span>
          )}
          {file.trashed === 1 ? <span class="tag"> in the trash</span> : null}
        </>
      ),
    },
    { id: 'id', header: 'File ID', numeric: true, compare: (a, b) => a.fileId - b.fileId, render: (file) => String(file.fileId) },
    { id: 'type', header: 'Type', render: (file) => (file.type === 1 ? 'Folder' : 'File') },
    {
      id: 'size',
      header: 'Size',
      numeric: true,
      compare: (a, b) => a.size - b.size,
      render: (file) => (file.type === 1 ? '' : <span title={`${formatCount(file.size)} bytes`}>{formatBytes(file.size)}</span>),
    },
    { id: 'etag', header: 'MD5', render: (file) => <code>{file.etag}</code> },
    { id: 'parent', header: 'Parent file ID', numeric: true, render: (file) => String(file.parentFileId) },
    { id: 'created', header: 'Created (UTC+8)', compare: (a, b) => a.createAt.localeCompare(b.createAt), render: (file) => file.createAt },
    { id: 'updated', header: 'Updated (UTC+8)', compare: (a, b) => a.updateAt.localeCompare(b.updateAt), render: (file) => file.updateAt },
  ];

  const rows = page?.fileList ?? [];
  const first = pageIndex * PAN_PAGE_SIZE + 1;
  return (
    <>
      {page && <DriveBreadcrumbs page={page} />}
      <ErrorAlert error={error} />
      <DataTable
        caption="Drive"
        columns={columns}
        rows={rows}
        rowKey={(file) => String(file.fileId)}
        group={(file) => (file.type === 1 ? 0 : 1)}
        initialSort={{ column: 'name', direction: 'ascending' }}
        busy={page === undefined && !error}
        empty={page === undefined ? (error ? 'This folder cannot be shown.' : 'Loading…') : 'This folder is empty.'}
      />
      <nav class="pager" aria-label="Pages">
        <Button disabled={pageIndex === 0 || !page} onClick={() => void load(pageIndex - 1, markers[pageIndex - 1]!)}>
          Previous page
        </Button>
        <span>
          Page {pageIndex + 1}
          {page && rows.length > 0 ? ` · entries ${formatCount(first)}–${formatCount(first + rows.length - 1)}` : ''}
        </span>
        <Button disabled={!page || page.lastFileId === -1} onClick={() => void load(pageIndex + 1, markers[pageIndex + 1]!)}>
          Next page
        </Button>
      </nav>
      <p class="hint">
        File IDs, MD5s and times are what 123pan apps get for these files (times in Beijing time, as 123pan writes them). The drive is the bucket{' '}
        <code>{bucket}</code>: its objects are these files.
      </p>
    </>
  );
}

function DriveBreadcrumbs({ page }: { page: PanFolderPage }) {
  const { drive, folder } = page;
  const crumbs = [{ fileId: 0, filename: `${drive.displayName}’s drive` }, ...folder.path];
  return (
    <nav aria-label="Breadcrumbs" class="breadcrumbs">
      <ol>
        {crumbs.map((crumb, index) => (
          <li key={crumb.fileId}>
            {index === crumbs.length - 1 ? <span aria-current="page">{crumb.filename}</span> : <Link to={panRoute(drive.bucket, crumb.fileId)}>{crumb.filename}</Link>}
          </li>
        ))}
      </ol>
    </nav>
  );
}
