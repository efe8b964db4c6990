import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/**
 * A page's h1. It takes focus when the page opens, so a screen reader announces the new page
 * after a client-side navigation as it would after a full load.
 */
export function PageHeading({ children, focusKey }: { children: ComponentChildren; focusKey?: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus({ preventScroll: true });
  }, [focusKey]);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}
