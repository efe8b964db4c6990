import { useEffect, useState } from 'preact/hooks';
import { currentSession, onSessionChange, type Session } from './api/session';
import { resolveRoute } from './pages/routes';
import { Shell } from './pages/Shell';
import { SignInPage } from './pages/SignIn';
import { useLocation } from './router';

/** Signed out: the sign-in page, whatever the address (kept, so sign-in lands where the user was going). */
export function App() {
  const [session, setSession] = useState<Session | undefined>(currentSession);
  const [notice, setNotice] = useState<string>();
  useEffect(
    () =>
      onSessionChange((next, reason) => {
        setSession(next);
        setNotice(reason);
      }),
    [],
  );
  return session ? <SignedIn session={session} /> : <SignInPage notice={notice} />;
}

function SignedIn({ session }: { session: Session }) {
  const location = useLocation();
  const page = resolveRoute(location, session);
  useEffect(() => {
    document.title = `${page.title} · Tessera`;
  }, [page.title]);
  return (
    <Shell session={session} location={location}>
      {page.content}
    </Shell>
  );
}
