// Shared inputs for treaty and attestation tests: deterministic subject keys and issue bodies.
import { testKey } from '../helpers/authority.ts';

export const subjectKey = testKey('subject:peer-b');
export const subjectKey2 = testKey('subject:peer-b:2');

/** Issue body for a treaty recognizing `subject` (default peer-b) for one role for 30 days. */
export function treatyInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    subject_sovereign_id: 'peer-b',
    subject_public_keys: [subjectKey.publicKey],
    scope: { allowed_roles: ['role:client'] },
    validity_hours: 24 * 30,
    ...overrides,
  };
}

export function attestationInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    subject_id: 'node-17',
    roles: ['role:client'],
    validity_hours: 24 * 7,
    ...overrides,
  };
}
