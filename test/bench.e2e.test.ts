import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BenchReport } from '../src/bench/load-generator.js'
import { runCli } from './helpers/cli-process.js'
import { startTestServer, type TestServer } from './helpers/test-server.js'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  await server?.close()
})

describe('gguf-serve bench', () => {
  it('measures every concurrency level against our server and writes a consistent report', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'gguf-serve-bench-')), 'results.json')
    const args = ['bench', '--base-url', `${server.origin}/v1`, '--concurrency', '1,2', '--requests', '3']
    const run = runCli([...args, '--prompt-tokens', '12', '--output-tokens', '6', '--seed', '3', '--warmup', '1', '--out', out, '--markdown'])
    expect(await run.exited, run.output()).toBe(0)
    expect(run.output()).toContain('concurrency 2: 3/3 done')
    expect(run.output()).toMatch(/\| concurrency \| ok \/ sent \| output tok\/s/)
    expect(run.output()).toMatch(/\n\| 1 \| 3 \/ 3 \|.*\n\| 2 \| 3 \/ 3 \|/)

    const report = JSON.parse(readFileSync(out, 'utf8')) as BenchReport
    expect(report.model).toBe('tiny-chat')
    expect(report.options).toEqual({ concurrencies: [1, 2], requests: 3, promptTokens: 12, outputTokens: 6, seed: 3, warmup: 1 })
    expect(report.levels.map((l) => l.concurrency)).toEqual([1, 2])
    for (const level of report.levels) {
      expect(level).toMatchObject({ requests: 3, completed: 3, errors: 0, errorMessages: [], usageReported: 3 })
      // ignore_eos: every request yields exactly --output-tokens tokens, as usage reports them.
      expect(level.outputTokens).toBe(3 * 6)
      expect(level.contentChunks).toBeGreaterThan(0)
      expect(level.contentChunks).toBeLessThanOrEqual(level.outputTokens)
      expect(level.promptTokens).toBeGreaterThanOrEqual(3 * 12)
      expect(level.durationMs).toBeGreaterThan(0)
      expect(level.outputTokensPerS).toBeGreaterThan(0)
      expect(level.requestsPerS).toBeGreaterThan(0)
      expect(level.outputTokensPerS).toBeCloseTo(level.outputTokens / (level.durationMs / 1000), 6)
      expect(level.requestsPerS).toBeCloseTo(level.completed / (level.durationMs / 1000), 6)
      for (const d of [level.ttftMs, level.tpotMs, level.itlMs, level.e2eMs]) {
        expect(d).not.toBeNull()
        expect(d!.p50).toBeGreaterThanOrEqual(0)
        expect(d!.p50).toBeLessThanOrEqual(d!.p90)
        expect(d!.p90).toBeLessThanOrEqual(d!.p99)
      }
      expect(level.ttftMs!.count).toBe(3)
      expect(level.tpotMs!.count).toBe(3)
      expect(level.e2eMs!.count).toBe(3)
      expect(level.itlMs!.count).toBe(level.contentChunks - 3)
      expect(level.ttftMs!.p99).toBeLessThanOrEqual(level.e2eMs!.p99)
    }
  })

  it('exits non-zero naming a bad option', async () => {
    const run = runCli(['bench', '--base-url', `${server.origin}/v1`, '--concurrency', '1,x'])
    expect(await run.exited).toBe(1)
    expect(run.output()).toContain('--concurrency must be an integer')
  })
})
