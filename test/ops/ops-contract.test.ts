// ops/ matches the code: alert metrics exist in /metrics, every runbook command parses, runbooks have
// their five sections, and the systemd unit and Dockerfile are hardened (static checks: no docker here).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestAuthority } from '../helpers/authority.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const OPS = path.join(ROOT, 'ops');
const RUNBOOKS = path.join(OPS, 'runbooks');

interface Alert {
  name: string;
  expr: string;
  severity: string;
  runbook: string;
}

/** The alert rules, read from the YAML's fixed layout (one key per line). */
function alerts(): Alert[] {
  const text = fs.readFileSync(path.join(OPS, 'prometheus', 'alerts.yml'), 'utf8');
  return text
    .split(/\n\s*- alert: /)
    .slice(1)
    .map((block) => ({
      name: block.split('\n')[0]!.trim(),
      expr: /\n\s*expr: (.+)/.exec(block)?.[1]?.trim() ?? '',
      severity: /\n\s*severity: (\S+)/.exec(block)?.[1] ?? '',
      runbook: /\n\s*runbook_url: (\S+)/.exec(block)?.[1] ?? '',
    }));
}

/** Lines of fenced code blocks in the runbooks that run `accord`. */
function runbookCommands(): Array<{ file: string; line: string }> {
  const out: Array<{ file: string; line: string }> = [];
  for (const file of fs.readdirSync(RUNBOOKS).filter((f) => f.endsWith('.md'))) {
    let inCode = false;
    for (const raw of fs.readFileSync(path.join(RUNBOOKS, file), 'utf8').split('\n')) {
      const line = raw.trim();
      if (line.startsWith('```')) {
        inCode = !inCode;
        continue;
      }
      if (inCode && line.startsWith('accord ')) out.push({ file, line });
    }
  }
  return out;
}

/** Shell-style words of one command (quotes removed), up to a pipe, `&&` or comment. */
function words(line: string): string[] {
  const result: string[] = [];
  let current = '';
  let quote: string | null = null;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else current += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      started = true;
      continue;
    }
    if (ch === '|' || ch === '#' || (ch === '&' && line[i + 1] === '&')) break;
    if (/\s/.test(ch)) {
      if (started) result.push(current);
      current = '';
      started = false;
      continue;
    }
    current += ch;
    started = true;
  }
  if (started) result.push(current);
  return result;
}

function helpFor(lines: string[][]): Promise<Array<{ code: number; out: string }>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures', 'cli-help.ts'), JSON.stringify(lines)],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'silent' },
        maxBuffer: 16 * 1024 * 1024,
        timeout: 120_000,
      },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))),
    );
  });
}

describe('alert rules', () => {
  const rules = alerts();

  it('cover the required conditions, each with a severity and a runbook that exists', () => {
    expect(rules.map((r) => r.name).sort()).toEqual(
      [
        'AdminAuthFailuresSpike',
        'FeedEquivocationDetected',
        'FeedImportRejectionsSpike',
        'FeedIssuerStale',
        'FeedPublishOverdue',
        'SignatureVerificationFailuresSpike',
        'TreatyExpiringSoon',
        'WitnessConflictDetected',
        'LogWitnessFailing',
        'FollowerLagging',
        'FollowerRefusingUpdates',
        'PeerKeyChanged',
        'PeerImportRejectionsBurst',
        'PeerReplayBurst',
        'FeedQuorumMissing',
        'SplitViewDetected',
        'MirrorBehind',
        'MirrorSyncFailing',
      ].sort(),
    );
    expect(rules.find((r) => r.name === 'PeerKeyChanged')!.severity).toBe('critical');
    expect(rules.find((r) => r.name === 'FeedEquivocationDetected')!.severity).toBe('critical');
    expect(rules.find((r) => r.name === 'WitnessConflictDetected')!.severity).toBe('critical');
    expect(rules.find((r) => r.name === 'SplitViewDetected')!.severity).toBe('critical');
    // Held-back feeds are a state, not rejections: they must not feed the rejection alert.
    expect(rules.find((r) => r.name === 'FeedImportRejectionsSpike')!.expr).toContain('awaiting_quorum');
    for (const rule of rules) {
      expect(rule.expr, rule.name).not.toBe('');
      expect(['warning', 'critical'], rule.name).toContain(rule.severity);
      expect(rule.runbook, rule.name).toMatch(/^ops\/runbooks\/[a-z0-9-]+\.md$/);
      expect(fs.existsSync(path.join(ROOT, rule.runbook)), rule.runbook).toBe(true);
    }
  });

  it('use only metrics (and label names) that /metrics exports', async () => {
    const a = createTestAuthority();
    const text = await (await a.app.request('/metrics')).text();
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    for (const rule of rules) {
      const used = [...new Set([...rule.expr.matchAll(/\b(accord_[a-z0-9_]+)/g)].map((m) => m[1]!))];
      expect(used.length, rule.name).toBeGreaterThan(0);
      const labels = new Set<string>();
      for (const name of used) {
        expect(exported.has(name), `${rule.name}: ${name} is not exported by /metrics`).toBe(true);
        const metric = a.deps.metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[] };
        for (const l of metric.labelNames ?? []) labels.add(l);
      }
      const matchers = [...rule.expr.matchAll(/[{,]\s*([a-z_]+)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!);
      const grouped = [...rule.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim()));
      for (const label of [...matchers, ...grouped]) expect(labels.has(label), `${rule.name}: label ${label}`).toBe(true);
    }
  });
});

describe('runbooks', () => {
  it('every runbook has the Identify / Contain / Investigate / Recover / Communicate shape', () => {
    const files = fs.readdirSync(RUNBOOKS).filter((f) => f.endsWith('.md') && f !== 'README.md');
    expect(files.length).toBeGreaterThanOrEqual(13);
    for (const file of files) {
      const headings = [...fs.readFileSync(path.join(RUNBOOKS, file), 'utf8').matchAll(/^#{2,4} (.+)$/gm)].map((m) => m[1]!);
      for (const section of ['Identify', 'Contain', 'Investigate', 'Recover', 'Communicate']) {
        expect(
          headings.some((h) => h.startsWith(section)),
          `${file}: ${section}`,
        ).toBe(true);
      }
    }
  });

  it('every `accord …` command in a runbook code block parses with `accord … --help`, and each option exists', async () => {
    const commands = runbookCommands();
    expect(commands.length).toBeGreaterThan(40);
    const argvs = commands.map((c) => words(c.line).slice(1));
    const results = await helpFor(argvs);
    const problems: string[] = [];
    commands.forEach((c, i) => {
      const { code, out } = results[i]!;
      const where = `${c.file}: ${c.line}`;
      if (code !== 0) {
        problems.push(`${where}\n  exit ${code}: ${out.trim().split('\n')[0]}`);
        return;
      }
      const usage = /^Usage: accord ?(.*)$/m.exec(out)?.[1] ?? '';
      // A line that stops at a command group (or misspells a subcommand) gets the group's help.
      if (/\n(Commands):\n/.test(out)) {
        problems.push(`${where}\n  is not a complete command (help shows a command group: ${usage})`);
        return;
      }
      const options = out.slice(out.indexOf('Options:'));
      for (const flag of argvs[i]!.filter((w) => w.startsWith('--')).map((w) => w.split('=')[0]!)) {
        if (!new RegExp(`(^|[\\s,])${flag}(?=[\\s,]|$)`, 'm').test(options))
          problems.push(`${where}\n  unknown option ${flag} (usage: ${usage})`);
      }
    });
    expect(problems).toEqual([]);
  }, 120_000);
});

describe('systemd unit (static)', () => {
  const unit = fs.readFileSync(path.join(OPS, 'systemd', 'accord.service'), 'utf8');
  const directives = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) directives.set(m[1]!, [...(directives.get(m[1]!) ?? []), m[2]!]);
  }
  const one = (key: string) => directives.get(key)?.at(-1);

  it('runs `accord serve` as an unprivileged user, reloads keys with SIGHUP, restarts on failure', () => {
    expect(one('ExecStart')).toMatch(/bin\/accord\.mjs serve$/);
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('User')).toBe('accord');
    expect(one('Restart')).toBe('on-failure');
    expect(one('EnvironmentFile')).toBe('/etc/accord/accord.env');
  });

  it('is hardened: no new privileges, read-only system, private tmp and devices, no capabilities, private state', () => {
    for (const [key, value] of Object.entries({
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
      CapabilityBoundingSet: '',
      UMask: '0077',
      StateDirectoryMode: '0700',
      ReadWritePaths: '/var/lib/accord',
    })) {
      expect(one(key), key).toBe(value);
    }
    expect(directives.get('SystemCallFilter')).toContain('@system-service');
  });
});

describe('Dockerfile (static)', () => {
  const text = fs.readFileSync(path.join(OPS, 'Dockerfile'), 'utf8');
  const stages = text.split(/^FROM /m).slice(1);

  it('is multi-stage on Node 20: dependencies built in one stage, copied into a clean runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage).toMatch(/^node:20[.\w-]* AS \w+/);
    const runtime = stages.at(-1)!;
    expect(runtime).toMatch(/COPY --from=build /);
    expect(runtime).not.toMatch(/npm (ci|install)|apt-get install/);
    for (const copied of [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/))) {
      expect(fs.existsSync(path.join(ROOT, copied)), `COPY ${copied}`).toBe(true);
    }
  });

  it('runs as a non-root user with a health check on /healthz and serves by default', () => {
    const runtime = stages.at(-1)!;
    const user = /^USER (\S+)/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(runtime.indexOf('USER ')).toBeLessThan(runtime.indexOf('ENTRYPOINT'));
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "\/opt\/accord\/bin\/accord\.mjs"\]/m);
    expect(runtime).toMatch(/^CMD \["serve"\]/m);
    expect(runtime).toMatch(/^EXPOSE 8443/m);
  });
});
