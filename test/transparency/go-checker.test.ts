// The revocation log checked over real HTTP by Go's golang.org/x/mod/sumdb/note and sumdb/tlog: checkpoint signatures, tiles, entry bundles, inclusion and consistency proofs.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/authority/audit.ts';
import { signingKeyFromSeed } from '../../src/authority/crypto.ts';
import { rotateSigningKey } from '../../src/ops/key-rotation.ts';
import { signNote } from '../../src/authority/signed-note.ts';
import { seedFor } from '../helpers/authority.ts';
import { listen, startNode, type Node } from '../feeds/network.ts';
import { tempDir, removeTempDirs } from '../ops/helpers.ts';
import { buildGoChecker, GO_AVAILABLE, needGo, publishAtSizes, runGoChecker, vkeyOf, type GoReport } from './helpers.ts';

let checker = '';
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  if (GO_AVAILABLE) checker = await buildGoChecker();
}, 300_000);

afterAll(async () => {
  for (const stop of stops.splice(0)) await stop();
  removeTempDirs();
  if (checker) fs.rmSync(path.dirname(checker), { recursive: true, force: true });
});

async function node(id: string): Promise<Node> {
  const n = await startNode(id, { config: { dataDir: tempDir('accord-tlog-') } });
  stops.push(n.stop);
  return n;
}

/** A proxy in front of `target` that passes everything through except what `tamper` changes. */
async function tamperingProxy(target: string, tamper: (path: string, body: Buffer) => Buffer): Promise<string> {
  const proxy = await listen(async (req) => {
    const url = new URL(req.url);
    const res = await fetch(`${target}${url.pathname}${url.search}`);
    const body = Buffer.from(await res.arrayBuffer());
    const changed = res.status === 200 ? tamper(`${url.pathname}${url.search}`, body) : body;
    return new Response(new Uint8Array(changed), {
      status: res.status,
      headers: { 'Content-Type': res.headers.get('content-type') ?? 'application/octet-stream' },
    });
  });
  stops.push(proxy.stop);
  return proxy.url;
}

function passed(report: GoReport): void {
  expect(report.failures, JSON.stringify(report.failures.slice(0, 5))).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.exitCode).toBe(0);
}

function failedWith(report: GoReport, pattern: RegExp): void {
  expect(report.ok).toBe(false);
  expect(report.exitCode).toBe(1);
  expect(
    report.failures.some((f) => pattern.test(f)),
    JSON.stringify(report.failures.slice(0, 5)),
  ).toBe(true);
}

describe('Go sumdb/note and sumdb/tlog accept the log', () => {
  let small: Node;
  const SIZES = [0, 1, 2, 255, 256, 257, 511, 513, 700];

  beforeAll(async () => {
    if (!GO_AVAILABLE) return;
    small = await node('tlog-small.example');
    publishAtSizes(small, SIZES);
  });

  it('a log published at sizes around tile edges: signature, tiles, every entry by inclusion proof, every checkpoint by consistency proof', async (ctx) => {
    needGo(ctx);
    const report = await runGoChecker(checker, { url: `${small.url}/log`, vkeys: [vkeyOf(small)], origin: 'tlog-small.example/log' });
    passed(report);
    expect(report).toMatchObject({ size: 700, entries_checked: 700, inclusion_proofs_checked: 700, checkpoints_checked: SIZES.length });
    // Size 0 has no consistency proof (RFC 9162 starts at 1); every other checkpoint is a prefix of the latest.
    expect(report.consistency_proofs_checked).toBe(SIZES.length - 1);
    const head = small.db.sqlite.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as {
      seq: number;
      hash: string;
    };
    expect(report.extensions).toEqual([`accord-audit-head ${head.seq} ${head.hash}`]);
  });

  it('a checkpoint signed by another key under the same origin is refused', async (ctx) => {
    needGo(ctx);
    const impostor = signingKeyFromSeed(seedFor('impostor'));
    const url = await tamperingProxy(small.url, (path, body) => {
      if (path !== '/log/checkpoint') return body;
      const note = body.toString('utf8');
      return Buffer.from(signNote(note.slice(0, note.lastIndexOf('\n\n') + 1), 'tlog-small.example/log', [impostor]));
    });
    failedWith(await runGoChecker(checker, { url: `${url}/log`, vkeys: [vkeyOf(small)] }), /^checkpoint: note: .*verif/i);
  });

  it('a checkpoint whose signature was altered is refused', async (ctx) => {
    needGo(ctx);
    const url = await tamperingProxy(small.url, (path, body) => {
      if (path !== '/log/checkpoint') return body;
      const note = body.toString('utf8');
      const sig = note.lastIndexOf(' ') + 1;
      const bytes = Buffer.from(note.slice(sig).trim(), 'base64');
      bytes[10]! ^= 1;
      return Buffer.from(`${note.slice(0, sig)}${bytes.toString('base64')}\n`);
    });
    failedWith(await runGoChecker(checker, { url: `${url}/log`, vkeys: [vkeyOf(small)] }), /^checkpoint: note: invalid signature/);
  });

  it.for([
    ['/log/tile/0/001', 100],
    ['/log/tile/0/002.p/188', 100],
    ['/log/tile/1/000.p/2', 10],
  ] as const)('a tile that does not hash to the checkpoint is refused (%s)', async ([tile, byte], ctx) => {
    needGo(ctx);
    const url = await tamperingProxy(small.url, (path, body) => {
      if (path !== tile) return body;
      const copy = Buffer.from(body);
      copy[byte]! ^= 0x80;
      return copy;
    });
    failedWith(
      await runGoChecker(checker, { url: `${url}/log`, vkeys: [vkeyOf(small)], history: false }),
      /not the leaf the tiles commit to|downloaded inconsistent tile|tiles hash to/,
    );
  });

  it('an entry bundle with one altered entry is refused (CheckRecord on the entry)', async (ctx) => {
    needGo(ctx);
    const url = await tamperingProxy(small.url, (path, body) => {
      if (path !== '/log/tile/entries/002.p/188') return body;
      return Buffer.from(body.toString('latin1').replace('key_compromise', 'key_compromisE'), 'latin1');
    });
    failedWith(
      await runGoChecker(checker, { url: `${url}/log`, vkeys: [vkeyOf(small)], history: false }),
      /^entry \d+: bundle entry does not hash/,
    );
  });

  it('a wrong JSON inclusion proof is refused', async (ctx) => {
    needGo(ctx);
    const url = await tamperingProxy(small.url, (path, body) => {
      if (!path.startsWith('/log/proof/inclusion?index=300&')) return body;
      const proof = JSON.parse(body.toString('utf8')) as { proof: string[] };
      proof.proof[1] = `sha256:${'ab'.repeat(32)}`;
      return Buffer.from(JSON.stringify(proof));
    });
    failedWith(
      await runGoChecker(checker, { url: `${url}/log`, vkeys: [vkeyOf(small)], history: false }),
      /^entry 300: JSON inclusion proof/,
    );
  });

  it('a wrong JSON consistency proof is refused', async (ctx) => {
    needGo(ctx);
    const url = await tamperingProxy(small.url, (path, body) => {
      if (!path.startsWith('/log/proof/consistency?from=257&')) return body;
      const proof = JSON.parse(body.toString('utf8')) as { proof: string[] };
      proof.proof.reverse();
      return Buffer.from(JSON.stringify(proof));
    });
    failedWith(await runGoChecker(checker, { url: `${url}/log`, vkeys: [vkeyOf(small)] }), /size 257\): JSON consistency proof/);
  });
});

describe('Go sumdb/tlog over larger trees and key rotation', () => {
  it('70,000 entries (level-1 and level-2 tiles, several feeds per publication)', async (ctx) => {
    needGo(ctx);
    const big = await node('tlog-big.example');
    publishAtSizes(big, [65_535, 65_536, 70_000]);
    const report = await runGoChecker(checker, { url: `${big.url}/log`, vkeys: [vkeyOf(big)], sample: 997 });
    passed(report);
    expect(report).toMatchObject({ size: 70_000, entries_checked: 70_000 });
    expect(report.inclusion_proofs_checked).toBe(Math.ceil(70_000 / 997) + 1);
    // 65,535 → 65,536 → 70,000 with at most 10,000 entries per feed: 7 + 1 + 1 checkpoints.
    expect(report.checkpoints_checked).toBe(9);
    expect(report.consistency_proofs_checked).toBe(9);
  }, 120_000);

  it('after a rotation, old checkpoints still verify under the old vkey and new ones under the new', async (ctx) => {
    needGo(ctx);
    const n = await node('tlog-rotate.example');
    const oldKey = n.signingKey;
    publishAtSizes(n, [10, 300]);
    const rotation = rotateSigningKey(n.deps, { overlapDays: 0, actor: SYSTEM_ACTOR });
    const newKey = n.deps.identity.signingKeys[0]!;
    expect(newKey.keyId).toBe(rotation.new_key.key_id);
    publishAtSizes(n, [600]);

    // /log/keys lists both, the retired one too.
    const keys = (await (await fetch(`${n.url}/log/keys`)).json()) as { keys: Array<{ vkey: string; retired_at: string | null }> };
    expect(keys.keys.map((k) => k.vkey)).toEqual([vkeyOf(n, oldKey), vkeyOf(n, newKey)]);
    expect(keys.keys[0]!.retired_at).not.toBeNull();

    passed(await runGoChecker(checker, { url: `${n.url}/log`, vkeys: keys.keys.map((k) => k.vkey) }));
    // The latest checkpoint needs the new key; the history needs the old one.
    failedWith(await runGoChecker(checker, { url: `${n.url}/log`, vkeys: [vkeyOf(n, oldKey)] }), /^checkpoint: note: /);
    failedWith(await runGoChecker(checker, { url: `${n.url}/log`, vkeys: [vkeyOf(n, newKey)] }), /^checkpoint 1: note: /);
  });
});
