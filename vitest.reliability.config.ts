import { defineConfig } from 'vitest/config'

/** `npm run test:reliability`: fuzzing, a soak with random disconnects, and fault injection. */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})
