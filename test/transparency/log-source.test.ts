// The monitor's HTTP reader against real servers on 127.0.0.1: pipelined GETs, servers that close kept-alive connections, chunked and gzip answers, HTTP/1.0, bounds, deadlines and the /log fallback.
import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpLogSource } from '../../src/transparency/log-source.ts';
import { MonitorFailure } from '../../src/transparency/monitor.ts';

const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** Files named file-0 … file-(n-1), each with distinct bytes of a distinct length. */
const FILES = new Map(Array.from({ length: 60 }, (_, i) => [`file-${i}`, Buffer.alloc(100 + i * 37, i + 1)]));

async function listen(server: net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        if (server instanceof http.Server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** A node:http file server over FILES; `answer` may change how a file is sent. */
async function httpServer(
  options: { maxRequestsPerSocket?: number; answer?: (res: http.ServerResponse, body: Buffer) => void } = {},
): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const server = http.createServer((req, res) => {
    const body = FILES.get((req.url ?? '').replace(/^\/(log\/)?/, '')) ?? null;
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': '9' });
      res.end('not found');
    } else if (options.answer) options.answer(res, body);
    else {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
    }
  });
  server.on('connection', () => connections++);
  if (options.maxRequestsPerSocket) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
  return { url: await listen(server), connections: () => connections };
}

/** A raw TCP server: `onRequests` gets each request line as it arrives and the socket to answer on. */
async function rawServer(onRequest: (socket: net.Socket, path: string, count: number) => void): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = '';
    let count = 0;
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const path = /^GET (\S+) /.exec(buffered)![1]!;
        buffered = buffered.slice(end + 4);
        if (!socket.destroyed) onRequest(socket, path.slice(1), ++count);
      }
    });
    socket.on('error', () => {});
  });
  const url = await listen(server);
  stops.push(async () => {
    for (const s of sockets) s.destroy();
  });
  return url;
}

async function fetchAll(url: string, concurrency = 16, names = [...FILES.keys()]): Promise<Buffer[]> {
  const source = new HttpLogSource(url, { timeoutMs: 5000, concurrency });
  try {
    return await Promise.all(names.map((name) => source.get(name, 10_000)));
  } finally {
    source.close();
  }
}

async function failure(promise: Promise<unknown>): Promise<MonitorFailure> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof MonitorFailure) return err;
    throw err;
  }
  throw new Error('no failure');
}

describe('pipelined GETs over kept-alive connections', () => {
  it('many files, in any order of asking, each with its own bytes, over at most two connections', async () => {
    const server = await httpServer();
    expect(await fetchAll(server.url)).toEqual([...FILES.values()]);
    expect(server.connections()).toBeLessThanOrEqual(2);
  });

  it('a server that closes a connection after three answers (keep-alive limit): the rest are sent again', async () => {
    const server = await httpServer({ maxRequestsPerSocket: 3 });
    expect(await fetchAll(server.url)).toEqual([...FILES.values()]);
    expect(server.connections()).toBeGreaterThanOrEqual(FILES.size / 3);
  });

  it('a server that drops the connection after two answers without a word: the rest are sent again', async () => {
    const url = await rawServer((socket, path, count) => {
      if (count > 2) return socket.destroy();
      const body = FILES.get(path)!;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body);
    });
    expect(await fetchAll(url, 8)).toEqual([...FILES.values()]);
  });

  it('an HTTP/1.0 server answering one request per connection, ended by closing it', async () => {
    const url = await rawServer((socket, path, count) => {
      if (count > 1) return;
      socket.end(Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n'), FILES.get(path)!]));
    });
    expect(await fetchAll(url, 8, [...FILES.keys()].slice(0, 12))).toEqual([...FILES.values()].slice(0, 12));
  });

  it('chunked answers, interim 100 answers and gzip answers read as the plain file', async () => {
    const chunked = await httpServer({
      answer: (res, body) => {
        res.writeHead(200);
        res.write(body.subarray(0, 10));
        res.end(body.subarray(10));
      },
    });
    expect(await fetchAll(chunked.url)).toEqual([...FILES.values()]);
    const interim = await rawServer((socket, path) => {
      const body = FILES.get(path)!;
      socket.write(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${(5).toString(16)};ext=1\r\n`);
      socket.write(
        Buffer.concat([
          body.subarray(0, 5),
          Buffer.from(`\r\n${(body.length - 5).toString(16)}\r\n`),
          body.subarray(5),
          Buffer.from('\r\n0\r\nX-Trailer: yes\r\n\r\n'),
        ]),
      );
    });
    expect(await fetchAll(interim)).toEqual([...FILES.values()]);
    const gzip = await httpServer({
      answer: (res, body) => {
        const packed = zlib.gzipSync(body);
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(packed.length) });
        res.end(packed);
      },
    });
    expect(await fetchAll(gzip.url)).toEqual([...FILES.values()]);
  });

  it('an error answer in the middle of a pipeline keeps the others in step', async () => {
    const server = await httpServer();
    const source = new HttpLogSource(server.url, { timeoutMs: 5000, concurrency: 16 });
    const results = await Promise.allSettled(['file-1', 'missing', 'file-2'].map((name) => source.get(name, 10_000)));
    source.close();
    expect(results[0]).toEqual({ status: 'fulfilled', value: FILES.get('file-1') });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'http_error', details: { status: 404 } } });
    expect(results[2]).toEqual({ status: 'fulfilled', value: FILES.get('file-2') });
  });
});

describe('bounds, deadlines and failures', () => {
  it('an answer larger than the file can be: response_too_large, by its length, by its chunks, or once decompressed', async () => {
    const plain = await httpServer();
    const source = new HttpLogSource(plain.url, { timeoutMs: 5000, concurrency: 4 });
    expect((await failure(source.get('file-10', 100))).code).toBe('response_too_large');
    source.close();
    const chunked = await httpServer({
      answer: (res, body) => {
        res.writeHead(200);
        res.end(body);
      },
    });
    const chunkedSource = new HttpLogSource(chunked.url, { timeoutMs: 5000, concurrency: 4 });
    expect((await failure(chunkedSource.get('file-10', 100))).code).toBe('response_too_large');
    chunkedSource.close();
    const bomb = await httpServer({
      answer: (res) => {
        const packed = zlib.gzipSync(Buffer.alloc(1 << 20));
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(packed.length) });
        res.end(packed);
      },
    });
    const bombSource = new HttpLogSource(bomb.url, { timeoutMs: 5000, concurrency: 4 });
    expect((await failure(bombSource.get('file-1', 10_000))).code).toBe('response_too_large');
    bombSource.close();
  });

  it('a server that never answers: timeout after the deadline', async () => {
    const url = await rawServer(() => {});
    const source = new HttpLogSource(url, { timeoutMs: 200, concurrency: 4 });
    const started = Date.now();
    const err = await failure(source.get('file-1', 10_000));
    source.close();
    expect(err).toMatchObject({ code: 'timeout', details: { timeout_ms: 200 } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('a server that closes a fresh connection without answering, or sends garbage: unreachable / http_error, not a retry loop', async () => {
    const closing = await rawServer((socket) => socket.destroy());
    expect((await failure(fetchAll(closing, 4, ['file-1']))).code).toBe('unreachable');
    const garbage = await rawServer((socket) => socket.end('SSH-2.0-OpenSSH\r\n\r\n'));
    expect((await failure(fetchAll(garbage, 4, ['file-1']))).code).toBe('http_error');
    const nothing = new HttpLogSource(`http://127.0.0.1:1`, { timeoutMs: 1000, concurrency: 4 });
    expect((await failure(nothing.get('checkpoint', 100))).code).toBe('unreachable');
    nothing.close();
  });

  it('an authority base URL: the checkpoint is looked for under /log when the URL has none', async () => {
    FILES.set('checkpoint', Buffer.from('a checkpoint\n'));
    const server = await httpServer();
    const source = new HttpLogSource(server.url, { timeoutMs: 5000, concurrency: 4 });
    // FILES answers "checkpoint" at / too; a prefix that has one is used as it is.
    expect(await source.get('checkpoint', 100)).toEqual(Buffer.from('a checkpoint\n'));
    expect(source.location).toBe(server.url);
    source.close();
    const onlyUnderLog = http.createServer((req, res) => {
      const body = req.url === '/log/checkpoint' ? Buffer.from('a checkpoint\n') : req.url === '/log/file-1' ? FILES.get('file-1')! : null;
      res.writeHead(body ? 200 : 404, { 'content-length': String(body?.length ?? 0) });
      res.end(body);
    });
    const base = await listen(onlyUnderLog);
    const fallback = new HttpLogSource(base, { timeoutMs: 5000, concurrency: 4 });
    expect(await fallback.get('checkpoint', 100)).toEqual(Buffer.from('a checkpoint\n'));
    expect(fallback.location).toBe(`${base}/log`);
    expect(await fallback.get('file-1', 10_000)).toEqual(FILES.get('file-1'));
    fallback.close();
    FILES.delete('checkpoint');
  });

  it('closing the source fails what is in flight or waiting, and opens no connection after', async () => {
    const server = await httpServer({
      answer: (res, body) =>
        void setTimeout(() => {
          res.writeHead(200, { 'content-length': String(body.length) });
          res.end(body);
        }, 20),
    });
    const source = new HttpLogSource(server.url, { timeoutMs: 5000, concurrency: 4 });
    let answeredBeforeClose = 0;
    let closed = false;
    const pending = [...FILES.keys()]
      .slice(0, 20)
      .map((name) => source.get(name, 10_000).then(() => void (closed || answeredBeforeClose++)));
    await pending[0];
    source.close();
    closed = true;
    const connections = server.connections();
    const settled = await Promise.allSettled(pending);
    expect(settled.filter((r) => r.status === 'fulfilled').length).toBe(answeredBeforeClose);
    for (const r of settled.filter((r) => r.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'unreachable' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.connections()).toBe(connections);
    await expect(source.get('file-1', 10_000)).rejects.toMatchObject({ code: 'unreachable' });
  });

  it('refuses URLs that are not http(s), or carry a query, fragment or credentials', () => {
    for (const url of [
      'ftp://example.org/log',
      'http://example.org/log?x=1',
      'http://example.org/log#top',
      'http://user:pw@example.org/log',
      'not a url',
    ]) {
      expect(() => new HttpLogSource(url, { timeoutMs: 1000, concurrency: 1 }), url).toThrow();
    }
  });
});
