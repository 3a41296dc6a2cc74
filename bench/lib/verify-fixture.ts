// The verification data set: 1,000 treaties recognizing foreign issuers, 10,000 attestations they signed,
// and 100,000 revocations imported from their feeds. Built once per run, reused by verify and http-verify.
import fs from 'node:fs';
import path from 'node:path';
import { importFeed } from '../../src/feeds/import.ts';
import type { MembershipAttestation } from '../../src/treaties/model.ts';
import { operatorActor } from '../../src/authority/admin-auth.ts';
import {
  foreignAttestation,
  issuer,
  issuerFeeds,
  openBenchAuthority,
  prng,
  recognize,
  scaled,
  workDir,
  type BenchAuthority,
} from './fixtures.ts';
import { count, log } from './harness.ts';

export const TREATIES = scaled(1000, 10);
export const ATTESTATIONS_PER_ISSUER = 10;
export const IMPORTED_REVOCATIONS = scaled(100_000, 100);
/** Issuers whose feeds were imported (10,000 entries each at full scale). */
const FEED_ISSUERS = 10;

export interface VerifyFixture {
  authority: BenchAuthority;
  attestations: MembershipAttestation[];
}

const fixtureDir = () => path.join(workDir(), 'verify');

async function build(dir: string): Promise<void> {
  fs.rmSync(dir, { recursive: true, force: true });
  const authority = openBenchAuthority(dir);
  const issuers = Array.from({ length: TREATIES }, (_, i) => issuer(i + 1));
  log(
    `verify fixture: ${count(TREATIES)} treaties, ${count(TREATIES * ATTESTATIONS_PER_ISSUER)} attestations, ${count(IMPORTED_REVOCATIONS)} imported revocations`,
  );
  await recognize(authority, issuers);
  const random = prng(4000);
  const attestations: MembershipAttestation[] = [];
  for (const who of issuers) for (let n = 0; n < ATTESTATIONS_PER_ISSUER; n++) attestations.push(foreignAttestation(who, random, n));
  // Every fifth attestation of the feed issuers is revoked in their feeds, so verify meets both outcomes.
  const perFeed = Math.ceil(IMPORTED_REVOCATIONS / FEED_ISSUERS);
  const ctx = { actor: operatorActor(authority.operator), requestId: null, via: 'admin' as const };
  issuers.slice(0, FEED_ISSUERS).forEach((who, i) => {
    const mine = attestations
      .filter((a) => a.issuer_sovereign_id === who.id && Number(a.subject_id.split('-').pop()) % 5 === 0)
      .map((a) => a.attestation_id);
    let k = 0;
    const forced = () => (k < mine.length ? mine[k++] : undefined);
    for (const feed of issuerFeeds(who, 1, perFeed, 5000 + i, forced)) importFeed(authority.deps, JSON.parse(feed), ctx);
  });
  fs.writeFileSync(path.join(dir, 'attestations.json'), JSON.stringify(attestations));
  authority.db.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  await authority.close();
  fs.writeFileSync(path.join(dir, 'complete.json'), JSON.stringify({ treaties: TREATIES, attestations: attestations.length }));
}

/** Opens the verification data set of this run, building it first if needed. */
export async function openVerifyFixture(): Promise<VerifyFixture> {
  const dir = fixtureDir();
  if (!fs.existsSync(path.join(dir, 'complete.json'))) {
    await build(dir);
  }
  const authority = openBenchAuthority(dir);
  const attestations = JSON.parse(fs.readFileSync(path.join(dir, 'attestations.json'), 'utf8')) as MembershipAttestation[];
  return { authority, attestations };
}
