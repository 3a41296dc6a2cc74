// Property: any single-field mutation of a signed treaty or attestation is rejected by verify.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/authority/errors.ts';
import { issueAttestation } from '../../src/treaties/attestations.ts';
import { issueTreaty } from '../../src/treaties/service.ts';
import { verifyAttestation, verifyTreaty } from '../../src/verification/verification.ts';
import { createTestAuthority } from '../helpers/authority.ts';
import { attestationInput, subjectKey, subjectKey2, treatyInput } from './fixtures.ts';

type Json = any;
type Path = Array<string | number>;

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

function parentOf(root: Json, path: Path): Json {
  let node = root;
  for (const step of path.slice(0, -1)) node = node[step];
  return node;
}

interface Mutation {
  pick: number;
  kind: 'replace_string' | 'replace_other_type' | 'delete' | 'add_sibling' | 'duplicate_in_array';
  text: string;
  number: number;
}

const mutation = fc.record<Mutation>({
  pick: fc.nat(),
  kind: fc.constantFrom('replace_string', 'replace_other_type', 'delete', 'add_sibling', 'duplicate_in_array'),
  text: fc.string({ maxLength: 12, unit: 'grapheme' }),
  number: fc.integer({ min: -5, max: 1_000_000 }),
});

/** Applies one mutation at one path; returns null when it would not change the object. */
function mutate(original: Json, m: Mutation): Json | null {
  const paths = allPaths(original);
  const path = paths[m.pick % paths.length]!;
  const copy = structuredClone(original);
  const parent = parentOf(copy, path);
  const key = path[path.length - 1]!;
  const current = parent[key];
  switch (m.kind) {
    case 'replace_string': {
      const next = typeof current === 'string' ? `${current.slice(0, Math.max(0, current.length - 1))}${m.text || 'x'}` : m.text;
      if (next === current) return null;
      parent[key] = next;
      break;
    }
    case 'replace_other_type':
      parent[key] = typeof current === 'number' ? `${current}` : m.number % 3 === 0 ? null : m.number % 3 === 1 ? m.number : { x: m.text };
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 'add_sibling':
      if (Array.isArray(parent)) parent.push(m.text);
      else {
        const name = `${m.text}_extra`;
        if (name in parent) return null;
        parent[name] = m.text;
      }
      break;
    case 'duplicate_in_array':
      if (!Array.isArray(parent)) return null;
      parent.splice(key as number, 0, structuredClone(current));
      break;
  }
  return JSON.stringify(copy) === JSON.stringify(original) ? null : copy;
}

function rejected(verify: () => { accepted: boolean }): boolean {
  try {
    return verify().accepted === false;
  } catch (err) {
    return err instanceof AppError && err.status === 422;
  }
}

describe('single-field mutations are rejected (fast-check, fixed seeds)', () => {
  it('treaty', () => {
    const a = createTestAuthority({ sovereignId: 'na-a' });
    const treaty = issueTreaty(
      a.deps,
      treatyInput({
        subject_public_keys: [subjectKey.publicKey, subjectKey2.publicKey],
        scope: {
          allowed_roles: ['role:client', 'role:service:relay'],
          accepted_statuses: ['active', 'probation'],
          claims: { tier: 2, tags: ['a', 'b'], nested: { deep: { ok: true } } },
        },
        metadata: { region: 'eu-west', contact: 'ops@example.org' },
      }),
    );
    expect(verifyTreaty(a.deps, { treaty }).accepted).toBe(true);
    fc.assert(
      fc.property(mutation, (m) => {
        const mutated = mutate(treaty, m);
        fc.pre(mutated !== null);
        return rejected(() => verifyTreaty(a.deps, { treaty: mutated }));
      }),
      { seed: 20260301, numRuns: 400 },
    );
  });

  it('attestation (foreign issuer, verified through this authority\u2019s treaty)', () => {
    const a = createTestAuthority({ sovereignId: 'na-a' });
    const b = createTestAuthority({ sovereignId: 'na-b' });
    issueTreaty(
      a.deps,
      treatyInput({
        subject_sovereign_id: 'na-b',
        subject_public_keys: [b.signingKey.publicKey],
        scope: { allowed_roles: ['role:client', 'role:bridge'] },
      }),
    );
    const attestation = issueAttestation(
      b.deps,
      attestationInput({
        subject_public_key: subjectKey.publicKey,
        roles: ['role:client', 'role:bridge'],
        claims: { name: 'Ünïcødé', list: [1, 2, 3], obj: { k: 'v' } },
      }),
    );
    expect(verifyAttestation(a.deps, { attestation }).accepted).toBe(true);
    fc.assert(
      fc.property(mutation, (m) => {
        const mutated = mutate(attestation, m);
        fc.pre(mutated !== null);
        return rejected(() => verifyAttestation(a.deps, { attestation: mutated }));
      }),
      { seed: 20260302, numRuns: 400 },
    );
  });
});
