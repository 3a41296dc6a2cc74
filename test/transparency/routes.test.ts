// The /log routes: checkpoint and history, tiles and entry bundles with their caching, JSON proofs, entries by id, and every bad request.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { leafHash } from '../../src/log/merkle.ts';
import { parseCheckpoint } from '../../src/transparency/checkpoint.ts';
import { verifyConsistency, verifyInclusion } from '../../src/transparency/proofs.ts';
import { openNote, parseVerifierKey } from '../../src/authority/signed-note.ts';
import { createTestAuthority, dbDigest, type TestAuthority } from '../helpers/authority.ts';
import { errorCode, growLog, publishAtSizes, text, vkeyOf } from './helpers.ts';

const hex = (ref: string) => ref.replace(/^sha256:/, '');

describe('before anything is published', () => {
  it('the checkpoint, tiles and proofs answer 404 with stable codes', async () => {
    const a = createTestAuthority();
    growLog(a, 10);
    for (const [path, code] of [
      ['/log/checkpoint', 'checkpoint_not_found'],
      ['/log/checkpoints/1', 'checkpoint_not_found'],
      ['/log/tile/0/000.p/1', 'checkpoint_not_found'],
      ['/log/proof/inclusion?index=0', 'checkpoint_not_found'],
      ['/log/entries/00000000-0000-4000-8000-000000000001', 'checkpoint_not_found'],
    ] as const) {
      const res = await a.app.request(path);
      expect(res.status, path).toBe(404);
      expect(await errorCode(res), path).toBe(code);
    }
    expect(await (await a.app.request('/log/checkpoints')).json()).toEqual({ checkpoints: [], more: false });
  });
});

describe('a published log', () => {
  let a: TestAuthority;
  const SIZES = [0, 3, 300, 300, 700];

  beforeAll(() => {
    a = createTestAuthority({ sovereignId: 'routes.example' });
    publishAtSizes(a, SIZES);
    growLog(a, 720); // appended, not yet published
  });

  const verifier = () => parseVerifierKey(vkeyOf(a))!;

  it('GET /log/checkpoint: the latest signed note, text/plain, not cached beyond revalidation, with an ETag', async () => {
    const res = await a.app.request('/log/checkpoint');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const note = await text(res);
    const opened = openNote(note, [verifier()]);
    expect(opened.ok).toBe(true);
    const body = parseCheckpoint((opened as { text: string }).text)!;
    expect(body).toMatchObject({ origin: 'routes.example/log', size: 700 });
    const feed = JSON.parse(
      a.db.sqlite.prepare('SELECT body FROM published_feeds ORDER BY sequence DESC LIMIT 1').pluck().get() as string,
    ) as { log: { size: number; root_hash: string } };
    expect(feed.log).toEqual({ size: body.size, root_hash: body.rootHash });

    const again = await a.app.request('/log/checkpoint', { headers: { 'If-None-Match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('GET /log/checkpoints lists every checkpoint in order; /log/checkpoints/{n} serves each exactly, immutable', async () => {
    const list = (await (await a.app.request('/log/checkpoints')).json()) as {
      checkpoints: Array<{ sequence: number; size: number; root_hash: string; note: string; audit_head: { seq: number; hash: string } }>;
      more: boolean;
    };
    expect(list.checkpoints.map((c) => [c.sequence, c.size])).toEqual(SIZES.map((s, i) => [i + 1, s]));
    expect(list.more).toBe(false);
    const paged = (await (await a.app.request('/log/checkpoints?since=1&limit=2')).json()) as {
      checkpoints: Array<{ sequence: number }>;
      more: boolean;
    };
    expect(paged.checkpoints.map((c) => c.sequence)).toEqual([2, 3]);
    expect(paged.more).toBe(true);
    for (const c of list.checkpoints) {
      const res = await a.app.request(`/log/checkpoints/${c.sequence}`);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(await text(res)).toBe(c.note);
      expect(parseCheckpoint((openNote(c.note, [verifier()]) as { text: string }).text)).toMatchObject({
        size: c.size,
        rootHash: c.root_hash,
        auditHead: c.audit_head,
      });
    }
  });

  it('GET /log/keys: the origin and a vkey per signing key', async () => {
    expect(await (await a.app.request('/log/keys')).json()).toEqual({
      origin: 'routes.example/log',
      keys: [{ key_id: a.signingKey.keyId, vkey: vkeyOf(a), created_at: '2026-03-01T00:00:00Z', retired_at: null }],
    });
  });

  it('tiles: octet-stream; full ones immutable, partial ones briefly cacheable; only inside the latest checkpoint', async () => {
    const full = await a.app.request('/log/tile/0/001');
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('application/octet-stream');
    expect(full.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const bytes = Buffer.from(await full.arrayBuffer());
    expect(bytes.length).toBe(8192);
    const leaves = a.db.sqlite
      .prepare('SELECT leaf_hash FROM revocation_log WHERE idx >= 256 AND idx < 512 ORDER BY idx')
      .pluck()
      .all() as string[];
    expect(bytes.toString('hex')).toBe(leaves.join(''));

    const partial = await a.app.request('/log/tile/0/002.p/188');
    expect(partial.headers.get('cache-control')).toBe('public, max-age=60');
    expect(Buffer.from(await partial.arrayBuffer()).length).toBe(188 * 32);
    // A partial tile of an earlier checkpoint's size stays servable.
    expect((await a.app.request('/log/tile/0/001.p/44')).status).toBe(200);

    for (const path of [
      '/log/tile/0/002',
      '/log/tile/0/002.p/189',
      '/log/tile/1/000',
      '/log/tile/1/000.p/3',
      '/log/tile/entries/002.p/200',
      '/log/tile/7/000.p/1',
    ]) {
      const res = await a.app.request(path);
      expect(res.status, path).toBe(404);
      expect(await errorCode(res), path).toBe('tile_not_found');
    }
  });

  it('entry bundles: uint16-length-prefixed JCS entries whose leaf hashes are the level-0 tile', async () => {
    const res = await a.app.request('/log/tile/entries/002.p/188');
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    let data = Buffer.from(await res.arrayBuffer());
    const tile = Buffer.from(await (await a.app.request('/log/tile/0/002.p/188')).arrayBuffer());
    let i = 0;
    while (data.length > 0) {
      const length = data.readUInt16BE(0);
      const entry = data.subarray(2, 2 + length).toString('utf8');
      expect(canonicalJson(JSON.parse(entry))).toBe(entry);
      expect(JSON.parse(entry).index).toBe(512 + i);
      expect(leafHash(entry)).toBe(tile.subarray(32 * i, 32 * i + 32).toString('hex'));
      data = data.subarray(2 + length);
      i++;
    }
    expect(i).toBe(188);
    expect(Buffer.byteLength(await (await a.app.request('/log/tile/entries/000')).text())).toBeGreaterThan(256 * 2);
  });

  it('a full entry bundle missing from storage: 500 revocation_log_corrupt, never bytes framed some other way, and nothing changed', async () => {
    const b = createTestAuthority({ sovereignId: 'missing-bundle.example' });
    publishAtSizes(b, [600]);
    const whole = Buffer.from(await (await b.app.request('/log/tile/entries/001')).arrayBuffer());
    b.db.sqlite.prepare('DELETE FROM log_entry_bundles WHERE idx = 1').run();
    const before = dbDigest(b.db);
    const res = await b.app.request('/log/tile/entries/001');
    expect(res.status).toBe(500);
    expect(await errorCode(res)).toBe('revocation_log_corrupt');
    expect(dbDigest(b.db)).toBe(before);
    // The partial bundle of the same entries is framed from the log, the other full one still served.
    const partial = Buffer.from(await (await b.app.request('/log/tile/entries/001.p/255')).arrayBuffer());
    expect(whole.subarray(0, partial.length).equals(partial)).toBe(true);
    expect((await b.app.request('/log/tile/entries/000')).status).toBe(200);
  });

  it('an entry that is no JCS text (a raw newline in it) is in no bundle: 500 revocation_log_corrupt, nothing changed', async () => {
    const b = createTestAuthority({ sovereignId: 'newline.example' });
    publishAtSizes(b, [300]);
    b.db.sqlite.prepare("UPDATE revocation_log SET entry = replace(entry, ',', char(10)) WHERE idx = 280").run();
    const before = dbDigest(b.db);
    const res = await b.app.request('/log/tile/entries/001.p/44');
    expect(res.status).toBe(500);
    expect(await errorCode(res)).toBe('revocation_log_corrupt');
    expect(dbDigest(b.db)).toBe(before);
  });

  it.each([
    '/log/tile/01/000',
    '/log/tile/0/0',
    '/log/tile/0/x000/001',
    '/log/tile/0/000.p/256',
    '/log/tile/entries',
    '/log/tile/',
    '/log/tile/data/000',
  ])('a malformed tile path %s: 400 invalid_tile_path', async (path) => {
    const res = await a.app.request(path);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('invalid_tile_path');
  });

  it('GET /log/proof/inclusion proves a leaf into a checkpoint (size defaults to the latest)', async () => {
    for (const [index, size] of [
      [0, 3],
      [2, 3],
      [299, 300],
      [0, 700],
      [511, 700],
      [699, 700],
    ] as const) {
      const proof = (await (await a.app.request(`/log/proof/inclusion?index=${index}&size=${size}`)).json()) as {
        index: number;
        size: number;
        leaf_hash: string;
        root_hash: string;
        proof: string[];
      };
      const checkpoint = a.db.sqlite
        .prepare('SELECT root_hash FROM log_checkpoints WHERE tree_size = ? LIMIT 1')
        .pluck()
        .get(size) as string;
      expect(proof).toMatchObject({ index, size, root_hash: checkpoint });
      expect(verifyInclusion(hex(proof.leaf_hash), index, size, proof.proof.map(hex), hex(checkpoint))).toBe(true);
    }
    const latest = (await (await a.app.request('/log/proof/inclusion?index=5')).json()) as { size: number };
    expect(latest.size).toBe(700);
  });

  it('GET /log/proof/consistency proves an earlier checkpoint is a prefix of a later one', async () => {
    for (const [from, to] of [
      [3, 300],
      [3, 700],
      [300, 700],
      [700, 700],
      [1, 2],
    ] as const) {
      const proof = (await (await a.app.request(`/log/proof/consistency?from=${from}&to=${to}`)).json()) as {
        from_root_hash: string;
        to_root_hash: string;
        proof: string[];
      };
      expect(verifyConsistency(from, to, hex(proof.from_root_hash), hex(proof.to_root_hash), proof.proof.map(hex))).toBe(true);
    }
    const defaulted = (await (await a.app.request('/log/proof/consistency?from=300')).json()) as { to: number };
    expect(defaulted.to).toBe(700);
  });

  it('GET /log/entries/{id}: the entry, its index and a proof to the latest checkpoint; unpublished or unknown ids are 404', async () => {
    const id = '00000000-0000-4000-8000-000000000042';
    const body = (await (await a.app.request(`/log/entries/${id}`)).json()) as {
      id: string;
      checkpoint: { size: number; root_hash: string; note: string };
      entries: Array<{ index: number; entry: Record<string, unknown>; leaf_hash: string; proof: string[] }>;
    };
    expect(body.id).toBe(id);
    expect(body.entries).toHaveLength(1);
    const [e] = body.entries;
    expect(e).toMatchObject({ index: 42, entry: { id, index: 42 } });
    expect(hex(e!.leaf_hash)).toBe(leafHash(canonicalJson(e!.entry)));
    expect(openNote(body.checkpoint.note, [verifier()]).ok).toBe(true);
    expect(verifyInclusion(hex(e!.leaf_hash), 42, body.checkpoint.size, e!.proof.map(hex), hex(body.checkpoint.root_hash))).toBe(true);

    for (const missing of ['00000000-0000-4000-8000-000000000710', 'no-such-id', 'bad%20id']) {
      const res = await a.app.request(`/log/entries/${missing}`);
      expect(res.status, missing).toBe(404);
      expect(await errorCode(res)).toBe('log_entry_not_found');
    }
  });

  it.each([
    ['/log/proof/inclusion', 'invalid_query'],
    ['/log/proof/inclusion?index=abc', 'invalid_query'],
    ['/log/proof/inclusion?index=-1', 'invalid_query'],
    ['/log/proof/inclusion?index=01', 'invalid_query'],
    ['/log/proof/inclusion?index=1&extra=1', 'invalid_query'],
    ['/log/proof/inclusion?index=700', 'proof_range_invalid'],
    ['/log/proof/inclusion?index=3&size=3', 'proof_range_invalid'],
    ['/log/proof/inclusion?index=0&size=701', 'proof_range_invalid'],
    ['/log/proof/inclusion?index=0&size=0', 'proof_range_invalid'],
    ['/log/proof/consistency', 'invalid_query'],
    ['/log/proof/consistency?from=0', 'proof_range_invalid'],
    ['/log/proof/consistency?from=5&to=4', 'proof_range_invalid'],
    ['/log/proof/consistency?from=5&to=701', 'proof_range_invalid'],
    ['/log/proof/consistency?from=99999999999999999', 'invalid_query'],
    ['/log/checkpoints/0', 'invalid_sequence'],
    ['/log/checkpoints/x', 'invalid_sequence'],
    ['/log/checkpoints/99', 'checkpoint_not_found'],
    ['/log/checkpoints?limit=101', 'invalid_query'],
    ['/log/checkpoints?since=x', 'invalid_query'],
  ])('%s → %s, one error envelope, nothing changed', async (path, code) => {
    const before = dbDigest(a.db, []);
    const res = await a.app.request(path);
    expect(res.status).toBe(code === 'checkpoint_not_found' ? 404 : 422);
    const body = (await res.json()) as { error: { code: string; message: string; request_id: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.request_id).toBe(res.headers.get('x-request-id'));
    expect(dbDigest(a.db, [])).toBe(before);
  });

  it('property: any path under /log/tile/ answers 200, 400 or 404 — never a 5xx — and changes nothing', async () => {
    const before = dbDigest(a.db, []);
    const segment = fc.oneof(
      fc.constantFrom(
        '0',
        '1',
        '2',
        '6',
        '7',
        '63',
        '64',
        'entries',
        '000',
        '001',
        '002',
        'x000',
        'x001',
        '002.p',
        '188',
        '255',
        '256',
        '1.p',
        'p',
        '',
      ),
      fc.stringMatching(/^[x0-9.p]{1,6}$/),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 6 }), async (segments) => {
        const res = await a.app.request(`/log/tile/${segments.join('/')}`);
        expect([200, 400, 404]).toContain(res.status);
        if (res.status !== 200)
          expect(['invalid_tile_path', 'tile_not_found', 'not_found', 'non_canonical_path']).toContain(await errorCode(res));
      }),
      { numRuns: 400, seed: 20261205 },
    );
    expect(dbDigest(a.db, [])).toBe(before);
  });

  it('POST to a log route is 405 with Allow: GET', async () => {
    const res = await a.app.request('/log/checkpoint', { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
  });
});
