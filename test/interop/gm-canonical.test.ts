// Genesis Mesh canonical form: GM's published conformance facts and hand-derived canonical bytes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalJson, parseJsonStrict } from '../../src/authority/canonical-json.ts';
import { gmCanonicalJson, gmJson, pythonFloatRepr } from '../../src/interop/gm-canonical.ts';
import { decodeBase64Strict, parsePublicKey, signBytes, signingKeyFromSeed, verifyBytesNoble } from '../../src/authority/crypto.ts';
import { verifyGmSignature } from '../../src/interop/gm-model.ts';

const vector = JSON.parse(readFileSync(new URL('../vectors/gm-treaty-001.json', import.meta.url), 'utf8')) as {
  seed_a_hex: string;
  seed_b_hex: string;
  public_key_a: string;
  public_key_b: string;
  unsigned: Record<string, unknown>;
  canonical: string;
  signature: string;
  signed: Record<string, unknown>;
};

const seedA = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const seedB = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 32));

describe('Genesis Mesh conformance facts (SPEC §10)', () => {
  it('seeds 0..31 and 32..63 give the published public keys a and b', () => {
    expect(signingKeyFromSeed(seedA).publicKey).toBe('A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=');
    expect(signingKeyFromSeed(seedB).publicKey).toBe('Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=');
    expect(vector.seed_a_hex).toBe(seedA.toString('hex'));
    expect(vector.seed_b_hex).toBe(seedB.toString('hex'));
  });

  it('treaty-001 signed with key a yields the published signature byte for byte', () => {
    const a = signingKeyFromSeed(seedA);
    const treaty = {
      treaty_id: '00000000-0000-4000-8000-000000000001',
      issuer_sovereign_id: 'sovereign-a',
      subject_sovereign_id: 'sovereign-b',
      subject_public_keys: ['Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc='],
      scope: { allowed_roles: [], accepted_statuses: ['active'], claims: {} },
      status: 'active',
      issued_at: '2026-01-01T00:00:00Z',
      valid_from: '2026-01-01T00:00:00Z',
      expires_at: '2027-01-01T00:00:00Z',
      issued_by: 'A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=',
      metadata: {},
    };
    const canonical = gmCanonicalJson(treaty, 'recognition_treaty');
    expect(canonical).toBe(
      '{"expires_at":"2027-01-01T00:00:00Z","issued_at":"2026-01-01T00:00:00Z","issued_by":"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",' +
        '"issuer_sovereign_id":"sovereign-a","metadata":{},"scope":{"accepted_statuses":["active"],"allowed_roles":[],"claims":{}},' +
        '"status":"active","subject_public_keys":["Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc="],"subject_sovereign_id":"sovereign-b",' +
        '"treaty_id":"00000000-0000-4000-8000-000000000001","valid_from":"2026-01-01T00:00:00Z"}',
    );
    const signature = signBytes(a, Buffer.from(canonical, 'utf8')).toString('base64');
    expect(signature).toBe('rWWHRZUxF2dfTddgMj6cZn2Y/S8UhxoHFhVRaNH25F2TM/MTdCn+VL5Hm2HIr989+7qvPcJ4ZDoU7DUnf4sFBg==');
    // For ASCII content and second-precision Z timestamps the GM form equals JCS (SPEC §10).
    expect(canonicalJson(treaty)).toBe(canonical);
    expect(verifyBytesNoble(a.raw, Buffer.from(canonical), decodeBase64Strict(signature, 64)!)).toBe(true);
  });

  it('the stored vector file is unchanged and still verifies', () => {
    expect(vector.public_key_a).toBe('A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=');
    expect(vector.public_key_b).toBe('Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=');
    expect(gmCanonicalJson(vector.unsigned, 'recognition_treaty')).toBe(vector.canonical);
    expect(vector.signature).toBe('rWWHRZUxF2dfTddgMj6cZn2Y/S8UhxoHFhVRaNH25F2TM/MTdCn+VL5Hm2HIr989+7qvPcJ4ZDoU7DUnf4sFBg==');
    const keyA = parsePublicKey(vector.public_key_a);
    const keyB = parsePublicKey(vector.public_key_b);
    if (!keyA.ok || !keyB.ok) throw new Error('vector keys must parse');
    expect(verifyGmSignature(vector.signed, 'recognition_treaty', [keyA.key])).toMatchObject({ valid: true, keyId: keyA.key.keyId });
    expect(verifyGmSignature(vector.signed, 'recognition_treaty', [keyB.key])).toEqual({ valid: false, reason: 'invalid_signature' });
  });

  it('fills GM defaults before signing: a treaty without metadata or scope defaults signs the same bytes', () => {
    const { metadata: _m, ...withoutMetadata } = vector.unsigned;
    const scope = { allowed_roles: [] };
    expect(gmCanonicalJson({ ...withoutMetadata, scope }, 'recognition_treaty')).toBe(vector.canonical);
    // GM's MembershipAttestation defaults: subject_public_key None, roles [], status "active", claims {}.
    expect(gmCanonicalJson({ attestation_id: 'x' }, 'membership_attestation')).toBe(
      '{"attestation_id":"x","claims":{},"roles":[],"status":"active","subject_public_key":null}',
    );
    expect(gmCanonicalJson({ attestation_id: 'x', claims: { tier: 1 }, subject_public_key: null }, 'membership_attestation')).toBe(
      '{"attestation_id":"x","claims":{"tier":1},"roles":[],"status":"active","subject_public_key":null}',
    );
    // A treaty without scope gets GM's whole default scope; a feed gets empty lists.
    expect(gmCanonicalJson({ treaty_id: 't' }, 'recognition_treaty')).toBe(
      '{"metadata":{},"scope":{"accepted_statuses":["active"],"allowed_roles":[],"claims":{}},"status":"active","treaty_id":"t"}',
    );
    expect(gmCanonicalJson({ sequence: 0 }, 'revocation_feed')).toBe('{"revocation_reasons":{},"revoked_attestation_ids":[],"sequence":0}');
  });
});

describe('genesis-mesh canonical bytes (hand-derived)', () => {
  const stringCases: Array<[string, Record<string, unknown>, string]> = [
    ['é as \\u00e9', { metadata: { note: 'café' } }, '{"metadata":{"note":"caf\\u00e9"}}'],
    ['CJK as \\uXXXX lowercase', { metadata: { place: '日本' } }, '{"metadata":{"place":"\\u65e5\\u672c"}}'],
    ['emoji as a surrogate pair', { metadata: { mood: '😀' } }, '{"metadata":{"mood":"\\ud83d\\ude00"}}'],
    ['non-ASCII keys escaped too', { metadata: { ключ: 'v' } }, '{"metadata":{"\\u043a\\u043b\\u044e\\u0447":"v"}}'],
    ['DEL 0x7f escaped', { metadata: { del: 'a\u007fb' } }, '{"metadata":{"del":"a\\u007fb"}}'],
    [
      'controls: short escapes and \\u00XX',
      { metadata: { c: '\n\t\r\b\f\u0001\u001f' } },
      '{"metadata":{"c":"\\n\\t\\r\\b\\f\\u0001\\u001f"}}',
    ],
    ['quote, backslash and slash', { metadata: { q: '"\\/' } }, '{"metadata":{"q":"\\"\\\\/"}}'],
    // Code point order puts U+FF61 before U+1F600; UTF-16 (JCS) order would not.
    [
      'keys sorted by code point',
      { metadata: { '😀': '1', '｡': '2', a: '3' } },
      '{"metadata":{"a":"3","\\uff61":"2","\\ud83d\\ude00":"1"}}',
    ],
  ];
  it.each(stringCases)('%s', (_name, object, expected) => {
    expect(gmJson(object)).toBe(expected);
  });

  const timestampCases: Array<[string, string]> = [
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'],
    ['2026-01-01T00:00:00.5Z', '2026-01-01T00:00:00.500000Z'],
    ['2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00Z'],
    ['2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00Z'],
    ['2026-01-01T00:00:00.1234567Z', '2026-01-01T00:00:00.123456Z'],
    ['2026-01-01T00:00:00.9999999Z', '2026-01-01T00:00:00.999999Z'],
    ['2026-01-01T00:00:00.0000004Z', '2026-01-01T00:00:00Z'],
    ['2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00Z'],
    ['2026-01-01T02:00:00+02:00', '2026-01-01T02:00:00+02:00'],
    ['2026-01-01T02:00:00.25+02:00', '2026-01-01T02:00:00.250000+02:00'],
    ['2025-12-31T19:00:00-05:00', '2025-12-31T19:00:00-05:00'],
  ];
  it.each(timestampCases)('timestamp %s signs as %s', (given, normalized) => {
    expect(gmCanonicalJson({ issued_at: given, valid_from: given, expires_at: given }, 'membership_attestation')).toBe(
      `{"claims":{},"expires_at":"${normalized}","issued_at":"${normalized}","roles":[],"status":"active","subject_public_key":null,"valid_from":"${normalized}"}`,
    );
  });

  it('only datetime fields are normalized; look-alike strings elsewhere are signed as given', () => {
    expect(gmCanonicalJson({ metadata: { when: '2026-01-01T00:00:00.5Z' }, scope: {}, status: 'active' }, 'recognition_treaty')).toBe(
      '{"metadata":{"when":"2026-01-01T00:00:00.5Z"},"scope":{"accepted_statuses":["active"],"allowed_roles":[],"claims":{}},"status":"active"}',
    );
  });

  it('feed id lists are sorted by code point and de-duplicated before signing', () => {
    expect(
      gmCanonicalJson(
        { revoked_attestation_ids: ['b', 'a', 'b', 'B'], sequence: 2, issued_at: '2026-01-01T00:00:00.000Z' },
        'revocation_feed',
      ),
    ).toBe('{"issued_at":"2026-01-01T00:00:00Z","revocation_reasons":{},"revoked_attestation_ids":["B","a","b"],"sequence":2}');
  });

  it('the signatures field is never signed', () => {
    expect(gmCanonicalJson({ sequence: 1, signatures: [{ key_id: 'k', sig: 's' }] }, 'revocation_feed')).toBe(
      '{"revocation_reasons":{},"revoked_attestation_ids":[],"sequence":1}',
    );
  });

  const refused: Array<[string, Record<string, unknown>]> = [
    ['timestamp without a zone', { issued_at: '2026-01-01T00:00:00' }],
    ['timestamp with a space separator', { issued_at: '2026-01-01 00:00:00Z' }],
    ['impossible date', { issued_at: '2026-02-30T00:00:00Z' }],
    ['a non-finite number', { claims: { x: Number.POSITIVE_INFINITY } }],
    ['an unsafe integer built in code (its digits are unknown)', { claims: { x: 2 ** 53 } }],
    ['a Date', { claims: { x: new Date(0) } }],
    ['lone surrogate', { claims: { x: '\ud800' } }],
  ];
  it.each(refused)('refuses %s', (_name, object) => {
    expect(() => gmCanonicalJson(object, 'membership_attestation')).toThrow(expect.objectContaining({ code: 'non_canonical_value' }));
  });
});

describe('numbers in the GM canonical form: as Python writes what it read', () => {
  // Hand-derived from CPython's float repr (shortest round-trip digits; exponent form below 1e-4 and from 1e16 on).
  const floats: Array<[number, string]> = [
    [1, '1.0'],
    [-0, '-0.0'],
    [0, '0.0'],
    [0.1, '0.1'],
    [2.5, '2.5'],
    [1e-7, '1e-07'],
    [1e-5, '1e-05'],
    [0.0001, '0.0001'],
    [100, '100.0'],
    [1e15, '1000000000000000.0'],
    [9999999999999998, '9999999999999998.0'],
    [1e16, '1e+16'],
    [12345678901234568, '1.2345678901234568e+16'],
    [1e22, '1e+22'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1 / 3, '0.3333333333333333'],
    [-1.5e300, '-1.5e+300'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
  ];
  it.each(floats)('repr(%s) is %s', (value, text) => {
    expect(pythonFloatRepr(value)).toBe(text);
  });

  it('property: the repr reads back to the same double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const text = pythonFloatRepr(x);
        expect(Object.is(Number(text), x)).toBe(true);
        expect(text).toMatch(/^-?(?:\d+\.\d+|\d(?:\.\d+)?e[+-]\d{2,3})$/);
      }),
      { seed: 754, numRuns: 1000 },
    );
  });

  const lexemes: Array<[string, string]> = [
    ['1.0', '1.0'],
    ['-0.0', '-0.0'],
    ['1e-07', '1e-07'],
    ['9007199254740993', '9007199254740993'],
    ['-123456789012345678901234567890', '-123456789012345678901234567890'],
    // Python reads these and writes them back in its own form, so that is what it signs.
    ['1.00', '1.0'],
    ['1E5', '100000.0'],
    ['1e-7', '1e-07'],
    ['10.50', '10.5'],
    ['-0', '0'],
    ['2.5e0', '2.5'],
  ];
  it.each(lexemes)('the text %s signs as %s', (text, signed) => {
    expect(gmJson(parseJsonStrict(`{"v":${text}}`))).toBe(`{"v":${signed}}`);
  });

  it.each([
    ['a double overflow', '1e400'],
    ['an integer Python refuses to read (more than 4300 digits)', '9'.repeat(4301)],
  ])('refuses %s with non_canonical_value', (_name, text) => {
    expect(() => gmJson(parseJsonStrict(`{"v":${text}}`))).toThrow(expect.objectContaining({ code: 'non_canonical_value' }));
  });

  it('keeps number texts through the model defaults (a treaty without scope claims still signs 1.0 in metadata)', () => {
    const treaty = parseJsonStrict(
      '{"metadata":{"w":1.0,"n":[1,-0.0]},"scope":{"allowed_roles":[]},"status":"active","sequence":3}',
    ) as Record<string, unknown>;
    expect(gmCanonicalJson(treaty, 'recognition_treaty')).toBe(
      '{"metadata":{"n":[1,-0.0],"w":1.0},"scope":{"accepted_statuses":["active"],"allowed_roles":[],"claims":{}},"sequence":3,"status":"active"}',
    );
  });
});
