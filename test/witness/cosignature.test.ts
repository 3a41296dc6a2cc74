// cosignature/v1 (C2SP tlog-cosignature, Ed25519): key ids, vkeys, the signed message and the signature line, checked
// byte for byte against an independent computation from the spec's definitions (node:crypto), and against the spec's example.
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/authority/config.ts';
import { signingKeyFromSeed } from '../../src/authority/crypto.ts';
import {
  COSIGNATURE_V1_TYPE,
  cosignatureLine,
  cosignatureLineAsync,
  cosignedMessage,
  cosignerFor,
  cosignerKeyId,
  formatCosignerKey,
  parseCosignatureLine,
  parseCosignerKey,
  verifyCosignature,
} from '../../src/authority/cosignature.ts';
import { parseWitnessesJson } from '../../src/authority/witness-config.ts';
import { formatVerifierKey } from '../../src/authority/signed-note.ts';
import { seedFor } from '../helpers/authority.ts';
import { specKeyId, specVerify } from './helpers.ts';

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The spec's example checkpoint (c2sp.org/tlog-cosignature) and its witness line. */
const EXAMPLE_TEXT = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
const EXAMPLE_LINE =
  '\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==';

describe('cosignature/v1', () => {
  const seed = seedFor('cosigner');
  const key = signingKeyFromSeed(seed);
  const name = 'witness.example/w1';

  it('key id = SHA-256(name ‖ "\\n" ‖ 0x04 ‖ key)[:4]; the vkey is name+hex(id)+base64(0x04 ‖ key)', () => {
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([0x04]), key.raw]))
      .digest();
    expect(COSIGNATURE_V1_TYPE).toBe(0x04);
    expect(cosignerKeyId(name, key.raw)).toBe(expected.readUInt32BE(0));
    const vkey = formatCosignerKey(name, key.raw);
    expect(vkey).toBe(
      `${name}+${expected.subarray(0, 4).toString('hex')}+${Buffer.concat([Buffer.from([4]), key.raw]).toString('base64')}`,
    );
    expect(parseCosignerKey(vkey)).toEqual(cosignerFor(name, key.raw));
    // The same key as a note key (type 0x01) has another id and is not a cosigner vkey.
    expect(parseCosignerKey(formatVerifierKey(name, key.raw))).toBeNull();
    // An altered id, name or key never matches.
    const [n, id, material] = [
      vkey.slice(0, vkey.indexOf('+')),
      vkey.split('+')[1]!,
      vkey.slice(vkey.indexOf('+', vkey.indexOf('+') + 1) + 1),
    ];
    expect(parseCosignerKey(`${n}+${(Number.parseInt(id, 16) ^ 1).toString(16).padStart(8, '0')}+${material}`)).toBeNull();
    expect(parseCosignerKey(`${n}x+${id}+${material}`)).toBeNull();
    expect(parseCosignerKey(`${n} x+${id}+${material}`)).toBeNull();
    expect(parseCosignerKey(`${n}+${id}`)).toBeNull();
  });

  it('the signed message and the line equal an independent computation (Ed25519 is deterministic)', async () => {
    const timestamp = 1679315147;
    const text = EXAMPLE_TEXT;
    const message = Buffer.from(`cosignature/v1\ntime 1679315147\n${text}`, 'utf8');
    expect(cosignedMessage(text, timestamp).equals(message)).toBe(true);
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64BE(BigInt(timestamp));
    const expected = `\u2014 ${name} ${Buffer.concat([specKeyId(name, key.raw), ts, sign(null, message, privateKey)]).toString('base64')}\n`;
    expect(cosignatureLine(text, name, key, timestamp)).toBe(expected);
    // Made on the thread pool (the witness route), the same bytes.
    expect(await cosignatureLineAsync(text, name, key, timestamp)).toBe(expected);
    expect(specVerify(expected.slice(0, -1), name, key.raw, text)).toEqual({
      keyId: specKeyId(name, key.raw),
      timestamp: BigInt(timestamp),
      valid: true,
    });
  });

  it('reads the spec example: key id, then the timestamp of its "time 1679315147" message, then 64 signature bytes', () => {
    const parsed = parseCosignatureLine(EXAMPLE_LINE);
    expect(parsed).toMatchObject({ name: 'witness.example.com/w1', keyId: 0x8d66cf3f, timestamp: 1679315147 });
    expect(parsed!.signature).toHaveLength(64);
    // The example's key is not published, so it can only be checked not to verify under another one.
    expect(verifyCosignature(parsed!, EXAMPLE_TEXT, { name: 'witness.example.com/w1', keyId: 0x8d66cf3f, publicKey: key.raw })).toBe(false);
  });

  it('verifies only its own lines: the name, key id, timestamp and text are all bound', () => {
    const cosigner = cosignerFor(name, key.raw);
    const line = cosignatureLine(EXAMPLE_TEXT, name, key, 1700000000).slice(0, -1);
    const parsed = parseCosignatureLine(line)!;
    expect(verifyCosignature(parsed, EXAMPLE_TEXT, cosigner)).toBe(true);
    expect(verifyCosignature(parsed, EXAMPLE_TEXT.replace('20852163', '20852164'), cosigner)).toBe(false);
    expect(verifyCosignature({ ...parsed, timestamp: 1700000001 }, EXAMPLE_TEXT, cosigner)).toBe(false);
    expect(verifyCosignature({ ...parsed, name: 'other/w1' }, EXAMPLE_TEXT, cosigner)).toBe(false);
    const other = signingKeyFromSeed(seedFor('other cosigner'));
    expect(verifyCosignature(parsed, EXAMPLE_TEXT, cosignerFor(name, other.raw))).toBe(false);
    // Not a cosignature: a plain note signature (68 bytes), a timestamp past 2^53, bad base64.
    const bytes = Buffer.from(line.slice(line.lastIndexOf(' ') + 1), 'base64');
    expect(
      parseCosignatureLine(`\u2014 ${name} ${Buffer.concat([bytes.subarray(0, 4), bytes.subarray(12)]).toString('base64')}`),
    ).toBeNull();
    const far = Buffer.from(bytes);
    far.writeBigUInt64BE(2n ** 63n - 1n, 4);
    expect(parseCosignatureLine(`\u2014 ${name} ${far.toString('base64')}`)).toBeNull();
    expect(parseCosignatureLine(`\u2014 ${name} ${bytes.toString('base64url')}`)).toBeNull();
    expect(parseCosignatureLine(line.replace('\u2014', '-'))).toBeNull();
  });
});

describe('ACCORD_WITNESSES_JSON', () => {
  const key = signingKeyFromSeed(seedFor('configured witness'));
  const vkey = formatCosignerKey('b.example/witness', key.raw);

  it('reads name, URL prefix (trailing slash dropped) and vkey', () => {
    const [w] = parseWitnessesJson(JSON.stringify([{ name: 'b.example/witness', url: 'https://b.example/witness/', vkey }]));
    expect(w).toMatchObject({
      name: 'b.example/witness',
      url: 'https://b.example/witness',
      vkey,
      cosigner: cosignerFor('b.example/witness', key.raw),
    });
  });

  it.each([
    ['not JSON', '[', /not valid JSON/],
    ['not an array', '{}', /must be a JSON array/],
    ['an unknown field', JSON.stringify([{ name: 'b.example/witness', url: 'https://b', vkey, quorum: 1 }]), /unknown field "quorum"/],
    ['a missing field', JSON.stringify([{ name: 'b.example/witness', vkey }]), /needs string fields/],
    [
      'a note key',
      JSON.stringify([{ name: 'b.example/witness', url: 'https://b', vkey: formatVerifierKey('b.example/witness', key.raw) }]),
      /not a cosignature\/v1/,
    ],
    ['another name', JSON.stringify([{ name: 'c.example/witness', url: 'https://b', vkey }]), /vkey is for "b.example\/witness"/],
    ['a non-http URL', JSON.stringify([{ name: 'b.example/witness', url: 'ftp://b', vkey }]), /http or https/],
    ['a query', JSON.stringify([{ name: 'b.example/witness', url: 'https://b/w?x=1', vkey }]), /query/],
    ['a duplicate', JSON.stringify([0, 1].map(() => ({ name: 'b.example/witness', url: 'https://b', vkey }))), /listed twice/],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseWitnessesJson(text)).toThrow(message);
  });

  it('a bad list stops start-up with one line naming the variable', () => {
    expect(() => loadConfig({ ACCORD_WITNESSES_JSON: '{}' })).toThrow(/^invalid configuration: ACCORD_WITNESSES_JSON must be a JSON array/);
    expect(() => loadConfig({ ACCORD_WITNESS_NAME: 'has space' })).toThrow(ConfigError);
    expect(
      loadConfig({ ACCORD_WITNESSES_JSON: JSON.stringify([{ name: 'b.example/witness', url: 'http://127.0.0.1:1/witness', vkey }]) })
        .witnesses,
    ).toHaveLength(1);
  });
});
