// C2SP signed notes and checkpoints: the published examples, vkey parsing, the opening rules, and properties of the formats.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signingKeyFromSeed } from '../../src/authority/crypto.ts';
import { AUDIT_HEAD_EXTENSION, formatCheckpoint, parseCheckpoint } from '../../src/transparency/checkpoint.ts';
import {
  formatVerifierKey,
  noteKeyId,
  openNote,
  openNoteAsync,
  parseNote,
  parseVerifierKey,
  signNote,
  verifierFor,
} from '../../src/authority/signed-note.ts';
import { seedFor } from '../helpers/authority.ts';

// c2sp.org/signed-note, "Verifier keys" → "Example".
const C2SP_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const C2SP_NOTE =
  'This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

// golang.org/x/mod/sumdb/note's package documentation: a signer key (so signature bytes can be reproduced), its vkey and the signed note.
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

const key = signingKeyFromSeed(seedFor('note-key'));
const other = signingKeyFromSeed(seedFor('note-other'));

describe('published examples', () => {
  it('the C2SP signed-note example: vkey parses (key id 530d903a) and the note verifies under it', () => {
    const verifier = parseVerifierKey(C2SP_VKEY);
    expect(verifier).not.toBeNull();
    expect(verifier!.name).toBe('example.com/foo');
    expect(verifier!.keyId).toBe(0x530d903a);
    expect(noteKeyId('example.com/foo', verifier!.publicKey)).toBe(0x530d903a);
    expect(formatVerifierKey('example.com/foo', verifier!.publicKey)).toBe(C2SP_VKEY);
    const opened = openNote(C2SP_NOTE, [verifier!]);
    expect(opened).toMatchObject({ ok: true, text: 'This is an example message.\n' });
  });

  it('the C2SP example fails once a byte of its text or signature changes', () => {
    const verifier = parseVerifierKey(C2SP_VKEY)!;
    expect(openNote(C2SP_NOTE.replace('example message', 'example massage'), [verifier])).toMatchObject({
      ok: false,
      problem: 'invalid_signature',
    });
    expect(openNote(C2SP_NOTE.replace('Uw2QOkn8', 'Uw2QOkn9'), [verifier])).toMatchObject({ ok: false, problem: 'invalid_signature' });
  });

  it('signing the Go example text with its published key gives the published key id and signature bytes', () => {
    const [, , name, idHex, ...rest] = GO_SKEY.split('+') as [string, string, string, string, ...string[]];
    const material = rest.join('+');
    const bytes = Buffer.from(material, 'base64');
    expect(bytes[0]).toBe(0x01);
    const signer = signingKeyFromSeed(bytes.subarray(1));
    expect(noteKeyId(name, signer.raw).toString(16)).toBe(idHex);
    expect(formatVerifierKey(name, signer.raw)).toBe(GO_VKEY);
    expect(signNote(GO_TEXT, name, [signer])).toBe(GO_NOTE);
    expect(openNote(GO_NOTE, [parseVerifierKey(GO_VKEY)!])).toMatchObject({ ok: true, text: GO_TEXT });
  });
});

describe('verifier keys', () => {
  it('every truncation and every single-character change of a vkey is refused (as Go refuses them)', () => {
    for (let i = 0; i <= GO_VKEY.length; i++) {
      for (let j = i + 1; j <= GO_VKEY.length; j++) {
        if (i === 0 && j === GO_VKEY.length) continue;
        expect(parseVerifierKey(GO_VKEY.slice(i, j)), GO_VKEY.slice(i, j)).toBeNull();
      }
    }
    for (let i = 0; i < GO_VKEY.length; i++) {
      const changed = GO_VKEY.slice(0, i) + String.fromCharCode(GO_VKEY.charCodeAt(i) + 1) + GO_VKEY.slice(i + 1);
      expect(parseVerifierKey(changed), changed).toBeNull();
    }
  });

  it('refuses another signature type, a wrong-length key, names with spaces or plus, and small-order keys', () => {
    const raw = key.raw;
    const vkey = formatVerifierKey('na.example/log', raw);
    expect(parseVerifierKey(vkey)).toMatchObject({ name: 'na.example/log', keyId: noteKeyId('na.example/log', raw) });
    const [name, id] = vkey.split('+') as [string, string];
    expect(parseVerifierKey(`${name}+${id}+${Buffer.concat([Buffer.from([0x04]), raw]).toString('base64')}`)).toBeNull();
    expect(parseVerifierKey(`${name}+${id}+${Buffer.concat([Buffer.from([0x01]), raw, Buffer.from([0])]).toString('base64')}`)).toBeNull();
    const zero = Buffer.alloc(32);
    zero[0] = 1; // the identity point: small order
    expect(
      parseVerifierKey(
        `x+${noteKeyId('x', zero).toString(16).padStart(8, '0')}+${Buffer.concat([Buffer.from([1]), zero]).toString('base64')}`,
      ),
    ).toBeNull();
    expect(() => formatVerifierKey('has space', raw)).toThrow();
    expect(() => formatVerifierKey('a+b', raw)).toThrow();
    expect(() => formatVerifierKey('', raw)).toThrow();
  });
});

describe('opening notes', () => {
  const text = 'na.example/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
  const mine = verifierFor('na.example/log', key.raw);
  const theirs = verifierFor('na.example/log', other.raw);

  it('ignores signatures by unknown keys, and needs one by a known key', () => {
    const both = signNote(text, 'na.example/log', [other, key]);
    expect(openNote(both, [mine])).toMatchObject({ ok: true, text });
    expect(openNote(signNote(text, 'na.example/log', [other]), [mine])).toMatchObject({ ok: false, problem: 'no_known_signature' });
    // Same key, another name: a different key id, so unknown.
    expect(openNote(signNote(text, 'elsewhere/log', [key]), [mine])).toMatchObject({ ok: false, problem: 'no_known_signature' });
  });

  it('rejects the whole note when a known key’s signature fails, even if another known key verifies', () => {
    const note = signNote(text, 'na.example/log', [key, other]);
    const lines = note.split('\n');
    const last = lines[lines.length - 2]!;
    const sig = Buffer.from(last.slice(last.lastIndexOf(' ') + 1), 'base64');
    sig[20]! ^= 1;
    const bad = `${last.slice(0, last.lastIndexOf(' ') + 1)}${sig.toString('base64')}`;
    const tampered = [...lines.slice(0, -2), bad, ''].join('\n');
    expect(openNote(tampered, [mine, theirs])).toMatchObject({ ok: false, problem: 'invalid_signature' });
    expect(openNote(tampered, [mine])).toMatchObject({ ok: true });
  });

  it.each([
    ['no blank line', 'text\n\u2014 a AAAAAAA=\n'],
    ['no final newline', 'text\n\n\u2014 a AAAAAAA='],
    ['a control character', 'te\txt\n\n\u2014 a AAAAAAA=\n'],
    ['a signature line without the em dash', 'text\n\n- a AAAAAAA=\n'],
    ['a signature shorter than five bytes', 'text\n\n\u2014 a AAAA\n'],
    ['non-canonical base64', 'text\n\n\u2014 a AAAAAAB=\n'],
    ['an empty signature block', 'text\n\n'],
  ])('refuses a malformed note: %s', (_name, note) => {
    expect(parseNote(note)).toEqual({ problem: 'malformed_note' });
    expect(openNote(note, [mine])).toMatchObject({ ok: false, problem: 'malformed_note' });
  });

  it('refuses more signature lines than the limit', () => {
    const lines = Array.from({ length: 65 }, () => `\u2014 x AAAAAAA=\n`).join('');
    expect(parseNote(`t\n\n${lines}`)).toEqual({ problem: 'too_many_signatures' });
  });

  it('property: a signed note opens to its text; changing any one character of it never opens to other text', () => {
    const lineChar = fc.constantFrom(...'abcxyz019 ./:-é✓'.split(''));
    const textArb = fc
      .array(fc.string({ unit: lineChar, minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 5 })
      .map((ls) => `${ls.join('\n')}\n`);
    fc.assert(
      fc.property(textArb, fc.nat(), fc.integer({ min: 1, max: 0x7e }), (t, at, delta) => {
        const note = signNote(t, 'na.example/log', [key]);
        expect(openNote(note, [mine])).toEqual({ ok: true, text: t, verifiedBy: [mine] });
        const i = at % note.length;
        const changed = note.slice(0, i) + String.fromCharCode((note.charCodeAt(i) + delta) % 0x7f || 0x20) + note.slice(i + 1);
        if (changed === note) return;
        const opened = openNote(changed, [mine]);
        if (opened.ok) expect(opened.text).toBe(t);
      }),
      { numRuns: 300 },
    );
  });

  it('property: openNoteAsync (signatures checked on the thread pool) answers exactly as openNote', async () => {
    const lineChar = fc.constantFrom(...'abcxyz019 ./:-é✓'.split(''));
    const textArb = fc
      .array(fc.string({ unit: lineChar, minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 4 })
      .map((ls) => `${ls.join('\n')}\n`);
    const signers = fc.subarray([key, other], { minLength: 1 });
    await fc.assert(
      fc.asyncProperty(
        textArb,
        signers,
        fc.subarray([mine, theirs]),
        fc.nat(),
        fc.integer({ min: 0, max: 0x7e }),
        async (t, keys, known, at, delta) => {
          const note = signNote(t, 'na.example/log', keys);
          // Unchanged (delta 0) or one character changed anywhere, signature lines included.
          const i = at % note.length;
          const changed =
            delta === 0 ? note : note.slice(0, i) + String.fromCharCode((note.charCodeAt(i) + delta) % 0x7f || 0x20) + note.slice(i + 1);
          expect(await openNoteAsync(changed, known)).toEqual(openNote(changed, known));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('checkpoint bodies', () => {
  const root = `sha256:${'c5'.repeat(32)}`;

  it('formats origin, size, base64 root and the audit-head extension line', () => {
    const text = formatCheckpoint({
      origin: 'na.example/log',
      size: 20852163,
      rootHash: root,
      auditHead: { seq: 42, hash: `sha256:${'0a'.repeat(32)}` },
    });
    expect(text).toBe(
      `na.example/log\n20852163\n${Buffer.from('c5'.repeat(32), 'hex').toString('base64')}\n${AUDIT_HEAD_EXTENSION} 42 sha256:${'0a'.repeat(32)}\n`,
    );
    expect(parseCheckpoint(text)).toEqual({
      origin: 'na.example/log',
      size: 20852163,
      rootHash: root,
      auditHead: { seq: 42, hash: `sha256:${'0a'.repeat(32)}` },
      extensions: [`${AUDIT_HEAD_EXTENSION} 42 sha256:${'0a'.repeat(32)}`],
    });
  });

  it('parses the C2SP tlog-checkpoint example body', () => {
    expect(parseCheckpoint('example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n')).toEqual({
      origin: 'example.com/behind-the-sofa',
      size: 20852163,
      rootHash: `sha256:${Buffer.from('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=', 'base64').toString('hex')}`,
      extensions: [],
    });
  });

  it.each([
    ['two lines', 'o\n1\n'],
    ['a leading zero', `o\n01\n${Buffer.alloc(32).toString('base64')}\n`],
    ['a negative size', `o\n-1\n${Buffer.alloc(32).toString('base64')}\n`],
    ['a short root', `o\n1\n${Buffer.alloc(31).toString('base64')}\n`],
    ['an empty extension line', `o\n1\n${Buffer.alloc(32).toString('base64')}\n\nx\n`],
    ['an empty origin', `\n1\n${Buffer.alloc(32).toString('base64')}\n`],
    ['no final newline', `o\n1\n${Buffer.alloc(32).toString('base64')}`],
  ])('refuses a malformed checkpoint: %s', (_name, text) => {
    expect(parseCheckpoint(text)).toBeNull();
  });

  it('property: format then parse gives back size, root and audit head', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
        (size, rootBytes, seq) => {
          const rootHash = `sha256:${Buffer.from(rootBytes).toString('hex')}`;
          const auditHead = seq === null ? null : { seq, hash: rootHash };
          const parsed = parseCheckpoint(formatCheckpoint({ origin: 'o/log', size, rootHash, auditHead }));
          expect(parsed).toMatchObject({ origin: 'o/log', size, rootHash });
          expect(parsed!.auditHead).toEqual(auditHead ?? undefined);
        },
      ),
    );
  });
});
