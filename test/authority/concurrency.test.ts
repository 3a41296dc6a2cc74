// mapConcurrently: results in index order, never more than the bound running, and a failure stops new tasks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mapConcurrently } from '../../src/authority/concurrency.ts';

const tick = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('mapConcurrently', () => {
  it('returns every result in index order and runs at most `concurrency` tasks at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 3 })),
        async (count, limit, delays) => {
          let running = 0;
          let most = 0;
          const results = await mapConcurrently(count, limit, async (i) => {
            running++;
            most = Math.max(most, running);
            await tick(delays.length > 0 ? delays[i % delays.length]! : 0);
            running--;
            return i * 2;
          });
          expect(results).toEqual(Array.from({ length: count }, (_, i) => i * 2));
          expect(most).toBeLessThanOrEqual(Math.min(limit, Math.max(count, 1)));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('throws the first failure once the running tasks settle, and starts no task after it', async () => {
    const started: number[] = [];
    const settled: number[] = [];
    const run = mapConcurrently(20, 3, async (i) => {
      started.push(i);
      await tick(i === 1 ? 1 : 5);
      settled.push(i);
      if (i === 1) throw new Error('task 1 failed');
      if (i === 2) throw new Error('task 2 failed');
      return i;
    });
    await expect(run).rejects.toThrow('task 1 failed');
    expect(started).toEqual([0, 1, 2]);
    expect(settled.sort()).toEqual([0, 1, 2]);
  });
});
