// The add-checkpoint request body (C2SP tlog-witness): property tests of the parser — it reads back what the grammar
// writes, never throws, and refuses every departure from the grammar — plus the spec's example body.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signingKeyFromSeed } from '../../src/authority/crypto.ts';
import { formatCheckpoint } from '../../src/transparency/checkpoint.ts';
import { signNote } from '../../src/authority/signed-note.ts';
import { formatAddCheckpointBody, MAX_PROOF_LINES, parseAddCheckpointBody } from '../../src/witness/request-body.ts';
import { seedFor } from '../helpers/authority.ts';

const SEED = 20261206;
const key = signingKeyFromSeed(seedFor('request body log'));

const originArb = fc.stringMatching(/^[a-z0-9.-]{1,20}\/[a-z0-9/-]{1,20}$/);
const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));
const sizeArb = fc.oneof(fc.nat(1000), fc.maxSafeNat());
const noteArb = fc
  .record({
    origin: originArb,
    size: sizeArb,
    root: hashArb,
    extension: fc.option(fc.stringMatching(/^[a-z][a-z0-9 -]{0,30}[a-z0-9]$/), { nil: undefined }),
  })
  .map((c) => {
    const text = formatCheckpoint({ origin: c.origin, size: c.size, rootHash: `sha256:${c.root.toString('hex')}` });
    const withExtension = c.extension ? `${text}${c.extension}\n` : text;
    return { ...c, note: signNote(withExtension, c.origin, [key]) };
  });
const requestArb = fc.record({ old: sizeArb, proof: fc.array(hashArb, { maxLength: MAX_PROOF_LINES }), checkpoint: noteArb });

describe('add-checkpoint body parser', () => {
  it('reads back exactly what the grammar writes', () => {
    fc.assert(
      fc.property(requestArb, ({ old, proof, checkpoint }) => {
        const parsed = parseAddCheckpointBody(Buffer.from(formatAddCheckpointBody(old, proof, checkpoint.note)));
        if ('problem' in parsed) throw new Error(parsed.problem);
        expect(parsed.old).toBe(old);
        expect(parsed.proof).toEqual(proof);
        expect(parsed.note).toBe(checkpoint.note);
        expect(parsed.checkpoint).toMatchObject({
          origin: checkpoint.origin,
          size: checkpoint.size,
          rootHash: `sha256:${checkpoint.root.toString('hex')}`,
        });
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('never throws on arbitrary bytes, and what it accepts re-encodes to the same bytes', () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.string({ maxLength: 300 }).map((s) => Buffer.from(s)),
      // Near misses: a valid body with a few bytes changed, inserted or removed.
      fc
        .tuple(requestArb, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('replace', 'insert', 'delete'))
        .map(([r, at, byte, how]) => {
          const b = Buffer.from(formatAddCheckpointBody(r.old, r.proof, r.checkpoint.note));
          const i = at % b.length;
          if (how === 'replace') b[i] = byte;
          if (how === 'insert') return Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
          if (how === 'delete') return Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
          return b;
        }),
    );
    fc.assert(
      fc.property(bytesArb, (bytes) => {
        const parsed = parseAddCheckpointBody(bytes);
        if ('problem' in parsed) return;
        // Accepted: the body is exactly the grammar's writing of what was read (one spelling per request).
        expect(Buffer.from(formatAddCheckpointBody(parsed.old, parsed.proof, parsed.note)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('refuses every departure from the grammar with the reason', () => {
    const cases: Array<
      [string, (r: fc.Arbitrary<{ old: number; proof: Buffer[]; note: string }>) => fc.Arbitrary<[string | Buffer, string]>]
    > = [
      [
        'a leading zero in old',
        (r) => r.map(({ old, proof, note }) => [formatAddCheckpointBody(old, proof, note).replace(/^old /, 'old 0'), 'old_line']),
      ],
      ['a sign', (r) => r.map(({ old, proof, note }) => [formatAddCheckpointBody(old, proof, note).replace(/^old /, 'old +'), 'old_line'])],
      ['"Old"', (r) => r.map(({ old, proof, note }) => [formatAddCheckpointBody(old, proof, note).replace(/^old/, 'Old'), 'old_line'])],
      [
        'a CR before a newline',
        (r) => r.map(({ old, proof, note }) => [formatAddCheckpointBody(old, proof, note).replace('\n', '\r\n'), 'old_line']),
      ],
      [
        'more than 63 proof lines',
        (r) =>
          r.map(({ old, note }) => [
            formatAddCheckpointBody(old, [], note).replace('\n\n', `\n${`${Buffer.alloc(32, 7).toString('base64')}\n`.repeat(64)}\n`),
            'too_many_proof_lines',
          ]),
      ],
      ['a 33-byte proof hash', (r) => r.map(({ old, note }) => [formatAddCheckpointBody(old, [Buffer.alloc(33)], note), 'proof_line'])],
      [
        'unpadded base64',
        (r) => r.map(({ old, note }) => [formatAddCheckpointBody(old, [Buffer.alloc(32, 1)], note).replace('=\n', '\n'), 'proof_line']),
      ],
      [
        'no blank line (note text without separator)',
        (r) => r.map(({ old }) => [`old ${old}\nnot-a-hash-and-no-blank-line`, 'no_blank_line']),
      ],
      [
        'a note without signature lines',
        (r) => r.map(({ old, note }) => [formatAddCheckpointBody(old, [], note.slice(0, note.lastIndexOf('\n\n') + 1)), 'malformed_note']),
      ],
    ];
    const base = requestArb.map((r) => ({ old: r.old, proof: r.proof, note: r.checkpoint.note }));
    for (const [name, make] of cases) {
      fc.assert(
        fc.property(make(base), ([text, problem]) => {
          expect(parseAddCheckpointBody(Buffer.from(text)), name).toEqual({ problem });
        }),
        { seed: SEED, numRuns: 50 },
      );
    }
  });

  it('reads the example body of the spec (c2sp.org/tlog-witness)', () => {
    const example = [
      'old 20852014',
      'PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=',
      'jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=',
      '5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=',
      '/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=',
      '',
      'example.com/behind-the-sofa',
      '20852163',
      'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=',
      '',
      '\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=',
      '\u2014 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=',
      '',
    ].join('\n');
    const parsed = parseAddCheckpointBody(Buffer.from(example));
    if ('problem' in parsed) throw new Error(parsed.problem);
    expect(parsed.old).toBe(20852014);
    expect(parsed.proof.map((h) => h.toString('base64'))).toEqual(example.split('\n').slice(1, 5));
    expect(parsed.checkpoint).toMatchObject({
      origin: 'example.com/behind-the-sofa',
      size: 20852163,
      rootHash: `sha256:${Buffer.from('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=', 'base64').toString('hex')}`,
    });
    expect(parsed.parsed.signatures).toHaveLength(2);
  });
});
