import type { ComponentChildren } from 'preact';
import { endSession, type Session } from '../api/session';
import { Button } from '../components/Button';
import { BASE, Link, type Location } from '../router';
import { inNavigation, NAVIGATION } from './routes';

/** The frame of every signed-in page: the site name, the menu, who is signed in, sign-out. */
export function Shell({ session, location, children }: { session: Session; location: Location; children: ComponentChildren }) {
  const { user } = session;
  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={BASE}>
          Tessera
        </a>
        <nav aria-label="Main">
          <ul>
            {NAVIGATION.filter((item) => inNavigation(item, user)).map((item) => (
              <li key={item.to}>
                <Link to={item.to} current={item.owns(location.path)}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="account">
          <span>
            Signed in as <strong>{user.displayName}</strong>
            {user.root ? ' (root)' : ''}
          </span>
          <Button onClick={() => endSession('You signed out.')}>Sign out</Button>
        </div>
      </header>
      <main id="main">{children}</main>
    </div>
  );
}
