// A restore never rolls witness state back: restoring an older backup (with `accord restore`) keeps the largest
// checkpoint the witness cosigned and the conflict evidence, so it still refuses to cosign below it.
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { backupDatabase } from '../../src/ops/backup.ts';
import { accord, removeTempDirs } from '../ops/helpers.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import { auditCount } from '../helpers/authority.ts';
import { addCheckpoint, body, forgedNote, latestNote, proofLines, startFileNode, startNode, witnessLog } from './helpers.ts';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});
afterAll(removeTempDirs);

describe('restore and witness state', () => {
  it('restoring a backup taken at size 3 keeps the cosigned size 8 and the evidence; nothing below 8 is cosigned again', async () => {
    const w = await startFileNode('witness-r');
    stops.push(() => w.stop());
    const l = await startNode('log-r');
    stops.push(() => l.stop());
    publishAtSizes(l, [3]);
    await witnessLog(w, l);
    const note3 = await latestNote(l);
    expect((await addCheckpoint(w.url, body(0, [], note3))).status).toBe(200);

    const dbPath = path.join(w.dir, 'accord.db');
    const backup = path.join(w.dir, 'backup-at-3.db');
    await backupDatabase({ dbPath, output: backup });

    publishAtSizes(l, [8]);
    const note8 = await latestNote(l);
    expect((await addCheckpoint(w.url, body(3, await proofLines(l, 3, 8), note8))).status).toBe(200);
    expect((await addCheckpoint(w.url, body(8, [], forgedNote(l, 8, '77'.repeat(32))))).status).toBe(422);
    const stateBefore = w.db.sqlite.prepare('SELECT * FROM witness_checkpoints').all();
    const evidenceBefore = w.db.sqlite.prepare('SELECT * FROM witness_conflicts').all();
    expect(evidenceBefore).toHaveLength(1);
    // Another root at the cosigned size also proves a split view: evidence, and the log's issuer paused.
    const splitViewsBefore = w.db.sqlite.prepare('SELECT * FROM split_view_evidence').all();
    expect(splitViewsBefore).toHaveLength(1);
    const paused = () =>
      w.db.sqlite.prepare("SELECT paused_reason FROM feed_issuers WHERE issuer_sovereign_id = 'log-r' AND paused = 1").pluck().get();
    expect(paused()).toBe('split_view');
    await w.stop();

    const result = await accord(['restore', '--db', dbPath, '--backup', backup, '--yes'], { env: { ACCORD_DATA_DIR: w.dir } });
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { carried_forward: Record<string, number> };
    expect(summary.carried_forward).toMatchObject({ witness_checkpoints: 1, witness_conflicts: 1, split_view_evidence: 1 });

    await w.restart();
    expect(w.db.sqlite.prepare('SELECT * FROM witness_checkpoints').all()).toEqual(stateBefore);
    expect(w.db.sqlite.prepare('SELECT * FROM witness_conflicts').all()).toEqual(evidenceBefore);
    // The evidence is kept; the pause is issuer state, which the backup's is (docs/operations.md).
    expect(w.db.sqlite.prepare('SELECT * FROM split_view_evidence').all()).toEqual(splitViewsBefore);
    expect(paused()).toBeUndefined();
    // The backup's audit log does not have the later cosignatures; the restore is on it.
    expect(auditCount(w.db, 'database_restored')).toBe(1);

    // What the backup knew (size 3) is not the witness's size any more.
    let res = await addCheckpoint(w.url, body(3, await proofLines(l, 3, 8), note8));
    expect(res).toMatchObject({ status: 409, text: '8\n' });
    res = await addCheckpoint(w.url, body(3, [], note3));
    expect(res).toMatchObject({ status: 409, text: '8\n' });
    res = await addCheckpoint(w.url, body(8, [], forgedNote(l, 8, '78'.repeat(32))));
    expect(res.status).toBe(422);
    expect(paused()).toBe('split_view');
    // The honest log continues from 8.
    publishAtSizes(l, [9]);
    const note9 = await latestNote(l);
    res = await addCheckpoint(w.url, body(8, await proofLines(l, 8, 9), note9));
    expect(res.status, res.text).toBe(200);
  }, 60_000);
});
