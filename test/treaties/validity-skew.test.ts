// ACCORD_VALIDITY_SKEW_S: the tolerance on both ends of accord/1 validity windows when verifying (default 0: exact windows).
import { afterEach, describe, expect, it } from 'vitest';
import { issueAttestation } from '../../src/treaties/attestations.ts';
import { issueTreaty } from '../../src/treaties/service.ts';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';
import { attestationInput, treatyInput } from './fixtures.ts';

const T0 = '2026-03-01T00:00:00Z';
const opened: TestAuthority[] = [];

/** A verifier A that recognizes B from T0 for 30 days; B issues an attestation valid 7 days from T0. */
function setup(skew?: number) {
  const a = createTestAuthority({
    sovereignId: 'na-a',
    now: '2026-02-01T00:00:00Z',
    ...(skew === undefined ? {} : { config: { validitySkewSeconds: skew } }),
  });
  const b = createTestAuthority({ sovereignId: 'na-b', now: T0 });
  opened.push(a, b);
  issueTreaty(
    a.deps,
    treatyInput({ subject_sovereign_id: 'na-b', subject_public_keys: [b.signingKey.publicKey], validity_hours: 24 * 60 }),
  );
  const attestation = issueAttestation(b.deps, attestationInput({ validity_hours: 24 * 7 }));
  const treaty = issueTreaty(b.deps, treatyInput({ subject_sovereign_id: 'peer-x', validity_hours: 24 * 7 }));
  const verify = async (path: string, body: unknown) => {
    const res = await a.app.request(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return (await res.json()) as { reason: string };
  };
  return {
    a,
    attestationAt: async (now: string) => {
      a.clock.set(now);
      return (await verify('/attestations/verify', { attestation })).reason;
    },
    treatyAt: async (now: string) => {
      a.clock.set(now);
      return (await verify('/recognition-treaties/verify', { treaty, issuer_public_keys: [b.signingKey.publicKey] })).reason;
    },
  };
}

afterEach(async () => {
  for (const t of opened.splice(0)) {
    await t.close();
    t.db.close();
  }
});

describe('accord/1 validity windows', () => {
  it('by default they are exact: valid_from included, expires_at excluded', async () => {
    const { attestationAt, treatyAt } = setup();
    for (const at of [attestationAt, treatyAt]) {
      expect(await at('2026-02-28T23:59:59Z')).toBe('not_yet_valid');
      expect(await at('2026-03-01T00:00:00Z')).toBe('accepted');
      expect(await at('2026-03-07T23:59:59Z')).toBe('accepted');
      expect(await at('2026-03-08T00:00:00Z')).toBe('expired');
    }
  });

  it('ACCORD_VALIDITY_SKEW_S widens both ends by that many seconds', async () => {
    const { attestationAt, treatyAt } = setup(120);
    for (const at of [attestationAt, treatyAt]) {
      expect(await at('2026-02-28T23:57:59Z')).toBe('not_yet_valid');
      expect(await at('2026-02-28T23:58:00Z')).toBe('accepted');
      expect(await at('2026-03-08T00:01:59Z')).toBe('accepted');
      expect(await at('2026-03-08T00:02:00Z')).toBe('expired');
    }
  });
});
