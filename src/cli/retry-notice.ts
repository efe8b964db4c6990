/**
 * The line a command prints on stderr each time a request is retried, so a dead endpoint says so
 * at the first failed attempt rather than after the whole backoff (tens of seconds):
 *   retrying 1/10 in 0.2 s: connect ECONNREFUSED 127.0.0.1:9
 */
import { ServiceError } from '../client/errors.js';
import type { RetryEvent } from '../client/http.js';

/** What failed, in a few words: the network error's message, or the answer's status and code. */
export function retryReason(error: Error): string {
  if (error instanceof ServiceError) return `${error.status} ${error.code}`;
  // A host name with several addresses (localhost: ::1 and 127.0.0.1) fails as an AggregateError with no message.
  if (error.message === '' && error instanceof AggregateError && error.errors.length > 0) {
    return (error.errors as Error[]).map((e) => e.message).join(', ');
  }
  const code = (error as NodeJS.ErrnoException).code;
  return error.message || code || String(error);
}

export function retryLine(event: RetryEvent, maxRetries: number): string {
  return `retrying ${event.attempt}/${maxRetries} in ${(event.delayMs / 1000).toFixed(1)} s: ${retryReason(event.error)}\n`;
}

/** A transport's `onRetry` that prints the line on stderr. */
export function retryNotice(maxRetries: number): (event: RetryEvent) => void {
  return (event) => process.stderr.write(retryLine(event, maxRetries));
}
