// A primary with treaties, attestations (its own and a recognized sovereign's) and an imported feed, served over real HTTP, for follower tests.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { defaultConfig } from '../../src/authority/config.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { publishFollowerUpdates } from '../../src/follow/publish.ts';
import { serveHttp } from '../../src/server/http-server.ts';
import { startFollower, type RunningFollower } from '../../src/server/server.ts';
import { issueAttestation } from '../../src/treaties/attestations.ts';
import { createTestAuthority, T0, type TestAuthority } from '../helpers/authority.ts';
import { importVia, recognize, SimulatedIssuer } from '../feeds/simulated-issuer.ts';

export interface Network {
  primary: TestAuthority;
  /** The primary's base URL (real HTTP on 127.0.0.1). */
  url: string;
  south: TestAuthority;
  southFeeds: SimulatedIssuer;
  /** Attestations to verify: the primary's own and south's. */
  attestations: Array<Record<string, unknown>>;
  treaties: Array<Record<string, unknown>>;
  /** Publishes pending feeds and follower updates, as the primary's background jobs do. */
  publish(): void;
  close(): Promise<void>;
}

const closers: Array<() => Promise<void> | void> = [];

export async function closeAll(): Promise<void> {
  for (const close of closers.splice(0).reverse()) await close();
}

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `accord-${prefix}-`));
  closers.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startNetwork(options: { now?: string } = {}): Promise<Network> {
  const now = options.now ?? T0;
  const primary = createTestAuthority({ sovereignId: 'north', now, dbPath: path.join(tempDir('primary'), 'accord.db') });
  const south = createTestAuthority({ sovereignId: 'south', now });
  south.clock.set(primary.clock());
  recognize(primary, 'south', [south.signingKey], { scope: { allowed_roles: ['role:client', 'role:anchor'] } });
  const southFeeds = new SimulatedIssuer('south', [south.signingKey], primary.clock);
  southFeeds.version = 2;
  const attestations: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 4; i++)
    attestations.push(
      issueAttestation(
        primary.deps,
        { subject_id: `north-member-${i}`, roles: ['role:client'], validity_hours: 48 },
        {
          label: primary.operator.label,
          keyId: primary.operator.key.keyId,
        },
      ) as unknown as Record<string, unknown>,
    );
  for (let i = 0; i < 4; i++)
    attestations.push(
      issueAttestation(south.deps, { subject_id: `south-member-${i}`, roles: ['role:client'], validity_hours: 48 }) as unknown as Record<
        string,
        unknown
      >,
    );
  // South revoked its third attestation; the primary imported that.
  const imported = await importVia(
    primary,
    southFeeds.next({ entries: [southFeeds.revocation({ id: String(attestations[6]!.attestation_id) })] }),
  );
  if (imported.status !== 200) throw new Error(`import failed: ${await imported.text()}`);
  const treatyList = (await (await primary.app.request('/recognition-treaties')).json()) as {
    treaties: Array<{ treaty: Record<string, unknown> }>;
  };
  const server = await serveHttp(primary.app.fetch, 0, '127.0.0.1');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const publish = () => {
    publishFeeds(primary.deps, { trigger: 'admin' });
    publishFollowerUpdates(primary.deps);
  };
  publish();
  const close = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await primary.close();
    primary.db.close();
  };
  closers.push(close);
  return { primary, url, south, southFeeds, attestations, treaties: treatyList.treaties.map((t) => t.treaty), publish, close };
}

/** An in-process follower (the same code `accord serve --follow` runs) with its own data directory; pulls only when told. */
export async function startTestFollower(url: string, network: Network, options: { keys?: string[] } = {}): Promise<RunningFollower> {
  const dir = tempDir('follower');
  const config = defaultConfig({ dataDir: dir, dbPath: path.join(dir, 'accord.db'), port: 0, host: '127.0.0.1', logLevel: 'silent' });
  const follower = await startFollower(
    config,
    { url, keys: options.keys, pull: false },
    { clock: network.primary.clock, logger: pino({ level: 'silent' }) },
  );
  closers.push(() => follower.close());
  return follower;
}

/** A proxy in front of the primary that can rewrite follower updates on their way (a tampering mirror). */
export async function startTamperingProxy(target: string): Promise<{ url: string; tamper: ((body: string) => string) | null }> {
  const state: { url: string; tamper: ((body: string) => string) | null } = { url: '', tamper: null };
  const server = http.createServer(async (req, res) => {
    const upstream = await fetch(`${target}${req.url}`, {
      headers: req.headers['if-none-match'] ? { 'if-none-match': String(req.headers['if-none-match']) } : {},
    });
    let body = await upstream.text();
    if (state.tamper && req.url?.startsWith('/follower/updates/') && upstream.status === 200) body = state.tamper(body);
    const headers: Record<string, string> = { 'content-type': upstream.headers.get('content-type') ?? 'application/json' };
    const etag = upstream.headers.get('etag');
    if (etag && !state.tamper) headers.etag = etag;
    res.writeHead(upstream.status, headers);
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return state;
}

/** POSTs a JSON body and returns status and exact body text. */
export async function post(url: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}
