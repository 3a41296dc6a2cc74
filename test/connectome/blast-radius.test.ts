// Blast radius over fixture graphs with known answers: chains, diamonds, revoked edges, lifecycle, cycles.
import { describe, expect, it } from 'vitest';
import { blast, build, chain, FAR_AHEAD, hopsOf, LONG_AGO, NOW, revokeAttestation, revokeTreaty, treaty, treatyId } from './fixtures.ts';

describe('chain a → b → c → d with a revocation at d', () => {
  const treaties = chain('a>b b>c c>d');
  const revocations = [revokeAttestation('d', 'att-1')];

  it('lists c as the direct acceptor and b, a downstream at hops 2 and 3', () => {
    const item = blast(build({ treaties, revocations }).doc, 'att-1');
    expect(item.affected_accepting_sovereigns).toEqual(['c']);
    expect(item.downstream).toEqual([
      { hops: 1, sovereign_id: 'c' },
      { hops: 2, sovereign_id: 'b' },
      { hops: 3, sovereign_id: 'a' },
    ]);
    expect(item.carrying_treaty_ids).toEqual([treatyId('a', 'b'), treatyId('b', 'c'), treatyId('c', 'd')].sort());
  });

  it('stops at the path-length cap', () => {
    const capped = blast(build({ treaties, revocations, maxPathLength: 2 }).doc, 'att-1');
    expect(hopsOf(capped)).toEqual({ c: 1, b: 2 });
    expect(capped.carrying_treaty_ids).toEqual([treatyId('b', 'c'), treatyId('c', 'd')]);
    expect(hopsOf(blast(build({ treaties, revocations, maxPathLength: 1 }).doc, 'att-1'))).toEqual({ c: 1 });
  });

  it('treats key revocations like attestation revocations of the same issuer', () => {
    const item = blast(build({ treaties, revocations: [{ ...revokeAttestation('d', 'sha256:k'), kind: 'public_key' }] }).doc, 'sha256:k');
    expect(item.type).toBe('public_key');
    expect(hopsOf(item)).toEqual({ c: 1, b: 2, a: 3 });
  });

  it('an issuer nobody recognizes has an empty blast radius', () => {
    const item = blast(build({ treaties, revocations: [revokeAttestation('z', 'att-z')] }).doc, 'att-z');
    expect(item.affected_accepting_sovereigns).toEqual([]);
    expect(item.downstream).toEqual([]);
    expect(item.propagation).toEqual([]);
  });
});

describe('diamond a → b → d, a → c → d', () => {
  const treaties = chain('a>b a>c b>d c>d');

  it('a revocation at d reaches b and c directly and a once, at its shortest distance', () => {
    const item = blast(build({ treaties, revocations: [revokeAttestation('d', 'att-1')] }).doc, 'att-1');
    expect(item.affected_accepting_sovereigns).toEqual(['b', 'c']);
    expect(item.downstream).toEqual([
      { hops: 1, sovereign_id: 'b' },
      { hops: 1, sovereign_id: 'c' },
      { hops: 2, sovereign_id: 'a' },
    ]);
    expect(item.carrying_treaty_ids).toHaveLength(4);
  });

  it('revoking b → d affects only b: a still trusts d through c', () => {
    const { doc, connectome } = build({ treaties, revocations: [revokeTreaty('b', 'd')] });
    const item = blast(doc, treatyId('b', 'd'));
    expect(item.affected_accepting_sovereigns).toEqual(['b']);
    expect(item.downstream).toEqual([{ hops: 1, sovereign_id: 'b' }]);
    expect(item.carrying_treaty_ids).toEqual([treatyId('b', 'd')]);
    expect(JSON.parse(connectome.trustPathText('a', 'd'))).toMatchObject({ trusted: true, reason: 'active_treaty_path', hop_count: 2 });
    expect(JSON.parse(connectome.trustPathText('a', 'd')).path.map((e: { treaty_id: string }) => e.treaty_id)).toEqual([
      treatyId('a', 'c'),
      treatyId('c', 'd'),
    ]);
  });

  it('revoking both sides cuts a off: the second revocation lists a', () => {
    const { doc } = build({ treaties, revocations: [revokeTreaty('b', 'd'), revokeTreaty('c', 'd')] });
    expect(hopsOf(blast(doc, treatyId('b', 'd')))).toEqual({ b: 1, a: 2 });
    expect(hopsOf(blast(doc, treatyId('c', 'd')))).toEqual({ c: 1, a: 2 });
  });
});

describe('a revoked treaty in the middle of a → b → c → d', () => {
  const treaties = chain('a>b b>c c>d');
  const revocations = [revokeTreaty('b', 'c'), revokeAttestation('d', 'att-1')];

  it('lists b and everyone whose only path to c ran through b → c', () => {
    const { doc } = build({ treaties, revocations });
    const item = blast(doc, treatyId('b', 'c'));
    expect(item.issuer_sovereign_id).toBe('b');
    expect(item.affected_accepting_sovereigns).toEqual(['b']);
    expect(item.downstream).toEqual([
      { hops: 1, sovereign_id: 'b' },
      { hops: 2, sovereign_id: 'a' },
    ]);
    expect(item.carrying_treaty_ids).toEqual([treatyId('a', 'b'), treatyId('b', 'c')]);
    expect(doc.revoked_trust_material.find((m) => m.id === treatyId('b', 'c'))).toMatchObject({
      type: 'recognition_treaty',
      subject_sovereign_id: 'c',
    });
  });

  it('respects the cap for the lost path (a would need 2 hops)', () => {
    expect(hopsOf(blast(build({ treaties, revocations, maxPathLength: 1 }).doc, treatyId('b', 'c')))).toEqual({ b: 1 });
  });

  it('the edge is drawn as revoked and no longer carries d revocations upstream', () => {
    const { doc } = build({ treaties, revocations });
    expect(doc.recognition_edges.find((e) => e.treaty_id === treatyId('b', 'c'))).toMatchObject({
      status: 'revoked',
      lifecycle_state: 'revoked',
      expiry_risk: 'none',
    });
    expect(hopsOf(blast(doc, 'att-1'))).toEqual({ c: 1 });
    expect(doc.summary).toMatchObject({ recognition_edge_count: 3, active_edge_count: 2, revoked_edge_count: 1 });
  });

  it('keeps a listed when it has another route to c: not affected', () => {
    const { doc } = build({ treaties: [...treaties, treaty('a', 'c')], revocations });
    expect(hopsOf(blast(doc, treatyId('b', 'c')))).toEqual({ b: 1 });
  });

  it('a superseded treaty is replaced, not merely revoked', () => {
    const replaced = [treaty('a', 'b', { replaced_by: treatyId('a', 'b', 2) }), treaty('a', 'b', { n: 2 })];
    const { doc } = build({ treaties: replaced, revocations: [revokeTreaty('a', 'b', { reason: 'superseded' })] });
    expect(doc.recognition_edges.map((e) => [e.treaty_id, e.lifecycle_state])).toEqual([
      [treatyId('a', 'b'), 'replaced'],
      [treatyId('a', 'b', 2), 'active'],
    ]);
  });

  it('a treaty revoked by someone other than its issuer does not revoke the edge', () => {
    const { doc } = build({ treaties, revocations: [{ ...revokeTreaty('b', 'c'), issuer_sovereign_id: 'd' }] });
    expect(doc.recognition_edges.every((e) => e.status === 'active')).toBe(true);
  });

  it('an unknown revoked treaty with a named subject still computes who lost the subject', () => {
    const { doc } = build({
      treaties: chain('a>b'),
      revocations: [{ ...revokeTreaty('b', 'x'), id: 'unknown-treaty', subject_sovereign_id: 'x' }],
    });
    expect(hopsOf(blast(doc, 'unknown-treaty'))).toEqual({ b: 1, a: 2 });
  });
});

describe('edge lifecycle', () => {
  const now = new Date(NOW);
  const hoursFromNow = (h: number) => new Date(now.getTime() + h * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

  it('expired and not-yet-valid edges carry no trust and are counted', () => {
    const treaties = [
      treaty('a', 'b', { expires_at: hoursFromNow(-1) }),
      treaty('a', 'c', { valid_from: hoursFromNow(5) }),
      treaty('a', 'd', { expires_at: hoursFromNow(48) }),
      treaty('a', 'e', { expires_at: hoursFromNow(12) }),
    ];
    const { doc, connectome } = build({
      treaties,
      revocations: [revokeAttestation('b', 'x'), revokeAttestation('c', 'y'), revokeAttestation('d', 'z')],
    });
    const states = Object.fromEntries(doc.recognition_edges.map((e) => [e.to, [e.lifecycle_state, e.expiry_risk]]));
    expect(states).toEqual({
      b: ['expired', 'none'],
      c: ['not_yet_valid', 'low'],
      d: ['expiring_soon', 'medium'],
      e: ['expiring_soon', 'high'],
    });
    expect(doc.summary).toMatchObject({ recognition_edge_count: 4, active_edge_count: 2, expired_edge_count: 1, revoked_edge_count: 0 });
    expect(doc.active_treaties.map((t) => t.subject_sovereign_id)).toEqual(['d', 'e']);
    expect(blast(doc, 'x').affected_accepting_sovereigns).toEqual([]);
    expect(blast(doc, 'y').affected_accepting_sovereigns).toEqual([]);
    expect(blast(doc, 'z').affected_accepting_sovereigns).toEqual(['a']);
    expect(JSON.parse(connectome.trustPathText('a', 'b'))).toMatchObject({ trusted: false, reason: 'no_active_treaty_path' });
    // The next change is a → c becoming valid in 5 h.
    expect(connectome.nextBoundaryMs).toBe(Date.parse(hoursFromNow(5)));
  });

  it('a not-yet-valid edge starts carrying trust at valid_from', () => {
    const treaties = [treaty('a', 'c', { valid_from: hoursFromNow(5) })];
    const before = build({ treaties, revocations: [revokeAttestation('c', 'y')] });
    const after = build({ treaties, revocations: [revokeAttestation('c', 'y')], now: new Date(before.connectome.nextBoundaryMs) });
    expect(blast(after.doc, 'y').affected_accepting_sovereigns).toEqual(['a']);
    expect(after.doc.recognition_edges[0]!.lifecycle_state).toBe('active');
  });
});

describe('graph shape', () => {
  it('refuses self-edges', () => {
    const { doc, connectome } = build({ treaties: [treaty('a', 'a'), treaty('a', 'b')], revocations: [revokeAttestation('a', 'att')] });
    expect(doc.recognition_edges.map((e) => e.treaty_id)).toEqual([treatyId('a', 'b')]);
    expect(doc.summary.recognition_edge_count).toBe(1);
    expect(blast(doc, 'att').downstream).toEqual([]);
    expect(JSON.parse(connectome.trustPathText('a', 'a'))).toEqual({
      from: 'a',
      to: 'a',
      trusted: true,
      reason: 'same_sovereign',
      path: [],
      hop_count: 0,
    });
  });

  it('walks a cycle once', () => {
    const { doc, connectome } = build({ treaties: chain('a>b b>c c>a'), revocations: [revokeAttestation('a', 'att')], maxPathLength: 10 });
    expect(blast(doc, 'att').downstream).toEqual([
      { hops: 1, sovereign_id: 'c' },
      { hops: 2, sovereign_id: 'b' },
    ]);
    expect(JSON.parse(connectome.trustPathText('a', 'c'))).toMatchObject({ trusted: true, hop_count: 2 });
  });

  it('counts a treaty id once even when reported twice', () => {
    const own = treaty('a', 'b');
    const { doc } = build({ treaties: [own, { ...own, issuer_sovereign_id: 'x', subject_sovereign_id: 'y' }] });
    expect(doc.recognition_edges.map((e) => [e.from, e.to])).toEqual([['a', 'b']]);
  });
});

describe('propagation', () => {
  const treaties = chain('b>a c>a d>a e>b');

  it('compares each affected sovereign acknowledgement with the feed that carried the revocation', () => {
    const { doc } = build({
      treaties,
      revocations: [revokeAttestation('a', 'att', { feed_sequence: 4 })],
      acknowledgements: [
        { issuer_sovereign_id: 'a', sovereign_id: 'b', sequence: 4 },
        { issuer_sovereign_id: 'a', sovereign_id: 'c', sequence: 3 },
        { issuer_sovereign_id: 'z', sovereign_id: 'd', sequence: 9 },
      ],
    });
    expect(blast(doc, 'att').propagation).toEqual([
      { acknowledged_sequence: 4, caught_up: true, sovereign_id: 'b' },
      { acknowledged_sequence: 3, caught_up: false, sovereign_id: 'c' },
      { acknowledged_sequence: null, caught_up: 'unknown', sovereign_id: 'd' },
      { acknowledged_sequence: null, caught_up: 'unknown', sovereign_id: 'e' },
    ]);
  });

  it('nobody has caught up with a revocation no feed has carried yet', () => {
    const { doc } = build({
      treaties,
      revocations: [{ ...revokeAttestation('a', 'att'), feed_sequence: undefined }],
      acknowledgements: [{ issuer_sovereign_id: 'a', sovereign_id: 'b', sequence: 7 }],
    });
    const item = blast(doc, 'att');
    expect(item.feed_sequence).toBeUndefined();
    expect(item.propagation[0]).toEqual({ acknowledged_sequence: 7, caught_up: false, sovereign_id: 'b' });
  });

  it('this authority acknowledges an issuer by importing its feed; feed status is per sovereign', () => {
    const { doc } = build({
      treaties: chain('a>x'),
      revocations: [revokeAttestation('x', 'att', { feed_sequence: 2 })],
      feeds: [{ issuer_sovereign_id: 'x', imported_sequence: 2, last_import_at: NOW, next_update: FAR_AHEAD, paused: false }],
    });
    expect(blast(doc, 'att').propagation).toEqual([{ acknowledged_sequence: 2, caught_up: true, sovereign_id: 'a' }]);
    expect(doc.sovereigns).toEqual([
      { feed: null, is_self: true, sovereign_id: 'a' },
      {
        feed: { imported_sequence: 2, last_import_at: NOW, next_update: FAR_AHEAD, paused: false, stale: false },
        is_self: false,
        sovereign_id: 'x',
      },
    ]);
  });

  it('an issuer past next_update is stale, and becomes so at the boundary', () => {
    const feeds = [
      { issuer_sovereign_id: 'x', imported_sequence: 1, last_import_at: LONG_AGO, next_update: '2026-03-01T06:00:00Z', paused: false },
    ];
    const fresh = build({ feeds });
    expect(fresh.doc.summary.stale_issuer_count).toBe(0);
    expect(fresh.connectome.nextBoundaryMs).toBe(Date.parse('2026-03-01T06:00:00Z') + 1);
    const stale = build({ feeds, now: new Date(fresh.connectome.nextBoundaryMs) });
    expect(stale.doc.summary.stale_issuer_count).toBe(1);
    expect(stale.doc.sovereigns.find((s) => s.sovereign_id === 'x')!.feed).toMatchObject({ stale: true });
  });
});
