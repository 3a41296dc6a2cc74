// Client side of the admin API for the CLI: resolves the operator key and URL, signs, sends, reads JSON.
import fs from 'node:fs';
import type { Command } from 'commander';
import path from 'node:path';
import { signAdminRequest } from '../authority/admin-auth.ts';
import { toTimestamp } from '../authority/clock.ts';
import { loadConfig } from '../authority/config.ts';
import { devOperatorKeyPath } from '../authority/identity.ts';
import { readOperatorKeyFile } from '../authority/key-files.ts';
import { httpErrorLine } from './http-error.ts';
import { CliError } from './output.ts';

export interface ClientOptions {
  url?: string;
  key?: string;
}

/** The --url and --key options every admin command takes. */
export interface CommonOptions {
  url?: string;
  key?: string;
}

/** The client options given on the command line (unset ones fall back to the environment). */
export function client(opts: CommonOptions): ClientOptions {
  return { ...(opts.url ? { url: opts.url } : {}), ...(opts.key ? { key: opts.key } : {}) };
}

/** Adds --url and --key to an admin command. */
export function withClientOptions(command: Command): Command {
  return command
    .option('--url <url>', 'authority base URL (default: $ACCORD_URL or http://ACCORD_HOST:ACCORD_PORT)')
    .option('--key <file>', 'operator key file (default: $ACCORD_ADMIN_KEY_FILE or <data dir>/operator-dev.key)');
}

export function resolveClient(options: ClientOptions): { url: string; keyFile: string } {
  const config = loadConfig();
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = (options.url ?? process.env.ACCORD_URL ?? `http://${host}:${config.port}`).replace(/\/+$/, '');
  const keyFile = path.resolve(options.key ?? process.env.ACCORD_ADMIN_KEY_FILE ?? devOperatorKeyPath(config));
  return { url, keyFile };
}

/**
 * The sovereign id admin signatures are bound to: $ACCORD_ADMIN_AUTHORITY, else the configured
 * ACCORD_SOVEREIGN_ID, else the id the authority at `url` declares. Set one of the first two when the
 * authority is not one you run yourself: a declaration is the server's own word.
 */
export async function resolveAuthority(url: string, explicit?: string): Promise<string> {
  const given = explicit ?? process.env.ACCORD_ADMIN_AUTHORITY ?? loadConfig().sovereignId;
  if (given) return given;
  let response: Response;
  try {
    response = await fetch(`${url}/.well-known/network-authority`, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new CliError(`cannot reach ${url} to learn its sovereign id (set ACCORD_ADMIN_AUTHORITY): ${(err as Error).message}`);
  }
  const declared = response.ok ? ((await response.json().catch(() => null)) as { sovereign_id?: unknown } | null) : null;
  if (typeof declared?.sovereign_id !== 'string') throw new CliError(`${url} did not declare a sovereign id; set ACCORD_ADMIN_AUTHORITY`);
  return declared.sovereign_id;
}

/** Reads `--data`: inline JSON, `@file`, or `@-` for standard input. */
export function readData(data: string | undefined): string {
  if (data === undefined) return '';
  if (data.startsWith('@')) {
    const source = data.slice(1);
    try {
      return fs.readFileSync(source === '-' ? 0 : source, 'utf8');
    } catch {
      throw new CliError(`cannot read data file ${source}`);
    }
  }
  return data;
}

export interface HttpResponse {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

/** Sends one request; an unreachable server is a one-line CliError naming the URL and the cause. */
async function send(url: string, path: string, init: RequestInit, timeoutMs = 30_000): Promise<HttpResponse> {
  let response: Response;
  try {
    response = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new CliError(
      `cannot reach ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`,
    );
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed, text, headers: response.headers };
}

export async function adminRequest(options: ClientOptions & { method: string; path: string; body?: string }): Promise<HttpResponse> {
  const { url, keyFile } = resolveClient(options);
  if (!options.path.startsWith('/')) throw new CliError('PATH must start with /');
  const operator = readOperatorKeyFile(keyFile);
  const method = options.method.toUpperCase();
  const body = options.body ?? '';
  const headers: Record<string, string> = {
    ...signAdminRequest({
      authority: await resolveAuthority(url),
      method,
      path: options.path,
      body,
      label: operator.label,
      key: operator.key,
      timestamp: toTimestamp(new Date()),
    }),
  };
  if (body.length > 0) headers['Content-Type'] = 'application/json';
  return send(url, options.path, { method, headers, ...(body.length > 0 ? { body } : {}) });
}

/** An unsigned request to a public route. */
export async function publicRequest(options: {
  url?: string;
  method?: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}): Promise<HttpResponse> {
  const { url } = resolveClient(options.url ? { url: options.url } : {});
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  return send(
    url,
    options.path,
    { method: options.method ?? 'GET', headers, ...(options.body !== undefined ? { body: options.body } : {}) },
    options.timeoutMs,
  );
}

/** The one-line error for an HTTP error response (details included, see http-error.ts). */
export function httpError(res: HttpResponse): CliError {
  return new CliError(httpErrorLine(res.status, res.body, res.headers.get('retry-after')));
}

function printBody(res: HttpResponse): void {
  process.stdout.write(`${typeof res.body === 'string' ? res.body : JSON.stringify(res.body, null, 2)}\n`);
}

/** Sends an admin request, prints the JSON response, and fails with the error envelope's one-line form on HTTP errors. */
export async function adminCall(
  options: ClientOptions & { method: string; path: string; body?: string; quiet?: boolean },
): Promise<unknown> {
  const res = await adminRequest(options);
  if (!options.quiet || res.status >= 400) printBody(res);
  if (res.status >= 400) throw httpError(res);
  return res.body;
}

/** Calls a public (unsigned) route, prints the JSON response and fails on HTTP errors. */
export async function publicCall(options: { url?: string; method: string; path: string; body?: string }): Promise<unknown> {
  const res = await publicRequest(options);
  printBody(res);
  if (res.status >= 400) throw httpError(res);
  return res.body;
}
