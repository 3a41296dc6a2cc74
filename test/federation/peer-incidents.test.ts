// A peer's key change and compromise between real authorities on 127.0.0.1 (one injected clock, jobs called
// directly), one test per runbook: (a) an unannounced key change, (b) an announced rotation with an overlap,
// (c) a compromise contained in one request with an evidence bundle that the real `accord audit-verify`
// accepts, (d) recovery: repin, verification pull, resume.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/authority/clock.ts';
import { verifySignedObject, parsePublicKey } from '../../src/authority/crypto.ts';
import { runDeclarationWatch } from '../../src/feeds/declaration-watch.ts';
import { pullPeer } from '../../src/feeds/pull.ts';
import { readDeclarations } from '../../src/feeds/peer-watch-store.ts';
import { recognizedIssuer } from '../../src/treaties/recognition.ts';
import { finished, start } from '../cli/run.ts';
import { dbDigest, T0 } from '../helpers/authority.ts';
import { ok } from '../helpers/http.ts';
import { listen, recognizeAndPeer, type Node } from '../feeds/network.ts';
import { createTestAuthority } from '../helpers/authority.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** Authorities sharing one clock, each with its own data directory (key rotation writes key files). */
async function federation(...ids: string[]): Promise<{ nodes: Node[]; clock: ReturnType<typeof fixedClock> }> {
  const clock = fixedClock(T0);
  const nodes: Node[] = [];
  for (const id of ids) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `accord-incident-${id}-`));
    const a = createTestAuthority({ sovereignId: id, config: { dataDir }, clock });
    const http = await listen(a.app.fetch);
    const n = Object.assign(a, {
      clock,
      url: http.url,
      stop: async () => {
        await http.stop();
        await a.close();
        a.db.close();
      },
    }) as Node;
    stops.push(async () => {
      await n.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    nodes.push(n);
  }
  return { nodes, clock };
}

async function metric(n: Node, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await n.app.request('/metrics')).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const auditTypes = (n: Node, type: string) =>
  (
    n.db.sqlite.prepare('SELECT canonical FROM audit_events WHERE event_type = ? ORDER BY seq').all(type) as Array<{ canonical: string }>
  ).map((r) => JSON.parse(r.canonical) as { actor: { type: string; key_id?: string }; details: Record<string, any> });
const imported = (n: Node, issuer: string) =>
  (
    n.db.sqlite.prepare('SELECT last_sequence FROM feed_issuers WHERE issuer_sovereign_id = ?').get(issuer) as
      | { last_sequence: number }
      | undefined
  )?.last_sequence ?? 0;
const pinned = (n: Node, peer: string) =>
  recognizedIssuer(n.db.sqlite, peer, n.clock())
    .keys.map((k) => k.keyId)
    .sort();

async function publish(n: Node): Promise<number> {
  return (await ok(n.admin('POST', '/admin/revocation-feeds/publish', { heartbeat: true }))).latest_sequence as number;
}

async function rotate(n: Node, overlapDays: number, reason = 'superseded'): Promise<{ key_id: string; public_key: string }> {
  return (await ok(n.admin('POST', '/admin/signing-keys/rotate', { overlap_days: overlapDays, reason }), 201)).new_key as {
    key_id: string;
    public_key: string;
  };
}

describe('peer key changes and compromise (runbooks as loopback federations)', () => {
  it('(a) an unannounced key change is detected within one declaration poll; the pin holds and the new key’s feeds are refused', async () => {
    const { nodes } = await federation('north', 'south');
    const [north, south] = nodes as [Node, Node];
    await recognizeAndPeer(north, south);
    await publish(south);
    expect((await pullPeer(north.deps, 'south')).outcome).toBe('ok');
    expect(imported(north, 'south')).toBe(1);
    expect((await runDeclarationWatch(north.deps))[0]).toMatchObject({ outcome: 'ok' });
    const k1 = south.signingKey.keyId;

    const k2 = await rotate(south, 0, 'key_compromise');
    await publish(south);
    north.clock.advance(north.config.peerDeclarationIntervalSeconds);
    const [poll] = await runDeclarationWatch(north.deps);
    // Both ends are open: a key north does not pin appeared, and the pinned key vanished without notice.
    expect(poll).toMatchObject({
      sovereign_id: 'south',
      outcome: 'ok',
      unresolved_keys: [k1, k2.key_id].sort(),
      change: { kind: 'unannounced' },
    });
    expect(auditTypes(north, 'peer_key_changed')).toHaveLength(1);
    expect(await metric(north, 'accord_peer_key_changes_total', { peer: 'south', kind: 'unannounced' })).toBe(1);
    expect(await metric(north, 'accord_peer_key_mismatch', { peer: 'south' })).toBe(1);
    expect(pinned(north, 'south')).toEqual([k1]);
    // Evidence: both declarations, the status shows the open mismatch.
    expect(readDeclarations(north.db.sqlite, 'south').map((d) => JSON.parse(d.keys).map((k: { key_id: string }) => k.key_id))).toEqual([
      [k1],
      [k2.key_id],
    ]);
    const status = await ok(north.admin('GET', '/admin/peers/south/status'));
    expect(status).toMatchObject({
      pin: { keys: [{ key_id: k1 }] },
      observed: { key_mismatch: true, unresolved_keys: [k1, k2.key_id].sort() },
    });
    // Feeds signed by the new key only are refused.
    const pulled = await pullPeer(north.deps, 'south', { force: true });
    expect(pulled).toMatchObject({ outcome: 'failed', reason: 'invalid_signature' });
    expect(imported(north, 'south')).toBe(1);
  });

  it('(b) an announced rotation with an overlap raises no alert; after the repin the new key alone is accepted', async () => {
    const { nodes, clock } = await federation('north', 'south');
    const [north, south] = nodes as [Node, Node];
    await recognizeAndPeer(north, south);
    await runDeclarationWatch(north.deps);
    const k1 = south.signingKey.keyId;

    const k2 = await rotate(south, 7);
    await publish(south);
    clock.advance(north.config.peerDeclarationIntervalSeconds);
    const [poll] = await runDeclarationWatch(north.deps);
    expect(poll?.change).toMatchObject({ kind: 'announced', appeared: [{ key_id: k2.key_id, explanation: 'announced' }] });
    expect(auditTypes(north, 'peer_key_changed')).toHaveLength(0);
    expect(auditTypes(north, 'peer_key_rotation_announced')).toHaveLength(1);
    expect(await metric(north, 'accord_peer_key_changes_total', { peer: 'south', kind: 'unannounced' })).toBe(0);
    expect(await metric(north, 'accord_peer_key_mismatch', { peer: 'south' })).toBe(0);
    // During the overlap feeds carry both signatures and keep importing with only k1 pinned.
    expect((await pullPeer(north.deps, 'south')).outcome).toBe('ok');

    const repin = await ok(
      north.admin('POST', '/admin/peers/south/repin', { public_key: k2.public_key, confirm_out_of_band: true, overlap_seconds: 7 * 86400 }),
    );
    expect(repin).toMatchObject({ key_id: k2.key_id, previous_key_ids: [k1], overlap: { key_ids: [k1] } });
    expect(pinned(north, 'south')).toEqual([k1, k2.key_id].sort());

    // The overlap ends: south retires k1 and signs with k2 alone; north accepts it (k1's treaty has ended too).
    clock.advance(8 * 86400);
    await ok(south.admin('POST', '/admin/signing-keys/retire', {}));
    const sequence = await publish(south);
    const feed = (await (await fetch(`${south.url}/revocation-feeds/latest`)).json()) as { signatures: Array<{ key_id: string }> };
    expect(feed.signatures.map((s) => s.key_id)).toEqual([k2.key_id]);
    expect(pinned(north, 'south')).toEqual([k2.key_id]);
    expect(await pullPeer(north.deps, 'south', { force: true })).toMatchObject({ outcome: 'ok', imported_sequence: sequence });
    const [later] = await runDeclarationWatch(north.deps);
    // k1 left the declaration after its overlap, when north no longer pinned it: nothing to report.
    expect(later).toMatchObject({ outcome: 'ok', declared_key_ids: [k2.key_id], pinned_key_ids: [k2.key_id], unresolved_keys: [] });
    expect(later?.change).toBeUndefined();
    expect(auditTypes(north, 'peer_key_changed')).toHaveLength(0);
  });

  it('(c) contain leaves the peer paused, our treaties revoked and published, and a verifiable evidence bundle; (d) repin, verification pull, resume', async () => {
    const { nodes, clock } = await federation('north', 'south', 'east');
    const [north, south, east] = nodes as [Node, Node, Node];
    const treatyId = await recognizeAndPeer(north, south);
    await recognizeAndPeer(east, north);
    await publish(south);
    await pullPeer(north.deps, 'south');
    await runDeclarationWatch(north.deps);
    await publish(north);
    await pullPeer(east.deps, 'north');

    // South's key leaks; its operator rotates at once. North sees the unannounced change and contains south.
    const k2 = await rotate(south, 0, 'key_compromise');
    await publish(south);
    clock.advance(north.config.peerDeclarationIntervalSeconds);
    await runDeclarationWatch(north.deps);
    const contained = await ok(
      north.admin('POST', '/admin/peers/south/contain', { reason: 'south signing key leaked', revoke_treaties: true, incident: 'INC-7' }),
    );
    expect(contained).toMatchObject({
      sovereign_id: 'south',
      paused: { changed: true },
      revoked_treaties: [{ treaty_id: treatyId }],
      publication: { published: true },
    });
    const status = await ok(north.admin('GET', '/admin/peers/south/status'));
    expect(status).toMatchObject({
      pause: { paused: true, reason: 'contained' },
      containment: { contained: true, verification_required: true },
      pin: { keys: [] },
    });
    expect((await pullPeer(north.deps, 'south', { force: true })).outcome).toBe('skipped');
    // Every step is audited with the operator as actor.
    for (const type of [
      'feed_issuer_paused',
      'recognition_treaty_revoked',
      'peer_contained',
      'revocation_feed_published',
      'peer_evidence_exported',
    ]) {
      const events = auditTypes(north, type);
      expect(events.at(-1)?.actor, type).toMatchObject({ type: 'operator', key_id: north.operator.key.keyId });
    }
    // Published at once: east imports north's feed carrying the revocation of the treaty.
    const latest = (await (await fetch(`${north.url}/revocation-feeds/latest`)).json()) as {
      entries: Array<{ id: string; reason: string }>;
    };
    expect(latest.entries).toContainEqual(expect.objectContaining({ id: treatyId, reason: 'key_compromise' }));
    expect((await pullPeer(east.deps, 'north', { force: true })).outcome).toBe('ok');
    expect(
      east.db.sqlite.prepare('SELECT reason FROM imported_revocations WHERE issuer_sovereign_id = ? AND id = ?').get('north', treatyId),
    ).toEqual({
      reason: 'key_compromise',
    });

    // The evidence bundle: the real `accord audit-verify` accepts it under north's key, and the manifest signature checks.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-evidence-'));
    stops.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const evidence = contained.evidence as { bundle: string; manifest: Record<string, any> };
    const file = path.join(dir, 'south.evidence.jsonl');
    fs.writeFileSync(file, evidence.bundle);
    fs.writeFileSync(`${file}.manifest.json`, JSON.stringify(evidence.manifest));
    expect(evidence.manifest.counts).toMatchObject({ declaration: 2, key_change: 1, imported_feed: 1, treaty: 1 });
    const kinds = evidence.bundle
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l) as { record?: string; event_type?: string });
    expect(kinds.filter((k) => k.event_type === 'peer_contained')).toHaveLength(1);
    expect(kinds.filter((k) => k.event_type === 'peer_key_changed')).toHaveLength(1);
    const northKey = parsePublicKey(north.signingKey.publicKey);
    expect(northKey.ok && verifySignedObject(evidence.manifest, [northKey.key]).valid).toBe(true);
    const verified = await finished(start(['audit-verify', file, '--public-key', north.signingKey.publicKey], {}));
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({
      ok: true,
      kind: 'peer_evidence_bundle',
      peer: 'south',
      manifest: { signature: { status: 'valid' } },
    });
    // A changed byte is caught, and so is a key that is not north's.
    fs.writeFileSync(file, evidence.bundle.replace('south signing key leaked', 'south signing key LEAKED'));
    expect((await finished(start(['audit-verify', file, '--public-key', north.signingKey.publicKey], {}))).code).toBe(1);
    fs.writeFileSync(file, evidence.bundle);
    expect((await finished(start(['audit-verify', file, '--public-key', south.signingKey.publicKey], {}))).code).toBe(1);

    // (d) Recovery. Resume is refused before a verified pull, and changes nothing.
    const before = dbDigest(north.db);
    const refused = await north.admin('POST', '/admin/peers/south/resume');
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('peer_not_verified');
    expect(dbDigest(north.db)).toBe(before);
    // The new key, confirmed with south's operator out of band, is pinned by a new treaty (the old one was revoked).
    const repin = await ok(north.admin('POST', '/admin/peers/south/repin', { public_key: k2.public_key, confirm_out_of_band: true }));
    expect(repin).toMatchObject({ key_id: k2.key_id, issued: [expect.any(String)], superseded: [], unresolved_keys: [] });
    expect(await metric(north, 'accord_peer_key_mismatch', { peer: 'south' })).toBe(0);
    const test = await ok(north.admin('POST', '/admin/peers/south/test-pull'));
    expect(test).toMatchObject({ verified: true, feeds: { checked: 2, signed_by: [k2.key_id] } });
    expect(imported(north, 'south')).toBe(1); // a verification pull imports nothing
    const resumed = await ok(north.admin('POST', '/admin/peers/south/resume'));
    expect(resumed).toMatchObject({ paused: false, changed: true });
    expect(auditTypes(north, 'peer_containment_lifted')).toHaveLength(1);
    expect(await pullPeer(north.deps, 'south', { force: true })).toMatchObject({ outcome: 'ok', imported_sequence: 2 });
    expect(await ok(north.admin('GET', '/admin/peers/south/status'))).toMatchObject({
      pause: { paused: false },
      containment: { contained: false, verification_required: false },
    });
  }, 180_000);
});
