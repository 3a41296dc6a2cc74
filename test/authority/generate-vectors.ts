// Writes the authority golden vectors in test/vectors/ (run once: `npx tsx test/authority/generate-vectors.ts`).
// Existing files are never overwritten unless --force is given: a changed vector is a protocol change.
// Expected values that can be written by hand (JCS text, signing payloads, GM reference keys) are
// written here by hand and cross-checked against the product code before anything is saved.
import fs from 'node:fs';
import path from 'node:path';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { createHash } from 'node:crypto';
import { adminSigningPayload, signAdminRequest } from '../../src/authority/admin-auth.ts';
import { auditEventHash, type AuditEvent } from '../../src/authority/audit.ts';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { fixedClock } from '../../src/authority/clock.ts';
import { signingKeyFromSeed, signingPayload, verifyBytesNoble } from '../../src/authority/crypto.ts';
import { buildDeclaration } from '../../src/authority/declaration.ts';
import { CANONICAL_CASES, REJECTED_CASES, DUPLICATE_KEY_CASES, VECTOR_SEEDS } from './vector-inputs.ts';

const DIR = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'vectors');
const force = process.argv.includes('--force');

function write(name: string, value: unknown): void {
  const file = path.join(DIR, name);
  if (fs.existsSync(file) && !force) {
    console.log(`kept    ${name} (exists; --force to regenerate)`);
    return;
  }
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  console.log(`written ${name}`);
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`vector self-check failed: ${what}`);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const seedOf = (name: keyof typeof VECTOR_SEEDS) => Buffer.from(VECTOR_SEEDS[name].seed_hex, 'hex');

// --- keys -------------------------------------------------------------------------------------
const keys = Object.entries(VECTOR_SEEDS).map(([name, v]) => {
  const key = signingKeyFromSeed(Buffer.from(v.seed_hex, 'hex'));
  if (v.public_key) check(key.publicKey === v.public_key, `public key of ${name}`);
  const keyId = `sha256:${createHash('sha256').update(key.raw).digest('hex')}`;
  check(key.keyId === keyId, `key_id of ${name}`);
  return { name, seed_hex: v.seed_hex, public_key: key.publicKey, key_id: key.keyId };
});
write('authority-keys.json', {
  description:
    'Ed25519 public keys and key_ids (sha256 of the raw 32-byte key) derived from fixed seeds. gm-key-a and gm-key-b are the Genesis Mesh reference conformance keys.',
  keys,
});

// --- canonical JSON ---------------------------------------------------------------------------
for (const c of CANONICAL_CASES) check(canonicalJson(JSON.parse(c.input)) === c.canonical, `canonical form of ${c.name}`);
write('authority-canonical-json.json', {
  description:
    'RFC 8785 (JCS) canonical form. `input` is JSON text; `canonical` is the exact output text and `canonical_hex` its UTF-8 bytes. `rejected` inputs must not be canonicalized for signing; `duplicate_keys` must be refused by the strict parser.',
  cases: CANONICAL_CASES.map((c) => ({ ...c, canonical_hex: Buffer.from(c.canonical, 'utf8').toString('hex') })),
  rejected: REJECTED_CASES,
  duplicate_keys: DUPLICATE_KEY_CASES,
});

// --- the well-known declaration ---------------------------------------------------------------
{
  const key = signingKeyFromSeed(seedOf('authority-declaration'));
  const declaration = buildDeclaration({
    identity: { sovereignId: 'vector-sovereign', signingKeys: [key], publishedKeys: [{ key_id: key.keyId, public_key: key.publicKey }] },
    clock: fixedClock('2026-01-01T00:00:00Z'),
  });
  const payload = signingPayload(declaration).toString('utf8');
  check(
    verifyBytesNoble(key.raw, Buffer.from(payload, 'utf8'), Buffer.from(declaration.signatures[0]!.sig, 'base64')),
    'declaration signature (noble)',
  );
  write('authority-declaration.json', {
    description:
      'GET /.well-known/network-authority: the signed declaration for a fixed key, sovereign and clock. The signature covers `signing_payload` (JCS of the object without `signatures`).',
    seed_hex: VECTOR_SEEDS['authority-declaration'].seed_hex,
    sovereign_id: 'vector-sovereign',
    now: '2026-01-01T00:00:00Z',
    declaration,
    signing_payload: payload,
  });
}

// --- admin request signatures -----------------------------------------------------------------
{
  const key = signingKeyFromSeed(seedOf('admin-operator'));
  const label = 'ops-example';
  const requests = [
    {
      name: 'get-with-query',
      method: 'GET',
      path: '/admin/audit?after_seq=0&limit=2',
      body: '',
      timestamp: '2026-03-01T12:00:00Z',
      nonce: 'bm9uY2UtZXhhbXBsZS0wMDAx',
      // Hand-written JCS of the eight fields: keys in order authority, body_sha256, key_id, method, nonce, path, timestamp, v.
      payload:
        '{"authority":"sovereign-test","body_sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","key_id":"ops-example","method":"GET","nonce":"bm9uY2UtZXhhbXBsZS0wMDAx","path":"/admin/audit?after_seq=0&limit=2","timestamp":"2026-03-01T12:00:00Z","v":2}',
    },
    {
      name: 'post-with-body',
      method: 'POST',
      path: '/admin/recognition-treaties',
      body: '{"subject_sovereign_id":"peer-b","note":"Zoë"}',
      timestamp: '2026-03-01T12:00:05Z',
      nonce: 'bm9uY2UtZXhhbXBsZS0wMDAy',
      payload: '',
    },
  ];
  // The sovereign id of the test authorities (test/helpers/authority.ts), so the vector is accepted by one.
  const authority = 'sovereign-test';
  const out = requests.map((r) => {
    const bodySha256 = createHash('sha256').update(Buffer.from(r.body, 'utf8')).digest('hex');
    const payload = adminSigningPayload({
      authority,
      method: r.method,
      path: r.path,
      bodySha256,
      keyId: label,
      timestamp: r.timestamp,
      nonce: r.nonce,
    }).toString('utf8');
    const handWritten =
      r.payload ||
      `{"authority":"${authority}","body_sha256":"${bodySha256}","key_id":"${label}","method":"${r.method}","nonce":"${r.nonce}","path":"${r.path}","timestamp":"${r.timestamp}","v":2}`;
    check(payload === handWritten, `admin payload of ${r.name}`);
    const headers = signAdminRequest({
      authority,
      method: r.method,
      path: r.path,
      body: r.body,
      label,
      key,
      timestamp: r.timestamp,
      nonce: r.nonce,
    });
    check(
      verifyBytesNoble(key.raw, Buffer.from(payload, 'utf8'), Buffer.from(headers['X-Admin-Signature'], 'base64')),
      `admin signature of ${r.name} (noble)`,
    );
    return {
      name: r.name,
      method: r.method,
      path: r.path,
      body: r.body,
      body_sha256: bodySha256,
      timestamp: r.timestamp,
      nonce: r.nonce,
      signing_payload: payload,
      headers,
    };
  });
  write('admin-request.json', {
    description:
      'Admin request signatures, version 2 (docs/admin-auth.md). The signature is Ed25519 over the UTF-8 bytes of `signing_payload`, the JCS of {authority, v, method, path, body_sha256, key_id, timestamp, nonce}; authority is the sovereign id of the authority the request is for, key_id is the operator key label.',
    authority,
    operator: { label, seed_hex: VECTOR_SEEDS['admin-operator'].seed_hex, public_key: key.publicKey, key_id: key.keyId },
    requests: out,
  });
}

// --- audit events -----------------------------------------------------------------------------
{
  const drafts: Array<Omit<AuditEvent, 'hash' | 'prev_hash' | 'seq'>> = [
    {
      event_id: '00000000-0000-4000-8000-000000000001',
      event_type: 'authority_initialized',
      occurred_at: '2026-01-01T00:00:00Z',
      actor: { type: 'system' },
      details: {
        sovereign_id: 'vector-sovereign',
        signing_key_id: signingKeyFromSeed(seedOf('authority-declaration')).keyId,
        protocol_version: 1,
      },
    },
    {
      event_id: '00000000-0000-4000-8000-000000000002',
      event_type: 'admin_auth_failed',
      occurred_at: '2026-01-01T00:05:00Z',
      actor: { type: 'anonymous' },
      request_id: 'req-0002',
      details: { reason: 'unknown_key', method: 'GET', path: '/admin/audit', client: '127.0.0.1', claimed_key: 'stranger' },
    },
    {
      event_id: '00000000-0000-4000-8000-000000000003',
      event_type: 'operator_keys_reloaded',
      occurred_at: '2026-01-01T00:10:00Z',
      actor: { type: 'system' },
      details: { added: ['ops-b'], removed: ['dev'], changed: [], count: 1 },
    },
  ];
  const events: AuditEvent[] = [];
  for (const [i, d] of drafts.entries()) {
    const unhashed = { seq: i + 1, ...d, prev_hash: i === 0 ? null : events[i - 1]!.hash };
    events.push({ ...unhashed, hash: auditEventHash(unhashed) });
  }
  const first = events[0]!;
  const { hash: _h, ...firstUnhashed } = first;
  const firstText = canonicalJson(firstUnhashed);
  check(first.hash === `sha256:${createHash('sha256').update(firstText, 'utf8').digest('hex')}`, 'audit hash rule');
  write('authority-audit-events.json', {
    description:
      'A three-event audit chain. hash = "sha256:" + hex SHA-256 of JCS(event without hash); prev_hash links to the previous event; the first prev_hash is null. `stored` is the JCS text of each full event as GET /admin/audit returns it.',
    first_event_hash_input: firstText,
    events,
    stored: events.map((e) => canonicalJson(e)),
  });
}

// --- Ed25519 edge cases -----------------------------------------------------------------------
{
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const P = 2n ** 255n - 19n;
  const le32 = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse();
  const challenge = (r: Uint8Array, a: Uint8Array, m: Uint8Array) =>
    bytesToNumberLE(createHash('sha512').update(r).update(a).update(m).digest()) % L;
  const Point = ed25519.Point;
  const cases: Array<{
    name: string;
    note: string;
    public_key: string;
    message: string;
    signature: string;
    key_problem: string | null;
    valid: boolean;
  }> = [];
  const add = (name: string, note: string, pk: Uint8Array, m: Uint8Array, sig: Uint8Array, keyProblem: string | null, valid: boolean) =>
    cases.push({ name, note, public_key: hex(pk), message: hex(m), signature: hex(sig), key_problem: keyProblem, valid });

  // A signature that satisfies [S]B = R + [k]A with S = 0 under a small-order key: R = -[k]A.
  // Lax verifiers (OpenSSL without a key check among them) accept it for any message found this way.
  ED25519_TORSION_SUBGROUP.forEach((t, i) => {
    const A = Point.fromHex(t);
    for (let n = 0; n < 256; n++) {
      const m = Buffer.from(`small-order forgery ${i}/${n}`);
      const hit = ED25519_TORSION_SUBGROUP.find((r) => {
        const R = Point.fromHex(r);
        return R.add(A.multiplyUnsafe(challenge(Buffer.from(r, 'hex'), Buffer.from(t, 'hex'), m))).is0();
      });
      if (hit) {
        add(
          `small-order-key-${i}`,
          'public key of small order (ED25519_TORSION_SUBGROUP); S = 0 forgery satisfies the cofactorless equation',
          Buffer.from(t, 'hex'),
          m,
          Buffer.concat([Buffer.from(hit, 'hex'), Buffer.alloc(32)]),
          'small_order',
          false,
        );
        return;
      }
    }
    throw new Error(`no forgery found for torsion point ${i}`);
  });

  // Non-canonical encodings (y ≥ p) of points: the identity (y = p + 1), a point with y = 0, and
  // non-small-order points with y = p + 3 (both signs).
  const nonCanonical = (k: bigint, sign: boolean) => {
    const b = le32(P + k);
    if (sign) b[31] = b[31]! | 0x80;
    return b;
  };
  const identityNc = nonCanonical(1n, false);
  add(
    'non-canonical-key-identity',
    'identity point encoded with y = p + 1; R = identity, S = 0',
    identityNc,
    Buffer.from('any message'),
    Buffer.concat([Buffer.from(ED25519_TORSION_SUBGROUP[0]!, 'hex'), Buffer.alloc(32)]),
    'non_canonical_point',
    false,
  );
  add(
    'non-canonical-key-y=p-neg',
    'a point of order 4 (y = 0) encoded with y = p and the sign bit set',
    nonCanonical(0n, true),
    Buffer.from('any message'),
    Buffer.concat([Buffer.from(ED25519_TORSION_SUBGROUP[0]!, 'hex'), Buffer.alloc(32)]),
    'non_canonical_point',
    false,
  );
  const negativeZero = Buffer.from(ED25519_TORSION_SUBGROUP[0]!, 'hex');
  negativeZero[31] = negativeZero[31]! | 0x80;
  add(
    'non-canonical-key-negative-zero-x',
    'the identity (y = 1) with the sign bit set although x = 0',
    negativeZero,
    Buffer.from('any message'),
    Buffer.concat([Buffer.from(ED25519_TORSION_SUBGROUP[0]!, 'hex'), Buffer.alloc(32)]),
    'non_canonical_point',
    false,
  );
  for (const sign of [false, true]) {
    const pk = nonCanonical(3n, sign);
    Point.fromBytes(pk, true); // decodes under ZIP-215 rules, so only the canonical check stops it
    add(
      `non-canonical-key-y=p+3${sign ? '-neg' : ''}`,
      'a point of large order encoded with y = p + 3',
      pk,
      Buffer.from('any message'),
      Buffer.concat([Buffer.from(ED25519_TORSION_SUBGROUP[0]!, 'hex'), Buffer.alloc(32)]),
      'non_canonical_point',
      false,
    );
  }

  // A valid signature, then the same signature with S + L (non-canonical S, same point equation).
  const seed = seedOf('edge-signer');
  const pub = ed25519.getPublicKey(seed);
  const m1 = Buffer.from('accord edge-case message');
  const sig = ed25519.sign(m1, seed);
  add('valid', 'an ordinary valid signature', pub, m1, sig, null, true);
  add(
    'valid-empty-message',
    'an ordinary valid signature over the empty message',
    pub,
    Buffer.alloc(0),
    ed25519.sign(Buffer.alloc(0), seed),
    null,
    true,
  );
  const S = bytesToNumberLE(sig.subarray(32));
  add(
    'non-canonical-s',
    'the valid signature with S replaced by S + L (S ≥ L)',
    pub,
    m1,
    Buffer.concat([sig.subarray(0, 32), le32(S + L)]),
    null,
    false,
  );
  add('s-equals-l', 'S = L exactly', pub, m1, Buffer.concat([sig.subarray(0, 32), le32(L)]), null, false);
  add('wrong-message', 'the valid signature over a different message', pub, Buffer.from('accord edge-case messagf'), sig, null, false);

  // R with a small-order component: R = [r]B + T. The cofactored equation (noble's ed25519.verify)
  // accepts it; the cofactorless one (OpenSSL, Accord) does not.
  {
    const a =
      bytesToNumberLE(
        createHash('sha512')
          .update(seed)
          .digest()
          .subarray(0, 32)
          .map((b, i) => (i === 0 ? b & 248 : i === 31 ? (b & 127) | 64 : b)),
      ) % L;
    const r = 123456789n;
    const T = Point.fromHex(ED25519_TORSION_SUBGROUP[1]!);
    const Rb = Point.BASE.multiply(r).add(T).toBytes();
    const m = Buffer.from('mixed-order R');
    const k = challenge(Rb, pub, m);
    const s = (r + k * a) % L;
    const mixed = Buffer.concat([Rb, le32(s)]);
    check(ed25519.verify(mixed, m, pub, { zip215: false }), 'mixed-order R passes the cofactored check');
    add('mixed-order-r', 'R has a small-order component; valid only under the cofactored equation', pub, m, mixed, null, false);
  }
  write('authority-ed25519-edge-cases.json', {
    description:
      'Ed25519 edge cases. `valid` is the verdict of Accord (OpenSSL semantics: strict RFC 8032 decoding, canonical S, cofactorless equation, small-order and non-canonical public keys refused); `key_problem` is what public-key validation reports. All byte strings are hex.',
    cases,
  });
}
