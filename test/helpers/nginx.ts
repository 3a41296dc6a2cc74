// A real nginx (Debian's /usr/sbin/nginx) serving a mirror directory with the shipped ops/nginx/accord-mirror.conf,
// on a free loopback port, everything it writes (pid, logs, temp files) in a temp dir: no root, no system config.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const NGINX = '/usr/sbin/nginx';
export const NGINX_AVAILABLE = fs.existsSync(NGINX);
export const NGINX_MISSING_REASON = `nginx is not installed at ${NGINX} (apt-get install nginx): the mirror is not checked behind a real web server`;
export const SHIPPED_CONFIG = path.join(import.meta.dirname, '..', '..', 'ops', 'nginx', 'accord-mirror.conf');

/**
 * Skips without nginx so `npm test` works on a fresh machine; with ACCORD_REQUIRE_NGINX=1 (CI, which
 * installs it) a missing nginx is a failure, never a skip.
 */
export function needNginx(ctx: { skip(note?: string): void }): void {
  if (NGINX_AVAILABLE) return;
  if (process.env.ACCORD_REQUIRE_NGINX === '1') throw new Error(`ACCORD_REQUIRE_NGINX=1 but ${NGINX_MISSING_REASON}`);
  ctx.skip(NGINX_MISSING_REASON);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The shipped server block with its `listen` and `root` set; throws if the file no longer has them. */
export function mirrorServerBlock(root: string, port: number): string {
  const shipped = fs.readFileSync(SHIPPED_CONFIG, 'utf8');
  const listen = /^(\s*)listen 8080;$/m;
  const rootLine = /^(\s*)root \/var\/lib\/accord\/mirror;$/m;
  if (!listen.test(shipped) || !rootLine.test(shipped))
    throw new Error(`${SHIPPED_CONFIG} no longer has "listen 8080;" and "root /var/lib/accord/mirror;" lines to set`);
  return shipped.replace(listen, `$1listen 127.0.0.1:${port};`).replace(rootLine, `$1root ${root};`);
}

export interface RunningNginx {
  url: string;
  dir: string;
  child: ChildProcess;
  errorLog(): string;
  stop(): Promise<void>;
}

/** Starts nginx on `root` (which, with its parents, must be readable by nginx's worker user). */
export async function startNginx(root: string, options: { workers?: number; accessLog?: boolean } = {}): Promise<RunningNginx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-nginx-'));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'accord-mirror.conf'), mirrorServerBlock(root, port));
  // Run as root (CI), the master hands work to an unprivileged worker user, as in a real deployment.
  const user = process.getuid?.() === 0 ? 'user nobody nogroup;\n' : '';
  const conf = `${user}worker_processes ${options.workers ?? 1};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${options.accessLog ? `${dir}/access.log` : 'off'};
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000;
  include ${dir}/accord-mirror.conf;
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const errorLog = () => {
    try {
      return fs.readFileSync(path.join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const child = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (!running) throw new Error(`nginx exited at start: ${stderr}${errorLog()}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not listen on ${port} within 15 s: ${stderr}${errorLog()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    child,
    errorLog,
    stop: async () => {
      if (running) {
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
