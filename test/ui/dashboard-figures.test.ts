import { describe, expect, it } from 'vitest'
import { MetricsHistory } from '../../web/src/dashboard-figures.js'
import { parsePrometheus } from '../../web/src/prometheus.js'

function scrapeText({ generated, ttftFast, ttftSlow, evaluated, cached, busy }: Record<string, number>): string {
  return [
    `gguf_serve_generation_tokens_total{model="m"} ${generated}`,
    `gguf_serve_prompt_tokens_evaluated_total{model="m"} ${evaluated}`,
    `gguf_serve_prompt_tokens_cached_total{model="m"} ${cached}`,
    `gguf_serve_time_to_first_token_seconds_bucket{le="0.1",model="m"} ${ttftFast}`,
    `gguf_serve_time_to_first_token_seconds_bucket{le="1",model="m"} ${ttftFast! + ttftSlow!}`,
    `gguf_serve_time_to_first_token_seconds_bucket{le="+Inf",model="m"} ${ttftFast! + ttftSlow!}`,
    `gguf_serve_slots_busy{model="m"} ${busy}`,
    `gguf_serve_slots_total{model="m"} 4`,
    `gguf_serve_requests_total{model="m",outcome="stop"} 2`,
    `gguf_serve_requests_total{model="m",outcome="cancelled"} 1`,
  ].join('\n')
}

describe('MetricsHistory', () => {
  it('turns scrapes into a rate series, window percentiles, cache ratio and live gauges', () => {
    const history = new MetricsHistory(60_000)
    history.add(0, parsePrometheus(scrapeText({ generated: 0, ttftFast: 10, ttftSlow: 0, evaluated: 0, cached: 0, busy: 0 })))
    expect(history.figures()).toMatchObject({ tokensPerSecond: null, prefixCacheHitRatio: null, windowSeconds: 0 })

    history.add(1000, parsePrometheus(scrapeText({ generated: 50, ttftFast: 10, ttftSlow: 2, evaluated: 300, cached: 100, busy: 1 })))
    history.add(3000, parsePrometheus(scrapeText({ generated: 250, ttftFast: 10, ttftSlow: 4, evaluated: 300, cached: 100, busy: 2 })))
    const figures = history.figures()
    expect(figures.tokensPerSecondSeries).toEqual([
      { at: 1000, value: 50 },
      { at: 3000, value: 100 },
    ])
    expect(figures.tokensPerSecond).toBe(100)
    expect(figures.windowSeconds).toBe(3)
    // Only the four slow first tokens fell in the window; since start, the ten fast ones dominate.
    expect(figures.ttft.window.p50).toBeCloseTo(0.55)
    expect(figures.ttft.sinceStart.p50).toBeCloseTo(0.07)
    expect(figures.prefixCacheHitRatio).toBe(0.25)
    expect(figures).toMatchObject({ slotsBusy: 2, slotsTotal: 4, generatedTokens: 250 })
    expect(figures.outcomes).toEqual(new Map([['stop', 2], ['cancelled', 1]]))
  })

  it('forgets scrapes older than the window, and a counter that went down (restart) is no negative rate', () => {
    const history = new MetricsHistory(12_000)
    const idle = { ttftFast: 0, ttftSlow: 0, evaluated: 0, cached: 0, busy: 0 }
    history.add(0, parsePrometheus(scrapeText({ ...idle, generated: 500 })))
    history.add(5_000, parsePrometheus(scrapeText({ ...idle, generated: 10 })))
    expect(history.figures().tokensPerSecondSeries).toEqual([{ at: 5_000, value: 0 }])
    history.add(16_000, parsePrometheus(scrapeText({ ...idle, generated: 120 })))
    const figures = history.figures()
    expect(figures.tokensPerSecondSeries).toEqual([{ at: 16_000, value: 10 }])
    expect(figures.windowSeconds).toBe(11)
  })
})
