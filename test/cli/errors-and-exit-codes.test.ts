// The `accord` exit-code table and one-line errors, against a real `accord serve`: failed pulls, validation paths, 429 retry time.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testKey } from '../helpers/authority.ts';
import { freePort, servedAccord, type RunResult } from './run.ts';

const oneLine = (text: string) => text.endsWith('\n') && text.trim().split('\n').length === 1;

describe('exit codes and error lines of the real CLI', () => {
  const { dir, accord, file } = servedAccord('exit-na', { ACCORD_ADMIN_FAILURE_LIMIT: '2' });

  it('feed pull exits 1 when the pull failed or was skipped, with the reason on one line', async () => {
    const terms = file('peer-x.json', {
      subject_sovereign_id: 'peer-x',
      subject_public_keys: [testKey('peer-x').publicKey],
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 24,
    });
    expect((await accord('treaty', 'issue', terms)).code).toBe(0);
    // A port nothing listens on: the pull is attempted and fails.
    const added = await accord('feed', 'peer-add', 'peer-x', `http://127.0.0.1:${await freePort()}`);
    expect(added.code, added.stderr).toBe(0);

    const failed = await accord('feed', 'pull', 'peer-x');
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ sovereign_id: 'peer-x', outcome: 'failed', reason: 'unreachable' });
    expect(oneLine(failed.stderr), failed.stderr).toBe(true);
    expect(failed.stderr).toMatch(/^accord: pull of peer-x failed: unreachable \(.+\)\n$/);

    expect((await accord('feed', 'pause', 'peer-x')).code).toBe(0);
    const skipped = await accord('feed', 'pull', 'peer-x');
    expect(skipped.code).toBe(1);
    expect(JSON.parse(skipped.stdout)).toMatchObject({ outcome: 'skipped', reason: 'paused' });
    expect(skipped.stderr).toBe('accord: pull of peer-x skipped: paused\n');
  }, 60_000);

  it('a validation error names every failing path on its one line', async () => {
    const bad = file('bad-terms.json', {
      subject_sovereign_id: 'peer-y',
      subject_public_keys: 'not-a-list',
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 'long',
    });
    const res = await accord('treaty', 'issue', bad);
    expect(res.code).toBe(1);
    expect(oneLine(res.stderr), res.stderr).toBe(true);
    expect(res.stderr).toMatch(/^accord: HTTP 422 invalid_treaty_request: request failed validation \(/);
    expect(res.stderr).toContain('subject_public_keys: ');
    expect(res.stderr).toContain('validity_hours: ');
    // The full envelope stays on stdout for programs.
    const envelope = JSON.parse(res.stdout) as { error: { details: { issues: Array<{ path: string }> } } };
    expect(envelope.error.details.issues.map((i) => i.path).sort()).toEqual(['subject_public_keys', 'validity_hours']);

    const unknownField = await accord('treaty', 'revoke', '00000000-0000-4000-8000-000000000000', '--reason', 'no_such_reason');
    expect(unknownField.code).toBe(1);
    expect(oneLine(unknownField.stderr)).toBe(true);
  }, 60_000);

  it('other details travel too: a missing feed names its sequence', async () => {
    const missing = await accord('feed', 'show', '99');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('accord: HTTP 404 feed_not_found: no feed with this sequence (sequence: 99)\n');
  });

  // Last: the failure limit counts per client address, and every test here shares 127.0.0.1.
  it('429 says when to retry (retry_after_seconds)', async () => {
    const stranger = path.join(dir.root, 'stranger.key');
    expect((await accord('keygen', '--label', 'stranger', '--output', stranger)).code).toBe(0);
    const answers: RunResult[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await accord('admin', 'GET', '/admin/audit?limit=1', '--key', stranger);
      answers.push(res);
      if (res.stderr.includes('HTTP 429')) break;
    }
    const limited = answers[answers.length - 1]!;
    expect(answers.slice(0, -1).every((r) => r.stderr.startsWith('accord: HTTP 401 admin_auth_failed'))).toBe(true);
    expect(limited.code).toBe(1);
    expect(oneLine(limited.stderr), limited.stderr).toBe(true);
    expect(limited.stderr).toMatch(/^accord: HTTP 429 too_many_auth_failures: .+ \(retry_after_seconds: [1-9]\d*\)\n$/);
  }, 60_000);
});
