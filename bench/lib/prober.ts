// The /healthz prober: one keep-alive connection, a GET due every INTERVAL ms, sent as soon as the previous one answered.
// Usage: node --import tsx bench/lib/prober.ts URL [INTERVAL_MS]
// Commands: `begin NAME` / `end NAME` mark a window (answer `ok`); `stop` answers `result JSON` with each window's latencies.
//
// Two latencies are kept. Per probe sent: the time from sending a GET to its whole answer. From when
// each probe was due: a GET that is still waiting when later probes fall due delays them too, so each
// of those counts with the time from its due moment to that answer (a stall counts once for every
// probe it held up, not once per GET the prober managed to send: no coordinated omission). Probes the
// prober itself was late for (its own timer) are skipped, never charged to the server.
import http from 'node:http';
import { percentile, round } from './harness.ts';
import { answer, onCommands } from './line-child.ts';

const url = new URL(process.argv[2] ?? '');
const INTERVAL_MS = Number(process.argv[3] ?? 2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const clock = () => performance.now();

interface Sample {
  /** When the probe was due (ms on this process's clock). */
  at: number;
  ms: number;
}
const sent: Sample[] = [];
const due: Sample[] = [];
const windows = new Map<string, { begin: number; end: number | null }>();
let failures = 0;
let failureSample = '';
let running = true;

function probe(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path: '/healthz', agent }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function loop(): Promise<void> {
  const origin = clock();
  let next = 0;
  while (running) {
    const start = clock();
    // The due moment this probe stands for: the one waited for, or a later one if the timer overslept.
    let tick = Math.max(next, Math.floor((start - origin) / INTERVAL_MS)) + 1;
    let status = 0;
    try {
      status = await probe();
    } catch (err) {
      failureSample ||= (err as Error).message;
    }
    const end = clock();
    if (status !== 200) {
      failures++;
      failureSample ||= `HTTP ${status}`;
    }
    sent.push({ at: start, ms: end - start });
    due.push({ at: start, ms: end - start });
    // Probes that fell due while this one was outstanding waited for it.
    for (; origin + tick * INTERVAL_MS < end; tick++) {
      const at = origin + tick * INTERVAL_MS;
      due.push({ at, ms: end - at });
    }
    next = tick;
    const wait = origin + next * INTERVAL_MS - clock();
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.ceil(wait))));
  }
}

function stats(samples: Sample[], begin: number, end: number) {
  const ms = samples.filter((s) => s.at >= begin && s.at <= end).map((s) => s.ms);
  if (ms.length === 0) return { count: 0, p50_ms: null, p99_ms: null, max_ms: null };
  return { count: ms.length, p50_ms: round(percentile(ms, 0.5)), p99_ms: round(percentile(ms, 0.99)), max_ms: round(Math.max(...ms)) };
}

const done = loop();
onCommands(async (command, name) => {
  switch (command) {
    case 'begin':
      windows.set(name, { begin: clock(), end: null });
      answer('ok');
      return;
    case 'end': {
      const w = windows.get(name);
      if (w) w.end = clock();
      answer('ok');
      return;
    }
    case 'stop': {
      running = false;
      await done;
      agent.destroy();
      const result = Object.fromEntries(
        [...windows].map(([n, w]) => {
          const end = w.end ?? clock();
          return [n, { duration_ms: round(end - w.begin, 0), due: stats(due, w.begin, end), sent: stats(sent, w.begin, end) }];
        }),
      );
      answer(`result ${JSON.stringify({ interval_ms: INTERVAL_MS, failures, failure_sample: failureSample || null, windows: result })}`);
      process.exit(0);
    }
  }
});
