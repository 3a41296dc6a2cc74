// Drill: ops/runbooks/revocation-blast-radius.md with two real authorities. A revokes an attestation;
// its blast radius names B (who recognizes A) as a direct acceptor that has not caught up; B pulls,
// its signed receipt reaches A, and the review shows B caught up at the publishing sequence.
import { afterAll, describe, expect, it } from 'vitest';
import { DrillAuthority, removeDrillDirs } from './harness.ts';

const RARELY = '0 0 1 1 *';
let a: DrillAuthority;
let b: DrillAuthority;

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  removeDrillDirs();
});

type Item = {
  id: string;
  affected_accepting_sovereigns: string[];
  propagation: Array<{ sovereign_id: string; caught_up: boolean; acknowledged_sequence: number | null }>;
};

describe('drill: revocation blast-radius review', () => {
  it('who accepted the revoked material, and who has caught up', async () => {
    const quiet = { ACCORD_FEED_PULL_CRON: RARELY, ACCORD_FEED_PUBLISH_CRON: RARELY };
    a = await DrillAuthority.create('drill-a', quiet);
    b = await DrillAuthority.create('drill-b', quiet);
    await Promise.all([a.start(), b.start()]);

    // Mutual recognition and peering; A mirrors B's treaties (so A's connectome sees B → A).
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const treaty = await from.admin('POST', '/admin/recognition-treaties', {
        subject_sovereign_id: to.sovereignId,
        subject_public_keys: [to.signingKey().publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24 * 30,
      });
      expect(treaty.status).toBe(201);
      expect((await from.admin('POST', '/admin/peers', { sovereign_id: to.sovereignId, base_url: to.url })).status).toBe(201);
    }
    expect((await b.admin('POST', '/admin/peers/drill-a/pull')).status).toBe(200);
    expect((await a.admin('POST', '/admin/peers/drill-b/pull')).status).toBe(200);
    const attestation = (await a.admin('POST', '/admin/attestations', { subject_id: 'node-7', roles: ['role:client'], validity_hours: 48 }))
      .body;

    // The revocation under review.
    const revoked = await a.cli(['attestation', 'revoke', attestation.attestation_id, '--reason', 'key_compromise', '--incident', 'INC-7']);
    expect(revoked.code).toBe(0);

    // Identify and contain: the revocation is published.
    expect((await a.cli(['feed', 'publish'])).code).toBe(0);
    const shown = await a.cli(['feed', 'show']);
    const sequence = shown.json<{ sequence: number }>().sequence;
    const material = (await a.get('/connectome.json')).body.revoked_trust_material as Array<{ id: string }>;
    expect(material.map((m) => m.id)).toContain(attestation.attestation_id);

    // Investigate: B accepted A's material directly and has not caught up.
    const item = async (): Promise<Item> => (await a.get(`/connectome/blast-radius?id=${attestation.attestation_id}`)).body as Item;
    const before = await item();
    expect(before.affected_accepting_sovereigns).toEqual(['drill-b']);
    expect(before.propagation).toEqual([expect.objectContaining({ sovereign_id: 'drill-b', caught_up: false })]);
    const receipts = await a.cli(['admin', 'GET', '/admin/revocation-feeds/receipts']);
    expect(receipts.code).toBe(0);
    expect(receipts.json<{ latest_sequence: number }>().latest_sequence).toBe(sequence);

    // Recover: B pulls; its receipt reaches A; the review shows B caught up.
    expect((await b.cli(['feed', 'pull', 'drill-a'])).code).toBe(0);
    const after = await a.until(async () => {
      const current = await item();
      return current.propagation[0]?.caught_up ? current : undefined;
    }, 'drill-b to catch up');
    expect(after.propagation).toEqual([{ sovereign_id: 'drill-b', caught_up: true, acknowledged_sequence: sequence }]);
  }, 180_000);
});
