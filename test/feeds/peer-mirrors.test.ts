// A peer's mirror URLs: given when registering or replaced later (PUT /admin/peers/{id}/mirrors),
// normalized, audited; every bad list refused with invalid_peer and nothing changed.
import { afterEach, describe, expect, it } from 'vitest';
import { auditCount, createTestAuthority, dbDigest, lastAudit, type TestAuthority } from '../helpers/authority.ts';

const authorities: TestAuthority[] = [];
afterEach(async () => {
  for (const a of authorities.splice(0)) {
    await a.close();
    a.db.close();
  }
});

function authority(): TestAuthority {
  const a = createTestAuthority({ sovereignId: 'importer' });
  authorities.push(a);
  return a;
}

const BASE = 'https://north.example/accord';

describe('peer mirrors', () => {
  it('registers a peer with mirrors (normalized, in the order given) and audits them', async () => {
    const a = authority();
    const res = await a.admin('POST', '/admin/peers', {
      sovereign_id: 'north',
      base_url: BASE,
      mirror_urls: ['https://cdn.example/north/', 'http://10.0.0.1:8080/mirror'],
    });
    expect(res.status).toBe(201);
    const peer = (await res.json()) as Record<string, unknown>;
    expect(peer.mirror_urls).toEqual(['https://cdn.example/north', 'http://10.0.0.1:8080/mirror']);
    expect(lastAudit(a.db)).toMatchObject({
      event_type: 'peer_registered',
      details: { sovereign_id: 'north', base_url: BASE, mirror_urls: ['https://cdn.example/north', 'http://10.0.0.1:8080/mirror'] },
    });
    // Without mirrors: an empty list, and the audit event as before.
    const south = (await (await a.admin('POST', '/admin/peers', { sovereign_id: 'south', base_url: BASE })).json()) as Record<
      string,
      unknown
    >;
    expect(south.mirror_urls).toEqual([]);
    expect((lastAudit(a.db).details as Record<string, unknown>).mirror_urls).toBeUndefined();
  });

  it('replaces the mirrors; the same list again changes nothing', async () => {
    const a = authority();
    await a.admin('POST', '/admin/peers', { sovereign_id: 'north', base_url: BASE, mirror_urls: ['https://m1.example'] });
    const res = await a.admin('PUT', '/admin/peers/north/mirrors', { mirror_urls: ['https://m2.example/', 'https://m1.example'] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      sovereign_id: 'north',
      mirror_urls: ['https://m2.example', 'https://m1.example'],
      changed: true,
    });
    expect(lastAudit(a.db)).toMatchObject({
      event_type: 'peer_mirrors_changed',
      details: {
        sovereign_id: 'north',
        mirror_urls: ['https://m2.example', 'https://m1.example'],
        previous_mirror_urls: ['https://m1.example'],
      },
    });
    const events = auditCount(a.db);
    const again = await a.admin('PUT', '/admin/peers/north/mirrors', { mirror_urls: ['https://m2.example', 'https://m1.example/'] });
    expect(await again.json()).toMatchObject({ changed: false });
    expect(auditCount(a.db)).toBe(events);
    const cleared = await a.admin('PUT', '/admin/peers/north/mirrors', { mirror_urls: [] });
    expect(await cleared.json()).toMatchObject({ mirror_urls: [], changed: true });
    expect(((await (await a.admin('GET', '/admin/peers/north')).json()) as Record<string, unknown>).mirror_urls).toEqual([]);
  });

  const bad: Array<[string, unknown]> = [
    ['nine mirrors', { mirror_urls: Array.from({ length: 9 }, (_, i) => `https://m${i}.example`) }],
    ['a repeated mirror', { mirror_urls: ['https://m.example', 'https://m.example/'] }],
    ["the peer's own base URL", { mirror_urls: [`${BASE}/`] }],
    ['not a URL', { mirror_urls: ['mirror'] }],
    ['not http(s)', { mirror_urls: ['ftp://m.example'] }],
    ['a query', { mirror_urls: ['https://m.example/?x=1'] }],
    ['credentials', { mirror_urls: ['https://user:pw@m.example'] }],
    ['not a list', { mirror_urls: 'https://m.example' }],
    ['an empty string', { mirror_urls: [''] }],
    ['an unknown field', { mirror_urls: [], extra: 1 }],
    ['no list', {}],
  ];

  it.each(bad)('refuses %s with invalid_peer, changing nothing', async (_name, body) => {
    const a = authority();
    await a.admin('POST', '/admin/peers', { sovereign_id: 'north', base_url: BASE, mirror_urls: ['https://m1.example'] });
    const before = dbDigest(a.db);
    const events = auditCount(a.db);
    const res = await a.admin('PUT', '/admin/peers/north/mirrors', body);
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_peer');
    expect(dbDigest(a.db)).toBe(before);
    expect(auditCount(a.db)).toBe(events);
    // The same list is refused when registering, and no peer is created.
    if (!('extra' in (body as object)) && 'mirror_urls' in (body as object)) {
      const reg = await a.admin('POST', '/admin/peers', { sovereign_id: 'south', base_url: BASE, ...(body as object) });
      expect(reg.status).toBe(422);
      expect(dbDigest(a.db)).toBe(before);
    }
  });

  it('answers 404 peer_not_found for a peer that is not registered', async () => {
    const a = authority();
    const before = dbDigest(a.db);
    const res = await a.admin('PUT', '/admin/peers/nobody/mirrors', { mirror_urls: ['https://m.example'] });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('peer_not_found');
    expect(dbDigest(a.db)).toBe(before);
  });
});
