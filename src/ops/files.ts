// File handling shared by the operations commands: streamed SHA-256, sha256sum sidecars, durable renames.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { AppError } from '../authority/errors.ts';

/** Read size for hashing: large reads keep the per-call overhead small next to SHA-256 itself. */
const HASH_CHUNK_BYTES = 4 << 20;

/**
 * The hashing worker: plain CommonJS, so it runs the same from the TypeScript sources and from the
 * compiled build. It reads in large chunks into one reused buffer (constant memory); with `fsync`
 * the file is also fsynced on the thread pool while it is hashed.
 */
const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const fd = fs.openSync(workerData.file, 'r');
const synced = workerData.fsync ? new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve()))) : Promise.resolve();
const hash = createHash('sha256');
const buffer = Buffer.allocUnsafe(workerData.chunkBytes);
let bytesRead;
while ((bytesRead = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0) hash.update(buffer.subarray(0, bytesRead));
synced.then(
  () => { fs.closeSync(fd); parentPort.postMessage(hash.digest('hex')); },
  (err) => { fs.closeSync(fd); throw err; },
);
`;

function hashInWorker(file: string, fsync: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let digest: string | undefined;
    const worker = new Worker(HASH_WORKER, { eval: true, workerData: { file, fsync, chunkBytes: HASH_CHUNK_BYTES } });
    worker.once('message', (hex: string) => {
      digest = hex;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (digest !== undefined) resolve(digest);
      else reject(new Error(`the hashing worker for ${file} exited with code ${code}`));
    });
  });
}

/** Hex SHA-256 of a file, computed on a worker thread: the calling thread stays free meanwhile. */
export function sha256File(file: string): Promise<string> {
  return hashInWorker(file, false);
}

/** `sha256File`, and the file fsynced meanwhile (the backup runs quick_check on the same file meanwhile). */
export function sha256AndSyncInWorker(file: string): Promise<string> {
  return hashInWorker(file, true);
}

/** `FILE.sha256` in sha256sum format (`<hex>  <basename>`), so `sha256sum -c FILE.sha256` checks it. */
export function sidecarPath(file: string): string {
  return `${file}.sha256`;
}

export function writeSha256Sidecar(file: string, hex: string): string {
  const sidecar = sidecarPath(file);
  writeFileDurably(sidecar, `${hex}  ${path.basename(file)}\n`);
  return sidecar;
}

/** The hash recorded in a sha256sum-format sidecar, or null when there is none. */
export function readSha256Sidecar(file: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync(sidecarPath(file), 'utf8');
  } catch {
    return null;
  }
  const match = /^([0-9a-f]{64})[ \t]+\*?(.+)$/m.exec(text.trim());
  if (!match) throw new AppError('invalid_sidecar', `${sidecarPath(file)} is not in sha256sum format`);
  return match[1]!;
}

export function fsyncPath(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Makes a rename durable: fsync the directory that holds the new name (best effort where unsupported). */
export function fsyncDirectory(dir: string): void {
  try {
    fsyncPath(dir);
  } catch {
    // Some filesystems do not allow fsync on a directory; the rename itself is still atomic.
  }
}

/** Writes a small file via a temporary name and an atomic rename. */
export function writeFileDurably(file: string, content: string | Buffer, mode = 0o600): void {
  const tmp = temporaryPath(file);
  try {
    fs.writeFileSync(tmp, content, { mode, flag: 'wx' });
    fsyncPath(tmp);
    fs.renameSync(tmp, file);
    fsyncDirectory(path.dirname(file));
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Copies a file into a new file that is 0600 from its creation (never overwriting). Unlike
 * `fs.copyFile`, which gives the copy the source's mode, the copy is private whatever the source's
 * mode and the umask.
 */
export async function copyToPrivateFile(source: string, dest: string): Promise<void> {
  await pipeline(
    fs.createReadStream(source, { highWaterMark: HASH_CHUNK_BYTES }),
    fs.createWriteStream(dest, { flags: 'wx', mode: 0o600 }),
  );
}

/** A fresh temporary name next to `file` (same directory, so a rename onto `file` is atomic). */
export function temporaryPath(file: string, tag = 'partial'): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${tag}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
}

/** Refuses to overwrite an existing file unless forced. */
export function refuseOverwrite(file: string, force: boolean | undefined, flag = '--force'): void {
  if (!force && fs.existsSync(file)) throw new AppError('output_exists', `refusing to overwrite ${file} (use ${flag})`);
}

/** Removes a file and the -wal/-shm/-journal files SQLite may have left beside it. */
export function removeSqliteFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) fs.rmSync(`${file}${suffix}`, { force: true });
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/** True when the file starts with the SQLite 3 header. */
export function hasSqliteHeader(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(SQLITE_HEADER.length);
    const read = fs.readSync(fd, head, 0, head.length, 0);
    return read === head.length && head.equals(SQLITE_HEADER);
  } finally {
    fs.closeSync(fd);
  }
}
