import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { listBuckets, type BucketSummary } from '../api/buckets';
import { s3 } from '../api/s3';
import type { Session } from '../api/session';
import { Button } from '../components/Button';
import { DataTable, type Column } from '../components/DataTable';
import { ErrorAlert, StatusMessage } from '../components/Feedback';
import { formatBytes, formatCount, formatDate } from '../components/format';
import { Link, objectsRoute } from '../router';
import { corsRoute } from './BucketCors';
import { PageHeading } from './PageHeading';

/** The buckets the user owns (every bucket for root): create, delete when empty, open. */
export function BucketsPage({ session }: { session: Session }) {
  const [buckets, setBuckets] = useState<BucketSummary[]>();
  const [loadError, setLoadError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [status, setStatus] = useState<string>();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setBuckets(await listBuckets());
      setLoadError(undefined);
    } catch (err) {
      setLoadError(err);
    }
  }, []);
  useEffect(() => void load(), [load]);

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setActionError(undefined);
    setStatus(undefined);
    try {
      await s3((client) => client.send(new CreateBucketCommand({ Bucket: name })));
      setStatus(`Created bucket ${name}.`);
      setName('');
      await load();
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  };

  const remove = async (bucket: BucketSummary) => {
    if (!confirm(`Delete the bucket ${bucket.name}? Only an empty bucket can be deleted.`)) return;
    setActionError(undefined);
    setStatus(undefined);
    try {
      await s3((client) => client.send(new DeleteBucketCommand({ Bucket: bucket.name })));
      setStatus(`Deleted bucket ${bucket.name}.`);
      await load();
    } catch (err) {
      setActionError(err);
    }
  };

  const columns: Array<Column<BucketSummary>> = [
    {
      id: 'name',
      header: 'Name',
      rowHeader: true,
      compare: (a, b) => a.name.localeCompare(b.name),
      render: (bucket) => <Link to={objectsRoute(bucket.name)}>{bucket.name}</Link>,
    },
    ...(session.user.root ? [{ id: 'owner', header: 'Owner', render: (bucket: BucketSummary) => bucket.owner, compare: (a: BucketSummary, b: BucketSummary) => a.owner.localeCompare(b.owner) }] : []),
    { id: 'created', header: 'Created', render: (bucket) => formatDate(bucket.created), compare: (a, b) => a.created.localeCompare(b.created) },
    { id: 'objects', header: 'Objects', numeric: true, render: (bucket) => formatCount(bucket.objects), compare: (a, b) => a.objects - b.objects },
    {
      id: 'bytes',
      header: 'Bytes',
      numeric: true,
      render: (bucket) => <span title={`${formatCount(bucket.bytes)} bytes`}>{formatBytes(bucket.bytes)}</span>,
      compare: (a, b) => a.bytes - b.bytes,
    },
    {
      id: 'actions',
      header: 'Actions',
      hideHeader: true,
      render: (bucket) => (
        <>
          {/* Named "CORS" alone: the row header (the bucket's link) says whose, and a link named after the bucket is its objects. */}
          <Link to={corsRoute(bucket.name)} class="button plain">
            CORS
          </Link>{' '}
          <Button variant="danger" aria-label={`Delete ${bucket.name}`} onClick={() => void remove(bucket)}>
            Delete
          </Button>
        </>
      ),
    },
  ];

  return (
    <section>
      <PageHeading>Buckets</PageHeading>
      <form class="toolbar" onSubmit={create}>
        <label for="bucket-name">Bucket name</label>
        <input id="bucket-name" value={name} required spellcheck={false} autocomplete="off" onInput={(e) => setName(e.currentTarget.value)} />
        <Button type="submit" variant="primary" disabled={busy}>
          Create bucket
        </Button>
      </form>
      <ErrorAlert error={actionError} />
      <StatusMessage>{status}</StatusMessage>
      <ErrorAlert error={loadError} />
      <DataTable
        caption="Buckets"
        columns={columns}
        rows={buckets ?? []}
        rowKey={(bucket) => bucket.name}
        initialSort={{ column: 'name', direction: 'ascending' }}
        busy={buckets === undefined}
        empty={buckets === undefined ? 'Loading…' : 'No buckets yet.'}
      />
    </section>
  );
}
