// The audit log: append-only hash chain, tamper detection, and paging through GET /admin/audit.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appendAudit,
  AUDIT_EVENT_TYPES,
  auditEventHash,
  listAuditCanonical,
  SYSTEM_ACTOR,
  verifyAuditChain,
  verifyStoredAuditChain,
  type AuditEvent,
} from '../../src/authority/audit.ts';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { createTestAuthority, dbDigest, type TestAuthority } from '../helpers/authority.ts';

function storedEvents(a: TestAuthority): AuditEvent[] {
  return (a.db.sqlite.prepare('SELECT canonical FROM audit_events ORDER BY seq').all() as Array<{ canonical: string }>).map(
    (r) => JSON.parse(r.canonical) as AuditEvent,
  );
}

/** An authority with `n` events after the initial one, alternating two types. */
function withEvents(n: number): TestAuthority {
  const a = createTestAuthority();
  for (let i = 0; i < n; i++) {
    a.clock.advance(1);
    appendAudit(a.db.sqlite, a.clock, {
      eventType: i % 2 === 0 ? 'operator_keys_reloaded' : 'admin_auth_failed',
      actor: SYSTEM_ACTOR,
      requestId: `req-${i}`,
      details: { i, note: 'Zoë' },
    });
  }
  return a;
}

describe('audit chain', () => {
  it('links each event to the previous one and hashes JCS(event without hash)', () => {
    const a = withEvents(4);
    const events = storedEvents(a);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events[0]!.prev_hash).toBeNull();
    for (let i = 1; i < events.length; i++) expect(events[i]!.prev_hash).toBe(events[i - 1]!.hash);
    for (const e of events) {
      const { hash, ...rest } = e;
      expect(hash).toBe(auditEventHash(rest));
      expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    expect(events[1]).toMatchObject({
      event_type: 'operator_keys_reloaded',
      actor: { type: 'system' },
      request_id: 'req-0',
      details: { i: 0, note: 'Zoë' },
      occurred_at: '2026-03-01T00:00:01Z',
    });
    expect(events[1]!.event_id).toMatch(/^[0-9a-f-]{36}$/);
    const report = verifyStoredAuditChain(a.db.sqlite);
    expect(report).toMatchObject({ ok: true, count: 5, firstSeq: 1, lastSeq: 5, lastHash: events[4]!.hash, gaps: [], breaks: [] });
  });

  it('stores each event as its JCS text, the form the API and exports return', () => {
    const a = withEvents(1);
    const row = a.db.sqlite.prepare('SELECT canonical FROM audit_events WHERE seq = 2').get() as { canonical: string };
    expect(row.canonical).toBe(canonicalJson(JSON.parse(row.canonical)));
  });

  it('commits with the change it records, and rolls back with it', () => {
    const a = createTestAuthority();
    const before = dbDigest(a.db, []);
    expect(() =>
      a.db.sqlite.transaction(() => {
        appendAudit(a.db.sqlite, a.clock, { eventType: 'operator_keys_reloaded', actor: SYSTEM_ACTOR });
        throw new Error('the change failed');
      })(),
    ).toThrow('the change failed');
    expect(dbDigest(a.db, [])).toBe(before);
  });

  it('refuses values that have no canonical form, writing nothing', () => {
    const a = createTestAuthority();
    const before = dbDigest(a.db, []);
    expect(() =>
      appendAudit(a.db.sqlite, a.clock, { eventType: 'operator_keys_reloaded', actor: SYSTEM_ACTOR, details: { ratio: 0.5 } }),
    ).toThrow();
    expect(dbDigest(a.db, [])).toBe(before);
  });

  it('docs/audit-events.md names every contract event type', () => {
    const doc = fs.readFileSync(path.join(import.meta.dirname, '..', '..', 'docs', 'audit-events.md'), 'utf8');
    for (const t of AUDIT_EVENT_TYPES) expect(doc, t).toContain(`\`${t}\``);
  });

  it('lists every contract event type once', () => {
    expect(new Set(AUDIT_EVENT_TYPES).size).toBe(AUDIT_EVENT_TYPES.length);
    for (const t of [
      'authority_initialized',
      'admin_auth_failed',
      'operator_keys_reloaded',
      'database_restored',
      'signing_key_rotated',
      'recognition_treaty_issued',
    ]) {
      expect(AUDIT_EVENT_TYPES).toContain(t);
    }
  });
});

describe('audit tamper detection', () => {
  it('detects changed details (the row hash no longer matches)', () => {
    const a = withEvents(4);
    const row = a.db.sqlite.prepare('SELECT canonical FROM audit_events WHERE seq = 3').get() as { canonical: string };
    const changed = JSON.parse(row.canonical) as AuditEvent;
    changed.details = { ...changed.details, i: 99 };
    a.db.sqlite.prepare('UPDATE audit_events SET canonical = ? WHERE seq = 3').run(canonicalJson(changed));
    const report = verifyStoredAuditChain(a.db.sqlite);
    expect(report.ok).toBe(false);
    expect(report.breaks).toContainEqual(expect.objectContaining({ seq: 3, reason: 'hash_mismatch' }));
  });

  it('detects a changed event whose hash was recomputed (the next link breaks)', () => {
    const a = withEvents(4);
    const events = storedEvents(a);
    const { hash: _old, ...rest } = { ...events[2]!, details: { forged: true } };
    const forged = { ...rest, hash: auditEventHash(rest) };
    a.db.sqlite.prepare('UPDATE audit_events SET canonical = ?, hash = ? WHERE seq = 3').run(canonicalJson(forged), forged.hash);
    const report = verifyStoredAuditChain(a.db.sqlite);
    expect(report.ok).toBe(false);
    expect(report.breaks).toEqual([expect.objectContaining({ seq: 4, reason: 'prev_hash_mismatch' })]);
  });

  it('detects a deleted row in the middle and at the start', () => {
    const a = withEvents(4);
    a.db.sqlite.prepare('DELETE FROM audit_events WHERE seq = 3').run();
    const middle = verifyStoredAuditChain(a.db.sqlite);
    expect(middle.ok).toBe(false);
    expect(middle.breaks).toContainEqual(expect.objectContaining({ seq: 4, reason: 'missing_events' }));

    const b = withEvents(2);
    b.db.sqlite.prepare('DELETE FROM audit_events WHERE seq = 1').run();
    const first = verifyStoredAuditChain(b.db.sqlite);
    expect(first.ok).toBe(false);
    expect(first.breaks).toContainEqual(expect.objectContaining({ seq: 2, reason: 'missing_events' }));
  });

  it('detects reordered rows', () => {
    const a = withEvents(4);
    const r2 = a.db.sqlite.prepare('SELECT canonical, hash, event_type FROM audit_events WHERE seq = 2').get() as {
      canonical: string;
      hash: string;
      event_type: string;
    };
    const r3 = a.db.sqlite.prepare('SELECT canonical, hash, event_type FROM audit_events WHERE seq = 3').get() as {
      canonical: string;
      hash: string;
      event_type: string;
    };
    const swap = a.db.sqlite.prepare('UPDATE audit_events SET canonical = ?, hash = ?, event_type = ? WHERE seq = ?');
    a.db.sqlite.transaction(() => {
      swap.run(r3.canonical, r3.hash, r3.event_type, 2);
      swap.run(r2.canonical, r2.hash, r2.event_type, 3);
    })();
    const report = verifyStoredAuditChain(a.db.sqlite);
    expect(report.ok).toBe(false);
    expect(report.breaks.map((b) => b.reason)).toEqual(expect.arrayContaining(['stored_columns_mismatch']));

    // The same reordering in an exported list of events.
    const events = storedEvents(withEvents(4));
    const reordered = [events[0], events[2], events[1], events[3], events[4]];
    const exported = verifyAuditChain(reordered);
    expect(exported.ok).toBe(false);
    expect(exported.breaks.map((b) => b.reason)).toContain('seq_not_increasing');
  });

  it('detects a first event that claims a predecessor, and malformed lines', () => {
    const events = storedEvents(withEvents(1));
    const { hash: _h, ...rest } = { ...events[0]!, prev_hash: 'sha256:00' };
    expect(verifyAuditChain([{ ...rest, hash: auditEventHash(rest) }]).breaks).toContainEqual(
      expect.objectContaining({ reason: 'first_event_has_prev_hash' }),
    );
    expect(verifyAuditChain([null, { seq: 'x' }]).breaks.map((b) => b.reason)).toEqual(['malformed_event', 'malformed_event']);
  });

  it('a filtered export reports gaps without failing, unless it claims to be complete', () => {
    const events = storedEvents(withEvents(4));
    const filtered = events.filter((e) => e.event_type !== 'admin_auth_failed');
    const report = verifyAuditChain(filtered);
    expect(report.ok).toBe(true);
    expect(filtered.map((e) => e.seq)).toEqual([1, 2, 4]);
    expect(report.gaps).toEqual([{ after_seq: 2, next_seq: 4 }]);
    expect(verifyAuditChain(filtered, { complete: true }).ok).toBe(false);
  });
});

describe('GET /admin/audit', () => {
  type Page = { events: AuditEvent[]; next_after_seq: number | null };

  it('pages by sequence with after_seq and limit until next_after_seq is null', async () => {
    const a = withEvents(6); // seq 1..7
    const seen: number[] = [];
    let after = 0;
    for (let guard = 0; guard < 10; guard++) {
      const res = await a.admin('GET', `/admin/audit?after_seq=${after}&limit=3`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as Page;
      seen.push(...page.events.map((e) => e.seq));
      if (page.next_after_seq === null) break;
      after = page.next_after_seq;
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('returns events byte-for-byte as stored, so every hash can be recomputed', async () => {
    const a = withEvents(2);
    const res = await a.admin('GET', '/admin/audit');
    const text = await res.text();
    const stored = (a.db.sqlite.prepare('SELECT canonical FROM audit_events ORDER BY seq').all() as Array<{ canonical: string }>).map(
      (r) => r.canonical,
    );
    expect(text).toBe(`{"events":[${stored.join(',')}],"next_after_seq":null}`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const page = JSON.parse(text) as Page;
    expect(verifyAuditChain(page.events, { complete: true }).ok).toBe(true);
  });

  it('filters by one or more event_type values', async () => {
    const a = withEvents(5);
    const one = (await (await a.admin('GET', '/admin/audit?event_type=operator_keys_reloaded')).json()) as Page;
    expect(one.events.map((e) => e.event_type)).toEqual(['operator_keys_reloaded', 'operator_keys_reloaded', 'operator_keys_reloaded']);
    const two = (await (
      await a.admin('GET', '/admin/audit?event_type=operator_keys_reloaded&event_type=authority_initialized&limit=2')
    ).json()) as Page;
    expect(two.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(two.next_after_seq).toBe(2);
    // The admin requests themselves are not audited; only the five appended events and the initial one exist.
    expect(listAuditCanonical(a.db.sqlite, {}).rows).toHaveLength(6);
  });

  it.each([
    ['a negative after_seq', '?after_seq=-1'],
    ['a fractional limit', '?limit=1.5'],
    ['a zero limit', '?limit=0'],
    ['a limit above 1000', '?limit=1001'],
    ['an unknown event type', '?event_type=made_up'],
    ['an unknown parameter', '?since=2026-01-01T00:00:00Z'],
    ['a non-numeric after_seq', '?after_seq=abc'],
    ['an empty after_seq', '?after_seq='],
    ['a limit in exponent form', '?limit=1e2'],
  ])('refuses %s with 422 invalid_query', async (_name, query) => {
    const a = createTestAuthority();
    const res = await a.admin('GET', `/admin/audit${query}`);
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: { code: string; details: { issues: unknown[] } } };
    expect(body.error.code).toBe('invalid_query');
    expect(body.error.details.issues.length).toBeGreaterThan(0);
  });
});
