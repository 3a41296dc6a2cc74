// A small real network for the dashboard: four authorities on loopback, leaf sovereigns, every edge state, revocations.
import { runPullJob } from '../../src/feeds/pull.ts';
import { issueAttestation, revokeAttestation } from '../../src/treaties/attestations.ts';
import { revokeTreaty } from '../../src/treaties/service.ts';
import { advanceAll, recognizeAndPeer, startNode, type Node } from '../feeds/network.ts';
import { recognize } from '../feeds/simulated-issuer.ts';
import { testKey } from '../helpers/authority.ts';
import { operatorOf } from '../connectome/seed.ts';

export interface SeededNetwork {
  hub: Node;
  nodes: Node[];
  /** Hub's own revoked attestation: north caught up, south did not. */
  ownAttestationId: string;
  /** An attestation north revoked, imported by hub. */
  importedAttestationId: string;
  /** Hub's revoked treaty for east. */
  revokedTreatyId: string;
  stop(): Promise<void>;
}

async function publish(n: Node): Promise<void> {
  const res = await n.admin('POST', '/admin/revocation-feeds/publish');
  if (res.status !== 200) throw new Error(`publish failed on ${n.sovereignId}: ${res.status}`);
}

function revokeOwnAttestation(n: Node, subject: string): string {
  const a = issueAttestation(n.deps, { subject_id: subject, roles: ['role:client'], validity_hours: 24 * 7 }, operatorOf(n));
  revokeAttestation(n.deps, a.attestation_id, { reason: 'key_compromise' }, operatorOf(n));
  return a.attestation_id;
}

function leaves(n: Node, prefix: string, count: number, overrides: (i: number) => Record<string, unknown> = () => ({})): void {
  for (let i = 1; i <= count; i++) recognize(n, `${prefix}-${i}`, [testKey(`leaf:${prefix}-${i}`)], overrides(i));
}

/**
 * hub ⇄ north, hub ⇄ south, hub → east, east → south; leaf sovereigns under each; an expiring,
 * an expired and a not-yet-valid treaty; north revokes an attestation (imported by hub); hub revokes
 * an attestation (north pulls it, south does not) and its treaty for east; south's feed is paused at
 * hub and east's feed goes stale.
 */
export async function seedNetwork(): Promise<SeededNetwork> {
  const hub = await startNode('hub.example');
  const north = await startNode('north.example');
  const south = await startNode('south.example');
  const east = await startNode('east.example', { config: { feedNextUpdateSeconds: 3600 } });
  const nodes = [hub, north, south, east];

  await recognizeAndPeer(hub, north);
  await recognizeAndPeer(hub, south);
  await recognizeAndPeer(hub, east);
  await recognizeAndPeer(north, hub);
  await recognizeAndPeer(south, hub);
  recognize(east, south.sovereignId, [south.signingKey]);
  recognize(hub, 'legacy.example', [testKey('leaf:legacy')], { validity_hours: 1 });
  leaves(north, 'n', 6, (i) => (i === 1 ? { validity_hours: 50 } : {}));
  leaves(south, 's', 6, (i) => (i === 6 ? { valid_from: '2026-03-10T00:00:00Z' } : {}));
  leaves(east, 'e', 5);

  for (const n of nodes) await publish(n);
  for (const n of [north, south]) await runPullJob(n.deps);

  const importedAttestationId = revokeOwnAttestation(north, 'north-device');
  await publish(north);
  await runPullJob(hub.deps);

  const ownAttestationId = revokeOwnAttestation(hub, 'hub-device');
  const revokedTreatyId = (
    hub.db.sqlite.prepare("SELECT treaty_id FROM treaties WHERE subject_sovereign_id = 'east.example'").get() as { treaty_id: string }
  ).treaty_id;
  revokeTreaty(hub.deps, revokedTreatyId, { reason: 'key_compromise' }, operatorOf(hub));
  await publish(hub);
  await runPullJob(north.deps);

  const pause = await hub.admin('POST', '/admin/peers/south.example/pause');
  if (pause.status !== 200) throw new Error(`pause failed: ${pause.status}`);
  advanceAll(nodes, 2 * 3600); // legacy's treaty expires, east's feed goes stale

  return {
    hub,
    nodes,
    ownAttestationId,
    importedAttestationId,
    revokedTreatyId,
    stop: async () => {
      for (const n of nodes) await n.stop();
    },
  };
}
