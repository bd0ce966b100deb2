import { describe, expect, it } from 'vitest'
import { bucketsBetween, histogramBuckets, histogramQuantile, parsePrometheus, sumBy, sumOf } from '../../web/src/prometheus.js'

const TEXT = `# HELP gguf_serve_requests_total Finished generation requests by outcome.
# TYPE gguf_serve_requests_total counter
gguf_serve_requests_total{model="a",outcome="stop"} 3
gguf_serve_requests_total{model="b",outcome="stop"} 2
gguf_serve_requests_total{model="a",outcome="cancelled"} 1
gguf_serve_generation_tokens_total{model="a"} 100
gguf_serve_generation_tokens_total{model="b"} 50
gguf_serve_ttft_seconds_bucket{le="0.1",model="a"} 1
gguf_serve_ttft_seconds_bucket{le="0.5",model="a"} 3
gguf_serve_ttft_seconds_bucket{le="+Inf",model="a"} 4
gguf_serve_ttft_seconds_bucket{le="0.1",model="b"} 1
gguf_serve_ttft_seconds_bucket{le="0.5",model="b"} 1
gguf_serve_ttft_seconds_bucket{le="+Inf",model="b"} 2
gguf_serve_http_requests_total{route="/v1/chat/completions",status="200"} 7
weird_label{path="a \\"quoted\\" \\\\ value"} NaN
`

describe('Prometheus text', () => {
  const samples = parsePrometheus(TEXT)

  it('parses samples with their labels, escapes and special values', () => {
    expect(samples).toHaveLength(13)
    expect(samples[0]).toEqual({ name: 'gguf_serve_requests_total', labels: { model: 'a', outcome: 'stop' }, value: 3 })
    const weird = samples.at(-1)!
    expect(weird.labels.path).toBe('a "quoted" \\ value')
    expect(weird.value).toBeNaN()
  })

  it('sums over models, or grouped by a label', () => {
    expect(sumOf(samples, 'gguf_serve_generation_tokens_total')).toBe(150)
    expect(sumOf(samples, 'gguf_serve_generation_tokens_total', { model: 'b' })).toBe(50)
    expect(sumOf(samples, 'absent_total')).toBe(0)
    expect(sumBy(samples, 'gguf_serve_requests_total', 'outcome')).toEqual(new Map([['stop', 5], ['cancelled', 1]]))
  })

  it('sums histogram buckets over models, sorted by bound', () => {
    expect(histogramBuckets(samples, 'gguf_serve_ttft_seconds')).toEqual([
      { le: 0.1, count: 2 },
      { le: 0.5, count: 4 },
      { le: Infinity, count: 6 },
    ])
  })
})

describe('histogramQuantile', () => {
  const buckets = [
    { le: 0.1, count: 2 },
    { le: 0.5, count: 4 },
    { le: 1, count: 8 },
    { le: Infinity, count: 10 },
  ]

  it('interpolates within the bucket, as PromQL does', () => {
    // rank 5 of 10: the third bucket (0.5–1] holds ranks 5–8, one of its four observations in.
    expect(histogramQuantile(buckets, 0.5)).toBeCloseTo(0.625)
    // rank 1: halfway through the first bucket, which starts at 0.
    expect(histogramQuantile(buckets, 0.1)).toBeCloseTo(0.05)
  })

  it('answers the highest finite bound in the +Inf bucket, and null without observations', () => {
    expect(histogramQuantile(buckets, 0.99)).toBe(1)
    expect(histogramQuantile([{ le: 0.1, count: 0 }, { le: Infinity, count: 0 }], 0.5)).toBeNull()
    expect(histogramQuantile([], 0.5)).toBeNull()
  })

  it('over an interval: what was observed between two scrapes', () => {
    const earlier = [
      { le: 0.1, count: 2 },
      { le: 0.5, count: 2 },
      { le: 1, count: 2 },
      { le: Infinity, count: 2 },
    ]
    const between = bucketsBetween(earlier, buckets)
    expect(between.map((b) => b.count)).toEqual([0, 2, 6, 8])
    // rank 4 of 8: (0.5–1] holds ranks 3–6, two of its four observations in.
    expect(histogramQuantile(between, 0.5)).toBeCloseTo(0.75)
  })
})
