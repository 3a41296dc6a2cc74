import { describe, expect, it } from 'vitest';
import { auditCount, createTestAuthority } from '../helpers/authority.ts';

describe('admin auth (smoke)', () => {
  it('accepts a signed request and rejects an unsigned one', async () => {
    const a = createTestAuthority();
    const ok = await a.admin('GET', '/admin/audit');
    expect(ok.status).toBe(200);
    const bad = await a.app.request('/admin/audit');
    expect(bad.status).toBe(401);
    expect(auditCount(a.db, 'admin_auth_failed')).toBe(1);
  });
});
