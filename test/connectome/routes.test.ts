// The connectome routes over a real authority: document shape, caching (ETag, gzip, rebuilds), lookups, errors.
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { sha256Hex } from '../../src/authority/crypto.ts';
import { etagMatches } from '../../src/authority/http.ts';
import { acceptsGzip } from '../../src/connectome/routes.ts';
import { ConnectomeService } from '../../src/connectome/service.ts';
import { issueAttestation, revokeAttestation } from '../../src/treaties/attestations.ts';
import { createTestAuthority, dbDigest, testKey, type TestAuthority } from '../helpers/authority.ts';
import { recognize } from '../feeds/simulated-issuer.ts';
import type { ConnectomeDoc } from './fixtures.ts';
import { operatorOf, seedHub } from './seed.ts';

const authorities: TestAuthority[] = [];
afterEach(async () => {
  for (const a of authorities.splice(0)) {
    await a.close();
    a.db.close();
  }
});

function hub(config = {}): TestAuthority {
  const a = createTestAuthority({ sovereignId: 'hub', config });
  authorities.push(a);
  return a;
}

async function getDoc(a: TestAuthority): Promise<{ res: Response; text: string; doc: ConnectomeDoc }> {
  const res = await a.app.request('/connectome.json');
  const text = await res.text();
  return { res, text, doc: JSON.parse(text) as ConnectomeDoc };
}

describe('GET /connectome.json', () => {
  it('has the reference keys plus the extensions, for real treaties and revocations', async () => {
    const a = hub();
    const seeded = await seedHub(a);
    const { res, doc } = await getDoc(a);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(doc)).toEqual([
      'active_treaties',
      'authority',
      'generated_at',
      'graph_digest',
      'recognition_edges',
      'revocation_blast_radius',
      'revoked_trust_material',
      'sovereigns',
      'summary',
    ]);
    expect(doc.generated_at).toBe('2026-03-01T00:00:00Z');
    expect(doc.authority).toEqual({ max_path_length: 3, sovereign_id: 'hub' });
    expect(doc.summary).toEqual({
      active_edge_count: 2,
      expired_edge_count: 0,
      imported_revocation_count: 1,
      recognition_edge_count: 3,
      revoked_edge_count: 1,
      revoked_trust_material_count: 3,
      sovereign_count: 4,
      stale_issuer_count: 0,
    });
    expect(doc.active_treaties.map((t) => t.subject_sovereign_id)).toEqual(['peer-b', 'peer-d']);
    expect(doc.active_treaties[0]).toHaveProperty('signatures');
    expect(doc.recognition_edges.find((e) => e.to === 'peer-c')).toMatchObject({
      status: 'revoked',
      lifecycle_state: 'revoked',
      treaty_id: seeded.revokedTreatyId,
    });
    expect(doc.sovereigns.find((s) => s.sovereign_id === 'peer-b')!.feed).toEqual({
      imported_sequence: 1,
      last_import_at: '2026-03-01T00:00:00Z',
      next_update: '2026-03-01T01:00:00Z',
      paused: false,
      stale: false,
    });

    // The imported attestation: hub accepted peer-b's material directly and has imported the feed.
    const imported = doc.revocation_blast_radius.find((b) => b.id === seeded.importedAttestationId)!;
    expect(imported).toMatchObject({
      type: 'membership_attestation',
      issuer_sovereign_id: 'peer-b',
      affected_accepting_sovereigns: ['hub'],
      downstream: [{ hops: 1, sovereign_id: 'hub' }],
      propagation: [{ acknowledged_sequence: 1, caught_up: true, sovereign_id: 'hub' }],
      feed_sequence: 1,
      carrying_treaty_ids: [seeded.treaties['peer-b']],
    });
    // The own treaty revocation: hub lost peer-c. Not yet published, so no feed sequence.
    const treaty = doc.revocation_blast_radius.find((b) => b.id === seeded.revokedTreatyId)!;
    expect(treaty).toMatchObject({
      type: 'recognition_treaty',
      issuer_sovereign_id: 'hub',
      subject_sovereign_id: 'peer-c',
      affected_accepting_sovereigns: ['hub'],
    });
    expect(treaty.feed_sequence).toBeUndefined();
    // Attestation claims and subjects are private: never in the document.
    expect(JSON.stringify(doc)).not.toContain('node-7');
  });

  it('learns which feed carried an own revocation once it is published', async () => {
    const a = hub();
    const seeded = await seedHub(a);
    expect((await a.admin('POST', '/admin/revocation-feeds/publish')).status).toBe(200);
    const { doc } = await getDoc(a);
    expect(doc.revoked_trust_material.find((m) => m.id === seeded.ownAttestationId)).toMatchObject({
      feed_sequence: 1,
      issuer_sovereign_id: 'hub',
    });
  });

  it('is JCS, and graph_digest is the SHA-256 of the JCS of everything but generated_at', async () => {
    const a = hub();
    await seedHub(a);
    const { text, doc } = await getDoc(a);
    expect(canonicalJson(doc)).toBe(text);
    const { generated_at: _g, graph_digest, ...rest } = doc as ConnectomeDoc & Record<string, unknown>;
    expect(graph_digest).toBe(`sha256:${sha256Hex(canonicalJson(rest))}`);
  });
});

describe('caching', () => {
  it('builds once per change: repeated reads share one build, each change event rebuilds once', async () => {
    const a = hub();
    await seedHub(a);
    const service = new ConnectomeService(a.deps);
    const first = service.get();
    expect(service.get()).toBe(first);
    expect(service.get()).toBe(first);
    expect(service.buildCount).toBe(1);
    const extra = issueAttestation(a.deps, { subject_id: 'node-9', roles: ['role:client'], validity_hours: 24 }, operatorOf(a));
    revokeAttestation(a.deps, extra.attestation_id, { reason: 'affiliation_changed' }, operatorOf(a));
    const second = service.get();
    expect(second).not.toBe(first);
    expect(service.get()).toBe(second);
    expect(service.buildCount).toBe(2);
    expect(second.graph.items).toHaveLength(first.graph.items.length + 1);
    expect(second.etag).not.toBe(first.etag);
    const changes = a.deps.changes;
    for (const emit of [
      () => changes.emit('treaties'),
      () => changes.emit('revocation'),
      () => changes.emit('feed-imported', { issuer: 'peer-b', sequence: 1 }),
      () => changes.emit('feed-published', { latest_sequence: 1 }),
      () => changes.emit('peers'),
      () => changes.emit('feed-receipt', { importer: 'peer-b', sequence: 1 }),
    ]) {
      emit();
      service.get();
    }
    expect(service.buildCount).toBe(8);
    service.close();
    a.deps.changes.emit('treaties');
    service.get();
    expect(service.buildCount).toBe(8);
  });

  it('same state → byte-identical JSON apart from generated_at, same ETag; 304 on If-None-Match', async () => {
    const a = hub();
    await seedHub(a);
    const first = await getDoc(a);
    const etag = first.res.headers.get('etag')!;
    expect(etag).toMatch(/^W\/"[0-9a-f]{64}"$/);
    expect(etag).toBe(`W/"${first.doc.graph_digest.slice('sha256:'.length)}"`);
    // A change event with no change of state rebuilds to the same bytes.
    a.clock.advance(60);
    a.deps.changes.emit('peers');
    const second = await getDoc(a);
    expect(second.doc.generated_at).toBe('2026-03-01T00:01:00Z');
    expect(second.text.replace(second.doc.generated_at, first.doc.generated_at)).toBe(first.text);
    expect(second.res.headers.get('etag')).toBe(etag);

    const notModified = await a.app.request('/connectome.json', { headers: { 'If-None-Match': etag } });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);
    expect((await a.app.request('/connectome.json', { headers: { 'If-None-Match': `"other", ${etag.slice(2)}` } })).status).toBe(304);
    expect((await a.app.request('/connectome.json', { headers: { 'If-None-Match': 'W/"0000"' } })).status).toBe(200);
  });

  it('gzips when accepted, compressed once per build', async () => {
    const a = hub();
    await seedHub(a);
    const plain = await getDoc(a);
    const res = await a.app.request('/connectome.json', { headers: { 'Accept-Encoding': 'br;q=1, gzip;q=0.8' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('vary')).toBe('Accept-Encoding');
    const body = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(body.length);
    expect(gunzipSync(body).toString('utf8')).toBe(plain.text);
    const again = Buffer.from(await (await a.app.request('/connectome.json', { headers: { 'Accept-Encoding': 'gzip' } })).arrayBuffer());
    expect(again.equals(body)).toBe(true);
    const refused = await a.app.request('/connectome.json', { headers: { 'Accept-Encoding': 'gzip;q=0' } });
    expect(refused.headers.get('content-encoding')).toBeNull();
  });

  it('rebuilds when the clock passes a lifecycle boundary, with no change event', async () => {
    const a = hub();
    recognize(a, 'peer-b', [testKey('sovereign:peer-b')], { validity_hours: 100 });
    expect((await getDoc(a)).doc.recognition_edges[0]!.lifecycle_state).toBe('active');
    a.clock.advance(28 * 3600 - 1); // 72 h + 1 s left: still active
    expect((await getDoc(a)).doc.recognition_edges[0]!.lifecycle_state).toBe('active');
    a.clock.advance(1); // exactly 72 h left
    expect((await getDoc(a)).doc.recognition_edges[0]).toMatchObject({ lifecycle_state: 'expiring_soon', expiry_risk: 'medium' });
    a.clock.advance(72 * 3600);
    const { doc } = await getDoc(a);
    expect(doc.recognition_edges[0]!.lifecycle_state).toBe('expired');
    expect(doc.summary.expired_edge_count).toBe(1);
  });

  it('rebuilds when an issuer goes stale', async () => {
    const a = hub();
    await seedHub(a);
    expect((await getDoc(a)).doc.summary.stale_issuer_count).toBe(0);
    a.clock.advance(3600 + 1);
    expect((await getDoc(a)).doc.summary.stale_issuer_count).toBe(1);
  });
});

describe('header parsing', () => {
  it('compares entity tags weakly and reads q-values', () => {
    expect(etagMatches('W/"abc"', 'W/"abc"')).toBe(true);
    expect(etagMatches('"abc"', 'W/"abc"')).toBe(true);
    expect(etagMatches('*', 'W/"abc"')).toBe(true);
    expect(etagMatches('"abd"', 'W/"abc"')).toBe(false);
    expect(etagMatches(undefined, 'W/"abc"')).toBe(false);
    expect(acceptsGzip('gzip, deflate')).toBe(true);
    expect(acceptsGzip('GZIP;Q=0.5')).toBe(true);
    expect(acceptsGzip('*;q=0.1')).toBe(true);
    expect(acceptsGzip('gzip;q=0, br')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
  });
});

describe('GET /connectome/blast-radius', () => {
  it('returns one item exactly as it appears in the document', async () => {
    const a = hub();
    const seeded = await seedHub(a);
    const { text } = await getDoc(a);
    const res = await a.app.request(`/connectome/blast-radius?id=${seeded.importedAttestationId}`);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(text).toContain(body);
    expect(JSON.parse(body)).toMatchObject({ id: seeded.importedAttestationId, issuer_sovereign_id: 'peer-b' });
    expect((await a.app.request(`/connectome/blast-radius?id=${seeded.revokedTreatyId}&type=recognition_treaty&issuer=hub`)).status).toBe(
      200,
    );
  });

  it('answers 404 for an unknown id and 422 for bad queries, changing nothing', async () => {
    const a = hub();
    await seedHub(a);
    const before = dbDigest(a.db);
    const missing = await a.app.request('/connectome/blast-radius?id=nope');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('revoked_item_not_found');
    for (const query of ['', '?id=', `?id=${'x'.repeat(300)}`, '?id=a&type=treaty', '?id=a&issuer=%20bad', '?id=a&extra=1']) {
      const res = await a.app.request(`/connectome/blast-radius${query}`);
      expect(res.status, query).toBe(422);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_query');
    }
    expect(dbDigest(a.db)).toBe(before);
  });
});

describe('GET /connectome/trust-path', () => {
  it('explains trust, revoked treaties, missing paths and self', async () => {
    const a = hub();
    const seeded = await seedHub(a);
    const path = async (from: string, to: string) =>
      (await (await a.app.request(`/connectome/trust-path?from=${from}&to=${to}`)).json()) as Record<string, unknown>;
    expect(await path('hub', 'peer-b')).toMatchObject({
      from: 'hub',
      to: 'peer-b',
      trusted: true,
      reason: 'active_treaty_path',
      hop_count: 1,
      path: [{ treaty_id: seeded.treaties['peer-b'] }],
    });
    expect(await path('hub', 'peer-c')).toMatchObject({
      trusted: false,
      reason: 'direct_treaty_revoked',
      hop_count: 0,
      path: [{ treaty_id: seeded.revokedTreatyId, status: 'revoked' }],
    });
    expect(await path('peer-b', 'hub')).toEqual({
      from: 'peer-b',
      to: 'hub',
      trusted: false,
      reason: 'no_active_treaty_path',
      hop_count: 0,
      path: [],
    });
    expect(await path('hub', 'hub')).toMatchObject({ trusted: true, reason: 'same_sovereign', hop_count: 0 });
    expect(await path('unknown-x', 'peer-b')).toMatchObject({ trusted: false, reason: 'no_active_treaty_path' });
  });

  it('rejects missing or malformed sovereign ids with 422', async () => {
    const a = hub();
    for (const query of ['', '?from=hub', '?to=hub', '?from=-bad&to=hub', '?from=hub&to=a%2Fb']) {
      const res = await a.app.request(`/connectome/trust-path${query}`);
      expect(res.status, query).toBe(422);
    }
  });
});
