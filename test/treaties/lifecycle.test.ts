import { describe, expect, it } from 'vitest';
import { lifecycleAt } from '../../src/treaties/lifecycle.ts';

const window = { valid_from: '2026-03-01T00:00:00Z', expires_at: '2026-03-10T00:00:00Z', revocation: null };
const at = (ts: string) => new Date(ts);

describe('lifecycle at a clock time', () => {
  it.each([
    ['2026-02-28T23:59:59Z', { state: 'not_yet_valid', expiry_risk: 'low', seconds_until_expiry: 9 * 86400 + 1 }],
    ['2026-03-01T00:00:00Z', { state: 'active', expiry_risk: 'low', seconds_until_expiry: 9 * 86400 }],
    ['2026-03-06T23:59:59Z', { state: 'active', expiry_risk: 'low', seconds_until_expiry: 72 * 3600 + 1 }],
    ['2026-03-07T00:00:00Z', { state: 'expiring_soon', expiry_risk: 'medium', seconds_until_expiry: 72 * 3600 }],
    ['2026-03-08T23:59:59Z', { state: 'expiring_soon', expiry_risk: 'medium', seconds_until_expiry: 24 * 3600 + 1 }],
    ['2026-03-09T00:00:00Z', { state: 'expiring_soon', expiry_risk: 'high', seconds_until_expiry: 24 * 3600 }],
    ['2026-03-09T23:59:59Z', { state: 'expiring_soon', expiry_risk: 'high', seconds_until_expiry: 1 }],
    ['2026-03-10T00:00:00Z', { state: 'expired', expiry_risk: 'none', seconds_until_expiry: 0 }],
  ])('at %s', (time, expected) => {
    expect(lifecycleAt(window, at(time))).toEqual(expected);
  });

  it('revoked and replaced take precedence over time, with no expiry risk and no countdown', () => {
    expect(lifecycleAt({ ...window, revocation: { replaced_by: null } }, at('2026-03-20T00:00:00Z'))).toEqual({
      state: 'revoked',
      expiry_risk: 'none',
      seconds_until_expiry: null,
    });
    // Still days from its expiry, and inside the 24 h window: neither shows once it is replaced or revoked.
    for (const time of ['2026-03-02T00:00:00Z', '2026-03-09T12:00:00Z']) {
      expect(lifecycleAt({ ...window, revocation: { replaced_by: 'new-id' } }, at(time))).toEqual({
        state: 'replaced',
        expiry_risk: 'none',
        seconds_until_expiry: null,
        replaced_by: 'new-id',
      });
      expect(lifecycleAt({ ...window, revocation: { replaced_by: null } }, at(time))).toEqual({
        state: 'revoked',
        expiry_risk: 'none',
        seconds_until_expiry: null,
      });
    }
  });
});
