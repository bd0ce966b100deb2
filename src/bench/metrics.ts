/**
 * Pure metric math for `gguf-serve bench`, with vLLM's definitions (benchmarks/benchmark_serving.py):
 * - TTFT: request start → first content chunk;
 * - TPOT: (e2e − TTFT) / (output tokens − 1), only for requests with more than one output token;
 * - ITL: every gap between consecutive content chunks of a request (all requests' gaps pooled);
 * - e2e latency: request start → last event of the stream.
 * All times in milliseconds.
 */

/** The timestamps (ms, any common origin, e.g. performance.now()) recorded for one streamed request. */
export interface RequestTiming {
  /** When the request was sent. */
  startMs: number
  /** Arrival time of every chunk carrying content, in order. */
  chunkTimesMs: number[]
  /** When the stream ended (its last byte). */
  endMs: number
  /** Output tokens as reported by the server's usage (falls back to the content chunk count when absent). */
  outputTokens: number
}

export interface RequestMetrics {
  ttftMs: number | null
  /** null for requests with fewer than two output tokens. */
  tpotMs: number | null
  itlMs: number[]
  e2eMs: number
  outputTokens: number
}

export interface Distribution {
  mean: number
  p50: number
  p90: number
  p99: number
  /** How many values the figures were computed from. */
  count: number
}

/**
 * The q-th percentile (0–100) of `values`, with linear interpolation between the closest ranks, as
 * numpy.percentile's default ('linear'): rank = q/100 · (n − 1). NaN for no values.
 */
export function percentile(values: readonly number[], q: number): number {
  if (q < 0 || q > 100 || Number.isNaN(q)) throw new RangeError(`percentile must be within 0..100, got ${q}`)
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (q / 100) * (sorted.length - 1)
  const lower = Math.floor(rank)
  const upper = Math.ceil(rank)
  const low = sorted[lower]!
  return low + (sorted[upper]! - low) * (rank - lower)
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  return values.reduce((sum, x) => sum + x, 0) / values.length
}

/** Mean and p50/p90/p99 of `values`; null when there are none. */
export function distribution(values: readonly number[]): Distribution | null {
  if (values.length === 0) return null
  return { mean: mean(values), p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99), count: values.length }
}

/** TTFT, TPOT, ITL and e2e latency of one request from its event timestamps. */
export function requestMetrics(timing: RequestTiming): RequestMetrics {
  const { startMs, chunkTimesMs, endMs, outputTokens } = timing
  const first = chunkTimesMs[0]
  const ttftMs = first === undefined ? null : first - startMs
  const e2eMs = endMs - startMs
  const tpotMs = ttftMs !== null && outputTokens > 1 ? (e2eMs - ttftMs) / (outputTokens - 1) : null
  const itlMs: number[] = []
  for (let i = 1; i < chunkTimesMs.length; i++) itlMs.push(chunkTimesMs[i]! - chunkTimesMs[i - 1]!)
  return { ttftMs, tpotMs, itlMs, e2eMs, outputTokens }
}

export interface LevelMetrics {
  /** Successful requests. */
  completed: number
  outputTokens: number
  /** Level wall time: first request sent → last request finished. */
  durationMs: number
  outputTokensPerS: number
  requestsPerS: number
  ttftMs: Distribution | null
  tpotMs: Distribution | null
  itlMs: Distribution | null
  e2eMs: Distribution | null
}

/** Aggregates the successful requests of one concurrency level run over `durationMs` of wall time. */
export function levelMetrics(requests: readonly RequestMetrics[], durationMs: number): LevelMetrics {
  const outputTokens = requests.reduce((sum, r) => sum + r.outputTokens, 0)
  const seconds = durationMs / 1000
  const present = (xs: Array<number | null>) => xs.filter((x): x is number => x !== null)
  return {
    completed: requests.length,
    outputTokens,
    durationMs,
    outputTokensPerS: seconds > 0 ? outputTokens / seconds : 0,
    requestsPerS: seconds > 0 ? requests.length / seconds : 0,
    ttftMs: distribution(present(requests.map((r) => r.ttftMs))),
    tpotMs: distribution(present(requests.map((r) => r.tpotMs))),
    itlMs: distribution(requests.flatMap((r) => r.itlMs)),
    e2eMs: distribution(requests.map((r) => r.e2eMs)),
  }
}
