// A simulated feed issuer for import tests: builds and signs feeds with test keys on an injected clock.
// It is a second, independent producer of the feed format: it never calls the publishing code.
import { randomUUID } from 'node:crypto';
import { toTimestamp, addSeconds } from '../../src/authority/clock.ts';
import { canonicalBytes } from '../../src/authority/canonical-json.ts';
import { canonicalHash, signObject, type SigningKey } from '../../src/authority/crypto.ts';
import { appendLeaves, emptyFrontier, frontierRoot, leafHash, type Frontier } from '../../src/log/merkle.ts';
import type { NewRevocationEntry, RevocationEntry } from '../../src/log/store.ts';
import { issueTreaty } from '../../src/treaties/service.ts';
import type { TestAuthority } from '../helpers/authority.ts';

export type Feed = Record<string, unknown> & {
  sequence: number;
  previous_feed_hash: string | null;
  issued_at: string;
  next_update: string;
  entries: RevocationEntry[];
  log: { size: number; root_hash: string };
  signatures: Array<{ key_id: string; sig: string }>;
};

export interface NextOptions {
  /** Entries to publish, or a count of generated attestation revocations. */
  entries?: NewRevocationEntry[] | number;
  /** Seconds after the clock's now for issued_at (negative: in the past). */
  issuedAtOffset?: number;
  nextUpdateSeconds?: number;
  /** Sign with these keys instead of the issuer's. */
  keys?: SigningKey[];
  /** Change the unsigned feed before it is signed (the signature covers the change). */
  mutate?: (feed: Record<string, unknown>) => void;
  /** Build the feed without advancing the issuer's chain (a fork or a forgery). */
  dryRun?: boolean;
}

export class SimulatedIssuer {
  /** Feed version: 1 chains over the whole previous feed, 2 over its signed part (without `signatures`). */
  version: 1 | 2 = 1;
  sequence = 0;
  previousHash: string | null = null;
  frontier: Frontier = emptyFrontier();
  readonly feeds: Feed[] = [];

  constructor(
    readonly sovereignId: string,
    readonly keys: SigningKey[],
    private readonly clock: () => Date,
  ) {}

  /** A fresh attestation revocation entry (without index). */
  revocation(overrides: Partial<NewRevocationEntry> = {}): NewRevocationEntry {
    return {
      kind: 'membership_attestation',
      id: randomUUID(),
      reason: 'key_compromise',
      revoked_at: toTimestamp(this.clock()),
      ...overrides,
    };
  }

  /** Builds, signs and (unless dryRun) appends the next feed of this issuer's chain. */
  next(options: NextOptions = {}): Feed {
    const newEntries =
      typeof options.entries === 'number' ? Array.from({ length: options.entries }, () => this.revocation()) : (options.entries ?? []);
    const entries: RevocationEntry[] = newEntries.map((e, i) => ({ index: this.frontier.size + i, ...e }) as RevocationEntry);
    const frontier = appendLeaves(
      this.frontier,
      entries.map((e) => leafHash(canonicalBytes(e))),
    );
    const issuedAt = addSeconds(this.clock(), options.issuedAtOffset ?? 0);
    const unsigned: Record<string, unknown> = {
      type: 'revocation_feed',
      version: this.version,
      feed_id: randomUUID(),
      issuer_sovereign_id: this.sovereignId,
      sequence: this.sequence + 1,
      previous_feed_hash: this.previousHash,
      issued_at: toTimestamp(issuedAt),
      next_update: toTimestamp(addSeconds(issuedAt, options.nextUpdateSeconds ?? 3600)),
      entries,
      log: { size: frontier.size, root_hash: `sha256:${frontierRoot(frontier)}` },
      issued_by: (options.keys ?? this.keys)[0]!.keyId,
    };
    options.mutate?.(unsigned);
    const feed = signObject(unsigned, options.keys ?? this.keys) as unknown as Feed;
    if (!options.dryRun) {
      this.sequence++;
      this.previousHash = this.version === 2 ? canonicalHash(unsigned) : canonicalHash(feed);
      this.frontier = frontier;
      this.feeds.push(feed);
    }
    return feed;
  }
}

/** Makes `a` recognize `sovereignId` for `keys` (an issued treaty), returning the treaty id. */
export function recognize(a: TestAuthority, sovereignId: string, keys: SigningKey[], overrides: Record<string, unknown> = {}): string {
  const treaty = issueTreaty(
    a.deps,
    {
      subject_sovereign_id: sovereignId,
      subject_public_keys: keys.map((k) => k.publicKey),
      scope: { allowed_roles: ['role:anchor'] },
      validity_hours: 24 * 90,
      ...overrides,
    },
    { label: a.operator.label, keyId: a.operator.key.keyId },
  );
  return treaty.treaty_id;
}

/** POST /admin/revocation-feeds/import {feed}. */
export function importVia(a: TestAuthority, feed: unknown): Promise<Response> {
  return a.admin('POST', '/admin/revocation-feeds/import', { feed });
}
