// `accord witness quorum …`, `accord feed import --cosigned-checkpoint` and `accord split-view …` as real subprocesses
// against a served authority: what they send, what they print, and one-line refusals with exit 1.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cosignatureLine, formatCosignerKey } from '../../src/authority/cosignature.ts';
import { signNote } from '../../src/authority/signed-note.ts';
import { formatCheckpoint } from '../../src/transparency/checkpoint.ts';
import { recognize } from '../feeds/simulated-issuer.ts';
import { startCliAuthority, type CliAuthority } from '../helpers/cli-authority.ts';
import { testKey } from '../helpers/authority.ts';
import { startNode, type Node } from '../feeds/network.ts';
import { publishAtSizes } from '../transparency/helpers.ts';
import { evidence, forkOf, noteAtSize, publishForkAtSizes } from '../gossip/helpers.ts';
import { noteText } from './helpers.ts';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const W = { name: 'cli-w/witness', key: testKey('cli quorum witness') };
const VKEY = formatCosignerKey(W.name, W.key.raw);

describe('accord witness quorum, feed import with a cosigned checkpoint, accord split-view', () => {
  it('set, show, refuse, import only with the quorum, clear; submit and export evidence', async () => {
    const na: CliAuthority = await startCliAuthority('accord-quorum-cli-', 'cli-importer');
    cleanups.push(() => na.close());
    const log: Node = await startNode('cli-issuer');
    cleanups.push(() => log.stop());
    publishAtSizes(log, [2]);
    // The importer recognizes the issuer (a treaty issued in process, on the served authority's database).
    const importer = { deps: na.running.authority.deps, operator: { label: 'dev', key: testKey('cli dev') } };
    recognize(importer as unknown as Parameters<typeof recognize>[0], 'cli-issuer', [log.signingKey]);

    const [tooMany, badKey, set] = await Promise.all([
      na.accord('witness', 'quorum', 'set', 'cli-issuer', '--quorum', '2', '--witness', VKEY),
      na.accord('witness', 'quorum', 'set', 'cli-issuer', '--quorum', '1', '--witness', 'nonsense'),
      na.accord('witness', 'quorum', 'set', 'cli-issuer', '--quorum', '1', '--witness', VKEY),
    ]);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toBe(
      'accord: HTTP 422 invalid_quorum_policy: quorum is larger than the number of witnesses listed (field: quorum; witnesses: 1)\n',
    );
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/^accord: --witness "nonsense" is not a witness verifier key/);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({
      issuer_sovereign_id: 'cli-issuer',
      quorum: 1,
      witnesses: [{ name: W.name, vkey: VKEY }],
    });
    const shown = await na.accord('witness', 'quorum', 'show');
    expect(JSON.parse(shown.stdout)).toMatchObject({ policies: [{ issuer_sovereign_id: 'cli-issuer', awaiting_quorum: null }] });

    // A manual import: refused without the cosigned checkpoint (nothing changes), imported with it.
    const feedFile = path.join(na.dir, 'feed.json');
    fs.writeFileSync(feedFile, await (await fetch(`${log.url}/revocation-feeds/1`)).text());
    const note = await (await fetch(`${log.url}/log/checkpoints/1`)).text();
    const noteFile = path.join(na.dir, 'cosigned.note');
    fs.writeFileSync(noteFile, `${note}${cosignatureLine(noteText(note), W.name, W.key, Math.floor(Date.now() / 1000) - 60)}`);
    const refused = await na.accord('feed', 'import', feedFile);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^accord: HTTP 409 awaiting_quorum: .*problem: no_cosigned_checkpoint/);
    const lonely = await na.accord('feed', 'import', feedFile, '--checkpoint-proof', noteFile);
    expect(lonely).toMatchObject({ code: 1, stderr: 'accord: --checkpoint-proof goes with --cosigned-checkpoint\n' });
    const imported = await na.accord('feed', 'import', feedFile, '--cosigned-checkpoint', noteFile);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ status: 'imported', sequence: 1 });

    const cleared = await na.accord('witness', 'quorum', 'clear', 'cli-issuer');
    expect(JSON.parse(cleared.stdout)).toEqual({ issuer_sovereign_id: 'cli-issuer', cleared: true });
    const again = await na.accord('witness', 'quorum', 'clear', 'cli-issuer');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^accord: HTTP 404 quorum_policy_not_found/);

    // Evidence: a forgery by an unknown key is refused in one line; a real fork is recorded, listed, exported.
    const fork = forkOf('cli-issuer');
    publishForkAtSizes(fork, [2]);
    const forged = signNote(
      formatCheckpoint({ origin: 'cli-issuer/log', size: 2, rootHash: `sha256:${'ab'.repeat(32)}` }),
      'cli-issuer/log',
      [testKey('someone else')],
    );
    const badFile = path.join(na.dir, 'bad-evidence.json');
    fs.writeFileSync(badFile, JSON.stringify(evidence('cli-issuer', [noteAtSize(log, 2), forged])));
    const goodFile = path.join(na.dir, 'evidence.json');
    fs.writeFileSync(goodFile, JSON.stringify(evidence('cli-issuer', [noteAtSize(log, 2), noteAtSize(fork, 2)])));
    const bad = await na.accord('split-view', 'submit', badFile);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^accord: HTTP 403 evidence_signature_invalid: checkpoint 1 is not signed by a key recognized for the issuer/,
    );
    const good = await na.accord('split-view', 'submit', goodFile);
    expect(good.code, good.stderr).toBe(0);
    const hash = JSON.parse(good.stdout).evidence_hash as string;

    const out = path.join(na.dir, 'exported.json');
    const [listed, showBad, exported] = await Promise.all([
      na.accord('split-view', 'list', '--issuer', 'cli-issuer'),
      na.accord('split-view', 'show', 'not-a-hash'),
      na.accord('split-view', 'export', hash, '--output', out),
    ]);
    expect(JSON.parse(listed.stdout).split_views).toMatchObject([{ evidence_hash: hash, source: 'peer' }]);
    expect(showBad).toMatchObject({ code: 1, stdout: '' });
    expect(showBad.stderr).toMatch(/^accord: HASH must be an evidence hash/);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toMatchObject({ type: 'split_view_evidence', issuer_sovereign_id: 'cli-issuer' });
    const twice = await na.accord('split-view', 'export', hash, '--output', out);
    expect(twice).toMatchObject({ code: 1, stderr: `accord: ${out} exists; choose another --output\n` });
    // Nothing to forward (no peers): done.
    expect((await na.accord('split-view', 'forward')).code).toBe(0);

    const events = na.running.db.sqlite
      .prepare(
        "SELECT event_type FROM audit_events WHERE event_type IN ('witness_quorum_policy_set', 'witness_quorum_policy_cleared', 'sovereign_revocation_feed_imported', 'split_view_detected', 'feed_issuer_paused') ORDER BY seq",
      )
      .pluck()
      .all();
    expect(events).toEqual([
      'witness_quorum_policy_set',
      'sovereign_revocation_feed_imported',
      'witness_quorum_policy_cleared',
      'split_view_detected',
      'feed_issuer_paused',
    ]);
  }, 180_000);
});
