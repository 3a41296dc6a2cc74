// Real Genesis Mesh v0.52.1 wire objects (test/vectors/gm): every file parses, re-serializes, verifies and imports as its manifest says.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, parseJsonStrict, type JsonValue } from '../../src/authority/canonical-json.ts';
import { gmCanonicalJson, gmJson } from '../../src/interop/gm-canonical.ts';
import { parsePublicKey, verifyWithKey, type PublicKeyInfo } from '../../src/authority/crypto.ts';
import { parseGmObject, verifyGmSignature } from '../../src/interop/gm-model.ts';
import { auditCount, createTestAuthority, dbDigest, type TestAuthority } from '../helpers/authority.ts';

const DIR = new URL('../vectors/gm/', import.meta.url);
const raw = (file: string): string => readFileSync(new URL(file, DIR), 'utf8');
/** The bytes of a file as a request field: the response body without its trailing newline, untouched. */
const bytesOf = (file: string): string => raw(file).replace(/\n$/, '');

interface SignedObjectEntry {
  pointer: string;
  kind: 'RecognitionTreaty' | 'MembershipAttestation' | 'SovereignRevocationFeed' | 'GenesisBlock';
  signer: string;
  trusted_keys_from?: { file: string; pointer: string };
}
interface ManifestEntry {
  file: string;
  step: number;
  route: string;
  http_status: number;
  kind: string;
  facts?: { sequence?: number; revoked_count?: number; revoked?: string[]; same_revocation_state_as?: string };
  signed_objects: SignedObjectEntry[];
}
const manifest = JSON.parse(raw('manifest.json')) as { suggested_eval_time: string; ids: Record<string, string>; files: ManifestEntry[] };
const keys = JSON.parse(raw('keys.json')) as {
  sovereigns: Record<string, { key_id: string; public_key: string; root: { public_key: string } }>;
  other_keys: Record<string, { public_key: string }>;
};

const NORTH = 'GM-NORTH';
const SOUTH = 'GM-SOUTH';
const EVAL_TIME = manifest.suggested_eval_time;
const ids = manifest.ids;

function key(text: string): PublicKeyInfo {
  const parsed = parsePublicKey(text);
  if (!parsed.ok) throw new Error(`bad key ${text}`);
  return parsed.key;
}

/** "GM-NORTH" → its NA key and label; "GM-NORTH/root" → its root key. */
function signer(name: string): { key: PublicKeyInfo; label: string } {
  const [sovereign, which] = name.split('/') as [string, string | undefined];
  const entry = keys.sovereigns[sovereign]!;
  return which === 'root' ? { key: key(entry.root.public_key), label: 'root' } : { key: key(entry.public_key), label: entry.key_id };
}

function at(root: JsonValue, pointer: string): JsonValue {
  return pointer
    .split('/')
    .slice(1)
    .reduce<JsonValue>((node, part) => (node as Record<string, JsonValue>)[part]!, root);
}

const GM_TYPES = {
  RecognitionTreaty: 'recognition_treaty',
  MembershipAttestation: 'membership_attestation',
  SovereignRevocationFeed: 'revocation_feed',
} as const;

describe('every GM response body, with Accord’s parser and GM canonical form', () => {
  it('the manifest lists every captured body, and each one is in GM’s own form: Accord re-serializes it byte for byte', () => {
    expect(manifest.files).toHaveLength(43);
    for (const entry of manifest.files) {
      const text = raw(entry.file);
      // Flask writes sorted, compact, ASCII-escaped JSON plus a newline; number texts (1.0, -0.0, 1e-07, 2^53+1) included.
      expect(`${gmJson(parseJsonStrict(text))}\n`, entry.file).toBe(text);
    }
  });

  const signed = manifest.files.flatMap((entry) => entry.signed_objects.map((object) => ({ entry, object })));

  it('holds 25 signed objects', () => {
    expect(signed).toHaveLength(25);
  });

  it.each(signed.map(({ entry, object }) => [`${entry.file}${object.pointer}`, entry, object] as const))(
    '%s verifies under its signer’s key',
    (_name, entry, object) => {
      const document = parseJsonStrict(raw(entry.file));
      const target = at(document, object.pointer) as Record<string, unknown>;
      const who = signer(object.signer);
      let trusted = [who.key];
      if (object.trusted_keys_from) {
        // An attestation is checked with the keys its treaty gives; the signer's key must be among them.
        const treatyKeys = at(parseJsonStrict(raw(object.trusted_keys_from.file)), object.trusted_keys_from.pointer) as string[];
        expect(treatyKeys).toContain(who.key.base64);
        trusted = treatyKeys.map(key);
      }
      if (object.kind === 'GenesisBlock') {
        const { signatures, ...unsigned } = target as { signatures: Array<{ sig: string }> };
        const payload = Buffer.from(gmJson(unsigned), 'utf8');
        expect(signatures.some((s) => verifyWithKey(who.key, payload, Buffer.from(s.sig, 'base64')))).toBe(true);
        payload[payload.length >> 1]! ^= 1;
        expect(signatures.some((s) => verifyWithKey(who.key, payload, Buffer.from(s.sig, 'base64')))).toBe(false);
        return;
      }
      const type = GM_TYPES[object.kind];
      expect(parseGmObject(type, target), 'the strict schema accepts what GM emits').toMatchObject({ ok: true });
      expect(verifyGmSignature(target, type, trusted)).toEqual({ valid: true, keyId: who.key.keyId });
      // The key label travels in issued_by and key_id; it is never the key.
      expect(target.issued_by).toBe(who.label);
      expect(target.issued_by).not.toBe(who.key.base64);
      // Another sovereign's key does not verify it.
      const other = object.signer === NORTH ? signer(SOUTH).key : signer(NORTH).key;
      expect(verifyGmSignature(target, type, [other]).valid).toBe(false);
    },
  );

  it('the numeric-metadata treaty verifies only with its number texts kept (1.0, -0.0, 1e-07, 9007199254740993)', () => {
    const text = raw('treaty-north-to-south-numeric-metadata.json');
    const kept = parseJsonStrict(text) as Record<string, unknown>;
    const north = signer(NORTH).key;
    expect(verifyGmSignature(kept, 'recognition_treaty', [north]).valid).toBe(true);
    // JSON.parse forgets how the numbers were written: 2^53+1 has no faithful form left at all, and
    // without it, 1 and 0 are other bytes than 1.0 and -0.0.
    const forgotten = JSON.parse(text) as Record<string, Record<string, unknown>>;
    expect(() => verifyGmSignature(forgotten, 'recognition_treaty', [north])).toThrow(
      expect.objectContaining({ code: 'non_canonical_value' }),
    );
    forgotten.metadata!.big_int = 0;
    const reparsed = parseJsonStrict(text) as Record<string, Record<string, unknown>>;
    reparsed.metadata!.big_int = 0;
    expect(gmCanonicalJson(forgotten, 'recognition_treaty')).not.toBe(gmCanonicalJson(reparsed, 'recognition_treaty'));
    expect(gmCanonicalJson(reparsed, 'recognition_treaty')).toContain('"neg":-0.0');
    expect(gmCanonicalJson(reparsed, 'recognition_treaty')).toContain('"weight":1.0');
  });

  it('the non-ASCII treaty verifies in GM’s ASCII-escaped form and not in RFC 8785 JCS', () => {
    const treaty = parseJsonStrict(raw('treaty-north-to-south-non-ascii.json')) as Record<string, unknown>;
    const north = signer(NORTH).key;
    expect(verifyGmSignature(treaty, 'recognition_treaty', [north]).valid).toBe(true);
    const { signatures, ...unsigned } = treaty as { signatures: Array<{ sig: string }> };
    expect(verifyWithKey(north, Buffer.from(canonicalJson(unsigned), 'utf8'), Buffer.from(signatures[0]!.sig, 'base64'))).toBe(false);
  });

  it('feed facts: sequence is the revoked count, ids sorted; a re-fetch has the same state under a new feed_id, issued_at and signature', () => {
    for (const entry of manifest.files.filter((e) => e.facts)) {
      const feed = parseJsonStrict(raw(entry.file)) as {
        sequence: number;
        revoked_attestation_ids: string[];
        feed_id: string;
        issued_at: string;
        signatures: Array<{ sig: string }>;
      };
      expect(feed.sequence, entry.file).toBe(entry.facts!.sequence);
      expect(feed.revoked_attestation_ids).toHaveLength(feed.sequence);
      if (entry.facts!.revoked) expect(feed.revoked_attestation_ids).toEqual(entry.facts!.revoked);
      const same = entry.facts!.same_revocation_state_as;
      if (same) {
        const other = parseJsonStrict(raw(same)) as typeof feed;
        expect(other.revoked_attestation_ids).toEqual(feed.revoked_attestation_ids);
        expect(other.feed_id).not.toBe(feed.feed_id);
        expect(other.issued_at).not.toBe(feed.issued_at);
        expect(other.signatures[0]!.sig).not.toBe(feed.signatures[0]!.sig);
      }
    }
  });

  it('the declarations name the keys the objects verify under; GM serves no /.well-known document', () => {
    for (const [file, sovereign] of [
      ['north-sovereign.json', NORTH],
      ['south-sovereign.json', SOUTH],
    ] as const) {
      const declaration = parseJsonStrict(raw(file)) as {
        sovereign_id: string;
        network_authority: { public_key: string };
        root_public_key: string;
      };
      expect(declaration.sovereign_id).toBe(sovereign);
      expect(declaration.network_authority.public_key).toBe(keys.sovereigns[sovereign]!.public_key);
      expect(declaration.root_public_key).toBe(keys.sovereigns[sovereign]!.root.public_key);
    }
    expect(parseJsonStrict(raw('north-well-known-404.json'))).toMatchObject({ error: { code: 'not_found' } });
  });
});

async function post(a: TestAuthority, path: string, body: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await a.app.request(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The request bodies are assembled around the exact response bytes of GM, never re-serialized. */
const verifyTreatyBody = (file: string) => `{"treaty":${bytesOf(file)}}`;
const verifyAttestationBody = (file: string) => `{"attestation":${bytesOf(file)}}`;
const importBody = (file: string) => `{"feed":${bytesOf(file)}}`;

async function recognizeGm(a: TestAuthority, sovereign: string, publicKey: string): Promise<void> {
  const res = await a.admin('POST', '/admin/recognition-treaties', {
    subject_sovereign_id: sovereign,
    subject_public_keys: [publicKey],
    scope: { allowed_roles: ['role:anchor', 'role:client', 'role:service:billing'] },
    validity_hours: 24 * 90,
    profile: 'genesis-mesh',
  });
  expect(res.status, await res.clone().text()).toBe(201);
}

let acc: TestAuthority;
beforeEach(async () => {
  // Accord recognizes both GM sovereigns under the genesis-mesh profile, from a week before the capture.
  acc = createTestAuthority({ sovereignId: 'ACCORD-EAST', now: '2026-11-27T00:00:00Z' });
  await recognizeGm(acc, NORTH, keys.sovereigns[NORTH]!.public_key);
  await recognizeGm(acc, SOUTH, keys.sovereigns[SOUTH]!.public_key);
  acc.clock.set(EVAL_TIME);
});
afterEach(async () => {
  await acc.close();
  acc.db.close();
});

describe('POST /recognition-treaties/verify with GM’s treaty bytes', () => {
  it.each([
    ['treaty-north-to-south.json', ids.treaty_north_to_south, []],
    ['treaty-north-to-south-non-ascii.json', ids.treaty_north_to_south_non_ascii, []],
    ['treaty-north-to-south-numeric-metadata.json', ids.treaty_north_to_south_numeric, []],
    // GM-NORTH's revocation of this one is its local state (the signed JSON still says active): a verifier without it sees a valid treaty.
    ['treaty-north-to-south-defaults.json', ids.treaty_north_to_south_defaults_revoked, ['scope_unrestricted']],
    ['treaty-south-to-north.json', ids.treaty_south_to_north, []],
  ])('%s is accepted', async (file, treatyId, warnings) => {
    const { status, body } = await post(acc, '/recognition-treaties/verify', verifyTreatyBody(file));
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ accepted: true, reason: 'accepted', treaty_id: treatyId });
    expect(body.warnings).toEqual(expect.arrayContaining(warnings));
  });

  it('the treaties embedded in GM’s list, row and connectome views are accepted too', async () => {
    for (const entry of manifest.files.filter((e) => e.signed_objects.some((o) => o.kind === 'RecognitionTreaty' && o.pointer !== ''))) {
      const document = parseJsonStrict(raw(entry.file));
      for (const object of entry.signed_objects) {
        // gmJson of the parsed object is its exact substring of the response (the body re-serializes byte for byte).
        const { body } = await post(acc, '/recognition-treaties/verify', `{"treaty":${gmJson(at(document, object.pointer))}}`);
        expect(body, `${entry.file}${object.pointer}`).toMatchObject({ accepted: true, reason: 'accepted' });
      }
    }
  });

  it('GM’s verdicts on treaties are Accord’s verdicts for the same inputs', async () => {
    // GM-SOUTH accepted its own treaty and GM-NORTH's non-ASCII and numeric treaties.
    for (const [verdict, file] of [
      ['verdict-south-verifies-own-treaty.json', 'treaty-south-to-north.json'],
      ['verdict-south-verifies-north-non-ascii-treaty.json', 'treaty-north-to-south-non-ascii.json'],
      ['verdict-south-verifies-north-numeric-treaty.json', 'treaty-north-to-south-numeric-metadata.json'],
    ]) {
      const gm = parseJsonStrict(raw(verdict!)) as { accepted: boolean; treaty_id: string };
      const { body } = await post(acc, '/recognition-treaties/verify', verifyTreatyBody(file!));
      expect(body, verdict).toMatchObject({ accepted: gm.accepted, treaty_id: gm.treaty_id });
    }
    // GM-NORTH refused the defaults treaty from its own revocation state (locally_revoked), which no wire object carries.
    expect(parseJsonStrict(raw('verdict-north-verifies-revoked-treaty.json'))).toMatchObject({
      accepted: false,
      reason: 'locally_revoked',
    });
  });

  it('the numeric treaty sent re-serialized by JSON.stringify is refused as invalid_signature', async () => {
    const normalized = JSON.stringify(JSON.parse(bytesOf('treaty-north-to-south-numeric-metadata.json')));
    const { body } = await post(acc, '/recognition-treaties/verify', `{"treaty":${normalized}}`);
    expect(body).toMatchObject({ accepted: false, reason: 'invalid_signature' });
  });
});

describe('POST /attestations/verify and feed imports with GM’s bytes, step by step as captured', () => {
  const verify = async (file: string) => (await post(acc, '/attestations/verify', verifyAttestationBody(file))).body;
  const importFeed = (file: string) => acc.admin('POST', '/admin/sovereign-revocation-feeds/import', importBody(file));

  it('matches every GM-SOUTH verdict, with Accord’s reason codes', async () => {
    // Before any feed: all three accepted (GM: verdict-*-before-import.json).
    for (const [file, verdict] of [
      ['attestation-no-subject-key.json', 'verdict-south-attestation-no-subject-key-before-import.json'],
      ['attestation-with-subject-key.json', 'verdict-south-attestation-with-subject-key-before-import.json'],
      ['attestation-unrevoked.json', 'verdict-south-attestation-unrevoked-before-import.json'],
    ] as const) {
      const gm = parseJsonStrict(raw(verdict)) as { accepted: boolean; attestation_id: string };
      expect(await verify(file), file).toMatchObject({
        accepted: gm.accepted,
        reason: 'accepted',
        attestation_id: gm.attestation_id,
        issuer_sovereign_id: NORTH,
      });
    }
    expect((await verify('attestation-no-subject-key.json')).warnings).toContain('issuer_feed_unknown');

    // Feed a (sequence 0, nothing revoked) is imported: GM-NORTH's state is now known.
    const a = await importFeed('feed-a-initial-seq0.json');
    expect(a.status, await a.clone().text()).toBe(200);
    expect(await a.json()).toMatchObject({
      accepted: true,
      status: 'imported',
      issuer_sovereign_id: NORTH,
      sequence: 0,
      revoked_count: 0,
      snapshot_count: 0,
    });
    expect(parseJsonStrict(raw('verdict-south-import-feed-a.json'))).toMatchObject({ accepted: true, sequence: 0, revoked_count: 0 });
    expect(acc.db.sqlite.prepare('SELECT last_sequence, paused FROM feed_issuers WHERE issuer_sovereign_id = ?').get(NORTH)).toEqual({
      last_sequence: 0,
      paused: 0,
    });
    expect((await verify('attestation-no-subject-key.json')).warnings).toEqual([]);

    // b1 and b2 are the same state re-signed on later GETs: already imported (GM answers 409 stale_sequence to b2).
    for (const file of ['feed-b1-seq0.json', 'feed-b2-seq0-refetch.json']) {
      const res = await importFeed(file);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'already_imported', sequence: 0, revoked_count: 0 });
    }
    expect(parseJsonStrict(raw('verdict-south-import-feed-b2.json'))).toMatchObject({ error: { code: 'stale_sequence' } });
    expect(auditCount(acc.db, 'feed_equivocation_detected')).toBe(0);

    // The feed GM-NORTH signed for "GM-ELSEWHERE": no treaty binds that issuer to a key, so it is refused and nothing changes.
    const before = dbDigest(acc.db);
    const foreign = await importFeed('feed-foreign-issuer-param.json');
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({
      error: { code: 'issuer_not_recognized', details: { issuer_sovereign_id: 'GM-ELSEWHERE' } },
    });
    expect(dbDigest(acc.db)).toBe(before);
    expect(parseJsonStrict(raw('verdict-south-import-feed-foreign-issuer.json'))).toMatchObject({
      error: { code: 'missing_issuer_public_keys' },
    });

    // Feed c revokes the attestation with a subject key.
    const c = await importFeed('feed-c-after-1-revocation.json');
    expect(await c.json()).toMatchObject({ status: 'imported', sequence: 1, revoked_count: 1, snapshot_count: 1 });
    expect(parseJsonStrict(raw('verdict-south-import-feed-c.json'))).toMatchObject({ accepted: true, sequence: 1, revoked_count: 1 });
    expect(parseJsonStrict(raw('verdict-south-attestation-with-subject-key-after-feed-c.json'))).toMatchObject({
      accepted: false,
      reason: 'attestation_locally_revoked',
    });
    expect(await verify('attestation-with-subject-key.json')).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });
    expect(parseJsonStrict(raw('verdict-south-attestation-no-subject-key-after-feed-c.json'))).toMatchObject({ accepted: true });
    expect(await verify('attestation-no-subject-key.json')).toMatchObject({ accepted: true, reason: 'accepted' });

    // Feed d adds the second revocation (its reason is free text, recorded as unspecified).
    const d = await importFeed('feed-d-after-2-revocations.json');
    expect(await d.json()).toMatchObject({ status: 'imported', sequence: 2, revoked_count: 1, snapshot_count: 2 });
    expect(parseJsonStrict(raw('verdict-south-import-feed-d.json'))).toMatchObject({ accepted: true, sequence: 2, revoked_count: 2 });
    expect(
      acc.db.sqlite
        .prepare('SELECT id, reason, feed_sequence FROM imported_revocations WHERE issuer_sovereign_id = ? ORDER BY log_index')
        .all(NORTH),
    ).toEqual([
      { id: ids.attestation_with_subject_key, reason: 'key_compromise', feed_sequence: 1 },
      { id: ids.attestation_no_subject_key, reason: 'unspecified', feed_sequence: 2 },
    ]);
    expect(parseJsonStrict(raw('verdict-south-attestation-no-subject-key-after-feed-d.json'))).toMatchObject({
      accepted: false,
      reason: 'attestation_locally_revoked',
    });
    expect(await verify('attestation-no-subject-key.json')).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });
    expect(parseJsonStrict(raw('verdict-south-attestation-unrevoked-after-feed-d.json'))).toMatchObject({ accepted: true });
    expect(await verify('attestation-unrevoked.json')).toMatchObject({ accepted: true, reason: 'accepted' });

    // Feed c again after d: the statement held for sequence 1 (GM: 409 stale_sequence). Still no equivocation, no pause.
    const again = await importFeed('feed-c-after-1-revocation.json');
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: 'already_imported', sequence: 1 });
    expect(parseJsonStrict(raw('verdict-south-import-feed-c-again-after-d.json'))).toMatchObject({ error: { code: 'stale_sequence' } });
    expect(auditCount(acc.db, 'feed_equivocation_detected')).toBe(0);
    expect(acc.db.sqlite.prepare('SELECT paused FROM feed_issuers WHERE issuer_sovereign_id = ?').get(NORTH)).toEqual({ paused: 0 });

    // GM-NORTH's row of the revoked attestation embeds the unchanged signed object: it still verifies, and is revoked here.
    const row = parseJsonStrict(raw('attestation-row-north-revoked.json')) as { attestation: JsonValue; status: string };
    expect(row.status).toBe('revoked');
    expect((await post(acc, '/attestations/verify', `{"attestation":${gmJson(row.attestation)}}`)).body).toMatchObject({
      accepted: false,
      reason: 'revoked_by_issuer_feed',
    });
  });

  it('two GETs of an unchanged snapshot give imported, then already_imported', async () => {
    expect(await (await importFeed('feed-b1-seq0.json')).json()).toMatchObject({ status: 'imported', sequence: 0 });
    expect(await (await importFeed('feed-b2-seq0-refetch.json')).json()).toMatchObject({ status: 'already_imported', sequence: 0 });
  });
});

describe('GM’s ±5 minute validity tolerance, on GM’s own treaty bytes', () => {
  // treaty-north-to-south-defaults.json: valid_from 2026-12-04T20:25:31.135352Z, expires_at 2026-12-11T20:25:31.135352Z.
  const file = 'treaty-north-to-south-defaults.json';
  it.each([
    ['5 min before valid_from, rounded up to the next millisecond', '2026-12-04T20:20:31.136Z', 'accepted'],
    ['just earlier than 5 min before valid_from', '2026-12-04T20:20:31.135Z', 'not_yet_valid'],
    ['5 min after expires_at, within the microsecond', '2026-12-11T20:30:31.135Z', 'accepted'],
    ['just later than 5 min after expires_at', '2026-12-11T20:30:31.136Z', 'expired'],
  ])('%s → %s', async (_name, now, reason) => {
    acc.clock.set(now);
    const { body } = await post(acc, '/recognition-treaties/verify', verifyTreatyBody(file));
    expect(body).toMatchObject({ reason });
  });

  it('attestations get the same tolerance (the no-subject-key attestation, 5 min before its valid_from)', async () => {
    // valid_from 2026-12-04T20:25:31.150556Z
    acc.clock.set('2026-12-04T20:20:31.151Z');
    expect((await post(acc, '/attestations/verify', verifyAttestationBody('attestation-no-subject-key.json'))).body).toMatchObject({
      accepted: true,
    });
    acc.clock.set('2026-12-04T20:20:31.150Z');
    expect((await post(acc, '/attestations/verify', verifyAttestationBody('attestation-no-subject-key.json'))).body).toMatchObject({
      reason: 'not_yet_valid',
    });
  });
});
