// Helpers for witnessing tests: a witness and a witnessed log over real HTTP, add-checkpoint bodies, and an
// independent cosignature check written from the C2SP tlog-cosignature text with node:crypto only.
import { createHash, createPublicKey, verify } from 'node:crypto';
import path from 'node:path';
import pino from 'pino';
import { expect } from 'vitest';
import { createApp } from '../../src/server/app.ts';
import { openDatabase } from '../../src/db/database.ts';
import { runPullJob } from '../../src/feeds/pull.ts';
import { formatCheckpoint } from '../../src/transparency/checkpoint.ts';
import { logOrigin } from '../../src/transparency/service.ts';
import { signNote } from '../../src/authority/signed-note.ts';
import type { SigningKey } from '../../src/authority/crypto.ts';
import { createTestAuthority, type TestAuthority } from '../helpers/authority.ts';
import { listen, recognizeAndPeer, startNode, type Node } from '../feeds/network.ts';
import { tempDir } from '../ops/helpers.ts';

/** An add-checkpoint body, written out by hand from the spec's grammar. */
export function body(old: number, proof: string[], note: string): string {
  return `old ${old}\n${proof.map((p) => `${p}\n`).join('')}\n${note}`;
}

export async function addCheckpoint(url: string, text: string | Uint8Array): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${url}/witness/add-checkpoint`, { method: 'POST', body: text });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** The log's consistency proof between two sizes as base64 lines (from its own /log/proof/consistency). */
export async function proofLines(log: Node, from: number, to: number): Promise<string[]> {
  if (from === 0 || from === to) return [];
  const res = await fetch(`${log.url}/log/proof/consistency?from=${from}&to=${to}`);
  expect(res.status).toBe(200);
  const json = (await res.json()) as { proof: string[] };
  return json.proof.map((h) => Buffer.from(h.slice(7), 'hex').toString('base64'));
}

export async function latestNote(log: Node): Promise<string> {
  const res = await fetch(`${log.url}/log/checkpoint`);
  expect(res.status).toBe(200);
  return res.text();
}

/** A checkpoint the log never published, signed with its key: what a log showing two histories sends. */
export function forgedNote(log: TestAuthority, size: number, rootHex: string, key: SigningKey = log.signingKey): string {
  const origin = logOrigin(log.deps);
  return signNote(formatCheckpoint({ origin, size, rootHash: `sha256:${rootHex}` }), origin, [key]);
}

/** The text (signed part) of a note. */
export function noteText(note: string): string {
  return note.slice(0, note.lastIndexOf('\n\n') + 1);
}

// ---- Independent cosignature/v1 check (node:crypto only, from the spec's definitions).

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

/** SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4]. */
export function specKeyId(name: string, rawKey: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([0x04]), rawKey]))
    .digest()
    .subarray(0, 4);
}

export interface SpecCosignature {
  keyId: Buffer;
  timestamp: bigint;
  valid: boolean;
}

/** Reads `— <name> base64(keyid ‖ u64 timestamp ‖ sig)` and verifies it over "cosignature/v1\ntime <t>\n" ‖ text. */
export function specVerify(line: string, name: string, rawKey: Buffer, text: string): SpecCosignature | null {
  const prefix = `\u2014 ${name} `;
  if (!line.startsWith(prefix)) return null;
  const bytes = Buffer.from(line.slice(prefix.length), 'base64');
  if (bytes.length !== 76) return null;
  const timestamp = bytes.readBigUInt64BE(4);
  const message = Buffer.from(`cosignature/v1\ntime ${timestamp}\n${text}`, 'utf8');
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, rawKey]), format: 'der', type: 'spki' });
  return {
    keyId: bytes.subarray(0, 4),
    timestamp,
    valid: bytes.subarray(0, 4).equals(specKeyId(name, rawKey)) && verify(null, message, key, bytes.subarray(12)),
  };
}

// ---- A witness and a log.

export interface Restartable extends Node {
  dir: string;
  /** Stops the server and closes the database file (if running), then opens it again behind a new app and server. */
  restart(): Promise<void>;
}

/** A node on a database file in a temp directory, which can be restarted on the same file. */
export async function startFileNode(sovereignId: string, config: Parameters<typeof createTestAuthority>[0] = {}): Promise<Restartable> {
  const dir = tempDir('accord-witness-');
  const dbPath = path.join(dir, 'accord.db');
  const a = createTestAuthority({ sovereignId, ...config, dbPath, config: { dataDir: dir, dbPath, ...config.config } });
  let http = await listen(a.app.fetch);
  let running = true;
  const node = Object.assign(a, {
    dir,
    url: http.url,
    stop: async () => {
      if (!running) return;
      running = false;
      await http.stop();
      await node.close();
      if (node.db.sqlite.open) node.db.close();
    },
    restart: async () => {
      await node.stop();
      const db = openDatabase(dbPath);
      const app = createApp({
        db,
        clock: a.clock,
        config: a.config,
        identity: {
          sovereignId,
          signingKeys: [a.signingKey],
          publishedKeys: [{ key_id: a.signingKey.keyId, public_key: a.signingKey.publicKey }],
        },
        operatorKeys: a.deps.operatorKeys,
        logger: pino({ level: 'silent' }),
      });
      http = await listen(app.app.fetch);
      running = true;
      Object.assign(node, { app: app.app, deps: app.deps, close: app.close, db, url: http.url });
    },
  }) as Restartable;
  return node;
}

/**
 * `witness` recognizes `log`, pulls it (so it has verified the log's checkpoint and knows its
 * origin) and enables witnessing it through the admin route.
 */
export async function witnessLog(witness: Node, log: Node): Promise<void> {
  await recognizeAndPeer(witness, log);
  const pulled = await runPullJob(witness.deps);
  expect(pulled.peers.find((p) => p.sovereign_id === log.sovereignId)).toMatchObject({ outcome: 'ok' });
  const res = await witness.admin('POST', '/admin/witness/logs', { sovereign_id: log.sovereignId });
  expect(res.status, await res.clone().text()).toBe(200);
}

export { startNode };
