// Reads a tiled log's files over HTTP(S) for the monitor: keep-alive connections, a bound on every response, a deadline on every request.
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { MonitorFailure, type LogSource } from './monitor.ts';

export interface HttpLogSourceOptions {
  /** Deadline of each request, from sending it to the last byte of the answer. */
  timeoutMs: number;
  /** Connections kept open to the server (the most requests in flight). */
  connections: number;
}

/** A gzip answer may be slightly larger than what it carries (incompressible tiles gain a header). */
const GZIP_SLACK = 1024;

interface Answer {
  status: number;
  body: Buffer;
}

/**
 * The files of a log under a URL prefix: `<prefix>/checkpoint`, `<prefix>/tile/…`. The prefix is the
 * URL given, or — when that has no checkpoint — its `/log` path, where an Accord authority serves its log.
 */
export class HttpLogSource implements LogSource {
  private prefix: string;
  private readonly base: string;
  private resolved = false;
  private readonly agent: http.Agent;

  constructor(
    url: string,
    private readonly options: HttpLogSourceOptions,
  ) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('the log URL must be http:// or https://');
    if (parsed.search || parsed.hash) throw new Error('the log URL takes no query or fragment');
    this.base = parsed.href.replace(/\/+$/, '');
    this.prefix = this.base;
    const agentOptions = { keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections };
    this.agent = parsed.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /** The URL prefix the log's files are read from (known once the checkpoint was read). */
  get location(): string {
    return this.prefix;
  }

  async get(path: string, maxBytes: number): Promise<Buffer> {
    let answer = await this.request(`${this.prefix}/${path}`, maxBytes);
    if (!this.resolved && path === 'checkpoint') {
      if (answer.status === 404 && !/\/log$/.test(this.base)) {
        const fallback = await this.request(`${this.base}/log/checkpoint`, maxBytes);
        if (fallback.status === 200) {
          this.prefix = `${this.base}/log`;
          answer = fallback;
        }
      }
      this.resolved = answer.status === 200;
    }
    if (answer.status !== 200) {
      throw new MonitorFailure('http_error', `GET ${this.prefix}/${path} answered HTTP ${answer.status}`, { url: `${this.prefix}/${path}`, status: answer.status });
    }
    return answer.body;
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private async request(url: string, maxBytes: number): Promise<Answer> {
    try {
      return await this.once(url, maxBytes);
    } catch (err) {
      // A kept-alive connection the server closed just as it was reused: send the GET again, once.
      if ((err as { retry?: boolean }).retry) return this.once(url, maxBytes);
      throw err;
    }
  }

  private once(url: string, maxBytes: number): Promise<Answer> {
    const { timeoutMs } = this.options;
    const get = url.startsWith('https:') ? https.get : http.get;
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const fail = (failure: Error) =>
        settle(() => {
          req.destroy();
          reject(failure);
        });
      const tooLarge = () => new MonitorFailure('response_too_large', `GET ${url}: the answer is larger than the ${maxBytes} bytes this file can have`, { url, max_bytes: maxBytes });
      const timer = setTimeout(() => fail(new MonitorFailure('timeout', `GET ${url}: no complete answer within ${timeoutMs} ms`, { url, timeout_ms: timeoutMs })), timeoutMs);
      const req = get(url, { agent: this.agent, headers: { 'accept-encoding': 'gzip, identity', 'user-agent': 'accord-log-verify' } }, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          res.once('end', () => settle(() => resolve({ status, body: Buffer.alloc(0) })));
          return;
        }
        const encoding = (res.headers['content-encoding'] ?? 'identity').toLowerCase();
        if (encoding !== 'identity' && encoding !== 'gzip') {
          fail(new MonitorFailure('http_error', `GET ${url}: unsupported Content-Encoding ${encoding}`, { url, content_encoding: encoding }));
          return;
        }
        const limit = encoding === 'gzip' ? maxBytes + GZIP_SLACK : maxBytes;
        const declared = Number(res.headers['content-length'] ?? NaN);
        if (declared > limit) {
          fail(tooLarge());
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limit) fail(tooLarge());
          else chunks.push(chunk);
        });
        res.once('error', (err) => fail(new MonitorFailure('unreachable', `GET ${url}: ${err.message}`, { url })));
        res.once('aborted', () => fail(new MonitorFailure('unreachable', `GET ${url}: the connection closed before the answer was complete`, { url })));
        res.once('end', () => {
          if (settled) return;
          const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
          if (encoding === 'identity') {
            settle(() => resolve({ status, body }));
            return;
          }
          zlib.gunzip(body, { maxOutputLength: maxBytes }, (err, plain) => {
            if (!err) settle(() => resolve({ status, body: plain }));
            else if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') fail(tooLarge());
            else fail(new MonitorFailure('http_error', `GET ${url}: the gzip body does not decompress (${err.message})`, { url }));
          });
        });
      });
      req.once('error', (err: NodeJS.ErrnoException) => {
        const failure = new MonitorFailure('unreachable', `GET ${url}: ${err.message}`, { url });
        if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) Object.assign(failure, { retry: true });
        fail(failure);
      });
    });
  }
}
