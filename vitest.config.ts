import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each file gets its own database (see test/support/database.ts), so files run in parallel safely.
    fileParallelism: true,
    env: { NODE_ENV: 'test' },
  },
});
