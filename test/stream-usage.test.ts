import { Value } from '@sinclair/typebox/value'
import { describe, expect, it } from 'vitest'
import { ChatChunkEncoder, type ResponseMeta } from '../src/api/codec/chat-response.js'
import { decodeStreamUsage, RunningUsage } from '../src/api/codec/stream-usage.js'
import { ChatCompletionChunkSchema } from '../src/api/schemas/chat.js'
import type { GenerationEvent } from '../src/generation/events.js'

const META: ResponseMeta = { id: 'chatcmpl-abc', created: 1_700_000_000, model: 'tiny', systemFingerprint: 'fp_test' }

describe('decodeStreamUsage (api-surface §3.5, §6.7)', () => {
  it.each([
    [{ stream: true }, { includeUsage: false, continuousUsage: false }],
    [{ stream: true, stream_options: null }, { includeUsage: false, continuousUsage: false }],
    [{ stream: true, stream_options: {} }, { includeUsage: true, continuousUsage: false }],
    [{ stream: true, stream_options: { include_usage: null } }, { includeUsage: true, continuousUsage: false }],
    [{ stream: true, stream_options: { include_usage: true } }, { includeUsage: true, continuousUsage: false }],
    [{ stream: true, stream_options: { include_usage: false } }, { includeUsage: false, continuousUsage: false }],
    [{ stream: true, stream_options: { continuous_usage_stats: true } }, { includeUsage: true, continuousUsage: true }],
    [{ stream: true, stream_options: { include_usage: false, continuous_usage_stats: true } }, { includeUsage: false, continuousUsage: true }],
    // Ignored when the request does not stream.
    [{ stream: false, stream_options: { include_usage: true, continuous_usage_stats: true } }, { includeUsage: false, continuousUsage: false }],
    [{ stream_options: {} }, { includeUsage: false, continuousUsage: false }],
  ])('%j → %j', (body, expected) => {
    expect(decodeStreamUsage(body)).toEqual(expected)
  })
})

describe('RunningUsage', () => {
  it('counts the prompt once per prompt, completion tokens as they stream, and the exact count once a choice finished', () => {
    const running = new RunningUsage()
    expect(running.total()).toEqual({ promptTokens: 0, completionTokens: 0, cachedTokens: 0 })
    running.observe({ type: 'started', promptTokens: 10, cachedTokens: 4, choices: 2 })
    running.observe({ type: 'reasoning', choice: 0, text: 'hm', tokens: 2 })
    running.observe({ type: 'text', choice: 1, text: 'a', tokens: 1 })
    running.observe({ type: 'toolCallDelta', choice: 0, index: 0, argumentsDelta: '{}', tokens: 3 })
    expect(running.total()).toEqual({ promptTokens: 10, completionTokens: 6, cachedTokens: 4, reasoningTokens: 2 })
    // The engine's count includes tokens that never became text (a stop string held back, the end token).
    running.observe({ type: 'finished', choice: 1, reason: 'stop', stopReason: null, usage: { promptTokens: 10, completionTokens: 2, cachedTokens: 4 } })
    expect(running.total()).toMatchObject({ promptTokens: 10, completionTokens: 7 })
    // A second prompt of a completions batch adds its own prompt; its choice 0 is not the first prompt's.
    running.observe({ type: 'started', promptTokens: 5, cachedTokens: 0, choices: 1 }, 1)
    running.observe({ type: 'text', choice: 0, text: 'b', tokens: 1 }, 1)
    expect(running.total()).toEqual({ promptTokens: 15, completionTokens: 8, cachedTokens: 4, reasoningTokens: 2 })
  })
})

const EVENTS: GenerationEvent[] = [
  { type: 'started', promptTokens: 11, cachedTokens: 3, choices: 1 },
  { type: 'text', choice: 0, text: 'Hel', tokens: 1 },
  { type: 'text', choice: 0, text: 'lo', tokens: 2 },
  { type: 'finished', choice: 0, reason: 'stop', stopReason: null, usage: { promptTokens: 11, completionTokens: 4, cachedTokens: 3 } },
]

describe('ChatChunkEncoder with continuous usage', () => {
  for (const includeUsage of [true, false]) {
    it(`includeUsage=${includeUsage}: every chunk carries the running totals; the final usage is placed as without them`, () => {
      const encoder = new ChatChunkEncoder(META, includeUsage, true)
      const chunks = EVENTS.flatMap((e) => encoder.push(e))
      for (const chunk of chunks) expect(Value.Check(ChatCompletionChunkSchema, chunk)).toBe(true)
      expect(chunks.map((c) => [c.usage?.prompt_tokens, c.usage?.completion_tokens, c.usage?.total_tokens])).toEqual([
        [11, 0, 11],
        [11, 1, 12],
        [11, 3, 14],
        [11, 4, 15],
        ...(includeUsage ? [[11, 4, 15]] : []),
      ])
      expect(chunks.at(-1)!.choices).toEqual(includeUsage ? [] : [expect.objectContaining({ finish_reason: 'stop' })])
      expect(chunks[0]!.usage!.prompt_tokens_details).toEqual({ cached_tokens: 3, audio_tokens: 0 })
    })
  }

  it('off: usage null on every chunk with includeUsage, absent without', () => {
    const withUsage = new ChatChunkEncoder(META, true)
    expect(EVENTS.slice(0, 2).flatMap((e) => withUsage.push(e)).map((c) => c.usage)).toEqual([null, null])
    const without = new ChatChunkEncoder(META, false)
    expect(EVENTS.slice(0, 2).flatMap((e) => without.push(e)).every((c) => !('usage' in c))).toBe(true)
  })
})
