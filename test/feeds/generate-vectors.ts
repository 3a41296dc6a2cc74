// Writes the revocation-feed golden vectors (test/vectors/feed.json): entry canonical bytes and leaf hashes,
// RFC 6962 roots, a signed three-feed chain and a feed receipt; and the same chain in feed version 2 (feed-v2.json).
// Run: `npx tsx test/feeds/generate-vectors.ts` — an existing file is kept unless --force is given,
// because a changed vector is a protocol change; then update the pinned hash in vectors.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { canonicalHash, signingKeyFromSeed, signObject, type SigningKey } from '../../src/authority/crypto.ts';
import { leafHash, merkleTreeHash } from '../../src/log/merkle.ts';

const FILE = path.join(import.meta.dirname, '..', 'vectors', 'feed.json');
const FILE_V2 = path.join(import.meta.dirname, '..', 'vectors', 'feed-v2.json');

// The reference conformance seeds (SPEC §10): key a = bytes 0..31, key b = bytes 32..63.
const SEEDS = {
  a: Buffer.from(Array.from({ length: 32 }, (_, i) => i)),
  b: Buffer.from(Array.from({ length: 32 }, (_, i) => i + 32)),
};
const KEYS: Record<keyof typeof SEEDS, SigningKey> = { a: signingKeyFromSeed(SEEDS.a), b: signingKeyFromSeed(SEEDS.b) };

const ENTRIES: Array<{ name: string; entry: Record<string, unknown> }> = [
  {
    name: 'attestation-minimal',
    entry: {
      index: 0,
      kind: 'membership_attestation',
      id: '00000000-0000-4000-8000-0000000000e1',
      reason: 'key_compromise',
      revoked_at: '2026-01-02T03:04:05Z',
    },
  },
  {
    name: 'treaty-all-optional-fields',
    entry: {
      index: 1,
      kind: 'recognition_treaty',
      id: '00000000-0000-4000-8000-0000000000e2',
      reason: 'superseded',
      revoked_at: '2026-01-02T03:04:06Z',
      subject_sovereign_id: 'sovereign-c',
      invalid_since: '2026-01-01T00:00:00Z',
      incident: 'INC-2026.01:7',
    },
  },
  {
    name: 'public-key-non-ascii-incident',
    entry: {
      index: 2,
      kind: 'public_key',
      // A retired key of the issuer's (seed bytes 64..95): revoking it must not affect keys a and b.
      id: signingKeyFromSeed(Buffer.from(Array.from({ length: 32 }, (_, i) => i + 64))).keyId,
      reason: 'cessation_of_operation',
      revoked_at: '2026-01-02T03:04:07Z',
      incident: 'Überprüfung 監査 🔑',
    },
  },
  {
    name: 'attestation-unspecified',
    entry: {
      index: 3,
      kind: 'membership_attestation',
      id: '00000000-0000-4000-8000-0000000000e4',
      reason: 'unspecified',
      revoked_at: '2026-01-03T00:00:00Z',
    },
  },
  {
    name: 'attestation-policy-violation',
    entry: {
      index: 4,
      kind: 'membership_attestation',
      id: '00000000-0000-4000-8000-0000000000e5',
      reason: 'policy_violation',
      revoked_at: '2026-01-03T00:00:01Z',
    },
  },
];

const entryVectors = ENTRIES.map(({ name, entry }) => {
  const canonical = canonicalJson(entry);
  return { name, entry, canonical, leaf_hash: leafHash(Buffer.from(canonical, 'utf8')) };
});
const leaves = entryVectors.map((e) => e.leaf_hash);

// Trees over the entry leaves, plus the Certificate Transparency reference leaves (raw bytes, hex).
const CT_LEAF_HEX = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const ctLeaves = CT_LEAF_HEX.map((h) => leafHash(Buffer.from(h, 'hex')));
const trees = [
  ...[0, 1, 2, 3, 4, 5].map((size) => ({ source: 'entries', size, root_hash: `sha256:${merkleTreeHash(leaves.slice(0, size))}` })),
  ...[0, 1, 2, 3, 7, 8].map((size) => ({ source: 'ct_leaf_hex', size, root_hash: `sha256:${merkleTreeHash(ctLeaves.slice(0, size))}` })),
];

interface FeedCase {
  name: string;
  description: string;
  signers: Array<keyof typeof SEEDS>;
  entries: number[];
  issued_at: string;
  next_update: string;
  feed_id: string;
}

const FEEDS: FeedCase[] = [
  {
    name: 'feed-1-first',
    description: 'Sequence 1: previous_feed_hash null, three entries including non-ASCII text, signed by key a.',
    signers: ['a'],
    entries: [0, 1, 2],
    issued_at: '2026-01-03T00:00:00Z',
    next_update: '2026-01-04T00:00:00Z',
    feed_id: '00000000-0000-4000-8000-00000000f001',
  },
  {
    name: 'feed-2-heartbeat-rotation',
    description: 'Sequence 2: a heartbeat (empty entries) signed by keys a and b during a rotation overlap.',
    signers: ['a', 'b'],
    entries: [],
    issued_at: '2026-01-03T12:00:00Z',
    next_update: '2026-01-04T12:00:00Z',
    feed_id: '00000000-0000-4000-8000-00000000f002',
  },
  {
    name: 'feed-3-next',
    description: 'Sequence 3: two entries continuing the log from index 3, signed by key b.',
    signers: ['b'],
    entries: [3, 4],
    issued_at: '2026-01-04T00:00:00Z',
    next_update: '2026-01-05T00:00:00Z',
    feed_id: '00000000-0000-4000-8000-00000000f003',
  },
];

/** The three-feed chain in one feed version: 1 links each feed to the whole previous feed, 2 to its signed part. */
function feedChain(version: 1 | 2) {
  let previous: string | null = null;
  let logSize = 0;
  return FEEDS.map((c, i) => {
    logSize += c.entries.length;
    const unsigned = {
      type: 'revocation_feed',
      version,
      feed_id: c.feed_id,
      issuer_sovereign_id: 'sovereign-b',
      sequence: i + 1,
      previous_feed_hash: previous,
      issued_at: c.issued_at,
      next_update: c.next_update,
      entries: c.entries.map((n) => ENTRIES[n]!.entry),
      log: { size: logSize, root_hash: `sha256:${merkleTreeHash(leaves.slice(0, logSize))}` },
      issued_by: KEYS[c.signers[0]!].keyId,
    };
    const signed = signObject(
      unsigned,
      c.signers.map((s) => KEYS[s]),
    );
    const signedCanonical = canonicalJson(signed);
    const feedHash = canonicalHash(signed);
    const signedHash = canonicalHash(unsigned);
    previous = version === 2 ? signedHash : feedHash;
    const vector = {
      name: c.name,
      description: c.description,
      signers: c.signers,
      unsigned,
      canonical: canonicalJson(unsigned),
      signed,
      signed_canonical: signedCanonical,
      feed_hash: feedHash,
    };
    return version === 2 ? { ...vector, signed_hash: signedHash } : vector;
  });
}
const feedVectors = feedChain(1);

const receiptUnsigned = {
  type: 'feed_receipt',
  version: 1,
  importer_sovereign_id: 'sovereign-a',
  issuer_sovereign_id: 'sovereign-b',
  sequence: 3,
  feed_hash: feedVectors[2]!.feed_hash,
  received_at: '2026-01-04T00:01:00Z',
  issued_by: KEYS.a.keyId,
};
const receiptSigned = signObject(receiptUnsigned, [KEYS.a]);

const document = {
  description:
    'Revocation feed golden vectors (protocol v1). entry.canonical = RFC 8785 JCS of entry; leaf_hash = hex SHA-256(0x00 || UTF-8 canonical); ' +
    'tree roots are RFC 6962 Merkle tree heads (ct_leaf_hex trees hash the hex-decoded bytes as leaf data). For each feed, `canonical` is JCS of `unsigned` ' +
    '(what every signature covers), `signed_canonical` is JCS of the signed feed (the exact bytes served) and `feed_hash` = "sha256:" + hex SHA-256(signed_canonical), ' +
    "which is the next feed's previous_feed_hash.",
  protocol_version: 1,
  keys: (Object.keys(SEEDS) as Array<keyof typeof SEEDS>).map((name) => ({
    name,
    seed_hex: SEEDS[name].toString('hex'),
    public_key: KEYS[name].publicKey,
    key_id: KEYS[name].keyId,
  })),
  entries: entryVectors,
  ct_leaf_hex: CT_LEAF_HEX,
  trees,
  feeds: feedVectors,
  receipt: { unsigned: receiptUnsigned, canonical: canonicalJson(receiptUnsigned), signed: receiptSigned, signers: ['a'] },
};

const documentV2 = {
  description:
    'Revocation feed golden vectors, feed version 2: the same entries, keys and chain as feed.json, with version 2. ' +
    '`signed_hash` = "sha256:" + hex SHA-256(canonical), the JCS of the feed without `signatures` (what every signature covers), ' +
    "is the next feed's previous_feed_hash; `feed_hash` (over signed_canonical) stays the feed's ETag and what receipts acknowledge.",
  feed_version: 2,
  keys: document.keys,
  feeds: feedChain(2),
};

for (const [file, value] of [
  [FILE, document],
  [FILE_V2, documentV2],
] as const) {
  if (fs.existsSync(file) && !process.argv.includes('--force')) {
    process.stdout.write(`${file} exists; not overwriting (use --force for a deliberate protocol change)\n`);
  } else {
    fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
    process.stdout.write(`wrote ${file}\n`);
  }
}
