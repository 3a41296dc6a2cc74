// Writing a mirror's files so a reader never sees half of one: a temporary name, fsync, rename; directories fsynced before heads name them.
import fs from 'node:fs';
import path from 'node:path';
import { TEMP_DIR } from './paths.ts';

let counter = 0;

/** Whether a process with this id is running (a temporary file of a live writer is left alone). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function fsyncPath(target: string): Promise<void> {
  const handle = await fs.promises.open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The files of one mirror directory. Each file is written under `.accord-tmp/`, fsynced, and renamed
 * to its name, so its name only ever holds a whole file. The directories files were renamed into are
 * fsynced by `syncDirectories` before a head that points at those files is written.
 */
export class MirrorFiles {
  private readonly tempDir: string;
  private readonly touched = new Set<string>();
  private readonly knownDirs = new Set<string>();
  /** Files written and bytes written since this object was made. */
  written = 0;
  bytes = 0;

  constructor(readonly root: string) {
    this.tempDir = path.join(root, TEMP_DIR);
  }

  /** Creates the directory and removes temporary files that a killed writer left behind. */
  async open(): Promise<void> {
    if (!(await this.exists(this.root))) {
      await fs.promises.mkdir(this.root, { recursive: true });
      await fs.promises.chmod(this.root, 0o755);
    }
    await fs.promises.mkdir(this.tempDir, { recursive: true });
    for (const name of await fs.promises.readdir(this.tempDir)) {
      const pid = Number(/^(\d+)-/.exec(name)?.[1] ?? NaN);
      if (!Number.isSafeInteger(pid) || !alive(pid)) await fs.promises.rm(path.join(this.tempDir, name), { force: true });
    }
  }

  /** Whether the file exists (an immutable file that exists is whole: only renames put files in place). */
  async exists(file: string): Promise<boolean> {
    try {
      await fs.promises.access(file);
      return true;
    } catch {
      return false;
    }
  }

  /** Writes `bytes` to `file` (inside the root) atomically: temporary name, fsync, rename. */
  async write(file: string, bytes: Uint8Array | string): Promise<void> {
    const dir = path.dirname(file);
    if (!this.knownDirs.has(dir)) {
      await this.makeDirectory(dir);
      this.knownDirs.add(dir);
    }
    const temp = path.join(this.tempDir, `${process.pid}-${++counter}`);
    const handle = await fs.promises.open(temp, 'wx', 0o644);
    try {
      // Public files, readable by the web server's user whatever this process's umask (the service's is 0077).
      await handle.chmod(0o644);
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.promises.rename(temp, file);
    } catch (err) {
      await fs.promises.rm(temp, { force: true });
      throw err;
    }
    this.touched.add(dir);
    this.written++;
    this.bytes += typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  }

  /** Creates a directory and its missing parents; each new one is fsynced with its parent later. */
  private async makeDirectory(dir: string): Promise<void> {
    const missing: string[] = [];
    for (let d = dir; d.startsWith(this.root) && !(await this.exists(d)); d = path.dirname(d)) missing.push(d);
    await fs.promises.mkdir(dir, { recursive: true });
    for (const d of missing) {
      await fs.promises.chmod(d, 0o755);
      this.touched.add(path.dirname(d));
    }
  }

  /** Fsyncs every directory a file was renamed into (or created in) since the last call. */
  async syncDirectories(): Promise<void> {
    const dirs = [...this.touched];
    this.touched.clear();
    // Deepest first: a new directory's own entries are durable before its parent names it.
    dirs.sort((a, b) => b.length - a.length);
    for (const dir of dirs) await fsyncPath(dir);
  }
}
