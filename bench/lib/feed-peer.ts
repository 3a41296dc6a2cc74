// A peer that serves one issuer's signed feeds from a plain node:http server in its own process, in large pages.
// Usage: node --import tsx bench/lib/feed-peer.ts FEEDS_FILE PAGE_BYTES
// FEEDS_FILE holds the issuer's canonical feed texts, one per line, sequence 1 first. Prints `listening URL`;
// answers `pages` (JSON: the bytes of each page served so far) and `stop`.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { answer, onCommands } from './line-child.ts';

const [file, pageBytesText] = process.argv.slice(2);
if (!file || !pageBytesText) throw new Error('usage: feed-peer.ts FEEDS_FILE PAGE_BYTES');
const pageBudget = Number(pageBytesText);
const feeds = fs
  .readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.length > 0)
  .map((text) => Buffer.from(text, 'utf8'));
const latest = feeds.length;

/** The page after `since`: as many whole feeds as fit in the byte budget (at least one), at most `limit`. */
function page(since: number, limit: number): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (let i = since; i < feeds.length && parts.length < limit; i++) {
    if (parts.length > 0 && size + feeds[i]!.length + 1 > pageBudget) break;
    parts.push(feeds[i]!);
    size += feeds[i]!.length + 1;
  }
  const more = since + parts.length < feeds.length;
  return Buffer.concat([
    Buffer.from('{"feeds":['),
    ...parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from(','), p])),
    Buffer.from(`],"latest_sequence":${latest},"more":${more}}`),
  ]);
}

const served: number[] = [];
const json = (res: http.ServerResponse, status: number, body: Buffer | string) => {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://peer');
    if (req.method === 'GET' && url.pathname === '/revocation-feeds/latest') return json(res, 200, feeds[latest - 1]!);
    if (req.method === 'GET' && url.pathname === '/revocation-feeds') {
      const body = page(Number(url.searchParams.get('since') ?? 0), Number(url.searchParams.get('limit') ?? 20));
      served.push(body.length);
      return json(res, 200, body);
    }
    if (req.method === 'GET' && url.pathname === '/recognition-treaties') return json(res, 200, '{"treaties":[]}');
    if (req.method === 'POST' && url.pathname === '/revocation-feeds/receipts') return json(res, 200, '{"accepted":true}');
    json(res, 404, '{"error":{"code":"not_found"}}');
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

onCommands(async (command) => {
  if (command === 'pages') answer(JSON.stringify(served));
  if (command === 'stop') {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    answer('stopped');
    process.exit(0);
  }
});
answer(`listening http://127.0.0.1:${(server.address() as AddressInfo).port}`);
