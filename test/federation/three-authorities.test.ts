// Three authorities federated over loopback with real cron ticks compressed by configuration
// (ACCORD_FEED_PUBLISH_CRON / ACCORD_FEED_PULL_CRON every second, six-field node-cron expressions):
// treaties both ways, revocations propagating, a peer going down and coming back, a key rotation
// handled by superseding treaties with an overlap of keys, and equivocation detected with the peer paused.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { toTimestamp } from '../../src/authority/clock.ts';
import { loadConfig } from '../../src/authority/config.ts';
import { signObject, type SigningKey } from '../../src/authority/crypto.ts';
import { readSigningKeyFile } from '../../src/authority/key-files.ts';
import { startAuthority, type RunningAuthority } from '../../src/server/server.ts';
import { freePort } from '../cli/run.ts';
import { testKey } from '../helpers/authority.ts';

const operator = { label: 'fed', key: testKey('operator:federation') };
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-federation-'));
const WAIT_MS = 30_000;

interface FedNode {
  id: string;
  port: number;
  dataDir: string;
  running: RunningAuthority;
  url: string;
}

async function boot(id: string, port: number): Promise<FedNode> {
  const dataDir = path.join(root, id);
  const config = loadConfig({
    ACCORD_DATA_DIR: dataDir,
    ACCORD_SOVEREIGN_ID: id,
    ACCORD_PORT: String(port),
    OPERATOR_PUBLIC_KEYS_JSON: JSON.stringify({ [operator.label]: operator.key.publicKey }),
    ACCORD_FEED_PUBLISH_CRON: '* * * * * *',
    ACCORD_FEED_PULL_CRON: '* * * * * *',
    LOG_LEVEL: 'silent',
  });
  const running = await startAuthority(config);
  return { id, port, dataDir, running, url: running.url };
}

async function admin(node: FedNode, method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> {
  const text = body === undefined ? '' : JSON.stringify(body);
  const headers = {
    ...signAdminRequest({
      authority: node.id,
      method,
      path: p,
      body: text,
      label: operator.label,
      key: operator.key,
      timestamp: toTimestamp(new Date()),
    }),
    ...(text ? { 'Content-Type': 'application/json' } : {}),
  };
  const res = await fetch(`${node.url}${p}`, { method, headers, ...(text ? { body: text } : {}) });
  return { status: res.status, body: await res.json() };
}

async function publicJson(node: FedNode, p: string, body?: unknown): Promise<any> {
  const res = await fetch(
    `${node.url}${p}`,
    body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) },
  );
  return res.json();
}

/** Polls until `check` holds; the cron schedules run on real time, so the test waits for them (bounded). */
async function until<T>(what: string, check: () => Promise<T | false | undefined | null> | T | false | undefined | null): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const importedSeq = (node: FedNode, issuer: string) =>
  (
    node.running.db.sqlite.prepare('SELECT last_sequence FROM feed_issuers WHERE issuer_sovereign_id = ?').get(issuer) as
      | { last_sequence: number }
      | undefined
  )?.last_sequence ?? 0;
const hasImported = (node: FedNode, issuer: string, id: string) =>
  node.running.db.sqlite.prepare('SELECT 1 FROM imported_revocations WHERE issuer_sovereign_id = ? AND id = ?').get(issuer, id) !==
  undefined;
const auditTypes = (node: FedNode, type: string) =>
  (
    node.running.db.sqlite.prepare('SELECT canonical FROM audit_events WHERE event_type = ? ORDER BY seq').all(type) as Array<{
      canonical: string;
    }>
  ).map((r) => JSON.parse(r.canonical) as { details: Record<string, unknown> });

async function publicKeyOf(node: FedNode): Promise<string[]> {
  const declaration = await publicJson(node, '/.well-known/network-authority');
  return (declaration.public_keys as Array<{ public_key: string }>).map((k) => k.public_key);
}

async function recognize(from: FedNode, to: FedNode, keys?: string[]): Promise<string> {
  const res = await admin(from, 'POST', '/admin/recognition-treaties', {
    subject_sovereign_id: to.id,
    subject_public_keys: keys ?? (await publicKeyOf(to)),
    scope: { allowed_roles: ['role:anchor', 'role:client'] },
    validity_hours: 24 * 30,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.treaty_id as string;
}

async function peer(from: FedNode, to: FedNode): Promise<void> {
  const res = await admin(from, 'POST', '/admin/peers', { sovereign_id: to.id, base_url: to.url });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** Issues an attestation at `node` and revokes it; returns its id and the signed attestation. */
async function revokedAttestation(node: FedNode, subject: string): Promise<{ id: string; attestation: unknown }> {
  const issued = await admin(node, 'POST', '/admin/attestations', { subject_id: subject, roles: ['role:client'], validity_hours: 24 });
  expect(issued.status).toBe(201);
  const revoked = await admin(node, 'POST', `/admin/attestations/${issued.body.attestation_id}/revoke`, { reason: 'key_compromise' });
  expect(revoked.status).toBe(200);
  return { id: issued.body.attestation_id, attestation: issued.body };
}

let A: FedNode;
let B: FedNode;
let C: FedNode;
let treatyAB: string;
let bNewKey: SigningKey;

beforeAll(async () => {
  [A, B, C] = await Promise.all([boot('na-a', await freePort()), boot('na-b', await freePort()), boot('na-c', await freePort())]);
});
afterAll(async () => {
  for (const n of [A, B, C]) await n?.running.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('three authorities on loopback, cron every second', () => {
  it('node-cron 4 accepts the six-field, every-second schedules', () => {
    expect(A.running.authority.deps.config.feedPullCron).toBe('* * * * * *');
  });

  it('treaties both ways; each pulls the others\u2019 heartbeats on its own schedule and sends receipts', async () => {
    treatyAB = await recognize(A, B);
    await recognize(B, A);
    await recognize(A, C);
    await recognize(C, A);
    await recognize(C, B);
    await peer(A, B);
    await peer(A, C);
    await peer(B, A);
    await peer(C, A);
    await peer(C, B);
    await until(
      'A has B and C, B has A, C has A and B',
      () =>
        importedSeq(A, 'na-b') >= 1 &&
        importedSeq(A, 'na-c') >= 1 &&
        importedSeq(B, 'na-a') >= 1 &&
        importedSeq(C, 'na-a') >= 1 &&
        importedSeq(C, 'na-b') >= 1,
    );
    // The importer's signed receipt reaches the issuer: B knows A has caught up.
    await until('B holds a receipt from A', async () =>
      ((await admin(B, 'GET', '/admin/revocation-feeds/receipts')).body.receipts as Array<{ importer_sovereign_id: string }>).some(
        (r) => r.importer_sovereign_id === 'na-a',
      ),
    );
  });

  it('a revocation at B propagates to A and C; verification at A then refuses the attestation', async () => {
    const { id, attestation } = await revokedAttestation(B, 'node-b-1');
    await until('A and C imported the revocation', () => hasImported(A, 'na-b', id) && hasImported(C, 'na-b', id));
    const verdict = await publicJson(A, '/attestations/verify', { attestation });
    expect(verdict.accepted).toBe(false);
    expect(JSON.stringify(verdict)).toMatch(/revoked/);
  });

  it('a peer going down and coming back: failure audited once, recovery audited, the backlog imported', async () => {
    await C.running.close();
    await until('A records C failing', () => auditTypes(A, 'feed_pull_failing').some((e) => e.details.peer === 'na-c'));
    C = await boot('na-c', C.port);
    const { id } = await revokedAttestation(C, 'node-c-1');
    await until('C published the revocation', async () =>
      (await publicJson(C, '/revocation-feeds/latest')).entries?.some((e: { id: string }) => e.id === id),
    );
    // A is backing off C (30 s after a failure); the operator pulls now instead of waiting.
    const pulled = await admin(A, 'POST', '/admin/peers/na-c/pull');
    expect(pulled.body).toMatchObject({ outcome: 'ok' });
    expect(hasImported(A, 'na-c', id)).toBe(true);
    expect(auditTypes(A, 'feed_pull_recovered').some((e) => e.details.peer === 'na-c')).toBe(true);
    expect(auditTypes(A, 'feed_pull_failing').filter((e) => e.details.peer === 'na-c')).toHaveLength(1);
  });

  it('key rotation at B: A supersedes its treaty with both keys, then with the new key only; revocations keep flowing', async () => {
    const oldKeys = await publicKeyOf(B);
    const rotated = await admin(B, 'POST', '/admin/signing-keys/rotate', { overlap_days: 1 });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(201);
    const newKey = rotated.body.new_key.public_key as string;
    bNewKey = readSigningKeyFile(rotated.body.new_key.file as string);
    const overlap = await admin(A, 'POST', `/admin/recognition-treaties/${treatyAB}/supersede`, {
      subject_public_keys: [...oldKeys, newKey],
      scope: { allowed_roles: ['role:anchor', 'role:client'] },
      validity_hours: 24 * 30,
    });
    expect(overlap.status, JSON.stringify(overlap.body)).toBe(201);
    const first = await revokedAttestation(B, 'node-b-2');
    await until(
      'A imported across the overlap; C (old key only) too',
      () => hasImported(A, 'na-b', first.id) && hasImported(C, 'na-b', first.id),
    );
    const newOnly = await admin(A, 'POST', `/admin/recognition-treaties/${overlap.body.treaty.treaty_id}/supersede`, {
      subject_public_keys: [newKey],
      scope: { allowed_roles: ['role:anchor', 'role:client'] },
      validity_hours: 24 * 30,
    });
    expect(newOnly.status, JSON.stringify(newOnly.body)).toBe(201);
    const second = await revokedAttestation(B, 'node-b-3');
    await until('A imported with the new key only', () => hasImported(A, 'na-b', second.id));
    treatyAB = newOnly.body.treaty.treaty_id;
  });

  it('equivocation: B\u2019s key signs a different feed at an imported sequence → A detects it and pauses B; the schedule skips B until resumed', async () => {
    const seq = importedSeq(A, 'na-b');
    const genuine = await publicJson(B, `/revocation-feeds/${seq}`);
    const { signatures: _s, ...unsigned } = genuine;
    const fork = signObject({ ...unsigned, feed_id: '00000000-0000-4000-8000-00000000f0c4' }, [bNewKey]);
    const res = await admin(A, 'POST', '/admin/revocation-feeds/import', { feed: fork });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error.code).toBe('equivocation');
    expect(auditTypes(A, 'feed_equivocation_detected').length).toBe(1);
    const peers = (await admin(A, 'GET', '/admin/peers')).body.peers as Array<{ sovereign_id: string; paused?: boolean }>;
    expect(JSON.stringify(peers.find((p) => p.sovereign_id === 'na-b'))).toMatch(/"paused":true/);

    // While paused, B's next revocation is published but not imported by A (C still takes it).
    const held = await revokedAttestation(B, 'node-b-4');
    await until('C imported the held revocation', () => hasImported(C, 'na-b', held.id));
    expect(hasImported(A, 'na-b', held.id)).toBe(false);

    const resumed = await admin(A, 'POST', '/admin/peers/na-b/resume');
    expect(resumed.status).toBe(200);
    await until('A catches up after resume', () => hasImported(A, 'na-b', held.id));
  });
});
