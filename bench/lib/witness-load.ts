// The add-checkpoint load generator: one node:http keep-alive connection per witnessed log, each sending its log's
// checkpoints in order (each request proves consistency from the one before, so a log's requests cannot overlap).
// Usage: node --import tsx bench/lib/witness-load.ts '<json WitnessLoadSpec>'  → prints one JSON LoadResult line.
import fs from 'node:fs';
import http from 'node:http';
import { percentile, printJson, round } from './harness.ts';
import type { LoadResult } from './load.ts';

export interface WitnessLoadSpec {
  url: string;
  /** A JSON file: one array of add-checkpoint bodies per log (per connection), in the order they must be sent. */
  bodiesFile: string;
  /** Which bodies of each log this run sends: [from, to). */
  from: number;
  to: number;
}

function post(agent: http.Agent, url: URL, body: Buffer): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: '/witness/add-checkpoint',
        method: 'POST',
        agent,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as WitnessLoadSpec;
  const url = new URL(spec.url);
  const logs = (JSON.parse(fs.readFileSync(spec.bodiesFile, 'utf8')) as string[][]).map((bodies) =>
    bodies.slice(spec.from, spec.to).map((b) => Buffer.from(b, 'utf8')),
  );
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  let errors = 0;
  let bytesRead = 0;
  const started = performance.now();
  await Promise.all(
    logs.map(async (bodies) => {
      // One socket per log: its requests go one after another, as a log submits them.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (const body of bodies) {
        const sent = performance.now();
        try {
          const r = await post(agent, url, body);
          bytesRead += r.bytes;
          status[String(r.status)] = (status[String(r.status)] ?? 0) + 1;
          latencies.push(performance.now() - sent);
        } catch {
          errors++;
        }
      }
      agent.destroy();
    }),
  );
  const duration = (performance.now() - started) / 1000;
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
