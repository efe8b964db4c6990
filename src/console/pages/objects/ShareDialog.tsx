import { useState } from 'preact/hooks';
import { shareLink } from '../../api/objects';
import { Button } from '../../components/Button';
import { Dialog } from '../../components/Dialog';
import { ErrorAlert, StatusMessage } from '../../components/Feedback';
import { formatDate } from '../../components/format';

const HOUR = 3600;
const EXPIRIES = [
  { seconds: HOUR, label: '1 hour' },
  { seconds: 6 * HOUR, label: '6 hours' },
  { seconds: 24 * HOUR, label: '1 day' },
  { seconds: 3 * 24 * HOUR, label: '3 days' },
  { seconds: 7 * 24 * HOUR, label: '7 days' },
];

/** Makes a presigned GET link that expires when chosen (1 hour to 7 days) and copies it to the clipboard. */
export function ShareDialog({ bucket, objectKey, onClose }: { bucket: string; objectKey: string; onClose: () => void }) {
  const [seconds, setSeconds] = useState(HOUR);
  const [link, setLink] = useState<{ url: string; expiration: Date }>();
  const [error, setError] = useState<unknown>();
  const [status, setStatus] = useState<string>();
  const [busy, setBusy] = useState(false);

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const made = await shareLink(bucket, objectKey, seconds);
      setLink(made);
      setStatus(await copied(made.url, made.expiration));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title={`Share ${objectKey}`} onClose={onClose}>
      <form onSubmit={create} class="stack">
        <label for="share-expiry">Link expires in</label>
        <select id="share-expiry" value={String(seconds)} onChange={(event) => setSeconds(Number(event.currentTarget.value))}>
          {EXPIRIES.map((expiry) => (
            <option key={expiry.seconds} value={String(expiry.seconds)}>
              {expiry.label}
            </option>
          ))}
        </select>
        <Button type="submit" variant="primary" disabled={busy}>
          Create link
        </Button>
      </form>
      <ErrorAlert error={error} />
      {link && (
        <div class="stack">
          <label for="share-link">Link</label>
          <input id="share-link" readOnly value={link.url} onFocus={(event) => event.currentTarget.select()} />
          <Button onClick={async () => setStatus(await copied(link.url, link.expiration))}>Copy link</Button>
        </div>
      )}
      <StatusMessage>{status}</StatusMessage>
    </Dialog>
  );
}

/** Copies to the clipboard; the browser allows it on secure origins (https, localhost) only. */
async function copied(url: string, expiration: Date): Promise<string> {
  const until = `It works until ${formatDate(expiration)}.`;
  try {
    await navigator.clipboard.writeText(url);
    return `Link copied to the clipboard. ${until}`;
  } catch {
    return `The browser did not allow copying: copy the link above. ${until}`;
  }
}
