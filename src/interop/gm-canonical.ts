// The Genesis Mesh canonical form: the bytes the reference signs (its pydantic model dump with defaults
// filled in, sorted keys, Python's float repr), beside Accord's own JCS in authority/canonical-json.ts.
import { AppError } from '../authority/errors.ts';
import { copyNumberSources, numberSourceText } from '../authority/canonical-json.ts';

/** Signed object types of the Genesis Mesh reference, each with its own defaults and datetime fields. */
export type GmObjectType = 'recognition_treaty' | 'membership_attestation' | 'revocation_feed';

const GM_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The reference's pydantic model defaults (filled in before it signs or verifies) and datetime fields.
 * A default is written out whenever the field is absent, so an object that omits one signs the same
 * bytes as one that spells it out.
 */
const GM_SHAPES: Record<GmObjectType, { timestamps: string[]; sortedIdLists: string[]; defaults: () => Record<string, unknown> }> = {
  recognition_treaty: {
    timestamps: ['issued_at', 'valid_from', 'expires_at'],
    sortedIdLists: [],
    defaults: () => ({ scope: {}, status: 'active', metadata: {} }),
  },
  membership_attestation: {
    timestamps: ['issued_at', 'valid_from', 'expires_at'],
    sortedIdLists: [],
    defaults: () => ({ subject_public_key: null, roles: [], status: 'active', claims: {} }),
  },
  revocation_feed: {
    timestamps: ['issued_at'],
    sortedIdLists: ['revoked_attestation_ids'],
    defaults: () => ({ revoked_attestation_ids: [], revocation_reasons: {} }),
  },
};

const GM_SCOPE_DEFAULTS = () => ({ allowed_roles: [], accepted_statuses: ['active'], claims: {} });

function notCanonical(problem: string): AppError {
  return new AppError('non_canonical_value', 'value cannot be canonicalized', { problem });
}

function gmNormalizeTimestamp(value: unknown, field: string): string {
  const m = typeof value === 'string' ? GM_TIMESTAMP.exec(value) : null;
  if (!m) throw notCanonical(`$.${field}: not an RFC 3339 timestamp with a zone`);
  const [, year, month, day, hour, minute, second, fraction, zone] = m as unknown as string[];
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  const zoneOk = zone === 'Z' || (Number(zone!.slice(1, 3)) < 24 && Number(zone!.slice(4, 6)) < 60);
  if (
    Number(month) < 1 ||
    Number(month) > 12 ||
    Number(day) < 1 ||
    Number(day) > daysInMonth ||
    Number(hour) > 23 ||
    Number(minute) > 59 ||
    Number(second) > 59 ||
    !zoneOk
  ) {
    throw notCanonical(`$.${field}: not a valid date and time`);
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

const INTEGER_LEXEME = /^-?\d+$/;
/** Python refuses to read integers longer than this (sys.int_info.default_max_str_digits). */
const PYTHON_MAX_INT_DIGITS = 4300;

/**
 * `repr(float)` in Python: the shortest digits that round-trip (the same digits ECMAScript's
 * Number-to-string chooses), in fixed notation with at least one fractional digit when the decimal
 * exponent is in [-4, 16), else as `d.ddde±XX` with at least two exponent digits.
 */
export function pythonFloatRepr(value: number): string {
  if (!Number.isFinite(value)) throw notCanonical('a number outside the range of a double has no JSON form');
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  const [mantissa, exponent] = Math.abs(value).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const point = Number(exponent) + 1; // digits[0] sits just before position `point` of the decimal point
  if (point > -4 && point <= 16) {
    if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
    if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
    return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  const e = point - 1;
  const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
  return `${sign}${digits[0]}${fraction}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/**
 * A number as the reference writes it after reading it: an integer lexeme stays an exact integer
 * (`-0` becomes `0`), any other lexeme is a double in `repr` form. Without source text (values built
 * in code) a safe integer is an integer and anything else a double; an integer beyond 2^53 without
 * its text, a non-finite value and an integer Python cannot read are refused.
 */
function gmNumber(value: number, source: string | undefined, path: string): string {
  if (source !== undefined) {
    if (INTEGER_LEXEME.test(source)) {
      const digits = source.startsWith('-') ? source.slice(1) : source;
      if (digits.length > PYTHON_MAX_INT_DIGITS) throw notCanonical(`${path}: integer with more than ${PYTHON_MAX_INT_DIGITS} digits`);
      return digits === '0' ? '0' : source;
    }
    const parsed = Number(source);
    if (!Number.isFinite(parsed)) throw notCanonical(`${path}: ${source.slice(0, 32)} is outside the range of a double`);
    return pythonFloatRepr(parsed);
  }
  if (!Number.isFinite(value)) throw notCanonical(`${path}: not a finite number`);
  if (Number.isInteger(value)) {
    if (!Number.isSafeInteger(value)) throw notCanonical(`${path}: integer outside the safe range with no source text`);
    return String(value);
  }
  return pythonFloatRepr(value);
}

function gmKey(key: string, path: string): string {
  if (!key.isWellFormed()) throw notCanonical(`${path}: key contains a lone surrogate`);
  return gmString(key);
}

/** Python's `json.dumps(value, sort_keys=True, separators=(",", ":"))` of a parsed value (number texts kept). */
function gmDump(value: unknown, container: object | null, key: string | number, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return gmNumber(value, container ? numberSourceText(container, key) : undefined, path);
    case 'string':
      if (!value.isWellFormed()) throw notCanonical(`${path}: string contains a lone surrogate`);
      return gmString(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + gmDump(value[i], value, i, `${path}[${i}]`);
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw notCanonical(`${path}: not a plain object`);
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort(byCodePoint);
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (record[k] === undefined) throw notCanonical(`${path}.${k}: undefined is not allowed`);
        out += `${i > 0 ? ',' : ''}${gmKey(k, path)}:${gmDump(record[k], record, k, `${path}.${k}`)}`;
      }
      return `${out}}`;
    }
    default:
      throw notCanonical(`${path}: ${typeof value} is not JSON`);
  }
}

/** A shallow copy with the absent defaults written out; kept number texts travel with it. */
function withDefaults(object: Record<string, unknown>, defaults: Record<string, unknown>): Record<string, unknown> {
  const filled: Record<string, unknown> = { ...object };
  copyNumberSources(object, filled);
  for (const [key, value] of Object.entries(defaults)) if (!Object.hasOwn(filled, key)) filled[key] = value;
  return filled;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The object as the reference's model holds it: defaults filled, datetimes normalized, feed ids sorted. */
function gmModel(object: Record<string, unknown>, type: GmObjectType): Record<string, unknown> {
  const shape = GM_SHAPES[type];
  const filled = withDefaults(object, shape.defaults());
  if (type === 'recognition_treaty' && isRecord(filled.scope)) filled.scope = withDefaults(filled.scope, GM_SCOPE_DEFAULTS());
  for (const field of shape.timestamps) {
    if (filled[field] !== undefined) filled[field] = gmNormalizeTimestamp(filled[field], field);
  }
  for (const field of shape.sortedIdLists) {
    const list = filled[field];
    if (Array.isArray(list) && list.every((x) => typeof x === 'string')) filled[field] = [...new Set(list as string[])].sort(byCodePoint);
  }
  return filled;
}

/**
 * The Genesis Mesh canonical form (wire profile `genesis-mesh`): what the reference signs with
 * `json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))`. The object
 * without `signatures`, the reference's model defaults filled in, datetime fields in its normalized
 * form, feed id lists sorted and de-duplicated, keys sorted by code point, everything outside
 * printable ASCII escaped as lowercase \uXXXX, and numbers as Python writes what it read (their
 * source text kept: `1.0`, `-0.0`, `1e-07`, `9007199254740993`). Throws `non_canonical_value` for what
 * has no faithful form: a non-finite number, an unsafe integer without its text, a lone surrogate, a
 * timestamp without a zone.
 */
export function gmCanonicalJson(object: Record<string, unknown>, type: GmObjectType): string {
  const { signatures: _ignored, ...unsigned } = object;
  copyNumberSources(object, unsigned);
  return gmDump(gmModel(unsigned, type), null, '', '$');
}

/** The whole signed object in the canonical form, `signatures` included: how a GM object is stored. */
export function gmDocumentJson(object: Record<string, unknown>, type: GmObjectType): string {
  return gmDump(gmModel(object, type), null, '', '$');
}

/** Python's `json.dumps(value, sort_keys=True, separators=(",", ":"))` of any parsed JSON value, no model applied. */
export function gmJson(value: unknown): string {
  return gmDump(value, null, '', '$');
}
