// Drill: ops/runbooks/peer-key-changed.md with two real `accord serve` processes and the real CLI. South
// rotates its key with no overlap; north's scheduled declaration watch reports it (the alert's metric),
// keeps the pin and refuses the new key's feeds; the operator identifies, investigates, confirms the key
// out of band, repins, verifies with `feed pull --once`, and pulls.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { DrillAuthority, removeDrillDirs } from './harness.ts';

const RARELY = '0 0 1 1 *';
let north: DrillAuthority;
let south: DrillAuthority;

afterAll(async () => {
  await Promise.all([north?.stop(), south?.stop()]);
  removeDrillDirs();
});

interface Status {
  pin: { keys: Array<{ key_id: string }> };
  observed: {
    declaration: { keys: Array<{ key_id: string; public_key: string }> } | null;
    unresolved_keys: string[];
    key_mismatch: boolean;
  };
  pulls: { imported_sequence: number };
}

async function metric(a: DrillAuthority, name: string, peer: string): Promise<number | null> {
  const text = (await a.get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`peer="${peer}"`));
  return line ? Number(line.split(' ').at(-1)) : null;
}

describe('drill: peer key changed', () => {
  it('detected by the scheduled watch, pin kept; confirmed out of band, repinned, verified, pulled', async () => {
    // North polls every second (pull schedule) and fetches each declaration at most once a second.
    north = await DrillAuthority.create('drill-pkc-north', {
      ACCORD_FEED_PULL_CRON: '* * * * * *',
      ACCORD_FEED_PUBLISH_CRON: RARELY,
      ACCORD_PEER_DECLARATION_INTERVAL_S: '1',
    });
    south = await DrillAuthority.create('drill-pkc-south', { ACCORD_FEED_PULL_CRON: RARELY, ACCORD_FEED_PUBLISH_CRON: RARELY });
    await Promise.all([north.start(), south.start()]);
    const k1 = south.signingKey();
    const terms = north.writeJson('south-terms.json', {
      subject_sovereign_id: 'drill-pkc-south',
      subject_public_keys: [k1.publicKey],
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 24 * 30,
    });
    expect((await north.cli(['treaty', 'issue', terms])).code).toBe(0);
    expect((await north.cli(['feed', 'peer-add', 'drill-pkc-south', south.url])).code).toBe(0);
    const status = async () => (await north.cli(['peer', 'status', 'drill-pkc-south'])).json<Status>();
    await north.until(async () => (await status()).observed.declaration !== null, 'the first declaration poll');

    // South rotates with no overlap (its operator did not announce it).
    expect((await south.cli(['keys', 'rotate', '--overlap-days', '0', '--reason', 'key_compromise'])).code).toBe(0);
    expect((await south.cli(['feed', 'publish', '--heartbeat'])).code).toBe(0);

    // Identify: the watch sees it within a poll; the alert's gauge is 1; the pin holds.
    const seen = await north.until(async () => {
      const s = await status();
      return s.observed.key_mismatch ? s : null;
    }, 'the key change');
    const k2 = seen.observed.declaration!.keys[0]!;
    expect(seen.pin.keys.map((k) => k.key_id)).toEqual([k1.keyId]);
    expect(seen.observed.unresolved_keys.sort()).toEqual([k1.keyId, k2.key_id].sort());
    expect(await metric(north, 'accord_peer_key_mismatch', 'drill-pkc-south')).toBe(1);
    const events = (await north.cli(['admin', 'GET', '/admin/audit?event_type=peer_key_changed'])).json<{ events: unknown[] }>();
    expect(events.events.length).toBeGreaterThanOrEqual(1);
    // Feeds signed by the new key are refused (the scheduled pull keeps failing on them).
    const pulled = await north.cli(['feed', 'pull', 'drill-pkc-south']);
    expect(pulled.code).toBe(1);
    expect(pulled.stderr).toContain('invalid_signature');

    // Investigate: the evidence bundle, verified against north's published key.
    const evidence = north.file('south.evidence.jsonl');
    expect((await north.cli(['peer', 'evidence', 'drill-pkc-south', '--out', evidence])).code).toBe(0);
    expect(fs.existsSync(`${evidence}.manifest.json`)).toBe(true);
    const verified = await north.cli(['audit-verify', evidence, '--authority-url', north.url]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.json()).toMatchObject({ ok: true, peer: 'drill-pkc-south', counts: { key_change: 1 } });

    // Recover. Without the out-of-band confirmation nothing changes.
    const unconfirmed = await north.cli(['peer', 'repin', 'drill-pkc-south', '--key', k2.public_key]);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain('repin_not_confirmed');
    expect((await status()).pin.keys.map((k) => k.key_id)).toEqual([k1.keyId]);
    // The out-of-band channel: south's operator reads its key id out (here, from south's own CLI).
    const southKeys = (await south.cli(['keys', 'list'])).json<{ keys: Array<{ key_id: string; status: string }> }>();
    expect(southKeys.keys.filter((k) => k.status === 'active').map((k) => k.key_id)).toEqual([k2.key_id]);
    const repinned = await north.cli(['peer', 'repin', 'drill-pkc-south', '--key', k2.public_key, '--confirm-out-of-band']);
    expect(repinned.code, repinned.stderr).toBe(0);
    expect(repinned.json()).toMatchObject({ key_id: k2.key_id, previous_key_ids: [k1.keyId], unresolved_keys: [] });
    const once = await north.cli(['feed', 'pull', 'drill-pkc-south', '--once']);
    expect(once.code, once.stderr).toBe(0);
    expect(once.json()).toMatchObject({ verified: true });
    expect((await north.cli(['peer', 'resume', 'drill-pkc-south'])).code).toBe(0); // not paused: nothing to lift
    const pull = await north.cli(['feed', 'pull', 'drill-pkc-south']);
    expect(pull.code, pull.stderr).toBe(0);
    const after = await status();
    expect(after.observed.key_mismatch).toBe(false);
    expect(after.pulls.imported_sequence).toBeGreaterThanOrEqual(1);
    expect(await metric(north, 'accord_peer_key_mismatch', 'drill-pkc-south')).toBe(0);
  }, 240_000);
});
