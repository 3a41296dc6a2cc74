// The change bus: domains announce committed changes; caches and derived documents listen. Each event
// and its payload are declared here, once.
import { EventEmitter } from 'node:events';

export interface ChangeEvents {
  /** A treaty was issued, superseded or revoked (a peer's mirrored treaties too). */
  treaties: [];
  /** Something of this authority's was revoked: a treaty, an attestation, or signing keys (with their ids). */
  revocation: [] | [{ kind: 'public_key'; ids: string[] }];
  /** A peer's feed was imported, an equivocation recorded, or an import rolled back. */
  'feed-imported': [{ issuer: string; sequence: number; equivocation?: true; rolled_back?: true }];
  /** This authority published feeds up to `latest_sequence`. */
  'feed-published': [{ latest_sequence: number }];
  /** A peer's receipt for one of this authority's feeds was recorded. */
  'feed-receipt': [{ importer: string; sequence: number }];
  /** A peer was added, removed, paused, resumed or its pull state changed. */
  peers: [];
  /**
   * As a witness, this authority refused a validly signed checkpoint that contradicts the one it
   * cosigned (the conflict is stored): the two notes, and the proof sent from the cosigned size.
   */
  'witness-conflict': [{ sovereign_id: string; cosigned_note: string; submitted_note: string; proof: string[]; request_id: string | null }];
  /** Split-view evidence was recorded against an issuer; deliveries to peers may be due. */
  'split-view': [{ issuer: string; evidence_hash: string }];
  /** Witnesses' cosignatures on this log's checkpoint `sequence` were stored (the served checkpoint changed). */
  'log-cosigned': [{ sequence: number }];
  /** Follower updates up to `latest_sequence` were signed (what a follower, or a mirror it reads, serves changed). */
  'follower-updates': [{ latest_sequence: number }];
  /** The signing keys changed (rotation, retirement). */
  'signing-keys': [{ signing_key_ids: string[] }];
}

export type ChangeEvent = keyof ChangeEvents;

export class ChangeBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every cache and document of an authority listens; the default limit of 10 is a leak warning for apps.
    this.emitter.setMaxListeners(50);
  }

  emit<E extends ChangeEvent>(event: E, ...payload: ChangeEvents[E]): void {
    this.emitter.emit(event, ...payload);
  }

  on<E extends ChangeEvent>(event: E, listener: (...payload: ChangeEvents[E]) => void): void {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
  }

  off<E extends ChangeEvent>(event: E, listener: (...payload: ChangeEvents[E]) => void): void {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
  }
}
