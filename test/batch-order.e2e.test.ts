import type { ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scrape, value, type Samples } from './helpers/prometheus.js'
import { startTestServer, type TestServer } from './helpers/test-server.js'

/**
 * llama.cpp decodes a batch in one pass over the weights only when its slots come in ascending, adjacent
 * order (each slot has a KV stream of its own); reversed, it makes one pass per slot, every step. The
 * scheduler issues each step in slot order, whatever order the requests arrived in. Observed from what
 * the engine was given (`gguf_serve_engine_batch_passes`), over real HTTP.
 */
let t: TestServer
const MODEL = 'tiny-chat'
const WORDS = 'amber basalt cedar dune ember fjord glacier harbor inlet juniper kelp lagoon meadow nectar orchard prairie'.split(' ')
const conversation = (k: number) => Array.from({ length: 48 }, (_, i) => WORDS[(i * (k + 3) + k) % WORDS.length]).join(' ')

beforeAll(async () => {
  t = await startTestServer({ parallel: '4' })
})
afterAll(() => t?.close())

interface Running {
  chunks: number
  finished: boolean
  done: Promise<string>
  abort(): void
}

/** Starts a stream and resolves once its first content arrived, so requests are admitted in call order. */
async function startStream(messages: Array<{ role: 'user' | 'assistant'; content: string }>, maxTokens: number): Promise<Running> {
  const controller = new AbortController()
  const body: ChatCompletionCreateParamsStreaming & { ignore_eos: boolean } = { model: MODEL, messages, max_tokens: maxTokens, temperature: 0, stream: true, ignore_eos: true }
  const stream = await t.client.chat.completions.create(body, { signal: controller.signal })
  let firstChunk!: () => void
  const first = new Promise<void>((resolve) => (firstChunk = resolve))
  const running: Running = { chunks: 0, finished: false, done: Promise.resolve(''), abort: () => controller.abort() }
  running.done = (async () => {
    let text = ''
    try {
      for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta.content ?? ''
        if (piece) running.chunks++
        text += piece
        if (running.chunks === 1) firstChunk()
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error
    } finally {
      running.finished = true
      firstChunk()
    }
    return text
  })()
  await first
  return running
}

const passes = (s: Samples) => ({
  batches: value(s, 'gguf_serve_engine_batch_passes_count', { model: MODEL }),
  onePass: value(s, 'gguf_serve_engine_batch_passes_bucket', { model: MODEL, le: '1' }),
})

describe('batch order', () => {
  it('requests admitted in the reverse of slot order still decode in one pass per step', async () => {
    // Four conversations, started one after the other, take slots 0, 1, 2, 3 (adjacent to the busy ones).
    const first = []
    for (let k = 0; k < 4; k++) first.push(await startStream([{ role: 'user', content: conversation(k) }], 12))
    const answers = await Promise.all(first.map((r) => r.done))

    // Their follow-ups go back to the slot holding their prefix, arriving in the order 3, 2, 1, 0.
    const followUps: Running[] = []
    for (const k of [3, 2, 1, 0]) {
      const messages = [
        { role: 'user' as const, content: conversation(k) },
        { role: 'assistant' as const, content: answers[k]! },
        { role: 'user' as const, content: 'and then?' },
      ]
      followUps.push(await startStream(messages, 800))
    }
    try {
      // Once every follow-up decodes, each step carries one token of each of the four slots.
      const decoding = followUps.map((r) => r.chunks)
      await expect.poll(() => followUps.every((r, i) => r.chunks > decoding[i]! + 1), { timeout: 60_000, interval: 5 }).toBe(true)
      const before = passes(await scrape(t.origin))
      const at = followUps.map((r) => r.chunks)
      await expect.poll(() => followUps.every((r, i) => r.chunks >= at[i]! + 3), { timeout: 60_000, interval: 5 }).toBe(true)
      const after = passes(await scrape(t.origin))
      expect(followUps.some((r) => r.finished)).toBe(false)
      expect(after.batches - before.batches).toBeGreaterThanOrEqual(3)
      expect(after.onePass - before.onePass).toBe(after.batches - before.batches)
    } finally {
      for (const r of followUps) r.abort()
      await Promise.all(followUps.map((r) => r.done))
    }
  })
})
