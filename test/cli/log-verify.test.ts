// `accord log verify` as a subprocess over real HTTP: a running authority, an incremental run with --state, a static copy on a plain node:http server, every attack (exit 2, state unchanged) and every could-not-check (exit 1).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signNote } from '../../src/authority/signed-note.ts';
import { testKey } from '../helpers/authority.ts';
import { startNode, type Node } from '../feeds/network.ts';
import { accord, removeTempDirs, tempDir, type CliResult } from '../ops/helpers.ts';
import { forkedAuthority, logFiles, publishAtSizes, serveDirectory, vkeyOf, writeLogDirectory } from '../transparency/helpers.ts';
import { freePort } from './run.ts';

const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stops.splice(0)) await stop();
  removeTempDirs();
});

async function node(id: string): Promise<Node> {
  const n = await startNode(id);
  stops.push(n.stop);
  return n;
}

async function staticServer(root: string) {
  const server = await serveDirectory(root);
  stops.push(server.stop);
  return server;
}

const oneLine = (text: string) => text.endsWith('\n') && text.trim().split('\n').length === 1;
const summary = (res: CliResult) =>
  JSON.parse(res.stdout) as Record<string, unknown> & { failure?: { code: string; message: string; details: Record<string, unknown> } };
const verify = (url: string, ...args: string[]) => accord(['log', 'verify', url, ...args]);
const feedRoot = (n: Node) =>
  (
    JSON.parse(n.db.sqlite.prepare('SELECT body FROM published_feeds ORDER BY sequence DESC LIMIT 1').pluck().get() as string) as {
      log: { root_hash: string };
    }
  ).log.root_hash;

describe('against a running authority', () => {
  let n: Node;
  let dir: string;
  beforeAll(async () => {
    n = await node('monitor.example');
    publishAtSizes(n, [0, 300]);
    dir = tempDir('accord-monitor-');
  });

  it('checks the whole log: exit 0 and one JSON summary', async () => {
    const res = await verify(n.url, '--key', vkeyOf(n));
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toBe('');
    const out = summary(res);
    expect(out).toMatchObject({
      ok: true,
      url: `${n.url}/log`,
      origin: 'monitor.example/log',
      size: 300,
      root_hash: feedRoot(n),
      previous_size: null,
      consistency: 'first_check',
      entries_checked: 300,
      tiles_fetched: 3,
      bundles_fetched: 2,
      state_file: null,
    });
    expect(out.duration_ms).toEqual(expect.any(Number));
    expect(out.bytes_fetched).toBeGreaterThan(300 * 100);
  }, 60_000);

  it("takes the authority's public key instead of a vkey, and checks --origin (another origin is exit 2)", async () => {
    const declared = (await (await fetch(`${n.url}/.well-known/network-authority`)).json()) as {
      public_keys: Array<{ public_key: string }>;
    };
    const ok = await verify(`${n.url}/log`, '--key', declared.public_keys[0]!.public_key, '--origin', 'monitor.example/log');
    expect(ok.code, ok.stderr).toBe(0);
    const other = await verify(n.url, '--key', vkeyOf(n), '--origin', 'other.example/log');
    expect(other.code).toBe(2);
    expect(other.stderr).toBe(
      'accord: log verification failed: origin_mismatch: the checkpoint\'s origin is "monitor.example/log", not "other.example/log"\n',
    );
    expect(summary(other)).toMatchObject({ ok: false, failure: { code: 'origin_mismatch' } });
  }, 60_000);

  it('with --state: the first run writes the head, the next reads only what is new, an unchanged log costs one request', async () => {
    const state = path.join(dir, 'monitor.state.json');
    const first = await verify(n.url, '--key', vkeyOf(n), '--state', state);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(state, 'utf8'))).toMatchObject({
      type: 'accord_log_monitor_state',
      version: 1,
      origin: 'monitor.example/log',
      size: 300,
      root_hash: feedRoot(n),
      url: `${n.url}/log`,
    });

    publishAtSizes(n, [700]);
    const second = await verify(n.url, '--key', vkeyOf(n), '--state', state);
    expect(second.code, second.stderr).toBe(0);
    // From 300: bundles 1 and 2 (the first one again, since 300 ends inside it), their level-0 tiles, the level-1 tile.
    expect(summary(second)).toMatchObject({
      size: 700,
      previous_size: 300,
      consistency: 'proved',
      new_entries: 400,
      entries_checked: 444,
      bundles_fetched: 2,
      tiles_fetched: 3,
      state_file: state,
    });
    expect(JSON.parse(fs.readFileSync(state, 'utf8'))).toMatchObject({ size: 700, root_hash: feedRoot(n) });

    const third = await verify(n.url, '--key', vkeyOf(n), '--state', state);
    expect(summary(third)).toMatchObject({
      size: 700,
      previous_size: 700,
      consistency: 'unchanged',
      entries_checked: 0,
      tiles_fetched: 0,
      bundles_fetched: 0,
    });
  }, 60_000);

  it('--progress writes progress lines on stderr; stdout keeps the one summary', async () => {
    const res = await verify(n.url, '--key', vkeyOf(n), '--progress', '--concurrency', '1');
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/^accord: log verify: 100% \(700 of 700 entries, \d+\.\d s\)\n$/m);
    for (const line of res.stderr.trim().split('\n')) expect(line).toMatch(/^accord: log verify: \d+% \(\d+ of 700 entries, \d+\.\d s\)$/);
    expect(summary(res).ok).toBe(true);
  }, 60_000);
});

describe('a static copy of the log on a plain node:http file server', () => {
  it('verifies like the authority, continues from a state the authority run wrote, and fetches only the new files', async () => {
    const n = await node('mirrored.example');
    publishAtSizes(n, [513]);
    const root = tempDir('accord-mirror-');
    const server = await staticServer(root);
    const state = path.join(root, 'state.json');
    expect((await verify(n.url, '--key', vkeyOf(n), '--state', state)).code).toBe(0);

    publishAtSizes(n, [1300]);
    writeLogDirectory(path.join(root, 'mirror', 'log'), await logFiles(n));
    const res = await verify(`${server.url}/mirror/log`, '--key', vkeyOf(n), '--state', state);
    expect(res.code, res.stderr).toBe(0);
    expect(summary(res)).toMatchObject({
      url: `${server.url}/mirror/log`,
      size: 1300,
      previous_size: 513,
      consistency: 'proved',
      entries_checked: 1300 - 512,
    });
    expect(server.requests.filter((p) => p.includes('/tile/entries/'))).toEqual(
      ['002', '003', '004', '005.p/20'].map((t) => `/mirror/log/tile/entries/${t}`),
    );
    expect(server.requests.filter((p) => /\/tile\/\d/.test(p)).sort()).toEqual(
      ['0/002', '0/003', '0/004', '0/005.p/20', '1/000.p/5'].map((t) => `/mirror/log/tile/${t}`),
    );

    // An authority-style base URL works against the copy too: <url>/log is tried when <url> has no checkpoint.
    const base = await verify(`${server.url}/mirror`, '--key', vkeyOf(n));
    expect(summary(base)).toMatchObject({ ok: true, url: `${server.url}/mirror/log`, size: 1300, entries_checked: 1300 });
  }, 60_000);
});

describe('a static copy over https', () => {
  it('verifies when the certificate is trusted, and is unreachable when it is not', async () => {
    const n = await node('tls.example');
    publishAtSizes(n, [40]);
    const root = tempDir('accord-tls-');
    // A certificate for 127.0.0.1 made now, so it is valid whatever the date.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-days',
        '2',
        '-nodes',
        '-subj',
        '/CN=accord test mirror',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(root, 'key.pem'),
        '-out',
        path.join(root, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    writeLogDirectory(path.join(root, 'www', 'log'), await logFiles(n));
    const server = await serveDirectory(path.join(root, 'www'), {
      key: fs.readFileSync(path.join(root, 'key.pem'), 'utf8'),
      cert: fs.readFileSync(path.join(root, 'cert.pem'), 'utf8'),
    });
    stops.push(server.stop);
    const trusted = await accord(['log', 'verify', `${server.url}/log`, '--key', vkeyOf(n)], {
      env: { NODE_EXTRA_CA_CERTS: path.join(root, 'cert.pem') },
    });
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(summary(trusted)).toMatchObject({ url: `${server.url}/log`, size: 40, entries_checked: 40 });
    const untrusted = await verify(`${server.url}/log`, '--key', vkeyOf(n));
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(
      /^accord: could not check the log: unreachable: GET https:\/\/127\.0\.0\.1:\d+\/log\/checkpoint: .*certificate/,
    );
  }, 60_000);
});

describe('a misbehaving log: exit 2, one error line, the state file unchanged', () => {
  let honest: Node;
  let root: string;
  let url: string;
  let atThree: Map<string, Buffer>;
  let at300: Map<string, Buffer>;
  let at700: Map<string, Buffer>;
  let state300 = '';
  let state700 = '';

  beforeAll(async () => {
    honest = await node('watched.example');
    root = tempDir('accord-attacks-');
    url = (await staticServer(root)).url;
    publishAtSizes(honest, [3]);
    atThree = await logFiles(honest);
    publishAtSizes(honest, [300]);
    at300 = await logFiles(honest);
    const s300 = path.join(root, 'state-300.json');
    expect((await verify(honest.url, '--key', vkeyOf(honest), '--state', s300)).code).toBe(0);
    state300 = fs.readFileSync(s300, 'utf8');
    publishAtSizes(honest, [700]);
    at700 = await logFiles(honest);
    const s700 = path.join(root, 'state-700.json');
    expect((await verify(honest.url, '--key', vkeyOf(honest), '--state', s700)).code).toBe(0);
    state700 = fs.readFileSync(s700, 'utf8');
  }, 60_000);

  const flip = (bytes: Buffer, at: number) => {
    const copy = Buffer.from(bytes);
    copy[at]! ^= 0x01;
    return copy;
  };
  const noteText = (files: Map<string, Buffer>) => {
    const note = files.get('checkpoint')!.toString('utf8');
    return note.slice(0, note.indexOf('\n\n') + 1);
  };

  type Files = () => Map<string, Buffer> | Promise<Map<string, Buffer>>;
  const ROWS: Array<[string, string, Files, 'none' | '300' | '700']> = [
    [
      'a tampered entry',
      'root_mismatch',
      () => {
        const files = new Map(at700);
        const text = files.get('tile/entries/002.p/188')!.toString('latin1');
        files.set('tile/entries/002.p/188', Buffer.from(text.replace('-000000000650"', '-000000000999"'), 'latin1'));
        return files;
      },
      '300',
    ],
    [
      'a tile that does not hash to the checkpoint',
      'tile_mismatch',
      () => new Map(at700).set('tile/0/001', flip(at700.get('tile/0/001')!, 4000)),
      'none',
    ],
    [
      'a checkpoint signed by another key',
      'checkpoint_signature',
      () => new Map(at700).set('checkpoint', Buffer.from(signNote(noteText(at700), 'watched.example/log', [testKey('impostor')]))),
      '300',
    ],
    ['a rollback to an older checkpoint', 'checkpoint_rollback', () => atThree, '300'],
    [
      'a fork: another root at the size verified',
      'checkpoint_inconsistent',
      async () => logFiles(forkedAuthority('watched.example', 300)),
      '300',
    ],
    [
      'a fork: a larger tree that does not extend the head verified',
      'checkpoint_inconsistent',
      async () => logFiles(forkedAuthority('watched.example', 700)),
      '300',
    ],
    [
      'a truncated entry bundle',
      'bundle_malformed',
      () => new Map(at700).set('tile/entries/001', at700.get('tile/entries/001')!.subarray(0, 9000)),
      '300',
    ],
    [
      'an oversized entry bundle',
      'bundle_malformed',
      () =>
        new Map(at700).set(
          'tile/entries/002.p/188',
          Buffer.concat([at700.get('tile/entries/002.p/188')!, at700.get('tile/entries/002.p/188')!.subarray(0, 200)]),
        ),
      '300',
    ],
    [
      'an entry bundle larger than any can be',
      'response_too_large',
      () => new Map(at700).set('tile/entries/000', Buffer.alloc(256 * 4098 + 1, 0x20)),
      'none',
    ],
    ['bad bytes for a tile', 'tile_mismatch', () => new Map(at300).set('tile/1/000.p/1', Buffer.from('not a tile')), 'none'],
    [
      'bad bytes for a checkpoint',
      'checkpoint_malformed',
      () => new Map(at700).set('checkpoint', Buffer.from('<html>moved</html>\n')),
      '700',
    ],
  ];

  it.each(ROWS)(
    '%s → exit 2, %s',
    async (name, code, files, from) => {
      const dir = path.join(root, name.replace(/[^a-z0-9]+/g, '-'));
      writeLogDirectory(dir, await files());
      const state = path.join(dir, 'state.json');
      const before = from === '300' ? state300 : from === '700' ? state700 : null;
      if (before !== null) fs.writeFileSync(state, before);

      const res = await verify(`${url}/${path.basename(dir)}`, '--key', vkeyOf(honest), '--state', state);
      expect(res.code, res.stderr).toBe(2);
      expect(oneLine(res.stderr), res.stderr).toBe(true);
      expect(res.stderr).toMatch(new RegExp(`^accord: log verification failed: ${code}: `));
      expect(summary(res)).toMatchObject({ ok: false, failure: { code }, state_file: state });
      if (before === null) expect(fs.existsSync(state)).toBe(false);
      else expect(fs.readFileSync(state, 'utf8')).toBe(before);
      expect(
        fs.readdirSync(dir).filter((f) => f.includes('state')),
        'no temporary state file left behind',
      ).toEqual(before === null ? [] : ['state.json']);
    },
    60_000,
  );
});

describe('could not check: exit 1, the state file unchanged', () => {
  let n: Node;
  let root: string;
  let stateText = '';
  beforeAll(async () => {
    n = await node('unreachable.example');
    publishAtSizes(n, [300]);
    root = tempDir('accord-unchecked-');
    const state = path.join(root, 'state.json');
    expect((await verify(n.url, '--key', vkeyOf(n), '--state', state)).code).toBe(0);
    stateText = fs.readFileSync(state, 'utf8');
  }, 60_000);

  async function unchecked(url: string, code: string, ...args: string[]): Promise<CliResult> {
    const state = path.join(root, 'state.json');
    const res = await verify(url, '--key', vkeyOf(n), '--state', state, ...args);
    expect(res.code, res.stderr).toBe(1);
    expect(oneLine(res.stderr), res.stderr).toBe(true);
    expect(res.stderr).toMatch(new RegExp(`^accord: could not check the log: ${code}: `));
    expect(summary(res)).toMatchObject({ ok: false, failure: { code } });
    expect(fs.readFileSync(state, 'utf8')).toBe(stateText);
    return res;
  }

  it('nothing listening: unreachable', async () => {
    await unchecked(`http://127.0.0.1:${await freePort()}`, 'unreachable');
  }, 60_000);

  it('a file the checkpoint needs is missing: http_error with the status', async () => {
    publishAtSizes(n, [700]);
    const files = await logFiles(n);
    files.delete('tile/entries/002.p/188');
    const dir = path.join(root, 'copy');
    writeLogDirectory(dir, files);
    const server = await staticServer(root);
    const res = await unchecked(`${server.url}/copy`, 'http_error');
    expect(summary(res).failure!.details).toMatchObject({ status: 404 });
  }, 60_000);

  it('a server that never answers: timeout after --timeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    stops.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const res = await unchecked(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, 'timeout', '--timeout', '300');
    expect(summary(res).failure!.details).toMatchObject({ timeout_ms: 300 });
  }, 60_000);

  it('usage errors: one line, exit 1, no request made and the state untouched', async () => {
    const state = path.join(root, 'state.json');
    for (const [args, message] of [
      [[n.url, '--state', state], /^accord: --key is required: /],
      [[n.url, '--key', 'not-a-key', '--state', state], /^accord: --key "not-a-key" is neither a note verifier key/],
      [
        ['ftp://example.org/log', '--key', vkeyOf(n), '--state', state],
        /^accord: ftp:\/\/example.org\/log: the log URL must be http:\/\/ or https:\/\/\n$/,
      ],
      [[n.url, '--key', vkeyOf(n), '--concurrency', '0'], /^accord: --concurrency must be a whole number from 1 to 256\n$/],
      [[n.url, '--key', vkeyOf(n), '--timeout', 'soon'], /^accord: --timeout must be a whole number from 100 to 3600000\n$/],
    ] as const) {
      const res = await verify(...(args as unknown as [string, ...string[]]));
      expect(res.code, res.stderr).toBe(1);
      expect(oneLine(res.stderr), res.stderr).toBe(true);
      expect(res.stderr).toMatch(message);
      expect(res.stdout).toBe('');
    }
    expect(fs.readFileSync(state, 'utf8')).toBe(stateText);
  }, 60_000);

  it('a state file that is not one is refused and left as it is', async () => {
    const bad = path.join(root, 'bad-state.json');
    fs.writeFileSync(bad, '{"size": 3}');
    const res = await verify(n.url, '--key', vkeyOf(n), '--state', bad);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^accord: .*bad-state\.json is not a log monitor state file \(type: .*\); it is left as it is\n$/);
    expect(fs.readFileSync(bad, 'utf8')).toBe('{"size": 3}');
  }, 60_000);
});
