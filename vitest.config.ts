import { defineConfig } from 'vitest/config';

// Unit tests are pure and run in parallel. Integration and fault tests share one
// real broker and emulator (started by the global setup when not running), so
// they run one file at a time to keep a 2-core machine honest.
export default defineConfig({
  test: {
    // in CI also a JSON report, from which .ci/run prints a plain "N passed, N failed" line
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: '.vitest/results.json' }]]
      : ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/faults/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/support/globalSetup.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
