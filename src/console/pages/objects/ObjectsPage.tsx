import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { deleteObject, deleteObjects, downloadUrl, listFolder, PAGE_SIZE, uploadFile, type FolderEntry, type ListingPage, type ObjectEntry } from '../../api/objects';
import { Button } from '../../components/Button';
import { DataTable, type Column } from '../../components/DataTable';
import { ErrorAlert, StatusMessage } from '../../components/Feedback';
import { formatBytes, formatCount, formatDate } from '../../components/format';
import { Link, objectsRoute, uploadsRoute } from '../../router';
import { PageHeading } from '../PageHeading';
import { Breadcrumbs } from './Breadcrumbs';
import { DetailsDialog } from './DetailsDialog';
import { chosenFromDrop, chosenFromInput, takeDropped, type ChosenFile } from './folder-files';
import { ShareDialog } from './ShareDialog';
import { goesMultipart, ResumableUpload } from './resumable-upload';
import { UploadsPanel } from './UploadsPanel';

type Entry = FolderEntry | ObjectEntry;

const entryKey = (entry: Entry) => (entry.kind === 'folder' ? entry.prefix : entry.key);
/** The part of a key or prefix below the folder shown. */
const nameIn = (prefix: string, entry: Entry) => entryKey(entry).slice(prefix.length);

/**
 * A bucket's objects, one "folder" (prefix up to the next `/`) at a time: browse, sort the
 * page shown, page through any number of keys, upload, download, share, delete, details.
 */
export function ObjectsPage({ bucket, prefix }: { bucket: string; prefix: string }) {
  // tokens[i] is the continuation token that lists page i (undefined for the first).
  const [tokens, setTokens] = useState<Array<string | undefined>>([undefined]);
  const [pageIndex, setPageIndex] = useState(0);
  const [page, setPage] = useState<ListingPage>();
  const [loadError, setLoadError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [status, setStatus] = useState<string>();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [sharing, setSharing] = useState<string>();
  const [inspecting, setInspecting] = useState<string>();
  const [uploading, setUploading] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  // Set as an attribute: Preact would set the property from a string, and JSX does not know it.
  useEffect(() => folderInput.current?.setAttribute('webkitdirectory', ''), []);
  // Large files go as resumable multipart uploads, shown with their progress (UploadsPanel).
  const [resumables, setResumables] = useState<ResumableUpload[]>([]);
  const [, setRememberedChanged] = useState(0);

  // Only the latest listing asked for is shown: an older one that answers late is dropped.
  const latest = useRef(0);

  const load = useCallback(
    async (index: number, token: string | undefined) => {
      const request = ++latest.current;
      setPage(undefined);
      try {
        const listed = await listFolder(bucket, prefix, token);
        if (request !== latest.current) return;
        setPage(listed);
        setPageIndex(index);
        setTokens((previous) => {
          const next = previous.slice(0, index + 1);
          if (listed.nextToken) next[index + 1] = listed.nextToken;
          return next;
        });
        setSelected(new Set());
        setLoadError(undefined);
      } catch (err) {
        if (request === latest.current) setLoadError(err);
      }
    },
    [bucket, prefix],
  );

  // A new folder starts at its first page.
  useEffect(() => {
    setTokens([undefined]);
    setStatus(undefined);
    setActionError(undefined);
    void load(0, undefined);
  }, [load]);

  const reload = () => load(pageIndex, tokens[pageIndex]);

  const startResumable = ({ file, path }: ChosenFile) => {
    const upload = new ResumableUpload(bucket, prefix + path, file, () => void reload());
    // Choosing a file again replaces its earlier entry (a finished, failed or paused one).
    setResumables((previous) => {
      previous.find((other) => other.id === upload.id)?.pause();
      return [...previous.filter((other) => other.id !== upload.id), upload];
    });
    void upload.run();
  };

  /** Each file goes to the folder shown + its path (a folder's files keep theirs below it). */
  const upload = async (chosen: ChosenFile[]) => {
    const large = chosen.filter(({ file }) => goesMultipart(file));
    large.forEach(startResumable);
    const files = chosen.filter((entry) => !large.includes(entry));
    if (files.length === 0) return;
    setUploading(true);
    setActionError(undefined);
    const failures: string[] = [];
    for (const [index, { file, path }] of files.entries()) {
      setStatus(`Uploading ${index + 1} of ${files.length}: ${path}…`);
      try {
        await uploadFile(bucket, prefix + path, file);
      } catch (err) {
        failures.push(path);
        setActionError(err);
      }
    }
    setUploading(false);
    const done = files.length - failures.length;
    setStatus(failures.length === 0 ? `Uploaded ${plural(done, 'file')}.` : `Uploaded ${plural(done, 'file')}; failed: ${failures.join(', ')}.`);
    await reload();
  };

  const remove = async (keys: string[]) => {
    const what = keys.length === 1 ? keys[0] : plural(keys.length, 'object');
    if (!confirm(`Delete ${what}? This cannot be undone.`)) return;
    setActionError(undefined);
    try {
      if (keys.length === 1) {
        await deleteObject(bucket, keys[0]!);
        setStatus(`Deleted ${keys[0]}.`);
      } else {
        const failures = await deleteObjects(bucket, keys);
        const deleted = keys.length - failures.length;
        setStatus(`Deleted ${plural(deleted, 'object')}.${failures.length ? ` Not deleted: ${failures.map((f) => `${f.key}: ${f.message}`).join('; ')}` : ''}`);
      }
    } catch (err) {
      setActionError(err);
    }
    await reload();
  };

  const download = async (key: string) => {
    setActionError(undefined);
    try {
      const link = document.createElement('a');
      link.href = await downloadUrl(bucket, key);
      link.download = key.slice(key.lastIndexOf('/') + 1);
      link.rel = 'noreferrer';
      document.body.append(link);
      link.click();
      link.remove();
    } catch (err) {
      setActionError(err);
    }
  };

  const columns: Array<Column<Entry>> = [
    {
      id: 'name',
      header: 'Name',
      rowHeader: true,
      compare: (a, b) => compareText(entryKey(a), entryKey(b)),
      render: (entry) =>
        entry.kind === 'folder' ? (
          <Link to={objectsRoute(bucket, entry.prefix)} class="folder">
            {nameIn(prefix, entry)}
          </Link>
        ) : (
          <span class="key">{nameIn(prefix, entry) || '(this folder’s own object)'}</span>
        ),
    },
    {
      id: 'size',
      header: 'Size',
      numeric: true,
      compare: (a, b) => sizeOf(a) - sizeOf(b),
      render: (entry) => (entry.kind === 'object' ? <span title={`${formatCount(entry.size)} bytes`}>{formatBytes(entry.size)}</span> : ''),
    },
    {
      id: 'modified',
      header: 'Last modified',
      compare: (a, b) => timeOf(a) - timeOf(b),
      render: (entry) => (entry.kind === 'object' ? formatDate(entry.lastModified) : ''),
    },
    {
      id: 'actions',
      header: 'Actions',
      hideHeader: true,
      render: (entry) => {
        if (entry.kind === 'folder') return null;
        const name = nameIn(prefix, entry) || entry.key;
        return (
          <span class="row-actions">
            <Button aria-label={`Download ${name}`} onClick={() => void download(entry.key)}>
              Download
            </Button>
            <Button aria-label={`Share ${name}`} onClick={() => setSharing(entry.key)}>
              Share
            </Button>
            <Button aria-label={`Details of ${name}`} onClick={() => setInspecting(entry.key)}>
              Details
            </Button>
            <Button variant="danger" aria-label={`Delete ${name}`} onClick={() => void remove([entry.key])}>
              Delete
            </Button>
          </span>
        );
      },
    },
  ];

  const rows: Entry[] = page ? [...page.folders, ...page.objects] : [];
  const firstKey = pageIndex * PAGE_SIZE + 1;
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    if (!event.dataTransfer) return;
    // Taken now: the drop's DataTransfer is emptied once the event is over.
    const dropped = takeDropped(event.dataTransfer);
    void chosenFromDrop(dropped).then(upload, (err: unknown) => setActionError(err));
  };

  return (
    <section onDragOver={(event) => event.preventDefault()} onDrop={onDrop}>
      <PageHeading focusKey={bucket + '\n' + prefix}>{bucket}</PageHeading>
      <Breadcrumbs bucket={bucket} prefix={prefix} />
      <div class="toolbar">
        <Button variant="primary" disabled={uploading} onClick={() => fileInput.current?.click()}>
          Upload
        </Button>
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          onChange={(event) => {
            const files = chosenFromInput(event.currentTarget.files ?? []);
            event.currentTarget.value = '';
            void upload(files);
          }}
        />
        <Button disabled={uploading} onClick={() => folderInput.current?.click()}>
          Upload folder
        </Button>
        <input
          ref={folderInput}
          type="file"
          hidden
          onChange={(event) => {
            const files = chosenFromInput(event.currentTarget.files ?? []);
            event.currentTarget.value = '';
            void upload(files);
          }}
        />
        <Button variant="danger" disabled={selected.size === 0} onClick={() => void remove([...selected])}>
          Delete
        </Button>
        <span class="selection-count">{selected.size > 0 ? `${plural(selected.size, 'object')} selected` : ''}</span>
        <Button onClick={() => void reload()}>Refresh</Button>
        <Link to={uploadsRoute(bucket)}>Uploads in progress</Link>
      </div>
      <UploadsPanel bucket={bucket} uploads={resumables} onChanged={() => setRememberedChanged((count) => count + 1)} />
      <ErrorAlert error={actionError} />
      <StatusMessage>{status}</StatusMessage>
      <ErrorAlert error={loadError} />
      <DataTable
        caption="Objects"
        columns={columns}
        rows={rows}
        rowKey={(entry) => `${entry.kind}:${entryKey(entry)}`}
        group={(entry) => (entry.kind === 'folder' ? 0 : 1)}
        initialSort={{ column: 'name', direction: 'ascending' }}
        selection={{
          selected,
          key: entryKey,
          onChange: setSelected,
          label: (entry) => `Select ${nameIn(prefix, entry) || entryKey(entry)}`,
          selectable: (entry) => entry.kind === 'object',
        }}
        busy={page === undefined && !loadError}
        empty={page === undefined ? 'Loading…' : 'Nothing here yet: upload files or a folder, or drop them on this page.'}
      />
      <nav class="pager" aria-label="Pages">
        <Button disabled={pageIndex === 0 || !page} onClick={() => void load(pageIndex - 1, tokens[pageIndex - 1])}>
          Previous page
        </Button>
        <span>
          Page {pageIndex + 1}
          {page && rows.length > 0 ? ` · entries ${formatCount(firstKey)}–${formatCount(firstKey + rows.length - 1)}` : ''}
        </span>
        <Button disabled={!page?.nextToken} onClick={() => void load(pageIndex + 1, tokens[pageIndex + 1])}>
          Next page
        </Button>
      </nav>
      <p class="hint">Sorting orders the page shown (up to {formatCount(PAGE_SIZE)} entries); pages follow the keys’ order.</p>
      {sharing !== undefined && <ShareDialog bucket={bucket} objectKey={sharing} onClose={() => setSharing(undefined)} />}
      {inspecting !== undefined && <DetailsDialog bucket={bucket} objectKey={inspecting} onClose={() => setInspecting(undefined)} />}
    </section>
  );
}

function plural(count: number, noun: string): string {
  return `${formatCount(count)} ${noun}${count === 1 ? '' : 's'}`;
}

/** Keys compared as S3 orders them (by UTF-16 code units, close to S3's UTF-8 byte order), not by locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const sizeOf = (entry: Entry) => (entry.kind === 'object' ? entry.size : -1);
const timeOf = (entry: Entry) => (entry.kind === 'object' ? (entry.lastModified?.getTime() ?? 0) : 0);
