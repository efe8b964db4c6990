import type { ComponentChildren } from 'preact';
import type { Session } from '../api/session';
import type { Location } from '../router';
import { BucketCorsPage } from './BucketCors';
import { BucketsPage } from './Buckets';
import { NotFoundPage } from './NotFound';
import { ObjectsPage } from './objects/ObjectsPage';
import { PanDrivePage } from './PanDrive';
import { UsersPage } from './Users';
import { PartsPage } from './uploads/PartsPage';
import { UploadsPage } from './uploads/UploadsPage';

/**
 * Every page of the console: a new page is one entry here (and one in NAVIGATION when it
 * belongs in the menu). Patterns match the path after /-/console/, percent-encoded; captures
 * are decoded before they reach `render`. A route's last segment never holds a dot: the server
 * answers index.html only for such paths (anything with a dot there is a file of the bundle).
 */
export interface PageRoute {
  pattern: RegExp;
  title: (params: string[]) => string;
  render: (params: string[], query: URLSearchParams, session: Session) => ComponentChildren;
  /** Only root may open it (others get "not found"). */
  rootOnly?: boolean;
}

export const ROUTES: PageRoute[] = [
  { pattern: /^$/, title: () => 'Buckets', render: (_params, _query, session) => <BucketsPage session={session} /> },
  {
    pattern: /^buckets\/([^/]+)\/objects$/,
    title: ([bucket]) => `Objects in ${bucket}`,
    render: ([bucket], query) => <ObjectsPage key={bucket} bucket={bucket!} prefix={query.get('prefix') ?? ''} />,
  },
  { pattern: /^buckets\/([^/]+)\/uploads$/, title: ([bucket]) => `Uploads in progress in ${bucket}`, render: ([bucket]) => <UploadsPage key={bucket} bucket={bucket!} /> },
  {
    pattern: /^buckets\/([^/]+)\/uploads\/parts$/,
    title: ([bucket]) => `Parts of an upload in ${bucket}`,
    render: ([bucket], query) => <PartsPage bucket={bucket!} objectKey={query.get('key') ?? ''} uploadId={query.get('uploadId') ?? ''} />,
  },
  { pattern: /^buckets\/([^/]+)\/cors$/, title: ([bucket]) => `CORS of ${bucket}`, render: ([bucket]) => <BucketCorsPage key={bucket} bucket={bucket!} /> },
  {
    pattern: /^pan$/,
    title: () => '123pan drive',
    render: (_params, query, session) => <PanDrivePage session={session} bucket={query.get('bucket') ?? undefined} folder={folderId(query.get('folder'))} />,
  },
  { pattern: /^users$/, title: () => 'Users', render: () => <UsersPage />, rootOnly: true },
];

/** A folder id from the address; anything but a whole number is the root. */
function folderId(value: string | null): number {
  return value !== null && /^\d{1,15}$/.test(value) ? Number(value) : 0;
}

export interface NavigationItem {
  label: string;
  /** Client route (relative to /-/console/). */
  to: string;
  /** Whether the current path belongs to this item (it is then marked as the current page). */
  owns: (path: string) => boolean;
  rootOnly?: boolean;
  /** Shown only to users for whom this is true (root sees every item). */
  shows?: (user: Session['user']) => boolean;
}

export const NAVIGATION: NavigationItem[] = [
  { label: 'Buckets', to: '', owns: (path) => path === '' || path.startsWith('buckets/') },
  // Only users a 123pan app acts as have a drive (root may open anyone's).
  { label: '123pan drive', to: 'pan', owns: (path) => path === 'pan', shows: (user) => user.panDrive === true },
  { label: 'Users', to: 'users', owns: (path) => path === 'users', rootOnly: true },
];

/** Whether the menu shows `item` to `user`. */
export function inNavigation(item: NavigationItem, user: Session['user']): boolean {
  if (user.root) return true;
  return !item.rootOnly && (item.shows === undefined || item.shows(user));
}

export function resolveRoute(location: Location, session: Session): { title: string; content: ComponentChildren } {
  for (const route of ROUTES) {
    const match = route.pattern.exec(location.path);
    if (!match || (route.rootOnly && !session.user.root)) continue;
    let params: string[];
    try {
      params = match.slice(1).map((param) => decodeURIComponent(param));
    } catch {
      break;
    }
    return { title: route.title(params), content: route.render(params, location.query, session) };
  }
  return { title: 'Not found', content: <NotFoundPage /> };
}
