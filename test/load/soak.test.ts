// Bounded mixed-load soak on loopback against a real `accord serve` subprocess: treaty verification,
// feed and connectome reads, admin writes, and the pull job running every second against a peer that
// keeps publishing. Zero 5xx, RSS at the end within 20% of RSS after warm-up, and every acknowledged
// admin write present in the database together with its audit event.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyStoredAuditChain } from '../../src/authority/audit.ts';
import { canonicalJson } from '../../src/authority/canonical-json.ts';
import { testKey } from '../helpers/authority.ts';
import { SimulatedIssuer } from '../feeds/simulated-issuer.ts';
import { startAccord, type Accord } from '../crash/harness.ts';

const SECONDS = Number(process.env.ACCORD_SOAK_SECONDS ?? 60);
/** V8 sizes its heap up over the first tens of seconds under load; RSS is compared after that. */
const WARMUP_SECONDS = Math.max(10, Math.round(SECONDS / 3));
/** Admin writes come from one operator-paced writer (each write is several requests), alongside the read workers. */
const WRITE_INTERVAL_MS = Number(process.env.ACCORD_SOAK_WRITE_INTERVAL_MS ?? 100);
const WORKERS = Number(process.env.ACCORD_SOAK_WORKERS ?? 6);
const PEER = 'peer-soak';

const operator = { label: 'soak', key: testKey('operator:soak') };
const peerKey = testKey('soak:peer');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'accord-soak-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function rssKiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

/** RSS averaged over a few samples a little apart (one sample can catch a GC mid-way). */
async function rssSample(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssKiB(pid));
    await new Promise((r) => setTimeout(r, 200));
  }
  return samples.reduce((s, v) => s + v, 0) / samples.length;
}

/** A peer serving a simulated issuer's feed chain; it publishes a new feed every second. */
async function publishingPeer() {
  const sim = new SimulatedIssuer(PEER, [peerKey], () => new Date());
  sim.next({ entries: 5, issuedAtOffset: -60 });
  const timer = setInterval(() => sim.next({ entries: 3, issuedAtOffset: -30 }), 1000);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('Content-Type', 'application/json');
    if (url.pathname === '/revocation-feeds/latest') res.end(canonicalJson(sim.feeds.at(-1)));
    else if (url.pathname === '/revocation-feeds') {
      const since = Number(url.searchParams.get('since') ?? 0);
      const after = sim.feeds.filter((f) => f.sequence > since);
      res.end(canonicalJson({ feeds: after.slice(0, 50), latest_sequence: sim.sequence, more: after.length > 50 }));
    } else if (url.pathname === '/recognition-treaties') res.end('{"treaties":[],"next_cursor":null}');
    else {
      req.resume();
      req.on('end', () => res.end('{"accepted":true}'));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    sim,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      clearInterval(timer);
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe(`mixed-load soak (${SECONDS} s, ACCORD_SOAK_SECONDS)`, () => {
  it(
    'zero 5xx, bounded memory, every admin write accounted for',
    async () => {
      const peer = await publishingPeer();
      const dataDir = path.join(root, 'data');
      const a: Accord = await startAccord(
        {
          ACCORD_DATA_DIR: dataDir,
          ACCORD_SOVEREIGN_ID: 'na-soak',
          OPERATOR_PUBLIC_KEYS_JSON: JSON.stringify({ [operator.label]: operator.key.publicKey }),
          ACCORD_FEED_PULL_CRON: '* * * * * *',
          ACCORD_FEED_PUBLISH_CRON: '*/10 * * * * *',
          LOG_LEVEL: 'silent',
          // A bounded old space makes V8 collect instead of growing its heap for the first minute, so
          // a 60 s run measures retained memory; a leak then shows as growth (or an out-of-memory exit).
          NODE_OPTIONS: `--max-old-space-size=${process.env.ACCORD_SOAK_HEAP_MB ?? 160}`,
        },
        operator,
      );
      const pid = a.server.child.pid!;

      // Setup: recognize and register the peer; one treaty to verify.
      expect(
        (
          await a.admin('POST', '/admin/recognition-treaties', {
            subject_sovereign_id: PEER,
            subject_public_keys: [peerKey.publicKey],
            scope: { allowed_roles: ['role:anchor'] },
            validity_hours: 24 * 30,
          })
        ).status,
      ).toBe(201);
      expect((await a.admin('POST', '/admin/peers', { sovereign_id: PEER, base_url: peer.url })).status).toBe(201);
      const sample = await a.admin('POST', '/admin/recognition-treaties', {
        subject_sovereign_id: 'peer-verify',
        subject_public_keys: [testKey('soak:verify').publicKey],
        scope: { allowed_roles: ['role:client'] },
        validity_hours: 24,
      });
      const treaty = sample.body;
      const connectomeMounted = (await a.get('/connectome.json')).status === 200;

      const acked = {
        treaties: new Set<string>([treaty.treaty_id]),
        attestations: new Set<string>(),
        revoked: new Set<string>(),
        publishes: 0,
      };
      const stats = { requests: 0, byStatus: {} as Record<string, number>, errors: [] as string[], byKind: {} as Record<string, number> };
      const deadline = Date.now() + SECONDS * 1000;
      let writeCounter = 0;

      const one = async (writer: boolean): Promise<void> => {
        const r = writer ? 1 : Math.random() * 0.8;
        let kind: string;
        let status: number;
        if (r < 0.3) {
          kind = 'verify';
          const res = await fetch(`${a.url}/recognition-treaties/verify`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ treaty }),
          });
          status = res.status;
          const body = (await res.json()) as { accepted: boolean };
          if (status === 200 && !body.accepted) stats.errors.push('verify did not accept a valid treaty');
        } else if (r < 0.55) {
          kind = 'feed_get';
          const paths = [
            '/revocation-feeds/latest',
            '/revocation-feeds?since=0&limit=20',
            '/revocation-feeds/1',
            '/.well-known/network-authority',
          ];
          const res = await fetch(`${a.url}${paths[Math.floor(Math.random() * paths.length)]}`);
          status = res.status;
          await res.arrayBuffer();
        } else if (r < 0.8) {
          kind = 'connectome_get';
          const p = connectomeMounted
            ? ['/connectome.json', `/connectome/trust-path?from=na-soak&to=${PEER}`, `/connectome/blast-radius?id=${treaty.treaty_id}`]
            : ['/recognition-treaties?limit=20'];
          const res = await fetch(`${a.url}${p[Math.floor(Math.random() * p.length)]}`, { headers: { 'Accept-Encoding': 'gzip' } });
          status = res.status;
          await res.arrayBuffer();
        } else {
          kind = 'admin_write';
          const n = ++writeCounter;
          const w = n % 3;
          if (w === 0) {
            const res = await a.admin('POST', '/admin/recognition-treaties', {
              subject_sovereign_id: `soak-subject-${n % 50}`,
              subject_public_keys: [testKey(`soak:${n % 50}`).publicKey],
              scope: { allowed_roles: ['role:client'] },
              validity_hours: 48,
            });
            status = res.status;
            if (status === 201) acked.treaties.add(res.body.treaty_id);
          } else if (w === 1) {
            const res = await a.admin('POST', '/admin/attestations', {
              subject_id: `soak-node-${n}`,
              roles: ['role:client'],
              validity_hours: 24,
            });
            status = res.status;
            if (status === 201) {
              acked.attestations.add(res.body.attestation_id);
              if (n % 2 === 1) {
                const rev = await a.admin('POST', `/admin/attestations/${res.body.attestation_id}/revoke`, { reason: 'key_compromise' });
                if (rev.status === 200) acked.revoked.add(res.body.attestation_id);
                else status = rev.status;
              }
            }
          } else {
            const res = await a.admin('POST', '/admin/revocation-feeds/publish', {});
            status = res.status;
            if (status === 200) acked.publishes++;
          }
        }
        stats.requests++;
        stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
        stats.byStatus[String(status)] = (stats.byStatus[String(status)] ?? 0) + 1;
        if (status >= 500) stats.errors.push(`${kind} → ${status}`);
      };

      let warmRss = 0;
      const warm = (async () => {
        await new Promise((r) => setTimeout(r, WARMUP_SECONDS * 1000));
        warmRss = await rssSample(pid);
      })();
      const rssTrace: number[] = [];
      const tracer = setInterval(() => rssTrace.push(rssKiB(pid)), 2000);
      await Promise.all([
        ...Array.from({ length: WORKERS }, async () => {
          while (Date.now() < deadline) await one(false);
        }),
        (async () => {
          while (Date.now() < deadline) {
            const started = Date.now();
            await one(true);
            await new Promise((r) => setTimeout(r, Math.max(0, WRITE_INTERVAL_MS - (Date.now() - started))));
          }
        })(),
      ]);
      await warm;
      const endRss = await rssSample(pid);
      clearInterval(tracer);

      // The pull job ran all along: the peer's feeds are imported up to (nearly) its latest.
      const issuers = await a.admin('GET', '/admin/revocation-feeds/issuers');
      const imported =
        (issuers.body.issuers as Array<{ issuer_sovereign_id: string; imported_sequence: number }>).find(
          (i) => i.issuer_sovereign_id === PEER,
        )?.imported_sequence ?? 0;
      await peer.close();
      a.server.child.kill('SIGTERM');
      await a.server.exit;

      const figures = {
        seconds: SECONDS,
        ...stats,
        errors: stats.errors.length,
        warmRssMiB: Math.round(warmRss / 1024),
        endRssMiB: Math.round(endRss / 1024),
        rssTraceMiB: rssTrace.map((k) => Math.round(k / 1024)),
        pulledSequence: imported,
        peerSequence: peer.sim.sequence,
        acked: {
          treaties: acked.treaties.size,
          attestations: acked.attestations.size,
          revoked: acked.revoked.size,
          publishes: acked.publishes,
        },
      };
      console.info(`[soak] ${JSON.stringify(figures)}`);

      expect(stats.errors, 'server errors under load').toEqual([]);
      expect(stats.requests).toBeGreaterThan(SECONDS * 10);
      expect(endRss, `RSS grew from ${warmRss} KiB after warm-up to ${endRss} KiB`).toBeLessThanOrEqual(warmRss * 1.2);
      expect(imported).toBeGreaterThanOrEqual(Math.max(1, peer.sim.sequence - 5));

      // Every acknowledged admin write is in the database with its audit event.
      const db = new BetterSqlite3(path.join(dataDir, 'accord.db'), { readonly: true });
      try {
        expect(verifyStoredAuditChain(db).ok).toBe(true);
        const audited = (type: string, field: string) =>
          new Set(
            (
              db
                .prepare(`SELECT json_extract(canonical, '$.details.${field}') AS id FROM audit_events WHERE event_type = ?`)
                .all(type) as Array<{ id: string }>
            ).map((r) => r.id),
          );
        const treaties = new Set(
          (db.prepare('SELECT treaty_id FROM treaties').all() as Array<{ treaty_id: string }>).map((r) => r.treaty_id),
        );
        const issuedAudit = audited('recognition_treaty_issued', 'treaty_id');
        for (const id of acked.treaties) {
          expect(treaties.has(id), `treaty ${id} lost`).toBe(true);
          expect(issuedAudit.has(id), `treaty ${id} not audited`).toBe(true);
        }
        const attestations = new Set(
          (db.prepare('SELECT attestation_id FROM attestations').all() as Array<{ attestation_id: string }>).map((r) => r.attestation_id),
        );
        const attAudit = audited('membership_attestation_issued', 'attestation_id');
        const revAudit = audited('membership_attestation_revoked', 'attestation_id');
        for (const id of acked.attestations) {
          expect(attestations.has(id), `attestation ${id} lost`).toBe(true);
          expect(attAudit.has(id), `attestation ${id} not audited`).toBe(true);
        }
        const logged = new Set(
          (db.prepare("SELECT id FROM revocation_log WHERE kind = 'membership_attestation'").all() as Array<{ id: string }>).map(
            (r) => r.id,
          ),
        );
        for (const id of acked.revoked) {
          expect(revAudit.has(id), `revocation of ${id} not audited`).toBe(true);
          expect(logged.has(id), `revocation of ${id} not in the revocation log`).toBe(true);
        }
        // Nothing was written that was not asked for: exactly the acknowledged issues are stored.
        expect(treaties.size).toBe(acked.treaties.size + 1);
        expect(attestations.size).toBe(acked.attestations.size);
      } finally {
        db.close();
      }
    },
    (SECONDS + 120) * 1000,
  );
});
