import { describe, expect, it } from 'vitest'
import { chartSvg, niceCeiling } from '../src/bench/chart.js'
import { ratio, ratioTables } from '../src/bench/compare.js'
import { levelReport, type TargetReport } from '../src/bench/runner.js'
import { readmeResults, replaceBetweenMarkers, RESULTS_END, RESULTS_START, type HttpOverheadReport } from '../src/bench/readme-results.js'
import { markdownReport, type BenchReport } from '../src/bench/report.js'
import type { RequestResult } from '../src/bench/target.js'
import type { LoadLevel } from '../src/bench/workload.js'

/** A successful request of `tokens` tokens, first after `ttft` ms and then one every `gap` ms. */
function result(ttft: number, tokens: number, gap: number): RequestResult {
  const chunkTimesMs = Array.from({ length: tokens }, (_, i) => ttft + i * gap)
  return { ok: true, timing: { startMs: 0, chunkTimesMs, endMs: chunkTimesMs.at(-1)!, outputTokens: tokens }, contentChunks: tokens, promptTokens: 10, usageCompletionTokens: tokens }
}

const c1: LoadLevel = { kind: 'concurrency', concurrency: 1 }
const c4: LoadLevel = { kind: 'concurrency', concurrency: 4 }

function target(name: string, ttft: number, durationMs: number): TargetReport {
  const levels = [c1, c4].map((level) => levelReport(level, [result(ttft, 8, 10), result(ttft, 8, 10)], durationMs))
  return name === 'engine'
    ? { name, kind: 'engine', modelPath: 'm.gguf', threads: 2, parallel: 8, contextSize: 4096, batchSize: 512, levels }
    : { name, kind: 'http', baseUrl: `http://${name}/v1`, model: 'm', levels }
}

function report(): BenchReport {
  const targets = [target('server', 120, 1000), target('compare', 100, 800), target('engine', 100, 500)]
  return {
    tool: 'gguf-serve bench',
    startedAt: '2026-11-22T00:00:00.000Z',
    command: 'gguf-serve bench --base-url http://server/v1',
    machine: { cpu: 'Test CPU', cpus: 2, platform: 'linux-x64', node: 'v20.0.0' },
    options: { levels: [c1, c4], requests: 2, rounds: 1, promptTokens: { mean: 10, range: 0 }, outputTokens: { mean: 8, range: 0 }, seed: 0, warmup: 0 },
    targets,
    ratios: ratioTables(targets),
  }
}

describe('ratios', () => {
  it('divide the subject by each reference, level by level', () => {
    expect(ratio(3, 4)).toBe(0.75)
    expect(ratio(3, 0)).toBeNull()
    expect(ratio(null, 4)).toBeNull()
    expect(ratio(3, Number.NaN)).toBeNull()
    const tables = report().ratios
    expect(tables.map((t) => `${t.subject}/${t.reference}`)).toEqual(['server/compare', 'server/engine'])
    // 16 tokens in 1000 ms against 800 ms and 500 ms; TTFT 120 against 100.
    expect(tables[0]!.levels[0]).toEqual({ label: 'c1', outputTokensPerS: 0.8, ttftP50: 1.2, tpotP50: 1 })
    expect(tables[1]!.levels[1]).toMatchObject({ label: 'c4', outputTokensPerS: 0.5 })
    expect(ratioTables([])).toEqual([])
  })

  it('leave out failed requests but count them', () => {
    const level = levelReport(c1, [result(5, 4, 1), { ok: false, error: 'HTTP 500', contentChunks: 0, promptTokens: null, usageCompletionTokens: null }], 100)
    expect(level).toMatchObject({ label: 'c1', requests: 2, completed: 1, errors: 1, errorMessages: ['HTTP 500'], outputTokens: 4, promptTokens: 10 })
  })
})

describe('Markdown and chart', () => {
  it('prints a table per target and the ratio tables', () => {
    const text = markdownReport(report())
    expect(text).toContain('**engine**: in-process node-llama-cpp: m.gguf, 2 threads, 8 sequences × 4096 tokens, batch 512')
    expect(text).toContain('**server ÷ compare**')
    expect(text).toContain('| c1 | 0.800 | 1.200 | 1.000 |')
  })

  it('draws both panels with one line per target', () => {
    const svg = chartSvg(report())
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(svg.match(/<polyline /g)).toHaveLength(2 * 3)
    expect(svg.match(/<circle /g)).toHaveLength(2 * 3 * 2)
    expect(svg).toContain('output tokens/s')
    expect(svg).toContain('TTFT p50')
    for (const name of ['server', 'compare', 'engine']) expect(svg).toContain(`>${name}</text>`)
    expect(niceCeiling(0)).toBe(1)
    expect(niceCeiling(37)).toBe(50)
    expect(niceCeiling(100)).toBe(100)
    expect(niceCeiling(101)).toBe(200)
  })
})

describe('README results block', () => {
  const http: HttpOverheadReport = {
    command: 'npx tsx bench/http-overhead.ts',
    machine: report().machine,
    model: 'tiny',
    parallel: 4,
    threads: 1,
    endpoints: [{ name: 'GET /health', connections: 10, requestsPerS: 5000, meanMs: 1.9, p99Ms: 4 }],
    oneToken: { httpMeanMs: 2.5, engineMeanMs: 1.25, overheadMs: 1.25 },
  }

  it('replaces only the text between the markers', () => {
    const readme = `# Title\n\n${RESULTS_START}\nold\n${RESULTS_END}\n\nrest\n`
    const once = replaceBetweenMarkers(readme, 'new table\n')
    expect(once).toBe(`# Title\n\n${RESULTS_START}\nnew table\n${RESULTS_END}\n\nrest\n`)
    expect(replaceBetweenMarkers(once, 'new table')).toBe(once)
    expect(() => replaceBetweenMarkers('no markers', 'x')).toThrow('bench-results')
    expect(() => replaceBetweenMarkers(`${RESULTS_END}${RESULTS_START}`, 'x')).toThrow('in that order')
  })

  it('shows the machine, the command, the ratios and the HTTP figures', () => {
    const block = readmeResults(report(), http)
    expect(block).toContain('2 × Test CPU')
    expect(block).toContain('10-word prompts, 8 output tokens (greedy), 2 requests per level')
    const preset = { ...report(), options: { ...report().options, temperature: 0.7, preset: 'chat-default' } }
    expect(readmeResults(preset, null)).toContain('preset `chat-default`: 10-word prompts, 8 output tokens (temperature 0.7, no top_k)')
    expect(block).toContain('gguf-serve bench --base-url http://server/v1')
    expect(block).toContain(
      '| level | server tok/s | TTFT p50 (ms) | tok/s ÷ compare | TTFT p50 ÷ compare | TPOT p50 ÷ compare | tok/s ÷ engine | TTFT p50 ÷ engine | TPOT p50 ÷ engine |',
    )
    expect(block).toContain('| c1 | 16.0 | 120 | 0.800 | 1.200 | 1.000 | 0.500 | 1.200 | 1.000 |')
    expect(block).toContain('| GET /health | 10 | 5000 | 1.90 | 4.0 |')
    expect(block).toContain('**1.25 ms overhead**')
    expect(readmeResults(report(), null)).not.toContain('HTTP path')
  })
})
