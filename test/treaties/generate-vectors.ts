// Writes the treaty and attestation golden vectors (test/vectors/treaty.json, attestation.json).
// Run: `npx tsx test/treaties/generate-vectors.ts` — existing files are kept unless --force is given,
// because a changed vector is a protocol change; then update the pinned hashes in vectors.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { sha256Hex, signingKeyFromSeed, signObject, verifyBytesNoble, type SigningKey } from '../../src/authority/crypto.ts';
import { membershipAttestationSchema, recognitionTreatySchema } from '../../src/treaties/model.ts';

const DIR = path.join(import.meta.dirname, '..', 'vectors');
const force = process.argv.includes('--force');

// The reference conformance seeds (SPEC §10): key a = bytes 0..31, key b = bytes 32..63.
const SEEDS = {
  a: Buffer.from(Array.from({ length: 32 }, (_, i) => i)),
  b: Buffer.from(Array.from({ length: 32 }, (_, i) => i + 32)),
};
const KEYS: Record<keyof typeof SEEDS, SigningKey> = { a: signingKeyFromSeed(SEEDS.a), b: signingKeyFromSeed(SEEDS.b) };
const keyList = (Object.keys(SEEDS) as Array<keyof typeof SEEDS>).map((name) => ({
  name,
  seed_hex: SEEDS[name].toString('hex'),
  public_key: KEYS[name].publicKey,
  key_id: KEYS[name].keyId,
}));

interface Case {
  name: string;
  description: string;
  signers: Array<keyof typeof SEEDS>;
  unsigned: Record<string, unknown>;
}

const SUBJECT_KEY = KEYS.b.publicKey;

const TREATIES: Case[] = [
  {
    name: 'treaty-minimal',
    description: 'One role, one subject key, empty claims and metadata, one signature (key a).',
    signers: ['a'],
    unsigned: {
      treaty_id: '00000000-0000-4000-8000-0000000000a1',
      issuer_sovereign_id: 'sovereign-a',
      subject_sovereign_id: 'sovereign-b',
      subject_public_keys: [SUBJECT_KEY],
      scope: { allowed_roles: ['role:client'], accepted_statuses: ['active'], claims: {} },
      status: 'active',
      issued_at: '2026-01-01T00:00:00Z',
      valid_from: '2026-01-01T00:00:00Z',
      expires_at: '2027-01-01T00:00:00Z',
      issued_by: KEYS.a.keyId,
      metadata: {},
    },
  },
  {
    name: 'treaty-non-ascii-nested',
    description:
      'Non-ASCII metadata (Latin, CJK, astral-plane emoji), nested claims with empty array and empty object, negative and large safe integers.',
    signers: ['a'],
    unsigned: {
      treaty_id: '00000000-0000-4000-8000-0000000000a2',
      issuer_sovereign_id: 'sovereign-a',
      subject_sovereign_id: 'sovereign-b',
      subject_public_keys: [SUBJECT_KEY],
      scope: {
        allowed_roles: ['role:bridge', 'role:service:relay.v2', 'role:anchor'],
        accepted_statuses: ['active'],
        claims: {
          region: 'Zürich',
          tiers: [3, -1, 9007199254740991],
          empty_list: [],
          empty_object: {},
          nested: { ключ: { z: true, a: null } },
        },
      },
      status: 'active',
      issued_at: '2026-02-01T12:30:45Z',
      valid_from: '2026-02-02T00:00:00Z',
      expires_at: '2026-08-01T00:00:00Z',
      issued_by: KEYS.a.keyId,
      metadata: { city: '東京', label: 'satellite 🛰 link', quote: 'a "quoted" \\ value\n', é: 'key sorts by UTF-16 code unit' },
    },
  },
  {
    name: 'treaty-rotation-overlap',
    description: 'Signed by two keys during a rotation overlap (a then b); each signature covers the same bytes.',
    signers: ['a', 'b'],
    unsigned: {
      treaty_id: '00000000-0000-4000-8000-0000000000a3',
      issuer_sovereign_id: 'sovereign-a',
      subject_sovereign_id: 'sovereign-c',
      subject_public_keys: [KEYS.a.publicKey, SUBJECT_KEY],
      scope: { allowed_roles: ['role:operator'], accepted_statuses: ['active', 'probation'], claims: { max_hops: 2 } },
      status: 'active',
      issued_at: '2026-03-01T00:00:00Z',
      valid_from: '2026-03-01T00:00:00Z',
      expires_at: '2026-04-01T00:00:00Z',
      issued_by: KEYS.a.keyId,
      metadata: { ticket: 'CHG-1042' },
    },
  },
  {
    name: 'treaty-foreign-unrestricted-scope',
    description:
      'Empty allowed_roles ("any role" in the reference): never issued by Accord, accepted with warning scope_unrestricted when verifying foreign treaties.',
    signers: ['b'],
    unsigned: {
      treaty_id: '00000000-0000-4000-8000-0000000000a4',
      issuer_sovereign_id: 'sovereign-b',
      subject_sovereign_id: 'sovereign-a',
      subject_public_keys: [KEYS.a.publicKey],
      scope: { allowed_roles: [], accepted_statuses: ['active'], claims: {} },
      status: 'active',
      issued_at: '2026-01-01T00:00:00Z',
      valid_from: '2026-01-01T00:00:00Z',
      expires_at: '2027-01-01T00:00:00Z',
      issued_by: KEYS.b.keyId,
      metadata: {},
    },
  },
];

const ATTESTATIONS: Case[] = [
  {
    name: 'attestation-minimal',
    description: 'No subject_public_key (the optional field is omitted, never null), empty claims, one signature.',
    signers: ['a'],
    unsigned: {
      attestation_id: '00000000-0000-4000-8000-0000000000b1',
      issuer_sovereign_id: 'sovereign-a',
      subject_id: 'node-1',
      roles: ['role:client'],
      status: 'active',
      issued_at: '2026-01-01T00:00:00Z',
      valid_from: '2026-01-01T00:00:00Z',
      expires_at: '2026-01-08T00:00:00Z',
      issued_by: KEYS.a.keyId,
      claims: {},
    },
  },
  {
    name: 'attestation-subject-key-non-ascii',
    description: 'With subject_public_key, several roles, non-ASCII and nested claims including an empty array and object.',
    signers: ['a'],
    unsigned: {
      attestation_id: '00000000-0000-4000-8000-0000000000b2',
      issuer_sovereign_id: 'sovereign-a',
      subject_id: 'relay.eu-1:7',
      subject_public_key: SUBJECT_KEY,
      roles: ['role:service:relay', 'role:bridge'],
      status: 'active',
      issued_at: '2026-02-01T00:00:00Z',
      valid_from: '2026-02-01T00:00:00Z',
      expires_at: '2026-05-01T00:00:00Z',
      issued_by: KEYS.a.keyId,
      claims: { team: 'Équipe Nord', motto: '信頼', badges: [], profile: { langs: ['de', 'fr'], extra: {} }, seats: 12 },
    },
  },
  {
    name: 'attestation-rotation-overlap',
    description: 'Signed by key a and key b during a rotation overlap.',
    signers: ['a', 'b'],
    unsigned: {
      attestation_id: '00000000-0000-4000-8000-0000000000b3',
      issuer_sovereign_id: 'sovereign-a',
      subject_id: 'node-2',
      roles: ['role:client'],
      status: 'active',
      issued_at: '2026-03-01T00:00:00Z',
      valid_from: '2026-03-01T00:00:00Z',
      expires_at: '2026-03-31T00:00:00Z',
      issued_by: KEYS.a.keyId,
      claims: { seq: 2 },
    },
  },
];

function build(cases: Case[], schema: { safeParse(v: unknown): { success: boolean } }) {
  return cases.map((c) => {
    const canonical = canonicalJson(c.unsigned);
    const signed = signObject(
      c.unsigned,
      c.signers.map((s) => KEYS[s]),
    );
    if (!schema.safeParse(signed).success) throw new Error(`vector ${c.name} does not match the strict schema`);
    for (const [i, s] of c.signers.entries()) {
      if (!verifyBytesNoble(KEYS[s].raw, Buffer.from(canonical, 'utf8'), Buffer.from(signed.signatures[i]!.sig, 'base64')))
        throw new Error(`vector ${c.name}: noble cross-check failed`);
    }
    return {
      name: c.name,
      description: c.description,
      signers: c.signers,
      unsigned: c.unsigned,
      canonical,
      canonical_hex: Buffer.from(canonical, 'utf8').toString('hex'),
      canonical_sha256: sha256Hex(canonical),
      signed,
    };
  });
}

function write(name: string, value: unknown): void {
  const file = path.join(DIR, name);
  if (fs.existsSync(file) && !force) {
    console.log(`kept    ${name} (exists; --force to regenerate)`);
    return;
  }
  const text = `${JSON.stringify(value, null, 2)}\n`;
  fs.writeFileSync(file, text);
  console.log(`written ${name} sha256=${sha256Hex(text)}`);
}

const COMMON =
  'Each `signed.signatures[i].sig` is Ed25519 (RFC 8032) by the key named in `signers[i]` over the UTF-8 bytes of `canonical` = RFC 8785 JCS of `unsigned` (the signed object without `signatures`).';
write('treaty.json', {
  description: `RecognitionTreaty golden vectors (protocol v1). ${COMMON}`,
  protocol_version: 1,
  keys: keyList,
  vectors: build(TREATIES, recognitionTreatySchema),
});
write('attestation.json', {
  description: `MembershipAttestation golden vectors (protocol v1). ${COMMON}`,
  protocol_version: 1,
  keys: keyList,
  vectors: build(ATTESTATIONS, membershipAttestationSchema),
});
