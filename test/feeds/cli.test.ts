// `accord feed …` as real subprocesses against a running authority: publish, show, import, peers, rollback-import.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAuthority } from '../../src/server/server.ts';
import { startCliAuthority, type CliAuthority } from '../helpers/cli-authority.ts';
import { SYSTEM_ACTOR } from '../../src/authority/audit.ts';
import { importFeed } from '../../src/feeds/import.ts';
import { issueTreaty } from '../../src/treaties/service.ts';
import { testKey } from '../helpers/authority.ts';
import { SimulatedIssuer } from './simulated-issuer.ts';

let dir: string;
let running: RunningAuthority;
let cli: CliAuthority;

const accord = (...args: string[]) => cli.accord(...args);

beforeAll(async () => {
  cli = await startCliAuthority('accord-feed-cli-');
  dir = cli.dir;
  running = cli.running;
});

afterAll(async () => {
  await cli?.close();
});

describe('accord feed (subprocess against a running authority)', () => {
  it('publish and show print the served feed', async () => {
    const published = await accord('feed', 'publish');
    expect(published.code, published.stderr).toBe(0);
    expect(JSON.parse(published.stdout)).toMatchObject({ latest_sequence: 1, published: [{ sequence: 1, entry_count: 0 }] });
    const shown = await accord('feed', 'show');
    expect(shown.code).toBe(0);
    const served = await (await fetch(`${running.url}/revocation-feeds/1`)).text();
    expect(shown.stdout).toBe(`${served}\n`);
    const missing = await accord('feed', 'show', '9');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('accord: HTTP 404 feed_not_found: no feed with this sequence (sequence: 9)\n');
  }, 60_000);

  it('import, peer-add, peers, rollback-import; errors exit non-zero with the code', async () => {
    const deps = running.authority.deps;
    const key = testKey('cli-issuer');
    issueTreaty(
      deps,
      {
        subject_sovereign_id: 'issuer-b',
        subject_public_keys: [key.publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24,
      },
      undefined,
    );
    const sim = new SimulatedIssuer('issuer-b', [key], () => new Date());
    const files = [sim.next({ entries: 2 }), sim.next({ entries: 3 })].map((feed, i) => {
      const file = path.join(dir, `feed-${i + 1}.json`);
      fs.writeFileSync(file, JSON.stringify(feed, null, 2));
      return file;
    });

    const res = await accord('feed', 'import', files[0]!);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({
      accepted: true,
      status: 'imported',
      issuer_sovereign_id: 'issuer-b',
      sequence: 1,
      revoked_count: 2,
    });
    expect(importFeed(deps, JSON.parse(fs.readFileSync(files[1]!, 'utf8')), { actor: SYSTEM_ACTOR, via: 'admin' }).sequence).toBe(2);

    expect((await accord('feed', 'peer-add', 'issuer-b', 'http://127.0.0.1:9')).code).toBe(0);
    const peers = JSON.parse((await accord('feed', 'peers')).stdout) as { peers: Array<Record<string, unknown>> };
    expect(peers.peers).toEqual([
      expect.objectContaining({ sovereign_id: 'issuer-b', imported_sequence: 2, recognized: true, paused: false }),
    ]);

    const rolled = await accord('feed', 'rollback-import', '--issuer', 'issuer-b', '--to-sequence', '1');
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(JSON.parse(rolled.stdout)).toEqual({
      issuer_sovereign_id: 'issuer-b',
      from_sequence: 2,
      to_sequence: 1,
      removed_feeds: 1,
      removed_revocations: 3,
      paused: true,
    });

    const paused = await accord('feed', 'import', files[1]!);
    expect(paused.code).toBe(1);
    expect(paused.stderr).toMatch(/^accord: HTTP 423 issuer_paused/);

    const bad = await accord('feed', 'rollback-import', '--issuer', 'issuer-b', '--to-sequence', '-1');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('accord: --to-sequence must be a whole number ≥ 0\n');
  }, 120_000);
});
