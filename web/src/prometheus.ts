/** One sample of a Prometheus text exposition. Pure (no DOM), so the tests run it under Node. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** A histogram's cumulative buckets, by upper bound (the last is +Inf). */
export interface Bucket {
  le: number
  count: number
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses the text format (version 0.0.4); comment and malformed lines are skipped, not fatal. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = SAMPLE_LINE.exec(line)
    if (!match) continue
    const labels: Record<string, string> = {}
    for (const [, key, raw] of match[2]?.matchAll(LABEL) ?? []) labels[key!] = unescape(raw!)
    samples.push({ name: match[1]!, labels, value: parseValue(match[3]!) })
  }
  return samples
}

/** Sum of a series over every label set that has the given labels (all models, unless one is named). */
export function sumOf(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && matches(s, where)).reduce((sum, s) => sum + s.value, 0)
}

/** Sums of a series grouped by one label's value, e.g. requests by outcome. */
export function sumBy(samples: readonly Sample[], name: string, label: string): Map<string, number> {
  const sums = new Map<string, number>()
  for (const s of samples) {
    const key = s.labels[label]
    if (s.name === name && key !== undefined) sums.set(key, (sums.get(key) ?? 0) + s.value)
  }
  return sums
}

/** A histogram's buckets summed over every label set (all models), sorted by bound. */
export function histogramBuckets(samples: readonly Sample[], name: string): Bucket[] {
  const counts = new Map<number, number>()
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue
    const le = parseValue(s.labels.le)
    counts.set(le, (counts.get(le) ?? 0) + s.value)
  }
  return [...counts].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le)
}

/** What a histogram counted between two scrapes: `later - earlier`, bucket by bucket. */
export function bucketsBetween(earlier: readonly Bucket[], later: readonly Bucket[]): Bucket[] {
  const before = new Map(earlier.map((b) => [b.le, b.count]))
  return later.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) ?? 0) }))
}

/**
 * The q-quantile (0..1) as PromQL's histogram_quantile estimates it: linear within the bucket that holds
 * it, starting from 0 for the first bucket; the highest finite bound when it falls in the +Inf bucket.
 * Null without observations.
 */
export function histogramQuantile(buckets: readonly Bucket[], q: number): number | null {
  const total = buckets.at(-1)?.count ?? 0
  if (total <= 0) return null
  const rank = q * total
  let lowerBound = 0
  let lowerCount = 0
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lowerBound
      const inBucket = count - lowerCount
      return inBucket > 0 ? lowerBound + ((le - lowerBound) * (rank - lowerCount)) / inBucket : le
    }
    lowerBound = le
    lowerCount = count
  }
  return lowerBound
}

function matches(sample: Sample, where: Record<string, string>): boolean {
  return Object.entries(where).every(([key, value]) => sample.labels[key] === value)
}

function parseValue(text: string): number {
  const lower = text.toLowerCase()
  if (lower === '+inf' || lower === 'inf') return Infinity
  if (lower === '-inf') return -Infinity
  return Number(text)
}

function unescape(raw: string): string {
  return raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
}
