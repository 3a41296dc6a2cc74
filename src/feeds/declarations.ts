// Fetching a peer's declaration of its keys: the signed `/.well-known/network-authority` (accord/1), or `/sovereign.json` (genesis-mesh).
import { parseJsonStrict } from '../authority/canonical-json.ts';
import { isTimestamp, toTimestamp } from '../authority/clock.ts';
import { hashRef, parsePublicKey, verifySignedObject, type PublicKeyInfo } from '../authority/crypto.ts';
import { GENESIS_MESH_PROFILE, type WireProfile } from '../interop/gm-model.ts';
import type { DeclaredKey } from './peer-watch-store.ts';
import { exchange, PullFailure, type PullOptions } from './pull.ts';

/** A declaration is a small document; anything larger is refused unread. */
export const MAX_DECLARATION_BYTES = 256 * 1024;
/** Keys one declaration may list. */
const MAX_DECLARED_KEYS = 32;

export const DECLARATION_PATHS: Record<WireProfile, string> = {
  'accord/1': '/.well-known/network-authority',
  [GENESIS_MESH_PROFILE]: '/sovereign.json',
};

/** What a peer's declaration says about its keys, and who signed it. */
export interface FetchedDeclaration {
  profile: WireProfile;
  url: string;
  /** The body exactly as received. */
  body: string;
  bodyHash: string;
  /** Declared keys, sorted by key_id. */
  keys: DeclaredKey[];
  /** key_ids (declared or pinned) whose signature on the declaration verifies; [] for genesis-mesh's unsigned document. */
  signedBy: string[];
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function malformed(url: string, why: string): PullFailure {
  return new PullFailure('malformed_response', `${url} is not a usable declaration: ${why}`);
}

function declaredKey(url: string, publicKey: unknown, keyId: unknown, notAfter: string | undefined): DeclaredKey {
  const parsed = typeof publicKey === 'string' ? parsePublicKey(publicKey) : null;
  if (!parsed?.ok) throw malformed(url, 'a declared public key is not a valid Ed25519 key');
  if (keyId !== undefined && keyId !== parsed.key.keyId) throw malformed(url, 'a key_id does not match its public key');
  return { key_id: parsed.key.keyId, public_key: parsed.key.base64, ...(notAfter ? { not_after: notAfter } : {}) };
}

/** An accord/1 declaration: strict keys, signed by at least one of its own keys or of the keys pinned for the peer. */
function readAccordDeclaration(url: string, peer: string, doc: Record<string, unknown>, pinned: PublicKeyInfo[]) {
  if (doc.sovereign_id !== peer) throw new PullFailure('foreign_issuer', `${url} declares another sovereign`);
  const listed = doc.public_keys;
  if (!Array.isArray(listed) || listed.length === 0 || listed.length > MAX_DECLARED_KEYS)
    throw malformed(url, `public_keys must list 1 to ${MAX_DECLARED_KEYS} keys`);
  const keys = listed.map((entry) => {
    const e = asRecord(entry);
    if (!e || Object.keys(e).some((k) => k !== 'key_id' && k !== 'public_key' && k !== 'not_after'))
      throw malformed(url, 'a public_keys entry has unknown fields');
    if (e.not_after !== undefined && (typeof e.not_after !== 'string' || !isTimestamp(e.not_after)))
      throw malformed(url, 'a not_after is not an RFC 3339 UTC timestamp');
    return declaredKey(url, e.public_key, e.key_id, e.not_after as string | undefined);
  });
  const candidates = new Map<string, PublicKeyInfo>();
  for (const k of keys) {
    const parsed = parsePublicKey(k.public_key);
    if (parsed.ok) candidates.set(parsed.key.keyId, parsed.key);
  }
  for (const k of pinned) candidates.set(k.keyId, k);
  const signedBy: string[] = [];
  for (const key of candidates.values()) {
    try {
      if (verifySignedObject(doc, [key]).valid) signedBy.push(key.keyId);
    } catch {
      throw malformed(url, 'it has no canonical form');
    }
  }
  if (signedBy.length === 0)
    throw new PullFailure('invalid_signature', `${url} is not signed by any key it declares or that this authority pins`);
  return { keys, signedBy: signedBy.sort() };
}

/** GM's timestamps carry an offset (`+00:00`) and fractions; a `not_after` is stored in the second-precision form. */
function gmInstant(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? toTimestamp(new Date(ms)) : undefined;
}

/** A genesis-mesh `/sovereign.json`: unsigned; its authority key is `network_authority.public_key`, valid until `valid_to`. */
function readGmDeclaration(url: string, peer: string, doc: Record<string, unknown>) {
  if (doc.sovereign_id !== peer) throw new PullFailure('foreign_issuer', `${url} declares another sovereign`);
  const authority = asRecord(doc.network_authority);
  if (!authority) throw malformed(url, 'network_authority is missing');
  return { keys: [declaredKey(url, authority.public_key, undefined, gmInstant(authority.valid_to))], signedBy: [] as string[] };
}

/** Fetches and reads a peer's declaration for its wire profile; a PullFailure says why it cannot be used. */
export async function fetchDeclaration(
  net: PullOptions,
  peer: { sovereign_id: string; base_url: string },
  profile: WireProfile,
  pinned: PublicKeyInfo[],
): Promise<FetchedDeclaration> {
  const url = `${peer.base_url}${DECLARATION_PATHS[profile]}`;
  const res = await exchange(net, url, {}, MAX_DECLARATION_BYTES);
  if (res.status !== 200) throw new PullFailure('http_error', `${url} answered HTTP ${res.status}`, { status: res.status });
  let parsed: unknown;
  try {
    // GM documents may carry non-integer numbers; accord/1 declarations are signed JSON (integers only).
    parsed = parseJsonStrict(res.text, { integersOnly: profile !== GENESIS_MESH_PROFILE });
  } catch {
    throw malformed(url, 'it is not strict JSON');
  }
  const doc = asRecord(parsed);
  if (!doc) throw malformed(url, 'it is not a JSON object');
  const read =
    profile === GENESIS_MESH_PROFILE
      ? readGmDeclaration(url, peer.sovereign_id, doc)
      : readAccordDeclaration(url, peer.sovereign_id, doc, pinned);
  return {
    profile,
    url,
    body: res.text,
    bodyHash: hashRef(res.text),
    keys: [...read.keys].sort((a, b) => (a.key_id < b.key_id ? -1 : a.key_id > b.key_id ? 1 : 0)),
    signedBy: read.signedBy,
  };
}
