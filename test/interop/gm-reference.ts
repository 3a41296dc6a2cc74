// An independent stand-in for the Genesis Mesh reference NA: Python-style JSON dump, Ed25519 with node:crypto, and a tiny HTTP server.
// Written separately from src/ on purpose: it is the other side of the interoperability tests.
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** `json.dumps(value, sort_keys=True, separators=(",", ":"))` with Python's default ensure_ascii=True. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error('the reference signs no floats in these objects');
    return String(value);
  }
  if (typeof value === 'string') {
    // JSON.stringify escapes quotes, backslashes and C0 controls as Python does; ensure_ascii then escapes the rest.
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(',')}]`;
  const codePoints = (s: string) => Array.from(s, (c) => c.codePointAt(0)!);
  const keys = Object.keys(value as object).sort((x, y) => {
    const a = codePoints(x);
    const b = codePoints(y);
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  });
  return `{${keys.map((k) => `${pythonJsonDumps(k)}:${pythonJsonDumps((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

export interface GmKey {
  publicKey: string;
  sign(message: Buffer): string;
}

/** An Ed25519 key from a 32-byte seed, via node:crypto only. */
export function gmKeyFromSeed(seed: Buffer): GmKey {
  const privateKey = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return {
    publicKey: Buffer.from(spki.subarray(spki.length - 32)).toString('base64'),
    sign: (message) => sign(null, message, privateKey).toString('base64'),
  };
}

export const GM_SEED_A = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
export const GM_SEED_B = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 32));

/** GM's default signing-key label (its `key_id` when none is configured); `issued_by` carries it too. */
export const GM_DEFAULT_LABEL = 'na-2025-q1';

/** Signs as the reference does: the dump of the object without signatures; key_id is a label. */
export function gmSign<T extends Record<string, unknown>>(
  object: T,
  key: GmKey,
  keyLabel = GM_DEFAULT_LABEL,
): T & { signatures: Array<{ key_id: string; sig: string }> } {
  const { signatures: _drop, ...unsigned } = object as T & { signatures?: unknown };
  return { ...object, signatures: [{ key_id: keyLabel, sig: key.sign(Buffer.from(pythonJsonDumps(unsigned), 'utf8')) }] };
}

/** The reference's check: some signature verifies over the dump (with feed ids sorted and unique) under one of the keys. */
export function gmVerify(object: Record<string, unknown>, publicKeys: string[]): boolean {
  const { signatures, ...unsigned } = object as { signatures?: Array<{ sig: string }> } & Record<string, unknown>;
  if (Array.isArray(unsigned.revoked_attestation_ids))
    unsigned.revoked_attestation_ids = [...new Set(unsigned.revoked_attestation_ids as string[])].sort();
  const message = Buffer.from(pythonJsonDumps(unsigned), 'utf8');
  return (signatures ?? []).some((s) =>
    publicKeys.some((pk) =>
      verify(
        null,
        message,
        createPublicKey({
          key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pk, 'base64')]),
          format: 'der',
          type: 'spki',
        }),
        Buffer.from(s.sig, 'base64'),
      ),
    ),
  );
}

/** The defaults GM's pydantic models fill in before dumping (and so before signing or verifying). */
const GM_MODEL_DEFAULTS: Record<'treaty' | 'attestation', Record<string, unknown>> = {
  treaty: { status: 'active', metadata: {} },
  attestation: { subject_public_key: null, roles: [], status: 'active', claims: {} },
};

/** What GM verifies a treaty or attestation with: model_validate fills defaults, then the dump is checked under each key. */
export function gmModelVerify(object: Record<string, unknown>, model: 'treaty' | 'attestation', publicKeys: string[]): boolean {
  const filled: Record<string, unknown> = { ...GM_MODEL_DEFAULTS[model], ...object };
  if (model === 'treaty')
    filled.scope = { allowed_roles: [], accepted_statuses: ['active'], claims: {}, ...(object.scope as object | undefined) };
  return gmVerify(filled, publicKeys);
}

export interface GmFeedInput {
  issuer: string;
  sequence: number;
  issuedAt: string;
  revoked: Record<string, string>;
  feedId?: string;
  /** The signer's key label (issued_by and key_id); GM's default when absent. */
  label?: string;
}

/** A snapshot feed exactly as the reference would serve it. */
export function gmFeed(key: GmKey, input: GmFeedInput): Record<string, unknown> {
  const ids = Object.keys(input.revoked).sort();
  return gmSign(
    {
      feed_id: input.feedId ?? `00000000-0000-4000-8000-${String(input.sequence).padStart(12, '0')}`,
      issuer_sovereign_id: input.issuer,
      sequence: input.sequence,
      issued_at: input.issuedAt,
      revoked_attestation_ids: ids,
      revocation_reasons: input.revoked,
      issued_by: input.label ?? GM_DEFAULT_LABEL,
    },
    key,
    input.label ?? GM_DEFAULT_LABEL,
  );
}

export interface GmServer {
  url: string;
  sovereignId: string;
  /** The snapshot served at GET /sovereign-revocation-feed. */
  current: Record<string, unknown> | null;
  requests: string[];
  close(): Promise<void>;
}

/** A reference NA on 127.0.0.1 (port 0) speaking GM's feed route. */
export async function startGmServer(sovereignId: string): Promise<GmServer> {
  const state: GmServer = { url: '', sovereignId, current: null, requests: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    state.requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/sovereign-revocation-feed') {
      if (url.searchParams.get('issuer_sovereign_id') !== sovereignId || !state.current) {
        res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"detail":"feed not found"}');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(state.current));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"detail":"Not Found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
