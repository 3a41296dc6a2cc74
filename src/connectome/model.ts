// The connectome's input (a snapshot of the trust state, read from other domains) and its output shapes (SPEC §6).
import type { ExpiryRisk, LifecycleState } from '../treaties/lifecycle.ts';
import type { RevocationKind } from '../log/store.ts';

/** One recognition treaty, issued here or mirrored from a peer: the edge issuer → subject. */
export interface TreatyRecord {
  treaty_id: string;
  issuer_sovereign_id: string;
  subject_sovereign_id: string;
  valid_from: string;
  expires_at: string;
  roles: string[];
  /** Set when the treaty was superseded by another (known only for this authority's own treaties). */
  replaced_by?: string;
  /** The signed treaty as JCS text, served verbatim in `active_treaties`. */
  body: string;
}

/** One revoked item: this authority's own log entries and revocations imported from other sovereigns' feeds. */
export interface RevocationRecord {
  issuer_sovereign_id: string;
  kind: RevocationKind;
  id: string;
  reason: string;
  revoked_at: string;
  subject_sovereign_id?: string;
  /** Sequence of the issuer's feed that carried the revocation; absent while not yet published. */
  feed_sequence?: number;
}

/** Import state of one issuer's feed at this authority. */
export interface FeedStatusRecord {
  issuer_sovereign_id: string;
  imported_sequence: number;
  last_import_at: string | null;
  next_update: string | null;
  paused: boolean;
}

/** "Sovereign S has acknowledged issuer I's feed up to sequence N" (receipts; this authority's own imports). */
export interface AcknowledgementRecord {
  issuer_sovereign_id: string;
  sovereign_id: string;
  sequence: number;
}

export interface ConnectomeInput {
  selfId: string;
  now: Date;
  /** Longest trust path followed (ACCORD_MAX_PATH_LENGTH). */
  maxPathLength: number;
  treaties: TreatyRecord[];
  revocations: RevocationRecord[];
  feeds: FeedStatusRecord[];
  acknowledgements: AcknowledgementRecord[];
  /** Sovereigns known without any edge (registered peers). */
  knownSovereigns: string[];
}

// ---- Output (keys listed in JCS order: the serializer relies on it) ----

export interface FeedView {
  imported_sequence: number;
  last_import_at: string | null;
  next_update: string | null;
  paused: boolean;
  stale: boolean;
}

export interface SovereignView {
  feed: FeedView | null;
  is_self: boolean;
  sovereign_id: string;
}

export interface EdgeView {
  expires_at: string;
  expiry_risk: ExpiryRisk;
  from: string;
  lifecycle_state: LifecycleState;
  roles: string[];
  status: 'active' | 'revoked';
  to: string;
  treaty_id: string;
  valid_from: string;
}

export interface RevokedMaterialView {
  feed_sequence?: number;
  id: string;
  issuer_sovereign_id: string;
  reason: string;
  revoked_at: string;
  subject_sovereign_id?: string;
  type: RevocationKind;
}

/** `unknown`: no receipt from that sovereign for the issuer's feed. */
export type CaughtUp = boolean | 'unknown';

export interface PropagationView {
  acknowledged_sequence: number | null;
  caught_up: CaughtUp;
  sovereign_id: string;
}

export interface DownstreamView {
  hops: number;
  sovereign_id: string;
}

export interface BlastRadiusView {
  affected_accepting_sovereigns: string[];
  carrying_treaty_ids: string[];
  downstream: DownstreamView[];
  feed_sequence?: number;
  id: string;
  issuer_sovereign_id: string;
  propagation: PropagationView[];
  reason: string;
  revoked_at: string;
  subject_sovereign_id?: string;
  type: RevocationKind;
}

export interface SummaryView {
  active_edge_count: number;
  expired_edge_count: number;
  imported_revocation_count: number;
  recognition_edge_count: number;
  revoked_edge_count: number;
  revoked_trust_material_count: number;
  sovereign_count: number;
  stale_issuer_count: number;
}

export type TrustPathReason = 'active_treaty_path' | 'direct_treaty_revoked' | 'no_active_treaty_path' | 'same_sovereign';

export interface TrustPathView {
  from: string;
  hop_count: number;
  path: EdgeView[];
  reason: TrustPathReason;
  to: string;
  trusted: boolean;
}
