// CLI output conventions: JSON on stdout, one-line errors on stderr with a non-zero exit code.

/** Exit codes of every `accord` command (the table in docs/cli.md). */
export const EXIT = {
  /** Done as asked. */
  ok: 0,
  /** Not done: usage, input, transport or HTTP error, a failed check, a pull that imported nothing. */
  failed: 1,
  /** A verify command ran and the answer is "not accepted". */
  notAccepted: 2,
  /** The change was made, but `--wait` saw no published feed carry it in time. */
  notConfirmed: 3,
} as const;

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Wraps a command action so any failure becomes one line on stderr and a non-zero exit. */
export function action<A extends unknown[]>(fn: (...args: A) => unknown | Promise<unknown>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const message = (err as Error).message?.split('\n')[0] ?? String(err);
      process.stderr.write(`accord: ${message}\n`);
      process.exitCode = err instanceof CliError ? err.exitCode : EXIT.failed;
    }
  };
}
