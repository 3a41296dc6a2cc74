// A follower that follows the primary's static mirror served by a real nginx (the shipped
// ops/nginx/accord-mirror.conf), never the primary itself: it pins the keys of the declaration nginx
// serves and answers verification exactly as the primary does, before and after a revocation.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { followerFiles } from '../../src/follow/publish.ts';
import { authorityMirrorInputs } from '../../src/mirror/inputs.ts';
import { MirrorWriter } from '../../src/mirror/mirror.ts';
import { revokeAttestation } from '../../src/treaties/attestations.ts';
import { closeAll, post, startNetwork, startTestFollower, tempDir, type Network } from '../follow/fixture.ts';
import { NGINX_AVAILABLE, needNginx, startNginx, type RunningNginx } from '../helpers/nginx.ts';

let nginx: RunningNginx | null = null;

afterAll(async () => {
  await nginx?.stop();
  await closeAll();
});

/** Verify answers (status and exact body) of every attestation and treaty of the network at `base`. */
async function answers(base: string, network: Network): Promise<string[]> {
  const out: string[] = [];
  for (const attestation of network.attestations) {
    const res = await post(`${base}/attestations/verify`, { attestation });
    out.push(`${res.status} ${res.text}`);
  }
  for (const treaty of network.treaties) {
    const res = await post(`${base}/recognition-treaties/verify`, { treaty });
    out.push(`${res.status} ${res.text}`);
  }
  return out;
}

describe('a follower of a mirror behind nginx', () => {
  it('follows through nginx and answers verify as the primary across a revocation', async (ctx) => {
    needNginx(ctx);
    if (!NGINX_AVAILABLE) return;
    const network = await startNetwork();
    const root = tempDir('follow-nginx');
    // nginx's worker user reads the mirror: the temp dir is made private by mkdtemp.
    fs.chmodSync(root, 0o755);
    const mirrorDir = path.join(root, 'mirror');
    const writer = new MirrorWriter(
      mirrorDir,
      authorityMirrorInputs(network.primary.deps, () => followerFiles(network.primary.deps)),
    );
    await writer.sync();
    nginx = await startNginx(mirrorDir);

    const follower = await startTestFollower(nginx.url, network);
    expect(await follower.follower.pullOnce()).toBe('applied');
    const before = await answers(network.url, network);
    expect(await answers(follower.url, network)).toEqual(before);
    expect(before[0]).toContain('"reason":"accepted"');

    // The primary revokes; until the mirror is updated the follower (behind nginx) has nothing new.
    revokeAttestation(network.primary.deps, String(network.attestations[0]!.attestation_id), { reason: 'key_compromise' });
    network.publish();
    const after = await answers(network.url, network);
    expect(after[0]).toContain('"reason":"revoked"');
    expect(await follower.follower.pullOnce()).toBe('current');
    expect((await answers(follower.url, network))[0]).toContain('"reason":"accepted"');

    await writer.sync();
    expect(await follower.follower.pullOnce()).toBe('applied');
    expect(await answers(follower.url, network)).toEqual(after);

    // Everything it read came through nginx: the primary's address is not the one it follows.
    const ready = (await (await fetch(`${follower.url}/readyz`)).json()) as { follow: { primary: string } };
    expect(ready.follow.primary).toBe(nginx.url);
    expect(nginx.errorLog()).not.toMatch(/\[(?:crit|alert|emerg)\]/);
  }, 120_000);
});
