import type { CORSRule } from '@aws-sdk/client-s3';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { corsDocument, deleteBucketCors, EXAMPLE_CORS_DOCUMENT, getBucketCors, putBucketCorsDocument } from '../api/cors';
import { Button } from '../components/Button';
import { DataTable, type Column } from '../components/DataTable';
import { ErrorAlert, StatusMessage } from '../components/Feedback';
import { Link } from '../router';
import { PageHeading } from './PageHeading';

/** Client route to a bucket's CORS settings. */
export function corsRoute(bucket: string): string {
  return `buckets/${encodeURIComponent(bucket)}/cors`;
}

const list = (values: string[] | undefined) => (values?.length ? values.join(', ') : '—');

const COLUMNS: Array<Column<CORSRule>> = [
  { id: 'origins', header: 'Allowed origins', rowHeader: true, render: (rule) => list(rule.AllowedOrigins) },
  { id: 'methods', header: 'Allowed methods', render: (rule) => list(rule.AllowedMethods) },
  { id: 'headers', header: 'Allowed headers', render: (rule) => list(rule.AllowedHeaders) },
  { id: 'expose', header: 'Exposed headers', render: (rule) => list(rule.ExposeHeaders) },
  { id: 'max-age', header: 'Max age (s)', numeric: true, render: (rule) => (rule.MaxAgeSeconds === undefined ? '—' : String(rule.MaxAgeSeconds)) },
  { id: 'id', header: 'ID', render: (rule) => rule.ID ?? '—' },
];

/**
 * A bucket's CORS rules (which web pages on other origins may call it): shown as a table, edited
 * as the CORSConfiguration XML S3 takes, saved with PutBucketCors as written so the server's
 * verdict on a bad document is shown verbatim, or deleted.
 */
export function BucketCorsPage({ bucket }: { bucket: string }) {
  const [rules, setRules] = useState<CORSRule[] | null>();
  const [draft, setDraft] = useState('');
  const [loadError, setLoadError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [status, setStatus] = useState<string>();
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const current = await getBucketCors(bucket);
      setRules(current ?? null);
      setDraft(current ? corsDocument(current) : EXAMPLE_CORS_DOCUMENT);
      setLoadError(undefined);
    } catch (err) {
      setLoadError(err);
    }
  }, [bucket]);
  useEffect(() => void load(), [load]);

  const act = async (action: () => Promise<void>, done: string) => {
    setBusy(true);
    setActionError(undefined);
    setStatus(undefined);
    try {
      await action();
      setStatus(done);
      await load();
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  };

  const save = (event: Event) => {
    event.preventDefault();
    void act(() => putBucketCorsDocument(bucket, draft), `Saved the CORS configuration of ${bucket}.`);
  };
  const remove = () => {
    if (!confirm(`Delete the CORS configuration of ${bucket}? Pages on other origins will no longer be able to call it.`)) return;
    void act(() => deleteBucketCors(bucket), `Deleted the CORS configuration of ${bucket}.`);
  };

  return (
    <section>
      <PageHeading>{`CORS of ${bucket}`}</PageHeading>
      <p>
        <Link to="">Back to Buckets</Link>
      </p>
      <ErrorAlert error={loadError} />
      {rules === null ? <p>This bucket has no CORS configuration: browsers keep pages on other origins from reading its answers.</p> : null}
      {rules ? (
        <DataTable caption="CORS rules" columns={COLUMNS} rows={rules} rowKey={(rule) => JSON.stringify(rule)} empty="No rules." />
      ) : null}
      <form class="cors-editor" onSubmit={save}>
        <label for="cors-document">CORS configuration (XML)</label>
        {/* Not editable until the stored document has loaded: what was typed before would be replaced by it. */}
        <textarea
          id="cors-document"
          rows={16}
          spellcheck={false}
          value={draft}
          disabled={rules === undefined}
          onInput={(e) => setDraft(e.currentTarget.value)}
          aria-describedby="cors-help"
        />
        <p id="cors-help" class="hint">
          The CORSConfiguration document S3 takes: up to 100 CORSRule elements, each with AllowedOrigin and AllowedMethod (GET, PUT, POST, DELETE, HEAD), and optionally
          AllowedHeader, ExposeHeader (ETag, for multipart uploads), MaxAgeSeconds and ID.
        </p>
        <div class="toolbar">
          <Button type="submit" variant="primary" disabled={busy || rules === undefined}>
            Save CORS configuration
          </Button>
          {rules ? (
            <Button variant="danger" disabled={busy} onClick={remove}>
              Delete CORS configuration
            </Button>
          ) : null}
        </div>
      </form>
      <ErrorAlert error={actionError} />
      <StatusMessage>{status}</StatusMessage>
    </section>
  );
}
