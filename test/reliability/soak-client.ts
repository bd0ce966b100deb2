import { sseEvents } from '../helpers/sse.js'
import type { Random } from './random.js'

/** When the client walks away: never, before the response headers, after the first chunk, or mid-stream. */
export type Disconnect = 'none' | 'before-headers' | 'after-first-chunk' | 'mid-stream'

export interface SoakRequest {
  stream: boolean
  maxTokens: number
  prompt: string
  disconnect: Disconnect
  /** before-headers: ms until the abort; mid-stream: chunks read before it. */
  abortAfter: number
}

/** completed: a whole, well-formed answer; aborted: the client disconnected; failed: anything else. */
export type SoakOutcome = { kind: 'completed' | 'aborted' } | { kind: 'failed'; detail: string }

const PROMPTS = ['Tell me a story', 'hi', 'Once upon a time there was a dog', 'What is the sky made of?', 'Write a poem about the sea and the wind']

export function soakRequest(random: Random): SoakRequest {
  const stream = random.chance(0.85)
  const roll = random.next()
  const disconnect: Disconnect = roll < 0.6 ? 'none' : roll < 0.72 ? 'before-headers' : !stream ? 'before-headers' : roll < 0.86 ? 'after-first-chunk' : 'mid-stream'
  return {
    stream,
    maxTokens: random.int(4, 24),
    prompt: random.pick(PROMPTS),
    disconnect,
    abortAfter: disconnect === 'before-headers' ? random.int(0, 20) : random.int(2, 10),
  }
}

/** Sends one chat request and plays the client's part, including its disconnect. */
export async function playSoakRequest(origin: string, request: SoakRequest): Promise<SoakOutcome> {
  const controller = new AbortController()
  if (request.disconnect === 'before-headers') setTimeout(() => controller.abort(), request.abortAfter)
  try {
    const response = await fetch(`${origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        messages: [{ role: 'user', content: request.prompt }],
        max_tokens: request.maxTokens,
        stream: request.stream,
        temperature: 1,
      }),
      signal: controller.signal,
    })
    if (response.status !== 200) return { kind: 'failed', detail: `status ${response.status}: ${await response.text()}` }
    if (!request.stream) return checkCompletion((await response.json()) as CompletionBody)
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    let chunks = 0
    const stopAfter = request.disconnect === 'after-first-chunk' ? 1 : request.disconnect === 'mid-stream' ? request.abortAfter : Infinity
    while (true) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
      if (++chunks >= stopAfter) {
        controller.abort()
        return { kind: 'aborted' }
      }
    }
    return checkStream(text)
  } catch (error) {
    if (controller.signal.aborted) return { kind: 'aborted' }
    return { kind: 'failed', detail: String(error) }
  }
}

interface CompletionBody {
  choices?: Array<{ finish_reason?: string; message?: { content?: unknown } }>
}

function checkCompletion(body: CompletionBody): SoakOutcome {
  const choice = body.choices?.[0]
  if (typeof choice?.message?.content !== 'string' || !choice.finish_reason) return { kind: 'failed', detail: `malformed completion ${JSON.stringify(body).slice(0, 200)}` }
  return { kind: 'completed' }
}

function checkStream(text: string): SoakOutcome {
  const events = sseEvents(text)
  const finished = events.some((e) => e !== '[DONE]' && e.choices?.some((c: { finish_reason: string | null }) => c.finish_reason))
  if (events.at(-1) !== '[DONE]' || !finished) return { kind: 'failed', detail: `stream without [DONE] or finish_reason: ${text.slice(-200)}` }
  return { kind: 'completed' }
}
