// Generators of hostile request bodies, paths and queries (fast-check): random JSON, one-field
// mutations of valid objects, huge and deeply nested documents, bad UTF-8, lone surrogates, unsafe
// numbers, duplicate keys, wrong content types and truncated bodies.
import fc from 'fast-check';

export type Json = any;
type Path = Array<string | number>;

export const BODY_CATEGORIES = [
  'valid',
  'random_json',
  'mutated_valid',
  'huge_string',
  'huge_array',
  'deep_nesting',
  'invalid_utf8',
  'lone_surrogate',
  'unsafe_number',
  'duplicate_key',
  'wrong_content_type',
  'truncated',
  'random_bytes',
  'empty',
] as const;
export type BodyCategory = (typeof BODY_CATEGORIES)[number];

/** Categories that are still strict, well-formed JSON in the right media type (a route may accept them). */
export const WELL_FORMED: ReadonlySet<BodyCategory> = new Set(['valid', 'random_json', 'mutated_valid']);

export interface HostileBody {
  category: BodyCategory;
  bytes: Uint8Array;
  contentType: string | null;
  /** The JSON value sent, for well-formed categories. */
  value?: Json;
  /** For mutations: what was done where. */
  note?: string;
}

export function allPaths(value: Json, prefix: Path = []): Path[] {
  const out: Path[] = [];
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([...prefix, i], ...allPaths(v, [...prefix, i]));
    });
  } else if (value && typeof value === 'object')
    for (const k of Object.keys(value)) out.push([...prefix, k], ...allPaths(value[k], [...prefix, k]));
  return out;
}

function parentOf(root: Json, path: Path): Json {
  let node = root;
  for (const step of path.slice(0, -1)) node = node[step];
  return node;
}

export type MutationKind = 'change' | 'drop' | 'duplicate' | 'retype' | 'add_field';
export interface Mutation {
  pick: number;
  kind: MutationKind;
  text: string;
  number: number;
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  kind: fc.constantFrom<MutationKind>('change', 'drop', 'duplicate', 'retype', 'add_field'),
  text: fc.string({ maxLength: 10, unit: 'grapheme' }),
  number: fc.integer({ min: -3, max: 1_000_000 }),
});

/** One field changed, dropped, duplicated (array element), retyped or an extra field added; null when nothing changed. */
export function mutate(original: Json, m: Mutation): { value: Json; note: string } | null {
  if (original === null || typeof original !== 'object') return null;
  const paths = allPaths(original);
  if (paths.length === 0) return null;
  const path = paths[m.pick % paths.length]!;
  const copy = structuredClone(original);
  const parent = parentOf(copy, path);
  const key = path[path.length - 1]!;
  const current = parent[key];
  switch (m.kind) {
    case 'change':
      if (typeof current === 'string') parent[key] = current.length > 0 ? `${current.slice(0, -1)}${m.text || 'x'}` : m.text || 'x';
      else if (typeof current === 'number') parent[key] = current + 1;
      else if (typeof current === 'boolean') parent[key] = !current;
      else parent[key] = m.text;
      break;
    case 'drop':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 'duplicate':
      if (Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(current));
      else if (Array.isArray(current) && current.length > 0) current.push(structuredClone(current[0]));
      else return null;
      break;
    case 'retype':
      parent[key] =
        typeof current === 'string' ? m.number : typeof current === 'number' ? String(current) : m.number % 2 === 0 ? null : [current];
      break;
    case 'add_field':
      if (Array.isArray(parent)) parent.push(m.text);
      else {
        const name = `${m.text}_x`;
        if (name in parent) return null;
        parent[name] = m.number;
      }
      break;
  }
  if (JSON.stringify(copy) === JSON.stringify(original)) return null;
  return { value: copy, note: `${m.kind} ${path.join('.')}` };
}

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
const JSON_TYPE = 'application/json';

/** Replaces the first string value found (depth-first) with `replacement` text, in serialized form. */
function withFirstString(sample: Json, replacementJson: string): string {
  const marker = '\u0000MARK\u0000';
  const copy = structuredClone(sample ?? {});
  const path = allPaths(copy).find((p) => typeof parentOf(copy, p)[p[p.length - 1]!] === 'string');
  if (!path) return `{"x":${replacementJson}}`;
  parentOf(copy, path)[path[path.length - 1]!] = marker;
  return JSON.stringify(copy).replace(JSON.stringify(marker), replacementJson);
}

/** Replaces the first number (or, failing that, the first string) with raw number text. */
function withFirstNumber(sample: Json, numberText: string): string {
  const marker = '\u0000NUM\u0000';
  const copy = structuredClone(sample ?? {});
  const paths = allPaths(copy);
  const path =
    paths.find((p) => typeof parentOf(copy, p)[p[p.length - 1]!] === 'number') ??
    paths.find((p) => typeof parentOf(copy, p)[p[p.length - 1]!] === 'string');
  if (!path) return `{"n":${numberText}}`;
  parentOf(copy, path)[path[path.length - 1]!] = marker;
  return JSON.stringify(copy).replace(JSON.stringify(marker), numberText);
}

/** Repeats the first key of the first object with another value (JSON.parse would keep the last). */
function withDuplicateKey(sample: Json): string {
  const text = JSON.stringify(
    sample && typeof sample === 'object' && !Array.isArray(sample) && Object.keys(sample).length > 0 ? sample : { a: 1 },
  );
  const m = /^\{("(?:[^"\\]|\\.)*"):/.exec(text)!;
  return `{${m[1]}:"shadow",${text.slice(1)}`;
}

const INVALID_UTF8: Uint8Array[] = [
  new Uint8Array([0xff]),
  new Uint8Array([0xc0, 0xaf]), // overlong '/'
  new Uint8Array([0xed, 0xa0, 0x80]), // encoded surrogate
  new Uint8Array([0x80]), // lone continuation
  new Uint8Array([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
  new Uint8Array([0xe2, 0x82]), // truncated sequence
];

const UNSAFE_NUMBERS = [
  '9007199254740993',
  '-9007199254740993',
  '1e400',
  '-1e400',
  '1.5',
  '1e2',
  '-0',
  '0.1',
  '123456789012345678901234567890',
  '1E-7',
];
const WRONG_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/jsonx',
  'application/xml',
  'json',
  '',
  'application/json-seq',
];
const LONE_SURROGATES = ['"\\ud800"', '"a\\udfffb"', '"\\udc00\\ud800"', '"x\\ud83d"'];

/** A hostile body of some category, derived from a valid sample of the route. */
export function hostileBodyArb(samples: Json[]): fc.Arbitrary<HostileBody> {
  const sample = fc.constantFrom(...(samples.length > 0 ? samples : [{}]));
  const json = (category: BodyCategory, value: Json, note?: string): HostileBody => ({
    category,
    bytes: utf8(JSON.stringify(value)),
    contentType: JSON_TYPE,
    value,
    ...(note ? { note } : {}),
  });
  const text = (category: BodyCategory, t: string, contentType: string | null = JSON_TYPE): HostileBody => ({
    category,
    bytes: utf8(t),
    contentType,
  });
  return fc.oneof(
    { weight: 1, arbitrary: sample.map((s) => json('valid', s)) },
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => json('random_json', v)) },
    {
      weight: 8,
      arbitrary: fc.tuple(sample, mutationArb).map(([s, m]) => {
        const mutated = mutate(s, m);
        return mutated ? json('mutated_valid', mutated.value, mutated.note) : json('valid', s);
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(sample, fc.constantFrom(70_000, 300_000, 1_100_000, 9_000_000))
        .map(([s, n]) => text('huge_string', withFirstString(s, `"${'A'.repeat(n)}"`))),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(sample, fc.constantFrom(10_000, 200_000))
        .map(([s, n]) => text('huge_array', withFirstString(s, `[${Array.from({ length: n }, () => '0').join(',')}]`))),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(65, 1000, 100_000), fc.boolean())
        .map(([depth, arrays]) =>
          text('deep_nesting', arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(sample, fc.constantFrom(...INVALID_UTF8), fc.nat()).map(([s, bad, at]) => {
        const t = Buffer.from(withFirstString(s, '"MARK"'), 'utf8');
        const i = t.indexOf('MARK') >= 0 ? t.indexOf('MARK') : at % Math.max(1, t.length);
        return {
          category: 'invalid_utf8' as const,
          bytes: new Uint8Array(Buffer.concat([t.subarray(0, i), Buffer.from(bad), t.subarray(i)])),
          contentType: JSON_TYPE,
        };
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(sample, fc.constantFrom(...LONE_SURROGATES)).map(([s, l]) => text('lone_surrogate', withFirstString(s, l))),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(sample, fc.constantFrom(...UNSAFE_NUMBERS)).map(([s, n]) => text('unsafe_number', withFirstNumber(s, n))),
    },
    { weight: 1, arbitrary: sample.map((s) => text('duplicate_key', withDuplicateKey(s))) },
    {
      weight: 1,
      arbitrary: fc.tuple(sample, fc.constantFrom(...WRONG_TYPES, null)).map(([s, t]) => text('wrong_content_type', JSON.stringify(s), t)),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(sample, fc.double({ min: 0.01, max: 0.99, noNaN: true })).map(([s, f]) => {
        const t = JSON.stringify(s);
        return text('truncated', t.slice(0, Math.max(1, Math.floor(t.length * f))));
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ minLength: 1, maxLength: 300 })
        .map((b) => ({ category: 'random_bytes' as const, bytes: b, contentType: JSON_TYPE })),
    },
    { weight: 1, arbitrary: fc.constant<HostileBody>({ category: 'empty', bytes: new Uint8Array(), contentType: JSON_TYPE }) },
  );
}

/** Path segment values: the valid one(s), random text, very long, bad percent-encoding, traversal. */
export function segmentArb(valid: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...valid) },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).map((s) => encodeURIComponent(s)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '%ff',
        '%',
        '%zz',
        '%00',
        '..%2f..%2fetc',
        '%2e%2e',
        'a%2Fb',
        '%c0%af',
        '%ed%a0%80',
        'x'.repeat(5000),
        '-1',
        '0',
        '1e3',
        '9007199254740993',
        '99999999999999999999',
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom(...valid).map((v) => `${v}%20`) },
  );
}

/** Query strings: the valid ones, random pairs, repeated keys, huge values, bad encoding. */
export function queryArb(valid: string[]): fc.Arbitrary<string> {
  const pair = fc.tuple(
    fc.constantFrom('since', 'limit', 'cursor', 'after_seq', 'event_type', 'issuer', 'subject', 'state', 'id', 'from', 'to', 'x'),
    fc.string({ maxLength: 20, unit: 'grapheme' }),
  );
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('', ...valid) },
    {
      weight: 3,
      arbitrary: fc
        .array(pair, { maxLength: 4 })
        .map((ps) => (ps.length ? `?${ps.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}` : '')),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '?limit=0',
        '?limit=-1',
        '?limit=1e3',
        '?limit=99999999999999999999',
        '?since=9007199254740993',
        '?since=-1',
        '?limit=1&limit=2',
        '?since=%ff',
        '?cursor=%',
        `?cursor=${'A'.repeat(10_000)}`,
        '?after_seq=1.5',
        '?event_type=nope',
        '?event_type=admin_auth_failed&event_type=nope',
        '?=',
        '?&&&',
        '?limit',
        '?__proto__=1',
        '?constructor=x',
      ),
    },
  );
}
