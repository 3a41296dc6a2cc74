// Drill: ops/runbooks/peer-compromise.md with three real `accord serve` processes and the real CLI. South's
// key is compromised; north contains it in one command (paused, treaty revoked and published at once,
// evidence bundle written); east, which trusts north, learns the revocation from north's feed; the bundle
// verifies; resume is refused until north has repinned south's new key and a verification pull succeeded.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { DrillAuthority, jsonLines, removeDrillDirs } from './harness.ts';

const RARELY = '0 0 1 1 *';
const quiet = { ACCORD_FEED_PULL_CRON: RARELY, ACCORD_FEED_PUBLISH_CRON: RARELY };
let north: DrillAuthority;
let south: DrillAuthority;
let east: DrillAuthority;

afterAll(async () => {
  await Promise.all([north?.stop(), south?.stop(), east?.stop()]);
  removeDrillDirs();
});

interface Status {
  pin: { treaty_ids: string[]; keys: Array<{ key_id: string }> };
  pause: { paused: boolean; reason: string | null };
  containment: { contained: boolean; verification_required: boolean };
  pulls: { imported_sequence: number };
}

describe('drill: peer compromise', () => {
  it('contain (pause, revoke, publish, evidence), investigate, repin, verify, resume', async () => {
    north = await DrillAuthority.create('drill-pc-north', quiet);
    south = await DrillAuthority.create('drill-pc-south', quiet);
    east = await DrillAuthority.create('drill-pc-east', quiet);
    await Promise.all([north.start(), south.start(), east.start()]);
    const recognize = async (from: DrillAuthority, to: DrillAuthority) => {
      const terms = from.writeJson(`${to.sovereignId}-terms.json`, {
        subject_sovereign_id: to.sovereignId,
        subject_public_keys: [to.signingKey().publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24 * 30,
      });
      const issued = await from.cli(['treaty', 'issue', terms]);
      expect(issued.code, issued.stderr).toBe(0);
      expect((await from.cli(['feed', 'peer-add', to.sovereignId, to.url])).code).toBe(0);
      return issued.json<{ treaty_id: string }>().treaty_id;
    };
    const treatyId = await recognize(north, south);
    await recognize(east, north);
    expect((await north.cli(['feed', 'pull', 'drill-pc-south'])).code).toBe(0);
    expect((await east.cli(['feed', 'pull', 'drill-pc-north'])).code).toBe(0);
    const status = async () => (await north.cli(['peer', 'status', 'drill-pc-south'])).json<Status>();

    // South's key leaks; its operator rotates at once and tells north.
    const rotated = await south.cli(['keys', 'rotate', '--overlap-days', '0', '--reason', 'key_compromise']);
    const k2 = rotated.json<{ new_key: { key_id: string; public_key: string } }>().new_key;
    expect((await south.cli(['feed', 'publish'])).code).toBe(0);

    // Identify.
    expect((await status()).pin.keys.length).toBe(1);

    // Contain: one command.
    const evidence = north.file('south.evidence.jsonl');
    const contained = await north.cli([
      'peer',
      'contain',
      'drill-pc-south',
      '--reason',
      'south signing key leaked',
      '--revoke-treaties',
      '--incident',
      'INC-9',
      '--out',
      evidence,
    ]);
    expect(contained.code, contained.stderr).toBe(0);
    expect(contained.json()).toMatchObject({
      paused: { changed: true },
      revoked_treaties: [{ treaty_id: treatyId }],
      publication: { published: true },
      evidence: { file: evidence },
    });
    expect(await status()).toMatchObject({
      pin: { keys: [] },
      pause: { paused: true, reason: 'contained' },
      containment: { contained: true },
    });
    // A second contain refuses to overwrite the evidence, and asks nothing of the server.
    const again = await north.cli(['peer', 'contain', 'drill-pc-south', '--reason', 'again', '--out', evidence]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/overwrite/);
    // Published at once: east pulls north's feed and holds the revocation of north's treaty for south.
    expect((await east.cli(['feed', 'pull', 'drill-pc-north'])).code).toBe(0);
    const eastAudit = (await east.cli(['admin', 'GET', '/admin/audit?event_type=sovereign_revocation_feed_imported'])).json<{
      events: Array<{ details: { issuer: string; revoked_count: number } }>;
    }>();
    expect(eastAudit.events.some((e) => e.details.issuer === 'drill-pc-north' && e.details.revoked_count === 1)).toBe(true);

    // Investigate: the bundle verifies against north's published key; its audit events name south and include the containment.
    const verified = await north.cli(['audit-verify', evidence, '--authority-url', north.url]);
    expect(verified.code, verified.stderr).toBe(0);
    const records = jsonLines(evidence);
    expect(records.filter((r) => r.event_type === 'peer_contained')).toHaveLength(1);
    expect(records.filter((r) => r.record === 'imported_feed').length).toBeGreaterThanOrEqual(1);
    const manifest = JSON.parse(fs.readFileSync(`${evidence}.manifest.json`, 'utf8')) as { issued_by: string; peer: string };
    expect(manifest).toMatchObject({ issued_by: north.signingKey().keyId, peer: 'drill-pc-south' });

    // Recover. Resume before a verified pull is refused with a stable code and changes nothing.
    const early = await north.cli(['peer', 'resume', 'drill-pc-south']);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('peer_not_verified');
    expect((await status()).pause.paused).toBe(true);
    const repinned = await north.cli(['peer', 'repin', 'drill-pc-south', '--key', k2.public_key, '--confirm-out-of-band']);
    expect(repinned.code, repinned.stderr).toBe(0);
    expect(repinned.json<{ issued: string[] }>().issued).toHaveLength(1);
    const once = await north.cli(['feed', 'pull', 'drill-pc-south', '--once']);
    expect(once.code, once.stderr).toBe(0);
    expect((await north.cli(['peer', 'resume', 'drill-pc-south'])).code).toBe(0);
    const pulled = await north.cli(['feed', 'pull', 'drill-pc-south']);
    expect(pulled.code, pulled.stderr).toBe(0);
    const after = await status();
    expect(after).toMatchObject({ pause: { paused: false }, containment: { contained: false, verification_required: false } });
    expect(after.pin.keys.map((k) => k.key_id)).toEqual([k2.key_id]);
    expect(after.pulls.imported_sequence).toBe(2);
  }, 240_000);
});
