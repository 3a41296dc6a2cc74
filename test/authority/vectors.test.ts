// Golden vectors of the authority's signed and hashed forms: any change here is a protocol change.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminSigningPayload, signAdminRequest } from '../../src/authority/admin-auth.ts';
import { auditEventHash, verifyAuditChain, type AuditEvent } from '../../src/authority/audit.ts';
import { canonicalJson, parseJsonStrict } from '../../src/authority/canonical-json.ts';
import { fixedClock } from '../../src/authority/clock.ts';
import { keyIdOf, parsePublicKey, signingKeyFromSeed, signingPayload, verifySignedObject } from '../../src/authority/crypto.ts';
import { buildDeclaration } from '../../src/authority/declaration.ts';
import { createTestAuthority } from '../helpers/authority.ts';

const VECTORS = path.join(import.meta.dirname, '..', 'vectors');
const DOCS = path.join(import.meta.dirname, '..', '..', 'docs');

/** Every authority vector file; a missing one fails the suite instead of being skipped. */
const REQUIRED = [
  'authority-keys.json',
  'authority-canonical-json.json',
  'authority-declaration.json',
  'admin-request.json',
  'authority-audit-events.json',
  'authority-ed25519-edge-cases.json',
] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function vector(name: (typeof REQUIRED)[number]): any {
  const file = path.join(VECTORS, name);
  if (!fs.existsSync(file)) throw new Error(`golden vector ${name} is missing from test/vectors/`);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

const seed = (hex: string) => Buffer.from(hex, 'hex');

describe('golden vectors', () => {
  it.each(REQUIRED)('%s is present', (name) => {
    expect(fs.existsSync(path.join(VECTORS, name)), `test/vectors/${name} must exist`).toBe(true);
  });

  it('keys: seeds give the recorded public keys and key_ids (including the GM reference keys)', () => {
    const v = vector('authority-keys.json');
    expect(v.keys.length).toBeGreaterThanOrEqual(5);
    for (const k of v.keys) {
      const key = signingKeyFromSeed(seed(k.seed_hex));
      expect(key.publicKey, k.name).toBe(k.public_key);
      expect(key.keyId, k.name).toBe(k.key_id);
      expect(keyIdOf(key.raw)).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    const gm = Object.fromEntries(v.keys.map((k: { name: string; public_key: string }) => [k.name, k.public_key]));
    expect(gm['gm-key-a']).toBe('A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=');
    expect(gm['gm-key-b']).toBe('Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=');
  });

  it('canonical JSON: every case gives exactly the recorded text and bytes', () => {
    const v = vector('authority-canonical-json.json');
    expect(v.cases.length).toBeGreaterThanOrEqual(8);
    for (const c of v.cases) {
      const text = canonicalJson(parseJsonStrict(c.input));
      expect(text, c.name).toBe(c.canonical);
      expect(Buffer.from(text, 'utf8').toString('hex'), c.name).toBe(c.canonical_hex);
    }
  });

  it('canonical JSON: rejected values and duplicate keys stay rejected', () => {
    const v = vector('authority-canonical-json.json');
    for (const c of v.rejected)
      expect(() => canonicalJson(JSON.parse(c.input)), c.name).toThrow(expect.objectContaining({ code: 'non_canonical_value' }));
    for (const c of v.duplicate_keys)
      expect(() => parseJsonStrict(c.input), c.name).toThrow(expect.objectContaining({ code: 'malformed_json' }));
  });

  it('declaration: a fixed key, sovereign and clock give the recorded signed declaration', () => {
    const v = vector('authority-declaration.json');
    const key = signingKeyFromSeed(seed(v.seed_hex));
    const declaration = buildDeclaration({
      identity: { sovereignId: v.sovereign_id, signingKeys: [key], publishedKeys: [{ key_id: key.keyId, public_key: key.publicKey }] },
      clock: fixedClock(v.now),
    });
    expect(declaration).toEqual(v.declaration);
    expect(canonicalJson(declaration)).toBe(canonicalJson(v.declaration));
    expect(signingPayload(declaration).toString('utf8')).toBe(v.signing_payload);
    const allowed = parsePublicKey(key.publicKey);
    if (!allowed.ok) throw new Error('vector key rejected');
    expect(verifySignedObject(v.declaration, [allowed.key])).toEqual({ valid: true, keyId: key.keyId });
  });

  it('declaration: the served declaration verifies under the published key', async () => {
    const a = createTestAuthority();
    const res = await a.app.request('/.well-known/network-authority');
    const body = (await res.json()) as { public_keys: Array<{ public_key: string }>; signatures: unknown[] };
    const published = parsePublicKey(body.public_keys[0]!.public_key);
    if (!published.ok) throw new Error('published key rejected');
    expect(verifySignedObject(body, [published.key]).valid).toBe(true);
    const renamed: typeof body = { ...body, sovereign_id: 'someone-else' } as typeof body;
    expect(verifySignedObject(renamed, [published.key]).valid).toBe(false);
  });

  it('admin requests: payload, body hash and signature headers are exactly the recorded ones', () => {
    const v = vector('admin-request.json');
    const key = signingKeyFromSeed(seed(v.operator.seed_hex));
    expect(key.publicKey).toBe(v.operator.public_key);
    expect(key.keyId).toBe(v.operator.key_id);
    for (const r of v.requests) {
      const payload = adminSigningPayload({
        authority: v.authority,
        method: r.method,
        path: r.path,
        bodySha256: r.body_sha256,
        keyId: v.operator.label,
        timestamp: r.timestamp,
        nonce: r.nonce,
      });
      expect(payload.toString('utf8'), r.name).toBe(r.signing_payload);
      const headers = signAdminRequest({
        authority: v.authority,
        method: r.method,
        path: r.path,
        body: r.body,
        label: v.operator.label,
        key,
        timestamp: r.timestamp,
        nonce: r.nonce,
      });
      expect(headers, r.name).toEqual(r.headers);
    }
  });

  it('admin requests: the recorded GET headers are accepted by an authority that knows the key', async () => {
    const v = vector('admin-request.json');
    const r = v.requests.find((x: { name: string }) => x.name === 'get-with-query');
    const a = createTestAuthority({
      sovereignId: v.authority,
      now: r.timestamp,
      operators: [{ label: v.operator.label, key: signingKeyFromSeed(seed(v.operator.seed_hex)), scopes: ['*'] }],
    });
    const res = await a.app.request(r.path, { method: r.method, headers: r.headers });
    expect(res.status).toBe(200);
    const tampered = await a.app.request(r.path.replace('limit=2', 'limit=3'), {
      method: r.method,
      headers: { ...r.headers, 'X-Admin-Nonce': 'bm9uY2UtZXhhbXBsZS0wMDA5' },
    });
    expect(tampered.status).toBe(401);
  });

  it('admin requests: docs/admin-auth.md shows the recorded worked example', () => {
    const v = vector('admin-request.json');
    const doc = fs.readFileSync(path.join(DOCS, 'admin-auth.md'), 'utf8');
    expect(doc).toContain(v.operator.seed_hex);
    expect(doc).toContain(v.operator.public_key);
    for (const r of v.requests) {
      expect(doc, r.name).toContain(r.signing_payload);
      expect(doc, r.name).toContain(r.body_sha256);
      expect(doc, r.name).toContain(r.headers['X-Admin-Signature']);
    }
  });

  it('audit events: hashes follow the rule and the chain links', () => {
    const v = vector('authority-audit-events.json');
    const events = v.events as AuditEvent[];
    const { hash: _hash, ...firstUnhashed } = events[0]!;
    expect(canonicalJson(firstUnhashed)).toBe(v.first_event_hash_input);
    for (const [i, e] of events.entries()) {
      expect(auditEventHash(e), `seq ${e.seq}`).toBe(e.hash);
      expect(canonicalJson(e)).toBe(v.stored[i]);
    }
    const report = verifyAuditChain(events, { complete: true });
    expect(report.ok).toBe(true);
    expect(report.count).toBe(3);
    expect(report.lastHash).toBe(events[2]!.hash);
  });
});
