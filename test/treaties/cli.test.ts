// The treaty and attestation CLI against a real server: subprocesses of `accord` talking HTTP.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliAuthority, type CliAuthority } from '../helpers/cli-authority.ts';
import { subjectKey, subjectKey2 } from './fixtures.ts';

let dir: string;
let cli: CliAuthority;

const accord = (...args: string[]) => cli.accord(...args);

function writeJson(name: string, value: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

beforeAll(async () => {
  cli = await startCliAuthority('accord-treaty-cli-');
  dir = cli.dir;
});

afterAll(async () => {
  await cli?.close();
});

describe('accord treaty / attestation (subprocess against a running authority)', () => {
  it('issue, list, show, verify, supersede, revoke, and a rejected verify', async () => {
    const terms = writeJson('terms.json', {
      subject_sovereign_id: 'peer-b',
      subject_public_keys: [subjectKey.publicKey],
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 720,
    });
    const issued = await accord('treaty', 'issue', terms);
    expect(issued.stderr).toBe('');
    expect(issued.code).toBe(0);
    const treaty = JSON.parse(issued.stdout);
    expect(treaty).toMatchObject({ issuer_sovereign_id: 'cli-na', subject_sovereign_id: 'peer-b', status: 'active' });

    const treatyFile = writeJson('treaty.json', treaty);
    const verified = await accord('treaty', 'verify', treatyFile, '--expected-subject', 'peer-b');
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ accepted: true, reason: 'accepted' });

    const newTerms = writeJson('new-terms.json', {
      subject_public_keys: [subjectKey.publicKey, subjectKey2.publicKey],
      scope: { allowed_roles: ['role:client', 'role:bridge'] },
      validity_hours: 1440,
    });
    const superseded = await accord('treaty', 'supersede', treaty.treaty_id, newTerms);
    expect(superseded.code).toBe(0);
    const { treaty: replacement, revocation } = JSON.parse(superseded.stdout);
    expect(revocation).toMatchObject({ treaty_id: treaty.treaty_id, reason: 'superseded', replaced_by: replacement.treaty_id });
    expect(JSON.parse((await accord('treaty', 'show', treaty.treaty_id)).stdout).lifecycle).toMatchObject({
      state: 'replaced',
      replaced_by: replacement.treaty_id,
    });
    const list = JSON.parse((await accord('treaty', 'list', '--subject', 'peer-b', '--state', 'active')).stdout);
    expect(list.treaties.map((t: { treaty: { treaty_id: string } }) => t.treaty.treaty_id)).toEqual([replacement.treaty_id]);

    const rejected = await accord('treaty', 'verify', treatyFile);
    expect(rejected.code).toBe(2);
    expect(JSON.parse(rejected.stdout)).toMatchObject({ accepted: false, reason: 'revoked' });
    expect(rejected.stderr).toBe('accord: not accepted: revoked\n');

    const revoked = await accord('treaty', 'revoke', replacement.treaty_id, '--reason', 'key_compromise', '--incident', 'INC-1');
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ treaty_id: replacement.treaty_id, reason: 'key_compromise', incident: 'INC-1' });
  }, 120_000);

  it('attestation issue, verify, revoke, verify rejected; bad input fails with the error code', async () => {
    const issued = await accord(
      'attestation',
      'issue',
      writeJson('att.json', { subject_id: 'node-1', roles: ['role:client'], validity_hours: 24 }),
    );
    expect(issued.code).toBe(0);
    const att = JSON.parse(issued.stdout);
    const attFile = writeJson('signed-att.json', att);
    expect((await accord('attestation', 'revoke', att.attestation_id, '--reason', 'affiliation_changed')).code).toBe(0);
    const rejected = await accord('attestation', 'verify', attFile);
    expect(rejected.code).toBe(2);
    expect(JSON.parse(rejected.stdout).reason).toBe('revoked');

    const bad = await accord('attestation', 'issue', writeJson('bad.json', { subject_id: 'node-1', roles: [], validity_hours: 24 }));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^accord: HTTP 422 no_roles/);
  }, 120_000);

  it('--help describes each command', async () => {
    for (const args of [
      ['treaty', 'supersede'],
      ['attestation', 'verify'],
    ]) {
      const help = await accord(...args, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: accord ${args.join(' ')} \\[options\\]`));
    }
  }, 60_000);
});
