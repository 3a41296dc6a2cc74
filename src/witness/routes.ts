// HTTP surface of witnessing: the C2SP tlog-witness endpoints, the witness's keys, and the admin routes of both sides.
import { Hono } from 'hono';
import { z } from 'zod';
import { adminOrigin } from '../authority/admin-auth.ts';
import type { AppDeps, AppEnv } from '../authority/context.ts';
import { AppError } from '../authority/errors.ts';
import { rawBody, validatedBody } from '../authority/http.ts';
import { identifier } from '../authority/identifiers.ts';
import {
  addCheckpointAsync,
  cosignedCheckpointByOriginHash,
  disableWitnessing,
  enableWitnessing,
  listWitnessConflicts,
  listWitnessedLogs,
  refreshWitnessMetrics,
  witnessInfo,
} from './service.ts';
import { refreshLogWitnessMetrics, submitToWitnesses, witnessStatuses } from './submission.ts';
import {
  clearQuorumPolicy,
  getQuorumPolicy,
  listQuorumPolicies,
  quorumPolicyBody,
  refreshQuorumGauges,
  setQuorumPolicy,
} from './quorum.ts';

const enableBody = z.strictObject({ sovereign_id: identifier, origin: z.string().min(1).max(255).optional() });
const ORIGIN_HASH = /^[0-9a-f]{64}$/;
const setPolicyBody = quorumPolicyBody.extend({ issuer_sovereign_id: identifier });

function issuerParam(id: string | undefined): string {
  const parsed = identifier.safeParse(id ?? '');
  if (!parsed.success) throw new AppError('quorum_policy_not_found', 'no quorum policy for this issuer');
  return parsed.data;
}

function sovereignParam(id: string | undefined): string {
  const parsed = identifier.safeParse(id ?? '');
  if (!parsed.success) throw new AppError('witness_log_not_found', 'this authority has never witnessed this sovereign');
  return parsed.data;
}

export function witnessRoutes(deps: AppDeps) {
  refreshWitnessMetrics(deps);
  refreshLogWitnessMetrics(deps);
  refreshQuorumGauges(deps);

  return (
    new Hono<AppEnv>()
      // ---- C2SP tlog-witness, submission prefix /witness. Public: the log's signature is the authentication.
      .post('/witness/add-checkpoint', async (c) => {
        let status = 500;
        try {
          const answer = await addCheckpointAsync(deps, await rawBody(c), c.get('requestId'));
          status = answer.status;
          c.header('Cache-Control', 'no-store');
          // The witness's current size for the log, as the spec writes it (not the JSON error envelope).
          if (answer.status === 409) return c.body(`${answer.size}\n`, 409, { 'Content-Type': 'text/x.tlog.size' });
          return c.body(answer.body, 200, { 'Content-Type': 'text/plain; charset=utf-8' });
        } catch (err) {
          if (err instanceof AppError) status = err.status;
          throw err;
        } finally {
          deps.metrics.witnessRequests.inc({ status: String(status) });
        }
      })
      // The monitoring view: the latest checkpoint cosigned for a log, by the SHA-256 (hex) of its origin.
      .get('/witness/:originHash/checkpoint', (c) => {
        const hash = c.req.param('originHash');
        if (!ORIGIN_HASH.test(hash))
          throw new AppError('witness_checkpoint_not_found', 'this authority has cosigned no checkpoint of a log with this origin hash');
        c.header('Cache-Control', 'no-cache');
        c.header('Content-Type', 'text/plain; charset=utf-8');
        return c.body(cosignedCheckpointByOriginHash(deps, hash));
      })
      .get('/witness', (c) => c.json(witnessInfo(deps)))

      // ---- Admin: the logs this authority witnesses.
      .get('/admin/witness/logs', (c) => c.json({ logs: listWitnessedLogs(deps) }))
      .post('/admin/witness/logs', async (c) => {
        const body = await validatedBody(c, enableBody, 'invalid_witness_log');
        return c.json(enableWitnessing(deps, body, adminOrigin(c)));
      })
      .post('/admin/witness/logs/:id/disable', (c) => c.json(disableWitnessing(deps, sovereignParam(c.req.param('id')), adminOrigin(c))))
      .get('/admin/witness/conflicts', (c) => c.json({ conflicts: listWitnessConflicts(deps) }))

      // ---- Admin: quorum policies of this authority as an importer.
      .get('/admin/witness/quorum', (c) => c.json({ policies: listQuorumPolicies(deps) }))
      .get('/admin/witness/quorum/:issuer', (c) => c.json(getQuorumPolicy(deps, issuerParam(c.req.param('issuer')))))
      .post('/admin/witness/quorum', async (c) => {
        const { issuer_sovereign_id: issuer, ...policy } = await validatedBody(c, setPolicyBody, 'invalid_quorum_policy');
        return c.json(setQuorumPolicy(deps, issuer, policy, adminOrigin(c)));
      })
      .delete('/admin/witness/quorum/:issuer', (c) => c.json(clearQuorumPolicy(deps, issuerParam(c.req.param('issuer')), adminOrigin(c))))

      // ---- Admin: the witnesses of this authority's log.
      .get('/admin/log/witnesses', (c) => c.json({ witnesses: witnessStatuses(deps) }))
      .post('/admin/log/witnesses/submit', async (c) => c.json(await submitToWitnesses(deps, { force: true })))
  );
}
