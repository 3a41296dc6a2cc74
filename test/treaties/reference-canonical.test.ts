// Treaties and attestations issued here verify under the reference canonicalization (SPEC §10):
// Python json.dumps(obj, sort_keys=True, separators=(",", ":")), ASCII-escaped, computed here independently.
import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { createTestAuthority } from '../helpers/authority.ts';
import { attestationInput, subjectKey, treatyInput } from './fixtures.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const PY_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Python's json string encoder with ensure_ascii=True: everything outside ' '..'~' is escaped. */
function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const code = s.charCodeAt(i);
    if (PY_ESCAPES[ch]) out += PY_ESCAPES[ch];
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function pyDumps(v: Json): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error('integers only');
    return String(v);
  }
  if (typeof v === 'string') return pyString(v);
  if (Array.isArray(v)) return `[${v.map(pyDumps).join(',')}]`;
  // sort_keys=True: Python compares str by code point.
  const keys = Object.keys(v).sort((a, b) => {
    const ca = [...a].map((c) => c.codePointAt(0)!);
    const cb = [...b].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return ca[i]! - cb[i]!;
    return ca.length - cb.length;
  });
  return `{${keys.map((k) => `${pyString(k)}:${pyDumps(v[k]!)}`).join(',')}}`;
}

function nodeVerify(publicKeyB64: string, message: string, sigB64: string): boolean {
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(publicKeyB64, 'base64')]);
  return verify(
    null,
    Buffer.from(message, 'utf8'),
    createPublicKey({ key: spki, format: 'der', type: 'spki' }),
    Buffer.from(sigB64, 'base64'),
  );
}

function withoutSignatures(obj: Record<string, Json>): Record<string, Json> {
  const { signatures: _s, ...rest } = obj;
  return rest;
}

describe('reference canonicalization (Python json.dumps, sort_keys, compact, ASCII)', () => {
  it('a treaty issued over HTTP verifies under the reference form with node:crypto', async () => {
    const a = createTestAuthority({ sovereignId: 'na-ref' });
    const res = await a.admin(
      'POST',
      '/admin/recognition-treaties',
      treatyInput({
        subject_public_keys: [subjectKey.publicKey],
        scope: {
          allowed_roles: ['role:client', 'role:service:relay.v2'],
          accepted_statuses: ['active'],
          claims: { tier: 3, zero: 0, neg: -7, list: [], obj: {}, deep: { a: [true, false, null] } },
        },
        metadata: { note: 'quote " backslash \\ slash / tab \t newline \n', 'Z-key': 'upper sorts before lower', a_key: '~' },
      }),
    );
    expect(res.status).toBe(201);
    const treaty = (await res.json()) as Record<string, Json>;
    const reference = pyDumps(withoutSignatures(treaty));
    expect(reference).toBe(canonicalJson(withoutSignatures(treaty)));
    const sig = (treaty.signatures as Array<{ key_id: string; sig: string }>)[0]!;
    expect(sig.key_id).toBe(a.signingKey.keyId);
    expect(nodeVerify(a.signingKey.publicKey, reference, sig.sig)).toBe(true);
  });

  it('an attestation issued over HTTP verifies under the reference form with node:crypto', async () => {
    const a = createTestAuthority({ sovereignId: 'na-ref' });
    const res = await a.admin(
      'POST',
      '/admin/attestations',
      attestationInput({ subject_public_key: subjectKey.publicKey, claims: { unit: 'ops', level: 4, tags: ['x', 'y'] } }),
    );
    const att = (await res.json()) as Record<string, Json>;
    const reference = pyDumps(withoutSignatures(att));
    expect(reference).toBe(canonicalJson(withoutSignatures(att)));
    expect(nodeVerify(a.signingKey.publicKey, reference, (att.signatures as Array<{ sig: string }>)[0]!.sig)).toBe(true);
  });

  it('non-ASCII content is where the forms part ways (documented: keep treaty text ASCII for the reference)', () => {
    const obj = { city: 'Zürich' };
    expect(pyDumps(obj)).toBe('{"city":"Z\\u00fcrich"}');
    expect(canonicalJson(obj)).toBe('{"city":"Zürich"}');
  });
});
