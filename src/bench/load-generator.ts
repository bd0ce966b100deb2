/**
 * The HTTP driver of `gguf-serve bench`: streamed chat completions against any OpenAI-compatible base
 * URL, over raw fetch with its own SSE parsing, so the arrival time of every content chunk is recorded
 * as the bytes come in (no SDK buffering between the socket and the timestamp).
 */
import { levelMetrics, requestMetrics, type LevelMetrics, type RequestTiming } from './metrics.js'

export interface BenchOptions {
  /** e.g. http://127.0.0.1:8080/v1 (the same base URL an OpenAI SDK takes). */
  baseUrl: string
  apiKey?: string
  /** Model id; when absent, the first one GET /models lists (or '' when that fails). */
  model?: string
  concurrencies: number[]
  /** Requests per concurrency level. */
  requests: number
  promptTokens: number
  outputTokens: number
  seed: number
  /** Requests sent one at a time before the first level, not measured. */
  warmup: number
  /** Progress lines go here (stderr). */
  progress?: (line: string, final: boolean) => void
}

export interface RequestResult {
  ok: boolean
  error?: string
  timing?: RequestTiming
  /** Chunks that carried content. */
  contentChunks: number
  promptTokens: number | null
  /** From the stream's usage chunk; null when the server sent none. */
  usageCompletionTokens: number | null
}

export interface LevelReport extends LevelMetrics {
  concurrency: number
  /** Requests sent. */
  requests: number
  errors: number
  /** The first few distinct error messages. */
  errorMessages: string[]
  /** Content chunks received (a chunk may hold more than one token, or none for partial characters). */
  contentChunks: number
  /** Sum of usage.prompt_tokens over the successful requests (null when no usage was reported). */
  promptTokens: number | null
  /** Successful requests whose stream carried a usage chunk. */
  usageReported: number
}

export interface BenchReport {
  tool: 'gguf-serve bench'
  startedAt: string
  baseUrl: string
  model: string
  options: { concurrencies: number[]; requests: number; promptTokens: number; outputTokens: number; seed: number; warmup: number }
  levels: LevelReport[]
}

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

const trimSlash = (url: string) => url.replace(/\/+$/, '')

function headers(apiKey: string | undefined): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' }
  if (apiKey) h.authorization = `Bearer ${apiKey}`
  return h
}

/** The first model GET {baseUrl}/models lists, or '' (the server's default) when it lists none or fails. */
export async function resolveModel(baseUrl: string, apiKey: string | undefined): Promise<string> {
  try {
    const response = await fetch(`${trimSlash(baseUrl)}/models`, { headers: headers(apiKey) })
    if (!response.ok) return ''
    const body = (await response.json()) as { data?: Array<{ id?: unknown }> }
    const id = body.data?.[0]?.id
    return typeof id === 'string' ? id : ''
  } catch {
    return ''
  }
}

/** Sends one streamed chat completion and records when each content chunk arrived. */
export async function streamRequest(
  baseUrl: string,
  apiKey: string | undefined,
  body: Record<string, unknown>,
): Promise<RequestResult> {
  const empty = { contentChunks: 0, promptTokens: null, usageCompletionTokens: null }
  const startMs = performance.now()
  let response: Response
  try {
    response = await fetch(`${trimSlash(baseUrl)}/chat/completions`, { method: 'POST', headers: headers(apiKey), body: JSON.stringify(body) })
  } catch (error) {
    return { ok: false, error: describe(error), ...empty }
  }
  if (!response.ok || !response.body) {
    const text = await response.text().catch(() => '')
    return { ok: false, error: `HTTP ${response.status}: ${text.slice(0, 200)}`, ...empty }
  }
  const chunkTimesMs: number[] = []
  let promptTokens: number | null = null
  let usageCompletionTokens: number | null = null
  let streamError: string | undefined
  let done = false
  const decoder = new TextDecoder()
  let buffer = ''
  const reader = response.body.getReader()
  try {
    while (!done) {
      const read = await reader.read()
      if (read.done) break
      const now = performance.now()
      buffer += decoder.decode(read.value, { stream: true }).replace(/\r\n?/g, '\n')
      let boundary: number
      while ((boundary = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, boundary)
        buffer = buffer.slice(boundary + 2)
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n')
        if (data === '') continue
        if (data === '[DONE]') {
          done = true
          break
        }
        let event: any
        try {
          event = JSON.parse(data)
        } catch {
          streamError = `unparseable SSE data: ${data.slice(0, 100)}`
          continue
        }
        if (event?.error) streamError = `stream error: ${event.error.message ?? JSON.stringify(event.error)}`
        const delta = event?.choices?.[0]?.delta
        const content = (delta?.content ?? '') + (delta?.reasoning_content ?? '') + (delta?.reasoning ?? '')
        if (typeof content === 'string' && content.length > 0) chunkTimesMs.push(now)
        if (event?.usage) {
          if (typeof event.usage.completion_tokens === 'number') usageCompletionTokens = event.usage.completion_tokens
          if (typeof event.usage.prompt_tokens === 'number') promptTokens = event.usage.prompt_tokens
        }
      }
    }
  } catch (error) {
    streamError = describe(error)
  } finally {
    reader.cancel().catch(() => {})
  }
  const endMs = performance.now()
  const partial = { contentChunks: chunkTimesMs.length, promptTokens, usageCompletionTokens }
  if (streamError) return { ok: false, error: streamError, ...partial }
  if (chunkTimesMs.length === 0) return { ok: false, error: 'the stream carried no content', ...partial }
  const outputTokens = usageCompletionTokens ?? chunkTimesMs.length
  return { ok: true, timing: { startMs, chunkTimesMs, endMs, outputTokens }, ...partial }
}

function describe(error: unknown): string {
  const e = error as { message?: string; cause?: { message?: string } }
  return [e?.message ?? String(error), e?.cause?.message].filter(Boolean).join(': ')
}

/** Runs the warm-up, then every concurrency level in turn, and returns the report. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const { baseUrl, apiKey, concurrencies, requests, promptTokens, outputTokens, seed, warmup } = options
  const progress = options.progress ?? (() => {})
  const startedAt = new Date().toISOString()
  const model = options.model ?? (await resolveModel(baseUrl, apiKey))
  let requestIndex = 0
  const body = () => {
    const index = requestIndex++
    return {
      model,
      messages: [{ role: 'user', content: syntheticPrompt(promptTokens, seed * 1_000_003 + index) }],
      max_tokens: outputTokens,
      ignore_eos: true,
      seed: seed + index,
      stream: true,
      stream_options: { include_usage: true },
    }
  }

  for (let i = 0; i < warmup; i++) {
    progress(`warm-up ${i + 1}/${warmup}`, i + 1 === warmup)
    const result = await streamRequest(baseUrl, apiKey, body())
    if (!result.ok) progress(`warm-up request failed: ${result.error}`, true)
  }

  const levels: LevelReport[] = []
  for (const concurrency of concurrencies) {
    const results: RequestResult[] = []
    let next = 0
    let failed = 0
    const report = () => progress(`concurrency ${concurrency}: ${results.length}/${requests} done${failed ? `, ${failed} failed` : ''}`, results.length === requests)
    report()
    const levelStart = performance.now()
    const worker = async () => {
      while (next < requests) {
        next++
        const result = await streamRequest(baseUrl, apiKey, body())
        results.push(result)
        if (!result.ok) failed++
        report()
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, worker))
    const durationMs = performance.now() - levelStart
    const succeeded = results.filter((r) => r.ok)
    const metrics = levelMetrics(
      succeeded.map((r) => requestMetrics(r.timing!)),
      durationMs,
    )
    const withUsage = succeeded.filter((r) => r.usageCompletionTokens !== null)
    const prompts = succeeded.map((r) => r.promptTokens).filter((x): x is number => x !== null)
    levels.push({
      concurrency,
      requests: results.length,
      errors: results.length - succeeded.length,
      errorMessages: [...new Set(results.filter((r) => !r.ok).map((r) => r.error ?? 'unknown error'))].slice(0, 5),
      contentChunks: succeeded.reduce((sum, r) => sum + r.contentChunks, 0),
      promptTokens: prompts.length ? prompts.reduce((a, b) => a + b, 0) : null,
      usageReported: withUsage.length,
      ...metrics,
    })
  }
  return {
    tool: 'gguf-serve bench',
    startedAt,
    baseUrl,
    model,
    options: { concurrencies, requests, promptTokens, outputTokens, seed, warmup },
    levels,
  }
}
