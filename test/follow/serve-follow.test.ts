// `accord serve --follow` as a real subprocess, and two of them behind nginx (ops/nginx/accord-followers.conf) answering verification.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toTimestamp } from '../../src/authority/clock.ts';
import { revokeAttestation } from '../../src/treaties/attestations.ts';
import { BIN, childEnv, freePort } from '../cli/run.ts';
import { closeAll, post, startNetwork, tempDir, type Network } from './fixture.ts';

const NGINX = '/usr/sbin/nginx';
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  await closeAll();
});

interface SpawnedFollower {
  child: ChildProcess;
  url: string;
  dataDir: string;
  stderr: () => string;
}

/** Starts `accord serve --follow URL` on a free port with its own data directory; resolves once it listens. */
async function spawnFollower(primaryUrl: string, extra: string[] = []): Promise<SpawnedFollower> {
  const dataDir = tempDir('follower-cli');
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve', '--follow', primaryUrl, '--pull-interval', '200', ...extra], {
    env: childEnv({ ACCORD_DATA_DIR: dataDir, ACCORD_PORT: String(port), LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the follower did not start: ${stderr}`)), 30_000);
    child.stderr!.on('data', () => {
      if (/serving on/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the follower exited (${code}): ${stderr}`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, dataDir, stderr: () => stderr };
}

/** Polls until `check` holds (the follower pulls on its own every 200 ms). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function verifyAnswers(base: string, network: Network): Promise<string[]> {
  const out: string[] = [];
  for (const attestation of network.attestations) out.push((await post(`${base}/attestations/verify`, { attestation })).text);
  return out;
}

async function sameAnswers(a: string, b: string, network: Network): Promise<boolean> {
  return JSON.stringify(await verifyAnswers(a, network)) === JSON.stringify(await verifyAnswers(b, network));
}

describe('accord serve --follow (subprocess)', () => {
  it('follows the primary, verifies as it does across a revocation, refuses admin naming it, reports lag, holds no key', async () => {
    const network = await startNetwork({ now: toTimestamp(new Date()) });
    const follower = await spawnFollower(network.url);
    expect(follower.stderr()).toMatch(/read-only follower of "north" at http:\/\/127\.0\.0\.1:\d+, serving on/);
    expect(follower.stderr()).toMatch(/pinned the primary's declared keys on first use: sha256:/);
    await until(async () => (await fetch(`${follower.url}/readyz`)).status === 200, 'the follower to be ready');
    expect(await verifyAnswers(follower.url, network)).toEqual(await verifyAnswers(network.url, network));

    revokeAttestation(network.primary.deps, String(network.attestations[0]!.attestation_id), { reason: 'key_compromise' });
    expect((await verifyAnswers(network.url, network))[0]).toContain('"reason":"revoked"');
    network.publish();
    await until(() => sameAnswers(network.url, follower.url, network), 'the follower to reflect the revocation');
    expect((await verifyAnswers(follower.url, network))[0]).toContain('"reason":"revoked"');

    const refused = await fetch(`${follower.url}/admin/audit`);
    expect(refused.status).toBe(403);
    const error = ((await refused.json()) as { error: { code: string; details: { primary: string } } }).error;
    expect(error).toMatchObject({ code: 'read_only_follower', details: { primary: network.url } });

    const ready = (await (await fetch(`${follower.url}/readyz`)).json()) as { follow: { lag_seconds: number; applied_sequence: number } };
    expect(ready.follow.applied_sequence).toBe(2);
    expect(ready.follow.lag_seconds).toBeGreaterThanOrEqual(0);
    expect(ready.follow.lag_seconds).toBeLessThan(5);
    expect(await (await fetch(`${follower.url}/metrics`)).text()).toMatch(/^accord_follower_lag_seconds \d/m);

    // No key material in its data directory: only its database (and the serving lock).
    expect(fs.readdirSync(follower.dataDir).filter((f) => !f.startsWith('accord.db'))).toEqual([]);
    follower.child.kill('SIGTERM');
    const code = await new Promise((resolve) => follower.child.once('exit', resolve));
    expect(code).toBe(0);
  });

  it('refuses to start without reaching the primary the first time, in one line and a non-zero exit', async () => {
    const port = await freePort();
    const dataDir = tempDir('follower-cli');
    const result = spawnSync(process.execPath, [BIN, 'serve', '--follow', `http://127.0.0.1:${port}`], {
      env: childEnv({ ACCORD_DATA_DIR: dataDir, ACCORD_PORT: String(await freePort()) }),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^accord: cannot read the declaration of http:\/\/127\.0\.0\.1:\d+ to pin its keys/);
    const bad = spawnSync(process.execPath, [BIN, 'serve', '--key', 'A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg='], {
      env: childEnv({ ACCORD_DATA_DIR: dataDir }),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--key and --pull-interval go with --follow/);
  });
});

const haveNginx = fs.existsSync(NGINX);
const requireNginx = process.env.ACCORD_REQUIRE_NGINX === '1';

describe('followers behind nginx', () => {
  it.skipIf(!haveNginx && !requireNginx)(
    'two followers behind ops/nginx/accord-followers.conf answer verification as the primary does',
    async () => {
      expect(haveNginx, `${NGINX} is required (ACCORD_REQUIRE_NGINX=1)`).toBe(true);
      const network = await startNetwork({ now: toTimestamp(new Date()) });
      const followers = [await spawnFollower(network.url), await spawnFollower(network.url)];
      for (const f of followers) await until(async () => (await fetch(`${f.url}/readyz`)).status === 200, 'followers to be ready');

      const dir = tempDir('nginx');
      const port = await freePort();
      const shipped = fs.readFileSync(path.join(import.meta.dirname, '..', '..', 'ops', 'nginx', 'accord-followers.conf'), 'utf8');
      const site = shipped
        .replace(
          /(upstream accord_followers \{[\s\S]*?)server 127\.0\.0\.1:8451([^\n]*)\n\s*server 127\.0\.0\.1:8452[^\n]*\n/,
          (_m, head: string, rest: string) => `${head}${followers.map((f) => `server ${new URL(f.url).host}${rest}`).join('\n    ')}\n`,
        )
        .replace('server 127.0.0.1:8443;', `server ${new URL(network.url).host};`)
        .replace('listen 127.0.0.1:8450;', `listen 127.0.0.1:${port};`);
      expect(site).not.toMatch(/:845[0-2]\b|:8443\b/);
      const temp = (name: string) => path.join(dir, name);
      fs.writeFileSync(
        temp('nginx.conf'),
        [
          'daemon off;',
          'worker_processes 1;',
          `pid ${temp('nginx.pid')};`,
          `error_log ${temp('error.log')} warn;`,
          ...(process.getuid?.() === 0 ? ['user root;'] : []),
          'events { worker_connections 256; }',
          'http {',
          '  access_log off;',
          ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${temp(`${t}-temp`)};`),
          site,
          '}',
        ].join('\n'),
      );
      const nginx = spawn(NGINX, ['-p', dir, '-c', temp('nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(nginx);
      let nginxErr = '';
      nginx.stderr!.on('data', (d: Buffer) => (nginxErr += d.toString()));
      const lb = `http://127.0.0.1:${port}`;
      await until(async () => (await fetch(`${lb}/healthz`).catch(() => null))?.status === 200, `nginx to listen (${nginxErr})`);

      // Verification through the load balancer answers as the primary does, and both followers served some of it.
      for (let round = 0; round < 4; round++) expect(await verifyAnswers(lb, network)).toEqual(await verifyAnswers(network.url, network));
      for (const f of followers) {
        const metrics = await (await fetch(`${f.url}/metrics`)).text();
        const served = /accord_http_request_duration_seconds_count\{method="POST",route="\/attestations\/verify",status="200"\} (\d+)/.exec(
          metrics,
        );
        expect(Number(served?.[1] ?? 0), 'each follower answered verification').toBeGreaterThan(0);
      }
      // Admin requests reach the primary through the same address (and fail its authentication here: unsigned).
      const admin = await fetch(`${lb}/admin/audit`);
      expect(((await admin.json()) as { error: { code: string } }).error.code).toBe('admin_auth_failed');

      // A revocation reaches both followers; answers through nginx follow.
      revokeAttestation(network.primary.deps, String(network.attestations[3]!.attestation_id), { reason: 'key_compromise' });
      network.publish();
      for (const f of followers) await until(() => sameAnswers(network.url, f.url, network), 'followers to reflect the revocation');
      expect(await verifyAnswers(lb, network)).toEqual(await verifyAnswers(network.url, network));

      // One follower stops: nginx sends verification to the other.
      followers[0]!.child.kill('SIGTERM');
      await new Promise((resolve) => followers[0]!.child.once('exit', resolve));
      expect(await verifyAnswers(lb, network)).toEqual(await verifyAnswers(network.url, network));
    },
  );
});
