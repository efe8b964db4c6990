import { useEffect, useState } from 'preact/hooks';
import { signIn } from '../api/session';
import { Button } from '../components/Button';
import { ErrorAlert, StatusMessage } from '../components/Feedback';

/**
 * Sign-in with an access key and secret key (root's or any user's). The secret is sent once,
 * over this origin, for temporary credentials; the form forgets it at once either way.
 */
export function SignInPage({ notice }: { notice?: string }) {
  const [accessKey, setAccessKey] = useState('');
  const [secretKey, setSecretKey] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'Sign in · Tessera';
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(accessKey.trim(), secretKey);
    } catch (err) {
      setError(err);
      setBusy(false);
    } finally {
      setSecretKey('');
    }
  };

  return (
    <main class="sign-in" id="main">
      <h1>Tessera</h1>
      <form onSubmit={submit} class="card">
        <h2>Sign in</h2>
        <StatusMessage>{notice}</StatusMessage>
        <label for="access-key">Access key</label>
        <input id="access-key" name="accessKey" autocomplete="off" spellcheck={false} required value={accessKey} onInput={(e) => setAccessKey(e.currentTarget.value)} />
        <label for="secret-key">Secret key</label>
        <input id="secret-key" name="secretKey" type="password" autocomplete="off" required value={secretKey} onInput={(e) => setSecretKey(e.currentTarget.value)} />
        <ErrorAlert error={error} />
        <Button type="submit" variant="primary" disabled={busy}>
          Sign in
        </Button>
        <p class="hint">
          The secret key is exchanged for temporary credentials that last an hour and stay in this tab only; the browser never stores it.
        </p>
      </form>
    </main>
  );
}
