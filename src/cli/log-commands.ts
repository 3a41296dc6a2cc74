// `accord log verify URL`: monitors a revocation log served as C2SP tlog-tiles (an authority or any static copy of its files) and prints one JSON summary.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { toTimestamp } from '../authority/clock.ts';
import { writeFileDurably } from '../ops/files.ts';
import { HttpLogSource } from '../transparency/log-source.ts';
import {
  monitorState,
  MonitorFailure,
  parseMonitorState,
  parseTrustedKey,
  verifyLog,
  type MonitorProgress,
  type TrustedKeys,
  type VerifiedHead,
} from '../transparency/monitor.ts';
import { action, CliError, EXIT, printJson } from './output.ts';

interface VerifyOptions {
  key: string[];
  origin?: string;
  state?: string;
  concurrency: string;
  timeout: string;
  progress?: boolean;
  checkEntries?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function boundedNumber(name: string, value: string, min: number, max: number): number {
  if (!/^[0-9]{1,9}$/.test(value) || Number(value) < min || Number(value) > max)
    throw new CliError(`${name} must be a whole number from ${min} to ${max}`);
  return Number(value);
}

function trustedKeys(values: string[]): TrustedKeys {
  if (values.length === 0)
    throw new CliError(
      "--key is required: the log's note verifier key (GET /log/keys) or the authority's public key, confirmed out of band",
    );
  const keys: TrustedKeys = { vkeys: [], publicKeys: [] };
  for (const value of values) {
    const key = parseTrustedKey(value);
    if (!key)
      throw new CliError(
        `--key ${JSON.stringify(value)} is neither a note verifier key (<origin>+<hex key id>+<base64>) nor a base64 Ed25519 public key`,
      );
    if ('vkey' in key) keys.vkeys.push(key.vkey);
    else keys.publicKeys.push(key.publicKey);
  }
  return keys;
}

/** The head of the state file, or null when there is no file yet (the first run checks the whole log). */
function readState(file: string): VerifiedHead | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError(`cannot read the state file ${file}: ${(err as Error).message}`);
  }
  const parsed = parseMonitorState(text);
  if (!parsed.ok) throw new CliError(`${file} is not a log monitor state file (${parsed.problem}); it is left as it is`);
  return parsed.head;
}

/** Progress on stderr at most once a second, and when the last bundle is checked. */
function progressPrinter(started: number): (p: MonitorProgress) => void {
  let last = 0;
  return ({ entriesChecked, entriesToCheck }) => {
    const now = performance.now();
    if (entriesChecked < entriesToCheck && now - last < 1000) return;
    last = now;
    const pct = entriesToCheck === 0 ? 100 : Math.floor((entriesChecked * 100) / entriesToCheck);
    process.stderr.write(
      `accord: log verify: ${pct}% (${entriesChecked.toLocaleString('en-US')} of ${entriesToCheck.toLocaleString('en-US')} entries, ${((now - started) / 1000).toFixed(1)} s)\n`,
    );
  };
}

export function registerLogCommands(program: Command): void {
  const log = program
    .command('log')
    .description("an authority's revocation log as a transparency log (C2SP checkpoint, tiles, entry bundles)");
  log
    .command('verify')
    .description(
      'check a revocation log from outside: the signed checkpoint, consistency with the last run (--state), and every entry against the tiles and the root',
    )
    .argument(
      '<url>',
      "an authority's base URL (its log is under /log), or the URL prefix of any copy of the log's checkpoint and tile/ files",
    )
    .option(
      '--key <key>',
      "a trusted checkpoint key, confirmed out of band: a note verifier key (GET /log/keys) or the authority's base64 public key (repeatable)",
      collect,
      [],
    )
    .option('--origin <origin>', 'the origin the checkpoint must carry (e.g. na.example.org/log)')
    .option(
      '--state <file>',
      'the head verified last: only what is new is fetched, and it must extend it; written after a successful check',
    )
    .option('--concurrency <n>', 'requests in flight, pipelined over up to 4 connections (1–256)', '32')
    .option('--timeout <ms>', 'deadline of each request in milliseconds', '30000')
    .option('--check-entries', 'also check every entry is the canonical JSON of a revocation entry carrying its own index')
    .option('--progress', 'progress lines on stderr')
    .action(
      action(async (url: string, opts: VerifyOptions) => {
        const keys = trustedKeys(opts.key);
        const concurrency = boundedNumber('--concurrency', opts.concurrency, 1, 256);
        const timeoutMs = boundedNumber('--timeout', opts.timeout, 100, 3_600_000);
        if (opts.origin !== undefined && opts.origin.length === 0) throw new CliError('--origin must not be empty');
        const stateFile = opts.state === undefined ? null : path.resolve(opts.state);
        const previous = stateFile ? readState(stateFile) : null;
        let source: HttpLogSource;
        try {
          source = new HttpLogSource(url, { timeoutMs, concurrency });
        } catch (err) {
          throw new CliError(`${url}: ${(err as Error).message}`);
        }

        const started = performance.now();
        const elapsed = () => Math.round(performance.now() - started);
        try {
          const report = await verifyLog(source, {
            keys,
            ...(opts.origin !== undefined ? { origin: opts.origin } : {}),
            previous,
            concurrency,
            // The feeds' entry reader (and the configuration it pulls in) loads only when asked for.
            ...(opts.checkEntries ? { entryReader: (await import('../feeds/model.ts')).readCanonicalEntry } : {}),
            ...(opts.progress ? { onProgress: progressPrinter(started) } : {}),
          });
          const { checkpoint: _note, ...summary } = report;
          if (stateFile) {
            try {
              writeFileDurably(
                stateFile,
                `${JSON.stringify(monitorState(report, source.location, toTimestamp(new Date())), null, 2)}\n`,
                0o644,
              );
            } catch (err) {
              printJson({
                ok: false,
                url: source.location,
                failure: { code: 'state_write_failed', message: (err as Error).message, details: {} },
                ...summary,
                duration_ms: elapsed(),
              });
              throw new CliError(`the log verified, but the state file ${stateFile} could not be written: ${(err as Error).message}`);
            }
          }
          printJson({ ok: true, url: source.location, ...summary, state_file: stateFile, duration_ms: elapsed() });
        } catch (err) {
          if (!(err instanceof MonitorFailure)) throw err;
          printJson({
            ok: false,
            url: source.location,
            failure: { code: err.code, message: err.message, details: err.details },
            previous_size: previous?.size ?? null,
            state_file: stateFile,
            duration_ms: elapsed(),
          });
          if (err.logMisbehaved) throw new CliError(`log verification failed: ${err.code}: ${err.message}`, EXIT.notAccepted);
          throw new CliError(`could not check the log: ${err.code}: ${err.message}`);
        } finally {
          source.close();
        }
      }),
    );
}
