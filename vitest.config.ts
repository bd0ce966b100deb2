import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each e2e file starts its own server; llama.cpp threads are pinned low, so two files at once fit 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
})
