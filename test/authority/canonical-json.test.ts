// Canonical JSON (RFC 8785) for signed objects and the strict, duplicate-refusing JSON parser.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalBytes,
  canonicalJson,
  decodeUtf8Strict,
  numberSourceText,
  parseJsonStrict,
  referenceCanonicalJson,
  signableProblem,
} from '../../src/authority/canonical-json.ts';

describe('canonicalJson (JCS)', () => {
  it('orders keys by UTF-16 code units, not by code points', () => {
    // U+1F600 is D83D DE00 in UTF-16, so it sorts before U+E000 although its code point is larger.
    expect(canonicalJson({ '\ue000': 2, '\u{1F600}': 1, a: 0 })).toBe('{"a":0,"\u{1F600}":1,"\ue000":2}');
    expect(canonicalJson({ b: 1, B: 2, a: 3, '10': 4, '9': 5 })).toBe('{"10":4,"9":5,"B":2,"a":3,"b":1}');
  });

  it('writes non-ASCII characters as themselves and escapes only what JSON requires', () => {
    expect(canonicalJson({ s: 'Zoë 東京 🛰 \u2028 \u007f' })).toBe('{"s":"Zoë 東京 🛰 \u2028 \u007f"}');
    expect(canonicalJson('"\\/')).toBe('"\\"\\\\/"');
    expect(canonicalJson('\b\t\n\f\r')).toBe('"\\b\\t\\n\\f\\r"');
    expect(canonicalJson('\u0000\u0001\u001f')).toBe('"\\u0000\\u0001\\u001f"');
    expect(canonicalBytes({ s: 'ë' })).toEqual(Buffer.from('{"s":"ë"}', 'utf8'));
  });

  it('canonicalizes nested objects and arrays, keeping array order', () => {
    expect(canonicalJson({ z: [{ y: 1, x: [] }, {}, [3, 2]], a: { c: null, b: true } })).toBe(
      '{"a":{"b":true,"c":null},"z":[{"x":[],"y":1},{},[3,2]]}',
    );
  });

  it('writes integers plainly and -0 as 0', () => {
    expect(canonicalJson([0, -0, 7, -7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1e21 - 1e21 + 1000])).toBe(
      '[0,0,7,-7,9007199254740991,-9007199254740991,1000]',
    );
  });

  it.each([
    ['a float', { x: 1.5 }, 'integers'],
    ['a tiny float', [1e-7], 'integers'],
    ['an unsafe integer', { n: 2 ** 53 }, 'safe range'],
    ['a huge number', { n: 1e21 }, 'safe range'],
    ['NaN', [Number.NaN], 'integers'],
    ['Infinity', [Number.POSITIVE_INFINITY], 'integers'],
    ['a lone high surrogate in a value', { s: 'a\ud800' }, 'lone surrogate'],
    ['a lone low surrogate in a key', { '\udc00': 1 }, 'lone surrogate'],
    ['a reversed surrogate pair', ['\ude00\ud83d'], 'lone surrogate'],
    ['undefined in an object', { u: undefined }, 'undefined'],
    ['undefined at the top', undefined, 'undefined'],
    ['a Date', { d: new Date(0) }, 'plain object'],
    ['a bigint', { n: 1n }, 'bigint'],
    ['a function', { f: () => 1 }, 'function'],
  ])('refuses %s', (_name, value, why) => {
    expect(signableProblem(value)).toContain(why);
    expect(() => canonicalJson(value)).toThrow(expect.objectContaining({ code: 'non_canonical_value', status: 422 }));
  });

  it('accepts a proper surrogate pair', () => {
    expect(signableProblem({ '\u{1F600}': '\u{1F600}' })).toBeNull();
  });

  it('property: canonical form is a fixed point — canonicalJson(JSON.parse(canonicalJson(x))) === canonicalJson(x)', () => {
    const integerJson = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constant(null),
        fc.boolean(),
        fc.maxSafeInteger(),
        fc.string({ unit: 'grapheme', maxLength: 12 }),
        fc.string({ unit: 'binary', maxLength: 12 }),
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), tie('value'), { maxKeys: 5 }),
      ),
    })).value;
    fc.assert(
      fc.property(integerJson, (x) => {
        const once = canonicalJson(x);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
        expect(JSON.parse(once)).toEqual(JSON.parse(JSON.stringify(x)));
      }),
      { seed: 8785, numRuns: 100 },
    );
  });
});

describe('canonicalJson against the RFC 8785 reference package', () => {
  const integerJson = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.maxSafeInteger(),
      fc.constantFrom(0, -0, 1, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'grapheme' }),
      fc.array(tie('value'), { maxLength: 5 }),
      fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), tie('value'), { maxKeys: 6 }),
    ),
  })).value;

  it('produces the same bytes as canonicalize for every integer-only JSON value', () => {
    fc.assert(
      fc.property(integerJson, (value) => {
        expect(canonicalJson(value)).toBe(referenceCanonicalJson(value));
      }),
      { seed: 8785, numRuns: 2000 },
    );
  });

  it('rejects exactly what signableProblem rejects', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.oneof(fc.double(), fc.string({ unit: 'binary' }), fc.constant(undefined)), (base, extra) => {
        const value = { base, extra };
        const problem = signableProblem(value);
        if (problem) expect(() => canonicalJson(value)).toThrow(/cannot be canonicalized/);
        else expect(canonicalJson(value)).toBe(referenceCanonicalJson(value));
      }),
      { seed: 32, numRuns: 1000 },
    );
  });
});

describe('parseJsonStrict', () => {
  it('parses JSON like JSON.parse', () => {
    expect(parseJsonStrict('{"a":[1,{"b":null}],"c":"\\u0041"}')).toEqual({ a: [1, { b: null }], c: 'A' });
    expect(parseJsonStrict('"x"')).toBe('x');
    expect(parseJsonStrict(' 12 ')).toBe(12);
  });

  it.each([
    ['a plain duplicate', '{"a":1,"a":2}', 'a'],
    ['keys equal after unescaping', '{"a":1,"\\u0061":2}', 'a'],
    ['an escaped quote key twice', '{"\\"":1,"\\u0022":2}', '"'],
    ['a duplicate in a nested object', '{"x":{"k":1,"k":1}}', 'k'],
    ['a duplicate inside an array', '[1,{"k":null,"j":0,"k":null}]', 'k'],
    ['a duplicate after a value holding a look-alike', '{"a":"x,\\"a\\":1","b":1,"b":2}', 'b'],
    ['an astral key written two ways', '{"\u{1F600}":1,"\\ud83d\\ude00":2}', '\u{1F600}'],
  ])('refuses %s', (_name, text, key) => {
    expect(() => parseJsonStrict(text)).toThrow(expect.objectContaining({ code: 'malformed_json', status: 400, details: { key } }));
  });

  it('allows the same key in different objects and key-like strings in values', () => {
    expect(parseJsonStrict('{"a":{"a":1},"b":[{"a":1},{"a":2}]}')).toEqual({ a: { a: 1 }, b: [{ a: 1 }, { a: 2 }] });
    expect(parseJsonStrict('{"a":"\\"a\\":","b":["a","a"]}')).toEqual({ a: '"a":', b: ['a', 'a'] });
    expect(parseJsonStrict('{"a\\\\":1,"a":2}')).toEqual({ 'a\\': 1, a: 2 });
  });

  it('refuses malformed JSON and excessive nesting', () => {
    for (const bad of ['', '{', '{"a":1,}', "{'a':1}", '[1 2]', 'NaN', '{"a":01}', '"\t"']) {
      expect(() => parseJsonStrict(bad), bad).toThrow(expect.objectContaining({ code: 'malformed_json' }));
    }
    expect(() => parseJsonStrict(`${'['.repeat(65)}${']'.repeat(65)}`)).toThrow(
      expect.objectContaining({ code: 'malformed_json', details: { max_depth: 64 } }),
    );
    expect(parseJsonStrict(`${'['.repeat(64)}${']'.repeat(64)}`)).toBeTruthy();
  });

  it('property: agrees with JSON.parse on duplicate-free input', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), (value, pretty) => {
        const text = JSON.stringify(value, null, pretty ? 2 : undefined);
        expect(parseJsonStrict(text)).toEqual(JSON.parse(text));
      }),
      { seed: 4627, numRuns: 300 },
    );
  });

  it('integersOnly: refuses a number with a fraction or exponent even when its value is an integer', () => {
    for (const text of ['{"sequence":2.0}', '{"a":[1,2e0]}', '{"a":-0.0}', '{"a":1E+2}', '3.0']) {
      expect(() => parseJsonStrict(text, { integersOnly: true }), text).toThrow(
        expect.objectContaining({ code: 'non_canonical_number', status: 422 }),
      );
      expect(() => parseJsonStrict(text), text).not.toThrow();
    }
    expect(parseJsonStrict('{"a":"2.0","b\\"":-12,"c":[0,"1e5"]}', { integersOnly: true })).toEqual({ a: '2.0', 'b"': -12, c: [0, '1e5'] });
  });

  it('property: integersOnly accepts exactly the texts whose numbers are all written as integers', () => {
    const written = fc.oneof(
      fc.integer().map((n) => ({ text: String(n), integral: true })),
      fc.tuple(fc.integer({ min: -999, max: 999 }), fc.nat(99)).map(([a, b]) => ({ text: `${a}.${b}`, integral: false })),
      fc
        .tuple(fc.integer({ min: 1, max: 9 }), fc.constantFrom('e', 'E', 'e+', 'e-'), fc.nat(9))
        .map(([a, e, x]) => ({ text: `${a}${e}${x}`, integral: false })),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), written), { maxLength: 6 }), (pairs) => {
        const text = `{"list":[${pairs.map(([label, n]) => `{"label":${JSON.stringify(label)},"n":${n.text}}`).join(',')}]}`;
        const integral = pairs.every(([, n]) => n.integral);
        if (integral) expect(parseJsonStrict(text, { integersOnly: true })).toEqual(JSON.parse(text));
        else expect(() => parseJsonStrict(text, { integersOnly: true })).toThrow(expect.objectContaining({ code: 'non_canonical_number' }));
      }),
      { seed: 911, numRuns: 300 },
    );
  });
});

describe('parseJsonStrict keeps the text of numbers its value would not reproduce', () => {
  it('keeps 1.0, -0.0, 1e-07, 1E5 and integers beyond 2^53 as written, per container and key', () => {
    const value = parseJsonStrict('{"a":1.0,"b":[-0.0,1e-07,7],"c":{"d":9007199254740993,"e":12},"f":1E5,"g":0.5}') as Record<string, any>;
    expect(value).toEqual({ a: 1, b: [-0, 1e-7, 7], c: { d: 9007199254740992, e: 12 }, f: 100000, g: 0.5 });
    expect(numberSourceText(value, 'a')).toBe('1.0');
    expect(numberSourceText(value.b, 0)).toBe('-0.0');
    expect(numberSourceText(value.b, 1)).toBe('1e-07');
    expect(numberSourceText(value.c, 'd')).toBe('9007199254740993');
    expect(numberSourceText(value, 'f')).toBe('1E5');
    expect(numberSourceText(value, 'g')).toBe('0.5');
  });

  it('keeps nothing for plain integers, strings that look like numbers, or values built in code', () => {
    const value = parseJsonStrict('{"n":42,"m":-7,"z":0,"s":"1.0","k":{"1.0":3}}') as Record<string, any>;
    for (const key of ['n', 'm', 'z', 's']) expect(numberSourceText(value, key)).toBeUndefined();
    expect(numberSourceText(value.k, '1.0')).toBeUndefined();
    expect(numberSourceText({ a: 1 }, 'a')).toBeUndefined();
  });

  it('follows escaped keys and array positions after nested values', () => {
    const value = parseJsonStrict('{"x\\"y":[{"q":[1,2]},"s,]",[],2.50],"\u00e9":{"a":{}, "b":1.10}}') as Record<string, any>;
    expect(numberSourceText(value['x"y'], 3)).toBe('2.50');
    expect(numberSourceText(value.é, 'b')).toBe('1.10');
  });

  it('drops the text once the value is replaced', () => {
    const value = parseJsonStrict('{"w":1.0}') as Record<string, number>;
    expect(numberSourceText(value, 'w')).toBe('1.0');
    value.w = 2;
    expect(numberSourceText(value, 'w')).toBeUndefined();
  });

  it('property: every number keeps a text that reads back to its value', () => {
    const numberText = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => String(x)),
      fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
      fc.tuple(fc.integer({ min: -999, max: 999 }), fc.nat(99), fc.integer({ min: -30, max: 30 })).map(([i, f, e]) => `${i}.${f}e${e}`),
    );
    fc.assert(
      fc.property(fc.array(numberText, { minLength: 1, maxLength: 6 }), (texts) => {
        const parsed = parseJsonStrict(`[${texts.join(',')}]`) as number[];
        texts.forEach((text, i) => {
          const kept = numberSourceText(parsed, i) ?? String(parsed[i]);
          expect(Number(kept)).toBe(Number(text));
          if (numberSourceText(parsed, i) !== undefined) expect(kept).toBe(text);
        });
      }),
      { seed: 1007, numRuns: 300 },
    );
  });
});

describe('decodeUtf8Strict', () => {
  it('decodes UTF-8 and refuses invalid sequences instead of replacing them', () => {
    expect(decodeUtf8Strict(Buffer.from('Zoë', 'utf8'))).toBe('Zoë');
    expect(() => decodeUtf8Strict(Buffer.from([0x7b, 0xff, 0x7d]))).toThrow(expect.objectContaining({ code: 'malformed_json' }));
    // An encoded lone surrogate (CESU-style) is not UTF-8.
    expect(() => decodeUtf8Strict(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]))).toThrow(
      expect.objectContaining({ code: 'malformed_json' }),
    );
  });
});
