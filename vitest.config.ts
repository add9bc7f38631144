import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure core, simulation, storage contract, signaling; Node) and `e2e`
 * (real Chromium tabs driven by playwright-core against the built app and the real signaling server).
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['test/unit/**/*.test.ts', 'test/sim/**/*.test.ts', 'test/contract/**/*.test.ts'],
          testTimeout: 30_000,
          // The seeded simulations are CPU-bound; use both cores of the CI machine.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
