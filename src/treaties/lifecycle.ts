// Lifecycle of a treaty or attestation at a given clock time (SPEC §4): state, expiry risk, time left.

export const LIFECYCLE_STATES = ['active', 'expiring_soon', 'expired', 'revoked', 'replaced', 'not_yet_valid'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

/** `high` ≤ 24 h to expiry, `medium` ≤ 72 h, `low` beyond that, `none` once expiry no longer matters. */
export type ExpiryRisk = 'high' | 'medium' | 'low' | 'none';

export const EXPIRING_SOON_SECONDS = 72 * 3600;
export const HIGH_RISK_SECONDS = 24 * 3600;

export interface Lifecycle {
  state: LifecycleState;
  expiry_risk: ExpiryRisk;
  /**
   * Seconds from the evaluation time to `expires_at`, never negative; null once the object is revoked
   * or replaced: its expiry no longer matters, so there is nothing to count down to.
   */
  seconds_until_expiry: number | null;
  replaced_by?: string;
}

export interface LifecycleInput {
  valid_from: string;
  expires_at: string;
  revocation: { replaced_by?: string | null } | null;
}

export function expiryRisk(secondsUntilExpiry: number): ExpiryRisk {
  if (secondsUntilExpiry <= 0) return 'none';
  if (secondsUntilExpiry <= HIGH_RISK_SECONDS) return 'high';
  if (secondsUntilExpiry <= EXPIRING_SOON_SECONDS) return 'medium';
  return 'low';
}

/**
 * Precedence: replaced, revoked, expired, not_yet_valid, expiring_soon, active. A revoked or replaced
 * object carries no expiry risk and no countdown: renewing it is not the operator's next step.
 */
export function lifecycleAt(input: LifecycleInput, at: Date): Lifecycle {
  if (input.revocation) {
    const replacedBy = input.revocation.replaced_by;
    if (replacedBy) return { state: 'replaced', expiry_risk: 'none', seconds_until_expiry: null, replaced_by: replacedBy };
    return { state: 'revoked', expiry_risk: 'none', seconds_until_expiry: null };
  }
  const nowMs = at.getTime();
  const seconds = Math.max(0, Math.floor((Date.parse(input.expires_at) - nowMs) / 1000));
  if (seconds <= 0) return { state: 'expired', expiry_risk: 'none', seconds_until_expiry: 0 };
  const risk = expiryRisk(seconds);
  if (Date.parse(input.valid_from) > nowMs) return { state: 'not_yet_valid', expiry_risk: risk, seconds_until_expiry: seconds };
  return { state: seconds <= EXPIRING_SOON_SECONDS ? 'expiring_soon' : 'active', expiry_risk: risk, seconds_until_expiry: seconds };
}

/** Whether the state still lets the object be relied on (active or expiring soon). */
export function isInForce(state: LifecycleState): boolean {
  return state === 'active' || state === 'expiring_soon';
}
