// Where Accord is stricter than Genesis Mesh on purpose (docs/interop.md): one row per listed input, built from GM's real objects.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestAuthority, dbDigest, type TestAuthority } from '../helpers/authority.ts';
import { gmKeyFromSeed, gmSign } from './gm-reference.ts';

const DIR = new URL('../vectors/gm/', import.meta.url);
const raw = (file: string): string => readFileSync(new URL(file, DIR), 'utf8').trimEnd();
const keys = JSON.parse(raw('keys.json')) as { sovereigns: Record<string, { key_id: string; public_key: string; seed_hex: string }> };
const north = keys.sovereigns['GM-NORTH']!;
const northKey = gmKeyFromSeed(Buffer.from(north.seed_hex, 'hex'));

type Json = Record<string, any>;
const treaty = (): Json => JSON.parse(raw('treaty-north-to-south.json')) as Json;
const attestation = (): Json => JSON.parse(raw('attestation-no-subject-key.json')) as Json;
const feed = (): Json => JSON.parse(raw('feed-d-after-2-revocations.json')) as Json;

/** Signed again by GM-NORTH after the change, so a refusal is never just a broken signature. */
function resigned(object: Json): Json {
  const { signatures: _s, ...unsigned } = object;
  return gmSign(unsigned, northKey, north.key_id);
}

const keyOf = (fill: number) => Buffer.alloc(32, fill).toString('base64');
const roles = (n: number) => Array.from({ length: n }, (_, i) => `role:service:s${i}`);
const smallOrderKey = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]).toString('base64');

let acc: TestAuthority;
beforeEach(async () => {
  acc = createTestAuthority({ sovereignId: 'ACCORD-EAST', now: '2026-11-27T00:00:00Z' });
  const res = await acc.admin('POST', '/admin/recognition-treaties', {
    subject_sovereign_id: 'GM-NORTH',
    subject_public_keys: [north.public_key],
    scope: { allowed_roles: ['role:client'] },
    validity_hours: 24 * 90,
    profile: 'genesis-mesh',
  });
  expect(res.status).toBe(201);
  acc.clock.set('2026-12-04T20:30:00Z');
});
afterEach(async () => {
  await acc.close();
  acc.db.close();
});

async function refused(path: string, body: string, code: string, reason: string): Promise<void> {
  const before = dbDigest(acc.db);
  const res = path.startsWith('/admin/')
    ? await acc.admin('POST', path, body)
    : await acc.app.request(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  const answer = (await res.json()) as { error?: { code: string; details: { reason?: string; profile?: string } } };
  expect(res.status, JSON.stringify(answer)).toBe(422);
  expect(answer.error).toMatchObject({ code, details: { reason } });
  expect(dbDigest(acc.db)).toBe(before);
}

describe('treaties (POST /recognition-treaties/verify)', () => {
  const rows: Array<[string, () => string, string]> = [
    ['unknown field', () => JSON.stringify(resigned({ ...treaty(), note: 'x' })), 'unknown_field'],
    ['unknown field in scope', () => JSON.stringify(resigned({ ...treaty(), scope: { ...treaty().scope, weight: 1 } })), 'unknown_field'],
    [
      'unknown field in a signature entry',
      () => JSON.stringify({ ...treaty(), signatures: [{ ...treaty().signatures[0], alg: 'ed25519' }] }),
      'unknown_field',
    ],
    ['scope omitted (GM fills its default)', () => JSON.stringify(resigned((({ scope: _s, ...t }) => t)(treaty()))), 'missing_field'],
    ['status omitted (GM fills its default)', () => JSON.stringify(resigned((({ status: _s, ...t }) => t)(treaty()))), 'missing_field'],
    ['non-ASCII subject sovereign id', () => JSON.stringify(resigned({ ...treaty(), subject_sovereign_id: 'GM-SÜD' })), 'invalid_field'],
    ['sovereign id with a slash', () => JSON.stringify(resigned({ ...treaty(), subject_sovereign_id: 'gm/south' })), 'invalid_field'],
    ['non-ASCII treaty id', () => JSON.stringify(resigned({ ...treaty(), treaty_id: 'traité-1' })), 'invalid_field'],
    ['non-ASCII issued_by label', () => JSON.stringify(resigned({ ...treaty(), issued_by: 'clé-nord' })), 'invalid_field'],
    [
      'role outside GM’s prefixes',
      () => JSON.stringify(resigned({ ...treaty(), scope: { ...treaty().scope, allowed_roles: ['admin'] } })),
      'invalid_field',
    ],
    [
      'duplicated subject key',
      () => JSON.stringify(resigned({ ...treaty(), subject_public_keys: [north.public_key, north.public_key] })),
      'duplicate_id',
    ],
    [
      'subject key with a junk character',
      () =>
        JSON.stringify(resigned({ ...treaty(), subject_public_keys: [`${north.public_key.slice(0, 10)}*${north.public_key.slice(11)}`] })),
      'malformed_base64',
    ],
    [
      'subject key in the URL-safe alphabet',
      () => JSON.stringify(resigned({ ...treaty(), subject_public_keys: [keyOf(0xfb).replace(/\+/g, '-').replace(/\//g, '_')] })),
      'malformed_base64',
    ],
    [
      'subject key without padding',
      () => JSON.stringify(resigned({ ...treaty(), subject_public_keys: [north.public_key.replace(/=$/, '')] })),
      'malformed_base64',
    ],
    [
      'subject key with whitespace',
      () => JSON.stringify(resigned({ ...treaty(), subject_public_keys: [` ${north.public_key}`] })),
      'malformed_base64',
    ],
    [
      'small-order subject key',
      () => JSON.stringify(resigned({ ...treaty(), subject_public_keys: [smallOrderKey] })),
      'malformed_public_key',
    ],
    [
      'signature with a junk character',
      () => JSON.stringify({ ...treaty(), signatures: [{ key_id: north.key_id, sig: `!${treaty().signatures[0].sig.slice(1)}` }] }),
      'malformed_base64',
    ],
    ['Unix-seconds timestamp', () => JSON.stringify(resigned({ ...treaty(), valid_from: 1796416000 })), 'invalid_field'],
    [
      'timestamp without a zone',
      () => JSON.stringify(resigned({ ...treaty(), valid_from: '2026-12-04T20:25:31.123834' })),
      'timestamp_without_zone',
    ],
    [
      'timestamp with lowercase t and z',
      () => JSON.stringify(resigned({ ...treaty(), valid_from: '2026-12-04t20:25:31.123834z' })),
      'invalid_timestamp',
    ],
    [
      'timestamp with a space separator',
      () => JSON.stringify(resigned({ ...treaty(), valid_from: '2026-12-04 20:25:31.123834Z' })),
      'invalid_timestamp',
    ],
    [
      'timestamp with an impossible date',
      () => JSON.stringify(resigned({ ...treaty(), valid_from: '2026-02-30T20:25:31Z' })),
      'invalid_timestamp',
    ],
    [
      'timestamp offset beyond ±23:59',
      () => JSON.stringify(resigned({ ...treaty(), valid_from: '2026-12-04T20:25:31+24:00' })),
      'invalid_timestamp',
    ],
    [
      '17 subject keys',
      () => JSON.stringify(resigned({ ...treaty(), subject_public_keys: Array.from({ length: 17 }, (_, i) => keyOf(i + 1)) })),
      'invalid_field',
    ],
    [
      '17 signatures',
      () => JSON.stringify({ ...treaty(), signatures: Array.from({ length: 17 }, () => treaty().signatures[0]) }),
      'invalid_field',
    ],
    ['65 roles', () => JSON.stringify(resigned({ ...treaty(), scope: { ...treaty().scope, allowed_roles: roles(65) } })), 'invalid_field'],
    [
      'a number beyond a double',
      () => raw('treaty-north-to-south.json').replace('"metadata":{', '"metadata":{"huge":1e400,'),
      'non_canonical_value',
    ],
    [
      'an integer Python cannot read (4,301 digits)',
      () => raw('treaty-north-to-south.json').replace('"metadata":{', `"metadata":{"huge":${'9'.repeat(4301)},`),
      'non_canonical_value',
    ],
    [
      'a lone surrogate',
      () => raw('treaty-north-to-south.json').replace('"metadata":{', '"metadata":{"s":"\\ud800",'),
      'non_canonical_value',
    ],
  ];
  it.each(rows)('%s → %s', async (_name, body, reason) => {
    await refused('/recognition-treaties/verify', `{"treaty":${body()}}`, 'invalid_treaty', reason);
  });

  it('the same treaty, re-signed, is accepted: each refusal above is the change, not the signature', async () => {
    const res = await acc.app.request('/recognition-treaties/verify', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ treaty: resigned(treaty()) }),
    });
    expect(await res.json()).toMatchObject({ accepted: true, reason: 'accepted' });
  });
});

describe('attestations (POST /attestations/verify)', () => {
  const rows: Array<[string, () => Json, string]> = [
    ['status omitted', () => resigned((({ status: _s, ...a }) => a)(attestation())), 'missing_field'],
    ['unknown field', () => resigned({ ...attestation(), level: 1 }), 'unknown_field'],
    ['non-ASCII attestation id', () => resigned({ ...attestation(), attestation_id: 'attestation-ñ' }), 'invalid_field'],
    ['65 roles', () => resigned({ ...attestation(), roles: roles(65) }), 'invalid_field'],
    ['Unix-seconds expires_at', () => resigned({ ...attestation(), expires_at: 1828124731 }), 'invalid_field'],
    [
      'malformed subject key',
      () => resigned({ ...attestation(), subject_public_key: Buffer.alloc(31, 7).toString('base64') }),
      'malformed_public_key',
    ],
  ];
  it.each(rows)('%s → %s', async (_name, make, reason) => {
    await refused('/attestations/verify', JSON.stringify({ attestation: make() }), 'invalid_attestation', reason);
  });

  it('the same attestation, re-signed, is accepted', async () => {
    const res = await acc.app.request('/attestations/verify', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ attestation: resigned(attestation()) }),
    });
    expect(await res.json()).toMatchObject({ accepted: true, reason: 'accepted' });
  });
});

describe('snapshot feeds (POST /admin/sovereign-revocation-feeds/import)', () => {
  const rows: Array<[string, () => string, string]> = [
    ['sequence given as a string', () => JSON.stringify(resigned({ ...feed(), sequence: '2' })), 'invalid_field'],
    [
      'sequence written with a fraction',
      () => raw('feed-d-after-2-revocations.json').replace('"sequence":2', '"sequence":2.0'),
      'non_canonical_value',
    ],
    [
      'ids out of code point order',
      () => JSON.stringify(resigned({ ...feed(), revoked_attestation_ids: [...feed().revoked_attestation_ids].reverse() })),
      'unsorted_id_list',
    ],
    [
      'a duplicated id',
      () =>
        JSON.stringify(
          resigned({ ...feed(), revoked_attestation_ids: [feed().revoked_attestation_ids[0], ...feed().revoked_attestation_ids] }),
        ),
      'duplicate_id',
    ],
    ['unknown field', () => JSON.stringify(resigned({ ...feed(), next_update: '2026-12-05T00:00:00Z' })), 'unknown_field'],
    ['Unix-seconds issued_at', () => JSON.stringify(resigned({ ...feed(), issued_at: 1796416000 })), 'invalid_field'],
  ];
  it.each(rows)('%s → %s', async (_name, body, reason) => {
    await refused('/admin/sovereign-revocation-feeds/import', `{"feed":${body()}}`, 'invalid_revocation_feed', reason);
  });

  it('a far-future issued_at is refused with invalid_timestamps, nothing changes', async () => {
    const before = dbDigest(acc.db);
    const res = await acc.admin('POST', '/admin/sovereign-revocation-feeds/import', {
      feed: resigned({ ...feed(), issued_at: '2027-01-01T00:00:00.000001Z' }),
    });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_timestamps' } });
    expect(dbDigest(acc.db)).toBe(before);
  });

  it('the same feed, re-signed, is imported: each refusal above is the change, not the signature', async () => {
    const res = await acc.admin('POST', '/admin/sovereign-revocation-feeds/import', { feed: resigned(feed()) });
    expect(res.status, await res.clone().text()).toBe(200);
  });
});
