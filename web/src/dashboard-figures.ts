import { bucketsBetween, histogramBuckets, histogramQuantile, sumBy, sumOf, type Bucket, type Sample } from './prometheus.js'

/** p50, p90 and p99 in seconds; null without observations. */
export interface Percentiles {
  p50: number | null
  p90: number | null
  p99: number | null
}

export interface DashboardFigures {
  /** Generated tokens per second between the last two scrapes. */
  tokensPerSecond: number | null
  /** Generated tokens per second between each pair of scrapes in the window, oldest first. */
  tokensPerSecondSeries: Array<{ at: number; value: number }>
  /** How much time the window figures cover, in seconds (less than the window until it has filled). */
  windowSeconds: number
  ttft: { window: Percentiles; sinceStart: Percentiles }
  itl: { window: Percentiles; sinceStart: Percentiles }
  /** Prompt tokens reused from the prefix cache over all prompt tokens, since start; null before any prompt. */
  prefixCacheHitRatio: number | null
  promptTokensCached: number
  promptTokensEvaluated: number
  generatedTokens: number
  /** Finished generations by outcome (stop, length, cancelled, …), since start. */
  outcomes: Map<string, number>
  /** HTTP responses by status code, since start. */
  httpStatuses: Map<string, number>
  cancellations: number
  queueRejections: number
  /** Live gauges of the last scrape, summed over the loaded models. */
  slotsBusy: number
  slotsTotal: number
  waiting: number
}

const METRIC = {
  generated: 'gguf_serve_generation_tokens_total',
  evaluated: 'gguf_serve_prompt_tokens_evaluated_total',
  cached: 'gguf_serve_prompt_tokens_cached_total',
  ttft: 'gguf_serve_time_to_first_token_seconds',
  itl: 'gguf_serve_inter_token_latency_seconds',
  requests: 'gguf_serve_requests_total',
  http: 'gguf_serve_http_requests_total',
  cancellations: 'gguf_serve_cancellations_total',
  rejections: 'gguf_serve_queue_rejections_total',
  slotsBusy: 'gguf_serve_slots_busy',
  slotsTotal: 'gguf_serve_slots_total',
  waiting: 'gguf_serve_requests_waiting',
}

interface Scrape {
  at: number
  generated: number
  ttft: Bucket[]
  itl: Bucket[]
}

/**
 * Scrapes of /metrics over a sliding window, turned into what the dashboard shows: rates and
 * percentiles over the window (differences between its first and last scrape), totals since start.
 * Pure (no DOM), so the tests run it under Node.
 */
export class MetricsHistory {
  private readonly scrapes: Scrape[] = []
  private latest: Sample[] = []

  constructor(private readonly windowMs = 60_000) {}

  /** Adds a scrape taken at `at` (ms) and forgets those older than the window. */
  add(at: number, samples: Sample[]): void {
    this.latest = samples
    this.scrapes.push({
      at,
      generated: sumOf(samples, METRIC.generated),
      ttft: histogramBuckets(samples, METRIC.ttft),
      itl: histogramBuckets(samples, METRIC.itl),
    })
    while (this.scrapes.length > 1 && at - this.scrapes[0]!.at > this.windowMs) this.scrapes.shift()
  }

  figures(): DashboardFigures {
    const samples = this.latest
    const first = this.scrapes[0]
    const last = this.scrapes.at(-1)
    const series = this.scrapes.slice(1).map((scrape, i) => ({ at: scrape.at, value: rate(this.scrapes[i]!, scrape) }))
    const cached = sumOf(samples, METRIC.cached)
    const evaluated = sumOf(samples, METRIC.evaluated)
    return {
      tokensPerSecond: series.at(-1)?.value ?? null,
      tokensPerSecondSeries: series,
      windowSeconds: first && last ? (last.at - first.at) / 1000 : 0,
      ttft: {
        window: percentiles(first && last ? bucketsBetween(first.ttft, last.ttft) : []),
        sinceStart: percentiles(last?.ttft ?? []),
      },
      itl: {
        window: percentiles(first && last ? bucketsBetween(first.itl, last.itl) : []),
        sinceStart: percentiles(last?.itl ?? []),
      },
      prefixCacheHitRatio: cached + evaluated > 0 ? cached / (cached + evaluated) : null,
      promptTokensCached: cached,
      promptTokensEvaluated: evaluated,
      generatedTokens: last?.generated ?? 0,
      outcomes: sumBy(samples, METRIC.requests, 'outcome'),
      httpStatuses: sumBy(samples, METRIC.http, 'status'),
      cancellations: sumOf(samples, METRIC.cancellations),
      queueRejections: sumOf(samples, METRIC.rejections),
      slotsBusy: sumOf(samples, METRIC.slotsBusy),
      slotsTotal: sumOf(samples, METRIC.slotsTotal),
      waiting: sumOf(samples, METRIC.waiting),
    }
  }
}

function rate(earlier: Scrape, later: Scrape): number {
  const seconds = (later.at - earlier.at) / 1000
  // A counter that went down means the server restarted: no rate for that interval.
  return seconds > 0 ? Math.max(0, later.generated - earlier.generated) / seconds : 0
}

function percentiles(buckets: Bucket[]): Percentiles {
  return { p50: histogramQuantile(buckets, 0.5), p90: histogramQuantile(buckets, 0.9), p99: histogramQuantile(buckets, 0.99) }
}
