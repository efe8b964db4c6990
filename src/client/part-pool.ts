/**
 * Runs one job per part, `parallel` at a time, for the uploader and the downloader alike. The
 * first failure stops the others (their signal is aborted) and is what the call throws; the
 * caller's own abort ends it with an AbortError.
 */
import { AbortError } from './errors.js';

export async function eachPartInParallel<P>(
  parts: readonly P[],
  parallel: number,
  signal: AbortSignal | undefined,
  job: (part: P, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const queue = [...parts];
  const inner = new AbortController();
  const forward = () => inner.abort(signal?.reason);
  signal?.addEventListener('abort', forward, { once: true });
  let firstError: unknown;
  const worker = async () => {
    while (queue.length > 0 && firstError === undefined) {
      const part = queue.shift()!;
      try {
        await job(part, inner.signal);
      } catch (err) {
        if (firstError === undefined) firstError = err;
        inner.abort(err);
      }
    }
  };
  const workers = Math.max(1, Math.min(parallel, parts.length || 1));
  try {
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    signal?.removeEventListener('abort', forward);
  }
  if (signal?.aborted) throw new AbortError();
  if (firstError !== undefined) throw firstError;
}
