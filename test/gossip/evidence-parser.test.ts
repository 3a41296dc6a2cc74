// Property tests (fast-check, fixed seed) of split-view evidence: the document parser reads back what it writes,
// in one order whatever the order sent, never throws, and refuses every extra or missing field; the judgement
// never calls two views of one honest tree a split view, and always catches a tree whose prefix differs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { parsePublicKey, signingKeyFromSeed } from '../../src/authority/crypto.ts';
import { signNote } from '../../src/authority/signed-note.ts';
import {
  evidenceDocument,
  evidenceText,
  judgeEvidence,
  parseEvidence,
  readEvidence,
  type SplitViewEvidence,
} from '../../src/gossip/evidence.ts';
import { leafHash, merkleTreeHash } from '../../src/log/merkle.ts';
import { formatCheckpoint } from '../../src/transparency/checkpoint.ts';
import { consistencyProof } from '../../src/transparency/proofs.ts';
import { seedFor } from '../helpers/authority.ts';

const SEED = 20261207;
const key = signingKeyFromSeed(seedFor('evidence parser log'));
const recognized = [(parsePublicKey(key.publicKey) as { ok: true; key: Parameters<typeof judgeEvidence>[1][number] }).key];

const originArb = fc.stringMatching(/^[a-z0-9.-]{1,16}\/log$/);
const hexArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const sizeArb = fc.oneof(fc.nat(5000), fc.maxSafeNat());
const noteOf = (origin: string, size: number, rootHex: string, extension?: string) =>
  signNote(`${formatCheckpoint({ origin, size, rootHash: `sha256:${rootHex}` })}${extension ? `${extension}\n` : ''}`, origin, [key]);

const documentArb = fc
  .record({
    origin: originArb,
    issuer: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,20}$/),
    a: fc.record({ size: sizeArb, root: hexArb, ext: fc.option(fc.stringMatching(/^[a-z][a-z0-9 -]{0,20}[a-z0-9]$/), { nil: undefined }) }),
    b: fc.record({ size: sizeArb, root: hexArb, ext: fc.option(fc.stringMatching(/^[a-z][a-z0-9 -]{0,20}[a-z0-9]$/), { nil: undefined }) }),
    proof: fc.array(hexArb, { maxLength: 128 }),
  })
  .map((d) => ({
    type: 'split_view_evidence',
    issuer_sovereign_id: d.issuer,
    checkpoints: [noteOf(d.origin, d.a.size, d.a.root, d.a.ext), noteOf(d.origin, d.b.size, d.b.root, d.b.ext)] as [string, string],
    consistency_proof: d.a.size === d.b.size ? [] : d.proof.map((h) => `sha256:${h}`),
  }));

const parse = (value: unknown) => parseEvidence(Buffer.from(JSON.stringify(value)));

describe('the evidence document parser', () => {
  it('reads back what it writes, in one order whatever the order sent; the hash names the evidence', () => {
    fc.assert(
      fc.property(documentArb, (doc) => {
        const parsed = parse(doc);
        if (!parsed.ok) throw new Error(`${parsed.problem} ${parsed.field ?? ''}`);
        const { evidence } = parsed;
        expect(evidence.first.body.size).toBeLessThanOrEqual(evidence.second.body.size);
        expect([evidence.first.note, evidence.second.note].sort()).toEqual([...doc.checkpoints].sort());
        expect(evidence.proof).toEqual(doc.consistency_proof);
        // The written form parses to the same evidence, and so does the same document with the notes swapped.
        const written = evidenceText(evidence);
        const reparsed = parseEvidence(Buffer.from(written.text));
        const swapped = parse({ ...doc, checkpoints: [doc.checkpoints[1], doc.checkpoints[0]] });
        if (!reparsed.ok || !swapped.ok) throw new Error('a written or swapped document did not parse');
        expect(evidenceText(reparsed.evidence).hash).toBe(written.hash);
        expect(evidenceText(swapped.evidence).hash).toBe(written.hash);
        expect(canonicalJson(evidenceDocument(reparsed.evidence))).toBe(written.text);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('refuses any field it does not know and any it lacks', () => {
    fc.assert(
      fc.property(
        documentArb,
        fc
          .string({ minLength: 1, maxLength: 12 })
          .filter((k) => !['type', 'issuer_sovereign_id', 'checkpoints', 'consistency_proof', '__proto__'].includes(k)),
        fc.constantFrom('type', 'issuer_sovereign_id', 'checkpoints', 'consistency_proof'),
        (doc, extra, drop) => {
          const more = parse({ ...doc, [extra]: 'x' });
          expect(more).toMatchObject({ ok: false, problem: 'unknown_field' });
          const { [drop]: _dropped, ...less } = doc as Record<string, unknown>;
          expect(parse(less)).toMatchObject({ ok: false, problem: 'missing_field', field: drop });
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('never throws on arbitrary input, and whatever it accepts writes back to a document it accepts again', () => {
    const jsonArb = fc.jsonValue({ maxDepth: 3 });
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      jsonArb.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      // Near misses: a valid document with a few bytes changed, inserted or removed.
      fc
        .tuple(documentArb, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('replace', 'insert', 'delete'))
        .map(([doc, at, byte, how]) => {
          const b = Buffer.from(JSON.stringify(doc));
          const i = at % b.length;
          if (how === 'replace') b[i] = byte;
          if (how === 'insert') return Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
          if (how === 'delete') return Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
          return b;
        }),
    );
    fc.assert(
      fc.property(bytesArb, (bytes) => {
        const parsed = parseEvidence(bytes);
        if (!parsed.ok) {
          expect(typeof parsed.problem).toBe('string');
          return;
        }
        const again = readEvidence(JSON.parse(evidenceText(parsed.evidence).text));
        expect(again.ok).toBe(true);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

// ---- The judgement against real trees.

const leavesArb = fc
  .array(fc.uint8Array({ minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 40 })
  .map((ls) => ls.map((l) => leafHash(l)));

/** The subtree hashes of a list of leaf hashes, for RFC 9162 proofs. */
const subtrees = (leaves: string[]) => (height: number, index: number) =>
  merkleTreeHash(leaves.slice(index * 2 ** height, (index + 1) * 2 ** height));
const isPowerOfTwo = (n: number) => (n & (n - 1)) === 0;

/** Evidence of the first `m` leaves of `small` and all of `large`, with the proof computed in `large` (the subtree root first for a power of two). */
function evidenceOf(small: string[], m: number, large: string[]): SplitViewEvidence {
  const origin = 'prop.example/log';
  const proof = consistencyProof(subtrees(large), m, large.length);
  const path = isPowerOfTwo(m) ? [merkleTreeHash(large.slice(0, m)), ...proof] : proof;
  const parsed = readEvidence({
    type: 'split_view_evidence',
    issuer_sovereign_id: 'prop',
    checkpoints: [noteOf(origin, m, merkleTreeHash(small.slice(0, m))), noteOf(origin, large.length, merkleTreeHash(large))],
    consistency_proof: path.map((h) => `sha256:${h}`),
  });
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.evidence;
}

describe('judging evidence', () => {
  it('two checkpoints of one honest log are never a split view; a smaller tree with another leaf always is', () => {
    fc.assert(
      fc.property(leavesArb, fc.nat(), fc.nat(), fc.uint8Array({ minLength: 9, maxLength: 9 }), (leaves, mSeed, changeSeed, other) => {
        const m = 1 + (mSeed % (leaves.length - 1));
        const honest = judgeEvidence(evidenceOf(leaves, m, leaves), recognized);
        expect(honest).toMatchObject({ ok: false, code: 'evidence_not_conflicting', details: { problem: 'consistent' } });
        // Another history of the first m leaves: one leaf replaced.
        const forked = [...leaves];
        forked[changeSeed % m] = leafHash(other);
        const split = judgeEvidence(evidenceOf(forked, m, leaves), recognized);
        expect(split).toMatchObject({ ok: true, problem: 'inconsistent', impliedRoot: `sha256:${merkleTreeHash(leaves.slice(0, m))}` });
      }),
      { seed: SEED, numRuns: 150 },
    );
  });
});
