// Drill: ops/runbooks/database-restore.md against a real `accord serve`. An online backup while the
// server runs; more revocations and feeds after it; then stop, keep a copy, restore (refused while
// the server runs), start, check /healthz, /readyz and /connectome.json, and export the audit log:
// the feeds published after the backup are still served and the next publish continues after them.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { testKey } from '../helpers/authority.ts';
import { DrillAuthority, jsonLines, removeDrillDirs } from './harness.ts';

let na: DrillAuthority;

afterAll(async () => {
  await na?.stop();
  removeDrillDirs();
});

function terms(subject: string) {
  return {
    subject_sovereign_id: subject,
    subject_public_keys: [testKey(`restore-drill:${subject}`).publicKey],
    scope: { allowed_roles: ['role:client'] },
    validity_hours: 24 * 30,
  };
}

describe('drill: database restore', () => {
  it('stop, pre-restore copy, restore, start, health, connectome, audit export', async () => {
    na = await DrillAuthority.create('drill-restore', { ACCORD_FEED_PUBLISH_CRON: '0 0 1 1 *' });
    await na.start();
    const t1 = (await na.admin('POST', '/admin/recognition-treaties', terms('peer-1'))).body.treaty_id;
    const t2 = (await na.admin('POST', '/admin/recognition-treaties', terms('peer-2'))).body.treaty_id;
    expect((await na.admin('POST', `/admin/recognition-treaties/${t1}/revoke`, { reason: 'policy_violation' })).status).toBe(200);
    // Sequences are read back, not assumed: the scheduler may also publish (a first heartbeat, a debounced run).
    const beforeBackup: number = (await na.admin('POST', '/admin/revocation-feeds/publish', {})).body.latest_sequence;
    expect(beforeBackup).toBeGreaterThanOrEqual(1);

    // The scheduled backup, taken while the server serves.
    const backup = na.file('accord-backup.db');
    const backedUp = await na.cli(['backup', '--db', na.dbPath, '--output', backup]);
    expect(backedUp.code).toBe(0);
    expect(fs.readFileSync(`${backup}.sha256`, 'utf8')).toBe(`${backedUp.json().sha256}  accord-backup.db\n`);

    // After the backup: another revocation, published in a newer feed.
    expect((await na.admin('POST', `/admin/recognition-treaties/${t2}/revoke`, { reason: 'affiliation_changed' })).status).toBe(200);
    const latest: number = (await na.admin('POST', '/admin/revocation-feeds/publish', {})).body.latest_sequence;
    expect(latest).toBeGreaterThan(beforeBackup);
    const latestFeed = (await na.get(`/revocation-feeds/${latest}`)).text;

    // Restore refuses while the server holds the database.
    const whileServing = await na.cli(['restore', '--db', na.dbPath, '--backup', backup, '--yes']);
    expect(whileServing.code).toBe(1);
    expect(whileServing.stderr).toMatch(/^accord: refusing to restore: an accord server holds the database/);

    // Contain: stop, keep a copy of the data directory.
    expect(await na.stop()).toBe(0);
    fs.cpSync(na.dataDir, na.file('data.incident-copy'), { recursive: true });

    // Recover.
    const restored = await na.cli(['restore', '--db', na.dbPath, '--backup', backup, '--yes']);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    const summary = restored.json<{
      carried_forward: Record<string, number>;
      pre_restore_backup: string;
      backup_sidecar: string;
      audit_event: { seq: number };
    }>();
    expect(summary.backup_sidecar).toBe('verified');
    expect(summary.carried_forward).toMatchObject({ published_feeds: latest - beforeBackup, revocation_log: 1, treaty_revocations: 1 });
    expect(fs.existsSync(summary.pre_restore_backup)).toBe(true);

    await na.start();
    expect((await na.get('/healthz')).status).toBe(200);
    expect(await na.get('/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
    const connectome = await na.get('/connectome.json');
    expect(connectome.status).toBe(200);
    const edges = connectome.body.recognition_edges as Array<{ treaty_id: string; status: string }>;
    expect(edges.filter((e) => [t1, t2].includes(e.treaty_id)).map((e) => e.status)).toEqual(['revoked', 'revoked']);

    // Published history survived: the latest feed is served byte for byte, and the next publish follows it.
    const shown = await na.cli(['feed', 'show']);
    expect(shown.code).toBe(0);
    expect(shown.stdout.trim()).toBe(latestFeed);
    const t3 = (await na.admin('POST', '/admin/recognition-treaties', terms('peer-3'))).body.treaty_id;
    expect((await na.admin('POST', `/admin/recognition-treaties/${t3}/revoke`, { reason: 'unspecified' })).status).toBe(200);
    const next = await na.admin('POST', '/admin/revocation-feeds/publish', {});
    expect(next.body.latest_sequence).toBe(latest + 1);
    expect((await na.get(`/revocation-feeds/${latest + 1}`)).body.previous_feed_hash).toMatch(/^sha256:/);

    // The restore is on the record; the export verifies against the authority's published keys.
    const exportFile = na.file('restored.jsonl');
    const exported = await na.cli([
      'audit-export',
      '--db',
      na.dbPath,
      '--event-type',
      'database_restored',
      '--output',
      exportFile,
      '--signed',
    ]);
    expect(exported.code).toBe(0);
    const [event] = jsonLines(exportFile);
    expect(event).toMatchObject({
      seq: summary.audit_event.seq,
      event_type: 'database_restored',
      details: { backup_sha256: backedUp.json().sha256, pre_restore_backup: summary.pre_restore_backup },
    });
    const verified = await na.cli(['audit-verify', exportFile, '--checkpoint', `${exportFile}.checkpoint.json`, '--authority-url', na.url]);
    expect(verified.code).toBe(0);
  }, 240_000);
});
