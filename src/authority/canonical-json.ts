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
    throw new AppError('non_canonical_value', 422, 'value cannot be canonicalized', { problem });
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
    throw new AppError('malformed_json', 400, 'request body is not valid UTF-8');
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
 * Parses JSON like JSON.parse but rejects duplicate object keys and nesting deeper than `maxDepth`.
 * A body with a duplicate key could be read differently by two implementations, so it never reaches
 * a signature check.
 */
export function parseJsonStrict(text: string, options: StrictJsonOptions = {}): JsonValue {
  const maxDepth = options.maxDepth ?? 64;
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    throw new AppError('malformed_json', 400, 'request body is not valid JSON');
  }
  // JSON.parse silently keeps the last duplicate key; a second, structural pass finds them.
  if (typeof value === 'object' && value !== null) scanStructure(text, maxDepth, options.integersOnly === true);
  else if (options.integersOnly && typeof value === 'number' && /[.eE]/.test(text)) throw nonIntegerNumber(text.trim());
  return value;
}

function nonIntegerNumber(token: string): AppError {
  return new AppError('non_canonical_number', 422, 'numbers must be written as integers (no fraction or exponent)', { number: token.slice(0, 40) });
}

function isNumberStart(ch: number): boolean {
  return ch === 0x2d /* - */ || (ch >= 0x30 && ch <= 0x39);
}

function scanStructure(text: string, maxDepth: number, integersOnly: boolean): void {
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
    if (integersOnly && isNumberStart(ch)) {
      // The text already parsed, so a number token runs to the next structural character or space.
      const start = i;
      let integral = true;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 0x2e || c === 0x65 || c === 0x45) integral = false;
        else if (!isNumberStart(c) && c !== 0x2b /* + */) break;
        i++;
      }
      if (!integral) throw nonIntegerNumber(text.slice(start, i));
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

/** Signed object types of the Genesis Mesh reference, each with its own defaults and datetime fields. */
export type GmObjectType = 'recognition_treaty' | 'membership_attestation' | 'revocation_feed';

const GM_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

const GM_SHAPES: Record<GmObjectType, { timestamps: string[]; sortedIdLists: string[] }> = {
  recognition_treaty: { timestamps: ['issued_at', 'valid_from', 'expires_at'], sortedIdLists: [] },
  membership_attestation: { timestamps: ['issued_at', 'valid_from', 'expires_at'], sortedIdLists: [] },
  revocation_feed: { timestamps: ['issued_at'], sortedIdLists: ['revoked_attestation_ids'] },
};

function gmNormalizeTimestamp(value: unknown, field: string): string {
  const m = typeof value === 'string' ? GM_TIMESTAMP.exec(value) : null;
  if (!m) throw new AppError('non_canonical_value', 422, 'value cannot be canonicalized', { problem: `$.${field}: not an RFC 3339 timestamp with a zone` });
  const [, year, month, day, hour, minute, second, fraction, zone] = m as unknown as string[];
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  const zoneOk = zone === 'Z' || (Number(zone!.slice(1, 3)) < 24 && Number(zone!.slice(4, 6)) < 60);
  if (Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > daysInMonth || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59 || !zoneOk) {
    throw new AppError('non_canonical_value', 422, 'value cannot be canonicalized', { problem: `$.${field}: not a valid date and time` });
  }
  // Python datetimes hold microseconds: extra digits are cut, not rounded; a zero fraction disappears.
  const micros = (fraction ?? '').slice(0, 6).padEnd(6, '0');
  const frac = /^0+$/.test(micros) ? '' : `.${micros}`;
  const tz = zone === '+00:00' || zone === '-00:00' ? 'Z' : zone;
  return `${year}-${month}-${day}T${hour}:${minute}:${second}${frac}${tz}`;
}

const byCodePoint = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

function gmString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c < 0x7f) out += text[i];
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    // Everything else, DEL and astral characters (as their two UTF-16 halves) included, as \uXXXX.
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

function gmDump(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') return gmString(value);
  if (Array.isArray(value)) return `[${value.map(gmDump).join(',')}]`;
  const entries = Object.keys(value as object).sort(byCodePoint);
  return `{${entries.map((k) => `${gmString(k)}:${gmDump((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/**
 * The Genesis Mesh canonical form (wire profile `genesis-mesh`): what the reference signs with
 * `json.dumps(model, sort_keys=True, separators=(",", ":"))`. The object without `signatures`, the
 * reference's model defaults filled in, datetime fields in its normalized form, feed id lists sorted
 * and de-duplicated, keys sorted by code point, everything outside printable ASCII escaped as
 * lowercase \uXXXX. Throws `non_canonical_value` for floats, unsafe integers, lone surrogates and
 * timestamps without a zone.
 */
export function gmCanonicalJson(object: Record<string, unknown>, type: GmObjectType): string {
  const { signatures: _ignored, ...unsigned } = object;
  const shape = GM_SHAPES[type];
  const filled: Record<string, unknown> = { ...unsigned };
  if (type === 'recognition_treaty') {
    filled.metadata ??= {};
    if (filled.scope && typeof filled.scope === 'object' && !Array.isArray(filled.scope)) {
      filled.scope = { accepted_statuses: ['active'], claims: {}, ...(filled.scope as Record<string, unknown>) };
    }
  }
  if (type === 'membership_attestation') filled.claims ??= {};
  for (const field of shape.timestamps) {
    if (filled[field] !== undefined) filled[field] = gmNormalizeTimestamp(filled[field], field);
  }
  for (const field of shape.sortedIdLists) {
    const list = filled[field];
    if (Array.isArray(list) && list.every((x) => typeof x === 'string')) filled[field] = [...new Set(list as string[])].sort(byCodePoint);
  }
  const problem = signableProblem(filled);
  if (problem) throw new AppError('non_canonical_value', 422, 'value cannot be canonicalized', { problem });
  return gmDump(filled);
}
