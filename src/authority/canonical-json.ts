// Canonical JSON (RFC 8785 / JCS) for signed objects, and a strict JSON parser that refuses duplicate keys.
import canonicalize from 'canonicalize';
import { AppError } from './errors.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a value cannot be part of a signed object, or null when it can. */
export function signableProblem(value: unknown, path = '$'): string | null {
  if (value === null || typeof value === 'boolean') return null;
  if (typeof value === 'string') {
    return LONE_SURROGATE.test(value) ? `${path}: string contains a lone surrogate` : null;
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return `${path}: numbers in signed objects must be integers`;
    if (!Number.isSafeInteger(value)) return `${path}: integer outside the safe range`;
    return null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = signableProblem(value[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return null;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `${path}: not a plain object`;
    for (const [key, item] of Object.entries(value)) {
      if (LONE_SURROGATE.test(key)) return `${path}: key contains a lone surrogate`;
      if (item === undefined) return `${path}.${key}: undefined is not allowed`;
      const problem = signableProblem(item, `${path}.${key}`);
      if (problem) return problem;
    }
    return null;
  }
  return `${path}: ${typeof value} is not JSON`;
}

/** JCS text of a value; throws `non_canonical_value` for floats, unsafe integers, undefined or lone surrogates. */
export function canonicalJson(value: unknown): string {
  const problem = signableProblem(value);
  if (problem) throw new AppError('non_canonical_value', 422, 'value cannot be canonicalized', { problem });
  const text = canonicalize(value);
  if (text === undefined) throw new AppError('non_canonical_value', 422, 'value cannot be canonicalized');
  return text;
}

/** UTF-8 bytes of the JCS text. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decodes UTF-8 strictly (invalid sequences are an error, not U+FFFD). */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new AppError('malformed_json', 400, 'request body is not valid UTF-8');
  }
}

/**
 * Parses JSON like JSON.parse but rejects duplicate object keys and nesting deeper than `maxDepth`.
 * A body with a duplicate key could be read differently by two implementations, so it never reaches
 * a signature check.
 */
export function parseJsonStrict(text: string, maxDepth = 64): JsonValue {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    throw new AppError('malformed_json', 400, 'request body is not valid JSON');
  }
  // JSON.parse silently keeps the last duplicate key; a second, structural pass finds them.
  if (typeof value === 'object' && value !== null) scanForDuplicates(text, maxDepth);
  return value;
}

function scanForDuplicates(text: string, maxDepth: number): void {
  const stack: Array<Set<string> | null> = [];
  let i = 0;
  let expectKey = false;
  const n = text.length;
  while (i < n) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      const start = i + 1;
      i++;
      let escaped = false;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 0x5c) {
          escaped = true;
          i += 2;
          continue;
        }
        if (c === 0x22) break;
        i++;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const raw = text.slice(start, i);
        const key = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.has(key)) {
          throw new AppError('malformed_json', 400, 'JSON object has a duplicate key', { key });
        }
        top.add(key);
        expectKey = false;
      }
      i++;
      continue;
    }
    if (ch === 0x7b /* { */) {
      stack.push(new Set());
      if (stack.length > maxDepth) throw new AppError('malformed_json', 400, 'JSON nesting is too deep', { max_depth: maxDepth });
      expectKey = true;
    } else if (ch === 0x5b /* [ */) {
      stack.push(null);
      if (stack.length > maxDepth) throw new AppError('malformed_json', 400, 'JSON nesting is too deep', { max_depth: maxDepth });
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop();
    } else if (ch === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] != null;
    }
    i++;
  }
}
