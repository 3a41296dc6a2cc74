// Hand-written inputs and expected outputs of the authority golden vectors (see generate-vectors.ts).

/** Fixed seeds (hex). gm-key-a/b are the Genesis Mesh conformance seeds (bytes 0..31 and 32..63). */
export const VECTOR_SEEDS = {
  'gm-key-a': {
    seed_hex: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    public_key: 'A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=',
  },
  'gm-key-b': {
    seed_hex: '202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f',
    public_key: 'Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=',
  },
  'authority-declaration': { seed_hex: '404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f', public_key: undefined },
  'admin-operator': { seed_hex: '606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f', public_key: undefined },
  'edge-signer': { seed_hex: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f', public_key: undefined },
} as const;

/** JCS cases: JSON text in, exact canonical text out (written by hand from RFC 8785). */
export const CANONICAL_CASES: Array<{ name: string; input: string; canonical: string }> = [
  {
    // RFC 8785 §3.2.3: property sorting by UTF-16 code units.
    name: 'rfc8785-sorting',
    input: String.raw`{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
    canonical:
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  },
  {
    // U+1F600 is D83D DE00 in UTF-16: it sorts before U+E000 and U+FB33, unlike code point order.
    name: 'astral-before-high-bmp',
    input: String.raw`{"\ufb33":3,"\ue000":2,"\ud83d\ude00":1,"z":0}`,
    canonical: '{"z":0,"\ud83d\ude00":1,"\ue000":2,"\ufb33":3}',
  },
  {
    name: 'non-ascii-strings',
    input: '{"name":"Zoë Ångström","city":"東京","emoji":"🛰"}',
    canonical: '{"city":"東京","emoji":"🛰","name":"Zoë Ångström"}',
  },
  {
    // Short escapes for \b \t \n \f \r, \u00xx (lowercase) for other controls, nothing else escaped.
    name: 'escapes-and-controls',
    input: String.raw`{"quote":"\"","backslash":"\\","slash":"\/","newline":"\n","tab":"\t","bs":"\b","ff":"\f","cr":"\r","nul":"\u0000","unit":"\u001F","del":"\u007f","ls":"\u2028"}`,
    canonical: `${String.raw`{"backslash":"\\","bs":"\b","cr":"\r","del":"`}\u007f${String.raw`","ff":"\f","ls":"`}\u2028${String.raw`","newline":"\n","nul":"\u0000","quote":"\"","slash":"/","tab":"\t","unit":"\u001f"}`}`,
  },
  {
    name: 'nested',
    input: '{"b":[{"z":1,"a":[]},{}],"a":{"d":{"c":null,"b":true,"a":false}}}',
    canonical: '{"a":{"d":{"a":false,"b":true,"c":null}},"b":[{"a":[],"z":1},{}]}',
  },
  {
    name: 'integers',
    input: '[0,-0,1,-1,9007199254740991,-9007199254740991,1E3,100,1.0]',
    canonical: '[0,0,1,-1,9007199254740991,-9007199254740991,1000,100,1]',
  },
  {
    name: 'empty-containers-and-strings',
    input: '{"c":"","b":{},"a":[]}',
    canonical: '{"a":[],"b":{},"c":""}',
  },
  {
    name: 'insignificant-whitespace',
    input: ' {\n  "b" : 1 ,\t"a" : [ 2 , 3 ] }\r\n',
    canonical: '{"a":[2,3],"b":1}',
  },
];

/** JSON texts whose values cannot be part of a signed object. */
export const REJECTED_CASES: Array<{ name: string; input: string }> = [
  { name: 'float', input: '{"a":1.5}' },
  { name: 'small-float', input: '[1e-7]' },
  { name: 'unsafe-integer', input: '{"n":9007199254740993}' },
  { name: 'overflow-to-infinity', input: '[1e400]' },
  { name: 'lone-high-surrogate-value', input: String.raw`{"s":"\ud800"}` },
  { name: 'lone-low-surrogate-key', input: String.raw`{"\udc00":1}` },
  { name: 'reversed-surrogate-pair', input: String.raw`["\ude00\ud83d"]` },
];

/** JSON texts with duplicate object keys (after unescaping), which the strict parser refuses. */
export const DUPLICATE_KEY_CASES: Array<{ name: string; input: string }> = [
  { name: 'plain', input: '{"a":1,"a":2}' },
  { name: 'escaped-equal', input: String.raw`{"a":1,"\u0061":2}` },
  { name: 'escaped-quote', input: String.raw`{"\"":1,"\u0022":2}` },
  { name: 'nested', input: '{"x":{"k":1,"k":1}}' },
  { name: 'inside-array', input: '[1,{"k":null,"j":0,"k":null}]' },
  { name: 'same-value', input: '{"k":"v","k":"v"}' },
];
