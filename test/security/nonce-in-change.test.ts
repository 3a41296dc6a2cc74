// The nonce of a signed admin request is stored in the transaction of the change the request makes:
// if the nonce cannot be stored, the change does not happen either. Checked for every kind of admin
// write, with a trigger that refuses the nonce row.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestAuthority, dbDigest, testKey, type TestAuthority } from '../helpers/authority.ts';
import { recognize, SimulatedIssuer } from '../feeds/simulated-issuer.ts';
import { attestationInput, treatyInput } from '../treaties/fixtures.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function authority(onFile = false): TestAuthority {
  const dir = onFile ? fs.mkdtempSync(path.join(os.tmpdir(), 'accord-nonce-')) : null;
  const a = createTestAuthority(dir ? { dbPath: path.join(dir, 'accord.db') } : {});
  cleanups.push(async () => {
    await a.close();
    a.db.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  return a;
}

const refuseNonces = (a: TestAuthority) =>
  a.db.sqlite.exec(`CREATE TRIGGER refuse_nonce BEFORE INSERT ON admin_nonces BEGIN SELECT RAISE(ABORT, 'nonce refused'); END`);

/** Everything, audit log and nonces included. */
const everything = (a: TestAuthority) => dbDigest(a.db, []);

interface Case {
  name: string;
  onFile?: boolean;
  /** Prepares the authority; returns the request to send. */
  setup(a: TestAuthority): Promise<{ method: string; path: string; body?: unknown }>;
}

const cases: Case[] = [
  { name: 'issue a treaty', setup: async () => ({ method: 'POST', path: '/admin/recognition-treaties', body: treatyInput() }) },
  {
    name: 'revoke a treaty',
    setup: async (a) => {
      const issued = (await (await a.admin('POST', '/admin/recognition-treaties', treatyInput())).json()) as { treaty_id: string };
      return { method: 'POST', path: `/admin/recognition-treaties/${issued.treaty_id}/revoke`, body: { reason: 'superseded' } };
    },
  },
  {
    name: 'supersede a treaty',
    setup: async (a) => {
      const issued = (await (await a.admin('POST', '/admin/recognition-treaties', treatyInput())).json()) as { treaty_id: string };
      return { method: 'POST', path: `/admin/recognition-treaties/${issued.treaty_id}/supersede`, body: treatyInput() };
    },
  },
  { name: 'issue an attestation', setup: async () => ({ method: 'POST', path: '/admin/attestations', body: attestationInput() }) },
  {
    name: 'revoke an attestation',
    setup: async (a) => {
      const issued = (await (await a.admin('POST', '/admin/attestations', attestationInput())).json()) as { attestation_id: string };
      return { method: 'POST', path: `/admin/attestations/${issued.attestation_id}/revoke`, body: { reason: 'key_compromise' } };
    },
  },
  {
    name: 'publish feeds',
    setup: async (a) => {
      await a.admin('POST', '/admin/attestations', attestationInput());
      return { method: 'POST', path: '/admin/revocation-feeds/publish', body: { heartbeat: true } };
    },
  },
  {
    name: 'register a peer',
    setup: async () => ({ method: 'POST', path: '/admin/peers', body: { sovereign_id: 'peer-z', base_url: 'http://127.0.0.1:9' } }),
  },
  {
    name: 'pause an issuer',
    setup: async (a) => {
      await a.admin('POST', '/admin/peers', { sovereign_id: 'peer-z', base_url: 'http://127.0.0.1:9' });
      return { method: 'POST', path: '/admin/peers/peer-z/pause' };
    },
  },
  { name: 'rotate the signing key', setup: async () => ({ method: 'POST', path: '/admin/signing-keys/rotate', body: {} }) },
  ...(
    [
      ['contain a peer (pause, revoke, evidence)', 'contain', { reason: 'drill', revoke_treaties: true }],
      ['repin a peer', 'repin', { public_key: testKey('peer-z:new').publicKey, confirm_out_of_band: true, overlap_seconds: 3600 }],
      ['export evidence about a peer', 'evidence', {}],
      ['a verification pull (declaration poll recorded)', 'test-pull', undefined],
    ] as const
  ).map(
    ([name, action, body]): Case => ({
      name,
      setup: async (a) => {
        recognize(a, 'peer-z', [testKey('peer-z')]);
        await a.admin('POST', '/admin/peers', { sovereign_id: 'peer-z', base_url: 'http://127.0.0.1:9' });
        return { method: 'POST', path: `/admin/peers/peer-z/${action}`, ...(body ? { body } : {}) };
      },
    }),
  ),
  {
    name: "enable witnessing a sovereign's log",
    setup: async (a) => {
      recognize(a, 'log-x', [testKey('log-x')]);
      return { method: 'POST', path: '/admin/witness/logs', body: { sovereign_id: 'log-x', origin: 'log-x/log' } };
    },
  },
  {
    name: "disable witnessing a sovereign's log",
    setup: async (a) => {
      recognize(a, 'log-x', [testKey('log-x')]);
      await a.admin('POST', '/admin/witness/logs', { sovereign_id: 'log-x', origin: 'log-x/log' });
      return { method: 'POST', path: '/admin/witness/logs/log-x/disable' };
    },
  },
  ...[false, true].map(
    (onFile): Case => ({
      name: `import a feed (${onFile ? 'database file: on the import thread' : 'in memory'})`,
      onFile,
      setup: async (a) => {
        recognize(a, 'issuer-b', [testKey('issuer-b')]);
        const feed = new SimulatedIssuer('issuer-b', [testKey('issuer-b')], a.clock).next({ entries: 2 });
        return { method: 'POST', path: '/admin/revocation-feeds/import', body: { feed } };
      },
    }),
  ),
];

describe('the nonce of a signed admin request is part of the change it makes', () => {
  for (const c of cases) {
    it(`${c.name}: when the nonce cannot be stored, nothing is changed`, async () => {
      const a = authority(c.onFile);
      const request = await c.setup(a);
      refuseNonces(a);
      const before = everything(a);
      const res = await a.admin(request.method, request.path, request.body);
      expect(res.status).toBe(500);
      expect(everything(a)).toBe(before);
    });
  }
});
