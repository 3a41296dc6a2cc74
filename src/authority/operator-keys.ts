// Operator public keys allowed to sign admin requests: from OPERATOR_PUBLIC_KEYS_JSON or a keys file; reloadable.
import fs from 'node:fs';
import { z } from 'zod';
import { parseTimestamp } from './clock.ts';
import { parsePublicKey, type PublicKeyInfo } from './crypto.ts';

/** A scope is `*`, `<area>:*`, `*:read`, or `<area>:read|write`, where area is the first path segment after /admin/. */
const SCOPE = /^(\*|\*:read|[a-z0-9-]+:(\*|read|write))$/;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export interface OperatorKey {
  label: string;
  key: PublicKeyInfo;
  scopes: string[];
  notAfter: Date | null;
}

const keysFileSchema = z.strictObject({
  keys: z.record(
    z.string().regex(LABEL),
    z.strictObject({
      public_key: z.string(),
      scopes: z.array(z.string().regex(SCOPE)).min(1).default(['*']),
      not_after: z.string().nullable().optional(),
    }),
  ),
});

const publicKeysJsonSchema = z.record(z.string().regex(LABEL), z.string());

export class OperatorKeysError extends Error {
  override name = 'OperatorKeysError';
}

function buildKey(where: string, label: string, publicKey: string, scopes: string[], notAfter: string | null | undefined): OperatorKey {
  const parsed = parsePublicKey(publicKey);
  if (!parsed.ok) throw new OperatorKeysError(`${where}: operator key "${label}": public key rejected (${parsed.reason})`);
  let notAfterDate: Date | null = null;
  if (notAfter) {
    notAfterDate = parseTimestamp(notAfter);
    if (!notAfterDate)
      throw new OperatorKeysError(`${where}: operator key "${label}": not_after must be RFC 3339 UTC like 2026-01-01T00:00:00Z`);
  }
  return { label, key: parsed.key, scopes, notAfter: notAfterDate };
}

/** Parses the reference-compatible `{"<label>": "<base64 public key>"}` form (all scopes). */
export function parseOperatorPublicKeysJson(text: string): OperatorKey[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new OperatorKeysError('OPERATOR_PUBLIC_KEYS_JSON is not valid JSON');
  }
  const parsed = publicKeysJsonSchema.safeParse(raw);
  if (!parsed.success)
    throw new OperatorKeysError(
      'OPERATOR_PUBLIC_KEYS_JSON must be an object of label → base64 public key (labels match ^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$)',
    );
  return Object.entries(parsed.data).map(([label, pk]) => buildKey('OPERATOR_PUBLIC_KEYS_JSON', label, pk, ['*'], null));
}

/** Parses an operator keys file: `{"keys": {"<label>": {"public_key", "scopes"?, "not_after"?}}}`. */
export function parseOperatorKeysFile(text: string, file: string): OperatorKey[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new OperatorKeysError(`operator keys file ${file} is not valid JSON`);
  }
  const parsed = keysFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new OperatorKeysError(`operator keys file ${file}: ${issue.path.join('.') || 'root'} ${issue.message}`);
  }
  return Object.entries(parsed.data.keys).map(([label, k]) =>
    buildKey(`operator keys file ${file}`, label, k.public_key, k.scopes, k.not_after),
  );
}

export type OperatorKeySource = () => OperatorKey[];

export function operatorKeySource(options: { json?: string | undefined; file?: string | undefined }): OperatorKeySource {
  return () => {
    const keys: OperatorKey[] = [];
    if (options.json) keys.push(...parseOperatorPublicKeysJson(options.json));
    if (options.file) {
      let text: string;
      try {
        text = fs.readFileSync(options.file, 'utf8');
      } catch {
        throw new OperatorKeysError(`cannot read operator keys file ${options.file}`);
      }
      keys.push(...parseOperatorKeysFile(text, options.file));
    }
    const labels = new Set<string>();
    for (const k of keys) {
      if (labels.has(k.label)) throw new OperatorKeysError(`operator key label "${k.label}" is configured twice`);
      labels.add(k.label);
    }
    return keys;
  };
}

export interface ReloadResult {
  added: string[];
  removed: string[];
  changed: string[];
  count: number;
}

/** The live set of operator keys. A reload that fails keeps the previous set. */
export class OperatorKeyring {
  private byLabel = new Map<string, OperatorKey>();

  constructor(private readonly source: OperatorKeySource) {
    this.reload();
  }

  static fromKeys(keys: OperatorKey[]): OperatorKeyring {
    return new OperatorKeyring(() => keys);
  }

  get(label: string): OperatorKey | undefined {
    return this.byLabel.get(label);
  }

  list(): OperatorKey[] {
    return [...this.byLabel.values()];
  }

  get size(): number {
    return this.byLabel.size;
  }

  reload(): ReloadResult {
    const next = new Map(this.source().map((k) => [k.label, k]));
    const added = [...next.keys()].filter((l) => !this.byLabel.has(l));
    const removed = [...this.byLabel.keys()].filter((l) => !next.has(l));
    const changed = [...next.keys()].filter((l) => {
      const before = this.byLabel.get(l);
      const after = next.get(l)!;
      return (
        before !== undefined &&
        (before.key.keyId !== after.key.keyId ||
          before.scopes.join() !== after.scopes.join() ||
          before.notAfter?.getTime() !== after.notAfter?.getTime())
      );
    });
    this.byLabel = next;
    return { added, removed, changed, count: next.size };
  }
}

/** Whether the key's scopes allow an admin request on `area` (`read` for GET/HEAD, else `write`). */
export function scopeAllows(scopes: string[], area: string, access: 'read' | 'write'): boolean {
  return scopes.some((s) => s === '*' || s === `${area}:*` || s === `${area}:${access}` || (access === 'read' && s === '*:read'));
}
