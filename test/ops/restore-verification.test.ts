// accord restore verifies a backup's content: a forged object or an edited audit event is refused, the live database untouched.
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { auditEventHash, verifyStoredAuditChain, type AuditEvent } from '../../src/authority/audit.ts';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { hashRef, signObject, type SigningKey } from '../../src/authority/crypto.ts';
import { openDatabase } from '../../src/db/database.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { backupDatabase } from '../../src/ops/backup.ts';
import { parseTrustAnchor } from '../../src/ops/checkpoint.ts';
import { restoreDatabase } from '../../src/ops/restore.ts';
import { issueAttestation } from '../../src/treaties/attestations.ts';
import { issueTreaty, revokeTreaty } from '../../src/treaties/service.ts';
import { testKey, type TestAuthority } from '../helpers/authority.ts';
import { attestationInput, treatyInput } from '../treaties/fixtures.ts';
import { accord, fileAuthority, removeTempDirs, tempDir } from './helpers.ts';

afterAll(removeTempDirs);

const operator = { label: 'ops', keyId: 'sha256:'.padEnd(71, '0') };
const forger = testKey('forger');

/** A live authority (closed) with treaties, an attestation, a revocation and a published feed, and a backup of it. */
async function liveAndBackup(): Promise<{ dir: string; dbPath: string; backup: string; a: TestAuthority }> {
  const dir = tempDir();
  const a = fileAuthority(dir, { sovereignId: 'verify-na' });
  issueTreaty(a.deps, treatyInput({ subject_sovereign_id: 'peer-1' }), operator);
  revokeTreaty(
    a.deps,
    issueTreaty(a.deps, treatyInput({ subject_sovereign_id: 'peer-2' }), operator).treaty_id,
    { reason: 'key_compromise' },
    operator,
  );
  issueAttestation(a.deps, attestationInput(), operator);
  publishFeeds(a.deps, { trigger: 'admin' });
  const backup = path.join(dir, 'backup.db');
  await backupDatabase({ dbPath: path.join(dir, 'accord.db'), output: backup });
  a.db.close();
  return { dir, dbPath: path.join(dir, 'accord.db'), backup, a };
}

/** A copy of `backup` changed by `edit` (its sha256 sidecar dropped: whoever forges a backup rewrites that too). */
function forge(backup: string, name: string, edit: (db: BetterSqlite3.Database) => void): string {
  const file = path.join(path.dirname(backup), name);
  fs.copyFileSync(backup, file);
  const db = new BetterSqlite3(file);
  try {
    edit(db);
  } finally {
    db.close();
  }
  return file;
}

/** Inserts a treaty recognizing `subject` that claims to be ours, signed by `key` (or carrying a junk signature). */
function insertTreaty(db: BetterSqlite3.Database, subject: string, key: SigningKey, junk = false): string {
  const template = db.prepare('SELECT * FROM treaties LIMIT 1').get() as Record<string, string>;
  const { signatures: _signatures, ...unsigned } = JSON.parse(template.body!) as Record<string, unknown>;
  const treatyId = randomUUID();
  const signed = signObject({ ...unsigned, treaty_id: treatyId, subject_sovereign_id: subject }, [key]);
  const body = canonicalJson(
    junk ? { ...signed, signatures: [{ key_id: signed.signatures[0]!.key_id, sig: randomBytes(64).toString('base64') }] } : signed,
  );
  db.prepare(
    `INSERT INTO treaties (treaty_id, issuer_sovereign_id, subject_sovereign_id, issued_at, valid_from, expires_at, issued_by, authorized_by, subject_profile, body)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    treatyId,
    template.issuer_sovereign_id,
    subject,
    template.issued_at,
    template.valid_from,
    template.expires_at,
    key.keyId,
    null,
    template.subject_profile,
    body,
  );
  return treatyId;
}

/** Edits the details of one stored audit event, leaving its hash as it was. */
function editAuditEvent(db: BetterSqlite3.Database, seq: number): void {
  const { canonical } = db.prepare('SELECT canonical FROM audit_events WHERE seq = ?').get(seq) as { canonical: string };
  const event = JSON.parse(canonical) as AuditEvent;
  db.prepare('UPDATE audit_events SET canonical = ? WHERE seq = ?').run(
    canonicalJson({ ...event, details: { ...event.details, edited: true } }),
    seq,
  );
}

const bytes = (file: string) => fs.readFileSync(file);

describe('restore refuses a backup whose content does not verify (subprocess)', () => {
  it('a forged treaty, an edited audit event, a forged attestation or feed, a foreign signing key: one line, non-zero exit, live database byte-identical', async () => {
    const base = await liveAndBackup();
    const cases: Array<{ name: string; backup: string; expected: RegExp }> = [
      {
        name: 'treaty with a junk signature',
        backup: forge(base.backup, 'junk-treaty.db', (db) => insertTreaty(db, 'mallory', base.a.signingKey, true)),
        expected:
          /the backup does not verify: treaty [0-9a-f-]{36}: invalid signature; --accept-unverified restores it anyway, for forensic use$/,
      },
      {
        name: 'edited audit event',
        backup: forge(base.backup, 'edited-audit.db', (db) => editAuditEvent(db, 2)),
        expected: /the backup does not verify: audit event seq 2: hash mismatch/,
      },
      {
        name: 'edited audit event with its hash recomputed',
        backup: forge(base.backup, 'rehashed-audit.db', (db) => {
          const { canonical } = db.prepare('SELECT canonical FROM audit_events WHERE seq = 2').get() as { canonical: string };
          const event = JSON.parse(canonical) as AuditEvent;
          const edited = { ...event, details: { ...event.details, edited: true } };
          const hash = auditEventHash(edited);
          db.prepare('UPDATE audit_events SET canonical = ?, hash = ? WHERE seq = 2').run(canonicalJson({ ...edited, hash }), hash);
        }),
        expected: /the backup does not verify: audit event seq 3: prev hash mismatch/,
      },
      {
        name: 'attestation signed by another key',
        backup: forge(base.backup, 'forged-attestation.db', (db) => {
          const row = db.prepare('SELECT attestation_id, body FROM attestations LIMIT 1').get() as { attestation_id: string; body: string };
          const { signatures: _signatures, ...unsigned } = JSON.parse(row.body) as Record<string, unknown>;
          db.prepare('UPDATE attestations SET body = ? WHERE attestation_id = ?').run(
            canonicalJson(signObject({ ...unsigned, roles: ['role:operator'], issued_by: forger.keyId }, [forger])),
            row.attestation_id,
          );
        }),
        expected: /the backup does not verify: attestation [0-9a-f-]{36}: invalid signature/,
      },
      {
        name: 'published feed signed by another key',
        backup: forge(base.backup, 'forged-feed.db', (db) => {
          const { body } = db.prepare('SELECT body FROM published_feeds WHERE sequence = 1').get() as { body: string };
          const { signatures: _signatures, ...unsigned } = JSON.parse(body) as Record<string, unknown>;
          const forged = canonicalJson(signObject({ ...unsigned, issued_by: forger.keyId }, [forger]));
          db.prepare('UPDATE published_feeds SET body = ?, feed_hash = ? WHERE sequence = 1').run(forged, hashRef(forged));
        }),
        expected: /the backup does not verify: published feed 1: no allowed key/,
      },
      {
        name: 'published feed whose chain link (signed_hash) was changed',
        backup: forge(base.backup, 'signed-hash.db', (db) =>
          db.prepare('UPDATE published_feeds SET signed_hash = ? WHERE sequence = 1').run(`sha256:${'0'.repeat(64)}`),
        ),
        expected: /the backup does not verify: published feed 1: signed_hash is not the hash of the feed's signed part/,
      },
      {
        name: "the forger's key added to the backup's keys, with a treaty it signed",
        backup: forge(base.backup, 'forger-key.db', (db) => {
          db.prepare('INSERT INTO authority_signing_keys (key_id, public_key, created_at) VALUES (?, ?, ?)').run(
            forger.keyId,
            forger.publicKey,
            '2026-03-01T00:00:00Z',
          );
          insertTreaty(db, 'mallory', forger);
        }),
        expected: new RegExp(
          `the backup does not verify: signing key ${forger.keyId} is not a key of this installation .* \\(and 1 more problem\\(s\\)\\)`,
        ),
      },
    ];

    const liveBytes = bytes(base.dbPath);
    const runs = cases.map(async (c) => {
      const dir = tempDir();
      const dbPath = path.join(dir, 'accord.db');
      fs.copyFileSync(base.dbPath, dbPath);
      const backup = path.join(dir, path.basename(c.backup));
      fs.copyFileSync(c.backup, backup);
      const result = await accord(['restore', '--db', dbPath, '--backup', backup, '--yes'], { env: { ACCORD_DATA_DIR: dir } });
      return { c, result, dir, dbPath, backup };
    });
    for (const { c, result, dir, dbPath, backup } of await Promise.all(runs)) {
      expect(result.code, c.name).not.toBe(0);
      expect(result.stdout, c.name).toBe('');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines, c.name).toHaveLength(1);
      expect(lines[0], c.name).toMatch(/^accord: refusing to restore: /);
      expect(lines[0], c.name).toMatch(c.expected);
      expect(bytes(dbPath).equals(liveBytes), c.name).toBe(true);
      expect(
        fs.readdirSync(dir).filter((f) => !['accord.db', 'accord.db.lock', path.basename(backup)].includes(f)),
        c.name,
      ).toEqual([]);
    }
  }, 120_000);

  it('--accept-unverified restores it anyway, says so, and records it in database_restored', async () => {
    const base = await liveAndBackup();
    const forged = forge(base.backup, 'junk-treaty.db', (db) => insertTreaty(db, 'mallory', base.a.signingKey, true));
    const result = await accord(['restore', '--db', base.dbPath, '--backup', forged, '--yes', '--accept-unverified'], {
      env: { ACCORD_DATA_DIR: base.dir },
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /^accord: warning: restored a backup that does not verify \(--accept-unverified\): treaty [0-9a-f-]{36}: invalid signature/m,
    );
    const summary = JSON.parse(result.stdout);
    expect(summary.verification).toMatchObject({
      ok: false,
      accepted_unverified: true,
      problem_count: 1,
      checked: { treaties: 3, attestations: 1, published_feeds: 1, signing_keys: 1 },
    });

    const db = openDatabase(base.dbPath, { readonly: true });
    try {
      const { canonical } = db.sqlite.prepare("SELECT canonical FROM audit_events WHERE event_type = 'database_restored'").get() as {
        canonical: string;
      };
      expect((JSON.parse(canonical) as AuditEvent).details.verification).toMatchObject({
        ok: false,
        accepted_unverified: true,
        problem_count: 1,
        problems: [expect.stringMatching(/invalid signature$/)],
      });
      expect(verifyStoredAuditChain(db.sqlite).ok).toBe(true);
    } finally {
      db.close();
    }
  });

  it('a genuine backup verifies, and the record says what was checked', async () => {
    const base = await liveAndBackup();
    const summary = await restoreDatabase({ dbPath: base.dbPath, backupFile: base.backup, clock: base.a.clock });
    expect(summary.verification).toMatchObject({
      ok: true,
      accepted_unverified: false,
      problems: [],
      checked: { treaties: 2, attestations: 1, published_feeds: 1, signing_keys: 1 },
      trusted_keys: [{ key_id: base.a.signingKey.keyId, from: 'live_database' }],
    });
    expect(summary.verification.audit_chain).toMatchObject({ ok: true, breaks: 0 });
  });
});

describe('which keys a backup is verified with', () => {
  it('with no live database: the key files, and keys confirmed out of band with --public-key (a key_id pin takes the key from the backup)', async () => {
    // The authority rotated: its first key's file went offline; only the new key is on disk.
    const dir = tempDir();
    const a = fileAuthority(dir, { sovereignId: 'rotated-na' });
    issueTreaty(a.deps, treatyInput(), operator);
    const current = testKey('rotated-na:current');
    a.db.sqlite
      .prepare('INSERT INTO authority_signing_keys (key_id, public_key, created_at) VALUES (?, ?, ?)')
      .run(current.keyId, current.publicKey, '2026-03-01T00:00:00Z');
    const backup = path.join(dir, 'backup.db');
    await backupDatabase({ dbPath: path.join(dir, 'accord.db'), output: backup });
    a.db.close();

    const target = path.join(tempDir(), 'accord.db');
    await expect(restoreDatabase({ dbPath: target, backupFile: backup, clock: a.clock, signingKeys: [current] })).rejects.toThrow(
      new RegExp(`signing key ${a.signingKey.keyId} is not a key of this installation .*\\(and 1 more problem\\(s\\)\\)`),
    );
    expect(fs.existsSync(target)).toBe(false);
    // A pin of another key_id does not help; the old key's own key_id does.
    await expect(
      restoreDatabase({
        dbPath: target,
        backupFile: backup,
        clock: a.clock,
        signingKeys: [current],
        anchors: [parseTrustAnchor(forger.keyId)],
      }),
    ).rejects.toThrow(/does not verify/);
    const summary = await restoreDatabase({
      dbPath: target,
      backupFile: backup,
      clock: a.clock,
      signingKeys: [current],
      anchors: [parseTrustAnchor(a.signingKey.keyId)],
    });
    expect(summary.verification).toMatchObject({
      ok: true,
      trusted_keys: [
        { key_id: current.keyId, from: 'key_file' },
        { key_id: a.signingKey.keyId, from: 'key_id' },
      ],
    });
  });
});
