import { describe, expect, it } from 'vitest';
import { createTestAuthority } from '../helpers/authority.ts';
import { recognizedIssuer } from '../../src/treaties/recognition.ts';
import { issueTreaty, revokeTreaty } from '../../src/treaties/service.ts';
import { subjectKey, subjectKey2, treatyInput } from './fixtures.ts';

describe('recognizedIssuer', () => {
  it('unions the keys of in-force, unrevoked own treaties, each key once', () => {
    const a = createTestAuthority();
    const t1 = issueTreaty(a.deps, treatyInput());
    const t2 = issueTreaty(a.deps, treatyInput({ subject_public_keys: [subjectKey.publicKey, subjectKey2.publicKey] }));
    issueTreaty(a.deps, treatyInput({ subject_sovereign_id: 'peer-c' }));
    const r = recognizedIssuer(a.db.sqlite, 'peer-b', a.clock());
    expect(r.keys.map((k) => k.base64).sort()).toEqual([subjectKey.publicKey, subjectKey2.publicKey].sort());
    expect(r.treatyIds.sort()).toEqual([t1.treaty_id, t2.treaty_id].sort());
    expect(r.profile).toBe('accord/1');

    revokeTreaty(a.deps, t2.treaty_id, { reason: 'privilege_withdrawn' });
    const after = recognizedIssuer(a.db.sqlite, 'peer-b', a.clock());
    expect(after.keys.map((k) => k.base64)).toEqual([subjectKey.publicKey]);
    expect(after.treatyIds).toEqual([t1.treaty_id]);
  });

  it('honours the validity window at the given time: valid_from inclusive, expires_at exclusive', () => {
    const a = createTestAuthority();
    const t = issueTreaty(
      a.deps,
      treatyInput({ valid_from: '2026-03-02T00:00:00Z', expires_at: '2026-03-05T00:00:00Z', validity_hours: undefined }),
    );
    expect(recognizedIssuer(a.db.sqlite, 'peer-b', new Date('2026-03-01T23:59:59Z')).keys).toHaveLength(0);
    expect(recognizedIssuer(a.db.sqlite, 'peer-b', new Date('2026-03-02T00:00:00Z')).treatyIds).toEqual([t.treaty_id]);
    expect(recognizedIssuer(a.db.sqlite, 'peer-b', new Date('2026-03-04T23:59:59Z')).treatyIds).toEqual([t.treaty_id]);
    expect(recognizedIssuer(a.db.sqlite, 'peer-b', new Date('2026-03-05T00:00:00Z')).keys).toHaveLength(0);
    expect(recognizedIssuer(a.db.sqlite, 'peer-b', new Date('2026-03-05T00:00:00Z')).profile).toBeNull();
  });

  it('ignores treaties of other subjects and unknown sovereigns', () => {
    const a = createTestAuthority();
    issueTreaty(a.deps, treatyInput());
    expect(recognizedIssuer(a.db.sqlite, 'peer-x', a.clock())).toEqual({ keys: [], treatyIds: [], profile: null });
  });
});
