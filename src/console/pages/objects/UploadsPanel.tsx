import { useEffect, useState } from 'preact/hooks';
import { abortMultipartUpload } from '../../api/multipart';
import { codeOf, describeError } from '../../api/errors';
import { Button } from '../../components/Button';
import { formatBytes } from '../../components/format';
import { forgetUpload, storedUploadsIn } from './resumable-store';
import type { ResumableUpload, UploadView } from './resumable-upload';

/**
 * The page's large uploads: a progress bar each (role progressbar, aria-valuenow in percent),
 * bytes, speed and time left, "Pause"/"Resume" and "Abort"; and the unfinished uploads this
 * browser remembers for the bucket that no file has been chosen for yet (after a reload).
 */
export function UploadsPanel({ bucket, uploads, onChanged }: { bucket: string; uploads: ResumableUpload[]; onChanged: () => void }) {
  const [, setTick] = useState(0);
  useEffect(() => {
    const unsubscribe = uploads.map((upload) => upload.subscribe(() => setTick((tick) => tick + 1)));
    return () => unsubscribe.forEach((stop) => stop());
  }, [uploads]);

  const active = new Set(uploads.map((upload) => upload.id));
  const remembered = storedUploadsIn(bucket).filter(([print]) => !active.has(print));
  const [abortError, setAbortError] = useState<unknown>();
  if (uploads.length === 0 && remembered.length === 0) return null;

  return (
    <section class="uploads" aria-label="Uploads">
      <ul>
        {uploads.map((upload) => (
          <UploadRow key={upload.id} upload={upload} view={upload.current()} />
        ))}
        {remembered.map(([print, entry]) => (
          <li key={print} class="upload">
            <span class="upload-name">{entry.key}</span>{' '}
            <span class="upload-detail">
              unfinished ({formatBytes(entry.size)}): choose the same file with Upload to resume it.
            </span>{' '}
            <Button
              aria-label={`Abort ${entry.name}`}
              onClick={async () => {
                setAbortError(undefined);
                try {
                  await abortMultipartUpload(entry.bucket, entry.key, entry.uploadId);
                } catch (err) {
                  if (codeOf(err) !== 'NoSuchUpload') {
                    setAbortError(err);
                    return;
                  }
                }
                forgetUpload(print);
                onChanged();
              }}
            >
              Abort
            </Button>
          </li>
        ))}
      </ul>
      {abortError !== undefined && (
        <p role="alert" class="error">
          {describeError(abortError)}
        </p>
      )}
    </section>
  );
}

function UploadRow({ upload, view }: { upload: ResumableUpload; view: UploadView }) {
  const percent = view.size === 0 ? 100 : Math.floor((view.bytesDone / view.size) * 100);
  const running = view.state === 'uploading' || view.state === 'checking';
  const finished = view.state === 'done' || view.state === 'aborted';
  return (
    <li class="upload">
      <span class="upload-name">{view.key}</span>
      <div
        class="progress"
        role="progressbar"
        aria-label={`Upload of ${view.name}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={`${percent}% (${formatBytes(view.bytesDone)} of ${formatBytes(view.size)})`}
      >
        <div class="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <span class="upload-detail">{describe(view, percent)}</span>
      {!finished && (
        <span class="row-actions">
          {running ? (
            <Button aria-label={`Pause ${view.name}`} onClick={() => upload.pause()}>
              Pause
            </Button>
          ) : (
            <Button aria-label={`Resume ${view.name}`} onClick={() => void upload.run()}>
              Resume
            </Button>
          )}
          <Button variant="danger" aria-label={`Abort ${view.name}`} onClick={() => void upload.abort()}>
            Abort
          </Button>
        </span>
      )}
      {view.error !== undefined && (
        <p role="alert" class="error">
          {describeError(view.error)}
        </p>
      )}
    </li>
  );
}

function describe(view: UploadView, percent: number): string {
  const bytes = `${formatBytes(view.bytesDone)} of ${formatBytes(view.size)} (${percent}%)`;
  const resumed = view.resumedParts > 0 ? ` · resumed: ${view.resumedParts} part${view.resumedParts === 1 ? '' : 's'} already on the server` : '';
  switch (view.state) {
    case 'checking':
      return `Checking the server for parts already sent… ${bytes}`;
    case 'uploading': {
      if (view.speed === undefined) return `${bytes}${resumed} · measuring speed…`;
      const seconds = Math.ceil((view.size - view.bytesDone) / view.speed);
      return `${bytes} · ${formatBytes(view.speed)}/s · about ${formatDuration(seconds)} left${resumed}`;
    }
    case 'paused':
      return `Paused at ${bytes}`;
    case 'failed':
      return `Stopped at ${bytes}; Resume sends only the missing parts.`;
    case 'done':
      return `Uploaded ${formatBytes(view.size)}.${resumed}`;
    case 'aborted':
      return 'Aborted; the parts sent were deleted.';
  }
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
