// The node:http server an authority's app is served by, with the error envelope for requests the
// server refuses before routing (see requestErrorResponse).
import { createServer, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { requestErrorResponse } from '../authority/http.ts';

type FetchCallback = Parameters<typeof getRequestListener>[0];

/** Listens on `hostname:port` (0 for any free port); resolves once listening, rejects on a listen error. */
export function serveHttp(fetch: FetchCallback, port: number, hostname: string): Promise<Server> {
  const listener = getRequestListener(fetch, { hostname, errorHandler: requestErrorResponse });
  const server = createServer(listener);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
