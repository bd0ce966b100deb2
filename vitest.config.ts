import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The reliability suite (fuzzing, soak, faults) runs on its own: npm run test:reliability.
    exclude: ['test/reliability/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each e2e file starts its own server; llama.cpp threads are pinned low, so two files at once fit 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
})
