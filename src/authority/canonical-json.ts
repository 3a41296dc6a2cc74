// Canonical JSON: RFC 8785 (JCS) for signed objects, and a strict JSON parser that refuses duplicate keys
// and keeps number texts (the Genesis Mesh form, which needs them, is in interop/gm-canonical.ts).
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

class NotCanonical extends Error {}
const NOT_CANONICAL = new NotCanonical();

/**
 * One-pass JCS serializer for the value domain of signed objects (integers only): keys sorted by
 * UTF-16 code units, strings as ECMAScript JSON.stringify. Throws NOT_CANONICAL on anything outside
 * that domain; `canonicalize` (the RFC 8785 reference package) is its differential oracle in tests.
 */
function writeJcs(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) throw NOT_CANONICAL;
      return JSON.stringify(value);
    case 'number':
      if (!Number.isSafeInteger(value)) throw NOT_CANONICAL;
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += writeJcs(value[i]);
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw NOT_CANONICAL;
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        if (!key.isWellFormed()) throw NOT_CANONICAL;
        if (i > 0) out += ',';
        out += `${JSON.stringify(key)}:${writeJcs(record[key])}`;
      }
      return `${out}}`;
    }
    default:
      throw NOT_CANONICAL;
  }
}

/** JCS text of a value; throws `non_canonical_value` for floats, unsafe integers, undefined or lone surrogates. */
export function canonicalJson(value: unknown): string {
  try {
    return writeJcs(value);
  } catch (err) {
    if (err !== NOT_CANONICAL) throw err;
    const problem = signableProblem(value) ?? 'value is outside the JSON data model';
    throw new AppError('non_canonical_value', 'value cannot be canonicalized', { problem });
  }
}

/** The RFC 8785 reference serializer (the `canonicalize` package), for differential checks. */
export function referenceCanonicalJson(value: unknown): string | undefined {
  return canonicalize(value);
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
    throw new AppError('malformed_json', 'request body is not valid UTF-8');
  }
}

/** Options of the strict parser. */
export interface StrictJsonOptions {
  /** Deepest nesting of objects and arrays accepted (default 64). */
  maxDepth?: number;
  /**
   * Refuse any number written with a fraction or an exponent, even one with an integer value
   * (`2.0`, `2e0`): the native signed forms hold integers only, and a number JSON.parse quietly
   * turns into an integer would otherwise be read as the integer the signer never wrote.
   */
  integersOnly?: boolean;
}

/**
 * Parses JSON like JSON.parse but rejects duplicate object keys and nesting deeper than `maxDepth`,
 * and keeps the source text of every number whose JavaScript value would not reproduce it (`1.0`,
 * `-0.0`, `1e-07`, `9007199254740993`): `numberSourceText` gives it back. A body with a duplicate key
 * could be read differently by two implementations, so it never reaches a signature check; a number
 * signed as another implementation wrote it must be re-serialized from its text, not its value.
 */
export function parseJsonStrict(text: string, options: StrictJsonOptions = {}): JsonValue {
  const maxDepth = options.maxDepth ?? 64;
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    throw new AppError('malformed_json', 'request body is not valid JSON');
  }
  // JSON.parse silently keeps the last duplicate key and forgets how numbers were written; a second,
  // structural pass over the (now known valid) text finds both.
  if (typeof value === 'object' && value !== null) {
    const numbers = scanStructure(text, maxDepth, options.integersOnly === true);
    for (const { path, lexeme } of numbers) keepNumberSource(value, path, lexeme);
  } else if (options.integersOnly && typeof value === 'number' && /[.eE]/.test(text)) throw nonIntegerNumber(text.trim());
  return value;
}

function nonIntegerNumber(token: string): AppError {
  return new AppError('non_canonical_number', 'numbers must be written as integers (no fraction or exponent)', {
    number: token.slice(0, 40),
  });
}

/** Number lexemes whose value alone gives back the same text (and the same text in Python's dump). */
const PLAIN_INTEGER = /^-?(?:0|[1-9]\d{0,14})$/;

/** Per parsed object or array: the text of each of its numbers that its value would not reproduce, and that value. */
const numberSources = new WeakMap<object, Map<string | number, { text: string; value: number }>>();

/**
 * The text a number was written with in the parsed JSON, when its value would not reproduce it:
 * `container[key]` as written by the sender. Undefined for plain integers, for values built in code
 * and once the value was replaced.
 */
export function numberSourceText(container: object, key: string | number): string | undefined {
  const source = numberSources.get(container)?.get(key);
  return source && Object.is(source.value, (container as Record<string | number, unknown>)[key]) ? source.text : undefined;
}

function setNumberSource(container: object, key: string | number, text: string): void {
  const value = (container as Record<string | number, unknown>)[key];
  if (typeof value !== 'number') return;
  let map = numberSources.get(container);
  if (!map) {
    map = new Map();
    numberSources.set(container, map);
  }
  map.set(key, { text, value });
}

/** Carries the kept number texts of `from` over to a shallow copy `to` (same keys). */
export function copyNumberSources(from: object, to: object): void {
  const map = numberSources.get(from);
  if (map) numberSources.set(to, new Map(map));
}

function keepNumberSource(root: JsonValue, path: Array<string | number>, lexeme: string): void {
  let container: unknown = root;
  for (let i = 0; i < path.length - 1; i++) container = (container as Record<string | number, unknown>)[path[i]!];
  if (typeof container === 'object' && container !== null) setNumberSource(container, path[path.length - 1]!, lexeme);
}

interface Frame {
  /** Keys seen in an object (null for an array). */
  keys: Set<string> | null;
  /** Current key (object) or index (array). */
  at: string | number;
}

/**
 * One pass over valid JSON text: duplicate keys and depth are refused, and with `integersOnly` any
 * number with a fraction or exponent; non-plain number lexemes are returned with their paths.
 */
function scanStructure(text: string, maxDepth: number, integersOnly: boolean): Array<{ path: Array<string | number>; lexeme: string }> {
  const stack: Frame[] = [];
  const numbers: Array<{ path: Array<string | number>; lexeme: string }> = [];
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
      if (expectKey && top?.keys) {
        const raw = text.slice(start, i);
        const key = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.keys.has(key)) {
          throw new AppError('malformed_json', 'JSON object has a duplicate key', { key });
        }
        top.keys.add(key);
        top.at = key;
        expectKey = false;
      }
      i++;
      continue;
    }
    if (ch === 0x2d /* - */ || (ch >= 0x30 && ch <= 0x39)) {
      const start = i;
      while (i < n && isNumberChar(text.charCodeAt(i))) i++;
      const lexeme = text.slice(start, i);
      if (!PLAIN_INTEGER.test(lexeme)) {
        // The text already parsed, so the token is a valid number: a point or exponent is all that can make it not an integer.
        if (integersOnly && /[.eE]/.test(lexeme)) throw nonIntegerNumber(lexeme);
        numbers.push({ path: stack.map((f) => f.at), lexeme });
      }
      continue;
    }
    if (ch === 0x7b /* { */) {
      stack.push({ keys: new Set(), at: '' });
      if (stack.length > maxDepth) throw new AppError('malformed_json', 'JSON nesting is too deep', { max_depth: maxDepth });
      expectKey = true;
    } else if (ch === 0x5b /* [ */) {
      stack.push({ keys: null, at: 0 });
      if (stack.length > maxDepth) throw new AppError('malformed_json', 'JSON nesting is too deep', { max_depth: maxDepth });
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop();
    } else if (ch === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top) {
        if (top.keys) expectKey = true;
        else top.at = (top.at as number) + 1;
      }
    }
    i++;
  }
  return numbers;
}

/** Characters of a JSON number token after its first (digits, sign, point, exponent). */
function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}
