import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the other origin answers on a path: a body and its Content-Type, or a function of the request. */
export interface OriginAnswer {
  status?: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}
export type OriginRoute = OriginAnswer | ((request: IncomingMessage, url: URL) => OriginAnswer);

export interface OriginServer {
  /** `http://127.0.0.1:<port>`: another origin than Tessera's (another port). */
  origin: string;
  /** Replaces or adds the answer on `path`. */
  route(path: string, answer: OriginRoute): void;
  /** Every request it got, in order: method and URL (path and query). */
  requests: Array<{ method: string; url: URL }>;
  close(): Promise<void>;
}

/**
 * A tiny web server on another free port: the site whose pages call Tessera from the browser,
 * as a web app on its own origin does. Unknown paths answer 404.
 */
export async function startOriginServer(routes: Record<string, OriginRoute> = {}): Promise<OriginServer> {
  const table = new Map(Object.entries(routes));
  const requests: OriginServer['requests'] = [];
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://origin.invalid');
    requests.push({ method: request.method ?? 'GET', url });
    request.resume();
    request.on('end', () => {
      const route = table.get(url.pathname);
      if (!route) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      const answer = typeof route === 'function' ? route(request, url) : route;
      response.writeHead(answer.status ?? 200, { ...answer.headers, 'content-type': answer.contentType, 'cache-control': 'no-store' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    route: (path, answer) => table.set(path, answer),
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
