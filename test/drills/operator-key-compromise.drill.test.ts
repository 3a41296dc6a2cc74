// Drill: ops/runbooks/operator-key-compromise.md against a real `accord serve` and the real CLI.
// Contain (remove the key, SIGHUP, the key fails at once), Investigate (signed export of the key's
// actions, verified), Recover (revoke-by-operator, publish): only the compromised key's work is undone.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { toTimestamp } from '../../src/authority/clock.ts';
import { createOperatorKeyFile } from '../../src/authority/key-files.ts';
import { testKey } from '../helpers/authority.ts';
import { DrillAuthority, jsonLines, removeDrillDirs } from './harness.ts';

let na: DrillAuthority;

afterAll(async () => {
  await na?.stop();
  removeDrillDirs();
});

function treatyTerms(subject: string) {
  return {
    subject_sovereign_id: subject,
    subject_public_keys: [testKey(`drill:${subject}`).publicKey],
    scope: { allowed_roles: ['role:client'] },
    validity_hours: 24 * 30,
  };
}

describe('drill: operator key compromise', () => {
  it('removes the key, proves it fails, exports its actions, revokes exactly what it authorized', async () => {
    na = await DrillAuthority.create('drill-okc');
    fs.mkdirSync(na.dataDir, { recursive: true, mode: 0o700 });
    const alice = createOperatorKeyFile(na.file('alice.key'), 'alice');
    const mallory = createOperatorKeyFile(na.file('mallory.key'), 'mallory');
    const keysFile = na.file('operator-keys.json');
    const writeKeys = (labels: Array<typeof alice>) =>
      fs.writeFileSync(
        keysFile,
        JSON.stringify({ keys: Object.fromEntries(labels.map((k) => [k.label, { public_key: k.key.publicKey, scopes: ['*'] }])) }),
      );
    writeKeys([alice, mallory]);
    Object.assign(na.env, { ACCORD_OPERATOR_KEYS_FILE: keysFile, ACCORD_ADMIN_KEY_FILE: na.file('alice.key') });
    await na.start();
    const leakedAt = toTimestamp(new Date(Date.now() - 60_000));

    // Before the incident: alice's legitimate treaty; then mallory's key (leaked) issues two treaties and an attestation.
    const legit = await na.admin('POST', '/admin/recognition-treaties', treatyTerms('peer-legit'), alice);
    expect(legit.status).toBe(201);
    const bad: string[] = [];
    for (const subject of ['peer-x', 'peer-y']) {
      const res = await na.admin('POST', '/admin/recognition-treaties', treatyTerms(subject), mallory);
      expect(res.status).toBe(201);
      bad.push(res.body.treaty_id);
    }
    const att = await na.admin(
      'POST',
      '/admin/attestations',
      { subject_id: 'node-evil', roles: ['role:client'], validity_hours: 24 },
      mallory,
    );
    expect(att.status).toBe(201);

    // Contain: remove the key from the keys file and reload with SIGHUP.
    writeKeys([alice]);
    na.signal('SIGHUP');
    const reloaded = await na.until(async () => {
      const res = await na.admin('GET', '/admin/audit?event_type=operator_keys_reloaded', undefined, alice);
      return res.body.events.find((e: { details: { removed: string[] } }) => e.details.removed.includes('mallory'));
    }, 'operator_keys_reloaded');
    expect(reloaded.details).toMatchObject({ removed: ['mallory'], count: 1 });

    // The runbook's check: the removed key fails at once.
    const refused = await na.cli(['admin', 'GET', '/admin/audit', '--key', na.file('mallory.key')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe('accord: HTTP 401 admin_auth_failed: admin request authentication failed (unknown_key)');

    // Investigate: a signed export of everything the key did, while the server keeps serving.
    const actions = na.file('actions.jsonl');
    const exported = await na.cli(['audit-export', '--db', na.dbPath, '--actor-key', mallory.key.keyId, '--output', actions, '--signed']);
    expect(exported.stderr).toBe('');
    expect(exported.json()).toMatchObject({ count: 3, checkpoint: `${actions}.checkpoint.json` });
    const events = jsonLines(actions);
    expect(events.map((e) => e.event_type)).toEqual([
      'recognition_treaty_issued',
      'recognition_treaty_issued',
      'membership_attestation_issued',
    ]);
    expect(events.every((e) => e.actor.key_id === mallory.key.keyId && e.actor.label === 'mallory')).toBe(true);
    const verified = await na.cli(['audit-verify', actions, '--checkpoint', `${actions}.checkpoint.json`, '--authority-url', na.url]);
    expect(verified.code).toBe(0);
    expect(verified.json()).toMatchObject({ ok: true, count: 3, checkpoint: { signature: { status: 'valid', trusted_by: 'well_known' } } });

    // Recover: revoke everything the key authorized since it leaked, and publish.
    const treaties = await na.cli([
      'treaty',
      'revoke-by-operator',
      '--key-id',
      mallory.key.keyId,
      '--reason',
      'key_compromise',
      '--since',
      leakedAt,
      '--incident',
      'INC-1',
    ]);
    expect(treaties.code).toBe(0);
    expect(
      treaties
        .json<{ revoked: Array<{ treaty_id: string }> }>()
        .revoked.map((r) => r.treaty_id)
        .sort(),
    ).toEqual([...bad].sort());
    const attestations = await na.cli([
      'attestation',
      'revoke-by-operator',
      '--key-id',
      mallory.key.keyId,
      '--reason',
      'key_compromise',
      '--since',
      leakedAt,
      '--incident',
      'INC-1',
    ]);
    expect(attestations.code).toBe(0);
    expect(attestations.json<{ revoked: Array<{ attestation_id: string }> }>().revoked.map((r) => r.attestation_id)).toEqual([
      att.body.attestation_id,
    ]);
    const published = await na.cli(['feed', 'publish']);
    expect(published.code).toBe(0);

    // The feed carries the three revocations; alice's treaty is untouched.
    const latest = await na.get('/revocation-feeds/latest');
    const entries = await na.until(async () => {
      const feeds = await na.get('/revocation-feeds?since=0&limit=100');
      const all = feeds.body.feeds.flatMap((f: { entries: Array<{ id: string; incident?: string }> }) => f.entries);
      return all.length >= 3 ? all : undefined;
    }, 'published revocations');
    expect(latest.status).toBe(200);
    expect(entries.map((e: { id: string }) => e.id).sort()).toEqual([...bad, att.body.attestation_id].sort());
    expect(entries.every((e: { incident?: string; reason: string }) => e.incident === 'INC-1' && e.reason === 'key_compromise')).toBe(true);
    const legitView = await na.get(`/recognition-treaties/${legit.body.treaty_id}`);
    expect(legitView.body).toMatchObject({ revocation: null, lifecycle: { state: 'active' } });
  }, 180_000);
});
