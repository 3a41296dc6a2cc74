// Serving a benchmark authority on loopback and driving it with the load generator process.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveHttp } from '../../src/server/http-server.ts';
import type { BenchAuthority } from './fixtures.ts';
import type { GetLoadSpec } from './get-load.ts';
import { runJsonScript } from './harness.ts';
import type { LoadResult, LoadSpec } from './load.ts';

export interface Served {
  url: string;
  close(): Promise<void>;
}

/** A server on 127.0.0.1 (listening on a free port first unless it listens already), and how to stop it and its connections. */
export async function onLoopback(server: Server): Promise<Served> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Serves the authority's app with the server `accord serve` uses (serveHttp), on 127.0.0.1 and a free port. */
export async function serveAuthority(authority: BenchAuthority): Promise<Served> {
  return onLoopback(await serveHttp(authority.app.fetch, 0, '127.0.0.1'));
}

/** Runs autocannon in a separate process against `spec.url`. */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return runJsonScript<LoadResult>('lib/load.ts', [JSON.stringify(spec)]);
}

/** Runs the large-response GET generator (node:http connections) in a separate process against `spec.url`. */
export function runGetLoad(spec: GetLoadSpec): Promise<LoadResult> {
  return runJsonScript<LoadResult>('lib/get-load.ts', [JSON.stringify(spec)]);
}

/**
 * The load generator's own ceiling in a mode: the same requests against a server that answers at once
 * without looking at them. When a workload's rate is near this, the generator (or the machine) limits it.
 */
export async function generatorCeiling(spec: Omit<LoadSpec, 'url'>, status = 200): Promise<number> {
  const http = await import('node:http');
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': '2' });
      res.end('{}');
    });
  });
  const served = await onLoopback(server);
  try {
    const result = await runLoad({ ...spec, url: served.url, durationSeconds: Math.min(3, spec.durationSeconds) });
    return result.rps;
  } finally {
    await served.close();
  }
}
