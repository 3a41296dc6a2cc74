// `accord connectome` as a real subprocess against a real authority on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../cli/run.ts';
import { startNode, type Node } from '../feeds/network.ts';
import { seedHub, type SeededHub } from './seed.ts';

let hub: Node;
let seeded: SeededHub;

beforeAll(async () => {
  hub = await startNode('hub');
  seeded = await seedHub(hub);
});

afterAll(async () => {
  await hub.stop();
});

const accord = (...args: string[]) => run(['connectome', '--url', hub.url, ...args], {});

describe('accord connectome', () => {
  it('prints /connectome.json byte for byte, the blast radius of one item, and a trust path', async () => {
    const [whole, blast, path] = await Promise.all([
      accord(),
      accord('--blast-radius', seeded.importedAttestationId),
      accord('--trust-path', 'hub', 'peer-b'),
    ]);
    expect(whole.code, whole.stderr).toBe(0);
    const served = await (await fetch(`${hub.url}/connectome.json`)).text();
    expect(whole.stdout).toBe(`${served}\n`);

    expect(blast.code, blast.stderr).toBe(0);
    expect(JSON.parse(blast.stdout)).toMatchObject({
      id: seeded.importedAttestationId,
      issuer_sovereign_id: 'peer-b',
      affected_accepting_sovereigns: ['hub'],
    });

    expect(path.code, path.stderr).toBe(0);
    expect(JSON.parse(path.stdout)).toMatchObject({ from: 'hub', to: 'peer-b', trusted: true, reason: 'active_treaty_path', hop_count: 1 });
  });

  it('fails with one line and a non-zero exit for unknown items, bad arguments and an unreachable authority', async () => {
    const [missing, both, one, unreachable] = await Promise.all([
      accord('--blast-radius', 'no-such-item'),
      accord('--blast-radius', 'x', '--trust-path', 'a', 'b'),
      accord('--trust-path', 'hub'),
      run(['connectome', '--url', 'http://127.0.0.1:9'], {}),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('accord: HTTP 404 revoked_item_not_found: no revoked item with this id (id: no-such-item)\n');
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/either --blast-radius or --trust-path/);
    expect(one.code).toBe(1);
    expect(one.stderr).toMatch(/FROM TO/);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^accord: cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});
