// Drill: ops/runbooks/witness-quorum-missing.md with three real authorities over HTTP. The importer requires the
// issuer's feeds to be cosigned by one witness it names; that witness has not enabled the issuer's log, so the
// issuer's feed waits (awaiting_quorum, audited once, the gauge at 1). The operators follow the runbook: identify
// with `accord witness quorum show` and `accord feed pull`, export the record, the witness enables the log, the
// issuer submits, the importer pulls; the feed is imported and the state ends.
import { afterAll, describe, expect, it } from 'vitest';
import { DrillAuthority, jsonLines, removeDrillDirs } from './harness.ts';

const RARELY = '0 0 1 1 *';
let issuer: DrillAuthority;
let witness: DrillAuthority;
let importer: DrillAuthority;

afterAll(async () => {
  await Promise.all([issuer?.stop(), witness?.stop(), importer?.stop()]);
  removeDrillDirs();
});

async function gauge(a: DrillAuthority, sovereign: string): Promise<string | null> {
  const text = (await a.get('/metrics')).text;
  return new RegExp(`^accord_feed_issuer_awaiting_quorum\\{issuer="${sovereign}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? null;
}

describe('drill: a quorum of witnesses is missing', () => {
  it('the feed waits for its witness; enabling the witness and submitting lets the next pull import it', async () => {
    const quiet = { ACCORD_FEED_PULL_CRON: RARELY, ACCORD_FEED_PUBLISH_CRON: RARELY };
    witness = await DrillAuthority.create('drill-witness', quiet);
    importer = await DrillAuthority.create('drill-importer', quiet);
    await Promise.all([witness.start(), importer.start()]);
    // The issuer's log is cosigned by the witness (its vkey read from GET /witness, confirmed out of band).
    const info = (await witness.get('/witness')).body as { name: string; submission_prefix: string; keys: Array<{ vkey: string }> };
    const vkey = info.keys[0]!.vkey;
    issuer = await DrillAuthority.create('drill-issuer', {
      ...quiet,
      ACCORD_WITNESSES_JSON: JSON.stringify([{ name: info.name, url: `${witness.url}${info.submission_prefix}`, vkey }]),
    });
    await issuer.start();
    const issuerKey = issuer.signingKey();

    // Setup: the witness and the importer recognize the issuer; the importer pulls from it and requires 1 of {witness}.
    for (const a of [witness, importer]) {
      const treaty = await a.admin('POST', '/admin/recognition-treaties', {
        subject_sovereign_id: 'drill-issuer',
        subject_public_keys: [issuerKey.publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24 * 30,
      });
      expect(treaty.status).toBe(201);
    }
    expect((await importer.admin('POST', '/admin/peers', { sovereign_id: 'drill-issuer', base_url: issuer.url })).status).toBe(201);
    const set = await importer.cli(['witness', 'quorum', 'set', 'drill-issuer', '--quorum', '1', '--witness', vkey]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.json()).toMatchObject({
      issuer_sovereign_id: 'drill-issuer',
      quorum: 1,
      witnesses: [{ name: 'drill-witness/witness', vkey }],
    });

    // The incident: the issuer revokes and publishes; its witness has not enabled its log, so nothing cosigns it.
    const doomed = (await issuer.admin('POST', '/admin/attestations', { subject_id: 'node-1', roles: ['role:client'], validity_hours: 48 }))
      .body;
    expect(
      (await issuer.admin('POST', `/admin/attestations/${doomed.attestation_id}/revoke`, { reason: 'privilege_withdrawn' })).status,
    ).toBe(200);
    expect((await issuer.admin('POST', '/admin/revocation-feeds/publish', {})).status).toBe(200);

    // Identify.
    const pulled = await importer.cli(['feed', 'pull', 'drill-issuer']);
    expect(pulled.code).toBe(1);
    expect(pulled.stderr).toContain('pull of drill-issuer awaiting_quorum');
    expect(pulled.json()).toMatchObject({
      outcome: 'awaiting_quorum',
      imported: 0,
      quorum: { problem: 'not_enough_cosignatures', quorum: 1, cosigned_by: [] },
    });
    const shown = await importer.cli(['witness', 'quorum', 'show', 'drill-issuer']);
    expect(shown.code).toBe(0);
    expect(shown.json()).toMatchObject({ awaiting_quorum: { sequence: 1 } });
    expect(await gauge(importer, 'drill-issuer')).toBe('1');
    // Pulling again is not an error storm: still one audit event.
    expect((await importer.cli(['feed', 'pull', 'drill-issuer'])).code).toBe(1);

    // Investigate: the record of the wait.
    const record = importer.file('quorum.jsonl');
    const exported = await importer.cli([
      'audit-export',
      '--db',
      importer.dbPath,
      '--event-type',
      'feed_awaiting_quorum',
      '--event-type',
      'feed_quorum_met',
      '--event-type',
      'witness_quorum_policy_set',
      '--output',
      record,
      '--signed',
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(jsonLines(record).map((e) => [e.event_type, e.details.problem ?? null])).toEqual([
      ['witness_quorum_policy_set', null],
      ['feed_awaiting_quorum', 'not_enough_cosignatures'],
    ]);
    expect((await witness.admin('GET', '/admin/witness/logs')).body).toEqual({ logs: [] });

    // Recover: the witness enables the issuer's log, the issuer submits, the importer pulls.
    const enabled = await witness.cli(['witness', 'enable', 'drill-issuer', '--origin', 'drill-issuer/log']);
    expect(enabled.code, enabled.stderr).toBe(0);
    const submitted = await issuer.cli(['witness', 'submit']);
    expect(submitted.code, submitted.stderr).toBe(0);
    const again = await importer.cli(['feed', 'pull', 'drill-issuer']);
    expect(again.code, again.stderr).toBe(0);
    const latest = (await issuer.get('/revocation-feeds/latest')).body as { sequence: number };
    expect(again.json()).toMatchObject({ outcome: 'ok', imported: latest.sequence, imported_sequence: latest.sequence });
    expect((await importer.cli(['witness', 'quorum', 'show', 'drill-issuer'])).json()).toMatchObject({ awaiting_quorum: null });
    expect(await gauge(importer, 'drill-issuer')).toBe('0');
    const after = importer.file('quorum-after.jsonl');
    expect(
      (
        await importer.cli([
          'audit-export',
          '--db',
          importer.dbPath,
          '--event-type',
          'feed_awaiting_quorum',
          '--event-type',
          'feed_quorum_met',
          '--output',
          after,
        ])
      ).code,
    ).toBe(0);
    expect(jsonLines(after).map((e) => e.event_type)).toEqual(['feed_awaiting_quorum', 'feed_quorum_met']);
    expect(jsonLines(after)[1]!.details).toMatchObject({
      issuer: 'drill-issuer',
      cosigned_by: ['drill-witness/witness'],
      witnessed_size: 1,
    });

    // The revocation the feed carried is now known to the importer.
    const verify = await fetch(`${importer.url}/attestations/verify`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ attestation: doomed }),
    });
    expect(await verify.json()).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });
  }, 420_000);
});
