// Seeds a test authority with real trust state for connectome route tests: treaties, own and imported revocations.
import { importVia, recognize, SimulatedIssuer } from '../feeds/simulated-issuer.ts';
import { revokeTreaty } from '../../src/treaties/service.ts';
import { issueAttestation, revokeAttestation } from '../../src/treaties/attestations.ts';
import { testKey, type TestAuthority } from '../helpers/authority.ts';

export interface SeededHub {
  /** Treaty ids by subject. */
  treaties: Record<string, string>;
  /** An attestation peer-b revoked, learned from its feed. */
  importedAttestationId: string;
  /** This authority's own revoked attestation. */
  ownAttestationId: string;
  /** This authority's revoked treaty (hub → peer-c). */
  revokedTreatyId: string;
  issuerB: SimulatedIssuer;
}

export const operatorOf = (a: TestAuthority) => ({ label: a.operator.label, keyId: a.operator.key.keyId });

/**
 * hub recognizes peer-b, peer-c and peer-d; peer-b's feed (imported) revokes one attestation; hub
 * revokes one of its own attestations and its treaty for peer-c.
 */
export async function seedHub(hub: TestAuthority): Promise<SeededHub> {
  const keyB = testKey('sovereign:peer-b');
  const treaties: Record<string, string> = {};
  for (const subject of ['peer-b', 'peer-c', 'peer-d']) treaties[subject] = recognize(hub, subject, [testKey(`sovereign:${subject}`)]);

  const issuerB = new SimulatedIssuer('peer-b', [keyB], hub.clock);
  const entry = issuerB.revocation();
  const res = await importVia(hub, issuerB.next({ entries: [entry] }));
  if (res.status !== 200) throw new Error(`import failed: ${res.status} ${await res.text()}`);

  const own = issueAttestation(hub.deps, { subject_id: 'node-7', roles: ['role:client'], validity_hours: 24 * 7 }, operatorOf(hub));
  revokeAttestation(hub.deps, own.attestation_id, { reason: 'key_compromise' }, operatorOf(hub));
  revokeTreaty(hub.deps, treaties['peer-c']!, { reason: 'privilege_withdrawn' }, operatorOf(hub));

  return { treaties, importedAttestationId: entry.id, ownAttestationId: own.attestation_id, revokedTreatyId: treaties['peer-c']!, issuerB };
}
