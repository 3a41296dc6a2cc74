// Property: the fast acceptance checks of verification accept only what the zod schemas accept, unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  acceptsMembershipAttestation,
  acceptsVerifyAttestationInput,
  membershipAttestationSchema,
  verifyAttestationInputSchema,
} from '../../src/treaties/model.ts';

type Json = any;
type Path = Array<string | number>;

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const uuid = fc
  .tuple(hex(8), hex(4), hex(3), fc.constantFrom('8', '9', 'a', 'b'), hex(3), hex(12))
  .map(([a, b, c, v, d, e]) => `${a}-${b}-4${c}-${v}${d}-${e}`);
const keyId = hex(64).map((h) => `sha256:${h}`);
const identifier = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,20}$/);
const role = fc.constantFrom('role:anchor', 'role:bridge', 'role:client', 'role:operator', 'role:service:ledger', 'role:service:a.b-c');
const instant = fc
  .integer({ min: Date.UTC(2000, 0, 1) / 1000, max: Date.UTC(2040, 0, 1) / 1000 })
  .map((s) => new Date(s * 1000).toISOString().replace('.000Z', 'Z'));
const claimValue = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
);

const attestation = fc
  .record({
    attestation_id: uuid,
    issuer_sovereign_id: identifier,
    subject_id: identifier,
    subject_public_key: fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')),
    ),
    roles: fc.uniqueArray(role, { minLength: 1, maxLength: 4 }),
    status: fc.constantFrom('active', 'suspended', 'x_1'),
    issued_at: instant,
    window: fc.tuple(instant, instant).filter(([a, b]) => a !== b),
    issued_by: keyId,
    claims: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), claimValue, { maxKeys: 3 }),
    signatures: fc.uniqueArray(fc.record({ key_id: keyId, sig: fc.string({ minLength: 1, maxLength: 90 }) }), {
      minLength: 1,
      maxLength: 3,
      selector: (s) => s.key_id,
    }),
  })
  .map(({ window: [a, b], subject_public_key, ...rest }) => ({
    ...rest,
    ...(subject_public_key === undefined ? {} : { subject_public_key }),
    // biome-ignore lint/complexity/useMathMinMax: the window's ends are timestamps, ordered as strings
    valid_from: a < b ? a : b,
    // biome-ignore lint/complexity/useMathMinMax: as above
    expires_at: a < b ? b : a,
  }));

const hostile = fc.oneof(
  instant,
  role,
  fc.string({ maxLength: 12 }),
  fc.constantFrom(
    '',
    'role:anchor',
    'role:admin',
    '2026-02-30T00:00:00Z',
    '2026-01-01T00:00:00.5Z',
    `sha256:${'A'.repeat(64)}`,
    '\ud800',
    'a'.repeat(129),
    'active',
    'x'.repeat(201),
  ),
  fc.integer(),
  fc.double(),
  fc.constantFrom(null, true, false, undefined, 2 ** 60, 1.5, Number.NaN),
  fc.constant([]),
  fc.constant({}),
  fc.constant(['role:anchor', 'role:anchor']),
  fc.constant({ key_id: `sha256:${'a'.repeat(64)}`, sig: 'x', extra: 1 }),
  fc.constant(Object.create(null)),
  fc.constant(JSON.parse('{"__proto__": {"x": 1}}')),
  fc.constant(new Date(0)),
);

function allPaths(value: Json, prefix: Path = []): Path[] {
  const out: Path[] = [];
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([...prefix, i], ...allPaths(v, [...prefix, i]));
    });
  } else if (value && typeof value === 'object')
    for (const k of Object.keys(value)) out.push([...prefix, k], ...allPaths(value[k], [...prefix, k]));
  return out;
}

/** One change anywhere in the object: replace a value, delete it, add a sibling, duplicate an array item. */
function mutate(original: Json, pick: number, kind: number, value: unknown, name: string): Json {
  const copy = structuredClone(original);
  const paths = allPaths(copy);
  const path = paths[pick % paths.length]!;
  let parent = copy;
  for (const step of path.slice(0, -1)) parent = parent[step];
  const last = path.at(-1)!;
  if (kind === 0) parent[last] = value;
  else if (kind === 1) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else if (kind === 2) {
    if (Array.isArray(parent)) parent.push(value);
    else parent[name] = value;
  } else if (Array.isArray(parent)) parent.push(structuredClone(parent[Number(last)]));
  else copy[name] = value;
  return copy;
}

describe('acceptsMembershipAttestation', () => {
  it('accepts generated valid attestations, as the schema does', () => {
    fc.assert(
      fc.property(attestation, (a) => {
        expect(membershipAttestationSchema.safeParse(a).success).toBe(true);
        expect(acceptsMembershipAttestation(a)).toBe(true);
      }),
      { numRuns: 2_000, seed: 7101 },
    );
  });

  it('never accepts what the schema rejects, and what it accepts the schema returns unchanged (mutations)', () => {
    let rejected = 0;
    fc.assert(
      fc.property(
        attestation,
        fc.nat(),
        fc.nat({ max: 3 }),
        hostile,
        fc.constantFrom('extra', 'roles', 'claims', 'subject_public_key', 'sig'),
        (a, pick, kind, value, name) => {
          const mutated = mutate(a, pick, kind, value, name);
          const parsed = membershipAttestationSchema.safeParse(mutated);
          if (!parsed.success) rejected++;
          if (acceptsMembershipAttestation(mutated)) {
            expect(parsed.success).toBe(true);
            expect(parsed.data).toEqual(mutated);
          }
        },
      ),
      { numRuns: 20_000, seed: 7102 },
    );
    // The mutations must mostly produce invalid objects, or the property says little.
    expect(rejected).toBeGreaterThan(10_000);
  });

  it('never accepts non-objects and odd prototypes', () => {
    for (const value of [null, undefined, 1, 'x', [], new Map(), new Date(0)]) expect(acceptsMembershipAttestation(value)).toBe(false);
  });
});

describe('acceptsVerifyAttestationInput', () => {
  it('never accepts a body the schema rejects (property)', () => {
    const body = fc.dictionary(fc.constantFrom('attestation', 'treaty', 'extra', '__proto__'), hostile, { maxKeys: 3 });
    fc.assert(
      fc.property(fc.oneof(body, hostile), (value) => {
        if (acceptsVerifyAttestationInput(value)) expect(verifyAttestationInputSchema.safeParse(value).success).toBe(true);
      }),
      { numRuns: 5_000, seed: 7103 },
    );
    expect(acceptsVerifyAttestationInput({ attestation: {} })).toBe(true);
    expect(acceptsVerifyAttestationInput({ attestation: {}, treaty: {} })).toBe(true);
    expect(acceptsVerifyAttestationInput({ attestation: {}, other: 1 })).toBe(false);
  });
});
