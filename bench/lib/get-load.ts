// A GET load generator for large responses: node:http keep-alive connections in their own process, each sending its
// next GET once the previous answer has fully arrived. (autocannon's parser completes no 26 MB response in seconds.)
// Usage: node --import tsx bench/lib/get-load.ts '<json GetLoadSpec>'  → prints one JSON LoadResult line.
import http from 'node:http';
import { percentile, printJson, round } from './harness.ts';
import type { LoadResult } from './load.ts';

export interface GetLoadSpec {
  url: string;
  path: string;
  connections: number;
  /** No request starts after this; those in flight finish and count, and the time they take counts too. */
  durationSeconds: number;
  headers?: Record<string, string>;
}

/** One GET: status, bytes received, and whether the body had its declared length. */
function get(
  agent: http.Agent,
  url: URL,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; bytes: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path, headers, agent }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => {
        const declared = Number(res.headers['content-length'] ?? NaN);
        resolve({ status: res.statusCode ?? 0, bytes, complete: !Number.isFinite(declared) || declared === bytes });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as GetLoadSpec;
  const url = new URL(spec.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  let errors = 0;
  let bytesRead = 0;
  const started = performance.now();
  const stopAt = started + spec.durationSeconds * 1000;
  await Promise.all(
    Array.from({ length: spec.connections }, async () => {
      while (performance.now() < stopAt) {
        const sent = performance.now();
        try {
          const r = await get(agent, url, spec.path, spec.headers ?? {});
          bytesRead += r.bytes;
          if (!r.complete) errors++;
          else {
            status[String(r.status)] = (status[String(r.status)] ?? 0) + 1;
            latencies.push(performance.now() - sent);
          }
        } catch {
          errors++;
        }
      }
    }),
  );
  const duration = (performance.now() - started) / 1000;
  agent.destroy();
  const stat = (p: number) => (latencies.length === 0 ? 0 : round(percentile(latencies, p)));
  const out: LoadResult = {
    requests: latencies.length,
    duration_s: round(duration, 3),
    rps: latencies.length / duration,
    latency_ms: {
      p50: stat(0.5),
      p90: stat(0.9),
      p99: stat(0.99),
      max: stat(1),
      mean: latencies.length === 0 ? 0 : round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
    },
    status,
    errors,
    timeouts: 0,
    bytes_read: bytesRead,
  };
  printJson(out);
}

await main();
