import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/**
 * Whether the request came over TLS to this server (`--tls-cert`): what `aws:SecureTransport`
 * and SSE-C's refusal of plain HTTP go by. A proxy's X-Forwarded-Proto does not count: any client
 * can send it.
 */
export function overTls(req: IncomingMessage): boolean {
  return (req.socket as Partial<TLSSocket> | null)?.encrypted === true;
}

/** `https` or `http`, as the client reached this server: the scheme of the URLs an answer names. */
export function schemeOf(req: IncomingMessage): 'https' | 'http' {
  return overTls(req) ? 'https' : 'http';
}
