import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/cleanup.ts'],
    pool: 'forks',
    maxWorkers: 3,
    testTimeout: 240_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
  },
});
