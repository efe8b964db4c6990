import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';
import { Button } from './Button';

/** A modal dialog (the browser's own: focus is trapped, Escape closes it), named by its heading. */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={headingId} class="dialog" onClose={onClose}>
      <h2 id={headingId}>{title}</h2>
      {children}
      <div class="dialog-actions">
        <Button onClick={() => ref.current?.close()}>Close</Button>
      </div>
    </dialog>
  );
}
