// `accord mirror --output DIR` as a real process beside a running server (read-only on its database):
// the same feeds, checkpoints, tiles, bundles and Genesis Mesh snapshot as the live routes, byte for
// byte; a declaration and connectome of its own run that verify; a second run writes only those two.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePublicKey, verifySignedObject } from '../../src/authority/crypto.ts';
import { startCliAuthority, type CliAuthority } from '../helpers/cli-authority.ts';
import type { TestAuthority } from '../helpers/authority.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import { differencesFromLive, mirroredPaths } from './helpers.ts';

let na: CliAuthority;
beforeAll(async () => {
  na = await startCliAuthority('accord-mirror-cli-', 'mirror-cli');
  publishAtSizes({ db: na.running.db, deps: na.running.authority.deps } as unknown as TestAuthority, [2, 258, 520]);
});
afterAll(async () => {
  await na.close();
});

const DOCUMENTS = ['/.well-known/network-authority', '/connectome.json', '/connectome.json.gz'];

describe('accord mirror', () => {
  it('writes the live routes’ bytes; its own declaration and connectome verify', async () => {
    const output = path.join(na.dir, 'mirror');
    const run = await na.accord('mirror', '--output', output);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, number | string>;
    expect(report).toMatchObject({ output, sequence: 3, tree_size: 520 });
    expect(report.files_written).toBe(mirroredPaths(output).length);

    // Everything but the two documents signed or built at run time is the server's exact bytes.
    const live = async (p: string, headers: Record<string, string> = {}) => na.running.authority.app.request(p, { headers });
    const problems = await differencesFromLive(output, live);
    expect(problems.filter((p) => !DOCUMENTS.some((d) => p.startsWith(`${d}:`)))).toEqual([]);
    expect(mirroredPaths(output)).toEqual(expect.arrayContaining(['/revocation-feeds/3', '/log/tile/0/001', '/log/tile/entries/002.p/8']));

    const declaration = JSON.parse(fs.readFileSync(path.join(output, '.well-known/network-authority'), 'utf8'));
    const served = (await (await live('/.well-known/network-authority')).json()) as typeof declaration;
    expect({ ...declaration, issued_at: null, signatures: null }).toEqual({ ...served, issued_at: null, signatures: null });
    const keys = declaration.public_keys.map((k: { public_key: string }) => {
      const parsed = parsePublicKey(k.public_key);
      if (!parsed.ok) throw new Error('bad key');
      return parsed.key;
    });
    expect(verifySignedObject(declaration, keys).valid).toBe(true);
    const connectome = JSON.parse(fs.readFileSync(path.join(output, 'connectome.json'), 'utf8'));
    const liveConnectome = (await (await live('/connectome.json')).json()) as typeof connectome;
    expect(connectome.graph_digest).toBe(liveConnectome.graph_digest);
    expect(
      zlib
        .gunzipSync(fs.readFileSync(path.join(output, 'connectome.json.gz')))
        .equals(fs.readFileSync(path.join(output, 'connectome.json'))),
    ).toBe(true);

    // Again: the immutable files and the heads are in place; at most the two documents are rewritten.
    const again = await na.accord('mirror', '--output', output);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).files_written).toBeLessThanOrEqual(3);
  });

  it('refuses clearly when the database is missing, writing nothing', async () => {
    const output = path.join(na.dir, 'mirror-none');
    const run = await na.accord('mirror', '--output', output, '--db', path.join(na.dir, 'nope.db'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^accord: database .*nope\.db does not exist\n$/);
    expect(fs.existsSync(output)).toBe(false);
  });
});
