import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/browser/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time, even on two cores: most of them wait on subprocesses, loopback HTTP and
    // fsync, so two overlap well (the whole suite about 8 minutes instead of 12, one at a time).
    maxWorkers: 2,
    env: { LOG_LEVEL: 'silent' },
  },
});
