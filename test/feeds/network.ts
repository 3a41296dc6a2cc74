// Real authorities on 127.0.0.1 for multi-authority feed tests: each a test authority behind @hono/node-server on port 0.
import type { AddressInfo } from 'node:net';
import type { ServerType } from '@hono/node-server';
import { serveHttp } from '../../src/server/http-server.ts';
import { createTestAuthority, type TestAuthority, type TestAuthorityOptions } from '../helpers/authority.ts';
import { recognize } from './simulated-issuer.ts';

export interface Node extends TestAuthority {
  url: string;
  stop(): Promise<void>;
}

/** Serves any Hono app (or fetch handler) on 127.0.0.1, port 0. */
export async function listen(
  fetch: (req: Request) => Response | Promise<Response>,
): Promise<{ url: string; server: ServerType; stop(): Promise<void> }> {
  const server: ServerType = await serveHttp(fetch, 0, '127.0.0.1');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) (server as { closeAllConnections(): void }).closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startNode(sovereignId: string, options: TestAuthorityOptions = {}): Promise<Node> {
  const a = createTestAuthority({ sovereignId, ...options });
  const http = await listen(a.app.fetch);
  return Object.assign(a, {
    url: http.url,
    stop: async () => {
      await http.stop();
      await a.close();
      a.db.close();
    },
  });
}

/** `from` recognizes `to` (a treaty for its signing key) and registers it as a peer. */
export async function recognizeAndPeer(from: Node, to: Node): Promise<string> {
  const treatyId = recognize(from, to.sovereignId, [to.signingKey], { scope: { allowed_roles: ['role:client', 'role:anchor'] } });
  const res = await from.admin('POST', '/admin/peers', { sovereign_id: to.sovereignId, base_url: to.url });
  if (res.status !== 201) throw new Error(`peer registration failed: ${res.status} ${await res.text()}`);
  return treatyId;
}

/** Moves every node's clock forward together. */
export function advanceAll(nodes: Node[], seconds: number): void {
  for (const n of nodes) n.clock.advance(seconds);
}
