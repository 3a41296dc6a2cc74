// `accord witness …` as a real subprocess against a served authority: enable a recognized sovereign's log, list, disable,
// the witnesses of this log, and one-line refusals with a non-zero exit.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCliAuthority, type CliAuthority, type CliResult } from '../helpers/cli-authority.ts';
import { startNode, type Node } from '../feeds/network.ts';
import { publishAtSizes } from '../transparency/helpers.ts';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('accord witness', () => {
  it('enable needs a recognized sovereign whose checkpoint was verified; logs, disable, status and submit', async () => {
    const na: CliAuthority = await startCliAuthority('accord-witness-cli-', 'cli-witness');
    cleanups.push(() => na.close());
    const log: Node = await startNode('cli-log');
    cleanups.push(() => log.stop());
    publishAtSizes(log, [2]);

    // Independent commands run side by side (each is a process start).
    const [first, badId, status, submit] = await Promise.all([
      na.accord('witness', 'enable', 'cli-log'),
      na.accord('witness', 'enable', 'not an id'),
      na.accord('witness', 'status'),
      na.accord('witness', 'submit'),
    ]);
    expect(first.code).toBe(1);
    expect(first.stderr.trim().split('\n')).toHaveLength(1);
    expect(first.stderr).toMatch(/^accord: .*issuer_not_recognized/);
    expect(badId).toMatchObject({ code: 1, stdout: '' });
    // No witnesses configured for this authority's own log: nothing to submit, nothing failing.
    expect(JSON.parse(status.stdout)).toEqual({ witnesses: [] });
    expect(submit.code, submit.stderr).toBe(0);
    expect(JSON.parse(submit.stdout).witnesses).toEqual([]);

    const terms = path.join(na.dir, 'terms.json');
    fs.writeFileSync(
      terms,
      JSON.stringify({
        subject_sovereign_id: 'cli-log',
        subject_public_keys: [log.signingKey.publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 720,
      }),
    );
    let r: CliResult | undefined;
    for (const args of [
      ['treaty', 'issue', terms],
      ['feed', 'peer-add', 'cli-log', log.url],
      ['feed', 'pull', 'cli-log'],
    ]) {
      r = await na.accord(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }

    r = await na.accord('witness', 'enable', 'cli-log');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ sovereign_id: 'cli-log', origin: 'cli-log/log', enabled: true, changed: true });
    const [logs, conflicts, nobody] = await Promise.all([
      na.accord('witness', 'logs'),
      na.accord('witness', 'conflicts'),
      na.accord('witness', 'disable', 'nobody'),
    ]);
    expect(JSON.parse(logs.stdout).logs).toMatchObject([{ sovereign_id: 'cli-log', enabled: true }]);
    expect(JSON.parse(conflicts.stdout)).toEqual({ conflicts: [] });
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/witness_log_not_found/);
    r = await na.accord('witness', 'disable', 'cli-log');
    expect(JSON.parse(r.stdout)).toMatchObject({ enabled: false, changed: true });

    const events = na.running.db.sqlite
      .prepare("SELECT event_type FROM audit_events WHERE event_type LIKE 'witness_%' ORDER BY seq")
      .pluck()
      .all();
    expect(events).toEqual(['witness_log_enabled', 'witness_log_disabled']);
  }, 120_000);
});
