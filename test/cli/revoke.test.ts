// `accord treaty|attestation revoke` as real subprocesses: --invalid-since, the publication answer, --wait and its timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForCarryingFeed } from '../../src/cli/feed-wait.ts';
import { EXIT } from '../../src/cli/output.ts';
import { revokeAttestation, issueAttestation } from '../../src/treaties/attestations.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { startCliAuthority, type CliAuthority } from '../helpers/cli-authority.ts';
import { testKey } from '../helpers/authority.ts';
import { servedAccord } from './run.ts';

type Json = Record<string, any>;
const oneLine = (text: string) => text.endsWith('\n') && text.trim().split('\n').length === 1;

describe('revoke against a serving authority (publishing jobs running)', () => {
  const { accord, file } = servedAccord('revoke-na');

  it('treaty revoke --invalid-since --wait: says when it is published, waits for that feed, and the feed entry carries invalid_since', async () => {
    const issued = await accord(
      'treaty',
      'issue',
      file('terms.json', {
        subject_sovereign_id: 'peer-w',
        subject_public_keys: [testKey('peer-w').publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 48,
      }),
    );
    expect(issued.code, issued.stderr).toBe(0);
    const treaty = JSON.parse(issued.stdout) as Json;

    const revoked = await accord(
      'treaty',
      'revoke',
      treaty.treaty_id,
      '--reason',
      'key_compromise',
      '--invalid-since',
      treaty.issued_at,
      '--incident',
      'INC-42',
      '--wait',
    );
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stderr).toBe('');
    const answer = JSON.parse(revoked.stdout) as Json;
    expect(answer).toMatchObject({
      treaty_id: treaty.treaty_id,
      reason: 'key_compromise',
      invalid_since: treaty.issued_at,
      incident: 'INC-42',
      publish: 'scheduled',
    });
    expect(Date.parse(answer.expected_publication)).toBeGreaterThan(Date.parse(answer.revoked_at));
    expect(answer.published_in).toEqual({ sequence: expect.any(Number), issued_at: expect.any(String), log_size: answer.log_index + 1 });

    const shown = await accord('feed', 'show', String(answer.published_in.sequence));
    expect(shown.code).toBe(0);
    const feed = JSON.parse(shown.stdout) as Json;
    expect(feed.entries).toContainEqual(
      expect.objectContaining({ index: answer.log_index, id: treaty.treaty_id, invalid_since: treaty.issued_at, incident: 'INC-42' }),
    );
  }, 60_000);

  it('attestation revoke: an invalid_since out of range is one line with the bounds; a bad one names the path', async () => {
    const issued = await accord(
      'attestation',
      'issue',
      file('att.json', { subject_id: 'node-w', roles: ['role:client'], validity_hours: 24 }),
    );
    const att = JSON.parse(issued.stdout) as Json;
    const [early, malformed] = await Promise.all([
      accord('attestation', 'revoke', att.attestation_id, '--reason', 'unspecified', '--invalid-since', '2020-01-01T00:00:00Z'),
      accord('attestation', 'revoke', att.attestation_id, '--reason', 'unspecified', '--invalid-since', 'yesterday'),
    ]);
    expect(early.code).toBe(EXIT.failed);
    expect(oneLine(early.stderr), early.stderr).toBe(true);
    expect(early.stderr).toBe(
      `accord: HTTP 422 invalid_since_out_of_range: invalid_since must lie between the issuance of the revoked object and now (invalid_since: 2020-01-01T00:00:00Z; not_before: ${att.issued_at}; not_after: ${JSON.parse(early.stdout).error.details.not_after})\n`,
    );
    expect(malformed.code).toBe(EXIT.failed);
    expect(malformed.stderr).toMatch(
      /^accord: HTTP 422 invalid_revocation_request: request failed validation \(invalid_since: must be an RFC 3339 UTC timestamp/,
    );
    const ok = await accord('attestation', 'revoke', att.attestation_id, '--reason', 'unspecified');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ attestation_id: att.attestation_id, publish: 'scheduled' });
  }, 60_000);

  it('--wait takes a bounded number of seconds', async () => {
    const res = await accord('attestation', 'revoke', '00000000-0000-4000-8000-000000000000', '--reason', 'unspecified', '--wait', '0');
    expect(res.code).toBe(EXIT.failed);
    expect(res.stderr).toBe('accord: --wait takes a whole number of seconds from 1 to 3600\n');
  });
});

describe('revoke --wait when nothing publishes', () => {
  let cli: CliAuthority;
  beforeAll(async () => {
    // No background jobs: only an explicit publish would carry the revocation.
    cli = await startCliAuthority('accord-revoke-wait-', 'quiet-na');
  });
  afterAll(async () => cli?.close());

  it('times out with exit 3, one line, and the revocation printed (it stands)', async () => {
    const att = issueAttestation(cli.running.authority.deps, { subject_id: 'node-q', roles: ['role:client'], validity_hours: 24 });
    const res = await cli.accord('attestation', 'revoke', att.attestation_id, '--reason', 'unspecified', '--wait', '1');
    expect(res.code).toBe(EXIT.notConfirmed);
    expect(JSON.parse(res.stdout)).toMatchObject({ attestation_id: att.attestation_id, publish: 'pending', next_scheduled_run: null });
    expect(oneLine(res.stderr), res.stderr).toBe(true);
    expect(res.stderr).toBe(
      'accord: revocation recorded (log index 0) but no published feed carried it within 1 s (publication pending, next scheduled run none); it stands: run accord feed publish\n',
    );
    const again = await cli.accord('attestation', 'show', att.attestation_id);
    expect(JSON.parse(again.stdout).revocation).toMatchObject({ reason: 'unspecified' });
  }, 60_000);

  it('finds the carrying feed when it was published before the wait began (walks back from the latest)', async () => {
    const deps = cli.running.authority.deps;
    const revoke = (subject: string) => {
      const att = issueAttestation(deps, { subject_id: subject, roles: ['role:client'], validity_hours: 24 });
      return revokeAttestation(deps, att.attestation_id, { reason: 'unspecified' }).log_index;
    };
    const lone = revoke('node-lone');
    const first = publishFeeds(deps, { trigger: 'admin' }).published.at(-1)!.sequence;
    const three = ['node-1', 'node-2', 'node-3'].map(revoke);
    const carried = publishFeeds(deps, { trigger: 'admin' }).published.at(-1)!.sequence;
    publishFeeds(deps, { trigger: 'admin', heartbeat: 'force' });
    // The latest feed is a heartbeat: the waiter walks back to the feed whose entries include the index.
    await expect(waitForCarryingFeed(cli.running.url, three[1]!, 1, 'n/a')).resolves.toMatchObject({
      sequence: carried,
      log_size: three[2]! + 1,
    });
    await expect(waitForCarryingFeed(cli.running.url, lone, 1, 'n/a')).resolves.toMatchObject({ sequence: first, log_size: lone + 1 });
  });
});
