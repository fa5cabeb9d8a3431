import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS entry for every dependency; the project's own files must get the same copy,
    // or `instanceof GraphQLError` fails between them (vite would otherwise pick the package's `module` entry).
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each file gets its own database (see test/support/database.ts), so files run in parallel safely.
    fileParallelism: true,
    // Test files spend much of their time waiting on sockets, timers and the database: two at once keep a 2-core
    // machine busy (vitest's default there is one, for CPU-bound suites).
    maxWorkers: 2,
    env: { NODE_ENV: 'test' },
  },
});
