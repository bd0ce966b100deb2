/**
 * The HTTP target of `gguf-serve bench`: streamed chat completions against any OpenAI-compatible base
 * URL, over raw fetch with its own SSE parsing, so the arrival time of every content chunk is recorded
 * as the bytes come in (no SDK buffering between the socket and the timestamp).
 */
import { SseParser } from '../api/sse-parser.js'
import type { BenchTarget, LevelPlan, LevelRun, RequestResult, TargetInfo } from './target.js'
import type { BenchRequest } from './workload.js'

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
  const parser = new SseParser()
  const reader = response.body.getReader()
  try {
    while (!done) {
      const read = await reader.read()
      if (read.done) break
      const now = performance.now()
      for (const data of parser.push(decoder.decode(read.value, { stream: true }))) {
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

/**
 * The request body: the workload's temperature (by default 0, greedy, as vLLM's benchmark sends) and no
 * top_k / top_p / min_p, so a server samples from the whole distribution as OpenAI's semantics ask (a server
 * that truncates by default, as llama-server does, keeps its defaults); ignore_eos so every answer is
 * exactly max_tokens long.
 */
export function requestBody(model: string, request: BenchRequest): Record<string, unknown> {
  return {
    model,
    messages: [{ role: 'user', content: request.prompt }],
    max_tokens: request.outputTokens,
    temperature: request.temperature,
    ignore_eos: true,
    seed: request.seed,
    stream: true,
    stream_options: { include_usage: true },
  }
}

/** An OpenAI-compatible server: concurrency levels keep N requests in flight, rate levels send on schedule. */
export class HttpTarget implements BenchTarget {
  readonly kind = 'http'

  private constructor(
    readonly name: string,
    readonly baseUrl: string,
    private readonly apiKey: string | undefined,
    readonly model: string,
  ) {}

  /** `model` defaults to the first one the server lists. */
  static async open(name: string, baseUrl: string, apiKey: string | undefined, model?: string): Promise<HttpTarget> {
    return new HttpTarget(name, baseUrl, apiKey, model ?? (await resolveModel(baseUrl, apiKey)))
  }

  async run(plan: LevelPlan, onResult: (result: RequestResult) => void): Promise<LevelRun> {
    const results: RequestResult[] = []
    const send = async (request: BenchRequest) => {
      const result = await streamRequest(this.baseUrl, this.apiKey, requestBody(this.model, request))
      results.push(result)
      onResult(result)
    }
    const started = performance.now()
    const { level, requests } = plan
    if (level.kind === 'concurrency') {
      let next = 0
      const worker = async () => {
        while (next < requests.length) await send(requests[next++]!)
      }
      await Promise.all(Array.from({ length: Math.min(level.concurrency, requests.length) }, worker))
    } else {
      await Promise.all(
        requests.map(async (request, i) => {
          const wait = started + plan.arrivalsMs![i]! - performance.now()
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
          await send(request)
        }),
      )
    }
    return { results, durationMs: performance.now() - started }
  }

  info(): TargetInfo {
    return { kind: this.kind, baseUrl: this.baseUrl, model: this.model }
  }

  async close(): Promise<void> {}
}
