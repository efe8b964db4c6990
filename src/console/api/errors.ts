/** An error the console shows: the server's message as it sent it, and its code when it had one. */
export class ConsoleError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ConsoleError';
  }
}

/** Codes that mean the temporary credentials are no longer good: the page goes back to sign-in. */
const SESSION_ENDED = new Set(['ExpiredToken', 'InvalidToken', 'InvalidAccessKeyId']);

export function endsSession(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && SESSION_ENDED.has(code);
}

export function codeOf(error: unknown): string | undefined {
  if (error instanceof ConsoleError) return error.code;
  if (typeof error === 'object' && error !== null && 'name' in error && '$metadata' in error) return String((error as { name: unknown }).name);
  return undefined;
}

/**
 * What to tell the user: the server's own message (S3's `<Message>`, the console API's
 * `message`), with its code, verbatim. A failure with no answer from the server says so.
 */
export function describeError(error: unknown): string {
  if (error instanceof ConsoleError) return error.code && error.code !== 'InvalidCredentials' ? `${error.message} (${error.code})` : error.message;
  if (typeof error === 'object' && error !== null && '$metadata' in error) {
    const s3 = error as { name?: string; message?: string; $metadata: { httpStatusCode?: number } };
    // The SDK names an error without a body (a HEAD, say) after its status only.
    const message = s3.message && s3.message !== 'UnknownError' ? s3.message : `The server answered ${s3.$metadata.httpStatusCode ?? 'an error'}.`;
    return s3.name && s3.name !== 'Unknown' && s3.name !== 'Error' ? `${message} (${s3.name})` : message;
  }
  if (error instanceof TypeError) return `The server could not be reached: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
