// A populated authority for hostile-input tests: treaties, attestations, an imported foreign feed, a
// published feed, a peer and a valid receipt, plus raw signed requests (any bytes, any headers).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { signAdminRequest } from '../../src/authority/admin-auth.ts';
import { toTimestamp } from '../../src/authority/clock.ts';
import type { Config } from '../../src/authority/config.ts';
import { issueAttestation } from '../../src/treaties/attestations.ts';
import { issueTreaty, revokeTreaty } from '../../src/treaties/service.ts';
import { publishFeeds } from '../../src/feeds/publish.ts';
import { importFeed } from '../../src/feeds/import.ts';
import { buildReceipt } from '../../src/feeds/receipts.ts';
import { latestPublishedFeed } from '../../src/feeds/publish.ts';
import { registerPeer } from '../../src/feeds/peers.ts';
import { createTestAuthority, testKey, type TestAuthority } from '../helpers/authority.ts';
import { SimulatedIssuer, recognize } from '../feeds/simulated-issuer.ts';
import { GM_SEED_A, gmFeed, gmKeyFromSeed } from '../interop/gm-reference.ts';

export const ISSUER_ID = 'peer-b';
export const IMPORTER_ID = 'peer-c';
export const GM_ID = 'sovereign-gm';

export interface Populated {
  a: TestAuthority;
  /** A foreign issuer whose feeds 1 and 2 are imported; its next feed (3) is valid and not yet imported. */
  issuer: SimulatedIssuer;
  /** A recognized importer that may send receipts for our feeds. */
  importer: TestAuthority;
  treatyId: string;
  ownTreaty: Record<string, unknown>;
  attestationId: string;
  ownAttestation: Record<string, unknown>;
  /** An attestation issued by the foreign issuer (verifies here through our treaty for it). */
  foreignAttestation: Record<string, unknown>;
  /** The next, valid, not yet imported feed of the issuer. */
  nextFeed: Record<string, unknown>;
  /** Our own published feed at sequence 1 and a valid receipt for it from the importer. */
  receipt: Record<string, unknown>;
  /** A valid Genesis Mesh snapshot feed (sequence 1) of a genesis-mesh-profile issuer we recognize. */
  gmFeed: Record<string, unknown>;
  tempDir: string;
  cleanup(): void;
}

export function populatedAuthority(options: { config?: Partial<Config> } = {}): Populated {
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-security-'));
  const a = createTestAuthority({
    sovereignId: 'na-main',
    config: {
      dataDir: tempDir,
      signingKeyFile: path.join(tempDir, 'authority-signing-key.json'),
      adminFailureLimit: 10_000,
      ...options.config,
    },
  });
  const operator = { label: a.operator.label, keyId: a.operator.key.keyId };

  // A foreign issuer we recognize, with two imported feeds.
  const issuerKey = testKey('security:issuer');
  const issuer = new SimulatedIssuer(ISSUER_ID, [issuerKey], a.clock);
  recognize(a, ISSUER_ID, [issuerKey], { scope: { allowed_roles: ['role:client', 'role:anchor'] } });
  importFeed(a.deps, issuer.next({ entries: 2 }), { actor: { type: 'system' }, via: 'admin' });
  importFeed(a.deps, issuer.next({ entries: 1 }), { actor: { type: 'system' }, via: 'admin' });
  const nextFeed = issuer.next({ entries: 1, dryRun: true });

  // An importer we recognize (so receipts verify).
  const importer = createTestAuthority({ sovereignId: IMPORTER_ID, now: toTimestamp(a.clock()) });
  recognize(a, IMPORTER_ID, [importer.signingKey]);

  // Our own treaty and attestation; revoke one treaty so a feed with an entry is published.
  const ownTreaty = issueTreaty(
    a.deps,
    {
      subject_sovereign_id: 'peer-d',
      subject_public_keys: [testKey('security:peer-d').publicKey],
      scope: { allowed_roles: ['role:client'], claims: { tier: 2, tags: ['a', 'ü'] } },
      validity_hours: 24 * 30,
      metadata: { region: 'eu' },
    },
    operator,
  ) as unknown as Record<string, unknown>;
  const doomed = issueTreaty(
    a.deps,
    {
      subject_sovereign_id: 'peer-e',
      subject_public_keys: [testKey('security:peer-e').publicKey],
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 48,
    },
    operator,
  );
  revokeTreaty(a.deps, doomed.treaty_id, { reason: 'key_compromise' }, operator);
  const ownAttestation = issueAttestation(
    a.deps,
    { subject_id: 'node-1', roles: ['role:client'], validity_hours: 24, claims: { n: 1 } },
    operator,
  ) as unknown as Record<string, unknown>;
  publishFeeds(a.deps, { trigger: 'admin', heartbeat: 'if_due' });

  // The issuer's attestation, verified here through the treaty for the issuer.
  const issuerAuthority = createTestAuthority({ sovereignId: ISSUER_ID, now: toTimestamp(a.clock()) });
  const foreignAttestation = issueAttestation(
    { ...issuerAuthority.deps, identity: { sovereignId: ISSUER_ID, signingKeys: [issuerKey], publishedKeys: [] } },
    { subject_id: 'node-b-1', roles: ['role:client'], validity_hours: 24 },
  ) as unknown as Record<string, unknown>;

  const feed = latestPublishedFeed(a.db.sqlite)!;
  const receipt = buildReceipt(importer.deps, a.sovereignId, feed.sequence, feed.feed_hash) as unknown as Record<string, unknown>;

  const gmKey = gmKeyFromSeed(GM_SEED_A);
  issueTreaty(
    a.deps,
    {
      subject_sovereign_id: GM_ID,
      subject_public_keys: [gmKey.publicKey],
      scope: { allowed_roles: ['role:client'] },
      validity_hours: 24 * 90,
      profile: 'genesis-mesh',
    },
    operator,
  );
  const gmSample = gmFeed(gmKey, {
    issuer: GM_ID,
    sequence: 1,
    issuedAt: toTimestamp(new Date(a.clock().getTime() - 3600_000)),
    revoked: { '11111111-1111-4111-8111-111111111111': 'key_compromise' },
  }) as unknown as Record<string, unknown>;

  registerPeer(a.deps, { sovereign_id: ISSUER_ID, base_url: 'http://127.0.0.1:9' }, { actor: { type: 'system' } });

  return {
    a,
    issuer,
    importer,
    treatyId: ownTreaty.treaty_id as string,
    ownTreaty,
    attestationId: ownAttestation.attestation_id as string,
    ownAttestation,
    foreignAttestation,
    nextFeed,
    receipt,
    gmFeed: gmSample,
    tempDir,
    cleanup: () => {
      a.db.close();
      importer.db.close();
      issuerAuthority.db.close();
      fs.rmSync(tempDir, { recursive: true, force: true });
    },
  };
}

export interface RawRequest {
  method: string;
  /** Path and query exactly as sent. */
  path: string;
  body?: Uint8Array | undefined;
  headers?: Record<string, string>;
  /** Sign as the operator (admin routes). */
  sign?: boolean;
}

/** Sends any bytes to the app in process; admin requests are signed over the exact bytes. */
export async function send(a: TestAuthority, req: RawRequest): Promise<Response> {
  const body = req.body ?? new Uint8Array();
  const headers: Record<string, string> = {
    ...(req.sign
      ? signAdminRequest({
          authority: a.sovereignId,
          method: req.method,
          path: req.path,
          body,
          label: a.operator.label,
          key: a.operator.key,
          timestamp: toTimestamp(a.clock()),
        })
      : {}),
    ...req.headers,
  };
  const init: RequestInit = { method: req.method, headers };
  if (body.length > 0 && req.method !== 'GET' && req.method !== 'HEAD') init.body = body;
  return a.app.request(`http://localhost${req.path}`, init);
}

export const SNAKE_CASE = /^[a-z][a-z0-9_]*$/;

/** Checks the one error envelope; returns the error code. */
export async function errorCode(res: Response): Promise<string> {
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`error response is not JSON (${res.status}): ${text.slice(0, 200)}`);
  }
  const error = (parsed as { error?: Record<string, unknown> }).error;
  if (
    !error ||
    typeof error.code !== 'string' ||
    !SNAKE_CASE.test(error.code) ||
    typeof error.message !== 'string' ||
    typeof error.details !== 'object' ||
    error.details === null
  ) {
    throw new Error(`not the error envelope (${res.status}): ${text.slice(0, 300)}`);
  }
  if (error.request_id !== res.headers.get('x-request-id')) throw new Error('request_id does not match X-Request-ID');
  if (/\bat .*\.[tj]s:\d+|\/work\/|node_modules|Error:/.test(text))
    throw new Error(`error response leaks internals: ${text.slice(0, 300)}`);
  return error.code;
}
