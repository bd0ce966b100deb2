import { describe, expect, it } from 'vitest'
import { applyPreset, parseLevels } from '../src/bench/command.js'
import { requestBody } from '../src/bench/load-generator.js'
import { levelPlan, rotation, type RunOptions } from '../src/bench/runner.js'
import { benchRequest, levelLabel, poissonArrivals, rng, sampleLength } from '../src/bench/workload.js'

const workload = { promptTokens: { mean: 100, range: 0.2 }, outputTokens: { mean: 64, range: 0 }, seed: 5, temperature: 0.7 }

describe('Poisson arrivals', () => {
  it('are fixed by the seed, increasing, and average 1/rate apart', () => {
    const times = poissonArrivals(4, 4000, 11)
    expect(poissonArrivals(4, 4000, 11)).toEqual(times)
    expect(poissonArrivals(4, 10, 12)).not.toEqual(times.slice(0, 10))
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!)
    // Exponential gaps of mean 250 ms: over 4000 of them the mean is within a few percent.
    expect(times.at(-1)! / times.length).toBeGreaterThan(240)
    expect(times.at(-1)! / times.length).toBeLessThan(260)
    // ...and their spread is the exponential's (standard deviation = mean), not a fixed interval.
    const gaps = times.map((t, i) => t - (times[i - 1] ?? 0))
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length
    const std = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length)
    expect(std / mean).toBeGreaterThan(0.9)
    expect(std / mean).toBeLessThan(1.1)
  })

  it('refuses a rate that is not positive', () => {
    expect(() => poissonArrivals(0, 3, 1)).toThrow(RangeError)
  })
})

describe('length distributions', () => {
  it('are fixed without a range and uniform within mean·(1 ± range) with one', () => {
    const next = rng(1)
    expect(Array.from({ length: 20 }, () => sampleLength({ mean: 64, range: 0 }, next))).toEqual(new Array(20).fill(64))
    const drawn = Array.from({ length: 4000 }, () => sampleLength({ mean: 100, range: 0.2 }, next))
    expect(Math.min(...drawn)).toBe(80)
    expect(Math.max(...drawn)).toBe(120)
    expect(new Set(drawn).size).toBe(41)
    expect(sampleLength({ mean: 1, range: 0.9 }, next)).toBeGreaterThanOrEqual(1)
  })

  it('make each request the same for every target', () => {
    expect(benchRequest(workload, 3)).toEqual(benchRequest(workload, 3))
    expect(benchRequest(workload, 3).prompt).not.toBe(benchRequest(workload, 4).prompt)
    const words = benchRequest(workload, 3).prompt.split(' ').length
    expect(words).toBeGreaterThanOrEqual(80)
    expect(words).toBeLessThanOrEqual(120)
    expect(benchRequest(workload, 3)).toMatchObject({ index: 3, outputTokens: 64, seed: 8, temperature: 0.7 })
  })
})

describe('levels and plans', () => {
  it('parse concurrency and rate lists', () => {
    expect(parseLevels(undefined, undefined)).toEqual([1, 2, 4].map((concurrency) => ({ kind: 'concurrency', concurrency })))
    expect(parseLevels('1,8', '0.5,2')).toEqual([
      { kind: 'concurrency', concurrency: 1 },
      { kind: 'concurrency', concurrency: 8 },
      { kind: 'rate', requestsPerS: 0.5 },
      { kind: 'rate', requestsPerS: 2 },
    ])
    expect(parseLevels(undefined, '3')).toEqual([{ kind: 'rate', requestsPerS: 3 }])
    expect(() => parseLevels('0', undefined)).toThrow('--concurrency must be an integer ≥ 1')
    expect(() => parseLevels(undefined, '-1')).toThrow('--request-rate must be a number > 0')
    expect(levelLabel({ kind: 'concurrency', concurrency: 4 })).toBe('c4')
    expect(levelLabel({ kind: 'rate', requestsPerS: 2.5 })).toBe('2.5 req/s')
  })

  it('give every (level, round) its own requests, after the warm-up ones', () => {
    const options: RunOptions = { levels: parseLevels('1', '2'), requests: 3, rounds: 2, warmup: 2, workload }
    const indices = [0, 1].flatMap((level) => [0, 1].flatMap((round) => levelPlan(options, level, round).requests.map((r) => r.index)))
    expect(indices).toEqual(Array.from({ length: 12 }, (_, i) => i + 2))
    expect(levelPlan(options, 0, 0).arrivalsMs).toBeNull()
    const rate = levelPlan(options, 1, 1)
    expect(rate.arrivalsMs).toHaveLength(3)
    expect(levelPlan(options, 1, 1)).toEqual(rate)
  })

  it('rotate the targets one place per turn', () => {
    expect([0, 1, 2, 3].map((turn) => rotation(['a', 'b', 'c'], turn).join(''))).toEqual(['abc', 'bca', 'cab', 'abc'])
  })
})

describe('presets', () => {
  const base = { parallel: '8', contextSize: '4096', batchSize: '512', requests: '16', rounds: '1', promptTokensRange: '0', outputTokensRange: '0', seed: '0', warmup: '1' }

  it('chat-default stands for OpenAI-default sampling; a flag given on the command line wins', () => {
    expect(applyPreset({ ...base, preset: 'chat-default' })).toMatchObject({ concurrency: '1,4,8', promptTokens: '110', outputTokens: '64', temperature: '0.7' })
    expect(applyPreset({ ...base, preset: 'chat-default-greedy', concurrency: '2' })).toMatchObject({ concurrency: '2', temperature: '0' })
    expect(applyPreset({ ...base, preset: 'chat-default', requestRate: '1' }).concurrency).toBeUndefined()
    expect(applyPreset(base)).toEqual(base)
    expect(() => applyPreset({ ...base, preset: 'chat' })).toThrow(/--preset must be one of chat-default, chat-default-greedy/)
  })

  it('the request body carries the temperature and no truncation', () => {
    const body = requestBody('m', benchRequest(workload, 0))
    expect(body).toMatchObject({ temperature: 0.7, ignore_eos: true, stream: true })
    for (const key of ['top_k', 'top_p', 'min_p']) expect(body).not.toHaveProperty(key)
  })
})
