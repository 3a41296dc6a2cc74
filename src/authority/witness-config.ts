// The witnesses of this authority's log, as configured (ACCORD_WITNESSES_JSON): name, submission URL prefix, cosigner vkey.
import { parseCosignerKey, type Cosigner } from './cosignature.ts';

export interface ConfiguredWitness {
  name: string;
  /** The witness's submission prefix; `<url>/add-checkpoint` is posted to. */
  url: string;
  vkey: string;
  cosigner: Cosigner;
}

/** More witnesses than any quorum policy needs; a bound on the work of each publication. */
export const MAX_WITNESSES = 32;

/**
 * Parses the witness list: a JSON array of `{"name", "url", "vkey"}` objects, no other fields. The
 * vkey must be a cosignature/v1 (Ed25519, type 0x04) key named `name`; the URL http or https without
 * credentials, query or fragment (a trailing slash is dropped); names unique. Throws an Error whose
 * message names the problem.
 */
export function parseWitnessesJson(text: string): ConfiguredWitness[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('is not valid JSON');
  }
  if (!Array.isArray(value)) throw new Error('must be a JSON array of {"name", "url", "vkey"} objects');
  if (value.length > MAX_WITNESSES) throw new Error(`lists more than ${MAX_WITNESSES} witnesses`);
  const witnesses: ConfiguredWitness[] = [];
  value.forEach((item, i) => {
    const where = `entry ${i}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error(`${where} must be an object`);
    const keys = Object.keys(item);
    const unknown = keys.filter((k) => !['name', 'url', 'vkey'].includes(k));
    if (unknown.length > 0) throw new Error(`${where} has unknown field ${JSON.stringify(unknown[0])}`);
    const { name, url, vkey } = item as Record<string, unknown>;
    if (typeof name !== 'string' || typeof url !== 'string' || typeof vkey !== 'string')
      throw new Error(`${where} needs string fields name, url and vkey`);
    const cosigner = parseCosignerKey(vkey);
    if (!cosigner)
      throw new Error(`${where}: vkey is not a cosignature/v1 Ed25519 verifier key (<name>+<key id>+<base64 of 0x04 and the public key>)`);
    if (cosigner.name !== name) throw new Error(`${where}: vkey is for ${JSON.stringify(cosigner.name)}, not ${JSON.stringify(name)}`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`${where}: url is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`${where}: url must be http or https`);
    if (parsed.username || parsed.password || parsed.search || parsed.hash)
      throw new Error(`${where}: url must not contain credentials, a query or a fragment`);
    if (witnesses.some((w) => w.name === name)) throw new Error(`${where}: witness ${JSON.stringify(name)} is listed twice`);
    witnesses.push({ name, url: `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`, vkey, cosigner });
  });
  return witnesses;
}
