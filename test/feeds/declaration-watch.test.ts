// The declaration watch between real authorities on 127.0.0.1: an announced rotation is reported as such,
// an unannounced key change is a peer_key_changed event with both declarations kept, the pin never moves,
// polls follow the configured interval on the injected clock, and Genesis Mesh's /sovereign.json is read.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyKeyChange, checkPeerDeclaration, openKeyChanges, runDeclarationWatch } from '../../src/feeds/declaration-watch.ts';
import { pullPeer } from '../../src/feeds/pull.ts';
import { readDeclarations, readKeyChanges, readPeerWatch, type DeclaredKey } from '../../src/feeds/peer-watch-store.ts';
import { recognizedIssuer } from '../../src/treaties/recognition.ts';
import { issueTreaty } from '../../src/treaties/service.ts';
import { auditCount, testKey } from '../helpers/authority.ts';
import { ok } from '../helpers/http.ts';
import { listen, recognizeAndPeer, startNode, type Node } from './network.ts';

const GM_SAMPLES = path.resolve(import.meta.dirname, '../../../shared/gm-samples');
const gmSample = (name: string) => fs.readFileSync(path.join(GM_SAMPLES, name), 'utf8');
const gmKeys = () => JSON.parse(gmSample('keys.json')) as { sovereigns: Record<string, { public_key: string }> };

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function node(id: string): Promise<Node> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `accord-watch-${id}-`));
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

function audits(n: Node, type: string): Array<{ actor: { type: string }; details: Record<string, any> }> {
  return (
    n.db.sqlite.prepare('SELECT canonical FROM audit_events WHERE event_type = ? ORDER BY seq').all(type) as Array<{ canonical: string }>
  ).map((r) => JSON.parse(r.canonical));
}

describe('classifying key changes', () => {
  const k = (id: string, notAfter?: string) => ({ key_id: id, public_key: `pk-${id}`, ...(notAfter ? { not_after: notAfter } : {}) });
  const never = () => false;

  type Row = [string, DeclaredKey[], DeclaredKey[], string[], boolean, { appeared?: string; disappeared?: string }];
  const rows: Row[] = [
    ['a key the pin already names appeared', [k('a'), k('b')], [k('a')], ['a', 'b'], false, { appeared: 'pinned' }],
    ['an unpinned key appeared with an overlap announced', [k('a', 'x'), k('b')], [k('a')], ['a'], true, { appeared: 'announced' }],
    [
      'an unpinned key replaced the pinned one, unannounced',
      [k('b')],
      [k('a')],
      ['a'],
      false,
      { appeared: 'unannounced', disappeared: 'unannounced' },
    ],
    ['an unpinned key left', [k('a')], [k('a'), k('b')], ['a'], false, { disappeared: 'unpinned' }],
  ];
  it.each(rows)('%s', (_name, declared, previous, pinned, rotationAnnounced, expected) => {
    const result = classifyKeyChange({ declared, previous, pinned: new Set(pinned), rotationAnnounced, retirementAnnounced: never });
    expect(result.appeared.map((c) => c.explanation)).toEqual(expected.appeared ? [expected.appeared] : []);
    expect(result.disappeared.map((c) => c.explanation)).toEqual(expected.disappeared ? [expected.disappeared] : []);
  });

  it('a pinned key that leaves after its announced end is announced', () => {
    const result = classifyKeyChange({
      declared: [k('b')],
      previous: [k('a', '2026-03-08T00:00:00Z'), k('b')],
      pinned: new Set(['a', 'b']),
      rotationAnnounced: false,
      retirementAnnounced: (id) => id === 'a',
    });
    expect(result.disappeared).toEqual([{ key_id: 'a', public_key: 'pk-a', explanation: 'announced' }]);
  });

  it('an unannounced change stays open while the declaration and the pin disagree about the key', () => {
    expect(openKeyChanges(['b'], new Set(['b']), new Set(['a']))).toEqual(['b']);
    expect(openKeyChanges(['b'], new Set(['b']), new Set(['b']))).toEqual([]);
    expect(openKeyChanges(['a'], new Set(['b']), new Set(['a']))).toEqual(['a']);
    expect(openKeyChanges(['a'], new Set(['a', 'b']), new Set(['a']))).toEqual([]);
  });
});

describe('declaration watch (accord/1 peers)', () => {
  it('an announced rotation is informational; an unannounced one is a key change with evidence, the pin kept, imports refused', async () => {
    const [north, south] = [await node('north'), await node('south')];
    await recognizeAndPeer(north, south);
    const k1 = south.signingKey;

    // First poll: the declaration matches the pin; stored once, nothing reported.
    const first = await checkPeerDeclaration(north.deps, 'south');
    expect(first).toMatchObject({ outcome: 'ok', declared_key_ids: [k1.keyId], pinned_key_ids: [k1.keyId], signed_by: [k1.keyId] });
    expect(first.change).toBeUndefined();
    expect((await checkPeerDeclaration(north.deps, 'south')).declaration_id).toBe(first.declaration_id);
    expect(readDeclarations(north.db.sqlite, 'south')).toHaveLength(1);

    // Planned rotation with an overlap: the new key appears signed by the pinned one, which carries not_after.
    const planned = await ok(south.admin('POST', '/admin/signing-keys/rotate', { overlap_days: 7 }), 201);
    const k2 = (planned.new_key as { key_id: string }).key_id;
    const announced = await checkPeerDeclaration(north.deps, 'south');
    expect(announced.change).toMatchObject({ kind: 'announced', appeared: [{ key_id: k2, explanation: 'announced' }], disappeared: [] });
    expect(announced.unresolved_keys).toEqual([]);
    expect(audits(north, 'peer_key_rotation_announced')).toHaveLength(1);
    expect(audits(north, 'peer_key_changed')).toHaveLength(0);
    expect(await metric(north, 'accord_peer_key_changes_total', { peer: 'south', kind: 'announced' })).toBe(1);
    expect(await metric(north, 'accord_peer_key_mismatch', { peer: 'south' })).toBe(0);

    // Emergency rotation (no overlap): both keys vanish, a third appears signed only by itself.
    const emergency = await ok(south.admin('POST', '/admin/signing-keys/rotate', { overlap_days: 0, reason: 'key_compromise' }), 201);
    const k3 = (emergency.new_key as { key_id: string; public_key: string }).key_id;
    const changed = await checkPeerDeclaration(north.deps, 'south');
    expect(changed.change?.kind).toBe('unannounced');
    expect(changed.change?.appeared).toEqual([expect.objectContaining({ key_id: k3, explanation: 'unannounced' })]);
    // k1 was pinned and had announced an end (not_after) in the previous declaration; k2 was never pinned.
    expect(changed.change?.disappeared.map((d) => [d.key_id, d.explanation]).sort()).toEqual(
      [
        [k1.keyId, 'announced'],
        [k2, 'unpinned'],
      ].sort(),
    );
    expect(changed.unresolved_keys).toEqual([k3]);
    const [event] = audits(north, 'peer_key_changed');
    expect(event!.actor.type).toBe('system');
    expect(event!.details).toMatchObject({
      peer: 'south',
      declaration_id: changed.declaration_id,
      previous_declaration_id: announced.declaration_id,
    });
    // Both declarations are kept byte-exact as evidence.
    const kept = readDeclarations(north.db.sqlite, 'south');
    expect(kept.map((d) => d.id)).toContain(announced.declaration_id);
    expect(kept.find((d) => d.id === changed.declaration_id)!.body).toBe(
      await fetch(`${south.url}/.well-known/network-authority`).then((r) => r.text()),
    );
    expect(readKeyChanges(north.db.sqlite, 'south').map((c) => c.kind)).toEqual(['announced', 'unannounced']);
    expect(await metric(north, 'accord_peer_key_changes_total', { peer: 'south', kind: 'unannounced' })).toBe(1);
    expect(await metric(north, 'accord_peer_key_mismatch', { peer: 'south' })).toBe(1);

    // The pin is unchanged and nothing is accepted from the new key: its feed is refused.
    expect(recognizedIssuer(north.db.sqlite, 'south', north.clock()).keys.map((k) => k.keyId)).toEqual([k1.keyId]);
    await ok(south.admin('POST', '/admin/revocation-feeds/publish', { heartbeat: true }));
    const pulled = await pullPeer(north.deps, 'south', { force: true });
    expect(pulled).toMatchObject({ outcome: 'failed', reason: 'invalid_signature', imported: 0 });
    expect(await metric(north, 'accord_peer_import_rejections_total', { peer: 'south', reason: 'invalid_signature' })).toBe(1);

    // The next poll with nothing new reports nothing new, but the mismatch stays open.
    const again = await checkPeerDeclaration(north.deps, 'south');
    expect(again.change).toBeUndefined();
    expect(again.unresolved_keys).toEqual([k3]);
    expect(audits(north, 'peer_key_changed')).toHaveLength(1);
  });

  it('polls each peer once per interval on the injected clock; a failing peer is recorded, never thrown', async () => {
    const [north, south, east] = [await node('north'), await node('south'), await node('east')];
    await recognizeAndPeer(north, south);
    await recognizeAndPeer(north, east);
    const interval = north.config.peerDeclarationIntervalSeconds;
    expect((await runDeclarationWatch(north.deps)).map((r) => [r.sovereign_id, r.outcome])).toEqual([
      ['east', 'ok'],
      ['south', 'ok'],
    ]);
    expect(await runDeclarationWatch(north.deps)).toEqual([]);
    await east.stop();
    north.clock.advance(interval - 1);
    expect(await runDeclarationWatch(north.deps)).toEqual([]);
    north.clock.advance(1);
    const polled = await runDeclarationWatch(north.deps);
    expect(polled.map((r) => [r.sovereign_id, r.outcome, r.reason])).toEqual([
      ['east', 'failed', 'unreachable'],
      ['south', 'ok', undefined],
    ]);
    expect(readPeerWatch(north.db.sqlite, 'east')!.declaration_error).toMatch(/^unreachable: /);
    expect(await metric(north, 'accord_peer_declaration_polls_total', { peer: 'east', outcome: 'unreachable' })).toBe(1);
  });

  it('a declaration signed by no declared or pinned key is a failed poll, not a key change', async () => {
    const north = await node('north');
    const stranger = testKey('stranger');
    const forged = {
      type: 'network_authority_declaration',
      sovereign_id: 'west',
      public_keys: [{ key_id: stranger.keyId, public_key: stranger.publicKey }],
      signatures: [{ key_id: stranger.keyId, sig: `${'A'.repeat(86)}==` }],
    };
    const server = await listen(() => new Response(JSON.stringify(forged), { headers: { 'Content-Type': 'application/json' } }));
    stops.push(server.stop);
    issueTreaty(
      north.deps,
      {
        subject_sovereign_id: 'west',
        subject_public_keys: [testKey('west').publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24,
      },
      { label: 'ops', keyId: north.operator.key.keyId },
    );
    await ok(north.admin('POST', '/admin/peers', { sovereign_id: 'west', base_url: server.url }), 201);
    const check = await checkPeerDeclaration(north.deps, 'west');
    expect(check).toMatchObject({ outcome: 'failed', reason: 'invalid_signature' });
    expect(readDeclarations(north.db.sqlite, 'west')).toEqual([]);
    expect(auditCount(north.db, 'peer_key_changed')).toBe(0);
  });
});

describe('declaration watch (genesis-mesh peers)', () => {
  it("reads GM's /sovereign.json (real GM bytes): the pinned key is seen; another key is an unannounced change", async () => {
    const north = await node('north');
    let body = gmSample('north-sovereign.json');
    const feed = gmSample('feed-a-initial-seq0.json');
    const server = await listen((req) => {
      const { pathname } = new URL(req.url);
      if (pathname === '/sovereign.json') return new Response(body, { headers: { 'Content-Type': 'application/json' } });
      if (pathname === '/sovereign-revocation-feed') return new Response(feed, { headers: { 'Content-Type': 'application/json' } });
      return new Response('{}', { status: 404 });
    });
    stops.push(server.stop);
    const gmKey = gmKeys().sovereigns['GM-NORTH']!.public_key;
    issueTreaty(
      north.deps,
      {
        subject_sovereign_id: 'GM-NORTH',
        subject_public_keys: [gmKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24,
        profile: 'genesis-mesh',
      },
      { label: 'ops', keyId: north.operator.key.keyId },
    );
    await ok(north.admin('POST', '/admin/peers', { sovereign_id: 'GM-NORTH', base_url: server.url, profile: 'genesis-mesh' }), 201);
    const first = await checkPeerDeclaration(north.deps, 'GM-NORTH');
    expect(first).toMatchObject({ outcome: 'ok', profile: 'genesis-mesh', signed_by: [], unresolved_keys: [] });
    expect(first.change).toBeUndefined();
    const stored = readDeclarations(north.db.sqlite, 'GM-NORTH');
    expect(stored[0]!.body).toBe(body);
    expect(JSON.parse(stored[0]!.keys)).toEqual([expect.objectContaining({ public_key: gmKey, not_after: '2028-01-01T00:00:00Z' })]);

    // A verification pull reads GM's snapshot feed (real bytes) and checks its signature with the pinned key.
    const test = await ok(north.admin('POST', '/admin/peers/GM-NORTH/test-pull'));
    expect(test).toMatchObject({ verified: true, feeds: { latest_sequence: 0, checked: 1 }, declaration: { profile: 'genesis-mesh' } });

    // GM-NORTH now names another key (its validity window had not ended): unannounced.
    const other = gmKeys().sovereigns['GM-SOUTH']!.public_key;
    body = body.replace(gmKey, other);
    const changed = await checkPeerDeclaration(north.deps, 'GM-NORTH');
    expect(changed.change?.kind).toBe('unannounced');
    expect(changed.change?.appeared.map((a) => a.public_key)).toEqual([other]);
    expect(changed.change?.disappeared.map((a) => [a.public_key, a.explanation])).toEqual([[gmKey, 'unannounced']]);
    expect(await ok(north.admin('POST', '/admin/peers/GM-NORTH/test-pull'))).toMatchObject({
      verified: false,
      reason: 'key_change_unresolved',
    });
  });
});
