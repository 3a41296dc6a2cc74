// Bounded concurrency for background work that talks to several peers or writes many files at once.

/**
 * Runs `task` for the indexes 0 … count − 1, at most `concurrency` at once, and returns the results in
 * index order. After a task throws no new one starts; the first failure is thrown once the running
 * tasks have settled.
 */
export async function mapConcurrently<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async () => {
    while (next < count && !failed) {
      const i = next++;
      try {
        results[i] = await task(i);
      } catch (err) {
        if (!failed) failure = err;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failed) throw failure;
  return results;
}
