// The README's "First federation" block, run as written by bash with `accord` on PATH (as `npm link` puts it), two real servers on 127.0.0.1.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, childEnv, freePort, tempDataDir } from './run.ts';

const README = path.join(import.meta.dirname, '..', '..', 'README.md');

/** The one fenced `sh` block of a README section (from its heading to the next `## `). */
function sectionBlock(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README has no "## ${heading}" section`);
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/\n```sh\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
  if (blocks.length !== 1) throw new Error(`"## ${heading}" must hold exactly one sh block, found ${blocks.length}`);
  return `${blocks[0]}\n`;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('README', () => {
  const readme = fs.readFileSync(README, 'utf8');

  it('keeps the two quick start command lines as they are', () => {
    expect(readme).toContain('\n```sh\nnpm ci && npm start\n```\n');
    expect(readme).toContain('\n```sh\nnpm ci && npm test\n```\n');
  });

  describe('"First federation", run verbatim', () => {
    const dir = tempDataDir();
    let result: Run;
    let group: number | undefined;

    beforeAll(async () => {
      // `npm link` gives exactly this: an `accord` on PATH that is a link to bin/accord.mjs.
      const shim = path.join(dir.root, 'bin');
      fs.mkdirSync(shim);
      fs.symlinkSync(BIN, path.join(shim, 'accord'));
      const script = `set -euo pipefail\n${sectionBlock(readme, 'First federation')}`;
      const env = childEnv({
        PATH: `${shim}${path.delimiter}${process.env.PATH ?? ''}`,
        // The block's own knobs: its scratch directory (mktemp) and its two ports.
        TMPDIR: dir.root,
        NORTH_PORT: String(await freePort()),
        SOUTH_PORT: String(await freePort()),
      });
      delete env.LOG_LEVEL;
      // Its own process group, so the two servers it leaves running can be stopped with it.
      const child = spawn('bash', ['-c', script], { cwd: path.dirname(README), env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      group = child.pid;
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      result = await new Promise<Run>((resolve) => child.once('exit', (code) => setImmediate(() => resolve({ code, stdout, stderr }))));
    }, 300_000);

    afterAll(() => {
      if (group !== undefined) {
        try {
          process.kill(-group, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      dir.remove();
    });

    it('every command succeeds', () => {
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    });

    it('south accepts north’s attestation, then refuses it once north’s revocation reached it', () => {
      const verdicts = [...result.stdout.matchAll(/"accepted": (true|false),\n\s+"reason": "([a-z_]+)"/g)].map((m) => `${m[1]} ${m[2]}`);
      expect(verdicts).toEqual(['true accepted', 'false revoked_by_issuer_feed']);
      expect(result.stderr).toContain('accord: not accepted: revoked_by_issuer_feed\n');
      expect(result.stdout).toContain('refused (exit 2)');
      // --wait printed the feed that carried the revocation.
      expect(result.stdout).toMatch(/"published_in": \{\n\s+"sequence": \d+/);
    });

    it('the blast radius names south as the acceptor, caught up; the dashboard shows it', async () => {
      expect(result.stdout).toMatch(/"affected_accepting_sovereigns": \[\n\s+"south"\n\s+\]/);
      expect(result.stdout).toMatch(/"caught_up": true,\n\s+"sovereign_id": "south"/);
      const link = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/connectome\?focus=([0-9a-f-]{36}))$/m.exec(result.stdout);
      expect(link, result.stdout).not.toBeNull();
      const page = await (await fetch(link![1]!)).text();
      expect(page).toContain(`<section id="blast-radius" data-item="${link![2]}">`);
      expect(page).toContain('<tr data-sovereign="south" data-caught-up="true">');
    });
  });
});
