import { describeError } from '../api/errors';

/** A failure, announced when it appears: the server's message verbatim. */
export function ErrorAlert({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p role="alert" class="error">
      {describeError(error)}
    </p>
  );
}

/** Progress and outcomes, announced politely. Always rendered, so a change is read out. */
export function StatusMessage({ children }: { children?: string }) {
  return (
    <p role="status" class="status">
      {children}
    </p>
  );
}
