import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** Where the console lives; every client route is a path under it. */
export const BASE = '/-/console/';

export interface Location {
  /** The path after BASE, still percent-encoded: '' for the start page, 'buckets/photos/objects'. */
  path: string;
  query: URLSearchParams;
}

const NAVIGATED = 'tessera:navigated';

function readLocation(): Location {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '';
  return { path, query: new URLSearchParams(location.search) };
}

/** The current client route; re-renders on navigation (links, back and forward). */
export function useLocation(): Location {
  const [current, setCurrent] = useState(readLocation);
  useEffect(() => {
    const update = () => setCurrent(readLocation());
    addEventListener('popstate', update);
    addEventListener(NAVIGATED, update);
    return () => {
      removeEventListener('popstate', update);
      removeEventListener(NAVIGATED, update);
    };
  }, []);
  return current;
}

/** `to` is relative to BASE: `buckets/photos/objects?prefix=2024%2F`. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = BASE + to;
  if (options.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  dispatchEvent(new Event(NAVIGATED));
}

/** A real link (it opens in a new tab, copies, shows its target) that navigates in place on a plain click. */
export function Link(props: { to: string; children: ComponentChildren; class?: string; current?: boolean; label?: string }) {
  const { to, children, current, label } = props;
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={BASE + to} onClick={onClick} class={props.class} aria-current={current ? 'page' : undefined} aria-label={label}>
      {children}
    </a>
  );
}

/** Client route to a bucket's objects, optionally at a prefix. Client routes keep dots out of their last segment (the server's rule for what is a page). */
export function objectsRoute(bucket: string, prefix = ''): string {
  return `buckets/${encodeURIComponent(bucket)}/objects${prefix ? `?prefix=${encodeURIComponent(prefix)}` : ''}`;
}

/** Client route to a bucket's uploads in progress. */
export function uploadsRoute(bucket: string): string {
  return `buckets/${encodeURIComponent(bucket)}/uploads`;
}

/** Client route to the parts of one upload in progress. */
export function partsRoute(bucket: string, key: string, uploadId: string): string {
  return `buckets/${encodeURIComponent(bucket)}/uploads/parts?${new URLSearchParams({ key, uploadId }).toString()}`;
}
