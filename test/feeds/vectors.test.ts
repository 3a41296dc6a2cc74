// Golden vectors of the revocation feed (test/vectors/feed.json, feed-v2.json): a missing or changed file fails, never skips.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { canonicalHash, signingKeyFromSeed, signObject, verifyBytesNoble, type SigningKey } from '../../src/authority/crypto.ts';
import { appendLeaves, emptyFrontier, frontierRoot, leafHash, merkleTreeHash } from '../../src/log/merkle.ts';
import { feedReceiptSchema, revocationFeedSchema, signedPartHash } from '../../src/feeds/model.ts';
import { signFeed, signFeedText, type FeedHeader } from '../../src/feeds/publish.ts';
import { createTestAuthority } from '../helpers/authority.ts';
import { importVia, recognize } from './simulated-issuer.ts';

const FILE = path.join(import.meta.dirname, '..', 'vectors', 'feed.json');

/**
 * SHA-256 of the vector file as committed. Changing canonical form, hashing or signing is a
 * protocol-version change: regenerate with `npx tsx test/feeds/generate-vectors.ts --force` and
 * update this on purpose.
 */
const PINNED = 'ba8df67d15e285f0c01dcae5ee0f2dfac763bcb7e17778d36738ba0d4fd42138';

/* eslint-disable @typescript-eslint/no-explicit-any */
function load(): { text: string; value: any } {
  if (!fs.existsSync(FILE)) throw new Error('golden vector feed.json is missing from test/vectors/');
  const text = fs.readFileSync(FILE, 'utf8');
  return { text, value: JSON.parse(text) };
}

function keysOf(value: any): Record<string, SigningKey> {
  return Object.fromEntries(
    value.keys.map((k: { name: string; seed_hex: string; public_key: string; key_id: string }) => {
      const key = signingKeyFromSeed(Buffer.from(k.seed_hex, 'hex'));
      expect([key.publicKey, key.keyId]).toEqual([k.public_key, k.key_id]);
      return [k.name, key];
    }),
  );
}

describe('golden vectors feed.json', () => {
  it('exists and is byte-for-byte the pinned file', () => {
    expect(createHash('sha256').update(load().text).digest('hex')).toBe(PINNED);
  });

  it('uses the reference conformance keys and covers non-ASCII text, empty entries, every kind and a multi-key signature', () => {
    const { value } = load();
    expect(value.keys.map((k: { public_key: string }) => k.public_key)).toEqual([
      'A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=',
      'Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=',
    ]);
    expect(value.entries.map((e: any) => e.canonical).join('\n')).toMatch(/[^\x00-\x7f]/);
    expect(new Set(value.entries.map((e: any) => e.entry.kind))).toEqual(
      new Set(['membership_attestation', 'recognition_treaty', 'public_key']),
    );
    expect(value.feeds.some((f: any) => f.unsigned.entries.length === 0)).toBe(true);
    expect(value.feeds.some((f: any) => f.signers.length > 1)).toBe(true);
  });

  it('entries: canonical bytes and leaf hashes', () => {
    for (const e of load().value.entries) {
      expect(canonicalJson(e.entry), e.name).toBe(e.canonical);
      expect(leafHash(Buffer.from(e.canonical, 'utf8'))).toBe(e.leaf_hash);
      expect(
        createHash('sha256')
          .update(Buffer.concat([Buffer.from([0]), Buffer.from(e.canonical, 'utf8')]))
          .digest('hex'),
      ).toBe(e.leaf_hash);
    }
  });

  it('trees: RFC 6962 roots by the reference computation and by frontier appends', () => {
    const { value } = load();
    const sources: Record<string, string[]> = {
      entries: value.entries.map((e: any) => e.leaf_hash),
      ct_leaf_hex: value.ct_leaf_hex.map((h: string) => leafHash(Buffer.from(h, 'hex'))),
    };
    for (const t of value.trees) {
      const leaves = sources[t.source]!.slice(0, t.size);
      expect(`sha256:${merkleTreeHash(leaves)}`, `${t.source}/${t.size}`).toBe(t.root_hash);
      expect(`sha256:${frontierRoot(appendLeaves(emptyFrontier(), leaves))}`).toBe(t.root_hash);
    }
    expect(value.trees.find((t: any) => t.source === 'ct_leaf_hex' && t.size === 8).root_hash).toBe(
      'sha256:5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    );
  });

  it('feeds: canonical forms, deterministic signatures (checked by both libraries), hash chain, strict schema', () => {
    const { value } = load();
    const keys = keysOf(value);
    let previous: string | null = null;
    for (const f of value.feeds) {
      expect(canonicalJson(f.unsigned), f.name).toBe(f.canonical);
      expect(f.unsigned.previous_feed_hash).toBe(previous);
      const signed = signObject(
        f.unsigned,
        f.signers.map((s: string) => keys[s]!),
      );
      expect(signed).toEqual(f.signed);
      for (const [i, s] of f.signers.entries()) {
        expect(verifyBytesNoble(keys[s]!.raw, Buffer.from(f.canonical, 'utf8'), Buffer.from(f.signed.signatures[i].sig, 'base64'))).toBe(
          true,
        );
      }
      expect(canonicalJson(f.signed)).toBe(f.signed_canonical);
      expect(canonicalHash(f.signed)).toBe(f.feed_hash);
      expect(revocationFeedSchema.safeParse(f.signed).success).toBe(true);
      previous = f.feed_hash;
    }
  });

  it('the publishing code produces exactly the vector bytes from stored entry texts', () => {
    const { value } = load();
    const keys = keysOf(value);
    for (const f of value.feeds) {
      const { entries, ...header } = f.unsigned;
      const text = signFeedText(
        header as FeedHeader,
        entries.map((e: unknown) => canonicalJson(e)),
        f.signers.map((s: string) => keys[s]!),
      );
      expect(text, f.name).toBe(f.signed_canonical);
    }
  });

  it('an authority recognizing the issuer imports the vector chain', async () => {
    const { value } = load();
    const keys = keysOf(value);
    const a = createTestAuthority({ sovereignId: 'sovereign-a', now: '2026-01-04T00:00:00Z' });
    recognize(a, 'sovereign-b', [keys.a!, keys.b!]);
    for (const f of value.feeds) {
      const res = await importVia(a, f.signed);
      expect(res.status, f.name).toBe(200);
      expect(await res.json()).toMatchObject({
        status: 'imported',
        sequence: f.unsigned.sequence,
        revoked_count: f.unsigned.entries.length,
      });
    }
  });

  it('receipt: canonical bytes, signature, strict schema', () => {
    const { value } = load();
    const keys = keysOf(value);
    const r = value.receipt;
    expect(canonicalJson(r.unsigned)).toBe(r.canonical);
    expect(signObject(r.unsigned, [keys.a!])).toEqual(r.signed);
    expect(feedReceiptSchema.safeParse(r.signed).success).toBe(true);
    expect(r.unsigned.feed_hash).toBe(value.feeds[2].feed_hash);
  });
});

describe('golden vectors feed-v2.json (feed version 2: the chain links signed parts)', () => {
  const FILE_V2 = path.join(import.meta.dirname, '..', 'vectors', 'feed-v2.json');
  const PINNED_V2 = '0f53d5d1b00c62c386622a7a58777e85cc41c4446f8c864c3073f0f59cbf47ff';
  const loadV2 = () => {
    if (!fs.existsSync(FILE_V2)) throw new Error('golden vector feed-v2.json is missing from test/vectors/');
    const text = fs.readFileSync(FILE_V2, 'utf8');
    return { text, value: JSON.parse(text) };
  };

  it('exists and is byte-for-byte the pinned file', () => {
    expect(createHash('sha256').update(loadV2().text).digest('hex')).toBe(PINNED_V2);
  });

  it('each feed links to the SHA-256 of the previous feed without signatures, and is signed over the same bytes', () => {
    const { value } = loadV2();
    const keys = keysOf(value);
    let previous: string | null = null;
    for (const f of value.feeds) {
      expect(f.unsigned.version).toBe(2);
      expect(f.unsigned.previous_feed_hash, f.name).toBe(previous);
      expect(canonicalJson(f.unsigned)).toBe(f.canonical);
      expect(`sha256:${createHash('sha256').update(f.canonical, 'utf8').digest('hex')}`).toBe(f.signed_hash);
      expect(
        signObject(
          f.unsigned,
          f.signers.map((s: string) => keys[s]!),
        ),
      ).toEqual(f.signed);
      expect(canonicalHash(f.signed)).toBe(f.feed_hash);
      expect(signedPartHash(f.signed_canonical)).toBe(f.signed_hash);
      expect(revocationFeedSchema.safeParse(f.signed).success).toBe(true);
      previous = f.signed_hash;
    }
  });

  it('the publishing code produces exactly the vector bytes and signed hashes', () => {
    const { value } = loadV2();
    const keys = keysOf(value);
    for (const f of value.feeds) {
      const { entries, ...header } = f.unsigned;
      const out = signFeed(
        header as FeedHeader,
        entries.map((e: unknown) => canonicalJson(e)),
        f.signers.map((s: string) => keys[s]!),
      );
      expect(out, f.name).toEqual({ body: f.signed_canonical, signedHash: f.signed_hash });
    }
  });

  it('an authority imports the version 2 chain, also when a relay padded a feed with a signature', async () => {
    const { value } = loadV2();
    const keys = keysOf(value);
    const a = createTestAuthority({ sovereignId: 'sovereign-a', now: '2026-01-04T00:00:00Z' });
    recognize(a, 'sovereign-b', [keys.a!, keys.b!]);
    for (const [i, f] of value.feeds.entries()) {
      const feed =
        i === 0
          ? { ...f.signed, signatures: [...f.signed.signatures, { key_id: `sha256:${'1'.repeat(64)}`, sig: f.signed.signatures[0].sig }] }
          : f.signed;
      const res = await importVia(a, feed);
      expect(res.status, f.name).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'imported', sequence: f.unsigned.sequence });
    }
  });
});
