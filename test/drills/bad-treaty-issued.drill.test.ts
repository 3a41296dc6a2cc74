// Drill: ops/runbooks/bad-treaty-issued.md against a real `accord serve`. A treaty is issued with the
// wrong subject key; the operator finds it in the audit export, revokes and publishes, sees the
// revoked edge in the connectome, and issues the corrected treaty.
import { afterAll, describe, expect, it } from 'vitest';
import { toTimestamp } from '../../src/authority/clock.ts';
import { testKey } from '../helpers/authority.ts';
import { DrillAuthority, jsonLines, removeDrillDirs } from './harness.ts';

let na: DrillAuthority;

afterAll(async () => {
  await na?.stop();
  removeDrillDirs();
});

const rightKey = testKey('bad-treaty-drill:partner');
const wrongKey = testKey('bad-treaty-drill:someone-else');

function terms(subject: string, key: string) {
  return { subject_sovereign_id: subject, subject_public_keys: [key], scope: { allowed_roles: ['role:client'] }, validity_hours: 24 * 30 };
}

type Edge = { treaty_id: string; to: string; status: string };

describe('drill: bad treaty issued', () => {
  it('identify in the audit export, revoke and publish, connectome shows the revoked edge, issue the corrected treaty', async () => {
    na = await DrillAuthority.create('drill-treaty', { ACCORD_FEED_PULL_CRON: '0 0 1 1 *' });
    await na.start();
    const since = toTimestamp(new Date(Date.now() - 60_000));
    const other = (await na.admin('POST', '/admin/recognition-treaties', terms('drill-other', testKey('bad-treaty-drill:other').publicKey)))
      .body.treaty_id;
    const bad = (await na.admin('POST', '/admin/recognition-treaties', terms('drill-partner', wrongKey.publicKey))).body.treaty_id;

    // Identify.
    const issued = na.file('issued.jsonl');
    const exported = await na.cli([
      'audit-export',
      '--db',
      na.dbPath,
      '--event-type',
      'recognition_treaty_issued',
      '--since',
      since,
      '--output',
      issued,
    ]);
    expect(exported.code).toBe(0);
    const event = jsonLines(issued).find((e) => e.details.treaty_id === bad);
    expect(event).toMatchObject({ event_type: 'recognition_treaty_issued', actor: { type: 'operator', label: 'dev' } });
    const shown = await na.cli(['treaty', 'show', bad]);
    expect(shown.json()).toMatchObject({ treaty: { subject_public_keys: [wrongKey.publicKey] }, revocation: null });

    // Contain.
    const revoked = await na.cli(['treaty', 'revoke', bad, '--reason', 'policy_violation', '--incident', 'INC-2']);
    expect(revoked.code).toBe(0);
    expect((await na.cli(['feed', 'publish'])).code).toBe(0);
    const feed = (await na.get('/revocation-feeds/latest')).body as { entries: Array<{ id: string; incident?: string }> };
    expect(feed.entries).toContainEqual(
      expect.objectContaining({ id: bad, kind: 'recognition_treaty', reason: 'policy_violation', incident: 'INC-2' }),
    );

    // Investigate: the connectome shows the revoked edge, and the item in the blast radius.
    const edges = await na.until(async () => {
      const doc = (await na.get('/connectome.json')).body as { recognition_edges: Edge[] };
      return doc.recognition_edges.find((e) => e.treaty_id === bad)?.status === 'revoked' ? doc.recognition_edges : undefined;
    }, 'revoked edge in the connectome');
    expect(edges.find((e) => e.treaty_id === other)?.status).toBe('active');
    const blast = await na.get(`/connectome/blast-radius?id=${bad}`);
    expect(blast.status).toBe(200);
    expect(JSON.stringify(blast.body)).toContain(bad);

    // Recover: the corrected treaty, verified.
    const corrected = await na.cli(['treaty', 'issue', na.writeJson('corrected.json', terms('drill-partner', rightKey.publicKey))]);
    expect(corrected.code).toBe(0);
    const treaty = corrected.json<{ treaty_id: string; subject_public_keys: string[] }>();
    expect(treaty.subject_public_keys).toEqual([rightKey.publicKey]);
    const verified = await na.cli([
      'treaty',
      'verify',
      na.writeJson('corrected-treaty.json', treaty),
      '--expected-subject',
      'drill-partner',
    ]);
    expect(verified.code).toBe(0);
    const after = await na.until(async () => {
      const doc = (await na.get('/connectome.json')).body as { recognition_edges: Edge[] };
      return doc.recognition_edges.some((e) => e.treaty_id === treaty.treaty_id) ? doc.recognition_edges : undefined;
    }, 'corrected edge in the connectome');
    expect(
      after
        .filter((e) => e.to === 'drill-partner')
        .map((e) => [e.treaty_id, e.status])
        .sort(),
    ).toEqual(
      [
        [bad, 'revoked'],
        [treaty.treaty_id, 'active'],
      ].sort(),
    );
  }, 180_000);
});
