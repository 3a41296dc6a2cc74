// Helpers for split-view tests: a second history of a log under the same key (a fork), evidence documents, and
// the subtree roots a power-of-two consistency proof leaves out.
import { publishFeeds } from '../../src/feeds/publish.ts';
import { appendRevocations, readLogHead } from '../../src/log/store.ts';
import { consistencyProofFor } from '../../src/transparency/service.ts';
import { readCheckpointsSince } from '../../src/transparency/store.ts';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';
import { revocationEntry } from '../transparency/helpers.ts';

/**
 * A second history of sovereign `id`'s log: an unserved authority with the same identity (so the same
 * signing key and origin) whose log holds other entries. What a log that shows two histories runs.
 */
export function forkOf(id: string, now?: string): TestAuthority {
  return createTestAuthority({ sovereignId: id, ...(now ? { now } : {}) });
}

/** Publishes `a`'s log at each size in turn, with entries unlike any the genuine log has (offset ids). */
export function publishForkAtSizes(a: TestAuthority, sizes: number[], offset = 10_000): void {
  for (const size of sizes) {
    const from = readLogHead(a.db.sqlite).size;
    a.db.sqlite.transaction(() =>
      appendRevocations(
        a.db.sqlite,
        Array.from({ length: size - from }, (_, i) => revocationEntry(offset + from + i)),
      ),
    )();
    publishFeeds(a.deps, { trigger: 'admin' });
  }
}

/** The log-signed note of the latest checkpoint with `size` leaves. */
export function noteAtSize(a: TestAuthority, size: number): string {
  const row = readCheckpointsSince(a.db.sqlite, 0, 1000)
    .filter((c) => c.tree_size === size)
    .at(-1);
  if (!row) throw new Error(`no checkpoint of size ${size}`);
  return row.note;
}

/** The consistency proof from `from` to `to` in `a`'s tree, "sha256:<hex>" hashes. */
export function proofIn(a: TestAuthority, from: number, to: number): string[] {
  return consistencyProofFor(a.db.sqlite, from, to).proof;
}

export function evidence(issuer: string, checkpoints: [string, string], proof: string[] = []): Record<string, unknown> {
  return { type: 'split_view_evidence', issuer_sovereign_id: issuer, checkpoints, consistency_proof: proof };
}

export async function postEvidence(url: string, body: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }) {
  const res = await fetch(`${url}/log/evidence`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
