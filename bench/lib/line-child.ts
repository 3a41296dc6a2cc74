// A long-lived helper process driven by lines: commands on its stdin, answers as lines on its stdout.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { BENCH_DIR, REPO_DIR } from './harness.ts';

export class LineChild {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private waiting: { resolve: (line: string) => void; reject: (err: Error) => void } | null = null;
  private stderr = '';
  private exited: Error | null = null;
  private readonly closed: Promise<void>;

  /** Starts `node --import tsx bench/<script> …args` (plain `node` for a .mjs script) with stdin and stdout as pipes; stderr is echoed. */
  constructor(
    readonly name: string,
    script: string,
    args: string[] = [],
    env: Record<string, string> = {},
  ) {
    const loader = script.endsWith('.mjs') ? [] : ['--import', 'tsx'];
    this.child = spawn(process.execPath, [...loader, path.resolve(BENCH_DIR, script), ...args], {
      cwd: REPO_DIR,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => {
      partial += d;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w.resolve(line);
        } else this.lines.push(line);
      }
    });
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      process.stderr.write(d);
    });
    this.closed = new Promise((resolve) =>
      this.child.once('close', (code) => {
        this.exited = new Error(`${name} exited with ${code}: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        this.waiting?.reject(this.exited);
        this.waiting = null;
        resolve();
      }),
    );
  }

  /** The next line the child prints. */
  nextLine(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** Sends one command and returns the line that answers it. */
  async ask(command: string): Promise<string> {
    this.child.stdin.write(`${command}\n`);
    return this.nextLine();
  }

  /** Sends `stop`, waits for the answer line, then for the process to end. */
  async stop(): Promise<string> {
    const answer = await this.ask('stop');
    await this.closed;
    return answer;
  }

  /** Ends the process without asking (on a failed run). */
  async kill(): Promise<void> {
    if (!this.exited) this.child.kill('SIGTERM');
    await this.closed;
  }
}

/** Reads commands, one per line, from stdin (the child side of LineChild). */
export function onCommands(handle: (command: string, argument: string) => void | Promise<void>): void {
  let partial = '';
  let chain = Promise.resolve();
  process.stdin.setEncoding('utf8').on('data', (d: string) => {
    partial += d;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl).trim();
      partial = partial.slice(nl + 1);
      const space = line.indexOf(' ');
      const [command, argument] = space < 0 ? [line, ''] : [line.slice(0, space), line.slice(space + 1)];
      chain = chain.then(() => handle(command, argument));
    }
  });
  // The parent going away ends the child too.
  process.stdin.on('end', () => process.exit(0));
}

export function answer(line: string): void {
  process.stdout.write(`${line}\n`);
}
