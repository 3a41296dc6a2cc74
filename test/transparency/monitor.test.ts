// The log monitor's verification: a whole log and only what is new since a verified head, against tiles and entry bundles copied from real authorities; every attack as a table row with its stable code.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { readCanonicalEntry } from '../../src/feeds/model.ts';
import { appendRevocations } from '../../src/log/store.ts';
import type { SigningKey } from '../../src/authority/crypto.ts';
import { leafHash, merkleTreeHash, EMPTY_ROOT } from '../../src/log/merkle.ts';
import { formatCheckpoint } from '../../src/transparency/checkpoint.ts';
import {
  MonitorFailure,
  monitorState,
  parseMonitorState,
  parseTrustedKey,
  verifyLog,
  type LogSource,
  type MonitorOptions,
  type VerifiedHead,
} from '../../src/transparency/monitor.ts';
import { parseVerifierKey, signNote } from '../../src/authority/signed-note.ts';
import { bundleLeafDigests } from '../../src/transparency/tile-format.ts';
import { entryBundle } from '../../src/transparency/tiles.ts';
import { createTestAuthority, testKey, type TestAuthority } from '../helpers/authority.ts';
import { forkedAuthority, logFilePaths, logFiles, publishAtSizes, revocationEntry, vkeyOf } from './helpers.ts';

/** The log's files as a source: answers like a static server (404, the byte bound), and records what was asked. */
function mapSource(files: Map<string, Buffer>): LogSource & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    get: async (path, maxBytes) => {
      asked.push(path);
      const body = files.get(path);
      if (!body) throw new MonitorFailure('http_error', `GET ${path} answered HTTP 404`, { status: 404 });
      if (body.length > maxBytes) throw new MonitorFailure('response_too_large', `GET ${path}: larger than ${maxBytes} bytes`);
      // A fresh copy, as a network read gives: the monitor hashes bundles in place.
      return Buffer.from(body);
    },
  };
}

const leafHashes = (a: TestAuthority, size: number) =>
  a.db.sqlite.prepare('SELECT leaf_hash FROM revocation_log WHERE idx < ? ORDER BY idx').pluck().all(size) as string[];
/** The head of the first `size` entries, by the reference RFC 6962 computation. */
const headAt = (a: TestAuthority, size: number, origin = `${a.sovereignId}/log`): VerifiedHead => ({
  origin,
  size,
  rootHash: `sha256:${merkleTreeHash(leafHashes(a, size))}`,
});
const keysOf = (a: TestAuthority): MonitorOptions['keys'] => ({ vkeys: [parseVerifierKey(vkeyOf(a))!], publicKeys: [] });

async function failure(promise: Promise<unknown>): Promise<MonitorFailure> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof MonitorFailure) return err;
    throw err;
  }
  throw new Error('the check passed');
}

/** A log of fewer than 256 entries built by hand from any bytes: one partial tile and bundle, signed by `key`. */
function handmadeLog(entries: Buffer[], key: SigningKey, origin = 'handmade.example/log', root?: string): Map<string, Buffer> {
  const leaves = entries.map((e) => leafHash(e));
  const text = formatCheckpoint({ origin, size: entries.length, rootHash: `sha256:${root ?? merkleTreeHash(leaves)}` });
  const files = new Map([['checkpoint', Buffer.from(signNote(text, origin, [key]))]]);
  if (entries.length > 0) {
    files.set(`tile/0/000.p/${entries.length}`, Buffer.from(leaves.join(''), 'hex'));
    files.set(
      `tile/entries/000.p/${entries.length}`,
      Buffer.concat(entries.flatMap((e) => [Buffer.from([e.length >> 8, e.length & 0xff]), e])),
    );
  }
  return files;
}
const entryBytes = (i: number, change: Record<string, unknown> = {}) =>
  Buffer.from(canonicalJson({ index: i, ...revocationEntry(i), ...change }));

describe('trusted keys', () => {
  it('a vkey or a base64 public key; anything else, or a vkey whose id does not match its key, is refused', () => {
    const a = createTestAuthority({ sovereignId: 'keys.example' });
    publishAtSizes(a, [1]);
    expect(parseTrustedKey(vkeyOf(a))).toEqual({ vkey: parseVerifierKey(vkeyOf(a)) });
    expect(parseTrustedKey(a.signingKey.publicKey)).toEqual({ publicKey: Buffer.from(a.signingKey.raw) });
    const vkey = vkeyOf(a);
    const [name, id, material] = [
      vkey.slice(0, vkey.indexOf('+')),
      vkey.split('+')[1]!,
      vkey.slice(vkey.indexOf('+', vkey.indexOf('+') + 1) + 1),
    ];
    const otherId = ((Number.parseInt(id, 16) + 1) >>> 0).toString(16).padStart(8, '0');
    for (const bad of [
      `${name}+${otherId}+${material}`,
      `sha256:${'0'.repeat(64)}`,
      'not a key',
      a.signingKey.publicKey.replace(/=$/, ''),
      '',
      `${name}+${id}`,
    ]) {
      expect(parseTrustedKey(bad), bad).toBeNull();
    }
  });
});

describe('a whole log, first check', () => {
  const a = createTestAuthority({ sovereignId: 'whole.example' });

  it.each([1, 2, 255, 256, 257, 511, 512, 513, 700])('size %i: every entry and tile rebuilt into the checkpoint root', async (size) => {
    publishAtSizes(a, [size]);
    const source = mapSource(await logFiles(a));
    const report = await verifyLog(source, { keys: keysOf(a), concurrency: 4, entryReader: readCanonicalEntry });
    expect(report).toMatchObject({
      entry_contents_checked: true,
      origin: 'whole.example/log',
      size,
      root_hash: headAt(a, size).rootHash,
      previous_size: null,
      consistency: 'first_check',
      new_entries: size,
      entries_checked: size,
      bundles_fetched: Math.ceil(size / 256),
      tiles_fetched: logFilePaths(size).filter((p) => p.startsWith('tile/') && !p.startsWith('tile/entries/')).length,
    });
    // Exactly the latest tree's files, each once.
    expect([...source.asked].sort()).toEqual(logFilePaths(size).sort());
    expect(report.checkpoint).toBe((await logFiles(a)).get('checkpoint')!.toString('utf8'));
  });

  it('the authority public key (taken under the checkpoint origin) and the expected origin', async () => {
    const files = await logFiles(a);
    await expect(
      verifyLog(mapSource(files), {
        keys: { vkeys: [], publicKeys: [Buffer.from(a.signingKey.raw)] },
        origin: 'whole.example/log',
        concurrency: 1,
      }),
    ).resolves.toMatchObject({ size: 700 });
  });

  it('a checkpoint cosigned by keys the monitor does not know (a witness) still verifies', async () => {
    const files = await logFiles(a);
    const note = files.get('checkpoint')!.toString('utf8');
    const text = note.slice(0, note.indexOf('\n\n') + 1);
    const witness = signNote(text, 'witness.example', [testKey('witness')]);
    files.set('checkpoint', Buffer.from(`${note}${witness.slice(witness.indexOf('\n\n') + 2)}`));
    await expect(verifyLog(mapSource(files), { keys: keysOf(a), concurrency: 2 })).resolves.toMatchObject({ size: 700 });
  });

  it('an empty log: nothing to fetch but the checkpoint, whose root must be the empty root', async () => {
    const empty = createTestAuthority({ sovereignId: 'empty.example' });
    publishAtSizes(empty, [0]);
    const source = mapSource(await logFiles(empty));
    expect(await verifyLog(source, { keys: keysOf(empty), concurrency: 2 })).toMatchObject({
      size: 0,
      root_hash: `sha256:${EMPTY_ROOT}`,
      entries_checked: 0,
      tiles_fetched: 0,
    });
    expect(source.asked).toEqual(['checkpoint']);
    const key = testKey('handmade');
    const wrong = await failure(
      verifyLog(mapSource(handmadeLog([], key, 'handmade.example/log', 'ab'.repeat(32))), {
        keys: { vkeys: [], publicKeys: [Buffer.from(key.raw)] },
        concurrency: 1,
      }),
    );
    expect(wrong.code).toBe('root_mismatch');
  });
});

describe('only what is new since a verified head', () => {
  let a: TestAuthority;
  let files: Map<string, Buffer>;
  beforeAll(async () => {
    a = createTestAuthority({ sovereignId: 'incremental.example' });
    publishAtSizes(a, [700]);
    files = await logFiles(a);
  });

  it('property: from any earlier size, the tiles prove consistency and only bundles from the previous edge are read', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 699 }), async (from) => {
        const source = mapSource(files);
        const report = await verifyLog(source, { keys: keysOf(a), previous: headAt(a, from), concurrency: 3 });
        const edge = Math.floor(from / 256);
        expect(report).toMatchObject({
          consistency: 'proved',
          previous_size: from,
          new_entries: 700 - from,
          entries_checked: 700 - edge * 256,
          bundles_fetched: 3 - edge,
        });
        const bundles = source.asked.filter((p) => p.startsWith('tile/entries/'));
        expect(bundles).toEqual(['tile/entries/000', 'tile/entries/001', 'tile/entries/002.p/188'].slice(edge));
      }),
      { numRuns: 40, seed: 7001 },
    );
  });

  it('the same head again: only the checkpoint is read', async () => {
    const source = mapSource(files);
    expect(await verifyLog(source, { keys: keysOf(a), previous: headAt(a, 700), concurrency: 3 })).toMatchObject({
      consistency: 'unchanged',
      entries_checked: 0,
      tiles_fetched: 0,
      bundles_fetched: 0,
    });
    expect(source.asked).toEqual(['checkpoint']);
  });

  it('a tree with level-1 and level-2 tiles (65,537 entries): first check, and from sizes on every tile edge', async () => {
    const big = createTestAuthority({ sovereignId: 'big.example' });
    publishAtSizes(big, [65_537]);
    const bigFiles = await logFiles(big);
    expect(await verifyLog(mapSource(bigFiles), { keys: keysOf(big), concurrency: 8 })).toMatchObject({
      size: 65_537,
      entries_checked: 65_537,
      tiles_fetched: 257 + 1 + 1,
    });
    for (const from of [1, 255, 256, 257, 65_535, 65_536, 40_000]) {
      const source = mapSource(bigFiles);
      const report = await verifyLog(source, { keys: keysOf(big), previous: headAt(big, from), concurrency: 8 });
      expect(report, String(from)).toMatchObject({ consistency: 'proved', entries_checked: 65_537 - Math.floor(from / 256) * 256 });
      expect(source.asked.filter((p) => p.startsWith('tile/entries/')).length).toBe(257 - Math.floor(from / 256));
    }
  }, 60_000);
});

describe('a misbehaving log: each attack has its code', () => {
  let a: TestAuthority;
  let files: Map<string, Buffer>;
  let atThree: Map<string, Buffer>;
  beforeAll(async () => {
    a = createTestAuthority({ sovereignId: 'attacked.example' });
    publishAtSizes(a, [3]);
    atThree = await logFiles(a);
    publishAtSizes(a, [300, 700]);
    files = await logFiles(a);
  });

  const forkedFiles = (size: number) => logFiles(forkedAuthority('attacked.example', size));

  /** Entry `index` now revokes another id: the same length, still a valid entry, not the one logged. */
  const retarget = (f: Map<string, Buffer>, bundle: string, index: number) => {
    const text = f.get(bundle)!.toString('latin1');
    const id = `"id":"00000000-0000-4000-8000-${String(index).padStart(12, '0')}"`;
    expect(text).toContain(id);
    f.set(bundle, Buffer.from(text.replace(id, id.replace(String(index), '999')), 'latin1'));
  };
  const flip = (bytes: Buffer, at: number) => {
    const copy = Buffer.from(bytes);
    copy[at]! ^= 0x01;
    return copy;
  };
  const note = () => files.get('checkpoint')!.toString('utf8');
  const noteText = () => note().slice(0, note().indexOf('\n\n') + 1);

  type Row = [string, (f: Map<string, Buffer>) => Promise<void> | void, string, { previous?: () => VerifiedHead; origin?: string }?];
  const ROWS: Row[] = [
    ['a tampered entry (still a valid entry)', (f) => retarget(f, 'tile/entries/001', 300), 'root_mismatch'],
    [
      'a tampered entry, after a verified head',
      (f) => retarget(f, 'tile/entries/002.p/188', 650),
      'root_mismatch',
      { previous: () => headAt(a, 300) },
    ],
    [
      'a full level-0 tile that does not hash to the checkpoint',
      (f) => void f.set('tile/0/001', flip(f.get('tile/0/001')!, 100)),
      'tile_mismatch',
    ],
    [
      'a partial level-0 tile that does not hash to the checkpoint',
      (f) => void f.set('tile/0/002.p/188', flip(f.get('tile/0/002.p/188')!, 32 * 187)),
      'tile_mismatch',
    ],
    [
      'a level-1 tile that does not hash to the checkpoint',
      (f) => void f.set('tile/1/000.p/2', flip(f.get('tile/1/000.p/2')!, 40)),
      'tile_mismatch',
    ],
    [
      'a level-1 tile the consistency proof reads, after a verified head',
      (f) => void f.set('tile/1/000.p/2', flip(f.get('tile/1/000.p/2')!, 0)),
      'checkpoint_inconsistent',
      { previous: () => headAt(a, 300) },
    ],
    ['a truncated tile', (f) => void f.set('tile/0/000', f.get('tile/0/000')!.subarray(0, 8000)), 'tile_mismatch'],
    [
      'a tile longer than its width',
      (f) => void f.set('tile/0/002.p/188', Buffer.concat([f.get('tile/0/002.p/188')!, Buffer.alloc(32)])),
      'response_too_large',
    ],
    [
      'a checkpoint signed by another key under the same origin',
      (f) => void f.set('checkpoint', Buffer.from(signNote(noteText(), 'attacked.example/log', [testKey('impostor')]))),
      'checkpoint_signature',
    ],
    [
      'a checkpoint whose signature was altered',
      (f) => {
        const sig = note().lastIndexOf(' ') + 1;
        const bytes = Buffer.from(note().slice(sig).trim(), 'base64');
        bytes[10]! ^= 1;
        f.set('checkpoint', Buffer.from(`${note().slice(0, sig)}${bytes.toString('base64')}\n`));
      },
      'checkpoint_signature',
    ],
    [
      'a checkpoint whose tree size was changed after signing',
      (f) => void f.set('checkpoint', Buffer.from(note().replace('\n700\n', '\n701\n'))),
      'checkpoint_signature',
    ],
    ['bad bytes for a checkpoint', (f) => void f.set('checkpoint', Buffer.from([0xff, 0xfe, 0x00, 0x0a])), 'checkpoint_malformed'],
    [
      'a signed note that is no checkpoint',
      (f) =>
        void f.set('checkpoint', Buffer.from(signNote('attacked.example/log\nseven hundred\n', 'attacked.example/log', [a.signingKey]))),
      'checkpoint_malformed',
    ],
    ['another origin than expected', () => {}, 'origin_mismatch', { origin: 'elsewhere.example/log' }],
    [
      'a rollback: an older checkpoint than the head verified',
      (f) => {
        for (const [k, v] of atThree) {
          f.delete(k);
          f.set(k, v);
        }
      },
      'checkpoint_rollback',
      { previous: () => headAt(a, 300) },
    ],
    [
      'a fork: another root at the size verified',
      async (f) => void f.set('checkpoint', (await forkedFiles(300)).get('checkpoint')!),
      'checkpoint_inconsistent',
      { previous: () => headAt(a, 300) },
    ],
    [
      'a fork: a larger tree that does not extend the head verified',
      async (f) => {
        f.clear();
        for (const [k, v] of await forkedFiles(700)) f.set(k, v);
      },
      'checkpoint_inconsistent',
      { previous: () => headAt(a, 300) },
    ],
    [
      'a truncated entry bundle',
      (f) => void f.set('tile/entries/001', f.get('tile/entries/001')!.subarray(0, f.get('tile/entries/001')!.length - 10)),
      'bundle_malformed',
    ],
    [
      'an entry bundle cut at an entry boundary',
      (f) => void f.set('tile/entries/000', bundleWithout(f.get('tile/entries/000')!, 256, 1)),
      'bundle_malformed',
    ],
    [
      'an entry bundle with bytes after its entries',
      (f) => void f.set('tile/entries/002.p/188', Buffer.concat([f.get('tile/entries/002.p/188')!, Buffer.from([0, 2, 0x7b, 0x7d])])),
      'bundle_malformed',
    ],
    [
      'an entry bundle larger than any bundle can be',
      (f) => void f.set('tile/entries/000', Buffer.alloc(256 * 4098 + 1)),
      'response_too_large',
    ],
    [
      'bad bytes for an entry bundle',
      (f) => void f.set('tile/entries/001', Buffer.from('\xff'.repeat(5000), 'latin1')),
      'bundle_malformed',
    ],
  ];

  it.each(ROWS)('%s → %s', async (_name, tamper, code, opts = {}) => {
    const copy = new Map(files);
    await tamper(copy);
    const err = await failure(
      verifyLog(mapSource(copy), {
        keys: keysOf(a),
        concurrency: 4,
        ...(opts.previous ? { previous: opts.previous() } : {}),
        ...(opts.origin ? { origin: opts.origin } : {}),
      }),
    );
    expect(err.code, err.message).toBe(code);
    expect(err.logMisbehaved).toBe(true);
    // A checkpoint the trusted key signed goes with the failure as evidence; any other does not.
    const signed = !['checkpoint_signature', 'checkpoint_malformed'].includes(code);
    expect(err.details.checkpoint).toEqual(signed ? copy.get('checkpoint')!.toString('utf8') : undefined);
  });

  it('the tampered entry is named: its index and bundle', async () => {
    const copy = new Map(files);
    retarget(copy, 'tile/entries/001', 300);
    const err = await failure(verifyLog(mapSource(copy), { keys: keysOf(a), concurrency: 4 }));
    expect(err.details).toMatchObject({
      bundle: 'tile/entries/001',
      entry_index: 300,
      checkpoint_size: 700,
      checkpoint_root_hash: headAt(a, 700).rootHash,
    });
    expect(err.message).toMatch(/^entry 300 \(tile\/entries\/001\) does not hash to its leaf in the tiles/);
  });

  it('a missing tile or an unreachable file is not a verdict on the log: http_error, not a log failure', async () => {
    const copy = new Map(files);
    copy.delete('tile/0/001');
    const err = await failure(verifyLog(mapSource(copy), { keys: keysOf(a), concurrency: 4 }));
    expect(err.code).toBe('http_error');
    expect(err.logMisbehaved).toBe(false);
  });
});

/** A bundle of `width` entries with `drop` of its last entries removed. */
function bundleWithout(bundle: Buffer, width: number, drop: number): Buffer {
  const copy = Buffer.from(bundle);
  const leaves = bundleLeafDigests(copy, width);
  if (!leaves.ok) throw new Error(leaves.problem);
  return bundle.subarray(0, leaves.spans[2 * (width - drop) - 1]);
}

describe('with the content check, entries must be revocation entries at their index', () => {
  const key = testKey('handmade');
  const keys = { vkeys: [], publicKeys: [Buffer.from(key.raw)] };

  it('a well-formed handmade log verifies (non-ASCII incident labels included)', async () => {
    await expect(
      verifyLog(
        mapSource(
          handmadeLog(
            [0, 1, 2].map((i) => entryBytes(i)),
            key,
          ),
        ),
        { keys, concurrency: 1, entryReader: readCanonicalEntry },
      ),
    ).resolves.toMatchObject({ size: 3, entry_contents_checked: true });
  });

  it.each([
    ['an entry at the wrong index', [entryBytes(0), entryBytes(2)], /entry 1 carries "index": 2/],
    [
      'JSON that is not canonical',
      [
        entryBytes(0),
        Buffer.from(JSON.stringify({ kind: 'public_key', index: 1, id: 'x', reason: 'unspecified', revoked_at: '2026-03-01T00:00:00Z' })),
      ],
      /entry 1 is not the canonical JSON/,
    ],
    ['an unknown reason', [entryBytes(0, { reason: 'bored' })], /entry 0 is not the canonical JSON/],
    [
      'bytes that are not UTF-8',
      [Buffer.concat([entryBytes(0, { incident: 'x' }).subarray(0, -3), Buffer.from([0xc3, 0x22, 0x7d])])],
      /entry 0 is not UTF-8/,
    ],
    [
      'an entry longer than any revocation entry',
      [entryBytes(0), Buffer.from(`{"id":"${'a'.repeat(5000)}"}`), entryBytes(2)],
      /entry 1 is longer than 4096 bytes/,
    ],
  ] as const)('%s: entry_invalid', async (_name, entries, message) => {
    const err = await failure(
      verifyLog(mapSource(handmadeLog([...entries], key)), { keys, concurrency: 1, entryReader: readCanonicalEntry }),
    );
    expect(err.code).toBe('entry_invalid');
    expect(err.message).toMatch(message);
    // Without the content check only the hashes are checked, and they are right.
    await expect(verifyLog(mapSource(handmadeLog([...entries], key)), { keys, concurrency: 1 })).resolves.toMatchObject({
      entry_contents_checked: false,
    });
  });
});

describe('entry bundles: the server writes them, the monitor reads them', () => {
  const reference = (texts: string[]) =>
    Buffer.concat(texts.flatMap((t) => [Buffer.from([Buffer.byteLength(t) >> 8, Buffer.byteLength(t) & 0xff]), Buffer.from(t)]));

  it.each([
    ['with non-ASCII incident labels', (i: number) => revocationEntry(i)],
    ['all ASCII', (i: number) => ({ ...revocationEntry(i), incident: `incident ${i}` })],
  ])('entryBundle writes each JCS entry behind its uint16 length (%s); bundleLeafDigests hashes each into its leaf', (_name, entry) => {
    const a = createTestAuthority({ sovereignId: 'bundle.example' });
    a.db.sqlite.transaction(() =>
      appendRevocations(
        a.db.sqlite,
        Array.from({ length: 300 }, (_, i) => entry(i)),
      ),
    )();
    publishAtSizes(a, [300]);
    const bundle = entryBundle(a.db.sqlite, { level: 'entries', index: 1, width: 44 });
    const texts = a.db.sqlite.prepare('SELECT entry FROM revocation_log WHERE idx >= 256 ORDER BY idx').pluck().all() as string[];
    expect(bundle).toEqual(reference(texts));
    // The full bundle before it, stored when its tile was built.
    const full = a.db.sqlite.prepare('SELECT entry FROM revocation_log WHERE idx < 256 ORDER BY idx').pluck().all() as string[];
    expect(entryBundle(a.db.sqlite, { level: 'entries', index: 0, width: 256 })).toEqual(reference(full));
    const leaves = bundleLeafDigests(Buffer.from(bundle), 44);
    expect(leaves.ok && leaves.digests.map((d) => Buffer.from(d, 'latin1').toString('hex'))).toEqual(texts.map((t) => leafHash(t)));
    expect(bundleLeafDigests(Buffer.from(bundle), 45)).toMatchObject({ ok: false, entry: 44 });
    expect(bundleLeafDigests(Buffer.from(bundle), 43)).toMatchObject({ ok: false, entry: 43 });
  });
});

describe('the state file', () => {
  it('round-trips the verified head; anything else is refused with the reason', async () => {
    const a = createTestAuthority({ sovereignId: 'state.example' });
    publishAtSizes(a, [5]);
    const report = await verifyLog(mapSource(await logFiles(a)), { keys: keysOf(a), concurrency: 1 });
    const state = monitorState(report, 'http://127.0.0.1:1/log', '2026-03-01T00:00:00Z');
    expect(parseMonitorState(JSON.stringify(state))).toEqual({
      ok: true,
      state,
      head: { origin: 'state.example/log', size: 5, rootHash: report.root_hash },
    });
    expect(parseMonitorState('{')).toEqual({ ok: false, problem: 'not JSON' });
    expect(parseMonitorState(JSON.stringify({ ...state, size: -1 }))).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^size: /),
    });
    expect(parseMonitorState(JSON.stringify({ ...state, extra: 1 }))).toMatchObject({ ok: false });
    expect(parseMonitorState(JSON.stringify({ ...state, root_hash: 'sha256:ab' }))).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^root_hash: /),
    });
    expect(parseMonitorState(JSON.stringify({ ...state, extra: 1 }))).toEqual({ ok: false, problem: 'extra: not a field of the state' });
    expect(parseMonitorState(JSON.stringify({ ...state, version: 2 }))).toEqual({ ok: false, problem: 'version: must be 1' });
    expect(parseMonitorState(JSON.stringify([state]))).toEqual({ ok: false, problem: '(root): not an object' });
    const { checkpoint: _note, ...withoutNote } = state;
    expect(parseMonitorState(JSON.stringify(withoutNote))).toEqual({ ok: false, problem: 'checkpoint: must be a string' });
  });
});
