import { describe, expect, it } from 'vitest'
import { syntheticPrompt } from '../src/bench/workload.js'
import { distribution, levelMetrics, mean, percentile, requestMetrics } from '../src/bench/metrics.js'

describe('percentile (numpy linear interpolation)', () => {
  it('matches numpy.percentile on known arrays', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5) // even length: midway between the middle two
    expect(percentile([4, 1, 3, 2], 50)).toBe(2.5) // order does not matter
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3)
    expect(percentile([1, 2, 3, 4, 5], 90)).toBeCloseTo(4.6, 12)
    expect(percentile([10, 20], 99)).toBeCloseTo(19.9, 12) // small sample: interpolated, not the max
    expect(percentile([1, 2, 3], 99)).toBeCloseTo(2.98, 12)
    expect(percentile([15, 20, 35, 40, 50], 40)).toBeCloseTo(29, 12)
    expect(percentile([7], 99)).toBe(7)
    expect(percentile([3, 1, 2], 0)).toBe(1)
    expect(percentile([3, 1, 2], 100)).toBe(3)
    expect(percentile([], 50)).toBeNaN()
    expect(() => percentile([1], 101)).toThrow(RangeError)
  })

  it('summarises a distribution', () => {
    const d = distribution([1, 2, 3, 4])!
    expect(d).toEqual({ mean: 2.5, p50: 2.5, p90: expect.closeTo(3.7, 12), p99: expect.closeTo(3.97, 12), count: 4 })
    expect(distribution([])).toBeNull()
    expect(mean([2, 4])).toBe(3)
  })
})

describe('request metrics from event timestamps', () => {
  it('computes TTFT, TPOT, ITL and e2e latency', () => {
    const m = requestMetrics({ startMs: 1000, chunkTimesMs: [1100, 1110, 1130, 1160], endMs: 1170, outputTokens: 4 })
    expect(m.ttftMs).toBe(100)
    expect(m.e2eMs).toBe(170)
    expect(m.tpotMs).toBeCloseTo((170 - 100) / 3, 12)
    expect(m.itlMs).toEqual([10, 20, 30])
    expect(m.outputTokens).toBe(4)
  })

  it('uses the reported output tokens for TPOT even when chunks carry several tokens', () => {
    const m = requestMetrics({ startMs: 0, chunkTimesMs: [50, 90], endMs: 100, outputTokens: 11 })
    expect(m.tpotMs).toBe(5)
    expect(m.itlMs).toEqual([40])
  })

  it('gives a one-token request no TPOT and no ITL', () => {
    const m = requestMetrics({ startMs: 0, chunkTimesMs: [40], endMs: 45, outputTokens: 1 })
    expect(m.ttftMs).toBe(40)
    expect(m.e2eMs).toBe(45)
    expect(m.tpotMs).toBeNull()
    expect(m.itlMs).toEqual([])
  })

  it('aggregates a level: pooled ITL, throughput over the wall time', () => {
    const a = requestMetrics({ startMs: 0, chunkTimesMs: [100, 110, 120], endMs: 120, outputTokens: 3 })
    const b = requestMetrics({ startMs: 0, chunkTimesMs: [200], endMs: 200, outputTokens: 1 })
    const level = levelMetrics([a, b], 500)
    expect(level.completed).toBe(2)
    expect(level.outputTokens).toBe(4)
    expect(level.outputTokensPerS).toBe(8)
    expect(level.requestsPerS).toBe(4)
    expect(level.ttftMs!.p50).toBe(150)
    expect(level.tpotMs).toMatchObject({ count: 1, mean: 10 })
    expect(level.itlMs).toMatchObject({ count: 2, mean: 10 })
    expect(level.e2eMs).toMatchObject({ count: 2, mean: 160 })
    expect(levelMetrics([], 0)).toMatchObject({ completed: 0, outputTokensPerS: 0, ttftMs: null, itlMs: null })
  })
})

describe('synthetic prompts', () => {
  it('are deterministic from the seed and about the asked length', () => {
    expect(syntheticPrompt(20, 7)).toBe(syntheticPrompt(20, 7))
    expect(syntheticPrompt(20, 7)).not.toBe(syntheticPrompt(20, 8))
    expect(syntheticPrompt(20, 7).split(' ')).toHaveLength(20)
  })
})
