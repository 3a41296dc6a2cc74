// Drill: ops/runbooks/signing-key-rotation.md with two real authorities. A planned rotation keeps the
// importer working through the overlap (feeds carry both signatures); an emergency rotation (overlap
// 0, key_compromise) makes the importer refuse A's feeds until its operator verifies the new key out
// of band and supersedes the treaty that pins A. A restart of A loads only the keys that still sign.
import { afterAll, describe, expect, it } from 'vitest';
import { DrillAuthority, removeDrillDirs } from './harness.ts';

const RARELY = '0 0 1 1 *';
let a: DrillAuthority;
let b: DrillAuthority;

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  removeDrillDirs();
});

type Declaration = { public_keys: Array<{ key_id: string; public_key: string; not_after?: string }> };

describe('drill: signing-key rotation', () => {
  it('overlap keeps peers working; a compromised key is cut off until the peer re-pins out of band', async () => {
    const quiet = { ACCORD_FEED_PULL_CRON: RARELY, ACCORD_FEED_PUBLISH_CRON: RARELY };
    a = await DrillAuthority.create('drill-rot-a', quiet);
    b = await DrillAuthority.create('drill-rot-b', quiet);
    await Promise.all([a.start(), b.start()]);
    const key1 = a.signingKey();
    const pin = await b.admin('POST', '/admin/recognition-treaties', {
      subject_sovereign_id: 'drill-rot-a',
      subject_public_keys: [key1.publicKey],
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 24 * 30,
    });
    expect(pin.status).toBe(201);
    expect((await b.admin('POST', '/admin/peers', { sovereign_id: 'drill-rot-a', base_url: a.url })).status).toBe(201);
    const pull = async () => (await b.admin('POST', '/admin/peers/drill-rot-a/pull')).body;
    const imported = async () =>
      (await b.admin('GET', '/admin/revocation-feeds/issuers')).body.issuers.find(
        (i: { issuer_sovereign_id: string }) => i.issuer_sovereign_id === 'drill-rot-a',
      )?.imported_sequence as number;
    await pull();
    const oldAttestation = (
      await a.admin('POST', '/admin/attestations', { subject_id: 'node-old', roles: ['role:client'], validity_hours: 48 })
    ).body;

    // Planned rotation with an overlap: both keys declared, feeds co-signed, B keeps importing with only key1 pinned.
    const planned = await a.cli(['keys', 'rotate', '--overlap-days', '7']);
    expect(planned.code).toBe(0);
    const key2 = planned.json<{ new_key: { key_id: string } }>().new_key.key_id;
    const decl = (await a.get('/.well-known/network-authority')).body as Declaration;
    expect(decl.public_keys.map((k) => [k.key_id, k.not_after !== undefined])).toEqual([
      [key1.keyId, true],
      [key2, false],
    ]);
    expect(
      (await a.admin('POST', '/admin/attestations', { subject_id: 'node-x', roles: ['role:client'], validity_hours: 48 })).status,
    ).toBe(201);
    const published = await a.admin('POST', '/admin/revocation-feeds/publish', { heartbeat: true });
    const overlapSequence: number = published.body.latest_sequence;
    const overlapFeed = (await a.get(`/revocation-feeds/${overlapSequence}`)).body as { signatures: Array<{ key_id: string }> };
    expect(overlapFeed.signatures.map((s) => s.key_id)).toEqual([key2, key1.keyId]);
    await pull();
    expect(await imported()).toBe(overlapSequence);

    // Emergency: the keys are compromised. Rotate with no overlap; both old keys are retired and revoked.
    const emergency = await a.cli(['keys', 'rotate', '--overlap-days', '0', '--reason', 'key_compromise']);
    expect(emergency.code).toBe(0);
    const rotation = emergency.json<{ new_key: { key_id: string; public_key: string }; retired: Array<{ key_id: string }> }>();
    expect(rotation.retired.map((r) => r.key_id).sort()).toEqual([key1.keyId, key2].sort());
    expect((await a.cli(['feed', 'publish'])).code).toBe(0);
    const cutSequence = (await a.get('/revocation-feeds/latest')).body as {
      sequence: number;
      entries: Array<{ kind: string; id: string; reason: string }>;
      signatures: Array<{ key_id: string }>;
    };
    expect(cutSequence.signatures.map((s) => s.key_id)).toEqual([rotation.new_key.key_id]);
    expect(
      cutSequence.entries
        .filter((e) => e.kind === 'public_key')
        .map((e) => [e.id, e.reason])
        .sort(),
    ).toEqual(
      [
        [key1.keyId, 'key_compromise'],
        [key2, 'key_compromise'],
      ].sort(),
    );

    // B never accepts the new key from the feed it signs: the import is refused and B stays where it was.
    await pull();
    expect(await imported()).toBe(overlapSequence);
    const rejected = (await b.admin('GET', '/admin/audit?event_type=sovereign_revocation_feed_rejected')).body.events as Array<{
      details: { sequence: number; reason: string };
    }>;
    expect(rejected.at(-1)!.details).toMatchObject({ sequence: cutSequence.sequence, reason: 'invalid_signature' });

    // The peers' runbook: verify the new key out of band (here: the key_id A's operator read out from
    // the rotation, compared with A's declaration), then supersede the pinning treaty.
    const declared = ((await a.get('/.well-known/network-authority')).body as Declaration).public_keys;
    expect(declared).toEqual([{ key_id: rotation.new_key.key_id, public_key: rotation.new_key.public_key }]);
    const superseded = await b.cli([
      'treaty',
      'supersede',
      pin.body.treaty_id,
      b.writeJson('repin.json', {
        subject_public_keys: [declared[0]!.public_key],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24 * 30,
      }),
    ]);
    expect(superseded.code).toBe(0);
    await pull();
    expect(await imported()).toBe(cutSequence.sequence);

    // Objects signed by the retired key no longer verify at B; objects of the new key do.
    const fresh = (await a.admin('POST', '/admin/attestations', { subject_id: 'node-new', roles: ['role:client'], validity_hours: 48 }))
      .body;
    expect(fresh.issued_by).toBe(rotation.new_key.key_id);
    const [oldCheck, freshCheck] = await Promise.all([
      b.cli(['attestation', 'verify', b.writeJson('old.json', oldAttestation)]),
      b.cli(['attestation', 'verify', b.writeJson('fresh.json', fresh)]),
    ]);
    expect(oldCheck.code).toBe(2);
    expect(freshCheck.code).toBe(0);

    // A restart loads only the key that still signs (the configured key file holds a retired key).
    expect(await a.stop()).toBe(0);
    await a.start();
    expect(((await a.get('/.well-known/network-authority')).body as Declaration).public_keys.map((k) => k.key_id)).toEqual([
      rotation.new_key.key_id,
    ]);
    expect((await a.get('/readyz')).status).toBe(200);
  }, 240_000);
});
