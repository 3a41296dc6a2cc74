// Signing-key rotation: overlap (both keys declared, feeds co-signed), retirement as a public_key revocation, reload.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/authority/audit.ts';
import { defaultConfig } from '../../src/authority/config.ts';
import { parsePublicKey, verifySignedObject, type PublicKeyInfo } from '../../src/authority/crypto.ts';
import { loadIdentity, rotatedSigningKeyFile } from '../../src/authority/identity.ts';
import { createSigningKeyFile, fileMode } from '../../src/authority/key-files.ts';
import { startAuthority } from '../../src/server/server.ts';
import { openDatabase } from '../../src/db/database.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { retireDueSigningKeys, rotateSigningKey } from '../../src/ops/key-rotation.ts';
import { issueTreaty } from '../../src/treaties/service.ts';
import { auditCount, dbDigest, lastAudit, seedFor, T0, type TestAuthority } from '../helpers/authority.ts';
import { treatyInput } from '../treaties/fixtures.ts';
import { accord, fileAuthority, removeTempDirs, tempDir } from './helpers.ts';

afterAll(removeTempDirs);

function info(key: { publicKey: string } | string): PublicKeyInfo {
  const parsed = parsePublicKey(typeof key === 'string' ? key : key.publicKey);
  if (!parsed.ok) throw new Error('bad key');
  return parsed.key;
}

async function declaration(a: { app: TestAuthority['app'] }) {
  return (await (await a.app.request('/.well-known/network-authority')).json()) as {
    public_keys: Array<{ key_id: string; public_key: string; not_after?: string }>;
    signatures: Array<{ key_id: string; sig: string }>;
  };
}

function latestFeed(a: TestAuthority) {
  const row = a.db.sqlite.prepare('SELECT body FROM published_feeds ORDER BY sequence DESC LIMIT 1').get() as { body: string };
  return JSON.parse(row.body) as {
    sequence: number;
    issued_by: string;
    entries: Array<{ kind: string; id: string; reason: string; subject_sovereign_id?: string }>;
    signatures: Array<{ key_id: string; sig: string }>;
  };
}

/** A file-backed authority whose configured signing key file exists (as after `accord init`). */
function authorityWithKeyFile(): TestAuthority {
  const dir = tempDir();
  const a = fileAuthority(dir, { config: { signingKeyFile: path.join(dir, 'authority-signing-key.json') } });
  createSigningKeyFile(a.config.signingKeyFile, T0, seedFor(`authority:${a.sovereignId}`));
  return a;
}

describe('signing-key rotation', () => {
  it('during the overlap: both keys declared (old with not_after), feeds carry both signatures, new objects use the new key', async () => {
    const a = authorityWithKeyFile();
    const old = a.signingKey;
    const result = rotateSigningKey(a.deps, { overlapDays: 7, actor: SYSTEM_ACTOR });
    const fresh = result.new_key;
    expect(result.overlapping_keys).toEqual([{ key_id: old.keyId, not_after: '2026-03-08T00:00:00Z' }]);
    expect(fileMode(fresh.file)).toBe(0o600);
    expect(fresh.file).toBe(rotatedSigningKeyFile(a.config, fresh.key_id));

    const decl = await declaration(a);
    expect(decl.public_keys).toEqual([
      { key_id: old.keyId, public_key: old.publicKey, not_after: '2026-03-08T00:00:00Z' },
      { key_id: fresh.key_id, public_key: fresh.public_key },
    ]);
    expect(decl.signatures.map((s) => s.key_id).sort()).toEqual([old.keyId, fresh.key_id].sort());

    publishFeeds(a.deps, { trigger: 'admin' });
    const feed = latestFeed(a);
    expect(feed.issued_by).toBe(fresh.key_id);
    expect(feed.signatures.map((s) => s.key_id)).toEqual([fresh.key_id, old.keyId]);
    // Each signature verifies on its own: a peer that still pins only the old key keeps verifying.
    expect(verifySignedObject(feed, [info(old)])).toEqual({ valid: true, keyId: old.keyId });
    expect(verifySignedObject(feed, [info(fresh.public_key)])).toEqual({ valid: true, keyId: fresh.key_id });

    const treaty = issueTreaty(a.deps, treatyInput());
    expect(treaty.issued_by).toBe(fresh.key_id);
    expect(lastAudit(a.db).event_type).toBe('recognition_treaty_issued');
    const rotated = a.db.sqlite.prepare("SELECT canonical FROM audit_events WHERE event_type = 'signing_key_rotated'").get() as {
      canonical: string;
    };
    expect(JSON.parse(rotated.canonical).details).toMatchObject({
      new_key_id: fresh.key_id,
      previous_key_ids: [old.keyId],
      overlap_days: 7,
      reason: 'superseded',
    });
  });

  it('after the overlap: the old key is retired and published as a public_key revocation; feeds are signed by the new key only', async () => {
    const a = authorityWithKeyFile();
    const old = a.signingKey;
    const { new_key: fresh } = rotateSigningKey(a.deps, { overlapDays: 7, actor: SYSTEM_ACTOR });
    publishFeeds(a.deps, { trigger: 'admin' });

    a.clock.advance(7 * 86400 - 1);
    expect(retireDueSigningKeys(a.deps).retired).toEqual([]);
    a.clock.advance(1);
    const retired = retireDueSigningKeys(a.deps);
    expect(retired).toMatchObject({
      retired: [{ key_id: old.keyId, not_after: '2026-03-08T00:00:00Z', log_index: 0 }],
      signing_key_ids: [fresh.key_id],
    });
    expect(auditCount(a.db, 'signing_key_retired')).toBe(1);
    expect(a.db.sqlite.prepare('SELECT retired_at FROM authority_signing_keys WHERE key_id = ?').get(old.keyId)).toEqual({
      retired_at: '2026-03-08T00:00:00Z',
    });

    publishFeeds(a.deps, { trigger: 'admin' });
    const feed = latestFeed(a);
    expect(feed.entries).toEqual([
      {
        index: 0,
        kind: 'public_key',
        id: old.keyId,
        reason: 'superseded',
        revoked_at: '2026-03-08T00:00:00Z',
        subject_sovereign_id: a.sovereignId,
      },
    ]);
    expect(feed.signatures.map((s) => s.key_id)).toEqual([fresh.key_id]);
    expect(verifySignedObject(feed, [info(old)]).valid).toBe(false);

    const decl = await declaration(a);
    expect(decl.public_keys.map((k) => k.key_id)).toEqual([fresh.key_id]);
    expect(decl.signatures.map((s) => s.key_id)).toEqual([fresh.key_id]);
    // Running it again changes nothing.
    const before = dbDigest(a.db, []);
    expect(retireDueSigningKeys(a.deps).retired).toEqual([]);
    expect(dbDigest(a.db, [])).toBe(before);
  });

  it('a restart loads every non-retired key whose file exists, newest first; after retirement only the new one', () => {
    const a = authorityWithKeyFile();
    const { new_key: fresh } = rotateSigningKey(a.deps, { overlapDays: 1, actor: SYSTEM_ACTOR });
    const during = loadIdentity(a.config, a.db);
    expect(during.signingKeys.map((k) => k.keyId)).toEqual([fresh.key_id, a.signingKey.keyId]);
    expect(during.publishedKeys.map((k) => k.key_id)).toEqual([a.signingKey.keyId, fresh.key_id]);
    a.clock.advance(86400);
    retireDueSigningKeys(a.deps);
    const after = loadIdentity(a.config, a.db);
    expect(after.signingKeys.map((k) => k.keyId)).toEqual([fresh.key_id]);
    expect(after.publishedKeys).toEqual([{ key_id: fresh.key_id, public_key: fresh.public_key }]);
  });

  it('a compromised key: overlap 0 retires it at once with reason key_compromise, in the rotation transaction', () => {
    const a = authorityWithKeyFile();
    const result = rotateSigningKey(a.deps, { overlapDays: 0, reason: 'key_compromise', actor: SYSTEM_ACTOR });
    expect(result.retired).toEqual([{ key_id: a.signingKey.keyId, log_index: 0 }]);
    expect(result.overlapping_keys).toEqual([]);
    expect(a.deps.identity.signingKeys.map((k) => k.keyId)).toEqual([result.new_key.key_id]);
    const entry = a.db.sqlite.prepare('SELECT entry FROM revocation_log WHERE idx = 0').get() as { entry: string };
    expect(JSON.parse(entry.entry)).toMatchObject({ kind: 'public_key', id: a.signingKey.keyId, reason: 'key_compromise' });
  });

  it('refuses to retire the last key that signs, changing nothing', () => {
    const a = authorityWithKeyFile();
    a.db.sqlite.prepare('UPDATE authority_signing_keys SET not_after = ?').run('2026-02-01T00:00:00Z');
    const before = dbDigest(a.db, []);
    expect(() => retireDueSigningKeys(a.deps)).toThrow(/no signing key loaded/);
    expect(dbDigest(a.db, [])).toBe(before);
  });
});

describe('signing-key admin routes', () => {
  it('rotate (201), list, retire; invalid requests are 422 and change nothing', async () => {
    const a = authorityWithKeyFile();
    const before = dbDigest(a.db);
    for (const body of [
      { overlap_days: -1 },
      { overlap_days: 1.5 },
      { overlap_days: 400 },
      { reason: 'bored' },
      { overlap_days: 3, extra: true },
    ]) {
      const res = await a.admin('POST', '/admin/signing-keys/rotate', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_rotation_request');
    }
    expect(dbDigest(a.db)).toBe(before);
    expect(fs.existsSync(path.join(a.config.dataDir, 'signing-keys'))).toBe(false);

    const rotated = await a.admin('POST', '/admin/signing-keys/rotate', { overlap_days: 2 });
    expect(rotated.status).toBe(201);
    const { new_key } = (await rotated.json()) as { new_key: { key_id: string } };
    expect(lastAudit(a.db)).toMatchObject({
      event_type: 'signing_key_rotated',
      actor: { type: 'operator', label: 'ops', key_id: a.operator.key.keyId },
    });

    const list = (await (await a.admin('GET', '/admin/signing-keys')).json()) as {
      keys: Array<{ key_id: string; status: string; signing: boolean }>;
    };
    expect(list.keys.map((k) => [k.key_id, k.status, k.signing])).toEqual([
      [a.signingKey.keyId, 'retiring', true],
      [new_key.key_id, 'active', true],
    ]);
    a.clock.advance(2 * 86400);
    const retire = await a.admin('POST', '/admin/signing-keys/retire');
    expect(retire.status).toBe(200);
    expect(((await retire.json()) as { retired: Array<{ key_id: string }> }).retired.map((r) => r.key_id)).toEqual([a.signingKey.keyId]);
  });

  it('accord keys rotate against a running server (subprocess): the well-known declaration lists both keys at once', async () => {
    const dir = tempDir();
    const config = defaultConfig({
      dataDir: dir,
      dbPath: path.join(dir, 'accord.db'),
      signingKeyFile: path.join(dir, 'authority-signing-key.json'),
      port: 0,
      logLevel: 'silent',
    });
    const running = await startAuthority(config, { background: false });
    try {
      const env = { ACCORD_DATA_DIR: dir, ACCORD_URL: running.url, ACCORD_ADMIN_KEY_FILE: running.init.devOperatorKey!.file };
      const result = await accord(['keys', 'rotate', '--overlap-days', '3'], { env });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const { new_key } = JSON.parse(result.stdout) as { new_key: { key_id: string } };
      const decl = (await (await fetch(`${running.url}/.well-known/network-authority`)).json()) as {
        public_keys: Array<{ key_id: string; not_after?: string }>;
      };
      expect(decl.public_keys.map((k) => k.key_id)).toEqual([running.init.signingKeyId, new_key.key_id]);
      expect(decl.public_keys[0]!.not_after).toBeDefined();
    } finally {
      await running.close();
    }
    // The next start loads both keys from their files.
    const db = openDatabase(config.dbPath);
    try {
      expect(loadIdentity(config, db).signingKeys).toHaveLength(2);
    } finally {
      db.close();
    }
  });
});
