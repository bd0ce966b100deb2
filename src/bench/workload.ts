/**
 * What `gguf-serve bench` sends, as a pure function of the seed: every request's prompt and lengths, the
 * load levels (a fixed concurrency or a Poisson arrival rate) and the arrival times, so that every target
 * (our server, a peer server, the raw engine) gets exactly the same work.
 */

/** A length drawn uniformly from [mean·(1 − range), mean·(1 + range)], as vLLM's random dataset does. */
export interface LengthSpec {
  mean: number
  /** 0 = always `mean`. */
  range: number
}

export interface WorkloadOptions {
  /** Prompt length in words from the fixed list (about one token each, plus the chat template's). */
  promptTokens: LengthSpec
  /** max_tokens; with ignore_eos the exact output length. */
  outputTokens: LengthSpec
  seed: number
  /** Sampling temperature of every request (0 = greedy); no top_k, top_p or min_p is ever sent. */
  temperature: number
}

export interface BenchRequest {
  index: number
  /** The user message. */
  prompt: string
  outputTokens: number
  /** The request's sampling seed. */
  seed: number
  temperature: number
}

export type LoadLevel = { kind: 'concurrency'; concurrency: number } | { kind: 'rate'; requestsPerS: number }

/** Common short English words: mostly one token each in the usual BPE vocabularies. */
const WORDS = (
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what ' +
  'all were we when your can said there use an each which she do how their if will up other about out many then them these so ' +
  'some her would make like him into time has look two more write go see number no way could people my than first water been ' +
  'call who oil its now find long down day did get come made may part over new sound take only little work know place year live ' +
  'me back give most very after thing our just name good sentence man think say great where help through much before line right ' +
  'too mean old any same tell boy follow came want show also around form three small set put end does another well large must ' +
  'big even such because turn here why ask went men read need land different home us move try kind hand picture again change off ' +
  'play spell air away animal house point page letter mother answer found study still learn should world high every near add food ' +
  'between own below country plant last school father keep tree never start city earth eye light thought head under story saw left'
).split(' ')

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A random prompt of `tokens` words from the fixed list (≈ that many tokens), the same for the same seed. */
export function syntheticPrompt(tokens: number, seed: number): string {
  const next = rng(seed)
  const words: string[] = []
  for (let i = 0; i < tokens; i++) words.push(WORDS[Math.floor(next() * WORDS.length)]!)
  return words.join(' ')
}

/** An integer drawn uniformly from the spec's interval (both ends included, at least 1). */
export function sampleLength(spec: LengthSpec, next: () => number): number {
  const low = Math.max(1, Math.floor(spec.mean * (1 - spec.range)))
  const high = Math.max(low, Math.floor(spec.mean * (1 + spec.range)))
  return low + Math.floor(next() * (high - low + 1))
}

/** Request `index` of the workload: the same for every target and every run with the same options. */
export function benchRequest(options: WorkloadOptions, index: number): BenchRequest {
  const lengths = rng(options.seed * 7_919 + index * 104_729 + 1)
  const promptWords = sampleLength(options.promptTokens, lengths)
  const outputTokens = sampleLength(options.outputTokens, lengths)
  return { index, prompt: syntheticPrompt(promptWords, options.seed * 1_000_003 + index), outputTokens, seed: options.seed + index, temperature: options.temperature }
}

/**
 * Send times (ms after the level starts) of `count` requests arriving as a Poisson process of `requestsPerS`
 * (exponential gaps, like vLLM's benchmark_serving with burstiness 1). The first gap is drawn too.
 */
export function poissonArrivals(requestsPerS: number, count: number, seed: number): number[] {
  if (!(requestsPerS > 0)) throw new RangeError(`request rate must be > 0, got ${requestsPerS}`)
  const next = rng(seed ^ 0x2545f491)
  const times: number[] = []
  let t = 0
  for (let i = 0; i < count; i++) {
    t += (-Math.log(1 - next()) / requestsPerS) * 1000
    times.push(t)
  }
  return times
}

/** 'c4' for concurrency 4, '2.5 req/s' for a rate. */
export function levelLabel(level: LoadLevel): string {
  return level.kind === 'concurrency' ? `c${level.concurrency}` : `${level.requestsPerS} req/s`
}
