// `accord treaty …` and `accord attestation …`: thin wrappers over the treaties API that print JSON.
import fs from 'node:fs';
import type { Command } from 'commander';
import { adminCall, publicCall, type ClientOptions } from './admin-client.ts';
import { DEFAULT_WAIT_SECONDS, waitForCarryingFeed, waitSeconds } from './feed-wait.ts';
import { action, CliError, EXIT, printJson } from './output.ts';

const KEY_HELP = 'operator key file (default: $ACCORD_ADMIN_KEY_FILE or <data dir>/operator-dev.key)';
const URL_HELP = 'authority base URL (default: $ACCORD_URL or http://ACCORD_HOST:ACCORD_PORT)';

/** Reads a JSON file ('-' for standard input) and returns its text after checking it parses. */
function readJsonFile(file: string): { text: string; value: unknown } {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch {
    throw new CliError(`cannot read ${file}`);
  }
  try {
    return { text, value: JSON.parse(text) as unknown };
  } catch {
    throw new CliError(`${file} is not valid JSON`);
  }
}

/** A verify answer that was not accepted exits with EXIT.notAccepted (failures stay EXIT.failed). */
function exitOnRejection(answer: unknown): void {
  const a = answer as { accepted?: boolean; reason?: string };
  if (a && a.accepted === false) throw new CliError(`not accepted: ${a.reason ?? 'unknown reason'}`, EXIT.notAccepted);
}

function common(cmd: Command, admin: boolean): Command {
  if (admin) cmd.option('--key <file>', KEY_HELP);
  return cmd.option('--url <url>', URL_HELP);
}

interface RevokeOptions extends ClientOptions {
  reason: string;
  incident?: string;
  invalidSince?: string;
  wait?: string | boolean;
}

function revokeBody(opts: RevokeOptions): string {
  return JSON.stringify({
    reason: opts.reason,
    ...(opts.incident ? { incident: opts.incident } : {}),
    ...(opts.invalidSince ? { invalid_since: opts.invalidSince } : {}),
  });
}

function byOperatorBody(opts: { keyId: string; since?: string; until?: string; reason: string; incident?: string }): string {
  return JSON.stringify({
    key_id: opts.keyId,
    ...(opts.since ? { since: opts.since } : {}),
    ...(opts.until ? { until: opts.until } : {}),
    reason: opts.reason,
    ...(opts.incident ? { incident: opts.incident } : {}),
  });
}

const REASON_HELP = 'unspecified | key_compromise | affiliation_changed | cessation_of_operation | privilege_withdrawn | policy_violation';

/** The options every single revoke takes. */
function revokeOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--reason <reason>', REASON_HELP)
    .option('--incident <label>', 'incident label recorded with the revocation')
    .option(
      '--invalid-since <ts>',
      'since when the revoked object must not be relied on (RFC 3339 UTC, between its issuance and now); carried in the feed entry',
    )
    .option(
      '--wait [seconds]',
      `wait until a published feed carries the revocation (default ${DEFAULT_WAIT_SECONDS} s; exit ${EXIT.notConfirmed} on timeout)`,
    );
}

/**
 * Revokes, prints the answer (which says when it will be published) and, with `--wait`, waits for
 * the feed that carries it and adds that feed to the answer.
 */
async function revoke(path: string, opts: RevokeOptions): Promise<void> {
  const seconds = waitSeconds(opts.wait);
  const client = { ...(opts.url ? { url: opts.url } : {}), ...(opts.key ? { key: opts.key } : {}) };
  if (seconds === null) {
    await adminCall({ ...client, method: 'POST', path, body: revokeBody(opts) });
    return;
  }
  const answer = (await adminCall({ ...client, method: 'POST', path, body: revokeBody(opts), quiet: true })) as Record<string, unknown> & {
    log_index: number;
  };
  const pending =
    answer.publish === 'scheduled'
      ? `publication was expected by ${String(answer.expected_publication)}`
      : `publication pending, next scheduled run ${String(answer.next_scheduled_run ?? 'none')}`;
  try {
    const feed = await waitForCarryingFeed(opts.url, answer.log_index, seconds, pending);
    printJson({ ...answer, published_in: feed });
  } catch (err) {
    printJson(answer);
    throw err;
  }
}

/** Wraps a bare object in `{<field>: …}` unless the file already is a verify request. */
function verifyBody(value: unknown, field: 'treaty' | 'attestation'): Record<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value) && field in value) return value as Record<string, unknown>;
  return { [field]: value };
}

export function registerTreatyCommands(program: Command): void {
  const treaty = program.command('treaty').description('recognition treaties: issue, revoke, supersede, list, show, verify');

  common(treaty.command('issue').description('issue a treaty from a JSON file of terms (POST /admin/recognition-treaties)'), true)
    .argument(
      '<file>',
      'JSON terms: subject_sovereign_id, subject_public_keys, scope, validity_hours | valid_from+expires_at, metadata ("-" for stdin)',
    )
    .action(
      action(async (file: string, opts: ClientOptions) =>
        adminCall({ ...opts, method: 'POST', path: '/admin/recognition-treaties', body: readJsonFile(file).text }),
      ),
    );

  revokeOptions(
    common(
      treaty
        .command('revoke')
        .description('revoke a treaty (POST /admin/recognition-treaties/{id}/revoke); says when the feed will carry it'),
      true,
    ).argument('<id>', 'treaty id'),
  ).action(action(async (id: string, opts: RevokeOptions) => revoke(`/admin/recognition-treaties/${encodeURIComponent(id)}/revoke`, opts)));

  common(
    treaty
      .command('supersede')
      .description('replace a treaty with new terms in one step (POST /admin/recognition-treaties/{id}/supersede)'),
    true,
  )
    .argument('<id>', 'id of the treaty to replace')
    .argument('<file>', 'JSON terms of the new treaty ("-" for stdin)')
    .action(
      action(async (id: string, file: string, opts: ClientOptions) =>
        adminCall({
          ...opts,
          method: 'POST',
          path: `/admin/recognition-treaties/${encodeURIComponent(id)}/supersede`,
          body: readJsonFile(file).text,
        }),
      ),
    );

  common(
    treaty
      .command('revoke-by-operator')
      .description('revoke every treaty an operator key authorized (POST /admin/recognition-treaties/revoke-by-operator)'),
    true,
  )
    .requiredOption('--key-id <key_id>', 'sha256:… key_id of the operator key')
    .requiredOption('--reason <reason>', 'revocation reason, usually key_compromise')
    .option('--since <ts>', 'only treaties issued at or after this time')
    .option('--until <ts>', 'only treaties issued at or before this time (default: now)')
    .option('--incident <label>', 'incident label')
    .action(
      action(async (opts: ClientOptions & { keyId: string; since?: string; until?: string; reason: string; incident?: string }) =>
        adminCall({ ...opts, method: 'POST', path: '/admin/recognition-treaties/revoke-by-operator', body: byOperatorBody(opts) }),
      ),
    );

  common(treaty.command('list').description('list treaties (GET /recognition-treaties)'), false)
    .option('--issuer <id>', 'issuer sovereign id')
    .option('--subject <id>', 'subject sovereign id')
    .option('--state <state>', 'active | expiring_soon | expired | revoked | replaced | not_yet_valid')
    .option('--cursor <cursor>', 'next_cursor of the previous page')
    .option('--limit <n>', 'page size (1-500, default 50)')
    .action(
      action(async (opts: ClientOptions & { issuer?: string; subject?: string; state?: string; cursor?: string; limit?: string }) => {
        const query = new URLSearchParams();
        for (const name of ['issuer', 'subject', 'state', 'cursor', 'limit'] as const)
          if (opts[name] !== undefined) query.set(name, opts[name]!);
        const qs = query.toString();
        await publicCall({ ...opts, method: 'GET', path: `/recognition-treaties${qs ? `?${qs}` : ''}` });
      }),
    );

  common(treaty.command('show').description('show a treaty with its revocation and lifecycle (GET /recognition-treaties/{id})'), false)
    .argument('<id>', 'treaty id')
    .action(
      action(async (id: string, opts: ClientOptions) =>
        publicCall({ ...opts, method: 'GET', path: `/recognition-treaties/${encodeURIComponent(id)}` }),
      ),
    );

  common(
    treaty.command('verify').description('verify a signed treaty (POST /recognition-treaties/verify); exit status 2 when not accepted'),
    false,
  )
    .argument(
      '<file>',
      'a signed treaty, or a full verify request {treaty, issuer_public_keys?, expected_issuer?, expected_subject?} ("-" for stdin)',
    )
    .option('--expected-issuer <id>', 'the issuer the treaty must name')
    .option('--expected-subject <id>', 'the subject the treaty must name')
    .action(
      action(async (file: string, opts: ClientOptions & { expectedIssuer?: string; expectedSubject?: string }) => {
        const body = verifyBody(readJsonFile(file).value, 'treaty');
        if (opts.expectedIssuer) body.expected_issuer = opts.expectedIssuer;
        if (opts.expectedSubject) body.expected_subject = opts.expectedSubject;
        exitOnRejection(await publicCall({ ...opts, method: 'POST', path: '/recognition-treaties/verify', body: JSON.stringify(body) }));
      }),
    );

  const attestation = program.command('attestation').description('membership attestations: issue, revoke, show, verify');

  common(attestation.command('issue').description('issue an attestation from a JSON file (POST /admin/attestations)'), true)
    .argument('<file>', 'JSON: subject_id, subject_public_key?, roles, validity_hours | valid_from+expires_at, claims? ("-" for stdin)')
    .action(
      action(async (file: string, opts: ClientOptions) =>
        adminCall({ ...opts, method: 'POST', path: '/admin/attestations', body: readJsonFile(file).text }),
      ),
    );

  revokeOptions(
    common(
      attestation
        .command('revoke')
        .description('revoke an attestation (POST /admin/attestations/{id}/revoke); says when the feed will carry it'),
      true,
    ).argument('<id>', 'attestation id'),
  ).action(action(async (id: string, opts: RevokeOptions) => revoke(`/admin/attestations/${encodeURIComponent(id)}/revoke`, opts)));

  common(
    attestation
      .command('revoke-by-operator')
      .description('revoke every attestation an operator key authorized (POST /admin/attestations/revoke-by-operator)'),
    true,
  )
    .requiredOption('--key-id <key_id>', 'sha256:… key_id of the operator key')
    .requiredOption('--reason <reason>', 'revocation reason, usually key_compromise')
    .option('--since <ts>', 'only attestations issued at or after this time')
    .option('--until <ts>', 'only attestations issued at or before this time (default: now)')
    .option('--incident <label>', 'incident label')
    .action(
      action(async (opts: ClientOptions & { keyId: string; since?: string; until?: string; reason: string; incident?: string }) =>
        adminCall({ ...opts, method: 'POST', path: '/admin/attestations/revoke-by-operator', body: byOperatorBody(opts) }),
      ),
    );

  common(
    attestation.command('show').description('show an attestation with its revocation and lifecycle (GET /admin/attestations/{id})'),
    true,
  )
    .argument('<id>', 'attestation id')
    .action(
      action(async (id: string, opts: ClientOptions) =>
        adminCall({ ...opts, method: 'GET', path: `/admin/attestations/${encodeURIComponent(id)}` }),
      ),
    );

  common(
    attestation
      .command('verify')
      .description(
        'verify an attestation with this authority\u2019s treaties (POST /attestations/verify); exit status 2 when not accepted',
      ),
    false,
  )
    .argument('<file>', 'a signed attestation, or a full verify request {attestation, treaty?} ("-" for stdin)')
    .action(
      action(async (file: string, opts: ClientOptions) => {
        const body = verifyBody(readJsonFile(file).value, 'attestation');
        exitOnRejection(await publicCall({ ...opts, method: 'POST', path: '/attestations/verify', body: JSON.stringify(body) }));
      }),
    );
}
