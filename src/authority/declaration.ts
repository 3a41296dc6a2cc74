// The signed well-known declaration of this authority: who it is, its keys, where its endpoints are.
import { toTimestamp } from './clock.ts';
import type { AppDeps } from './context.ts';
import { signObject } from './crypto.ts';

export const PROTOCOL_VERSION = 1;

export const ENDPOINTS = {
  recognition_treaties: '/recognition-treaties',
  treaty_verify: '/recognition-treaties/verify',
  attestation_verify: '/attestations/verify',
  revocation_feed_latest: '/revocation-feeds/latest',
  revocation_feeds: '/revocation-feeds',
  feed_receipts: '/revocation-feeds/receipts',
  connectome: '/connectome.json',
} as const;

export type Declaration = ReturnType<typeof buildDeclaration>;

export function buildDeclaration(deps: Pick<AppDeps, 'identity' | 'clock'>) {
  return signObject(
    {
      type: 'network_authority_declaration',
      sovereign_id: deps.identity.sovereignId,
      protocol_version: PROTOCOL_VERSION,
      issued_at: toTimestamp(deps.clock()),
      public_keys: deps.identity.publishedKeys.map((k) => ({ ...k })),
      endpoints: { ...ENDPOINTS },
    },
    deps.identity.signingKeys,
  );
}

const current = new WeakMap<Pick<AppDeps, 'identity' | 'clock' | 'changes'>, Declaration>();

/**
 * The declaration this authority serves: signed once, and again only when its signing keys change, so
 * serving never signs and everyone who reads it (the well-known route, followers) sees the same bytes.
 */
export function currentDeclaration(deps: Pick<AppDeps, 'identity' | 'clock' | 'changes'>): Declaration {
  let declaration = current.get(deps);
  if (!declaration) {
    declaration = buildDeclaration(deps);
    current.set(deps, declaration);
    deps.changes.on('signing-keys', () => current.set(deps, buildDeclaration(deps)));
  }
  return declaration;
}
