// Drill: ops/runbooks/bad-feed-imported.md with two real authorities over HTTP. The issuer's signing
// key leaks; a forged feed (validly signed, correctly chained) revokes a good attestation and the
// importer takes it. The issuer's genuine next feed then collides with it (equivocation). The
// importer's operator follows the runbook: identify, pause, export the import history, roll back,
// resume, pull the genuine feed; afterwards the good attestation verifies and the genuinely revoked
// one does not.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/authority/canonical-json.ts';
import { addSeconds, toTimestamp } from '../../src/authority/clock.ts';
import { canonicalHash, signObject } from '../../src/authority/crypto.ts';
import { appendLeaves, emptyFrontier, frontierRoot, leafHash } from '../../src/log/merkle.ts';
import { DrillAuthority, jsonLines, removeDrillDirs } from './harness.ts';

const RARELY = '0 0 1 1 *';
let issuer: DrillAuthority;
let importer: DrillAuthority;

afterAll(async () => {
  await Promise.all([issuer?.stop(), importer?.stop()]);
  removeDrillDirs();
});

describe('drill: bad revocation feed imported', () => {
  it('pause, export the imports, roll back, re-import the genuine feed; attestations accepted and rejected as expected', async () => {
    // Schedules are set to (almost) never, so every pull and publish in the drill is an explicit step.
    const quiet = { ACCORD_FEED_PULL_CRON: RARELY, ACCORD_FEED_PUBLISH_CRON: RARELY };
    issuer = await DrillAuthority.create('drill-issuer', quiet);
    importer = await DrillAuthority.create('drill-importer', quiet);
    await Promise.all([issuer.start(), importer.start()]);
    const issuerKey = issuer.signingKey();

    // Setup: the importer recognizes the issuer's key and pulls its feed; the issuer vouches for two nodes.
    const treaty = await importer.admin('POST', '/admin/recognition-treaties', {
      subject_sovereign_id: 'drill-issuer',
      subject_public_keys: [issuerKey.publicKey],
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 24 * 30,
    });
    expect(treaty.status).toBe(201);
    const good = (
      await issuer.admin('POST', '/admin/attestations', { subject_id: 'node-good', roles: ['role:client'], validity_hours: 48 })
    ).body;
    const doomed = (
      await issuer.admin('POST', '/admin/attestations', { subject_id: 'node-doomed', roles: ['role:client'], validity_hours: 48 })
    ).body;
    expect((await issuer.admin('POST', '/admin/revocation-feeds/publish', {})).status).toBe(200);
    expect((await importer.admin('POST', '/admin/peers', { sovereign_id: 'drill-issuer', base_url: issuer.url })).status).toBe(201);
    expect((await importer.admin('POST', '/admin/peers/drill-issuer/pull')).status).toBe(200);
    const verify = async (attestation: unknown) =>
      (
        await fetch(`${importer.url}/attestations/verify`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ attestation }),
        })
      ).json() as Promise<{ accepted: boolean; reason: string }>;
    expect(await verify(good)).toMatchObject({ accepted: true });

    // The incident: a forged feed 2, signed with the leaked key and chained to feed 1, revokes the good attestation.
    const feed1 = (await issuer.get('/revocation-feeds/1')).body;
    const entry = {
      index: 0,
      kind: 'membership_attestation',
      id: good.attestation_id,
      reason: 'key_compromise',
      revoked_at: toTimestamp(new Date()),
    };
    const frontier = appendLeaves(emptyFrontier(), [leafHash(canonicalBytes(entry))]);
    const forged = signObject(
      {
        type: 'revocation_feed',
        version: 1,
        feed_id: randomUUID(),
        issuer_sovereign_id: 'drill-issuer',
        sequence: 2,
        previous_feed_hash: canonicalHash(feed1),
        issued_at: toTimestamp(new Date()),
        next_update: toTimestamp(addSeconds(new Date(), 3600)),
        entries: [entry],
        log: { size: 1, root_hash: `sha256:${frontierRoot(frontier)}` },
        issued_by: issuerKey.keyId,
      },
      [issuerKey],
    );
    const imported = await importer.cli(['feed', 'import', importer.writeJson('forged-feed.json', forged)]);
    expect(imported.code).toBe(0);
    expect(await verify(good)).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });

    // The issuer's genuine feed 2 revokes the other attestation; the next pull collides with the forgery.
    expect(
      (await issuer.admin('POST', `/admin/attestations/${doomed.attestation_id}/revoke`, { reason: 'privilege_withdrawn' })).status,
    ).toBe(200);
    expect((await issuer.admin('POST', '/admin/revocation-feeds/publish', {})).body.latest_sequence).toBe(2);
    await importer.admin('POST', '/admin/peers/drill-issuer/pull');

    // Identify.
    const peers = await importer.cli(['feed', 'peers']);
    expect(peers.code).toBe(0);
    expect(JSON.stringify(peers.json())).toContain('"paused":true');
    const evidence = (await importer.admin('GET', '/admin/revocation-feeds/equivocations')).body.equivocations;
    expect(evidence).toHaveLength(1);
    expect(evidence[0]).toMatchObject({ issuer_sovereign_id: 'drill-issuer', sequence: 2, known_feed_hash: canonicalHash(forged) });

    // Contain: the issuer is paused (the equivocation did it; the runbook's pause is idempotent).
    expect((await importer.cli(['feed', 'pause', 'drill-issuer'])).code).toBe(0);

    // Investigate: the import history, signed.
    const history = importer.file('imports.jsonl');
    const exported = await importer.cli([
      'audit-export',
      '--db',
      importer.dbPath,
      '--event-type',
      'sovereign_revocation_feed_imported',
      '--event-type',
      'sovereign_revocation_feed_rejected',
      '--event-type',
      'feed_equivocation_detected',
      '--output',
      history,
      '--signed',
    ]);
    expect(exported.code).toBe(0);
    const events = jsonLines(history);
    expect(
      events.filter((e) => e.event_type === 'sovereign_revocation_feed_imported').map((e) => [e.details.sequence, e.details.feed_hash]),
    ).toEqual([
      [1, canonicalHash(feed1)],
      [2, canonicalHash(forged)],
    ]);
    expect(events.some((e) => e.event_type === 'feed_equivocation_detected')).toBe(true);
    expect(events.some((e) => e.event_type === 'sovereign_revocation_feed_rejected' && e.details.reason === 'equivocation')).toBe(true);

    // Recover: roll back to the last good sequence, resume, pull the genuine feed.
    const rolledBack = await importer.cli(['feed', 'rollback-import', '--issuer', 'drill-issuer', '--to-sequence', '1']);
    expect(rolledBack.code).toBe(0);
    expect(await verify(good)).toMatchObject({ accepted: true });
    expect((await importer.cli(['feed', 'resume', 'drill-issuer'])).code).toBe(0);
    expect((await importer.cli(['feed', 'pull', 'drill-issuer'])).code).toBe(0);
    const genuine = (await issuer.get('/revocation-feeds/2')).body;
    const state = (await importer.admin('GET', '/admin/revocation-feeds/issuers')).body.issuers.find(
      (i: { issuer_sovereign_id: string }) => i.issuer_sovereign_id === 'drill-issuer',
    );
    expect(state).toMatchObject({ imported_sequence: 2, paused: false });
    expect(canonicalHash(genuine)).not.toBe(canonicalHash(forged));

    // Attestations are accepted and rejected as the genuine feed says.
    const [goodCheck, doomedCheck] = await Promise.all([
      importer.cli(['attestation', 'verify', importer.writeJson('good.json', good)]),
      importer.cli(['attestation', 'verify', importer.writeJson('doomed.json', doomed)]),
    ]);
    expect(goodCheck.code).toBe(0);
    expect(goodCheck.json()).toMatchObject({ accepted: true });
    expect(doomedCheck.code).toBe(2);
    expect(doomedCheck.json()).toMatchObject({ accepted: false, reason: 'revoked_by_issuer_feed' });
  }, 240_000);
});
