// Peer incident commands at the route level: every bad input gets its stable code and changes nothing;
// the verification pull's refusals; replay and out-of-window signals per peer; evidence bundles that fail
// verification when anything in them or their manifest is changed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import type { AppError } from '../../src/authority/errors.ts';
import { checkPeerDeclaration } from '../../src/feeds/declaration-watch.ts';
import { pullPeer } from '../../src/feeds/pull.ts';
import { buildReceipt } from '../../src/feeds/receipts.ts';
import { verifyEvidenceBundle } from '../../src/ops/peer-evidence.ts';
import { parseTrustAnchor } from '../../src/ops/checkpoint.ts';
import { issueTreaty } from '../../src/treaties/service.ts';
import { auditCount, dbDigest, testKey } from '../helpers/authority.ts';
import { ok } from '../helpers/http.ts';
import { listen, recognizeAndPeer, startNode, type Node } from '../feeds/network.ts';
import { recognize } from '../feeds/simulated-issuer.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function node(id: string): Promise<Node> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `accord-incident-${id}-`));
  const n = await startNode(id, { config: { dataDir } });
  stops.push(async () => {
    await n.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return n;
}

async function metric(n: Node, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await n.app.request('/metrics')).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** A small-order Ed25519 point (the identity), refused at the door. */
const SMALL_ORDER = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]).toString('base64');

describe('bad inputs: a stable code and nothing changed', () => {
  it.each([
    ['status of an unknown peer', 'GET', '/admin/peers/nobody/status', undefined, 404, 'peer_not_found'],
    ['contain an unknown peer', 'POST', '/admin/peers/nobody/contain', { reason: 'x' }, 404, 'peer_not_found'],
    ['contain without a reason', 'POST', '/admin/peers/south/contain', {}, 422, 'invalid_peer_request'],
    ['contain with an empty reason', 'POST', '/admin/peers/south/contain', { reason: '' }, 422, 'invalid_peer_request'],
    ['contain with a control character', 'POST', '/admin/peers/south/contain', { reason: 'a\u0007b' }, 422, 'invalid_peer_request'],
    ['contain with an unknown field', 'POST', '/admin/peers/south/contain', { reason: 'x', force: true }, 422, 'invalid_peer_request'],
    [
      'contain with a non-boolean flag',
      'POST',
      '/admin/peers/south/contain',
      { reason: 'x', revoke_treaties: 'yes' },
      422,
      'invalid_peer_request',
    ],
    [
      'contain with a bad incident label',
      'POST',
      '/admin/peers/south/contain',
      { reason: 'x', incident: 'a b' },
      422,
      'invalid_peer_request',
    ],
    ['contain with malformed JSON', 'POST', '/admin/peers/south/contain', '{"reason":', 400, 'malformed_json'],
    [
      'repin without confirmation',
      'POST',
      '/admin/peers/south/repin',
      { public_key: testKey('new').publicKey, confirm_out_of_band: false },
      422,
      'repin_not_confirmed',
    ],
    [
      'repin without the confirmation field',
      'POST',
      '/admin/peers/south/repin',
      { public_key: testKey('new').publicKey },
      422,
      'invalid_peer_request',
    ],
    [
      'repin with a malformed key',
      'POST',
      '/admin/peers/south/repin',
      { public_key: 'not-a-key', confirm_out_of_band: true },
      422,
      'malformed_public_key',
    ],
    [
      'repin with a small-order key',
      'POST',
      '/admin/peers/south/repin',
      { public_key: SMALL_ORDER, confirm_out_of_band: true },
      422,
      'small_order_public_key',
    ],
    [
      'repin with a negative overlap',
      'POST',
      '/admin/peers/south/repin',
      { public_key: testKey('new').publicKey, confirm_out_of_band: true, overlap_seconds: -1 },
      422,
      'invalid_peer_request',
    ],
    [
      'repin with an overlap over a year',
      'POST',
      '/admin/peers/south/repin',
      { public_key: testKey('new').publicKey, confirm_out_of_band: true, overlap_seconds: 366 * 86400 },
      422,
      'invalid_peer_request',
    ],
    [
      'repin to the key already pinned',
      'POST',
      '/admin/peers/south/repin',
      { public_key: 'SOUTH_KEY', confirm_out_of_band: true },
      409,
      'key_already_pinned',
    ],
    [
      'repin a peer never recognized',
      'POST',
      '/admin/peers/west/repin',
      { public_key: testKey('new').publicKey, confirm_out_of_band: true },
      409,
      'no_treaty_to_repin',
    ],
    ['evidence with an unknown field', 'POST', '/admin/peers/south/evidence', { reason: 'x', all: true }, 422, 'invalid_peer_request'],
    ['test pull with a body', 'POST', '/admin/peers/south/test-pull', { deep: true }, 422, 'invalid_peer_request'],
    ['test pull of an unknown peer', 'POST', '/admin/peers/nobody/test-pull', undefined, 404, 'peer_not_found'],
  ] as const)('%s → %s %s', async (_name, method, route, body, status, code) => {
    const [north, south] = [await node('north'), await node('south')];
    await recognizeAndPeer(north, south);
    await ok(north.admin('POST', '/admin/peers', { sovereign_id: 'west', base_url: 'http://127.0.0.1:9' }), 201);
    const sent =
      body && typeof body === 'object' && 'public_key' in body && body.public_key === 'SOUTH_KEY'
        ? { ...body, public_key: south.signingKey.publicKey }
        : body;
    const before = dbDigest(north.db);
    const audits = auditCount(north.db);
    const res = await north.admin(method, route, sent);
    const answer = (await res.json()) as { error?: { code: string } };
    expect(res.status, JSON.stringify(answer)).toBe(status);
    expect(answer.error?.code).toBe(code);
    expect(dbDigest(north.db)).toBe(before);
    expect(auditCount(north.db)).toBe(audits);
  });

  it('resume of a contained peer before a verified pull → 409 peer_not_verified, nothing changed; after one it resumes', async () => {
    const [north, south] = [await node('north'), await node('south')];
    await recognizeAndPeer(north, south);
    await ok(north.admin('POST', '/admin/peers/south/contain', { reason: 'drill' }));
    const before = dbDigest(north.db);
    const audits = auditCount(north.db);
    for (const route of ['/admin/peers/south/resume']) {
      const res = await north.admin('POST', route);
      expect(res.status).toBe(409);
      expect(((await res.json()) as { error: { code: string; details: Record<string, unknown> } }).error).toMatchObject({
        code: 'peer_not_verified',
        details: { sovereign_id: 'south', verified_pull_at: null },
      });
    }
    expect(dbDigest(north.db)).toBe(before);
    expect(auditCount(north.db)).toBe(audits);
    expect(await ok(north.admin('POST', '/admin/peers/south/test-pull'))).toMatchObject({ verified: true });
    expect(await ok(north.admin('POST', '/admin/peers/south/resume'))).toMatchObject({ paused: false, changed: true });
  });
});

describe('verification pull', () => {
  it('refuses without a pin, and while an unannounced key change is open; audited either way', async () => {
    const [north, south] = [await node('north'), await node('south')];
    await ok(north.admin('POST', '/admin/peers', { sovereign_id: 'south', base_url: south.url }), 201);
    expect(await ok(north.admin('POST', '/admin/peers/south/test-pull'))).toMatchObject({ verified: false, reason: 'not_recognized' });
    recognize(north, 'south', [south.signingKey]);
    await checkPeerDeclaration(north.deps, 'south');
    await ok(south.admin('POST', '/admin/signing-keys/rotate', { overlap_days: 0, reason: 'key_compromise' }), 201);
    const refused = await ok(north.admin('POST', '/admin/peers/south/test-pull'));
    expect(refused).toMatchObject({ verified: false, reason: 'key_change_unresolved', verified_pull_at: null });
    const events = north.db.sqlite
      .prepare("SELECT canonical FROM audit_events WHERE event_type = 'peer_test_pulled' ORDER BY seq")
      .all() as Array<{
      canonical: string;
    }>;
    expect(events.map((e) => JSON.parse(e.canonical).details.reason)).toEqual(['not_recognized', 'key_change_unresolved']);
    expect(JSON.parse(events[0]!.canonical).actor).toMatchObject({ type: 'operator', key_id: north.operator.key.keyId });
  });
});

describe('replay and out-of-window signals per peer', () => {
  it('counts a receipt sent again, a receipt from the future, and a peer serving an older latest feed', async () => {
    const [north, south] = [await node('north'), await node('south')];
    await recognizeAndPeer(south, north); // south pulls north and sends receipts
    recognize(north, 'south', [south.signingKey]); // north accepts south's receipts
    await ok(north.admin('POST', '/admin/revocation-feeds/publish', { heartbeat: true }));
    expect(await pullPeer(south.deps, 'north')).toMatchObject({ outcome: 'ok', receipt: 'sent' });
    const latest = (await (await fetch(`${north.url}/revocation-feeds/latest`)).json()) as { sequence: number };
    const again = buildReceipt(
      south.deps,
      'north',
      latest.sequence,
      north.db.sqlite.prepare('SELECT feed_hash FROM published_feeds WHERE sequence = ?').pluck().get(latest.sequence) as string,
    );
    const post = (body: unknown) =>
      fetch(`${north.url}/revocation-feeds/receipts`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: canonicalJson(body),
      });
    expect((await post(again)).status).toBe(200);
    expect(await metric(north, 'accord_peer_replayed_requests_total', { peer: 'south', kind: 'receipt_replayed' })).toBe(1);
    south.clock.advance(3600);
    const future = buildReceipt(south.deps, 'north', latest.sequence, again.feed_hash);
    south.clock.advance(-3600);
    expect((await post(future)).status).toBe(422);
    expect(await metric(north, 'accord_peer_replayed_requests_total', { peer: 'south', kind: 'receipt_out_of_window' })).toBe(1);

    // North publishes again; south imports it; then a relay in front of north serves the first feed as "latest".
    await ok(north.admin('POST', '/admin/revocation-feeds/publish', { heartbeat: true }));
    await pullPeer(south.deps, 'north', { force: true });
    const relay = await listen(async (req) => {
      const url = new URL(req.url);
      if (url.pathname === '/revocation-feeds/latest') return north.app.request('/revocation-feeds/1');
      return north.app.request(`${url.pathname}${url.search}`, {
        method: req.method,
        headers: req.headers,
        ...(req.method === 'POST' ? { body: await req.text() } : {}),
      });
    });
    stops.push(relay.stop);
    south.db.sqlite.prepare('UPDATE peers SET base_url = ? WHERE sovereign_id = ?').run(relay.url, 'north');
    await pullPeer(south.deps, 'north', { force: true });
    expect(await metric(south, 'accord_peer_replayed_requests_total', { peer: 'north', kind: 'feed_replayed' })).toBe(1);
  });

  it('counts rejected imports per peer by reason', async () => {
    const [north, south] = [await node('north'), await node('south')];
    // North pins a key south does not sign with: every pulled feed is rejected.
    issueTreaty(
      north.deps,
      {
        subject_sovereign_id: 'south',
        subject_public_keys: [testKey('other').publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24,
      },
      { label: 'ops', keyId: north.operator.key.keyId },
    );
    await ok(north.admin('POST', '/admin/peers', { sovereign_id: 'south', base_url: south.url }), 201);
    await ok(south.admin('POST', '/admin/revocation-feeds/publish', { heartbeat: true }));
    for (let i = 0; i < 3; i++) await pullPeer(north.deps, 'south', { force: true });
    expect(await metric(north, 'accord_peer_import_rejections_total', { peer: 'south', reason: 'invalid_signature' })).toBe(3);
  });
});

describe('evidence bundle verification', () => {
  it('fails when a line, the manifest, or the trusted key is wrong; a missing manifest is checkpoint_unreadable', async () => {
    const [north, south] = [await node('north'), await node('south')];
    await recognizeAndPeer(north, south);
    await ok(south.admin('POST', '/admin/revocation-feeds/publish', { heartbeat: true }));
    await pullPeer(north.deps, 'south');
    await checkPeerDeclaration(north.deps, 'south');
    const { bundle, manifest } = (await ok(north.admin('POST', '/admin/peers/south/evidence', { reason: 'audit' }))) as {
      bundle: string;
      manifest: Record<string, any>;
    };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-bundle-'));
    stops.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'b.jsonl');
    const write = (text: string, m: unknown = manifest) => {
      fs.writeFileSync(file, text);
      fs.writeFileSync(`${file}.manifest.json`, JSON.stringify(m));
    };
    const anchors = [parseTrustAnchor(north.signingKey.publicKey)];
    write(bundle);
    const good = verifyEvidenceBundle(file, { anchors });
    expect(good).toMatchObject({ ok: true, peer: 'south', counts: { declaration: 1, imported_feed: 1, peer: 1, treaty: 1 } });
    expect(good.audit.count).toBe(manifest.counts.audit_event);

    const lines = bundle.trim().split('\n');
    const feedLine = lines.findIndex((l) => l.includes('"record":"imported_feed"'));
    const tamperedFeed = lines.map((l, i) => (i === feedLine ? l.replace('"sequence":1', '"sequence":2') : l));
    write(`${tamperedFeed.join('\n')}\n`);
    expect(verifyEvidenceBundle(file, { anchors }).failures[0]).toMatch(/^manifest: file_sha256/);
    const dropped = lines.filter((_, i) => i !== lines.length - 2);
    write(`${dropped.join('\n')}\n`);
    expect(verifyEvidenceBundle(file, { anchors }).failures.join('\n')).toMatch(/manifest: counts/);
    const declLine = lines.findIndex((l) => l.includes('"record":"declaration"'));
    const forgedBody = lines.map((l, i) => (i === declLine ? l.replace('"protocol_version\\":1', '"protocol_version\\":2') : l));
    write(`${forgedBody.join('\n')}\n`, manifest);
    expect(verifyEvidenceBundle(file, { anchors }).failures.join('\n')).toMatch(/declaration \d+ does not hash to its body_hash/);
    write(bundle, { ...manifest, reason: 'edited' });
    expect(verifyEvidenceBundle(file, { anchors }).failures.join('\n')).toMatch(/manifest signature: signature does not verify/);
    write(bundle);
    expect(verifyEvidenceBundle(file, { anchors: [parseTrustAnchor(south.signingKey.publicKey)] }).ok).toBe(false);
    fs.rmSync(`${file}.manifest.json`);
    expect(() => verifyEvidenceBundle(file, { anchors })).toThrow(expect.objectContaining({ code: 'checkpoint_unreadable' }) as AppError);
  });
});
