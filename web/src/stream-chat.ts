import { apiFetch, errorMessage } from './api-client.js'
import { SseParser } from '../../src/api/sse-parser.js'

/** What the page shows under a reply. */
export interface ReplyStats {
  promptTokens: number | null
  cachedTokens: number | null
  completionTokens: number | null
  /** Request sent to first text, as the user saw it (network and queue included). */
  ttftMs: number | null
  /** Completion tokens after the first over the time from first to last text. */
  tokensPerSecond: number | null
  finishReason: string | null
}

export interface ReplyProgress {
  content: string
  reasoning: string
}

interface Chunk {
  error?: { message?: string }
  usage?: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } } | null
  choices?: Array<{ delta?: { content?: string | null; reasoning_content?: string | null }; finish_reason?: string | null }>
}

/**
 * Sends a streamed chat completion and reports the text as it grows. Aborting `signal` stops reading and
 * closes the connection, which frees the slot on the server; the stats then cover what arrived (no usage).
 * Rejects with the server's error message, or with the abort when it came before the response.
 */
export async function streamChat(
  body: Record<string, unknown>,
  signal: AbortSignal,
  onProgress: (progress: ReplyProgress) => void,
): Promise<ReplyStats> {
  const sentAt = performance.now()
  const response = await apiFetch('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  })
  if (!response.ok || !response.body) throw new Error(await errorMessage(response))

  const progress: ReplyProgress = { content: '', reasoning: '' }
  const stats: ReplyStats = { promptTokens: null, cachedTokens: null, completionTokens: null, ttftMs: null, tokensPerSecond: null, finishReason: null }
  let firstTextAt: number | null = null
  let lastTextAt = 0
  const parser = new SseParser()
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  for (;;) {
    let read: ReadableStreamReadResult<string>
    try {
      read = await reader.read()
    } catch (error) {
      // Stopped by the user: what arrived so far is the reply, with the timings it had.
      if (signal.aborted) break
      throw error
    }
    const { done, value } = read
    if (done) break
    for (const data of parser.push(value)) {
      if (data === '[DONE]') continue
      const chunk = JSON.parse(data) as Chunk
      if (chunk.error) throw new Error(chunk.error.message ?? 'The server reported an error mid-stream.')
      const choice = chunk.choices?.[0]
      const text = (choice?.delta?.content ?? '') + (choice?.delta?.reasoning_content ?? '')
      if (text) {
        lastTextAt = performance.now()
        firstTextAt ??= lastTextAt
        progress.content += choice?.delta?.content ?? ''
        progress.reasoning += choice?.delta?.reasoning_content ?? ''
        onProgress(progress)
      }
      if (choice?.finish_reason) stats.finishReason = choice.finish_reason
      if (chunk.usage) {
        stats.promptTokens = chunk.usage.prompt_tokens
        stats.completionTokens = chunk.usage.completion_tokens
        stats.cachedTokens = chunk.usage.prompt_tokens_details?.cached_tokens ?? null
      }
    }
  }
  if (firstTextAt !== null) {
    stats.ttftMs = firstTextAt - sentAt
    const decodeSeconds = (lastTextAt - firstTextAt) / 1000
    if (stats.completionTokens !== null && stats.completionTokens > 1 && decodeSeconds > 0) {
      stats.tokensPerSecond = (stats.completionTokens - 1) / decodeSeconds
    }
  }
  return stats
}
