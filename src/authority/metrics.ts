// Prometheus metrics: one registry per app so several authorities can share a process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'accord_process_' });
  const registers = [registry];
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'accord_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    signatureVerificationFailures: new Counter({
      name: 'accord_signature_verification_failures_total',
      help: 'Signatures that failed to verify, by surface and reason',
      labelNames: ['surface', 'reason'] as const,
      registers,
    }),
    adminAuthFailures: new Counter({
      name: 'accord_admin_auth_failures_total',
      help: 'Rejected admin requests, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    feedImports: new Counter({
      name: 'accord_feed_imports_total',
      help: 'Revocation feed imports, by issuer and outcome',
      labelNames: ['issuer', 'outcome'] as const,
      registers,
    }),
    feedIssuerStale: new Gauge({
      name: 'accord_feed_issuer_stale',
      help: '1 when an issuer is past next_update with no newer feed',
      labelNames: ['issuer'] as const,
      registers,
    }),
    feedPublishedSequence: new Gauge({
      name: 'accord_feed_published_sequence',
      help: 'Sequence of the latest published revocation feed',
      registers,
    }),
    mirrorSequence: new Gauge({
      name: 'accord_mirror_sequence',
      help: 'Feed sequence whose checkpoint and latest feed the static mirror (ACCORD_MIRROR_DIR) shows',
      registers,
    }),
    mirrorSyncFailures: new Counter({
      name: 'accord_mirror_sync_failures_total',
      help: 'Updates of the static mirror that failed (retried at the next change)',
      registers,
    }),
    treaties: new Gauge({
      name: 'accord_treaties',
      help: 'Treaties issued by this authority, by lifecycle state',
      labelNames: ['lifecycle_state'] as const,
      registers,
    }),
    treatyMinSecondsToExpiry: new Gauge({
      name: 'accord_treaty_min_seconds_to_expiry',
      help: 'Seconds until the soonest expiry among active treaties',
      registers,
    }),
    peerKeyChanges: new Counter({
      name: 'accord_peer_key_changes_total',
      help: "Key changes seen in peers' declarations, by peer and kind (unannounced | announced)",
      labelNames: ['peer', 'kind'] as const,
      registers,
    }),
    peerKeyMismatch: new Gauge({
      name: 'accord_peer_key_mismatch',
      help: "1 while a peer's declaration shows an unannounced key change that no repin or revert has resolved",
      labelNames: ['peer'] as const,
      registers,
    }),
    peerDeclarationPolls: new Counter({
      name: 'accord_peer_declaration_polls_total',
      help: "Polls of peers' declarations, by peer and outcome (ok or a failure reason)",
      labelNames: ['peer', 'outcome'] as const,
      registers,
    }),
    peerImportRejections: new Counter({
      name: 'accord_peer_import_rejections_total',
      help: 'Feeds pulled from a peer and rejected at import, by peer and reason',
      labelNames: ['peer', 'reason'] as const,
      registers,
    }),
    peerReplays: new Counter({
      name: 'accord_peer_replayed_requests_total',
      help: 'Replayed or out-of-window messages from a peer (receipts, served feeds), by peer and kind',
      labelNames: ['peer', 'kind'] as const,
      registers,
    }),
    witnessRequests: new Counter({
      name: 'accord_witness_add_checkpoint_requests_total',
      help: 'add-checkpoint requests this authority answered as a witness, by HTTP status',
      labelNames: ['status'] as const,
      registers,
    }),
    witnessCosignedSize: new Gauge({
      name: 'accord_witness_cosigned_size',
      help: 'Tree size of the latest checkpoint this authority cosigned, by witnessed sovereign',
      labelNames: ['log'] as const,
      registers,
    }),
    witnessConflicts: new Counter({
      name: 'accord_witness_conflicts_total',
      help: 'Conflicting checkpoints (kept as evidence) this authority saw as a witness, by witnessed sovereign',
      labelNames: ['log'] as const,
      registers,
    }),
    logWitnessUp: new Gauge({
      name: 'accord_log_witness_up',
      help: '1 when the last submission of this log to the witness succeeded, 0 while it fails',
      labelNames: ['witness'] as const,
      registers,
    }),
    logWitnessCosignedSize: new Gauge({
      name: 'accord_log_witness_cosigned_size',
      help: 'Tree size of the latest checkpoint of this log the witness cosigned',
      labelNames: ['witness'] as const,
      registers,
    }),
    logWitnessLastCosignature: new Gauge({
      name: 'accord_log_witness_last_cosignature_timestamp_seconds',
      help: 'Timestamp of the latest cosignature of this log by the witness',
      labelNames: ['witness'] as const,
      registers,
    }),
    feedIssuerAwaitingQuorum: new Gauge({
      name: 'accord_feed_issuer_awaiting_quorum',
      help: "1 while the issuer's next feed is held back because no checkpoint cosigned by its quorum of witnesses holds it",
      labelNames: ['issuer'] as const,
      registers,
    }),
    splitViewsDetected: new Counter({
      name: 'accord_split_views_detected_total',
      help: 'Split-view evidence recorded (two inconsistent checkpoints signed by one issuer), by issuer and source',
      labelNames: ['issuer', 'source'] as const,
      registers,
    }),
    splitViewEvidenceRejected: new Counter({
      name: 'accord_split_view_evidence_rejected_total',
      help: 'Evidence submitted to POST /log/evidence and refused, by error code',
      labelNames: ['code'] as const,
      registers,
    }),
    splitViewDeliveries: new Counter({
      name: 'accord_split_view_deliveries_total',
      help: 'Attempts to forward split-view evidence to peers, by peer and outcome',
      labelNames: ['peer', 'outcome'] as const,
      registers,
    }),
    logWitnessSubmissions: new Counter({
      name: 'accord_log_witness_submissions_total',
      help: "Submissions of this log's checkpoints to witnesses, by witness and outcome",
      labelNames: ['witness', 'outcome'] as const,
      registers,
    }),
    followerUpdateSequence: new Gauge({
      name: 'accord_follower_update_sequence',
      help: 'Sequence of the latest follower update this authority published',
      registers,
    }),
    followerLagSeconds: new Gauge({
      name: 'accord_follower_lag_seconds',
      help: 'On a follower: seconds since it last confirmed it holds everything its primary published',
      registers,
    }),
    followerAppliedSequence: new Gauge({
      name: 'accord_follower_applied_sequence',
      help: 'On a follower: sequence of the last follower update it applied',
      registers,
    }),
    followerPrimarySequence: new Gauge({
      name: 'accord_follower_primary_sequence',
      help: 'On a follower: sequence of the latest follower update its primary announced',
      registers,
    }),
    followerStale: new Gauge({
      name: 'accord_follower_stale',
      help: 'On a follower: 1 when past the next_update of the last update it applied (its copy may be out of date)',
      registers,
    }),
    followerPulls: new Counter({
      name: 'accord_follower_pulls_total',
      help: 'On a follower: pulls from its primary, by outcome (applied, current, unreachable, refused)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    followerRefusedUpdates: new Counter({
      name: 'accord_follower_refused_updates_total',
      help: 'On a follower: updates it refused and did not apply, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
