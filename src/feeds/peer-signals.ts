// Per-peer signals of trouble: feeds pulled from a peer and rejected, and replayed or out-of-window messages it sent.
import type { AppDeps } from '../authority/context.ts';

/** Kinds of replayed or out-of-window messages, the `kind` label of accord_peer_replayed_requests_total. */
export const PEER_REPLAY_KINDS = ['feed_replayed', 'feed_out_of_window', 'receipt_replayed', 'receipt_out_of_window'] as const;
export type PeerReplayKind = (typeof PEER_REPLAY_KINDS)[number];

type SignalDeps = Pick<AppDeps, 'metrics'>;

/** A feed pulled from `peer` was rejected at import with `reason` (a feed timestamp out of bounds also counts as out of window). */
export function countPeerRejection(deps: SignalDeps, peer: string, reason: string): void {
  deps.metrics.peerImportRejections.inc({ peer, reason });
  if (reason === 'invalid_timestamps') countPeerReplay(deps, peer, 'feed_out_of_window');
}

/** `peer` (a registered or recognized sovereign, never a caller-chosen name) sent a replayed or out-of-window message. */
export function countPeerReplay(deps: SignalDeps, peer: string, kind: PeerReplayKind): void {
  deps.metrics.peerReplays.inc({ peer, kind });
}
