import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RESULTS_END, RESULTS_START } from '../src/bench/readme-results.js'
import type { BenchReport } from '../src/bench/report.js'
import { runCli } from './helpers/cli-process.js'
import { TINY_MODEL_PATH } from './helpers/models.js'
import { startTestServer, type TestServer } from './helpers/test-server.js'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  await server?.close()
})

describe('gguf-serve bench', () => {
  it('measures our server and the raw engine side by side and writes a consistent report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gguf-serve-bench-'))
    const out = join(dir, 'results.json')
    const chart = join(dir, 'chart.svg')
    // The engine run copies the test server's shape: 1 thread, 2 slots of 1024 tokens.
    const engine = ['--engine-model', TINY_MODEL_PATH, '--threads', '1', '--parallel', '2', '--context-size', '1024']
    const run = runCli([
      'bench', '--base-url', `${server.origin}/v1`, ...engine, '--concurrency', '1,2', '--requests', '3',
      '--prompt-tokens', '12', '--output-tokens', '6', '--seed', '3', '--warmup', '1', '--out', out, '--chart', chart, '--markdown',
    ])
    expect(await run.exited, run.output()).toBe(0)
    expect(run.output()).toContain('server c2: 3/3 done')
    expect(run.output()).toContain('engine c2: 3/3 done')
    expect(run.output()).toMatch(/\*\*server ÷ engine\*\*/)
    expect(run.output()).toMatch(/\n\| c1 \| 3 \/ 3 \|.*\n\| c2 \| 3 \/ 3 \|/)
    expect(readFileSync(chart, 'utf8')).toMatch(/^<svg[^]*<polyline[^]*<polyline[^]*<\/svg>\n$/)

    const report = JSON.parse(readFileSync(out, 'utf8')) as BenchReport
    expect(report.options).toEqual({
      levels: [{ kind: 'concurrency', concurrency: 1 }, { kind: 'concurrency', concurrency: 2 }],
      requests: 3,
      rounds: 1,
      promptTokens: { mean: 12, range: 0 },
      outputTokens: { mean: 6, range: 0 },
      seed: 3,
      temperature: 0,
      warmup: 1,
    })
    expect(report.command).toContain('bench --base-url')
    const [ours, raw] = report.targets
    expect(ours).toMatchObject({ name: 'server', kind: 'http', model: 'tiny-chat' })
    expect(raw).toMatchObject({ name: 'engine', kind: 'engine', modelPath: TINY_MODEL_PATH, threads: 1, parallel: 2, contextSize: 1024, batchSize: 512 })
    for (const target of [ours!, raw!]) {
      expect(target.levels.map((l) => l.label)).toEqual(['c1', 'c2'])
      for (const level of target.levels) {
        expect(level).toMatchObject({ requests: 3, completed: 3, errors: 0, errorMessages: [], usageReported: 3 })
        // ignore_eos: every request yields exactly --output-tokens tokens, as usage reports them.
        expect(level.outputTokens).toBe(3 * 6)
        expect(level.contentChunks).toBeGreaterThan(0)
        expect(level.contentChunks).toBeLessThanOrEqual(level.outputTokens)
        expect(level.promptTokens).toBeGreaterThanOrEqual(3 * 12)
        expect(level.outputTokensPerS).toBeCloseTo(level.outputTokens / (level.durationMs / 1000), 6)
        expect(level.requestsPerS).toBeCloseTo(level.completed / (level.durationMs / 1000), 6)
        for (const d of [level.ttftMs, level.tpotMs, level.itlMs, level.e2eMs]) {
          expect(d).not.toBeNull()
          expect(d!.p50).toBeGreaterThanOrEqual(0)
          expect(d!.p50).toBeLessThanOrEqual(d!.p90)
          expect(d!.p90).toBeLessThanOrEqual(d!.p99)
        }
        expect(level.ttftMs!.count).toBe(3)
        expect(level.e2eMs!.count).toBe(3)
        expect(level.itlMs!.count).toBe(level.contentChunks - 3)
        expect(level.ttftMs!.p99).toBeLessThanOrEqual(level.e2eMs!.p99)
      }
    }
    // The engine yields one token per step, and evaluates the very prompt tokens the server reports.
    for (const [i, level] of raw!.levels.entries()) {
      expect(level.contentChunks).toBe(level.outputTokens)
      expect(level.promptTokens).toBe(ours!.levels[i]!.promptTokens)
    }
    expect(report.ratios).toHaveLength(1)
    expect(report.ratios[0]).toMatchObject({ subject: 'server', reference: 'engine' })
    for (const [i, ratio] of report.ratios[0]!.levels.entries()) {
      expect(ratio.outputTokensPerS).toBeCloseTo(ours!.levels[i]!.outputTokensPerS / raw!.levels[i]!.outputTokensPerS, 9)
      expect(ratio.ttftP50).toBeCloseTo(ours!.levels[i]!.ttftMs!.p50 / raw!.levels[i]!.ttftMs!.p50, 9)
    }
  })

  it('re-renders a saved report into the README block without measuring', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gguf-serve-bench-'))
    const out = join(dir, 'results.json')
    const measured = runCli(['bench', '--base-url', `${server.origin}/v1`, '--concurrency', '1', '--requests', '1', '--output-tokens', '2', '--warmup', '0', '--out', out])
    expect(await measured.exited, measured.output()).toBe(0)
    const readme = join(dir, 'README.md')
    writeFileSync(readme, `# x\n${RESULTS_START}\nold\n${RESULTS_END}\nrest\n`)
    const run = runCli(['bench', '--from-report', out, '--readme', readme])
    expect(await run.exited, run.output()).toBe(0)
    const text = readFileSync(readme, 'utf8')
    expect(text).toContain('| level | server tok/s | TTFT p50 (ms) |')
    expect(text).toContain('gguf-serve bench --base-url')
    expect(text).not.toContain('old')
    expect(text.endsWith(`${RESULTS_END}\nrest\n`)).toBe(true)
  })

  it('runs request-rate levels with length distributions', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'gguf-serve-bench-')), 'results.json')
    const run = runCli([
      'bench', '--base-url', `${server.origin}/v1`, '--request-rate', '50', '--requests', '4', '--prompt-tokens', '10',
      '--prompt-tokens-range', '0.5', '--output-tokens', '6', '--output-tokens-range', '0.5', '--warmup', '0', '--out', out,
    ])
    expect(await run.exited, run.output()).toBe(0)
    const [level] = (JSON.parse(readFileSync(out, 'utf8')) as BenchReport).targets[0]!.levels
    expect(level).toMatchObject({ label: '50 req/s', level: { kind: 'rate', requestsPerS: 50 }, completed: 4, usageReported: 4 })
    // Output lengths vary within 6 · (1 ± 0.5), and usage counts them exactly.
    expect(level!.outputTokens).toBeGreaterThanOrEqual(4 * 3)
    expect(level!.outputTokens).toBeLessThanOrEqual(4 * 9)
  })

  it('exits non-zero naming a bad option', async () => {
    const run = runCli(['bench', '--base-url', `${server.origin}/v1`, '--concurrency', '1,x'])
    expect(await run.exited).toBe(1)
    expect(run.output()).toContain('--concurrency must be an integer')
  })
})
