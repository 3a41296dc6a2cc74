// verify: the attestation verify service, warm, over 10,000 distinct attestations (1,000 treaties, 100,000
// imported revocations), against bare node:crypto Ed25519 verification of the same signatures with cached KeyObjects.
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { signingPayload } from '../../src/authority/crypto.ts';
import type { MembershipAttestation } from '../../src/treaties/model.ts';
import { verifyAttestation } from '../../src/verification/verification.ts';
import type { BenchAuthority } from '../lib/fixtures.ts';
import { count, elapsedMs, emit, log, now, perSecond, round } from '../lib/harness.ts';
import { IMPORTED_REVOCATIONS, openVerifyFixture, TREATIES } from '../lib/verify-fixture.ts';

const ROUNDS = 3;
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The limit's inputs: payload bytes, signature bytes and a cached KeyObject per issuer key. */
export function bareInputs(attestations: MembershipAttestation[], keysByIssuer: Map<string, string>): Array<[Buffer, KeyObject, Buffer]> {
  const keyObjects = new Map<string, KeyObject>();
  return attestations.map((a) => {
    const publicKey = keysByIssuer.get(a.issuer_sovereign_id)!;
    let key = keyObjects.get(publicKey);
    if (!key) {
      key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(publicKey, 'base64')]), format: 'der', type: 'spki' });
      keyObjects.set(publicKey, key);
    }
    return [signingPayload(a), key, Buffer.from(a.signatures[0]!.sig, 'base64')];
  });
}

export function bareVerifyPass(inputs: Array<[Buffer, KeyObject, Buffer]>): number {
  const started = now();
  for (const [payload, key, sig] of inputs) if (!nodeVerify(null, payload, key, sig)) throw new Error('bare verify failed');
  return elapsedMs(started);
}

/** One pass of the verify service over every attestation; returns ms and the reasons seen. */
export function servicePass(
  authority: BenchAuthority,
  inputs: Array<{ attestation: MembershipAttestation }>,
): { ms: number; reasons: Record<string, number> } {
  const reasons: Record<string, number> = {};
  const started = now();
  for (const input of inputs) {
    const result = verifyAttestation(authority.deps, input);
    reasons[result.reason] = (reasons[result.reason] ?? 0) + 1;
  }
  return { ms: elapsedMs(started), reasons };
}

/** Subject keys of every treaty, by subject (the issuer of the attestations). */
export function issuerKeys(authority: BenchAuthority): Map<string, string> {
  const rows = authority.db.sqlite.prepare('SELECT subject_sovereign_id, body FROM treaties').all() as Array<{
    subject_sovereign_id: string;
    body: string;
  }>;
  return new Map(
    rows.map((r) => [r.subject_sovereign_id, (JSON.parse(r.body) as { subject_public_keys: string[] }).subject_public_keys[0]!]),
  );
}

const CHUNK = 100;

/**
 * Warm in-process rates of the service and of bare verification. The two alternate in chunks of
 * 100 attestations, so both meet the same machine load; each side's rate is the best of the rounds.
 */
export function measureVerify(authority: BenchAuthority, attestations: MembershipAttestation[], rounds = ROUNDS) {
  const inputs = attestations.map((attestation) => ({ attestation }));
  const bare = bareInputs(attestations, issuerKeys(authority));
  const warm = servicePass(authority, inputs);
  bareVerifyPass(bare);
  const service: number[] = [];
  const limit: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let serviceMs = 0;
    let bareMs = 0;
    for (let i = 0; i < inputs.length; i += CHUNK) {
      bareMs += bareVerifyPass(bare.slice(i, i + CHUNK));
      serviceMs += servicePass(authority, inputs.slice(i, i + CHUNK)).ms;
    }
    limit.push(bareMs);
    service.push(serviceMs);
  }
  const n = attestations.length;
  return {
    figure: n / (Math.min(...service) / 1000),
    limit: n / (Math.min(...limit) / 1000),
    reasons: warm.reasons,
    service_ms: service.map(Math.round),
    bare_ms: limit.map(Math.round),
  };
}

async function main(): Promise<void> {
  const { authority, attestations } = await openVerifyFixture();
  log(`verify: ${count(attestations.length)} attestations, warm, ${ROUNDS} rounds`);
  const m = measureVerify(authority, attestations);
  await authority.close();
  const ratio = m.figure / m.limit;
  emit([
    {
      workload: 'verify',
      size: `${count(attestations.length)} attestations, ${count(TREATIES)} treaties, ${count(IMPORTED_REVOCATIONS)} imported revocations`,
      figure: perSecond(m.figure, 'verifies'),
      limit: perSecond(m.limit, 'verifies'),
      ratio: round(ratio),
      target: '≥ 0.8',
      pass: ratio >= 0.8,
      details: { reasons: m.reasons, service_ms: m.service_ms, bare_ms: m.bare_ms },
    },
  ]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
