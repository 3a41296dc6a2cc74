// Private key files on disk: the authority signing key and operator keys (JSON, mode 0600).
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { decodeBase64Strict, generateSeed, signingKeyFromSeed, type SigningKey } from './crypto.ts';

const signingKeyFile = z.strictObject({
  type: z.literal('accord-signing-key'),
  seed: z.string(),
  public_key: z.string(),
  key_id: z.string(),
  created_at: z.string(),
});

const operatorKeyFile = z.strictObject({
  type: z.literal('accord-operator-key'),
  label: z.string().min(1).max(128),
  seed: z.string(),
  public_key: z.string(),
  key_id: z.string(),
});

export interface OperatorKeyMaterial {
  label: string;
  key: SigningKey;
}

export class KeyFileError extends Error {
  override name = 'KeyFileError';
}

function writePrivateJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // wx: never overwrite an existing key.
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  fs.chmodSync(file, 0o600);
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new KeyFileError(`cannot read ${what} file ${file}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new KeyFileError(`${what} file ${file} is not valid JSON`);
  }
}

function seedKey(seedB64: string, expectedKeyId: string, file: string): SigningKey {
  const seed = decodeBase64Strict(seedB64, 32);
  if (!seed) throw new KeyFileError(`key file ${file} has a malformed seed`);
  const key = signingKeyFromSeed(seed);
  if (key.keyId !== expectedKeyId) throw new KeyFileError(`key file ${file}: key_id does not match the seed`);
  return key;
}

export function createSigningKeyFile(file: string, createdAt: string, seed: Uint8Array = generateSeed()): SigningKey {
  const key = signingKeyFromSeed(seed);
  writePrivateJson(file, {
    type: 'accord-signing-key',
    seed: Buffer.from(seed).toString('base64'),
    public_key: key.publicKey,
    key_id: key.keyId,
    created_at: createdAt,
  });
  return key;
}

export function readSigningKeyFile(file: string): SigningKey {
  const parsed = signingKeyFile.safeParse(readJson(file, 'signing key'));
  if (!parsed.success) throw new KeyFileError(`signing key file ${file} is not an accord signing key`);
  return seedKey(parsed.data.seed, parsed.data.key_id, file);
}

/**
 * Reads every signing key file (`*.json`) in a directory, e.g. the rotated keys directory. A file
 * that is not a valid signing key is an error: a damaged key must not be skipped silently.
 */
export function readSigningKeyDir(dir: string): Array<{ file: string; key: SigningKey }> {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => {
      const file = path.join(dir, n);
      return { file, key: readSigningKeyFile(file) };
    });
}

export function createOperatorKeyFile(file: string, label: string, seed: Uint8Array = generateSeed()): OperatorKeyMaterial {
  const key = signingKeyFromSeed(seed);
  writePrivateJson(file, {
    type: 'accord-operator-key',
    label,
    seed: Buffer.from(seed).toString('base64'),
    public_key: key.publicKey,
    key_id: key.keyId,
  });
  return { label, key };
}

export function readOperatorKeyFile(file: string): OperatorKeyMaterial {
  const parsed = operatorKeyFile.safeParse(readJson(file, 'operator key'));
  if (!parsed.success) throw new KeyFileError(`operator key file ${file} is not an accord operator key`);
  return { label: parsed.data.label, key: seedKey(parsed.data.seed, parsed.data.key_id, file) };
}

/** Mode bits of a file, or null when it does not exist. */
export function fileMode(file: string): number | null {
  try {
    return fs.statSync(file).mode & 0o777;
  } catch {
    return null;
  }
}
