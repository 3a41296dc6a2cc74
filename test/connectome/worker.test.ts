// The connectome of a database file is built on a worker thread: same bytes and answers as an in-process build.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnectomeReader } from '../../src/connectome/reader.ts';
import { ConnectomeService } from '../../src/connectome/service.ts';
import { renderDashboard } from '../../src/connectome/dashboard.tsx';
import { issueAttestation, revokeAttestation } from '../../src/treaties/attestations.ts';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';
import { operatorOf, seedHub } from './seed.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function fileHub(): TestAuthority {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-connectome-worker-'));
  const a = createTestAuthority({ sovereignId: 'hub', dbPath: path.join(dir, 'accord.db') });
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  cleanups.push(async () => {
    await a.close();
    a.db.close();
  });
  return a;
}

describe('connectome on a worker thread', () => {
  it('serves the bytes an in-process build gives, and every lookup answers alike, errors included', async () => {
    const a = fileHub();
    const seeded = await seedHub(a);
    const inProcess = new ConnectomeService(a.deps);
    cleanups.push(() => inProcess.close());

    const res = await a.app.request('/connectome.json');
    expect(res.status).toBe(200);
    const local = inProcess.get();
    expect(Buffer.from(await res.arrayBuffer()).equals(local.body)).toBe(true);
    expect(res.headers.get('etag')).toBe(local.etag);

    const item = local.graph.items[0]!.record;
    const blast = await a.app.request(`/connectome/blast-radius?id=${encodeURIComponent(item.id)}&issuer=${item.issuer_sovereign_id}`);
    expect(await blast.text()).toBe(local.blastRadiusText({ id: item.id, issuer: item.issuer_sovereign_id }));
    const trust = await a.app.request('/connectome/trust-path?from=hub&to=peer-b');
    expect(await trust.text()).toBe(local.trustPathText('hub', 'peer-b'));
    const html = await a.app.request('/connectome');
    expect(await html.text()).toBe(renderDashboard(local, {}));

    const missing = await a.app.request('/connectome/blast-radius?id=no-such-item');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('revoked_item_not_found');
    expect(Object.keys(seeded).length).toBeGreaterThan(0);
  });

  it('rebuilds after a change, and only then: the build count lives on the worker', async () => {
    const a = fileHub();
    await seedHub(a);
    const reader = createConnectomeReader(a.deps);
    const first = await reader.document();
    expect(await reader.document()).toBe(first);
    expect(reader.buildCount).toBe(1);

    const extra = issueAttestation(a.deps, { subject_id: 'node-9', roles: ['role:client'], validity_hours: 24 }, operatorOf(a));
    revokeAttestation(a.deps, extra.attestation_id, { reason: 'affiliation_changed' }, operatorOf(a));
    const second = await reader.document();
    expect(second.etag).not.toBe(first.etag);
    expect(reader.buildCount).toBe(2);
    expect(await reader.document()).toBe(second);
    expect(JSON.parse(second.body.toString()).revocation_blast_radius.length).toBe(
      JSON.parse(first.body.toString()).revocation_blast_radius.length + 1,
    );
  });
});
