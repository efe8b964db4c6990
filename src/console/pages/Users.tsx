import { useEffect, useState } from 'preact/hooks';
import { listUsers, type UserBucket, type UsersAnswer, type UserSummary } from '../api/users';
import { DataTable, type Column } from '../components/DataTable';
import { ErrorAlert } from '../components/Feedback';
import { formatBytes, formatCount, formatDate } from '../components/format';
import { Link, objectsRoute } from '../router';
import { PageHeading } from './PageHeading';

type BucketRow = UserBucket & { owner: string; ownerKnown: boolean };

const bytes = (count: number) => <span title={`${formatCount(count)} bytes`}>{formatBytes(count)}</span>;

/** Root's view of who exists (never a secret key) and what each one stores. Read-only. */
export function UsersPage() {
  const [answer, setAnswer] = useState<UsersAnswer>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    listUsers().then(setAnswer, setError);
  }, []);

  const userColumns: Array<Column<UserSummary>> = [
    { id: 'id', header: 'User ID', rowHeader: true, compare: (a, b) => a.id.localeCompare(b.id), render: (user) => user.id },
    { id: 'name', header: 'Display name', compare: (a, b) => a.displayName.localeCompare(b.displayName), render: (user) => user.displayName },
    { id: 'root', header: 'Root', render: (user) => (user.root ? 'Yes' : 'No') },
    { id: 'key', header: 'Access key ID', render: (user) => <code>{user.accessKeyId}</code> },
    { id: 'pan', header: '123pan drive', render: (user) => user.panDrives.map((drive) => drive.bucket).join(', ') },
    { id: 'buckets', header: 'Buckets', numeric: true, compare: (a, b) => a.totals.buckets - b.totals.buckets, render: (user) => formatCount(user.totals.buckets) },
    { id: 'objects', header: 'Objects', numeric: true, compare: (a, b) => a.totals.objects - b.totals.objects, render: (user) => formatCount(user.totals.objects) },
    { id: 'bytes', header: 'Bytes', numeric: true, compare: (a, b) => a.totals.bytes - b.totals.bytes, render: (user) => bytes(user.totals.bytes) },
    { id: 'uploads', header: 'Uploads in progress', numeric: true, compare: (a, b) => a.totals.uploads - b.totals.uploads, render: (user) => formatCount(user.totals.uploads) },
    { id: 'upload-bytes', header: 'Bytes in uploads', numeric: true, compare: (a, b) => a.totals.uploadBytes - b.totals.uploadBytes, render: (user) => bytes(user.totals.uploadBytes) },
  ];

  const bucketColumns: Array<Column<BucketRow>> = [
    { id: 'name', header: 'Bucket', rowHeader: true, compare: (a, b) => a.name.localeCompare(b.name), render: (bucket) => <Link to={objectsRoute(bucket.name)}>{bucket.name}</Link> },
    {
      id: 'owner',
      header: 'Owner',
      compare: (a, b) => a.owner.localeCompare(b.owner),
      render: (bucket) => (bucket.ownerKnown ? bucket.owner : `${bucket.owner} (no longer a user)`),
    },
    { id: 'created', header: 'Created', compare: (a, b) => a.created.localeCompare(b.created), render: (bucket) => formatDate(bucket.created) },
    { id: 'objects', header: 'Objects', numeric: true, compare: (a, b) => a.objects - b.objects, render: (bucket) => formatCount(bucket.objects) },
    { id: 'bytes', header: 'Bytes', numeric: true, compare: (a, b) => a.bytes - b.bytes, render: (bucket) => bytes(bucket.bytes) },
    { id: 'uploads', header: 'Uploads in progress', numeric: true, compare: (a, b) => a.uploads - b.uploads, render: (bucket) => formatCount(bucket.uploads) },
    { id: 'upload-bytes', header: 'Bytes in uploads', numeric: true, compare: (a, b) => a.uploadBytes - b.uploadBytes, render: (bucket) => bytes(bucket.uploadBytes) },
  ];

  const buckets: BucketRow[] = answer
    ? [
        ...answer.users.flatMap((user) => user.buckets.map((bucket) => ({ ...bucket, owner: user.id, ownerKnown: true }))),
        ...answer.bucketsOfUnknownOwners.map((bucket) => ({ ...bucket, ownerKnown: false })),
      ]
    : [];
  return (
    <section>
      <PageHeading>Users</PageHeading>
      <p class="hint">Users are set in the server’s configuration (root’s keys at first start); this page only shows them. Secret keys are never shown.</p>
      <ErrorAlert error={error} />
      <DataTable
        caption="Users"
        columns={userColumns}
        rows={answer?.users ?? []}
        rowKey={(user) => user.id}
        initialSort={{ column: 'id', direction: 'ascending' }}
        busy={answer === undefined && !error}
        empty={answer === undefined ? 'Loading…' : 'No users.'}
      />
      <DataTable
        caption="Buckets by owner"
        columns={bucketColumns}
        rows={buckets}
        rowKey={(bucket) => bucket.name}
        initialSort={{ column: 'owner', direction: 'ascending' }}
        busy={answer === undefined && !error}
        empty={answer === undefined ? 'Loading…' : 'No buckets yet.'}
      />
    </section>
  );
}
