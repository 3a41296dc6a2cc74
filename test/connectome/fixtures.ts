// Fixture graphs for the connectome: treaties and revocations written as edges, with known answers.
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { buildConnectome, type Connectome } from '../../src/connectome/connectome.ts';
import type { ConnectomeInput, RevocationRecord, TreatyRecord } from '../../src/connectome/model.ts';

export const NOW = '2026-03-01T00:00:00Z';
export const LONG_AGO = '2026-01-01T00:00:00Z';
export const FAR_AHEAD = '2027-01-01T00:00:00Z';

export function treatyId(from: string, to: string, n = 0): string {
  return `t-${from}-${to}${n ? `-${n}` : ''}`;
}

export function treaty(from: string, to: string, options: Partial<TreatyRecord> & { n?: number } = {}): TreatyRecord {
  const { n, ...rest } = options;
  const record: TreatyRecord = {
    treaty_id: treatyId(from, to, n),
    issuer_sovereign_id: from,
    subject_sovereign_id: to,
    valid_from: LONG_AGO,
    expires_at: FAR_AHEAD,
    roles: ['role:anchor'],
    body: '',
    ...rest,
  };
  if (!rest.body) {
    const { treaty_id, issuer_sovereign_id, subject_sovereign_id, valid_from, expires_at } = record;
    record.body = canonicalJson({ treaty_id, issuer_sovereign_id, subject_sovereign_id, valid_from, expires_at, status: 'active' });
  }
  return record;
}

/** "a>b c>d": one active treaty per pair. */
export function chain(spec: string): TreatyRecord[] {
  return spec
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => {
      const [from, to] = pair.split('>');
      return treaty(from!, to!);
    });
}

export function revokeTreaty(from: string, to: string, extra: Partial<RevocationRecord> = {}): RevocationRecord {
  return {
    issuer_sovereign_id: from,
    kind: 'recognition_treaty',
    id: treatyId(from, to),
    reason: 'key_compromise',
    revoked_at: NOW,
    feed_sequence: 1,
    ...extra,
  };
}

export function revokeAttestation(issuer: string, id: string, extra: Partial<RevocationRecord> = {}): RevocationRecord {
  return {
    issuer_sovereign_id: issuer,
    kind: 'membership_attestation',
    id,
    reason: 'key_compromise',
    revoked_at: NOW,
    feed_sequence: 1,
    ...extra,
  };
}

export function input(partial: Partial<ConnectomeInput> = {}): ConnectomeInput {
  return {
    selfId: 'a',
    now: new Date(NOW),
    maxPathLength: 3,
    treaties: [],
    revocations: [],
    feeds: [],
    acknowledgements: [],
    knownSovereigns: [],
    ...partial,
  };
}

export interface Built {
  connectome: Connectome;
  doc: ConnectomeDoc;
}

// The document as parsed JSON, typed loosely enough for assertions.
export interface ConnectomeDoc {
  generated_at: string;
  graph_digest: string;
  authority: { sovereign_id: string; max_path_length: number };
  summary: Record<string, number>;
  sovereigns: Array<{ sovereign_id: string; is_self: boolean; feed: null | Record<string, unknown> }>;
  recognition_edges: Array<{ from: string; to: string; treaty_id: string; status: string; lifecycle_state: string; expiry_risk: string }>;
  active_treaties: Array<Record<string, unknown>>;
  revoked_trust_material: Array<Record<string, unknown>>;
  revocation_blast_radius: Array<{
    id: string;
    type: string;
    issuer_sovereign_id: string;
    affected_accepting_sovereigns: string[];
    downstream: Array<{ sovereign_id: string; hops: number }>;
    carrying_treaty_ids: string[];
    propagation: Array<{ sovereign_id: string; caught_up: boolean | 'unknown'; acknowledged_sequence: number | null }>;
    feed_sequence?: number;
  }>;
}

export function build(partial: Partial<ConnectomeInput> = {}): Built {
  const connectome = buildConnectome(input(partial));
  return { connectome, doc: JSON.parse(connectome.body.toString('utf8')) as ConnectomeDoc };
}

export function blast(doc: ConnectomeDoc, id: string) {
  const item = doc.revocation_blast_radius.find((b) => b.id === id);
  if (!item) throw new Error(`no blast radius for ${id}`);
  return item;
}

export function hopsOf(item: { downstream: Array<{ sovereign_id: string; hops: number }> }): Record<string, number> {
  return Object.fromEntries(item.downstream.map((d) => [d.sovereign_id, d.hops]));
}
