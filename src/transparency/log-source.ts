// Reads a tiled log's files over HTTP(S) for the monitor: GETs pipelined on a few kept-alive connections, a bound on every answer, a deadline on every request.
//
// A log is thousands of small immutable files. Node's http client costs about 0.1 ms of CPU per
// request, as much as hashing 100 entries; writing several GETs at once on one connection and reading
// the answers in order (HTTP/1.1 pipelining, which static servers and Node's server support) costs a
// third of that. Only GET is sent, so a request a server closed the connection on is simply sent again.
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import { MonitorFailure, type LogSource } from './monitor.ts';

export interface HttpLogSourceOptions {
  /** Deadline of each request, from writing it to the last byte of its answer. */
  timeoutMs: number;
  /** Requests in flight at once, over all connections. */
  concurrency: number;
}

/** Connections opened to the server at most; requests are spread over them. */
const MAX_CONNECTIONS = 2;
/** A status line and headers larger than this are no answer of a file server. */
const MAX_HEAD_BYTES = 64 * 1024;
/** Bytes read of an error answer's body (kept only to stay in step with the pipeline). */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** Bytes read from a plain connection at once: several answers when the server is ahead. */
const READ_BUFFER_BYTES = 256 * 1024;
/** A gzip answer may be slightly larger than what it carries (incompressible tiles gain a header). */
const GZIP_SLACK = 1024;

interface Answer {
  status: number;
  body: Buffer;
}

interface Request {
  path: string;
  maxBytes: number;
  timer?: NodeJS.Timeout;
  resolve(answer: Answer): void;
  reject(err: Error): void;
}

type BodyState =
  | { kind: 'length'; remaining: number; body: Buffer }
  | { kind: 'chunked'; size: number | null; remaining: number; chunks: Buffer[]; total: number; trailer: boolean }
  | { kind: 'close'; chunks: Buffer[]; total: number };

interface Head {
  status: number;
  gzip: boolean;
  close: boolean;
  limit: number;
}

/** One kept-alive connection; answers come back in the order the requests were written. */
class Connection {
  readonly inFlight: Request[] = [];
  private readonly socket: net.Socket;
  private pending: Buffer | null = null;
  private head: Head | null = null;
  private body: BodyState | null = null;
  private answered = 0;
  closed = false;

  constructor(
    private readonly source: HttpLogSource,
    url: URL,
  ) {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (url.protocol === 'https:') {
      this.socket = tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ALPNProtocols: ['http/1.1'] });
      this.socket.on('data', (data: Buffer) => this.onData(data));
    } else {
      // Plain TCP reads into one buffer of this connection's, straight from the socket: no buffer
      // allocated per read and no stream in between (every byte kept is copied out of it).
      this.socket = net.connect({
        host,
        port,
        onread: {
          buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
          callback: (bytes: number, buffer: Uint8Array) => this.onRead(bytes, buffer),
        },
      });
    }
    this.socket.setNoDelay(true);
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(null));
  }

  /** Writes requests at once, after those already in flight. */
  send(requests: Request[], text: string): void {
    for (const request of requests) {
      this.inFlight.push(request);
      request.timer = setTimeout(() => this.timeout(request), this.source.timeoutMs);
    }
    this.socket.write(text, 'latin1');
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private timeout(request: Request): void {
    const url = this.source.urlOf(request.path);
    this.abort(
      new MonitorFailure('timeout', `GET ${url}: no complete answer within ${this.source.timeoutMs} ms`, {
        url,
        timeout_ms: this.source.timeoutMs,
      }),
    );
  }

  /** Fails every request in flight here with `err` and drops the connection. */
  abort(err: Error): void {
    this.close();
    for (const request of this.inFlight.splice(0)) this.source.settle(request, err);
    this.source.dropped(this);
  }

  /**
   * The connection ended or failed. Requests not answered yet are sent again when the server had
   * answered on it (a keep-alive limit, an idle close); otherwise they fail.
   */
  private fail(err: Error | null): void {
    if (this.closed && this.inFlight.length === 0) {
      this.source.dropped(this);
      return;
    }
    this.closed = true;
    // An answer without a length ends with the connection.
    if (err === null && this.body?.kind === 'close') this.finish(Buffer.concat(this.body.chunks, this.body.total));
    const midAnswer = this.head !== null;
    const unanswered = this.inFlight.splice(0);
    if (unanswered.length > 0 && this.answered > 0 && !midAnswer) this.source.retry(unanswered);
    else {
      for (const request of unanswered) {
        const url = this.source.urlOf(request.path);
        const why = midAnswer
          ? 'the connection closed before the answer was complete'
          : (err?.message ?? 'the server closed the connection without answering');
        this.source.settle(request, new MonitorFailure('unreachable', `GET ${url}: ${why}`, { url }));
      }
    }
    this.socket.destroy();
    this.source.dropped(this);
  }

  private onRead(bytes: number, buffer: Uint8Array): boolean {
    this.onData(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
    return true;
  }

  /** Bytes from the server; `data` is only valid during the call (what is kept is copied). */
  private onData(data: Buffer): void {
    let at = 0;
    while (at < data.length && !this.closed) {
      if (this.inFlight.length === 0) {
        this.abort(new MonitorFailure('http_error', `${this.source.urlOf('')}: the server sent bytes no request asked for`));
        return;
      }
      if (!this.head) {
        at = this.readHead(data, at);
        continue;
      }
      at = this.readBody(data, at);
    }
  }

  /** Reads status line and headers; returns the offset after what it consumed. */
  private readHead(data: Buffer, at: number): number {
    const buffered = this.pending ? Buffer.concat([this.pending, data.subarray(at)]) : data.subarray(at);
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buffered.length > MAX_HEAD_BYTES) this.protocolError('the answer has no end of headers');
      else this.pending = Buffer.from(buffered);
      return data.length;
    }
    const consumed = end + 4 - (this.pending?.length ?? 0);
    this.pending = null;
    const lines = buffered.toString('latin1', 0, end).split('\r\n');
    const status = /^HTTP\/1\.[01] ([0-9]{3})(?: .*)?$/.exec(lines[0]!);
    if (!status) {
      this.protocolError('the answer is not HTTP/1.1');
      return data.length;
    }
    const code = Number(status[1]);
    // An interim answer (100 Continue, 103 Early Hints) comes before the real one.
    if (code >= 100 && code < 200) return at + consumed;
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    const request = this.inFlight[0]!;
    const encoding = (headers.get('content-encoding') ?? 'identity').toLowerCase();
    const url = this.source.urlOf(request.path);
    if (code === 200 && encoding !== 'identity' && encoding !== 'gzip') {
      this.abort(
        new MonitorFailure('http_error', `GET ${url}: unsupported Content-Encoding ${encoding}`, { url, content_encoding: encoding }),
      );
      return data.length;
    }
    const gzip = code === 200 && encoding === 'gzip';
    const limit = code !== 200 ? MAX_ERROR_BODY_BYTES : gzip ? request.maxBytes + GZIP_SLACK : request.maxBytes;
    const close = /(^|,)\s*close\s*(,|$)/i.test(headers.get('connection') ?? '') || lines[0]!.startsWith('HTTP/1.0');
    this.head = { status: code, gzip, close, limit };
    const length = headers.get('content-length');
    const chunked = /chunked/i.test(headers.get('transfer-encoding') ?? '');
    if (code === 204 || code === 304) this.body = { kind: 'length', remaining: 0, body: Buffer.alloc(0) };
    else if (chunked) this.body = { kind: 'chunked', size: null, remaining: 0, chunks: [], total: 0, trailer: false };
    else if (length !== undefined) {
      if (!/^[0-9]{1,15}$/.test(length)) {
        this.protocolError('the answer has a malformed Content-Length');
        return data.length;
      }
      if (Number(length) > limit) {
        this.tooLarge(code);
        return data.length;
      }
      // An ArrayBuffer of its own for every answer, filled as the bytes arrive.
      this.body = { kind: 'length', remaining: Number(length), body: Buffer.allocUnsafeSlow(Number(length)) };
    } else this.body = { kind: 'close', chunks: [], total: 0 };
    if (this.body.kind === 'length' && this.body.remaining === 0) this.finish(this.body.body);
    return at + consumed;
  }

  private readBody(data: Buffer, at: number): number {
    const body = this.body!;
    if (body.kind === 'length') {
      const take = Math.min(body.remaining, data.length - at);
      data.copy(body.body, body.body.length - body.remaining, at, at + take);
      body.remaining -= take;
      if (body.remaining === 0) this.finish(body.body);
      return at + take;
    }
    if (body.kind === 'close') {
      body.chunks.push(Buffer.from(data.subarray(at)));
      body.total += data.length - at;
      if (body.total > this.head!.limit) this.tooLarge(this.head!.status);
      return data.length;
    }
    return this.readChunked(body, data, at);
  }

  /** Transfer-Encoding: chunked — size lines, data, and an optional trailer. */
  private readChunked(body: Extract<BodyState, { kind: 'chunked' }>, data: Buffer, at: number): number {
    if (body.size !== null && body.remaining > 0) {
      const take = Math.min(body.remaining, data.length - at);
      body.chunks.push(Buffer.from(data.subarray(at, at + take)));
      body.remaining -= take;
      return at + take;
    }
    // A line: the CRLF after a chunk's data, a size line, or a trailer line.
    const buffered = this.pending ? Buffer.concat([this.pending, data.subarray(at)]) : data.subarray(at);
    const eol = buffered.indexOf('\r\n');
    if (eol < 0) {
      if (buffered.length > MAX_HEAD_BYTES) this.protocolError('a chunk line is too long');
      else this.pending = Buffer.from(buffered);
      return data.length;
    }
    const consumed = eol + 2 - (this.pending?.length ?? 0);
    this.pending = null;
    const line = buffered.toString('latin1', 0, eol);
    if (body.trailer) {
      if (line === '') this.finish(Buffer.concat(body.chunks, body.total));
      return at + consumed;
    }
    if (body.size !== null && body.size > 0) {
      // The CRLF closing a chunk's data.
      if (line !== '') this.protocolError('a chunk is longer than its size');
      body.size = null;
      return at + consumed;
    }
    const size = /^([0-9a-fA-F]{1,12})(;.*)?$/.exec(line);
    if (!size) {
      this.protocolError('a malformed chunk size');
      return data.length;
    }
    body.size = Number.parseInt(size[1]!, 16);
    body.remaining = body.size;
    body.total += body.size;
    if (body.total > this.head!.limit) {
      this.tooLarge(this.head!.status);
      return data.length;
    }
    if (body.size === 0) body.trailer = true;
    return at + consumed;
  }

  /** The answer to the oldest request in flight is complete. */
  private finish(raw: Buffer): void {
    const head = this.head!;
    const request = this.inFlight.shift()!;
    clearTimeout(request.timer);
    this.head = null;
    this.body = null;
    this.answered++;
    if (!head.gzip) this.source.settle(request, { status: head.status, body: raw });
    else {
      const url = this.source.urlOf(request.path);
      try {
        this.source.settle(request, { status: head.status, body: zlib.gunzipSync(raw, { maxOutputLength: request.maxBytes }) });
      } catch (err) {
        const tooLarge = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
        this.source.settle(
          request,
          tooLarge
            ? this.tooLargeFailure(request)
            : new MonitorFailure('http_error', `GET ${url}: the gzip body does not decompress`, { url }),
        );
      }
    }
    if (head.close) {
      if (this.answered === 1) this.source.noPipelining();
      this.closed = true;
      this.socket.end();
      this.source.retry(this.inFlight.splice(0));
      this.source.dropped(this);
    } else this.source.schedulePump();
  }

  private tooLargeFailure(request: Request): MonitorFailure {
    const url = this.source.urlOf(request.path);
    return new MonitorFailure(
      'response_too_large',
      `GET ${url}: the answer is larger than the ${request.maxBytes} bytes this file can have`,
      { url, max_bytes: request.maxBytes },
    );
  }

  private tooLarge(status: number): void {
    const request = this.inFlight[0]!;
    if (status === 200) this.abort(this.tooLargeFailure(request));
    else
      this.abort(
        new MonitorFailure('http_error', `GET ${this.source.urlOf(request.path)} answered HTTP ${status}`, {
          url: this.source.urlOf(request.path),
          status,
        }),
      );
  }

  private protocolError(why: string): void {
    this.abort(new MonitorFailure('http_error', `${this.source.urlOf(this.inFlight[0]?.path ?? '')}: ${why}`));
  }
}

/**
 * The files of a log under a URL prefix: `<prefix>/checkpoint`, `<prefix>/tile/…`. The prefix is the
 * URL given, or — when that has no checkpoint — its `/log` path, where an Accord authority serves its log.
 */
export class HttpLogSource implements LogSource {
  private prefix: string;
  private readonly base: string;
  private readonly url: URL;
  private resolved = false;
  private readonly waiting: Request[] = [];
  private readonly connections: Connection[] = [];
  private failure: Error | null = null;
  private pumpScheduled = false;
  readonly timeoutMs: number;
  private depth: number;
  private readonly maxConnections: number;

  constructor(url: string, options: HttpLogSourceOptions) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('the log URL must be http:// or https://');
    if (parsed.search || parsed.hash) throw new Error('the log URL takes no query or fragment');
    if (parsed.username || parsed.password) throw new Error('the log URL takes no user name or password');
    this.url = parsed;
    this.base = parsed.href.replace(/\/+$/, '');
    this.prefix = this.base;
    this.timeoutMs = options.timeoutMs;
    this.maxConnections = Math.max(1, Math.min(MAX_CONNECTIONS, options.concurrency));
    this.depth = Math.max(1, Math.ceil(options.concurrency / this.maxConnections));
  }

  /** The URL prefix the log's files are read from (known once the checkpoint was read). */
  get location(): string {
    return this.prefix;
  }

  /** The URL of a request's path (relative to the URL given). */
  urlOf(path: string): string {
    return `${this.base}/${path}`;
  }

  async get(path: string, maxBytes: number): Promise<Buffer> {
    let answer = await this.request(path, maxBytes);
    if (!this.resolved && path === 'checkpoint') {
      if (answer.status === 404 && !/\/log$/.test(this.base)) {
        const before = this.prefix;
        this.prefix = `${this.base}/log`;
        const fallback = await this.request(path, maxBytes);
        if (fallback.status === 200) answer = fallback;
        else this.prefix = before;
      }
      this.resolved = answer.status === 200;
    }
    if (answer.status !== 200) {
      const url = `${this.prefix}/${path}`;
      throw new MonitorFailure('http_error', `GET ${url} answered HTTP ${answer.status}`, { url, status: answer.status });
    }
    return answer.body;
  }

  /** Closes every connection; requests not answered yet fail, and no new one is sent. */
  close(): void {
    const failure = new MonitorFailure('unreachable', 'the log source was closed');
    this.failure = failure;
    for (const connection of this.connections.splice(0)) connection.abort(failure);
    for (const request of this.waiting.splice(0)) this.settle(request, failure);
  }

  private request(path: string, maxBytes: number): Promise<Answer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Answer>((resolve, reject) => {
      this.waiting.push({ path: `${this.prefix}/${path}`.slice(this.base.length + 1), maxBytes, resolve, reject });
      this.schedulePump();
    });
  }

  /** Completes a request (an answer or a failure). */
  settle(request: Request, outcome: Answer | Error): void {
    clearTimeout(request.timer);
    if (outcome instanceof Error) request.reject(outcome);
    else request.resolve(outcome);
  }

  /**
   * Requests whose connection closed after answering the ones before them: sent again, first. (Only
   * after an answer, so every round answers at least one request and this ends.)
   */
  retry(requests: Request[]): void {
    for (const request of requests.reverse()) {
      clearTimeout(request.timer);
      if (this.failure) this.settle(request, this.failure);
      else this.waiting.unshift(request);
    }
    this.schedulePump();
  }

  /** The server closes the connection after each answer (HTTP/1.0, keep-alive off): one request per connection from now on. */
  noPipelining(): void {
    this.depth = 1;
  }

  dropped(connection: Connection): void {
    const at = this.connections.indexOf(connection);
    if (at >= 0) this.connections.splice(at, 1);
    this.schedulePump();
  }

  /** Requests asked for (or answered) in the same turn of the event loop go out together, in one write. */
  schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Hands waiting requests to connections with room, several per write. */
  private pump(): void {
    while (this.waiting.length > 0 && !this.failure) {
      let connection = this.connections.find((c) => !c.closed && c.inFlight.length <= this.depth / 2);
      if (!connection) {
        if (this.connections.length >= this.maxConnections) return;
        connection = new Connection(this, this.url);
        this.connections.push(connection);
      }
      const batch = this.waiting.splice(0, this.depth - connection.inFlight.length);
      let text = '';
      for (const request of batch)
        text += `GET ${this.pathOf(request.path)} HTTP/1.1\r\nHost: ${this.url.host}\r\nUser-Agent: accord-log-verify\r\nAccept-Encoding: gzip, identity\r\n\r\n`;
      connection.send(batch, text);
    }
  }

  private pathOf(path: string): string {
    return `${this.url.pathname.replace(/\/+$/, '')}/${path}`;
  }
}
