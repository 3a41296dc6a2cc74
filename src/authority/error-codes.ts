// The closed table of error codes: every code an HTTP error envelope carries and every code a local `accord` command fails with.

/**
 * Where a code belongs. `api`: the error envelope of an HTTP response, with the table's status.
 * `cli`: the refusal of a command that works on files and the database directly (audit-export,
 * audit-verify, backup, restore), which prints its message on stderr and exits with the table's exit code.
 */
export type ErrorSurface = 'api' | 'cli';

export interface ApiErrorEntry {
  readonly surface: 'api';
  readonly status: number;
  readonly meaning: string;
  /** The status is the HTTP layer's own (4xx), not this one: see `AppError.httpLayer`. */
  readonly statusFromHttpLayer?: true;
}

export interface CliErrorEntry {
  readonly surface: 'cli';
  /** The AppError's status; a command never answers over HTTP, so only its exit code is seen. */
  readonly status: number;
  /** The command's exit code: 1, "not done" in the exit-code table of docs/cli.md. */
  readonly exit: 1;
  readonly meaning: string;
}

export type ErrorEntry = ApiErrorEntry | CliErrorEntry;

const api = (status: number, meaning: string): ApiErrorEntry => ({ surface: 'api', status, meaning });
const cli = (status: number, meaning: string): CliErrorEntry => ({ surface: 'cli', status, exit: 1, meaning });

/** Every error code, in the order of the tables in docs/api.md and docs/cli.md. */
export const ERROR_CODES = {
  // Every route
  malformed_json: api(400, 'the body is not valid UTF-8 JSON, has a duplicate key, is empty or nested too deeply'),
  unsupported_media_type: api(415, 'a body without a JSON media type'),
  body_too_large: api(413, "the body exceeds the route's limit (`details.max_bytes`)"),
  invalid_query: api(422, 'query parameters fail their schema'),
  non_canonical_number: api(
    422,
    'a native signed body (feed, receipt) writes a number with a fraction or exponent (`2.0`, `2e0`); at feed import it is reported as `invalid_revocation_feed`',
  ),
  non_canonical_value: api(
    422,
    "a value cannot be part of a signed object (float, unsafe integer, lone surrogate); in a `genesis-mesh` object (as `details.reason` of `invalid_treaty`, `invalid_attestation`, `invalid_revocation_feed`): a number or string with no faithful form in GM's canonical form (see [interop.md](interop.md))",
  ),
  not_found: api(404, 'no route for this path'),
  method_not_allowed: api(405, 'the path exists for other methods (`Allow` header)'),
  non_canonical_path: api(
    400,
    'the request target is not in normalized form (dot segments plain or percent-encoded, a backslash, an encoded slash, an empty segment; under `/admin/` any percent-encoding): refused before routing, so the routed path is the path as sent',
  ),
  malformed_request: api(400, 'the HTTP server could not parse the request target or `Host` header'),
  invalid_host: api(400, 'the `Host` header is missing or does not match the request target'),
  admin_auth_failed: api(401, 'admin request authentication failed; `details.reason` says why (see [admin-auth.md](admin-auth.md))'),
  insufficient_scope: api(403, "the operator key's scopes do not cover this admin route"),
  too_many_auth_failures: api(
    429,
    'too many failed admin authentications from this client in the last minute (`Retry-After`, `details.retry_after_seconds`); requests that name a configured operator key are still checked',
  ),
  metrics_auth_required: api(401, '`/metrics` without the configured bearer token'),
  internal_error: api(500, 'an unexpected failure; details are only in the server log'),
  service_stopping: api(503, 'the authority is shutting down; work handed to a worker thread was not done'),
  http_error: {
    surface: 'api',
    status: 400,
    statusFromHttpLayer: true,
    meaning: 'a request the HTTP layer itself refused (rare; the status says why)',
  },

  // Treaties and attestations
  invalid_treaty_request: api(422, 'treaty issue/supersede body fails its schema'),
  issuer_not_self: api(403, 'an issue body names an issuer other than this authority'),
  self_recognition: api(422, 'a treaty would recognize this authority itself'),
  no_roles: api(422, 'no role given (treaty scope or attestation)'),
  too_many_roles: api(422, 'more than 32 roles'),
  invalid_role: api(422, 'a role outside the role grammar'),
  duplicate_role: api(422, 'a role given twice'),
  invalid_public_key_count: api(422, 'a treaty needs 1 to 16 subject keys'),
  malformed_public_key: api(422, 'not standard base64 of a canonical 32-byte Ed25519 point'),
  small_order_public_key: api(422, 'the key is a small-order point'),
  duplicate_public_key: api(422, 'a subject key given twice'),
  invalid_timestamp: api(422, 'not RFC 3339 UTC with second precision'),
  invalid_validity_window: api(422, 'window missing, inverted, backdated or too far ahead'),
  validity_too_long: api(422, 'longer than `ACCORD_MAX_TREATY_VALIDITY_DAYS`'),
  treaty_not_found: api(404, 'no treaty of this authority with that id'),
  already_revoked: api(409, 'treaty or attestation already revoked; the first revocation stands'),
  invalid_reason: api(422, 'revocation reason not allowed'),
  invalid_revocation_request: api(422, 'revoke or revoke-by-operator body fails its schema'),
  invalid_since_out_of_range: api(
    422,
    "a revocation's `invalid_since` before the revoked object's issuance or after now (`details.not_before`, `details.not_after`)",
  ),
  subject_mismatch: api(422, 'supersede names a different subject'),
  invalid_time_range: api(422, 'revoke-by-operator `since` after `until`'),
  invalid_cursor: api(422, 'list cursor not one the server returned'),
  invalid_attestation_request: api(422, 'attestation issue body fails its schema'),
  attestation_not_found: api(404, 'no attestation of this authority with that id'),
  invalid_treaty: api(
    422,
    'treaty verify request or treaty is malformed (for a `genesis-mesh` issuer with `details.profile` and `details.reason`, see [interop.md](interop.md))',
  ),
  invalid_attestation: api(
    422,
    'attestation verify request or attestation is malformed (for a `genesis-mesh` issuer with `details.profile` and `details.reason`)',
  ),

  // Genesis Mesh interoperability
  wire_profile_mismatch: api(
    422,
    'a feed reached the import route of the other wire profile than the one its issuer is recognized under (see [interop.md](interop.md))',
  ),
  sequence_not_increasing: api(409, "a Genesis Mesh snapshot feed's sequence is not above the last imported one"),
  issuer_not_served: api(404, '`GET /sovereign-revocation-feed` asked for a sovereign other than this authority'),
  feed_not_published: api(404, '`GET /sovereign-revocation-feed` before the first feed publication'),

  // Signing keys
  no_signing_key: api(503, 'no authority signing key is loaded'),
  invalid_rotation_request: api(422, '`POST /admin/signing-keys/rotate` body fails its schema'),
  invalid_overlap: api(
    422,
    'a key rotation with an overlap outside 0 to 365 days (the rotate route refuses such a body first, as `invalid_rotation_request`)',
  ),
  invalid_retire_request: api(422, '`POST /admin/signing-keys/retire` body is not empty or `{}`'),
  no_successor_key: api(409, 'retiring would leave no loaded signing key'),

  // Revocation feeds: import (the checks of protocol.md), publication, the transparency log
  invalid_revocation_feed: api(422, 'a feed import body or feed fails the strict feed schema (check 1)'),
  foreign_issuer: api(422, '(pull job) a peer served a feed issued by another sovereign; nothing from it is imported (check 1b)'),
  issuer_not_recognized: api(403, 'no active, in-window treaty of this authority recognizes the feed issuer (check 2)'),
  invalid_signature: api(422, 'a feed or receipt signature does not verify under the recognized keys'),
  issuer_paused: api(423, 'imports from this issuer are paused (check 4)'),
  equivocation: api(409, 'a different validly signed feed at an already imported sequence; issuer paused (check 5)'),
  sequence_gap: api(409, 'the feed is not the next sequence; `details.expected` (check 6)'),
  chain_mismatch: api(409, '`previous_feed_hash` does not match the last imported feed (check 7)'),
  log_root_mismatch: api(422, 'entry indexes, log size or recomputed Merkle root do not match (check 8)'),
  consistency_proof_invalid: api(
    409,
    "the issuer's consistency proof from the imported log head to the feed's head is invalid, or missing for an issuer that serves proofs (check 8b)",
  ),
  invalid_timestamps: api(422, 'feed or receipt timestamps out of bounds (check 9)'),
  awaiting_quorum: api(
    409,
    "the issuer has a quorum policy and the feed's log head is in no checkpoint of the issuer cosigned by the quorum of its witnesses (`details.problem`); nothing is imported, the pull job takes it once the quorum appears (check 9b)",
  ),
  feed_not_found: api(404, 'no published feed (yet, or with that sequence)'),
  invalid_sequence: api(422, 'a feed sequence in the path is not a positive whole number'),
  invalid_publish_request: api(422, 'publish body fails its schema'),
  revocation_log_behind_published: api(409, 'the revocation log is shorter than what was already published'),
  revocation_log_corrupt: api(
    500,
    "stored log entries have a gap or do not match the stored tree head, or the log's tiles do not hash to it (publishing refuses to sign)",
  ),
  log_checkpoint_exists: api(
    409,
    'publishing would sign a second checkpoint under a feed sequence that already has one (its feed row was lost); `details.sequence`',
  ),
  follower_update_not_found: api(404, 'no follower update published yet, or none with that sequence'),
  read_only_follower: api(
    403,
    'this server is a read-only follower: admin routes, writes and what only the primary serves go to the primary (`details.primary`)',
  ),
  checkpoint_not_found: api(404, 'no checkpoint published yet, or none with that sequence'),
  invalid_tile_path: api(400, 'a `/log/tile/…` path not in the canonical tile form'),
  tile_not_found: api(404, 'the tile or entry bundle lies outside the latest checkpoint (`details.latest_size`)'),
  proof_range_invalid: api(
    422,
    'a proof asked for an index or size outside the latest checkpoint, or `from` outside 1…`to` (`details.latest_size`)',
  ),
  log_entry_not_found: api(404, '`/log/entries/{id}`: no published log entry revokes this id'),

  // Rollback, peers and receipts
  invalid_rollback_request: api(422, 'rollback-import body fails its schema'),
  issuer_not_found: api(404, 'rollback of an issuer nothing was imported from'),
  rollback_target_ahead: api(409, 'rollback `to_sequence` above the last imported sequence'),
  rollback_target_missing: api(409, 'the feed at rollback `to_sequence` is not stored'),
  invalid_peer: api(422, 'peer body, base URL or sovereign id not acceptable'),
  peer_exists: api(409, 'the sovereign is already a peer'),
  peer_not_found: api(404, 'no peer (or feed issuer) with this sovereign id'),
  invalid_peer_request: api(422, '`/admin/peers/{id}/contain|repin|evidence` body fails its schema'),
  repin_not_confirmed: api(
    422,
    'a repin without `confirm_out_of_band: true`: the new key must be confirmed with the peer outside the network first',
  ),
  no_treaty_to_repin: api(409, 'this authority never issued a treaty for the peer, so there are no terms to repin; issue one first'),
  key_already_pinned: api(409, "the key is already the only key this authority's treaties in force pin for the peer"),
  peer_not_verified: api(
    409,
    'resume refused: no verified test pull (`accord feed pull PEER --once`) since the peer was contained or repinned; nothing changed',
  ),
  invalid_feed_receipt: api(422, 'a receipt fails the strict receipt schema'),
  receipt_wrong_issuer: api(422, 'a receipt addressed to another issuer'),
  importer_not_recognized: api(403, 'a receipt from a sovereign this authority does not recognize'),
  receipt_feed_mismatch: api(409, 'a receipt for a sequence/hash this authority did not publish'),

  // Connectome
  revoked_item_not_found: api(404, '`/connectome/blast-radius`: no revoked item has this id (with the given issuer/type)'),
  ambiguous_revoked_item: api(409, '`/connectome/blast-radius`: several revoked items have this id; `details.candidates` lists them'),

  // Witnessing (docs/transparency.md#witnessing)
  invalid_witness_request: api(
    400,
    "an add-checkpoint body that does not follow the C2SP tlog-witness grammar, or whose old size is beyond the checkpoint's (`details.problem`)",
  ),
  witness_log_unknown: api(
    404,
    'add-checkpoint for an origin this authority does not witness (not enabled, disabled, or its sovereign not recognized)',
  ),
  witness_signature_invalid: api(
    403,
    "the checkpoint has no valid signature by a key recognized for the log's sovereign (`details.problem`)",
  ),
  witness_proof_invalid: api(
    422,
    'the checkpoint cannot be shown consistent with the one cosigned: empty-tree root, unexpected proof, other root at the same size, failed proof (`details.problem`)',
  ),
  witness_checkpoint_not_found: api(404, 'no checkpoint cosigned for a log with this origin hash'),
  invalid_witness_log: api(422, 'enable-witnessing body fails its schema, names this authority, or has a malformed origin'),
  witness_origin_unknown: api(409, "no checkpoint of the sovereign's log verified yet, and no origin given"),
  witness_origin_mismatch: api(409, 'the origin differs from the verified one or from the one the sovereign was witnessed under'),
  witness_origin_taken: api(409, "another sovereign's log is witnessed under this origin"),
  witness_log_not_found: api(404, "this authority never witnessed this sovereign's log"),
  invalid_quorum_policy: api(
    422,
    'a quorum policy body fails its schema, a vkey is not a cosignature/v1 key of the name given, a name or key is listed twice, the quorum exceeds the witnesses listed, or the issuer is this authority (`details.field`)',
  ),
  quorum_policy_not_found: api(404, 'no quorum policy for this issuer'),

  // Split-view evidence (docs/transparency.md#split-view-evidence-and-gossip)
  invalid_evidence: api(
    422,
    '`POST /log/evidence`: the body is not split-view evidence (schema, unknown field, a note that is not a checkpoint, two origins, a proof hash); `details.problem`',
  ),
  evidence_issuer_not_recognized: api(
    403,
    '`POST /log/evidence`: no in-force treaty of this authority recognizes the issuer the evidence names',
  ),
  evidence_signature_invalid: api(
    403,
    '`POST /log/evidence`: a checkpoint is not signed by a key this authority recognizes for the issuer (`details.checkpoint`, `details.problem`)',
  ),
  evidence_not_conflicting: api(
    422,
    '`POST /log/evidence`: the two checkpoints do not show a split view: one root at one size, a proof that shows them consistent, or a proof that does not lead to the larger root (`details.problem`)',
  ),
  evidence_not_found: api(404, 'no split-view evidence with this hash'),

  // Local commands: audit-export, audit-verify, backup, restore
  database_not_found: cli(404, '`--db` (or the configured database) does not exist'),
  database_unreadable: cli(422, 'the database file cannot be opened, or is not an SQLite database'),
  not_accord_database: cli(422, 'the database is SQLite but not an accord database (no `authority_meta` naming accord and a sovereign)'),
  invalid_filter: cli(
    422,
    'an audit-export filter or `--format` is not valid (unknown event type, bad timestamp, `--since` not before `--until`, …)',
  ),
  output_exists: cli(409, 'the output file (or its checkpoint or `.sha256` file) exists and `--force` was not given'),
  invalid_output: cli(422, 'backup `--output` is the database itself'),
  backup_failed: cli(500, 'the SQLite backup failed, or the copy fails `quick_check`; nothing is left under the output name'),
  invalid_sidecar: cli(422, 'a `FILE.sha256` next to a backup is not in `sha256sum` format'),
  export_not_found: cli(404, 'the audit export given to audit-verify does not exist'),
  export_malformed: cli(422, "the export's header line is not valid, or a json export is truncated or has text after its end"),
  checkpoint_unreadable: cli(422, 'the `--checkpoint` file or `--checkpoint-note` file cannot be read'),
  checkpoint_malformed: cli(422, 'the `--checkpoint` file is not a valid export checkpoint, or the `--checkpoint-note` file is too large'),
  invalid_public_key: cli(422, '`--public-key` is neither a key_id (`sha256:…`) nor a valid base64 Ed25519 public key'),
  invalid_note_key: cli(422, '`--note-key` is not an Ed25519 note verifier key (`<name>+<hex id>+<base64 key>`)'),
  restore_refused: cli(
    409,
    'restore refused: the backup cannot replace this database (missing, damaged, not accord, of a newer schema, of another authority, or its history forks from the published one); the message says which',
  ),
  database_locked: cli(409, 'restore refused: a running accord server holds the database; stop it first'),
  database_not_private: cli(
    409,
    'restore refused: the database or its directory is open to other users, or the database has a second name (a hard link)',
  ),
  backup_unverified: cli(
    409,
    'restore refused: the audit chain or a signature in the backup does not verify (`--accept-unverified` restores it anyway)',
  ),
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** For a code that arrives as a string (from another thread or process): is it one of ours? */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/**
 * Why one pull of one peer failed, besides an import rejection (the failure then carries the
 * rejection's error code): the peer's transport or answer, or its log checkpoint.
 */
export const PULL_FAILURE_REASONS = [
  'timeout',
  'unreachable',
  'response_too_large',
  'malformed_response',
  'http_error',
  'foreign_issuer',
  'receipt_refused',
  'checkpoint_signature',
  'checkpoint_rollback',
  'checkpoint_inconsistent',
  'checkpoint_missing',
  'internal_error',
] as const;
export type PullFailureReason = (typeof PULL_FAILURE_REASONS)[number];

const cell = (text: string) => text.replaceAll('|', '\\|');

/** The markdown table of one surface's codes: the generated "Error codes" sections of docs/api.md and docs/cli.md. */
export function errorCodesMarkdown(surface: ErrorSurface = 'api'): string {
  const rows = Object.entries(ERROR_CODES as Record<ErrorCode, ErrorEntry>).filter(([, entry]) => entry.surface === surface);
  if (surface === 'api') {
    const lines = ['| code | status | meaning |', '|---|---|---|'];
    for (const [code, e] of rows)
      lines.push(`| \`${code}\` | ${e.surface === 'api' && e.statusFromHttpLayer ? '4xx' : e.status} | ${cell(e.meaning)} |`);
    return `${lines.join('\n')}\n`;
  }
  const lines = ['| code | exit | meaning |', '|---|---|---|'];
  for (const [code, e] of rows) lines.push(`| \`${code}\` | ${e.surface === 'cli' ? e.exit : ''} | ${cell(e.meaning)} |`);
  return `${lines.join('\n')}\n`;
}
