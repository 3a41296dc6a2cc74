// Read-only followers: a follower copies its primary over real HTTP and answers verification as the primary does, refuses writes naming the primary, reports its lag, refuses tampered updates and never signs.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { followerFiles, publishFollowerUpdates } from '../../src/follow/publish.ts';
import { readFollowerState } from '../../src/follow/store.ts';
import { revokeAttestation } from '../../src/treaties/attestations.ts';
import { revokeTreaty, supersedeTreaty } from '../../src/treaties/service.ts';
import { dbDigest } from '../helpers/authority.ts';
import { importVia } from '../feeds/simulated-issuer.ts';
import { closeAll, post, startNetwork, startTamperingProxy, startTestFollower, type Network } from './fixture.ts';

afterEach(closeAll);

/** The verify answers of the primary and the follower for every attestation and treaty, side by side. */
async function answers(network: Network, followerUrl: string): Promise<{ primary: string[]; follower: string[] }> {
  const primary: string[] = [];
  const follower: string[] = [];
  const requests: Array<[string, unknown]> = [
    ...network.attestations.map((attestation): [string, unknown] => ['/attestations/verify', { attestation }]),
    ...network.treaties.map((treaty): [string, unknown] => ['/recognition-treaties/verify', { treaty }]),
    // A forged one: same attestation, one role more, signature unchanged.
    ['/attestations/verify', { attestation: { ...network.attestations[0], roles: ['role:client', 'role:anchor'] } }],
  ];
  for (const [route, body] of requests) {
    const a = await post(`${network.url}${route}`, body);
    const b = await post(`${followerUrl}${route}`, body);
    primary.push(`${a.status} ${a.text}`);
    follower.push(`${b.status} ${b.text}`);
  }
  return { primary, follower };
}

function reasons(lines: string[]): string[] {
  return lines.map((l) => (JSON.parse(l.slice(4)) as { reason: string }).reason);
}

describe('a follower', () => {
  it('answers verification exactly as its primary, before and after a revocation, once caught up', async () => {
    const network = await startNetwork();
    const follower = await startTestFollower(network.url, network);
    expect(await follower.follower.pullOnce()).toBe('applied');

    const before = await answers(network, follower.url);
    expect(before.follower).toEqual(before.primary);
    expect(reasons(before.primary)).toEqual([
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'revoked_by_issuer_feed',
      'accepted',
      'accepted',
      'invalid_signature',
    ]);

    // The primary revokes one of its attestations, supersedes its treaty with south, and imports south's next feed.
    const operator = { label: network.primary.operator.label, keyId: network.primary.operator.key.keyId };
    revokeAttestation(network.primary.deps, String(network.attestations[1]!.attestation_id), { reason: 'key_compromise' }, operator);
    const treatyId = String(network.treaties[0]!.treaty_id);
    const superseded = supersedeTreaty(
      network.primary.deps,
      treatyId,
      {
        subject_sovereign_id: 'south',
        subject_public_keys: [network.south.signingKey.publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24 * 30,
      },
      operator,
    );
    network.treaties.push(superseded.treaty as unknown as Record<string, unknown>);
    const southFeed = network.southFeeds.next({
      entries: [network.southFeeds.revocation({ id: String(network.attestations[5]!.attestation_id) })],
    });
    expect((await importVia(network.primary, southFeed)).status).toBe(200);

    // Published, but not yet pulled: the follower still answers from the copy it holds.
    network.publish();
    const stale = await answers(network, follower.url);
    expect(stale.follower).not.toEqual(stale.primary);

    expect(await follower.follower.pullOnce()).toBe('applied');
    const after = await answers(network, follower.url);
    expect(after.follower).toEqual(after.primary);
    expect(reasons(after.primary)).toEqual([
      'accepted',
      'revoked',
      'accepted',
      'accepted',
      'accepted',
      'revoked_by_issuer_feed',
      'revoked_by_issuer_feed',
      'accepted',
      'revoked',
      'accepted',
      'invalid_signature',
    ]);

    // The public reads it copies are the primary's bytes.
    for (const route of [
      '/.well-known/network-authority',
      '/revocation-feeds/latest',
      '/revocation-feeds/1',
      '/revocation-feeds?since=0',
      '/recognition-treaties',
      `/recognition-treaties/${treatyId}`,
      '/log/checkpoints/1',
      '/log/tile/0/000.p/2',
    ]) {
      const [a, b] = await Promise.all([fetch(`${network.url}${route}`), fetch(`${follower.url}${route}`)]);
      expect(b.status, route).toBe(a.status);
      expect(await b.text(), route).toBe(await a.text());
    }

    // Nothing new: the next pull applies nothing.
    expect(await follower.follower.pullOnce()).toBe('current');
  });

  it('refuses admin routes, writes and primary-only reads with read_only_follower naming the primary', async () => {
    const network = await startNetwork();
    const follower = await startTestFollower(network.url, network);
    await follower.follower.pullOnce();
    const digest = dbDigest(follower.db, []);
    for (const [method, route] of [
      ['GET', '/admin/audit'],
      ['POST', '/admin/attestations'],
      ['POST', '/admin/revocation-feeds/publish'],
      ['POST', '/revocation-feeds/receipts'],
      ['POST', '/witness/add-checkpoint'],
      ['GET', '/connectome.json'],
      ['GET', '/follower/updates/latest'],
      ['DELETE', '/recognition-treaties/x'],
    ] as const) {
      const res = await fetch(`${follower.url}${route}`, {
        method,
        ...(method === 'GET' ? {} : { body: '{}', headers: { 'content-type': 'application/json' } }),
      });
      const body = (await res.json()) as { error: { code: string; message: string; details: { primary: string } } };
      expect(res.status, route).toBe(403);
      expect(body.error.code).toBe('read_only_follower');
      expect(body.error.details.primary).toBe(network.url);
      expect(body.error.message).toContain(network.url);
    }
    expect(dbDigest(follower.db, [])).toBe(digest);
  });

  it('reports its lag, applied and announced sequences in /readyz and /metrics', async () => {
    const network = await startNetwork();
    const follower = await startTestFollower(network.url, network);
    const fresh = (await (await fetch(`${follower.url}/readyz`)).json()) as { status: string; checks: Record<string, string> };
    expect(fresh.status).toBe('not_ready');
    expect(fresh.checks.replication).toBe('no_copy_yet');

    await follower.follower.pullOnce();
    network.primary.clock.advance(3);
    const ready = await fetch(`${follower.url}/readyz`);
    const body = (await ready.json()) as { status: string; role: string; follow: Record<string, unknown> };
    expect(ready.status).toBe(200);
    expect(body.role).toBe('follower');
    expect(body.follow).toMatchObject({
      primary: network.url,
      condition: 'following',
      applied_sequence: 1,
      primary_sequence: 1,
      lag_seconds: 3,
      stale: false,
    });
    const metrics = await (await fetch(`${follower.url}/metrics`)).text();
    expect(metrics).toMatch(/^accord_follower_lag_seconds 3$/m);
    expect(metrics).toMatch(/^accord_follower_applied_sequence 1$/m);
    expect(metrics).toMatch(/^accord_follower_pulls_total\{outcome="applied"\} 1$/m);

    // The primary goes away: the follower keeps serving its copy; its lag grows; past next_update it is stale.
    await network.close();
    expect(await follower.follower.pullOnce()).toBe('unreachable');
    network.primary.clock.advance(60);
    const down = (await (await fetch(`${follower.url}/readyz`)).json()) as { status: string; follow: Record<string, unknown> };
    expect(down.status).toBe('ready');
    expect(down.follow).toMatchObject({ condition: 'primary_unreachable', lag_seconds: 63 });
    expect((await post(`${follower.url}/attestations/verify`, { attestation: network.attestations[0] })).text).toContain('"accepted":true');
    network.primary.clock.advance(2 * 86400);
    const stale = await fetch(`${follower.url}/readyz`);
    expect(stale.status).toBe(503);
    expect(((await stale.json()) as { checks: Record<string, string> }).checks.replication).toBe('stale');
    expect(await (await fetch(`${follower.url}/metrics`)).text()).toMatch(/^accord_follower_stale 1$/m);
  });

  it('refuses a tampered update and applies nothing of it', async () => {
    const network = await startNetwork();
    const proxy = await startTamperingProxy(network.url);
    const follower = await startTestFollower(proxy.url, network);
    expect(await follower.follower.pullOnce()).toBe('applied');

    revokeAttestation(network.primary.deps, String(network.attestations[0]!.attestation_id), { reason: 'key_compromise' });
    network.publish();
    const digest = dbDigest(follower.db, []);
    const tampers: Array<[string, (body: string) => string]> = [
      // The revocation swapped for another reason: the signature no longer verifies.
      ['invalid_signature', (body) => body.replace('key_compromise', 'unspecified')],
      // The signature swapped for other bytes.
      ['invalid_signature', (body) => body.replace(/"sig":"[^"]+"/, `"sig":"${Buffer.alloc(64, 7).toString('base64')}"`)],
      ['malformed_update', (body) => `${body} `],
      ['malformed_update', () => '{"type":"follower_update"}'],
    ];
    for (const [reason, tamper] of tampers) {
      proxy.tamper = tamper;
      expect(await follower.follower.pullOnce()).toBe('refused');
      expect(dbDigest(follower.db, [])).toBe(digest);
      const ready = (await (await fetch(`${follower.url}/readyz`)).json()) as {
        follow: { condition: string; last_error: { reason: string } };
      };
      expect(ready.follow.condition).toBe('refusing');
      expect(ready.follow.last_error.reason).toBe(reason);
    }
    // Still the old answer: the revocation was not applied.
    expect((await post(`${follower.url}/attestations/verify`, { attestation: network.attestations[0] })).text).toContain('"accepted":true');
    expect(await (await fetch(`${follower.url}/metrics`)).text()).toMatch(
      /^accord_follower_refused_updates_total\{reason="invalid_signature"\} 2$/m,
    );

    proxy.tamper = null;
    expect(await follower.follower.pullOnce()).toBe('applied');
    expect((await post(`${follower.url}/attestations/verify`, { attestation: network.attestations[0] })).text).toContain(
      '"reason":"revoked"',
    );
  });

  it('refuses an update out of sequence or not chained to the last one', async () => {
    const network = await startNetwork();
    const proxy = await startTamperingProxy(network.url);
    const follower = await startTestFollower(proxy.url, network);
    await follower.follower.pullOnce();
    revokeTreaty(network.primary.deps, String(network.treaties[0]!.treaty_id), { reason: 'unspecified' });
    network.publish();
    const second = (await (await fetch(`${network.url}/follower/updates/2`)).text()) as string;
    const digest = dbDigest(follower.db, []);
    proxy.tamper = () => (JSON.parse(second) as { sequence: number }) && second.replace('"sequence":2', '"sequence":3');
    expect(await follower.follower.pullOnce()).toBe('refused');
    expect(dbDigest(follower.db, [])).toBe(digest);
    proxy.tamper = null;
    expect(await follower.follower.pullOnce()).toBe('applied');
    expect(readFollowerState(follower.db.sqlite)?.applied_sequence).toBe(2);
  });

  it('pins --key: refuses to start when the declaration is not signed by it, and follows when it is', async () => {
    const network = await startNetwork();
    await expect(startTestFollower(network.url, network, { keys: [network.south.signingKey.publicKey] })).rejects.toThrow(
      /not signed by the --key/,
    );
    const follower = await startTestFollower(network.url, network, { keys: [network.primary.signingKey.publicKey] });
    expect(await follower.follower.pullOnce()).toBe('applied');
    expect(readFollowerState(follower.db.sqlite)?.pinned_by).toBe('command_line');
  });

  it('never signs: no signing key, none on disk, and everything it serves carries only the primary signatures', async () => {
    const network = await startNetwork();
    const follower = await startTestFollower(network.url, network);
    await follower.follower.pullOnce();
    const deps = follower.authority.deps;
    expect(deps.identity.signingKeys).toEqual([]);
    expect(follower.db.sqlite.prepare('SELECT count(*) AS n FROM authority_signing_keys').get()).toEqual({ n: 0 });
    const dataDir = path.dirname(follower.db.sqlite.name);
    expect(fs.readdirSync(dataDir).filter((f) => !f.startsWith('accord.db'))).toEqual([]);
    expect(() => publishFeeds(deps, { trigger: 'admin' })).toThrow(/no signing key/);
    expect(() => publishFollowerUpdates(deps)).toThrow(/no signing key/);
    // Its served declaration and feeds are the primary's, byte for byte.
    for (const route of ['/.well-known/network-authority', '/revocation-feeds/latest']) {
      expect(await (await fetch(`${follower.url}${route}`)).text()).toBe(await (await fetch(`${network.url}${route}`)).text());
    }
    const decl = (await (await fetch(`${follower.url}/.well-known/network-authority`)).json()) as { signatures: Array<{ key_id: string }> };
    expect(decl.signatures.map((s) => s.key_id)).toEqual([network.primary.signingKey.keyId]);
  });

  it('refuses to serve a primary database, and a primary refuses to serve a follower database', async () => {
    const network = await startNetwork();
    const follower = await startTestFollower(network.url, network);
    const followerDb = follower.db.sqlite.name;
    await follower.close();
    const { startAuthority, startFollower } = await import('../../src/server/server.ts');
    const { defaultConfig } = await import('../../src/authority/config.ts');
    const primaryDb = network.primary.db.sqlite.name;
    await expect(
      startFollower(defaultConfig({ dataDir: path.dirname(primaryDb), dbPath: primaryDb, port: 0, logLevel: 'silent' }), {
        url: network.url,
        pull: false,
      }),
    ).rejects.toThrow(/belongs to an authority/);
    await expect(
      startAuthority(defaultConfig({ dataDir: path.dirname(followerDb), dbPath: followerDb, port: 0, logLevel: 'silent' }), {
        background: false,
      }),
    ).rejects.toThrow(/follower's copy/);
  });

  it('publishes the updates as mirror files with the bytes the routes serve', async () => {
    const network = await startNetwork();
    revokeAttestation(network.primary.deps, String(network.attestations[2]!.attestation_id), { reason: 'unspecified' });
    network.publish();
    const files = [...followerFiles(network.primary.deps)];
    expect(files.map(([p]) => p)).toEqual(['follower/updates/1', 'follower/updates/2', 'follower/updates/latest']);
    for (const [file, bytes] of files) expect(bytes.toString('utf8')).toBe(await (await fetch(`${network.url}/${file}`)).text());
    const latest = JSON.parse(files[2]![1].toString('utf8')) as Record<string, unknown>;
    expect(canonicalJson(latest)).toBe(files[2]![1].toString('utf8'));
    // A heartbeat only when next_update nears: publishing again with nothing new signs nothing.
    expect(publishFollowerUpdates(network.primary.deps).published).toEqual([]);
    network.primary.clock.advance(86400 / 2 + 1);
    expect(publishFollowerUpdates(network.primary.deps).published).toEqual([3]);
  });
});
